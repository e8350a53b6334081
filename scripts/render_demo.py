"""Demo of the mesh renderer: portrait + text -> talking-face MP4 (rules, not learned motion).

    .venv/bin/python scripts/render_demo.py --image face.jpg --text "Hello there." --out demo.mp4

Speech: the bundled face-conditioned TTS (``FaceSpeak.from_bundled``) when its weights exist;
otherwise, *for this demo only*, the Debian ``flite`` voice "slt" with flite's own segment
timings (``-psdur``), mapped from ARPAbet to the project's IPA symbols, so the lips follow the
audio exactly. Lips: :func:`facespeak.motion.lip_rules.lip_targets`. Head, blinks and brows:
a **sinusoidal placeholder**, not a model (the learned motion sampler replaces it).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf
import torch

from facespeak.core.timing import AudioTiming, MelSpec
from facespeak.face.analysis import load_portrait
from facespeak.motion.lip_rules import lip_targets
from facespeak.pipeline import FaceSpeak, default_tts_path
from facespeak.text.symbols import BLANK_ID, symbol_to_id
from facespeak.tfg.mesh_renderer import MeshRenderer, RenderConfig
from facespeak.tfg.mesh_space import EXPRESSION_NAMES, K_EXPR
from facespeak.video.writer import VideoConfig, VideoWriter

log = logging.getLogger("render_demo")

# flite's ARPAbet segments -> IPA symbol strings of facespeak.text.SYMBOLS (demo only)
ARPABET_IPA = {
    "aa": "ɑ", "ae": "æ", "ah": "ʌ", "ao": "ɔ", "aw": "aʊ", "ax": "ə", "ay": "aɪ", "eh": "ɛ", "er": "ɚ",
    "ey": "eɪ", "ih": "ɪ", "iy": "i", "ow": "oʊ", "oy": "ɔɪ", "uh": "ʊ", "uw": "u", "b": "b", "ch": "tʃ",
    "d": "d", "dh": "ð", "f": "f", "g": "ɡ", "hh": "h", "jh": "dʒ", "k": "k", "l": "l", "m": "m", "n": "n",
    "ng": "ŋ", "p": "p", "r": "ɹ", "s": "s", "sh": "ʃ", "t": "t", "th": "θ", "v": "v", "w": "w", "y": "j",
    "z": "z", "zh": "ʒ", "pau": ".",
}


def speech_from_flite(text: str, mel: MelSpec) -> tuple[np.ndarray, int, list[int], np.ndarray]:
    """wav (T_wav,), sample rate, ids (T_text,), durations (T_text,) mel frames of ``mel``."""
    if shutil.which("flite") is None:
        sys.exit("error: no bundled TTS weights and no `flite` (apt-get install flite) for the demo")
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = Path(tmp) / "speech.wav"
        out = subprocess.run(["flite", "-voice", "slt", "-psdur", "-t", text, "-o", str(wav_path)],
                             check=True, capture_output=True, text=True).stdout
        wav, sr = sf.read(wav_path, dtype="float32")
    ids, durs, prev = [], [], 0.0
    for item in out.split():
        phone, end = item.rsplit(":", 1)
        symbols = ARPABET_IPA.get(phone, ".")
        seconds = (float(end) - prev) / len(symbols)
        prev = float(end)
        for s in symbols:
            ids.append(symbol_to_id(s) or BLANK_ID)
            durs.append(seconds * mel.frame_rate)
    return wav, sr, ids, np.asarray(durs)


def speech_from_tts(image: np.ndarray, text: str) -> tuple[np.ndarray, int, list[int], np.ndarray]:
    fs = FaceSpeak.from_bundled(threads=1)
    result = fs.speak(image, text)
    pause_frames = 0.2 * fs.mel_spec.frame_rate  # SpeechOptions.pause_s between chunks
    ids, durs = [], []
    for k, ch in enumerate(result.chunks):
        if k:
            ids.append(symbol_to_id("."))
            durs.append(pause_frames)
        ids.extend(ch.ids)
        durs.extend(ch.durations.tolist())
    return result.wav, result.sample_rate, ids, np.asarray(durs)


def placeholder_motion(n: int, fps: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """PLACEHOLDER head/eye/brow motion (sinusoids + periodic blinks), not a learned sampler.

    Returns ``(T_video, K)`` amounts for blinks/brows and ``(T_video, 5)`` pose.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fps
    phases = rng.uniform(0, 2 * np.pi, 5)
    pose = np.stack([3.0 * np.sin(2 * np.pi * 0.23 * t + phases[0]),   # yaw deg
                     2.0 * np.sin(2 * np.pi * 0.31 * t + phases[1]),   # pitch deg
                     1.5 * np.sin(2 * np.pi * 0.17 * t + phases[2]),   # roll deg
                     0.15 * np.sin(2 * np.pi * 0.11 * t + phases[3]),  # tx cm
                     0.10 * np.sin(2 * np.pi * 0.13 * t + phases[4])], axis=1)
    amounts = np.zeros((n, K_EXPR))
    blink_shape = np.array([0.5, 1.0, 0.7, 0.3])  # ~160 ms
    start = int(rng.uniform(0.8, 1.6) * fps)
    while start < n - len(blink_shape):
        for name in ("blink_right", "blink_left"):
            amounts[start:start + len(blink_shape), EXPRESSION_NAMES.index(name)] = blink_shape
        start += int(rng.uniform(2.5, 4.5) * fps)
    amounts[:, EXPRESSION_NAMES.index("brow_raise")] = 0.25 * np.clip(np.sin(2 * np.pi * 0.2 * t), 0, None)
    return amounts, pose


