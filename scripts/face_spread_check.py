"""How alike are the held-out faces compared with the training faces (session 5, decisions.md #20)?

One face per person of the faces corpus; dlib descriptors and the bundled f_id, centred on the
training persons' mean; prints the mean pairwise cosine within each gender for train and
held-out persons. Usage: python scripts/face_spread_check.py  (from the repo root, corpus/faces built)
"""
import numpy as np
from facespeak.data.real_faces import load_manifest
from facespeak.eval.selection import heldout_portraits, load_face
from facespeak.face.identity import face_descriptor, IdentityExtractor
from facespeak.face.analysis import load_portrait
man = load_manifest('corpus/faces')
ext = IdentityExtractor.from_bundled()
first = {}
for it in man['items']:
    first.setdefault(it['person'], it)
D, F, gen, split = [], [], [], []
from pathlib import Path
from facespeak.eval.selection import FaceItem
for p, it in first.items():
    info = man['persons'][p]
    item = FaceItem(p, Path('corpus/faces') / it['path'], tuple(it['face_box']) if it.get('face_box') else None, info['gender'], info['split'], it.get('kind', 'photo'), it['source_path'])
    try:
        por = load_face(item)
    except Exception as e:
        print('skip', p, e); continue
    D.append(face_descriptor(por.image, por.face)); F.append(ext.extract(por.image, por.face).f_id); gen.append(info['gender']); split.append(info['split'])
D = np.array(D); F = np.array(F, dtype=np.float64); gen = np.array(gen); split = np.array(split)
def mc(X, m):
    X = X[m]; X = X / np.linalg.norm(X, axis=1, keepdims=True); C = X @ X.T; n = len(X); return (C.sum() - n) / (n * n - n)
for name, X in (('dlib', D), ('f_id', F)):
    Xc = X - X[split == 'train'].mean(0)
    for g in ('male', 'female'):
        print(name, g, 'train', round(mc(Xc, (gen == g) & (split == 'train')), 3), 'heldout', round(mc(Xc, (gen == g) & (split != 'train')), 3))
