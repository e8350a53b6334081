"""Write the issue-3 evaluation manifest: held-out sentences x held-out real portraits.

    .venv/bin/python scripts/say_eval_manifest.py --faces corpus/faces \
        --sentences corpus/speech/sentences.jsonl --portraits 5 --n-sentences 20 --out runs/eval/say_manifest.jsonl

Every sentence is spoken by every portrait (a full cross), one seed per row. Portraits come
from held-out persons only (facespeak.eval.selection.heldout_portraits: gender-balanced); for a
group photo the row's face_index is the face nearest the manifest's face box.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from facespeak.eval.selection import heldout_portraits, heldout_sentences
from facespeak.face.analysis import analyse_faces, face_nearest_box
from facespeak.face.image_io import load_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", default="corpus/faces")
    ap.add_argument("--sentences", default="corpus/speech/sentences.jsonl")
    ap.add_argument("--portraits", type=int, default=5)
    ap.add_argument("--n-sentences", type=int, default=20)
    ap.add_argument("--out", default="runs/eval/say_manifest.jsonl")
    a = ap.parse_args()
    manifest = json.loads((Path(a.faces) / "manifest.json").read_text())
    portraits = heldout_portraits(manifest, a.faces, a.portraits)
    sentences = heldout_sentences(a.sentences, a.n_sentences)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for p in portraits:
        faces = analyse_faces(load_image(p.path))
        face = face_nearest_box(faces, p.face_box) if faces else None  # a group photo holds several persons
        index = faces.index(face) if face is not None else 0
        for k, s in enumerate(sentences):
            rows.append({"id": f"{p.person}__{s.sentence_id}", "portrait": str(Path(p.path).resolve()), "person": p.person,
                         "text": s.text, "face_index": index, "seed": k})
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {len(rows)} rows ({len(portraits)} portraits x {len(sentences)} sentences) to {out}")


if __name__ == "__main__":
    main()
