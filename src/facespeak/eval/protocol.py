"""The paper's test protocol on LRS2 / LRS3 / VoxCeleb2 test folders (`facespeak eval protocol`).

For every clip: the **first frame** is the portrait, the **transcript** is the text, the **real
clip** is the reference. Three systems are scored with the same code
(:class:`facespeak.eval.av_scoring.Scorer`), side by side:

- ``facespeak``: our pipeline (:func:`facespeak.pipeline.say`);
- ``cascade``: a voice that ignores the face, the Piper voice ``joe`` (one US male), driving the
  same mesh renderer — the kind of cascade the paper compares against. It has no TTS durations,
  so its lips follow the **speech energy envelope**: per video frame, the level above the
  silence threshold sets the jaw (``jaw_open = JAW_MAX * clip((dB + silence_db) / silence_db,
  0, 1)``, lightly smoothed), silent frames get the lip rules' silence target (jaw 0, lip
  closure 0.5); head pose, blinks and brows come from the same recorded-motion bank and seed as
  ours. The mouth-vs-envelope proxy is therefore partly circular for this row (its lips *are*
  the envelope): read its lip score as an upper bound of envelope-driven lips, not as sync;
- ``ground truth``: the real clip itself (Table 1's reference values; Table 3 is not applicable
  as it would compare the clip's speech with itself).

Accepted layouts (``layout="auto"`` picks by what it finds):

- **LRS2 / LRS3** (``lrs``): ``<root>/<speaker or video id>/<clip>.mp4`` with ``<clip>.txt``
  beside it whose first ``Text:`` line is the transcript (LRS2 ``main/``, LRS3 ``test/``);
- **VoxCeleb2** (``vox``): ``<root>/[mp4/]<speaker id>/<video id>/<clip>.mp4``; it has no
  transcripts, so the text is ``<clip>.txt``'s ``Text:`` line if present, else Whisper base's
  transcript of the real clip.

Outputs: ``results.json`` (per clip and system, Table 1 and Table 3) and ``report.html``.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facespeak.core.errors import FacespeakError, InputError

from facespeak.audio.asr import transcribe
from facespeak.audio.io import read_audio
from facespeak.data.voices import get_voice
from facespeak.face.analysis import load_portrait
from facespeak.motion.recorded import RecordedMotion, bundled_motion_path, sample_recorded_motion
from facespeak.tfg.mesh_renderer import MeshRenderer, RenderConfig
from facespeak.tfg.mesh_space import EXPRESSION_NAMES
from facespeak.video.writer import VideoConfig, VideoWriter
from .av_scoring import AVEvalConfig, ClipMedia, Scorer, load_media
from .manifest import ManifestRow, feature_map, generate_video, json_default, lazy_pipeline, summarise
from .metrics.fid import frechet_distance
from .metrics.video import envelope_db, speech_envelope
from .report import write_report

__all__ = ["ProtocolClip", "SYSTEMS", "CASCADE_VOICE", "JAW_MAX", "read_transcript", "discover_clips",
           "cascade_motion", "render_cascade", "run_protocol", "TABLE1", "TABLE3"]

log = logging.getLogger(__name__)

SYSTEMS = ("facespeak", "cascade", "ground truth")
CASCADE_VOICE = "piper_joe"
JAW_MAX = 0.6  # jaw amount at the loudest frame (lip rules: open vowels 0.6-0.85)
TABLE1 = [("system", "system"), ("fid", "FID"), ("id_sim", "ID-SIM"), ("lip_peak_corr", "lip proxy r (not LSE-C)"),
          ("lip_lag_frames", "lip lag (frames)"), ("lmd_mouth", "LMD mouth %"), ("div_rad", "DIV (rad)"),
          ("div_deg", "DIV (deg)"), ("jitter", "jitter %"), ("clips", "clips")]
TABLE3 = [("system", "system"), ("wer", "WER"), ("c_sim", "C-SIM"), ("f0_rmse_hz", "F0 RMSE Hz"),
          ("mcd_db", "MCD dB"), ("gender_agreement", "voice-face gender agreement"), ("clips", "clips")]


@dataclass(frozen=True)
class ProtocolClip:
    """One test clip: ``video`` path, transcript ``text`` (None = transcribe), ``speaker`` id."""

    id: str
    video: Path
    text: str | None
    speaker: str


def read_transcript(path: Path) -> str | None:
    """The ``Text:`` line of an LRS-style transcript file (None if absent or empty)."""
    if not path.is_file():
        return None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip().lower().startswith("text:"):
            return line.split(":", 1)[1].strip() or None
    return None


def discover_clips(root: str | Path, layout: str = "auto", max_clips: int | None = None) -> list[ProtocolClip]:
    """Clips of a test folder in ``lrs`` or ``vox`` layout (see the module docstring), sorted."""
    base = Path(root)
    if not base.is_dir():
        raise InputError(f"expected a dataset folder, found nothing at {base}")
    if layout == "auto":
        layout = "lrs" if any(base.glob("*/*.mp4")) else "vox"
    if layout == "lrs":
        clips = [ProtocolClip(f"{p.parent.name}/{p.stem}", p, read_transcript(p.with_suffix(".txt")), p.parent.name)
                 for p in sorted(base.glob("*/*.mp4"))]
        clips = [c for c in clips if c.text]  # LRS clips are defined by their transcripts
    elif layout == "vox":
        top = base / "mp4" if (base / "mp4").is_dir() else base
        clips = [ProtocolClip(f"{p.parent.parent.name}/{p.parent.name}/{p.stem}", p,
                              read_transcript(p.with_suffix(".txt")), p.parent.parent.name)
                 for p in sorted(top.glob("*/*/*.mp4"))]
    else:
        raise InputError(f"layout: expected 'lrs', 'vox' or 'auto', got {layout!r}")
    if not clips:
        raise InputError(f"no test clips found under {base} in the {layout!r} layout (see docs/evaluation.md)")
    return clips[:max_clips] if max_clips else clips


def cascade_motion(wav: np.ndarray, sample_rate: int, fps: float, n_frames: int, seed: int, still: bool,
                   silence_db: float) -> tuple[np.ndarray, np.ndarray]:
    """Envelope-driven lips + recorded head motion -> (``(T_video, 7)`` amounts, ``(T_video, 5)`` pose)."""
    from scipy.ndimage import gaussian_filter1d

    db = envelope_db(speech_envelope(wav, sample_rate, fps, n_frames), floor_db=silence_db + 10.0)
    level = np.clip((db + silence_db) / silence_db, 0.0, 1.0)
    amounts = np.zeros((n_frames, len(EXPRESSION_NAMES)))
    amounts[:, EXPRESSION_NAMES.index("jaw_open")] = JAW_MAX * gaussian_filter1d(level, 1.0)
    amounts[:, EXPRESSION_NAMES.index("lip_closure")] = np.where(db < -silence_db, 0.5, 0.0)
    pose = np.zeros((n_frames, 5))
    if not still:
        pose, blink, brow = sample_recorded_motion(RecordedMotion.load(bundled_motion_path()), n_frames, fps, seed)
        amounts[:, EXPRESSION_NAMES.index("blink_right")] = blink[:, 0]
        amounts[:, EXPRESSION_NAMES.index("blink_left")] = blink[:, 1]
        amounts[:, EXPRESSION_NAMES.index("brow_raise")] = brow[:, 0]
    return amounts, pose


def render_cascade(portrait: Any, text: str, out: str | Path, cfg: AVEvalConfig) -> Path:
    """The cascade baseline's MP4: Piper ``joe`` speech, envelope lips, our mesh renderer."""

    with tempfile.TemporaryDirectory(prefix="fs-cascade-") as tmp:
        get_voice(CASCADE_VOICE).synthesize(text, Path(tmp) / "voice.wav")
        wav, sr = read_audio(Path(tmp) / "voice.wav")
    video_cfg = VideoConfig()
    n_frames = max(1, int(np.ceil(len(wav) / sr * video_cfg.fps)))
    amounts, pose = cascade_motion(wav, sr, video_cfg.fps, n_frames, cfg.seed, cfg.still, cfg.lip.silence_db)
    rcfg = RenderConfig(mode="full") if cfg.size == "full" else RenderConfig(mode="crop", size=int(cfg.size))
    renderer = MeshRenderer(portrait.image, portrait.face, rcfg)
    with VideoWriter(out, renderer.frame_size, sr, video_cfg) as writer:
        for row in renderer.space.motion_from_amounts(amounts, pose):
            writer.add_frame(renderer.render_frame(row))
        return writer.close(wav)


