"""`facespeak faces --image PATH [--json]`: list the faces found in a photo.

Prints one line per face (largest first): index, box, size, detector score, yaw/pitch/roll,
apparent gender/age, which ones `say` can animate, and which one other commands use by default
(the largest face that can be animated; ``--face-index`` chooses another).

Project modules that load cv2 (face analysis) are imported inside the handlers, marked ``# lazy:``
(docs/architecture.md, "Conventions"), so ``facespeak --help`` does not load them.
"""

from __future__ import annotations

import argparse
import json

from ..core.errors import InputError, NoFaceError
from ..face.image_io import load_image
from .commands import COMMAND_HELP

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("faces", help=COMMAND_HELP["faces"],
                              description=__doc__.splitlines()[0])
    p.add_argument("--image", required=True, help="photo to analyse (JPEG, PNG, WebP, ...)")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    p.add_argument("--no-gender", action="store_true", help="skip apparent gender/age estimation")
    p.add_argument("--max-faces", type=int, default=10, help="report at most this many faces (default 10)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # lazy: loads cv2
    from ..face.analysis import analyse_faces
    from ..face.describe import describe_faces

    if args.max_faces < 1:
        raise InputError(f"--max-faces must be at least 1, got {args.max_faces}")
    image = load_image(args.image)
    faces = analyse_faces(image, max_faces=args.max_faces)
    if not faces:
        raise NoFaceError(f"no face found in {args.image}; expected a photo with one clearly visible face")
    described = describe_faces(image, faces, with_gender=not args.no_gender)
    rows, w, h = described["faces"], described["width"], described["height"]
    if args.json:
        print(json.dumps({"image": str(args.image), **described}, indent=2))
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

