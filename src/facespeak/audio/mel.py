"""Log-mel features identical to the ones the universal HiFi-GAN V1 was trained on.

Shape convention (used everywhere in facespeak): spectrograms are ``(B, n_mels, T_mel)``,
channels first, so they feed ``Conv1d`` directly; ``T_mel = T_wav // hop_length``.

The recipe is the original HiFi-GAN ``mel_spectrogram`` (Kong et al. 2020, meldataset.py):
reflect-pad ``(n_fft - hop) / 2`` samples on both sides, STFT with ``center=False`` and a Hann
window of ``win_length``, magnitude ``sqrt(re^2 + im^2 + 1e-9)``, a Slaney mel filterbank
(librosa ``filters.mel`` defaults: ``htk=False, norm='slaney'``), then ``log(clamp(x, 1e-5))``.
The filterbank is computed here in numpy so librosa (slow to import) is not a runtime need.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from facespeak.core.errors import AudioError
from facespeak.core.timing import MelSpec

__all__ = ["MelExtractor", "slaney_mel_filterbank", "slaney_band_edges_hz", "hz_to_mel_slaney", "mel_to_hz_slaney"]

# Slaney's Auditory Toolbox mel scale: linear (200/3 Hz per mel) below 1 kHz, logarithmic above
# with 27 mels per factor 6.4 in frequency.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel_slaney(hz: np.ndarray | float) -> np.ndarray:
    """Frequency in Hz -> Slaney mel (float64 array)."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _F_SP
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, linear)


def mel_to_hz_slaney(mel: np.ndarray | float) -> np.ndarray:
    """Slaney mel -> frequency in Hz (float64 array)."""
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * _F_SP
    log_part = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, linear)


def slaney_band_edges_hz(n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """The ``n_mels + 2`` triangle corners (Hz) of a Slaney filterbank, equally spaced in mel;
    band ``k`` rises from corner ``k``, peaks at corner ``k + 1`` (its centre) and falls to ``k + 2``."""
    return mel_to_hz_slaney(np.linspace(hz_to_mel_slaney(fmin), hz_to_mel_slaney(fmax), n_mels + 2))


def slaney_mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular mel filterbank, area-normalised (Slaney), as float32 ``(n_mels, n_fft//2 + 1)``.

    Triangles have corners at ``n_mels + 2`` points equally spaced on the Slaney mel scale
    between ``fmin`` and ``fmax`` (Hz, default Nyquist); each row is scaled by
    ``2 / (upper_hz - lower_hz)`` so filters have equal area. Equals ``librosa.filters.mel``
    with its defaults.
    """
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    fft_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    corners_hz = slaney_band_edges_hz(n_mels, fmin, fmax)
    widths = np.diff(corners_hz)  # (n_mels + 1,)
    offsets = corners_hz[:, None] - fft_hz[None, :]  # (n_mels + 2, n_freq)
    rising = -offsets[:-2] / widths[:-1, None]
    falling = offsets[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (corners_hz[2:] - corners_hz[:-2]))[:, None]
    return weights.astype(np.float32)


class MelExtractor(nn.Module):
    """Waveform -> HiFi-GAN log-mel spectrogram.

    ``forward(wav)``: ``wav`` is ``(B, T_wav)`` or ``(T_wav,)`` float audio in ``[-1, 1]`` at
    ``spec.sample_rate``; returns natural-log mel magnitudes ``(B, n_mels, T_mel)`` (a 1-D input
    gives ``B = 1``) with ``T_mel = T_wav // spec.hop_length``. Differentiable (used as a loss).
    """

    def __init__(self, spec: MelSpec | None = None) -> None:
        super().__init__()
        self.spec = spec or MelSpec()
        if self.spec.win_length > self.spec.n_fft or self.spec.hop_length > self.spec.n_fft:
            raise AudioError(
                f"expected win_length and hop_length <= n_fft, got {self.spec}"
            )
        basis = slaney_mel_filterbank(
            self.spec.sample_rate, self.spec.n_fft, self.spec.n_mels, self.spec.fmin, self.spec.fmax
        )
        self.register_buffer("mel_basis", torch.from_numpy(basis), persistent=False)
        self.register_buffer(
            "window", torch.hann_window(self.spec.win_length), persistent=False
        )

    @property
    def padding(self) -> tuple[int, int]:
        """Reflect padding ``(left, right)`` in samples; sums to ``n_fft - hop_length``."""
        total = self.spec.n_fft - self.spec.hop_length
        return total // 2, total - total // 2

    def num_frames(self, num_samples: int) -> int:
        """``T_mel`` for a waveform of ``num_samples`` samples."""
        return num_samples // self.spec.hop_length

    def magnitude(self, wav: torch.Tensor) -> torch.Tensor:
        """Linear STFT magnitude ``(B, n_fft//2 + 1, T_mel)`` of ``(B, T_wav)`` audio."""
        left, right = self.padding
        if wav.shape[-1] <= max(left, right, self.spec.hop_length - 1):
            raise AudioError(
                f"expected at least {max(left, right, self.spec.hop_length - 1) + 1} samples "
                f"for a mel frame, got {wav.shape[-1]}"
            )
        padded = nn.functional.pad(wav.unsqueeze(1), (left, right), mode="reflect").squeeze(1)
        stft = torch.stft(
            padded,
            n_fft=self.spec.n_fft,
            hop_length=self.spec.hop_length,
            win_length=self.spec.win_length,
            window=self.window.to(padded.dtype),
            center=False,
            return_complex=True,
        )
        power = torch.view_as_real(stft).pow(2).sum(-1)
        return torch.sqrt(power + 1e-9)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.dim() == 1:
            wav = wav.unsqueeze(0)
        if wav.dim() != 2:
            raise AudioError(f"expected audio of shape (B, T_wav) or (T_wav,), got {tuple(wav.shape)}")
        wav = wav.float() if not torch.is_floating_point(wav) else wav
        mel = torch.matmul(self.mel_basis.to(wav.dtype), self.magnitude(wav))
        return torch.log(torch.clamp(mel, min=self.spec.log_floor))