@dataclass
class _Collected:
    records: list[dict[str, Any]]
    curves: dict[str, Any]
    inception: dict[str, list[np.ndarray]]
    groups: list[tuple[str, np.ndarray, np.ndarray]]
    skipped: list[dict[str, str]]


def _clip_systems(clip: ProtocolClip, ref: ClipMedia, portrait: Any, text: str, cfg: AVEvalConfig, scorer: Scorer,
                  get_fs: Any, out: Path, acc: _Collected) -> None:
    name = clip.id.replace("/", "_")
    row = ManifestRow(id=name, portrait=clip.video, text=text, person=clip.speaker)
    ours, bilabials = generate_video(get_fs(), portrait, row, cfg, out / "facespeak" / f"{name}.mp4")
    cascade = render_cascade(portrait, text, out / "cascade" / f"{name}.mp4", cfg)
    for system, media, bil, reference in (("facespeak", load_media(ours), bilabials, ref),
                                          ("cascade", load_media(cascade), None, ref),
                                          ("ground truth", ref, None, None)):
        scored = scorer.score(media, portrait, text, reference, None, bil)
        acc.records.append({"system": system, "id": clip.id, "person": clip.speaker, "text": text,
                            "video": media.path, **scored.metrics})
        acc.curves[f"{system}: {clip.id}"] = scored.curves
        acc.inception.setdefault(system, []).append(scored.inception)
        if system == "ground truth":
            acc.groups.append((clip.speaker, scored.f, scored.f_id))


