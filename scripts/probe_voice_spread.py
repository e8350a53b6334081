"""Probe ways of spreading held-out voices (session 5; docs/decisions.md #20).

Runs the intelligibility and suitability parts of `facespeak eval tts` (same functions, same
held-out portraits and sentences, no consistency part, no wavs) on the bundled TTS or
``W=path.safetensors``, with one synthesis variant:

    python scripts/probe_voice_spread.py base              # shipped defaults
    python scripts/probe_voice_spread.py fg 3 [N_SENTENCES] # face guidance 3
    python scripts/probe_voice_spread.py extrap 2           # guidance on the speaker embedding instead
    python scripts/probe_voice_spread.py snap 0.05          # snap to the training voices' embeddings
    python scripts/probe_voice_spread.py snapmix 0.05       # halfway to them

``SEED=1`` picks the sampling seed. Needs runs/data_s4/face_bank.safetensors (the bank the
bundled TTS was trained with) for the snap variants. Prints WER, F0-gender agreement, the
distinctness check (voices in their gender range), men only, and the cosine matrix.
"""
import json, sys, time, numpy as np, torch
import torch.nn.functional as F
from safetensors.torch import load_file
from safetensors import safe_open
from facespeak.pipeline import FaceSpeak
from facespeak.eval.selection import heldout_portraits, heldout_sentences, load_face
from facespeak.eval.tts_eval import TTSEvalConfig, evaluate_intelligibility, evaluate_suitability
from facespeak.audio.asr import load_whisper_base
from facespeak.data.real_faces import load_manifest

variant = sys.argv[1]; arg = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
n_sent = int(sys.argv[3]) if len(sys.argv) > 3 else 30
import os; fs = FaceSpeak.from_bundled(os.environ.get("W") or None, threads=1)
tts = fs.tts
bank = load_file('runs/data_s4/face_bank.safetensors')
por, g = bank['portrait'], bank['gender']
with torch.no_grad():
    B, G = [], []
    for p in por.unique():
        m = por == p
        B.append(tts._embed(torch.cat([bank['f_id'][m].float(), g[m].float()[:, None]], 1)).mean(0)); G.append(float(g[m][0]))
B = torch.stack(B); G = torch.tensor(G)
orig = tts.speaker_embedding
def patched(cond, gender_guidance=0.0):
    spk = orig(cond, gender_guidance)
    if variant == 'extrap':
        own, other, wrong = tts._gender_voices(cond, tts._embed(cond))
        axis = F.normalize(other - own, dim=1)
        ref = own + ((spk - own) * axis).sum(1, keepdim=True) * axis
        return torch.where(wrong[:, None], spk, ref + arg * (spk - ref))
    if variant in ('snap', 'snapmix'):
        out = []
        for i in range(spk.shape[0]):
            same = (G * cond[i, -1]) > 0
            bk = B[same]
            sims = F.normalize(bk, dim=1) @ F.normalize(spk[i], dim=0)
            w = torch.softmax(sims / arg, 0)
            s = (w[:, None] * bk).sum(0)
            out.append(s if variant == 'snap' else 0.5 * (s + spk[i]))
        return torch.stack(out)
    return spk
tts.speaker_embedding = patched
speech = {}
if variant in ('extrap', 'snap', 'snapmix'): speech['face_guidance'] = 1.0
if variant == 'fg': speech['face_guidance'] = arg
# STEPS=20, TEMPERATURE=0.3, LENGTH_SCALE=1.1 override the other speech defaults
for key, kind in (('steps', int), ('temperature', float), ('length_scale', float)):
    if os.environ.get(key.upper()):
        speech[key] = kind(os.environ[key.upper()])
cfg = TTSEvalConfig(n_sentences=n_sent, speech=speech, save_wavs=False, seed=int(os.environ.get("SEED", 0)))
man = load_manifest(cfg.faces_dir)
items = heldout_portraits(man, cfg.faces_dir, 10)
portraits = [(it, load_face(it)) for it in items]
sents = heldout_sentences(cfg.sentences_path, n_sent)
t = time.time()
intel, utts = evaluate_intelligibility(fs, portraits, sents, cfg, None, load_whisper_base())
suit = evaluate_suitability(portraits, utts)
sim = np.array(suit['cosine_matrix']); rows = suit['portraits']
men = [i for i, r in enumerate(rows) if r['gender_used'] == 'male' and r['agrees']]
mm = [sim[i, j] for a, i in enumerate(men) for j in men[a+1:]]
def _f(v):
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"


print(f"{variant} {arg}: WER {intel['total_wer']*100:.1f}% gender {suit['gender_agreement']:.2f} "
      f"agreeing {_f(suit['same_gender_agreeing']['mean'])} all {_f(suit['same_gender']['mean'])} "
      f"men {_f(float(np.mean(mm)) if mm else None)} max {_f(suit['same_gender_agreeing']['max'])}  ({time.time()-t:.0f}s)")
print(' '.join(f"{r['person'][:8]}:{r['median_f0_hz']:.0f}" for r in rows))
print(np.round(sim, 2))
