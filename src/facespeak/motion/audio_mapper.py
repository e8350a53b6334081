"""Audio mapper (TTSF paper Fig. 3): TTS intermediates -> lip motion at the video rate.

Inputs are the TTS's own intermediates, not audio: the text embedding ``e_t`` upsampled by the
symbol durations to the mel rate, the duration-upsampled text feature ``f~_t`` (Matcha's
``mu_y``) and the energy ``||f~_t||_2`` per mel frame. They are pooled to the video rate
(mean over the mel frames whose centres fall in each video frame; the ratio comes from
:class:`facespeak.core.timing.AudioTiming`) and mapped by HiFi-GAN-style multi-receptive-field
(MRF) residual conv blocks (Kong et al. 2020, §2.1: kernels 3/7/11, dilations 1/3/5) to the
four lip amounts of the mesh motion space (:data:`facespeak.motion.lip_rules.LIP_NAMES`).

Pooling (not point sampling) keeps a bilabial closure that is shorter than one video frame
visible in the input of the frame that contains it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..core.errors import ConfigError, InputError
from ..core.timing import AudioTiming

__all__ = ["AudioMapperConfig", "AudioMapper", "upsample_text", "video_rate_features", "pool_to_video",
           "mapper_inputs", "concat_speech_features", "MAPPER_OUTPUTS"]

#: output activations: ``sigmoid`` = amounts in [0, 1] (the mesh space's 4 lip amounts);
#: ``linear`` = unbounded codes (the latent space's ``f_lip``, D_style per frame)
MAPPER_OUTPUTS = ("sigmoid", "linear")


@dataclass
class AudioMapperConfig:
    """d_text: channels C of ``e_t``; n_mels: channels of ``mu_y``; D_in = d_text + n_mels + 1.

    n_out / output: what the mapper drives (a motion space's ``lip_dim``): 4 lip amounts with a
    sigmoid for the mesh space, ``D_style`` linear ``f_lip`` codes for the latent space."""

    d_text: int = 192
    n_mels: int = 80
    hidden: int = 64
    n_mrf: int = 2  # stacked MRF layers
    kernels: tuple[int, ...] = (3, 7, 11)
    dilations: tuple[int, ...] = (1, 3, 5)
    n_out: int = 4
    dropout: float = 0.1
    lrelu_slope: float = 0.1
    output: str = "sigmoid"

    def __post_init__(self) -> None:
        if self.output not in MAPPER_OUTPUTS:
            raise ConfigError(f"audio mapper output: expected one of {MAPPER_OUTPUTS}, got {self.output!r}")

    @property
    def d_in(self) -> int:
        return self.d_text + self.n_mels + 1

    @classmethod
    def tiny(cls) -> "AudioMapperConfig":
        return cls(d_text=8, n_mels=6, hidden=16, n_mrf=1)

    @classmethod
    def default(cls) -> "AudioMapperConfig":
        return cls()

    @classmethod
    def paper(cls) -> "AudioMapperConfig":
        return cls(hidden=256, n_mrf=3)


# --- inputs -----------------------------------------------------------------------------------

def upsample_text(e_t: np.ndarray, durations: Sequence[float], t_mel: int | None = None) -> np.ndarray:
    """``e_t`` (C, T_text) repeated by ``durations`` (T_text,) mel frames -> (C, T_mel).

    Fractional durations are rounded on the cumulative sum (the total is kept). ``t_mel``
    pads (edge value) or crops to that many frames."""
    dur = np.asarray(durations, np.float64)
    if e_t.ndim != 2 or dur.shape != (e_t.shape[1],) or (dur < 0).any():
        raise InputError(f"audio mapper: expected e_t (C, T_text) and T_text non-negative durations, "
                         f"got e_t {e_t.shape} and durations {dur.shape}")
    bounds = np.concatenate([[0], np.round(np.cumsum(dur))]).astype(int)
    idx = np.repeat(np.arange(len(dur)), np.diff(bounds))
    up = e_t[:, idx] if len(idx) else np.zeros((e_t.shape[0], 0), e_t.dtype)
    if t_mel is not None:
        up = _fit_length(up, t_mel)
    return up


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """(D, T) -> (D, n) by cropping or repeating the last column (zeros if empty)."""
    if x.shape[1] >= n:
        return x[:, :n]
    edge = x[:, -1:] if x.shape[1] else np.zeros((x.shape[0], 1), x.dtype)
    return np.concatenate([x, np.repeat(edge, n - x.shape[1], axis=1)], axis=1)


def video_rate_features(e_up: np.ndarray, mu_y: np.ndarray, timing: AudioTiming, n_frames: int) -> np.ndarray:
    """Mel-rate ``e_up`` (C, T_mel) and ``mu_y`` (n_mels, T_mel) -> (T_video, C + n_mels + 1).

    Columns: pooled ``e_t``, pooled ``f~_t``, pooled energy ``||f~_t||_2``. Video frame k
    averages the mel frames whose centres lie in ``[k, k + 1) * mel_frames_per_video_frame``;
    frames past the speech repeat the last mel frame (silence at the end of a chunk)."""
    if e_up.shape[1] != mu_y.shape[1]:
        raise InputError(f"audio mapper: e_t upsampled to {e_up.shape[1]} mel frames but mu_y has {mu_y.shape[1]}")
    per_video = timing.mel_frames_per_video_frame
    t_mel = max(mu_y.shape[1], int(np.ceil(n_frames * per_video)))
    e_up, mu_y = _fit_length(e_up, t_mel), _fit_length(mu_y, t_mel)
    energy = np.linalg.norm(mu_y, axis=0, keepdims=True)
    mel_feats = np.concatenate([e_up, mu_y, energy], axis=0).astype(np.float64)  # (D_in, T_mel)
    k = np.minimum(((np.arange(t_mel) + 0.5) / per_video).astype(int), n_frames - 1)
    sums = np.zeros((n_frames, mel_feats.shape[0]))
    np.add.at(sums, k, mel_feats.T)
    counts = np.bincount(k, minlength=n_frames)[:, None]
    return (sums / np.maximum(counts, 1)).astype(np.float32)


def pool_to_video(e_t: torch.Tensor, mu_y: torch.Tensor, n_frames: int, mel_per_video: float) -> torch.Tensor:
    """Batched, differentiable :func:`video_rate_features` (training on TTS intermediates that
    stay attached to the TTS): ``e_t (B, T_mel, C)`` (already upsampled to the mel rate) and
    ``mu_y (B, T_mel, n_mels)`` -> ``(B, n_frames, C + n_mels + 1)``, pooled exactly as the
    inference path pools (same frame assignment, same edge padding)."""
    if e_t.dim() != 3 or e_t.shape[:2] != mu_y.shape[:2]:
        raise InputError(f"audio mapper: expected e_t (B, T_mel, C) and mu_y (B, T_mel, n_mels), "
                         f"got {tuple(e_t.shape)} and {tuple(mu_y.shape)}")
    x = torch.cat([e_t, mu_y, mu_y.norm(dim=-1, keepdim=True)], dim=-1)
    t_mel = max(x.shape[1], int(np.ceil(n_frames * mel_per_video)))
    if t_mel > x.shape[1]:  # repeat the last mel frame, as _fit_length does
        x = torch.cat([x, x[:, -1:].expand(-1, t_mel - x.shape[1], -1)], dim=1)
    k = np.minimum(((np.arange(t_mel) + 0.5) / mel_per_video).astype(int), n_frames - 1)
    assign = torch.zeros(t_mel, n_frames, dtype=x.dtype, device=x.device)
    assign[torch.arange(t_mel), torch.from_numpy(k)] = 1.0
    return torch.einsum("btd,tk->bkd", x, assign) / assign.sum(0).clamp_min(1.0)[None, :, None]


def mapper_inputs(e_t: np.ndarray, mu_y: np.ndarray, durations: Sequence[float], timing: AudioTiming,
                  n_frames: int | None = None) -> np.ndarray:
    """One utterance: ``e_t`` (C, T_text), ``mu_y`` (n_mels, T_mel), ``durations`` (T_text,) mel
    frames -> features (T_video, C + n_mels + 1); ``n_frames`` defaults to the speech length."""
    t_mel = mu_y.shape[1]
    if n_frames is None:
        n_frames = max(1, int(round(t_mel / timing.mel_frames_per_video_frame)))
    return video_rate_features(upsample_text(e_t, durations, t_mel), mu_y, timing, n_frames)


def concat_speech_features(parts: Sequence[tuple[np.ndarray, np.ndarray, Sequence[float]]], pause_frames: float,
                           timing: AudioTiming, n_frames: int) -> np.ndarray:
    """Several chunks ``(e_t, mu_y, durations)`` joined by ``pause_frames`` mel frames of silence
    (the edge frame of the preceding chunk, which ends in silence) -> (T_video, D_in)."""
    e_cols, m_cols = [], []
    pause = int(round(pause_frames))
    for k, (e_t, mu_y, dur) in enumerate(parts):
        e_up = upsample_text(e_t, dur, mu_y.shape[1])
        if k and pause > 0:
            e_cols.append(np.repeat(e_cols[-1][:, -1:], pause, axis=1))
            m_cols.append(np.repeat(m_cols[-1][:, -1:], pause, axis=1))
        e_cols.append(e_up)
        m_cols.append(mu_y)
    if not e_cols:
        raise InputError("audio mapper: expected at least one speech chunk, got none")
    return video_rate_features(np.concatenate(e_cols, 1), np.concatenate(m_cols, 1), timing, n_frames)


# --- network ----------------------------------------------------------------------------------

class _ResBlock(nn.Module):
    """HiFi-GAN ResBlock1: per dilation, lrelu -> dilated conv -> lrelu -> conv, residual."""

    def __init__(self, ch: int, kernel: int, dilations: Sequence[int], slope: float) -> None:
        super().__init__()
        self.slope = slope
        self.convs1 = nn.ModuleList(nn.Conv1d(ch, ch, kernel, dilation=d, padding=d * (kernel - 1) // 2) for d in dilations)
        self.convs2 = nn.ModuleList(nn.Conv1d(ch, ch, kernel, padding=(kernel - 1) // 2) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, self.slope)), self.slope))
        return x


class _MRF(nn.Module):
    """Multi-receptive-field fusion: the mean of ResBlocks with different kernels."""

    def __init__(self, ch: int, kernels: Sequence[int], dilations: Sequence[int], slope: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(_ResBlock(ch, k, dilations, slope) for k in kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([b(x) for b in self.blocks]).mean(0)


class AudioMapper(nn.Module):
    """Features (B, T_video, D_in) -> (B, T_video, n_out): lip amounts in [0, 1] (``output``
    sigmoid, the mesh space) or ``f_lip`` codes (``output`` linear, the latent space).

    ``in_mean`` / ``in_std`` (D_in,) buffers standardise the inputs (set from training data
    statistics before training; saved with the weights)."""

    def __init__(self, cfg: AudioMapperConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("in_mean", torch.zeros(cfg.d_in))
        self.register_buffer("in_std", torch.ones(cfg.d_in))
        self.proj = nn.Conv1d(cfg.d_in, cfg.hidden, 1)
        self.drop = nn.Dropout(cfg.dropout)
        self.mrfs = nn.ModuleList(_MRF(cfg.hidden, cfg.kernels, cfg.dilations, cfg.lrelu_slope) for _ in range(cfg.n_mrf))
        self.out = nn.Conv1d(cfg.hidden, cfg.n_out, 1)

    def set_input_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.in_mean.copy_(mean)
        self.in_std.copy_(std.clamp_min(1e-4))

    def logits(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, T_video, D_in) -> pre-sigmoid (B, T_video, n_out)."""
        if feats.dim() != 3 or feats.shape[-1] != self.cfg.d_in:
            raise InputError(f"audio mapper: expected features (B, T_video, {self.cfg.d_in}), got {tuple(feats.shape)}")
        x = ((feats - self.in_mean) / self.in_std).transpose(1, 2)
        x = self.drop(self.proj(x))
        for mrf in self.mrfs:
            x = mrf(x)
        return self.out(F.leaky_relu(x, self.cfg.lrelu_slope)).transpose(1, 2)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        out = self.logits(feats)
        return torch.sigmoid(out) if self.cfg.output == "sigmoid" else out