def _clip_inputs(clip: ProtocolClip, ref: ClipMedia, scorer: Scorer) -> tuple[Any, str]:
    """The clip's portrait (its first frame, largest face) and text (transcript, else Whisper)."""

    text = clip.text
    if not text and ref.audio is not None and ref.audio.size:
        text = transcribe(ref.audio, int(ref.sample_rate or 0), model=scorer.asr())
    if not text:
        raise InputError(f"{clip.video}: expected a transcript or speech to transcribe, found neither")
    return load_portrait(np.ascontiguousarray(ref.frames[0])), text


def _tables(acc: _Collected) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    real = np.concatenate(acc.inception.get("ground truth", [np.zeros((0, 2048))]))
    t1, t3 = [], []
    for system in SYSTEMS:
        rows = [r for r in acc.records if r["system"] == system]
        if not rows:
            continue
        s = summarise(rows)
        gen = np.concatenate(acc.inception[system])
        fid = frechet_distance(gen, real) if system != "ground truth" and len(gen) >= 2 and len(real) >= 2 else None
        t1.append({"system": system, "fid": fid, "clips": len(rows), **{k: s.get(k) for k, _ in TABLE1[2:-1]}})
        if system != "ground truth":
            t3.append({"system": system, "clips": len(rows), **{k: s.get(k) for k, _ in TABLE3[1:-1]}})
    return t1, t3


def run_protocol(root: str | Path, out_dir: str | Path, cfg: AVEvalConfig | None = None, layout: str = "auto",
                 max_clips: int | None = None, command: str = "") -> dict[str, Any]:
    """Run the protocol on a test folder; write ``results.json`` and ``report.html``."""
    import torch
    from tqdm import tqdm

    cfg = cfg or AVEvalConfig()
    clips = discover_clips(root, layout, max_clips)
    out = Path(out_dir)
    for system in ("facespeak", "cascade"):
        (out / system).mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    scorer, get_fs = Scorer(cfg), lazy_pipeline(cfg.tts_weights)

    acc = _Collected([], {}, {}, [], [])
    for clip in tqdm(clips, desc="protocol", unit="clip", disable=bool(os.environ.get("FACESPEAK_NO_PROGRESS"))):
        ref = load_media(clip.video)
        try:
            portrait, text = _clip_inputs(clip, ref, scorer)
        except FacespeakError as exc:  # no usable face in the first frame, or nothing to say: record, go on
            log.warning("skipping %s: %s", clip.video, exc)
            acc.skipped.append({"id": clip.id, "reason": str(exc)})
            continue
        _clip_systems(clip, ref, portrait, text, cfg, scorer, get_fs, out, acc)
    table1, table3 = _tables(acc)
    results = {"command": command, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "root": str(Path(root).resolve()), "layout": layout, "config": asdict(cfg), "cascade_voice": CASCADE_VOICE,
               "table1": table1, "table3": table3, "rows": acc.records, "skipped": acc.skipped,
               "summary": summarise([r for r in acc.records if r["system"] == "facespeak"]),
               "fid": next((r["fid"] for r in table1 if r["system"] == "facespeak"), None)}
    results["feature_map"], features = feature_map(acc.groups)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=json_default))
    write_report(results, acc.curves, out / "report.html", features=features, title="facespeak paper protocol",
                 tables={"Table 1: talking face": (TABLE1, table1), "Table 3: speech": (TABLE3, table3)})
    return results