def bench(image_path: str, n: int = 50) -> None:
    """Log render speed (median ms/frame over ``n`` random motion frames) at crop 256/512 and full."""
    portrait = load_portrait(image_path)
    rng = np.random.default_rng(0)
    for mode, size in (("crop", 256), ("crop", 512), ("full", 256)):
        t0 = time.perf_counter()
        r = MeshRenderer(portrait.image, portrait.face, RenderConfig(mode=mode, size=size))
        setup = time.perf_counter() - t0
        motion = r.space.motion_from_amounts(rng.uniform(0, 0.8, (n, K_EXPR)),
                                             rng.uniform(-4, 4, (n, 5)) * [1, 1, 1, 0.05, 0.05])
        r.render_frame(motion[0])  # untimed: the compiled warp kernels load (tfg.triangle_raster.warm_up)
        times = []
        for row in motion:
            ts = time.perf_counter()
            r.render_frame(row)
            times.append(time.perf_counter() - ts)
        log.info("%s %s: setup %.0f ms, render median %.1f ms/frame (p90 %.1f)", mode,
                 size if mode == "crop" else "x".join(map(str, r.frame_size)), 1000 * setup,
                 1000 * np.median(times), 1000 * np.percentile(times, 90))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", required=True)
    p.add_argument("--text")
    p.add_argument("--out")
    p.add_argument("--bench", action="store_true", help="only measure render speed on --image")
    p.add_argument("--bench-frames", type=int, default=50, help="random motion frames per mode (--bench)")
    p.add_argument("--mode", choices=("crop", "full"), default="crop")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frames-dir", help="also save every 10th frame as PNG here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    if args.bench:
        bench(args.image, args.bench_frames)
        return 0
    if not (args.text and args.out):
        p.error("--text and --out are required (unless --bench)")

    portrait = load_portrait(args.image)
    timing = AudioTiming()
    if default_tts_path().is_file():
        wav, sr, ids, durs = speech_from_tts(portrait.image, args.text)
    else:
        log.info("no bundled TTS weights at %s: demo speech from flite", default_tts_path())
        wav, sr, ids, durs = speech_from_flite(args.text, timing.mel)
    n = int(np.ceil(len(wav) / sr * timing.video_fps))
    lips = lip_targets(ids, durs, timing, n_frames=n)
    amounts, pose = placeholder_motion(n, timing.video_fps, args.seed)
    amounts[:, : lips.shape[1]] = lips  # lip columns lead the expression order

    t0 = time.perf_counter()
    renderer = MeshRenderer(portrait.image, portrait.face, RenderConfig(mode=args.mode, size=args.size))
    motion = renderer.space.motion_from_amounts(amounts, pose)
    t1 = time.perf_counter()
    frames_dir = Path(args.frames_dir) if args.frames_dir else None
    if frames_dir:
        frames_dir.mkdir(parents=True, exist_ok=True)
    render_s = 0.0
    with VideoWriter(args.out, renderer.frame_size, sr, VideoConfig(fps=timing.video_fps)) as writer:
        for k, row in enumerate(motion):
            ts = time.perf_counter()
            frame = renderer.render_frame(row)
            render_s += time.perf_counter() - ts
            writer.add_frame(frame)
            if frames_dir and k % 10 == 0:
                cv2.imwrite(str(frames_dir / f"frame_{k:04d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.close(wav)
    log.info("%d frames (%.2f s audio); renderer setup %.0f ms, render %.1f ms/frame; wrote %s", n, len(wav) / sr,
             1000 * (t1 - t0), 1000 * render_s / max(n, 1), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
