"""The paper's system at inference: a joint-stage export end to end (``say --tfg latent``).

A joint export (``facespeak train tfg --config tfg_joint_* --out DIR/latent_tfg.safetensors``,
:func:`facespeak.train.tfg_joint.export_joint_parts`) is one folder (or file stem) holding

    <stem>.safetensors                  latent TFG          (arch facespeak.tfg.latent)
    <stem>.audio_mapper.safetensors     audio mapper        (arch facespeak.audio_mapper, latent space)
    <stem>.motion_sampler.safetensors   motion sampler      (arch facespeak.motion_sampler, latent space)
    <stem>.tts.safetensors              TTS on the TFG's f_id (arch facespeak.tts)

Stages: 1 portrait -> aligned crop -> TFG encoder: ``f_id`` (the TTS condition and the motion
condition); 2 speech: the joint TTS (chunked, the pipeline's front end and vocoder); 3 motion:
the audio mapper's ``f_lip`` from the TTS intermediates and the sampler's ``f_m`` conditioned
on ``[f_id, f_lip]`` (the latent :class:`~facespeak.motion.space.MotionSpace`); 4 render + mux.
A folder with only the TFG keeps the mesh-driven route of :func:`facespeak.pipeline.say`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .bundle import check_text_symbols, load_tts
from .core.cancel import CancelToken, check_cancel
from .core.checkpoint import read_info
from .core.errors import CheckpointError, InputError
from .core.progress import FACE, MOTION, MUX, ProgressFn, StageClock
from .core.timing import AudioTiming
from .face.analysis import Portrait, load_portrait
from .motion.audio_mapper import concat_speech_features
from .motion.bundled import load_audio_mapper, load_motion_sampler
from .motion.space import check_motion_models, generate_space_motion
from .say_stream import SayResult, encode_frames
from .tfg.latent.motion_space import LatentMotionSpace
from .tfg.latent.renderer import LatentRenderer
from .tfg.latent.weights import load_latent_tfg, resolve_weights
from .video.writer import VideoConfig, VideoWriter

__all__ = ["JOINT_PARTS", "JointExport", "joint_export_paths", "load_joint_export", "say_joint"]

JOINT_PARTS = ("audio_mapper", "motion_sampler", "tts")
_OLD_SAMPLER_ARCH = "facespeak.tfg.latent.motion_sampler"  # joint exports before issue 13


@dataclass
class JointExport:
    """The four models of a joint export, loaded and checked against each other."""

    tfg: Any  # LatentTFG
    mapper: Any  # motion.AudioMapper (latent space)
    sampler: Any  # motion.MotionSampler (latent space)
    tts: Any  # tts.FaceTTS conditioned on f_id
    tts_config: dict[str, Any]
    mel: Any  # core.timing.MelSpec the TTS was trained on


def joint_export_paths(weights: str | Path) -> dict[str, Path] | None:
    """``{"tfg", "audio_mapper", "motion_sampler", "tts"} -> path`` when ``weights`` (folder or
    TFG file) has any joint part beside its TFG, else None (a reconstruction-stage TFG)."""

    tfg = resolve_weights(weights)
    parts = {name: tfg.with_name(f"{tfg.stem}.{name}.safetensors") for name in JOINT_PARTS}
    if not any(p.is_file() for p in parts.values()):
        return None
    return {"tfg": tfg, **parts}


def _check_parts(weights: str | Path, paths: dict[str, Path]) -> None:
    sampler = paths["motion_sampler"]
    if sampler.is_file() and read_info(sampler).arch == _OLD_SAMPLER_ARCH:
        raise CheckpointError(f"{sampler}: a joint export from before the one motion stack (its own mapper and sampler "
                              "copies); it cannot be converted: retrain the joint stage and export again")
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        raise CheckpointError(f"joint export {weights}: expected {', '.join(p.name for p in paths.values())}; "
                              f"missing {', '.join(missing)}")


def _load_tts(path: Path, style_dim: int) -> tuple[Any, dict[str, Any], Any]:
    """The joint TTS through the one TTS loader (facespeak.bundle.load_tts), checked for the joint stage."""

    config = read_info(path).config
    if config.get("_cond") != "latent_tfg_f_id" or "_mel" not in config:
        raise CheckpointError(f"{path}: expected a joint-stage TTS conditioned on the latent TFG's f_id, with its mel "
                              f"analysis (_cond, _mel); got condition {config.get('_cond')!r}")
    tts, tts_config, mel = load_tts(path)
    if tts.cfg.cond_dim != style_dim:
        raise CheckpointError(f"{path}: TTS condition has {tts.cfg.cond_dim} channels, the TFG's f_id {style_dim}")
    return tts, tts_config, mel


def load_joint_export(weights: str | Path) -> JointExport:
    """Load and cross-check a joint export (strict: every part present, sizes consistent)."""

    paths = joint_export_paths(weights)
    if paths is None:
        raise CheckpointError(f"{weights}: expected a joint export ({', '.join(JOINT_PARTS)} beside the TFG), found none")
    _check_parts(weights, paths)
    tfg = load_latent_tfg(paths["tfg"])
    mapper, sampler = load_audio_mapper(paths["audio_mapper"]), load_motion_sampler(paths["motion_sampler"])
    check_motion_models(LatentMotionSpace.sizes(tfg.cfg.style_dim), mapper, sampler, f"joint export {weights}")
    tts, tts_config, mel = _load_tts(paths["tts"], tfg.cfg.style_dim)
    return JointExport(tfg, mapper, sampler, tts, tts_config, mel)


def _voice(fs: Any, export: JointExport, speech: Any) -> Any:
    """``fs`` (a FaceSpeak) with the joint TTS in place of its own; same front end and vocoder."""
    if export.mel != fs.mel_spec:
        raise CheckpointError(f"joint TTS: trained on mels {export.mel}, the vocoder takes {fs.mel_spec}; retrain with "
                              "joint.clips.tts_mel set to the vocoder's mel analysis")

    check_text_symbols(export.tts_config, fs.frontend, "joint TTS")
    if speech.voice_gender != "auto":
        raise InputError(f"voice gender {speech.voice_gender!r}: the joint TTS has no gender input; use 'auto'")
    voice = copy.copy(fs)  # shallow: shares the vocoder and front end, nothing is mutated
    voice.tts, voice.tts_config, voice.timbre = export.tts.to(fs.device), export.tts_config, None
    return voice


def _speak(voice: Any, text: str, cond: torch.Tensor, speech: Any, cancel: CancelToken | None,
           on_progress: ProgressFn | None) -> tuple[np.ndarray, list[Any]]:
    """Chunks of the joint TTS joined by ``speech.pause_s`` of silence -> (wav (T_wav,), chunks)."""
    pause = np.zeros(int(speech.pause_s * voice.mel_spec.sample_rate), np.float32)
    parts, chunks = [], []
    for i, ch in enumerate(voice.iter_chunks(text, cond.to(voice.device), speech, cancel, on_progress)):
        parts.extend([pause, ch.wav] if i else [ch.wav])
        chunks.append(ch)
    return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), chunks


def _latent_motion(export: JointExport, renderer: Any, chunks: list[Any], speech: Any, still: bool, timing: Any,
                   n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """-> ``f_m (T_video, D_style)`` and ``f_lip (T_video, D_style)`` for ``n_frames`` frames."""

    pause_frames = speech.pause_s * timing.mel.frame_rate
    feats = concat_speech_features([(c.e_t, c.mu_y, c.durations) for c in chunks], pause_frames, timing, n_frames)
    space = LatentMotionSpace(torch.from_numpy(renderer.f_id)[None])
    gen = torch.Generator().manual_seed(int(speech.seed))
    f_lip, f_m = generate_space_motion(space, export.mapper, export.sampler, torch.from_numpy(feats)[None], gen)
    f_m = f_m[0].numpy()
    if still:  # the portrait's own motion code in every frame; lips still move
        f_m = np.repeat((renderer.f - renderer.f_id)[None], n_frames, axis=0)
    return f_m, f_lip[0].numpy()


def say_joint(fs: Any, image: Any, text: str, out: str | Path, speech: Any, video: Any, face_index: int | None = None,
              progress: bool = False, cancel: CancelToken | None = None,
              on_progress: ProgressFn | None = None) -> SayResult:
    """Portrait + text -> MP4 with the joint export ``video.tfg_weights`` (module docstring).
    ``fs``: the pipeline's FaceSpeak (front end, vocoder, mel analysis, device). Timings as in
    :func:`facespeak.pipeline.say` (a :class:`StageClock` per run)."""
    if video.motion == "rules":
        raise InputError("motion 'rules' is for the mesh space; a joint export drives the latent TFG with its own "
                         "audio mapper and motion sampler (use 'auto' or 'learned')")
    clock = StageClock.of(on_progress)
    with clock.stage(FACE, report=True):
        export = load_joint_export(video.tfg_weights)
        portrait = image if isinstance(image, Portrait) else load_portrait(image, face_index)
        renderer = LatentRenderer(portrait.image, portrait.face, export.tfg)
    f_id = torch.from_numpy(renderer.f_id)[None]
    wav, chunks = _speak(_voice(fs, export, speech), text, f_id, speech, cancel, clock)
    sr, timing = fs.mel_spec.sample_rate, AudioTiming(fs.mel_spec, fs.fps)
    n_frames = max(1, int(np.ceil(len(wav) / sr * timing.video_fps)))
    check_cancel(cancel)
    with clock.stage(MOTION, report=True):
        f_m, f_lip = _latent_motion(export, renderer, chunks, speech, video.still, timing, n_frames)
    with clock.stage(MUX):
        writer = VideoWriter(out, renderer.frame_size, sr, VideoConfig(fps=timing.video_fps))
    with writer:
        encode_frames(writer, renderer.render_codes(f_m, f_lip), n_frames, clock, cancel, progress)
        with clock.stage(MUX, report=True):
            path = writer.close(wav)
    timings = {**clock.seconds, **clock.marks, "total_s": clock.elapsed()}
    return SayResult(Path(path), n_frames, timing.video_fps, len(wav) / sr, portrait.face_index,
                          len(portrait.faces), timings, chunks, sr)
