"""Tune `say`'s lip motion without re-synthesising speech (issue 12, the lip-sync bars).

``record``: runs `say` (learned motion, mesh renderer, crop 256: what ``facespeak eval run``
makes) for each manifest row and keeps what the motion stage was given (the mapper features and
RMS levels of each pushed segment), the audio of the written MP4 and the bilabial timings.
``replay``: re-plans the lips from that record with changed options (``--set name=value``:
fields of facespeak.motion.articulation.ArticulationConfig, e.g. ``gain``, or of
facespeak.motion.streaming.StreamMotionConfig), renders at 256, passes the frames through
H.264, fits the face mesh on every output frame and scores them with the eval's lip-sync proxy
(facespeak.eval.metrics.video): the numbers ``facespeak eval run`` reports (within ~0.025: its
videos come from the live writer), minus the speech synthesis. Head motion is re-sampled with
the same seed, so only the lips differ. Means go to stdout, every row to ``REC/replays.jsonl``.
Tune on training rows only (scripts/say_eval_manifest.py --split train); docs/benchmarks.md
"Jaw opening scaled" (session 13).

    OMP_NUM_THREADS=1 python scripts/lip_tune.py record runs/lips13/train_manifest.jsonl --out runs/lips13/rec
    OMP_NUM_THREADS=1 python scripts/lip_tune.py replay runs/lips13/rec --set gain=1.6 --label gain1.6
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
import tempfile
from pathlib import Path

import numpy as np

from facespeak import say_stream
from facespeak.eval.features import bilabial_intervals, track_faces
from facespeak.eval.manifest import read_manifest
from facespeak.eval.metrics.video import LipSyncConfig, lip_sync_proxy, mouth_opening, speech_envelope
from facespeak.face.analysis import load_portrait
from facespeak.motion.articulation import ArticulationConfig
from facespeak.motion.streaming import MotionStream, StreamMotionConfig
from facespeak.video.reader import read_video
from facespeak.video.writer import write_video


class _Recording(MotionStream):
    pushes: list = []

    def push(self, feats, rms):  # noqa: D102 - records, then plans as usual
        _Recording.pushes.append((np.array(feats, np.float32), np.array(rms, np.float64)))
        return super().push(feats, rms)


def record(manifest: str, out: Path) -> None:
    from facespeak.pipeline import FaceSpeak, SpeechOptions, VideoOptions, say

    fs = FaceSpeak.from_bundled()
    out.mkdir(parents=True, exist_ok=True)
    say_stream.MotionStream = _Recording
    for row in read_manifest(manifest):
        if (out / f"{row.id}.pkl").exists():
            continue
        _Recording.pushes = []
        portrait = load_portrait(row.portrait, row.face_index)
        speech = SpeechOptions.with_defaults(seed=row.seed or 0, steps=10)
        video = out / f"{row.id}.mp4"
        result = say(fs, portrait, row.text, video, speech, VideoOptions(size="256"))
        data = read_video(video)
        rec = {"id": row.id, "person": row.person, "portrait": str(row.portrait), "face_index": row.face_index,
               "seed": row.seed or 0, "pushes": _Recording.pushes, "audio": data.audio, "sr": data.info.sample_rate,
               "fps": data.info.fps, "n_frames": len(data.frames),
               "bilabials": bilabial_intervals(result.chunks, result.sample_rate, fs.mel_spec.frame_rate, speech.pause_s)}
        (out / f"{row.id}.pkl").write_bytes(pickle.dumps(rec))
        print(row.id, len(data.frames), flush=True)


def plan_rows(rec: dict, cfg: StreamMotionConfig, models) -> np.ndarray:
    mapper, sampler = models
    stream = MotionStream(mapper, sampler, rec["seed"], cfg)
    parts = [stream.push(f, r) for f, r in rec["pushes"]] + [stream.finish()]
    lips = np.concatenate([p[0] for p in parts])
    nonlip = np.concatenate([p[1] for p in parts if p[1] is not None])
    return say_stream.plan_rows(lips, nonlip, 1.0)


def score(rec: dict, rows: np.ndarray, keep_frames: bool = False) -> dict:
    from facespeak.pipeline import VideoOptions, _frame_source

    portrait = load_portrait(rec["portrait"], rec["face_index"])
    video = VideoOptions(size="256")
    rows = rows.copy()
    rows[:, -5:] *= video.head_motion
    _, render = _frame_source(portrait, video)
    with tempfile.TemporaryDirectory() as tmp:
        frames = read_video(write_video(Path(tmp) / "v.mp4", list(render(rows)))).frames
    track = track_faces(frames)
    opening = mouth_opening(track.landmarks)
    env = speech_envelope(rec["audio"], rec["sr"], rec["fps"], n_frames=len(frames))
    lip = lip_sync_proxy(opening, env, rec["fps"], LipSyncConfig(), rec["bilabials"])
    out = {"id": rec["id"], **lip.to_dict(), "face_found": float(track.found.mean())}
    if keep_frames:
        out["frames"], out["opening"], out["env"] = frames, opening, env
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("record", "replay"))
    ap.add_argument("path")
    ap.add_argument("--out", default=None)
    ap.add_argument("--set", nargs="*", default=[], help="StreamMotionConfig fields name=value")
    ap.add_argument("--label", default="run")
    ap.add_argument("--only", default=None, help="substring of the row ids to replay")
    a = ap.parse_args()
    if a.mode == "record":
        record(a.path, Path(a.out))
        return
    from facespeak.motion.bundled import load_audio_mapper, load_motion_sampler

    models = (load_audio_mapper(), load_motion_sampler())
    kw, art = {}, {}
    for item in a.set:  # StreamMotionConfig fields, or ArticulationConfig fields (articulation.NAME)
        k, v = item.split("=")
        target, base = (art, ArticulationConfig()) if hasattr(ArticulationConfig(), k) else (kw, StreamMotionConfig())
        old = getattr(base, k)
        target[k] = v.lower() in ("1", "true", "yes") if isinstance(old, bool) else type(old)(v)
    results = []
    for path in sorted(Path(a.path).glob("*.pkl")):
        if a.only and a.only not in path.stem:
            continue
        rec = pickle.loads(path.read_bytes())
        fps = rec["fps"]
        cfg = StreamMotionConfig(ease_in_frames=0.4 * fps, **kw)
        if art:
            cfg = dataclasses.replace(cfg, articulation=dataclasses.replace(cfg.articulation, **art))
        results.append(score(rec, plan_rows(rec, cfg, models)))
        r = results[-1]
        print(f"{r['id']:34s} r {r['peak_corr']:.3f} lag {r['lag_frames']:+d} sil {r['silence_closure']} "
              f"pbm {r['bilabial_closure']}", flush=True)
    keys = ("peak_corr", "silence_closure", "bilabial_closure", "face_found")
    mean = {k: float(np.mean([r[k] for r in results if r[k] is not None])) for k in keys}
    mean["lag_within_1"] = sum(abs(r["lag_frames"]) <= 1 for r in results)
    print(a.label, json.dumps({k: round(v, 4) for k, v in mean.items()}))
    log = Path(a.path) / "replays.jsonl"
    with log.open("a") as f:
        f.write(json.dumps({"label": a.label, "set": {**kw, **art}, "mean": mean, "rows": results}) + "\n")


if __name__ == "__main__":
    main()
