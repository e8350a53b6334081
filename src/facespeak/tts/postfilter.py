"""Spectral contrast post-filter: undo part of the flow-matching TTS's over-smoothing.

Why (docs/decisions.md #33): a small acoustic model trained with an L2-like objective on a few
voices predicts mels whose detail is averaged away: within an utterance, every mel bin of our
TTS varies less over time than the same bin of the voices it learned from (per-bin standard
deviation 1.25-1.4 vs 1.6-1.7 above 3 kHz). The vocoder renders that faithfully, as a muffled,
buzzy voice. The classic remedy of statistical parametric synthesis is a *global variance*
post-filter: scale each bin's deviation from its mean over the utterance,

    y'_b(t) = m_b + contrast * (y_b(t) - m_b),        m_b = mean_t y_b(t),

so formants, harmonics and onsets stand out again (log domain: a power law on the magnitude),
then sharpens it in time, ``y'' = y' + detail * (y' - G_1.5 * y')`` (``G_1.5``: a Gaussian over
frames, sigma 1.5 frames = 17 ms), which restores the onsets and transitions the model blurs.
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

__all__ = ["sharpen_contrast", "VOCODER_LEVEL", "vocoder_level", "DETAIL", "DETAIL_SIGMA"]

#: Loudest-frame level (log of the frame's summed mel magnitudes) of speech at the universal
#: HiFi-GAN's training level, in the default :class:`MelSpec` (measured: module docstring).
VOCODER_LEVEL = 2.89
#: Temporal sharpening the pipeline applies with its contrast (decisions.md #36), and its Gaussian's
#: sigma in frames.
DETAIL, DETAIL_SIGMA = 1.0, 1.5


def vocoder_level(spec: MelSpec) -> float | None:
    """:data:`VOCODER_LEVEL` for the default 22.05 kHz analysis, None (keep the TTS's level) for
    any other, where it was not measured."""
    return VOCODER_LEVEL if spec == MelSpec() else None


def sharpen_contrast(mel: torch.Tensor, contrast: float, level: float | None = None,
                     detail: float = 0.0) -> torch.Tensor:
    """(B, n_mels, T) natural-log mel -> the same with each bin's deviations from its mean over
    time scaled by ``contrast``, sharpened in time by ``detail`` and one gain per item that puts
    its loudest frame at ``level`` (None: at the level it had). ``contrast`` 1, ``detail`` 0 and
    ``level`` None: ``mel`` itself. Each item of the batch is treated as one utterance (no
    padding frames expected)."""
    if (contrast == 1.0 and detail == 0.0 and level is None) or mel.shape[-1] == 0:
        return mel
    mean = mel.mean(dim=-1, keepdim=True)
    out = mean + contrast * (mel - mean)
    if detail:
        out = out + detail * (out - _smooth_in_time(out, DETAIL_SIGMA))
    if level is None:
        target = _loudest_frame(mel)
    else:
        target = torch.full(mel.shape[:1], float(level), dtype=mel.dtype, device=mel.device)
    gain = _loudest_frame(out) - target  # (B,)
    return out - gain[:, None, None]


def _smooth_in_time(mel: torch.Tensor, sigma: float) -> torch.Tensor:
    """(B, C, T) -> each channel convolved over time with a Gaussian of ``sigma`` frames
    (radius 4 sigma; edges mirrored, repeated when the item is shorter than the radius)."""
    radius = int(4.0 * sigma + 0.5)
    taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(mel)
    b, c, t = mel.shape
    flat = mel.reshape(b * c, 1, t)
    padded = torch.nn.functional.pad(flat, (radius, radius), mode="reflect" if t > radius else "replicate")
    return torch.nn.functional.conv1d(padded, kernel.view(1, 1, -1)).reshape(b, c, t)


def _loudest_frame(mel: torch.Tensor) -> torch.Tensor:
    """(B,) log of the largest per-frame energy (sum of the mel magnitudes) of each item."""
    return torch.logsumexp(mel, dim=1).amax(dim=-1)
