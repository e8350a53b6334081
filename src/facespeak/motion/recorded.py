"""Recorded head/eye/brow motion from real face video, replayed as non-lip motion.

This is the project's motion *baseline* until the learned OT-CFM motion sampler (paper §3.3,
issue 3) is trained: a real tracked video supplies head pose, blinks and brow movement; a seed
chooses where in the recording to start, the direction of play and a left/right mirror, so
different seeds give different (but always real, never synthetic-sinusoid) motion. Long
outputs ping-pong through the recording.

Bank layout (safetensors): ``pose (T_rec, 5)`` yaw, pitch, roll (deg), tx, ty (cm), relative
to the recording's median pose; ``blink (T_rec, 2)`` right/left closure 0..1;
``brow (T_rec, 1)`` raise 0..1; all at ``fps`` (metadata), plus the source in metadata.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..assets import asset_path
from ..core.errors import InputError
from ..video.reader import iter_frames, probe_video

__all__ = ["RecordedMotion", "MotionStyle", "track_video_motion", "sample_recorded_motion", "synth_blinks", "bundled_motion_path"]

log = logging.getLogger(__name__)

EYE_DISTANCE_CM = 9.0  # outer eye corners of an adult face, to turn face-size units into cm


@dataclass
class RecordedMotion:
    pose: np.ndarray  # (T_rec, 5)
    blink: np.ndarray  # (T_rec, 2)
    brow: np.ndarray  # (T_rec, 1)
    fps: float
    source: str

    def save(self, path: str | Path) -> None:
        from safetensors.numpy import save_file

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save_file({"pose": self.pose.astype(np.float32), "blink": self.blink.astype(np.float32),
                   "brow": self.brow.astype(np.float32)}, str(path),
                  metadata={"fps": str(self.fps), "source": self.source})

    @classmethod
    def load(cls, path: str | Path) -> "RecordedMotion":
        from safetensors import safe_open
        from safetensors.numpy import load_file

        t = load_file(str(path))
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata()
        return cls(t["pose"], t["blink"], t["brow"], float(meta["fps"]), meta.get("source", ""))


def bundled_motion_path() -> Path:
    return asset_path("motion", "recorded_motion.safetensors")


def _resample(x: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    t_src = np.arange(len(x)) / src_fps
    t_dst = np.arange(int(np.floor(t_src[-1] * dst_fps)) + 1) / dst_fps
    return np.stack([np.interp(t_dst, t_src, x[:, k]) for k in range(x.shape[1])], axis=1)


def track_video_motion(video: str | Path, fps_out: float = 25.0, source: str = "") -> RecordedMotion:
    """Track one face through a real video with the mesh and measure pose, blinks and brows."""
    # lazy: loads cv2 (the CLI imports this module at start)
    from ..face.analysis import analyse_faces
    # lazy: loads cv2 (the CLI imports this module at start)
    from ..face.identity import MOTION_TARGET_NAMES, motion_targets

    info = probe_video(video)
    rows, centres, iods = [], [], []
    for frame in iter_frames(video):
        faces = analyse_faces(frame, max_faces=1)
        if not faces:
            rows.append(None)
            continue
        f = faces[0]
        m = dict(zip(MOTION_TARGET_NAMES, motion_targets(f)))
        rows.append([m["yaw"], m["pitch"], m["roll"], m["right_eye_open"], m["left_eye_open"], m["brow_raise"]])
        p = f.landmarks
        centres.append((p[:, 0].mean(), p[:, 1].mean()))
        iods.append(np.linalg.norm(p[33, :2] - p[263, :2]))
    ok = [r is not None for r in rows]
    if sum(ok) < 0.8 * len(rows) or sum(ok) < 10:
        raise InputError(f"{video}: a face was found in only {sum(ok)} of {len(rows)} frames; expected a face video")
    idx = np.flatnonzero(ok)
    full = np.array([np.interp(np.arange(len(rows)), idx, [rows[i][k] for i in idx]) for k in range(6)]).T
    c = np.asarray(centres)
    tx_ty = (c - np.median(c, 0)) / np.median(iods) * EYE_DISTANCE_CM
    tx_ty = np.stack([np.interp(np.arange(len(rows)), idx, tx_ty[:, k]) for k in range(2)], axis=1)
    pose = np.concatenate([full[:, :3] - np.median(full[:, :3], 0), tx_ty], axis=1)
    eyes = full[:, 3:5]
    blink = np.clip(1.0 - eyes / np.percentile(eyes, 90, axis=0), 0.0, 1.0)
    blink = np.where(blink < 0.25, 0.0, blink)  # squints and noise are not blinks
    brow = full[:, 5:6]
    brow = np.clip((brow - np.median(brow)) / max(np.percentile(brow, 95) - np.median(brow), 1e-6), 0.0, 1.0)
    data = np.concatenate([pose, blink, brow], axis=1)
    data = _resample(data, info.fps, fps_out)
    log.info("tracked %d frames at %.2f fps -> %d at %.1f fps", len(rows), info.fps, len(data), fps_out)
    return RecordedMotion(data[:, :5], data[:, 5:7], data[:, 7:8], fps_out, source or str(video))


@dataclass(frozen=True)
class MotionStyle:
    """How recorded motion is replayed.

    The bundled recording is an *expressive* clip (head roll up to 27 deg), so its pose is
    scaled down to talking-head size (std ~2.5-3 deg) and brows are damped. Its eye-openness
    track is unreliable (smiles squint), so blinks are not replayed: they are drawn from a
    renewal process with conversational blink statistics (about 17 blinks/min, 0.1-0.4 s each;
    Bentivoglio et al. 1997, Mov. Disord. 12:1028).
    """

    pose_scale: float = 0.35
    brow_scale: float = 0.5
    blinks_per_min: float = 17.0
    fade_s: float = 0.4


def synth_blinks(n_frames: int, fps: float, rng: np.random.Generator, per_min: float) -> np.ndarray:
    """(T, 2) both-eye blink amounts from a renewal process (gamma intervals, 0.1-0.4 s blinks)."""
    out = np.zeros((n_frames, 2))
    mean_gap = 60.0 / max(per_min, 1e-3)
    t = rng.uniform(0.3, 1.0) * mean_gap
    while True:
        start = int(t * fps)
        if start >= n_frames:
            break
        length = max(2, int(round(rng.uniform(0.1, 0.4) * fps)))
        shape = np.sin(np.linspace(0, np.pi, length + 2)[1:-1]) ** 0.7
        end = min(n_frames, start + length)
        out[start:end] = np.maximum(out[start:end], shape[: end - start, None])
        t += rng.gamma(4.0, mean_gap / 4.0)
    return out


def sample_recorded_motion(bank: RecordedMotion, n_frames: int, fps: float, seed: int,
                           style: MotionStyle = MotionStyle()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> pose (T, 5), blink (T, 2), brow (T, 1) for ``n_frames`` at ``fps``.

    Deterministic in ``seed``: start offset, direction, mirror and blink times come from
    ``np.random.default_rng(seed)``. The first ``style.fade_s`` seconds ease in from the
    portrait's own pose (zero), so frame 0 is the photo.
    """
    if n_frames < 1:
        raise InputError(f"expected at least one video frame, got {n_frames}")
    data = np.concatenate([bank.pose, bank.blink, bank.brow], axis=1)
    if abs(bank.fps - fps) > 1e-6:
        data = _resample(data, bank.fps, fps)
    rng = np.random.default_rng(seed)
    if rng.random() < 0.5:
        data = data[::-1]
    if rng.random() < 0.5:  # mirror: yaw, roll and tx change sign; eyes swap
        data = data.copy()
        data[:, [0, 2, 3]] *= -1
        data[:, [5, 6]] = data[:, [6, 5]]
    cycle = np.concatenate([data, data[-2:0:-1]]) if len(data) > 2 else data
    start = int(rng.integers(0, len(cycle)))
    idx = (start + np.arange(n_frames)) % len(cycle)
    out = cycle[idx].copy()
    # re-centre the pose on this excerpt so the head stays around the photo's own pose
    out[:, :5] -= np.median(out[:, :5], axis=0)
    ramp = np.clip(np.arange(n_frames) / max(style.fade_s * fps, 1.0), 0.0, 1.0)[:, None]
    pose = out[:, :5] * ramp * style.pose_scale
    blink = synth_blinks(n_frames, fps, rng, style.blinks_per_min)
    return pose, blink, np.clip(out[:, 7:8] * style.brow_scale, 0.0, 1.0)


def describe(bank: RecordedMotion) -> dict:
    return {"frames": len(bank.pose), "fps": bank.fps, "source": bank.source,
            "pose_std_deg": np.round(bank.pose[:, :3].std(0), 2).tolist(),
            "blink_fraction": float((bank.blink.max(1) > 0.5).mean())}

