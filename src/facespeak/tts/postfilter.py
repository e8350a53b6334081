"""Spectral contrast post-filter: undo part of the flow-matching TTS's over-smoothing.

Why (docs/decisions.md #33): a small acoustic model trained with an L2-like objective on a few
voices predicts mels whose detail is averaged away: within an utterance, every mel bin of our
TTS varies less over time than the same bin of the voices it learned from (per-bin standard
deviation 1.25-1.4 vs 1.6-1.7 above 3 kHz). The vocoder renders that faithfully, as a muffled,
buzzy voice. The classic remedy of statistical parametric synthesis is a *global variance*
post-filter: scale each bin's deviation from its mean over the utterance,

    y'_b(t) = m_b + contrast * (y_b(t) - m_b),        m_b = mean_t y_b(t),

so formants, harmonics and onsets stand out again (log domain: a power law on the magnitude).
Then one gain for the whole chunk sets its loudest frame to ``level``: the level the vocoder was
trained on (the universal HiFi-GAN learned from recordings normalised to a peak of 0.95; our
corpus voices so normalised have their loudest frame at 2.76-3.05 nats, median 2.89, in the
default 22.05 kHz analysis: :data:`VOCODER_LEVEL`). Without it a larger contrast would push the
vocoder's tanh output into saturation, and every sentence comes out at one loudness. With
``level`` None the loudest frame keeps the TTS's own level. Timing is untouched, so lips stay in
sync; ``contrast`` 1 with ``level`` None returns the mel unchanged.
"""

from __future__ import annotations

import torch

from ..core.timing import MelSpec

__all__ = ["sharpen_contrast", "VOCODER_LEVEL", "vocoder_level"]

#: Loudest-frame level (log of the frame's summed mel magnitudes) of speech at the universal
#: HiFi-GAN's training level, in the default :class:`MelSpec` (measured: module docstring).
VOCODER_LEVEL = 2.89


def vocoder_level(spec: MelSpec) -> float | None:
    """:data:`VOCODER_LEVEL` for the default 22.05 kHz analysis, None (keep the TTS's level) for
    any other, where it was not measured."""
    return VOCODER_LEVEL if spec == MelSpec() else None


def sharpen_contrast(mel: torch.Tensor, contrast: float, level: float | None = None) -> torch.Tensor:
    """(B, n_mels, T) natural-log mel -> the same with each bin's deviations from its mean over
    time scaled by ``contrast`` and one gain per item that puts its loudest frame at ``level``
    (None: at the level it had). ``contrast`` 1 and ``level`` None: ``mel`` itself. Each item of
    the batch is treated as one utterance (no padding frames expected)."""
    if (contrast == 1.0 and level is None) or mel.shape[-1] == 0:
        return mel
    mean = mel.mean(dim=-1, keepdim=True)
    out = mean + contrast * (mel - mean)
    if level is None:
        target = _loudest_frame(mel)
    else:
        target = torch.full(mel.shape[:1], float(level), dtype=mel.dtype, device=mel.device)
    gain = _loudest_frame(out) - target  # (B,)
    return out - gain[:, None, None]


def _loudest_frame(mel: torch.Tensor) -> torch.Tensor:
    """(B,) log of the largest per-frame energy (sum of the mel magnitudes) of each item."""
    return torch.logsumexp(mel, dim=1).amax(dim=-1)
