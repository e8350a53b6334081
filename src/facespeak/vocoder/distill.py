"""Distilling a small HiFi-GAN student from a teacher vocoder (no discriminator, first version).

Loss per step (all on ``(B, T_wav)`` audio; cf. HiFi-GAN's mel loss and Parallel WaveGAN's
multi-resolution STFT loss, Yamamoto et al. 2020, eq. 4-6):

    L = mel_weight * |logmel(student(mel)) - target_mel|_1
        + stft_weight * mean_r [ SC_r(student, teacher) + |log|S_r(student)| - log|S_r(teacher)||_1 ]

``target_mel`` is the input mel (the feature the vocoder must invert); ``teacher`` is the
teacher's waveform for the same mel, which carries phase/fine structure a mel cannot.
A GAN stage can be added later on top of this step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from facespeak.audio.mel import MelExtractor
from facespeak.core.timing import MelSpec

from .hifigan import HifiGanGenerator

__all__ = [
    "DistillConfig",
    "MultiResolutionStftLoss",
    "CompressedComplexStftLoss",
    "distillation_loss",
    "teacher_waveform",
    "random_segments",
    "Distiller",
]


@dataclass
class DistillConfig:
    """Optimiser and loss settings. ``stft_resolutions`` are ``(n_fft, hop, win)`` triples."""

    learning_rate: float = 2e-4
    betas: tuple[float, float] = (0.8, 0.99)
    mel_weight: float = 45.0
    stft_weight: float = 2.5
    grad_clip: float = 100.0
    segment_frames: int = 32
    stft_resolutions: list[tuple[int, int, int]] = field(
        default_factory=lambda: [(512, 128, 512), (1024, 256, 1024), (2048, 512, 2048)]
    )

    @classmethod
    def tiny(cls) -> "DistillConfig":
        """For tests: a higher learning rate and two small STFT resolutions."""
        return cls(learning_rate=2e-3, segment_frames=16,
                   stft_resolutions=[(256, 64, 256), (512, 128, 512)])


class MultiResolutionStftLoss(nn.Module):
    """Mean over resolutions of spectral convergence + L1 log-magnitude distance.

    ``forward(pred, target)``: both ``(B, T_wav)``; returns a scalar.
    """

    def __init__(self, resolutions: list[tuple[int, int, int]]) -> None:
        super().__init__()
        self.resolutions = [tuple(r) for r in resolutions]
        for i, (_, _, win) in enumerate(self.resolutions):
            self.register_buffer(f"window{i}", torch.hann_window(win), persistent=False)

    def _magnitude(self, wav: torch.Tensor, i: int) -> torch.Tensor:
        n_fft, hop, win = self.resolutions[i]
        spec = torch.stft(wav, n_fft, hop, win, getattr(self, f"window{i}"), return_complex=True)
        return torch.sqrt(torch.view_as_real(spec).pow(2).sum(-1).clamp(min=1e-7))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = pred.new_zeros(())
        for i in range(len(self.resolutions)):
            p, t = self._magnitude(pred, i), self._magnitude(target, i)
            convergence = torch.linalg.norm(t - p) / torch.linalg.norm(t).clamp(min=1e-7)
            log_distance = (torch.log(t) - torch.log(p)).abs().mean()
            total = total + convergence + log_distance
        return total / len(self.resolutions)


class CompressedComplexStftLoss(nn.Module):
    """Phase-aware distance to a waveform whose phase is a function of the input (a teacher
    vocoder's output), mean over resolutions of

        mean |S_p|^c e^{i angle S_p} - |S_t|^c e^{i angle S_t}|^2 + mean (|S_p|^c - |S_t|^c)^2

    with power-law compression ``c`` (0.3, as in speech enhancement's compressed complex MSE):
    loud bins do not drown quiet ones, and the complex term penalises phase in proportion to
    the (compressed) magnitude, so silent bins with meaningless phase cost nothing.
    ``forward(pred, target)``: both ``(B, T_wav)``; returns a scalar.
    """

    def __init__(self, resolutions: list[tuple[int, int, int]], power: float = 0.3) -> None:
        super().__init__()
        self.resolutions, self.power = [tuple(r) for r in resolutions], power
        for i, (_, _, win) in enumerate(self.resolutions):
            self.register_buffer(f"window{i}", torch.hann_window(win), persistent=False)

    def _compressed(self, wav: torch.Tensor, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        n_fft, hop, win = self.resolutions[i]
        ri = torch.view_as_real(torch.stft(wav, n_fft, hop, win, getattr(self, f"window{i}"), return_complex=True))
        mag = ri.pow(2).sum(-1, keepdim=True).clamp(min=1e-8).sqrt()
        compressed = mag.pow(self.power)
        return compressed * ri / mag, compressed

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = pred.new_zeros(())
        for i in range(len(self.resolutions)):
            (cp, mp), (ct, mt) = self._compressed(pred, i), self._compressed(target, i)
            total = total + (cp - ct).pow(2).sum(-1).mean() + (mp - mt).pow(2).mean()
        return total / len(self.resolutions)


def distillation_loss(
    student_wav: torch.Tensor,
    teacher_wav: torch.Tensor,
    target_mel: torch.Tensor,
    extractor: MelExtractor,
    stft_loss: MultiResolutionStftLoss,
    cfg: DistillConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts; wavs ``(B, T_wav)``, ``target_mel`` ``(B, n_mels, T_mel)``."""
    mel_l1 = (extractor(student_wav) - target_mel).abs().mean()
    stft = stft_loss(student_wav, teacher_wav)
    total = cfg.mel_weight * mel_l1 + cfg.stft_weight * stft
    parts = {"loss": total.item(), "mel_l1": mel_l1.item(), "stft": stft.item()}
    return total, parts


@torch.inference_mode()
def teacher_waveform(teacher: nn.Module, mel: torch.Tensor) -> torch.Tensor:
    """Teacher audio ``(B, T_mel * hop)`` for ``mel`` ``(B, n_mels, T_mel)``, without gradients."""
    return teacher(mel).clone()


def random_segments(
    mel: torch.Tensor, wav: torch.Tensor, frames: int, hop_length: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Aligned random crops: ``(B, n_mels, frames)`` and ``(B, frames * hop)`` (one offset per item).

    Inputs shorter than ``frames`` are used whole.
    """
    if mel.shape[-1] <= frames:
        return mel, wav[..., : mel.shape[-1] * hop_length]
    starts = torch.randint(0, mel.shape[-1] - frames + 1, (mel.shape[0],), generator=generator)
    mels = torch.stack([m[:, s : s + frames] for m, s in zip(mel, starts.tolist())])
    wavs = torch.stack(
        [w[s * hop_length : (s + frames) * hop_length] for w, s in zip(wav, starts.tolist())]
    )
    return mels, wavs


class Distiller:
    """Owns the student's optimiser and the losses; ``step`` runs one update.

    ``teacher`` may be any mel -> wav module with the same mel spec (usually
    :func:`facespeak.vocoder.bundled.load_universal_hifigan`).
    """

    def __init__(
        self,
        teacher: nn.Module,
        student: HifiGanGenerator,
        spec: MelSpec | None = None,
        cfg: DistillConfig | None = None,
    ) -> None:
        self.teacher, self.student = teacher, student
        self.cfg = cfg or DistillConfig()
        self.spec = spec or MelSpec()
        assert student.hop_length == self.spec.hop_length, "student hop must equal the mel hop"
        device = next(student.parameters()).device
        self.extractor = MelExtractor(self.spec).to(device)
        self.stft_loss = MultiResolutionStftLoss(self.cfg.stft_resolutions).to(device)
        self.optimizer = torch.optim.AdamW(
            student.parameters(), lr=self.cfg.learning_rate, betas=self.cfg.betas
        )

    def step(self, mel: torch.Tensor, teacher_wav: torch.Tensor | None = None) -> dict[str, float]:
        """One optimiser step on ``mel`` ``(B, n_mels, T_mel)`` (crop it beforehand if long).

        ``teacher_wav`` ``(B, T_mel * hop)`` may be precomputed (it is fixed for a given mel).
        Returns the loss parts as floats plus the gradient norm.
        """
        if teacher_wav is None:
            teacher_wav = teacher_waveform(self.teacher, mel)
        self.student.train()
        student_wav = self.student(mel)
        loss, parts = distillation_loss(
            student_wav, teacher_wav, mel, self.extractor, self.stft_loss, self.cfg
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.student.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        return parts | {"grad_norm": float(grad_norm)}
