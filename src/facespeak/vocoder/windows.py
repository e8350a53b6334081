"""Vocoding a long mel in windows with context: the same samples as one call, bounded memory.

HiFi-GAN is convolutional: a window of the mel vocoded with ``context`` frames of the mel on
both sides and cut back to its own samples equals the same samples of one call (up to float
rounding at the seams; bit-identical with static int8 ranges, tests/unit/test_vocoder_int8.py).
:class:`facespeak.vocoder.onnx_export.OnnxVocoder` vocodes this way because ONNX Runtime's arena
grows to the largest input it has run and keeps that memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["VOCODER_CONTEXT", "vocode_windows"]

#: mel frames of context on each side of a window (HiFi-GAN V1's receptive field, with margin)
VOCODER_CONTEXT = 24


def vocode_windows(vocoder: Callable[[Any], Any], mel: Any, window: int | None,
                   context: int = VOCODER_CONTEXT) -> Any:
    """``vocoder(mel)`` for ``mel`` (1, n_mels, T_mel) -> (1, T_wav), in windows of ``window``
    mel frames (None: in one call), each vocoded with ``context`` frames of the mel on both
    sides and cut back to its own samples."""
    t = mel.shape[-1]
    if window is None or t <= window:
        return vocoder(mel)
    import torch  # lazy: torch only where tensors are joined

    pieces = []
    for a in range(0, t, window):
        b = min(t, a + window)
        lo, hi = max(0, a - context), min(t, b + context)
        wav = vocoder(mel[..., lo:hi])
        hop = wav.shape[-1] // (hi - lo)
        pieces.append(wav[..., (a - lo) * hop:(b - lo) * hop])
    return torch.cat(pieces, dim=-1)
