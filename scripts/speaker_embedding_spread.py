"""Speaker embeddings of training vs held-out faces in the bundled TTS (session 5, decisions.md #20).

The TTS's condition network output for every training person (mean over its face-bank views,
gender +-1) and for the held-out portraits (as `facespeak tts` builds them); prints each
held-out face's nearest training voices, the held-out cosine matrix and the mean pairwise
cosine among training men and held-out men.
Usage: python scripts/speaker_embedding_spread.py [face_bank.safetensors]  (default runs/data_s4, the
bank the bundled TTS was trained with)
"""
import sys
import json, numpy as np, torch
BANK = sys.argv[1] if len(sys.argv) > 1 else 'runs/data_s4/face_bank.safetensors'
from safetensors.torch import load_file
from safetensors import safe_open
from facespeak.pipeline import FaceSpeak
from facespeak.eval.selection import heldout_portraits, load_face
fs = FaceSpeak.from_bundled(threads=1)
bank = load_file(BANK)
meta = safe_open(BANK, 'pt').metadata()
names = json.loads(meta['portraits']); spks = json.loads(meta['speakers'])
fid, g, por, sp = bank['f_id'], bank['gender'], bank['portrait'], bank['speaker']
print('gender values', g.unique())
with torch.no_grad():
    rows = []
    for p in range(len(names)):
        m = por == p
        c = torch.cat([fid[m].float(), g[m].float()[:, None]], 1)
        e = fs.tts.speaker_embedding(c).mean(0)
        rows.append((names[p], spks[int(sp[m][0])], float(g[m][0]), e))
man = json.load(open('corpus/faces/manifest.json'))
held = heldout_portraits(man, 'corpus/faces', 10)
H = []
for it in held:
    portrait = load_face(it)
    _, feats, cond = fs.face_condition(portrait)
    with torch.no_grad():
        H.append((it.person, it.gender, float(cond[0, -1]), fs.tts.speaker_embedding(cond, 0.5)[0], torch.as_tensor(feats.f_id)))
T = torch.stack([r[3] for r in rows]); T = torch.nn.functional.normalize(T, dim=1)
for name, gl, gs, e, f in H:
    e = torch.nn.functional.normalize(e, dim=0)
    sims = T @ e
    order = sims.argsort(descending=True)[:3]
    print(f"{name:20s} {gl:6s} g={gs:+.2f}", ' '.join(f"{rows[i][1]}({rows[i][0][:10]}):{sims[i]:.2f}" for i in order))
E = torch.nn.functional.normalize(torch.stack([h[3] for h in H]), dim=1)
print('held-out spk cos'); print(np.round((E @ E.T).numpy(), 2))
print('train male spk cos mean', )
male = [i for i, r in enumerate(rows) if r[2] > 0]
M = T[male]; C = M @ M.T; n = len(male); print(n, float((C.sum() - n) / (n * n - n)))
# labelled men (the gender estimator also calls Grace Hopper male)
hm = [i for i, h in enumerate(H) if h[1] == 'male']
C = E[hm] @ E[hm].T; n = len(hm); print('held male', n, float((C.sum() - n) / (n * n - n)))
# f_id cosines
F = torch.nn.functional.normalize(torch.stack([h[4].float() for h in H]), dim=1); print('held f_id cos'); print(np.round((F @ F.T).numpy(), 2))
