"""`facespeak faces --image PATH [--json]`: list the faces found in a photo.

Prints one line per face (largest first): index, box, size, detector score, yaw/pitch/roll,
apparent gender/age, which ones `say` can animate, and which one other commands use by default
(the largest face that can be animated; ``--face-index`` chooses another).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..face.analysis import Face

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("faces", help="list the faces in a photo (index, size, pose, apparent gender/age)",
                              description=__doc__.splitlines()[0])
    p.add_argument("--image", required=True, help="photo to analyse (JPEG, PNG, WebP, ...)")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    p.add_argument("--no-gender", action="store_true", help="skip apparent gender/age estimation")
    p.add_argument("--max-faces", type=int, default=10, help="report at most this many faces (default 10)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..core.errors import InputError, NoFaceError
    from ..face.analysis import MIN_FACE_SIDE, analyse_faces, default_face_index
    from ..face.image_io import load_image

    if args.max_faces < 1:
        raise InputError(f"--max-faces must be at least 1, got {args.max_faces}")
    image = load_image(args.image)
    faces = analyse_faces(image, max_faces=args.max_faces)
    if not faces:
        raise NoFaceError(f"no face found in {args.image}; expected a photo with one clearly visible face")
    default = default_face_index(faces)
    rows = [_describe(image, i, f, not args.no_gender, MIN_FACE_SIDE, default) for i, f in enumerate(faces)]
    h, w = image.shape[:2]
    if args.json:
        print(json.dumps({"image": str(args.image), "width": w, "height": h, "default_index": default,
                          "faces": rows}, indent=2))
        return 0
    print(f"{args.image}: {w}x{h} px, {len(faces)} face{'s' if len(faces) != 1 else ''}")
    for r in rows:
        g = f"  {r['gender']} (p_female {r['p_female']:.2f}) age ~{r['age']:.0f}" if "gender" in r else ""
        notes = [n for n, on in (("default", r["default"]), ("can animate", r["animatable"]),
                                 ("too small", not r["usable"]), ("profile", r["profile"]),
                                 ("cut by the border", r["usable"] and not r["profile"] and not r["animatable"])) if on]
        print(f"#{r['index']}  box {r['box']}  {r['size'][0]}x{r['size'][1]} px  score {r['score']:.2f}  "
              f"yaw {r['yaw']:+.0f} pitch {r['pitch']:+.0f} roll {r['roll']:+.0f}{g}"
              f"{'  [' + ', '.join(notes) + ']' if notes else ''}")
    return 0


def _describe(image: np.ndarray, index: int, face: Face, with_gender: bool, min_side: int,
              default: int = 0) -> dict[str, Any]:
    """JSON-ready description of one face (box/size px, angles deg); ``animatable``: `say` can
    animate it by default (face.analysis.animatable_problem)."""
    from ..face.analysis import animatable_problem

    yaw, pitch, roll = face.pose
    row = {"index": index, "box": [round(v) for v in face.box], "size": [round(face.width), round(face.height)],
           "score": round(face.score, 3), "yaw": round(yaw, 1), "pitch": round(pitch, 1), "roll": round(roll, 1),
           "usable": face.short_side >= min_side, "profile": face.is_profile(), "animatable": animatable_problem(face) is None,
           "default": index == default}
    if with_gender:
        from ..face.gender import estimate_gender

        est = estimate_gender(image, face)
        row.update(gender=est.label, p_female=round(est.p_female, 3), age=round(est.age, 1))
    return row
