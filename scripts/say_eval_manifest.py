"""Write a `say` evaluation manifest: sentences x real portraits of one side of the split.

    .venv/bin/python scripts/say_eval_manifest.py --faces corpus/faces \
        --sentences corpus/speech/sentences.jsonl --portraits 5 --n-sentences 20 --out runs/eval/say_manifest.jsonl
    # to tune on (training persons and training sentences; texts of three sentences each, as
    # runs/say14/say_manifest_joined.jsonl holds held-out ones):
    .venv/bin/python scripts/say_eval_manifest.py --split train --sentences corpus/speech_sent/sentences.jsonl \
        --portraits 6 --n-sentences 6 --join 3 --distinct --out runs/lips13/train_manifest.jsonl

Default (``--split heldout``, the issue-3 manifest): every sentence is spoken by every portrait
(a full cross), one seed per row. Portraits come from one side of the split only
(facespeak.eval.selection.split_portraits: gender-balanced, styles in turn); for a group photo
the row's face_index is the face nearest the manifest's face box. ``--join K`` joins each
portrait's sentences K at a time into one text (a row per text; chunk joins exercised);
``--distinct`` gives each portrait its own ``--n-sentences`` sentences instead of the same ones;
``--stride`` takes every stride-th sentence by id (training sentences spread over the corpus);
``--persons`` names the portraits (e.g. the turned and black-and-white training faces).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from facespeak.eval.selection import split_portraits, split_sentences
from facespeak.face.analysis import analyse_faces, face_nearest_box
from facespeak.face.image_io import load_image


def _texts(sentences: list, join: int) -> list[tuple[str, str]]:
    """(id, text) per row: each sentence alone, or ``join`` consecutive ones joined."""
    if join <= 1:
        return [(s.sentence_id, s.text) for s in sentences]
    return [(f"join{k // join}", " ".join(s.text for s in sentences[k:k + join])) for k in range(0, len(sentences), join)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", default="corpus/faces")
    ap.add_argument("--sentences", default="corpus/speech/sentences.jsonl")
    ap.add_argument("--split", choices=("heldout", "train"), default="heldout")
    ap.add_argument("--portraits", type=int, default=5)
    ap.add_argument("--n-sentences", type=int, default=20)
    ap.add_argument("--join", type=int, default=1, help="sentences per text (1 = one sentence per row)")
    ap.add_argument("--distinct", action="store_true", help="each portrait its own sentences")
    ap.add_argument("--stride", type=int, default=1, help="every stride-th sentence by id")
    ap.add_argument("--persons", default=None, help="comma-separated persons of the split to take (in that order)")
    ap.add_argument("--out", default="runs/eval/say_manifest.jsonl")
    a = ap.parse_args()
    manifest = json.loads((Path(a.faces) / "manifest.json").read_text())
    portraits = split_portraits(manifest, a.faces, 10_000 if a.persons else a.portraits, a.split)
    if a.persons:
        by_person = {p.person: p for p in portraits}
        portraits = [by_person[name] for name in a.persons.split(",")]
    n_total = a.n_sentences * (len(portraits) if a.distinct else 1)
    sentences = split_sentences(a.sentences, n_total, a.split, a.stride)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for p_index, p in enumerate(portraits):
        faces = analyse_faces(load_image(p.path))
        face = face_nearest_box(faces, p.face_box) if faces else None  # a group photo holds several persons
        index = faces.index(face) if face is not None else 0
        mine = sentences[p_index * a.n_sentences:(p_index + 1) * a.n_sentences] if a.distinct else sentences
        for k, (sid, text) in enumerate(_texts(mine, a.join)):
            rows.append({"id": f"{p.person}__{sid}", "portrait": str(Path(p.path).resolve()), "person": p.person,
                         "text": text, "face_index": index, "seed": k})
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {len(rows)} rows ({len(portraits)} {a.split} portraits, {len(sentences)} sentences) to {out}")


if __name__ == "__main__":
    main()
