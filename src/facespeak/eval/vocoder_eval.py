"""`facespeak eval vocoder`: copy-synthesis of real recorded speech, to isolate the vocoder.

Each LibriVox clip of ``pocketsphinx-testdata`` (real read speech, 16 kHz) goes
wav -> our log-mel (:class:`facespeak.audio.mel.MelExtractor` with the vocoder's
:class:`MelSpec`) -> vocoder -> wav, and the output is scored: DistillMOS and DNSMOS SIG
(:mod:`facespeak.eval.metrics.speech_quality`), mel L1 against the input mel (natural-log
units, lower is better), vocoder real-time factor on ``threads`` torch threads
(:func:`facespeak.vocoder.speed.measure_rtf`, best of ``rtf_repeats``) and, with ``wer``,
Whisper base WER against the reader's transcript. A row for the original recordings gives the
ceiling. Writes ``results.json`` (every number, the command) and ``summary.md``; the
resynthesised speech is kept under ``wavs/``.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facespeak.audio.reference_speech import LIBRIVOX_DIR, SpeechClip, librivox_clips
from facespeak.core.errors import InputError
from facespeak.core.timing import MelSpec
from facespeak.vocoder.bundled import VOCODER_NAMES, load_vocoder, load_vocoder_checkpoint, universal_mel_spec

from facespeak.audio.asr import load_whisper_base, normalize_words, transcribe, wer
from facespeak.audio.io import load_audio, read_audio, save_wav
from facespeak.audio.mel import MelExtractor
from facespeak.core.cache import file_sha256
from facespeak.vocoder.speed import measure_rtf
from .metrics.speech_quality import QUALITY_THRESHOLDS, SpeechQuality, score_speech_quality, summarize_speech_quality
from .tts_eval import _git_commit, _json_default

__all__ = ["VocoderEvalConfig", "LoadedVocoder", "load_vocoder_for_eval", "copy_synthesis", "run_vocoder_eval",
           "vocoder_table_markdown", "ORIGINAL_ROW"]

log = logging.getLogger(__name__)

ORIGINAL_ROW = "original"  # name of the row for the unprocessed recordings


@dataclass
class VocoderEvalConfig:
    """What `facespeak eval vocoder` evaluates (CLI flags map 1:1).

    vocoders: bundled names (``facespeak.vocoder.bundled.VOCODER_NAMES``) or checkpoint paths;
    max_clips: only the first N LibriVox clips (None: all five); threads: torch threads while
    vocoding and timing; wer: also transcribe with Whisper base.
    """

    vocoders: tuple[str, ...] = VOCODER_NAMES
    max_clips: int | None = None
    threads: int = 2
    rtf_repeats: int = 2
    wer: bool = False
    save_wavs: bool = True
    clips_dir: str | None = None  # None: facespeak.audio.reference_speech.LIBRIVOX_DIR

    @classmethod
    def tiny(cls) -> "VocoderEvalConfig":
        return cls(vocoders=("fast",), max_clips=1, rtf_repeats=1)


@dataclass
class LoadedVocoder:
    """A vocoder ready for copy-synthesis: ``model(mel (B, n_mels, T_mel)) -> (B, T_mel * hop)``."""

    name: str
    model: Any  # IstftVocoder | HifiGanGenerator (eval mode) | OnnxVocoder
    spec: MelSpec  # of its input mels
    record: dict[str, Any] = field(default_factory=dict)


def load_vocoder_for_eval(name_or_path: str) -> LoadedVocoder:
    """A bundled vocoder by name, or a checkpoint file (``facespeak train vocoder`` output)."""

    if name_or_path in VOCODER_NAMES:
        model, spec = load_vocoder(name_or_path), universal_mel_spec()
        record: dict[str, Any] = {"source": f"bundled:{name_or_path}"}
        label = name_or_path
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise InputError(f"--vocoder: expected one of {list(VOCODER_NAMES)} or a checkpoint file, "
                             f"got '{name_or_path}' (no such file)")
        model, spec = load_vocoder_checkpoint(path), MelSpec()  # `facespeak train vocoder` uses MelSpec()
        record = {"source": str(path.resolve()), "sha256": file_sha256(path)}
        label = path.stem
    hop, n_mels = model.cfg.hop_length, model.cfg.n_mels  # IstftVocoderConfig and HifiGanConfig both have them
    if hop != spec.hop_length or n_mels != spec.n_mels:
        raise InputError(f"vocoder '{name_or_path}': expected hop {spec.hop_length} and {spec.n_mels} mels "
                         f"(the mel spec it is fed), got hop {hop} and {n_mels} mels")
    params = sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else None  # ONNX: none
    record.update(arch=type(model).__name__, parameters=params,
                  sample_rate=spec.sample_rate, mel=asdict(spec))
    return LoadedVocoder(label, model, spec, record)


def copy_synthesis(vocoder: LoadedVocoder, wav: np.ndarray) -> tuple[np.ndarray, float, Any]:
    """``(T_wav,)`` float audio at ``vocoder.spec.sample_rate`` -> (resynthesis ``(T_mel * hop,)``,
    mel L1 of the resynthesis against the input mel (natural-log units), the input mel
    ``(1, n_mels, T_mel)``)."""
    import torch

    extractor = MelExtractor(vocoder.spec)
    with torch.inference_mode():
        mel = extractor(torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32)))
        out = vocoder.model(mel)
        l1 = float((extractor(out) - mel).abs().mean())
    return out[0].numpy(), l1, mel


def _clip_row(clip: SpeechClip, wav: np.ndarray, rate: int, quality: SpeechQuality, asr: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"clip": clip.path.stem, "seconds": round(len(wav) / rate, 3), **quality.to_dict()}
    if asr is not None:
        hyp = transcribe(wav, rate, model=asr)
        words = len(normalize_words(clip.transcript))
        row.update(hypothesis=hyp, words=words, errors=int(round(wer(clip.transcript, hyp) * words)))
    return row


def _summary_row(name: str, rows: list[dict[str, Any]], scores: list[SpeechQuality]) -> dict[str, Any]:
    summary = summarize_speech_quality(scores).to_dict()
    out: dict[str, Any] = {"name": name, **{k: v for k, v in summary.items() if k not in ("count", "unrated")},
                           "clips": len(rows), "unrated": summary["unrated"]}
    if rows and "errors" in rows[0]:
        errors, words = sum(r["errors"] for r in rows), sum(r["words"] for r in rows)
        out.update(wer=errors / max(words, 1), errors=errors, words=words)
    return out


def _evaluate_original(clips: list[SpeechClip], asr: Any) -> dict[str, Any]:
    rows, scores = [], []
    for clip in clips:
        wav, rate = read_audio(clip.path)
        scores.append(score_speech_quality(wav, rate))
        rows.append(_clip_row(clip, wav, rate, scores[-1], asr))
    return {**_summary_row(ORIGINAL_ROW, rows, scores), "mel_l1": None, "rtf": None,
            "source": "LibriVox recordings (pocketsphinx-testdata)", "per_clip": rows}


def _evaluate_vocoder(vocoder: LoadedVocoder, clips: list[SpeechClip], cfg: VocoderEvalConfig, asr: Any,
                      wav_dir: Path | None) -> dict[str, Any]:
    rows, scores, seconds, audio = [], [], 0.0, 0.0
    rate, hop = vocoder.spec.sample_rate, vocoder.spec.hop_length
    for clip in clips:
        resynth, l1, mel = copy_synthesis(vocoder, load_audio(clip.path, rate))  # also the RTF warm-up
        timing = measure_rtf(vocoder.model, mel, rate, hop, repeats=cfg.rtf_repeats, warmup=0)
        seconds, audio = seconds + timing.best_seconds, audio + timing.audio_seconds
        scores.append(score_speech_quality(resynth, rate))
        row = _clip_row(clip, resynth, rate, scores[-1], asr)
        row.update(mel_l1=round(l1, 4), rtf=round(timing.rtf, 4))
        if wav_dir is not None:
            row["wav"] = str(save_wav(wav_dir / f"{vocoder.name}_{clip.path.stem}.wav", resynth, rate))
        rows.append(row)
    return {**_summary_row(vocoder.name, rows, scores), "mel_l1": float(np.mean([r["mel_l1"] for r in rows])),
            "rtf": seconds / audio, **vocoder.record, "per_clip": rows}


def _progress(iterable: Any, desc: str) -> Any:
    import os

    from tqdm import tqdm

    return tqdm(iterable, desc=desc, unit="vocoder", disable=bool(os.environ.get("FACESPEAK_NO_PROGRESS")))


def run_vocoder_eval(cfg: VocoderEvalConfig, out_dir: str | Path, command: str = "") -> dict[str, Any]:
    """Score the original clips and every vocoder's copy-synthesis; write ``results.json`` and
    ``summary.md`` into ``out_dir``; return the results."""
    import torch

    if not cfg.vocoders:
        raise InputError("expected at least one vocoder to evaluate, got none")
    if cfg.max_clips is not None and cfg.max_clips < 1:
        raise InputError(f"expected a positive number of clips, got {cfg.max_clips}")
    vocoders = [load_vocoder_for_eval(v) for v in dict.fromkeys(cfg.vocoders)]  # fail fast on a bad name
    clips = librivox_clips(Path(cfg.clips_dir) if cfg.clips_dir else LIBRIVOX_DIR)[: cfg.max_clips]
    if not clips:
        raise InputError(f"expected LibriVox clips in {cfg.clips_dir or LIBRIVOX_DIR}, found none")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    asr = None
    if cfg.wer:
        asr = load_whisper_base()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        rows = [_evaluate_original(clips, asr)]
        rows += [_evaluate_vocoder(v, clips, cfg, asr, out / "wavs" if cfg.save_wavs else None)
                 for v in _progress(vocoders, "eval vocoder")]
    finally:
        torch.set_num_threads(previous_threads)
    results = {"command": command, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "git_commit": _git_commit(), "config": asdict(cfg), "torch_threads": cfg.threads,
               "quality_thresholds": QUALITY_THRESHOLDS,
               "clips": [{"clip": c.path.stem, "transcript": c.transcript} for c in clips], "rows": rows}
    (out / "results.json").write_text(json.dumps(results, indent=1, default=_json_default))
    (out / "summary.md").write_text(vocoder_table_markdown(results))
    log.info("eval vocoder: results in %s", out)
    return results


_COLUMNS = (("name", "vocoder"), ("distillmos_mean", "DistillMOS mean"), ("distillmos_min", "min"),
            ("dnsmos_sig_mean", "DNSMOS SIG mean"), ("dnsmos_sig_min", "min"), ("dnsmos_ovrl_mean", "OVRL"),
            ("dnsmos_p808_mean", "P.808"), ("mel_l1", "mel L1"), ("rtf", "RTF"), ("wer", "WER"),
            ("parameters", "params"))


def _cell(v: Any, key: str) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    if key == "wer":
        return f"{100 * v:.1f} %"
    if key == "parameters":
        return f"{v / 1e6:.2f} M"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def vocoder_table_markdown(results: dict[str, Any]) -> str:
    """Markdown report of :func:`run_vocoder_eval`: header and one row per vocoder."""
    rows = results["rows"]
    cols = [(k, h) for k, h in _COLUMNS if any(r.get(k) is not None for r in rows)]
    lines = [f"# Vocoder copy-synthesis ({results['created']})", "",
             f"- command: `{results['command']}`", f"- git commit: `{results['git_commit']}`",
             f"- {len(results['clips'])} LibriVox clips: real wav -> our mel -> vocoder; scores on each file "
             f"trimmed, 16 kHz, RMS -25 dBFS; RTF on {results['torch_threads']} torch threads", "",
             "| " + " | ".join(h for _, h in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(k), k) for k, _ in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"
