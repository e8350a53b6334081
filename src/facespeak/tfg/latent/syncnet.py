"""SyncNet-style lip-sync expert (Chung & Zisserman 2016; Wav2Lip's expert, Prajwal et al. 2020).

Two encoders map a window of ``T_sync`` mouth crops and the log-mel window covering the same
time to unit embeddings; in-sync pairs should have cosine ~1, shifted pairs ~-1. Frozen, it
scores generated frames (:func:`facespeak.tfg.latent.losses.sync_loss`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SyncNetConfig", "SyncNet", "mouth_region"]


@dataclass
class SyncNetConfig:
    """frames: ``T_sync`` video frames per window; mouth_size: mouth crop side px; n_mels;
    mel_frames: mel frames per window (= frames x mel rate / fps, set from the data's rates by
    the training task); channels: encoder widths; dim: ``D_sync``."""

    frames: int = 5
    mouth_size: int = 32
    n_mels: int = 80
    mel_frames: int = 20
    channels: tuple[int, ...] = (32, 64, 128, 256)
    dim: int = 256

    @classmethod
    def tiny(cls) -> "SyncNetConfig":
        return cls(mouth_size=16, n_mels=16, mel_frames=8, channels=(8, 16), dim=16)


def mouth_region(frames: torch.Tensor, size: int) -> torch.Tensor:
    """Lower half (mouth) of aligned face crops ``(..., 3, H, W)`` resized to ``(..., 3, size, size)``.

    With :func:`facespeak.face.align.align_face`'s template the mouth centre is at 0.68 H."""
    h = frames.shape[-2]
    lower = frames[..., h // 2:, :]
    lead = lower.shape[:-3]
    flat = lower.reshape(-1, *lower.shape[-3:])
    out = F.interpolate(flat, size=(size, size), mode="bilinear", align_corners=False)
    return out.reshape(*lead, 3, size, size)


def _encoder(c_in: int, channels: tuple[int, ...], dim: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        c_in = c
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, dim))


class SyncNet(nn.Module):
    """``mouths (B, T_sync, 3, S, S)`` in [-1, 1] and ``mel (B, n_mels, T_mel_win)`` ->
    unit embeddings ``(B, D_sync)`` each."""

    def __init__(self, cfg: SyncNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.video = _encoder(3 * cfg.frames, cfg.channels, cfg.dim)
        self.audio = _encoder(1, cfg.channels, cfg.dim)

    def embed_video(self, mouths: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.video(mouths.flatten(1, 2)), dim=1)

    def embed_audio(self, mel: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.audio(mel[:, None]), dim=1)

    def forward(self, mouths: torch.Tensor, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.embed_audio(mel), self.embed_video(mouths)

    def sync_probability(self, mouths: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        """``(B,)`` in [0, 1]: (cosine + 1) / 2."""
        a, v = self(mouths, mel)
        return (F.cosine_similarity(a, v, dim=1) + 1.0) / 2.0
