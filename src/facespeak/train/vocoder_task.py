"""Vocoder training task: the frame-rate iSTFT vocoder on random segments of corpus speech.

Each step crops one random ``segment_frames``-frame window from every utterance of the batch
(offsets drawn from the loop's generator, so runs are reproducible and resume exactly), applies a
random gain, computes its log-mel with :class:`facespeak.audio.mel.MelExtractor` and asks the
model to invert it. Loss (HiFi-GAN's mel term + Parallel WaveGAN's multi-resolution STFT term,
Yamamoto et al. 2020, eq. 4-6), against the ground-truth segment:

    L = mel_weight * |logmel(model(mel)) - mel|_1 + stft_weight * MR-STFT(model(mel), wav)

With ``adversarial.enabled`` the model is an :class:`AdversarialVocoder` (generator +
multi-period and multi-resolution discriminators, :mod:`facespeak.vocoder.discriminators`) and the
loss adds HiFi-GAN's least-squares GAN and feature-matching terms:

    L = L_recon + adv_weight * L_adv(G) + fm_weight * L_FM + L_D

One backward, one optimiser: the generator's adversarial term is computed while the
discriminators' parameters do not require grad, and ``L_D`` sees the generated audio detached,
so each player's gradient comes only from its own loss (simultaneous updates; the training loop
stays the single loop every component uses). Only the generator is exported.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from ..audio.io import load_audio
from ..audio.mel import MelExtractor
from ..core.checkpoint import load_checkpoint
from ..core.config import from_dict, to_dict
from ..core.errors import ConfigError
from ..core.timing import MelSpec
from ..data.vocoder_teacher import load_teacher_item, read_teacher_index
from .loop import TrainConfig
from ..vocoder.bundled import HIFIGAN_ARCH, ISTFT_ARCH, load_universal_hifigan
from ..vocoder.discriminators import (
    DiscriminatorConfig,
    WaveDiscriminators,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from ..vocoder.distill import CompressedComplexStftLoss, MultiResolutionStftLoss
from ..vocoder.hifigan import HifiGanConfig, HifiGanGenerator
from ..vocoder.istft_vocoder import IstftVocoder, IstftVocoderConfig, polar_spectrum
from ..vocoder.prune import prune_hifigan

__all__ = ["VocoderDataConfig", "VocoderLossConfig", "AdversarialConfig", "VocoderTrainConfig",
           "SpeechWavDataset", "TeacherSetDataset", "AdversarialVocoder", "VocoderTask", "collate_wavs",
           "collate_teacher_pairs", "random_crops"]

log = logging.getLogger(__name__)


@dataclass
class VocoderDataConfig:
    manifest: str = "corpus/speech/manifest.jsonl"  # rows with ``wav`` (relative) and ``split``
    split: str = "train"
    segment_frames: int = 64  # mel frames per training segment (64 x 256 / 22050 = 0.74 s)
    gain_db: tuple[float, float] = (-10.0, 4.0)  # uniform random gain range (peak kept <= 0.99)
    # The corpus is clean synthetic speech; real input has a noise floor. With probability
    # ``noise_prob`` white noise at an SNR drawn from ``noise_snr_db`` is added (to the target too:
    # the vocoder must reproduce what the mel describes).
    noise_prob: float = 0.0
    noise_snr_db: tuple[float, float] = (5.0, 45.0)
    max_items: int = 0  # 0 = all rows of the split
    # A vocoder teacher set (facespeak.data.vocoder_teacher): when set, items are (mel, universal
    # HiFi-GAN waveform) pairs instead of manifest recordings, and the target is the teacher's
    # waveform, whose phase is a function of the mel (noise augmentation does not apply).
    teacher_set: str = ""

    @classmethod
    def tiny(cls) -> "VocoderDataConfig":
        return cls(segment_frames=16, max_items=8)


@dataclass
class VocoderLossConfig:
    mel_weight: float = 45.0
    stft_weight: float = 2.5
    stft_resolutions: list[tuple[int, int, int]] = field(
        default_factory=lambda: [(512, 128, 512), (1024, 256, 1024), (2048, 512, 2048)]
    )
    # compressed complex STFT distance to the target (vocoder.distill.CompressedComplexStftLoss);
    # meaningful only against a teacher waveform (data.teacher_set), 0 = off
    complex_weight: float = 0.0
    complex_resolutions: list[tuple[int, int, int]] = field(
        default_factory=lambda: [(256, 64, 256), (512, 128, 512), (1024, 256, 1024)]
    )
    complex_power: float = 0.3
    # direct supervision of the head's magnitude half (L1 of log-magnitudes + spectral convergence
    # against the target's STFT in the synthesis framing): the magnitude a phase-reconstruction
    # vocoder (model.phase_iterations > 0) inverts, 0 = off
    magnitude_weight: float = 0.0
    # samples at each end of a cropped segment left out of the complex term: the teacher saw
    # context beyond the crop, the student did not
    complex_edge: int = 512

    @classmethod
    def tiny(cls) -> "VocoderLossConfig":
        return cls(stft_resolutions=[(256, 64, 256), (512, 128, 512)],
                   complex_resolutions=[(256, 64, 256)], complex_edge=64)


@dataclass
class AdversarialConfig:
    """GAN stage (the discriminators always start fresh; warm-start the generator with the
    top-level ``init_from``)."""

    enabled: bool = False
    adv_weight: float = 1.0
    fm_weight: float = 2.0
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    @classmethod
    def tiny(cls) -> "AdversarialConfig":
        return cls(discriminator=DiscriminatorConfig.tiny())


@dataclass
class VocoderTrainConfig:
    # "istft": the frame-rate IstftVocoder (``model``); "hifigan": a HiFi-GAN generator
    # (``hifigan``), e.g. a student cut out of the universal one (``init_from: universal``)
    architecture: str = "istft"
    model: IstftVocoderConfig = field(default_factory=IstftVocoderConfig.fast)
    hifigan: HifiGanConfig = field(default_factory=HifiGanConfig.v1)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: VocoderDataConfig = field(default_factory=VocoderDataConfig)
    loss: VocoderLossConfig = field(default_factory=VocoderLossConfig)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)
    # an exported vocoder (same architecture and config) whose weights start the generator; with
    # architecture "hifigan", "universal" cuts the start out of the universal HiFi-GAN
    # (facespeak.vocoder.prune)
    init_from: str = ""

    @classmethod
    def tiny(cls) -> "VocoderTrainConfig":
        return cls(model=IstftVocoderConfig.tiny(), train=TrainConfig.tiny(),
                   data=VocoderDataConfig.tiny(), loss=VocoderLossConfig.tiny(),
                   adversarial=AdversarialConfig.tiny())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VocoderTrainConfig":
        return from_dict(cls, d)


class TeacherSetDataset(Dataset):
    """Items of a vocoder teacher set: ``(mel (n_mels, T_mel), teacher (T_mel * hop,))`` tensors."""

    def __init__(self, root: str | Path, max_items: int = 0) -> None:
        self.root = Path(root)
        self.rows = sorted(read_teacher_index(self.root), key=lambda r: r["id"])
        if max_items:
            self.rows = self.rows[:max_items]
        if not self.rows:
            raise ConfigError(f"data.teacher_set: {root} has no items")

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        mel, teacher = load_teacher_item(self.root, self.rows[index])
        return torch.from_numpy(mel), torch.from_numpy(teacher)


def collate_teacher_pairs(items: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Zero-padded ``mel`` ``(B, n_mels, T_mel)`` (padding: the log floor of silence), ``teacher``
    ``(B, T_mel * hop)`` and ``frames`` ``(B,)``."""
    frames = torch.tensor([m.shape[-1] for m, _ in items])
    hop = items[0][1].shape[-1] // items[0][0].shape[-1]
    mel = torch.full((len(items), items[0][0].shape[0], int(frames.max())), float(torch.log(torch.tensor(1e-5))))
    teacher = torch.zeros(len(items), int(frames.max()) * hop)
    for i, (m, t) in enumerate(items):
        mel[i, :, : m.shape[-1]] = m
        teacher[i, : t.shape[-1]] = t
    return {"mel": mel, "teacher": teacher, "frames": frames}


class SpeechWavDataset(Dataset):
    """Whole utterances of one manifest split: item ``i`` is a float32 ``(T_wav,)`` tensor."""

    def __init__(self, manifest: str | Path, split: str, sample_rate: int, max_items: int = 0) -> None:
        manifest = Path(manifest)
        if not manifest.is_file():
            raise ConfigError(f"data.manifest: expected a corpus manifest.jsonl, {manifest} does not exist")
        rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
        self.paths = [manifest.parent / r["wav"] for r in rows if r.get("split") == split]
        if max_items:
            self.paths = self.paths[:max_items]
        if not self.paths:
            raise ConfigError(f"data.split: no rows with split {split!r} in {manifest}")
        self.sample_rate = sample_rate

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(load_audio(self.paths[index], self.sample_rate))


def collate_wavs(items: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Zero-padded ``wav`` ``(B, T_wav)`` and ``lengths`` ``(B,)`` in samples."""
    lengths = torch.tensor([len(x) for x in items])
    wav = torch.zeros(len(items), int(lengths.max()))
    for row, x in zip(wav, items):
        row[: len(x)] = x
    return {"wav": wav, "lengths": lengths}


def random_crops(wav: torch.Tensor, lengths: torch.Tensor, samples: int, generator: torch.Generator) -> torch.Tensor:
    """One random ``samples``-long window per row of ``wav`` ``(B, T_wav)`` inside its valid
    ``lengths``; rows shorter than ``samples`` start at 0 (and keep their zero padding)."""
    if wav.shape[-1] < samples:
        wav = nn.functional.pad(wav, (0, samples - wav.shape[-1]))
    room = (lengths - samples).clamp(min=0) + 1
    starts = (torch.rand(len(wav), generator=generator) * room).long().tolist()
    return torch.stack([row[s : s + samples] for row, s in zip(wav, starts)])


class AdversarialVocoder(nn.Module):
    """Generator + discriminators in one module, so the one training loop (one model, one
    optimiser, DDP on the outer module) trains both.

    ``forward(mel (B, n_mels, T_mel), target (B, T_mel * hop))`` -> ``(pred (B, T_wav), real,
    fake_for_generator, fake_for_discriminator)``, the last three being discriminator outputs.
    """

    def __init__(self, generator: IstftVocoder, discriminators: WaveDiscriminators) -> None:
        super().__init__()
        self.generator, self.discriminators = generator, discriminators

    def forward(self, mel: torch.Tensor, target: torch.Tensor):
        pred = self.generator(mel)
        self.discriminators.requires_grad_(False)  # L_adv(G) must not train the discriminators
        fake_for_generator = self.discriminators(pred)
        self.discriminators.requires_grad_(True)
        real = self.discriminators(target)
        fake_for_discriminator = self.discriminators(pred.detach())  # L_D must not train G
        return pred, real, fake_for_generator, fake_for_discriminator


class VocoderTask:
    """:class:`facespeak.train.loop.Task` for :class:`IstftVocoder` (optionally adversarial)."""

    def __init__(self, cfg: VocoderTrainConfig, spec: MelSpec | None = None) -> None:
        self.cfg, self.spec = cfg, spec or MelSpec()
        if cfg.architecture not in ("istft", "hifigan"):
            raise ConfigError(f"architecture: expected 'istft' or 'hifigan', got {cfg.architecture!r}")
        self.arch = ISTFT_ARCH if cfg.architecture == "istft" else HIFIGAN_ARCH
        model = cfg.model if cfg.architecture == "istft" else cfg.hifigan
        if model.hop_length != self.spec.hop_length or model.n_mels != self.spec.n_mels:
            raise ConfigError(
                f"model: expected hop_length {self.spec.hop_length} and n_mels {self.spec.n_mels} "
                f"(the mel spec), got {model.hop_length} and {model.n_mels}"
            )
        if cfg.loss.magnitude_weight > 0 and cfg.architecture != "istft":
            raise ConfigError("loss.magnitude_weight supervises the istft head; it needs architecture 'istft'")
        self.extractor = MelExtractor(self.spec)
        self.stft_loss = MultiResolutionStftLoss(cfg.loss.stft_resolutions)
        self.complex_loss = CompressedComplexStftLoss(cfg.loss.complex_resolutions, cfg.loss.complex_power)

    def build_model(self) -> nn.Module:
        model = IstftVocoder(self.cfg.model) if self.cfg.architecture == "istft" else HifiGanGenerator(self.cfg.hifigan)
        log.info("vocoder: %.2f M parameters", sum(p.numel() for p in model.parameters()) / 1e6)
        if self.cfg.init_from == "universal" and self.cfg.architecture == "hifigan":
            teacher = load_universal_hifigan()
            model.load_state_dict(prune_hifigan(teacher.state_dict(), teacher.cfg, self.cfg.hifigan))
            log.info("generator cut out of the universal HiFi-GAN")
        elif self.cfg.init_from:
            state, _ = load_checkpoint(self.cfg.init_from, arch=self.arch)
            model.load_state_dict({k: v.float() for k, v in state.items()})
            log.info("generator warm start from %s", self.cfg.init_from)
        adv = self.cfg.adversarial
        if not adv.enabled:
            return model
        disc = WaveDiscriminators(adv.discriminator)
        log.info("discriminators: %.2f M parameters", sum(p.numel() for p in disc.parameters()) / 1e6)
        return AdversarialVocoder(model, disc)

    def train_dataset(self) -> Dataset:
        d = self.cfg.data
        if d.teacher_set:
            return TeacherSetDataset(d.teacher_set, d.max_items)
        return SpeechWavDataset(d.manifest, d.split, self.spec.sample_rate, d.max_items)

    def collate(self, items: list) -> dict[str, torch.Tensor]:
        return collate_teacher_pairs(items) if isinstance(items[0], tuple) else collate_wavs(items)

    def _teacher_segments(self, batch: dict[str, torch.Tensor], generator: torch.Generator):
        """Aligned random crops ``(mel (B, n_mels, F), teacher (B, F * hop))`` with one random gain
        per row (added to the log-mel, multiplied into the teacher: HiFi-GAN is close to
        scale-equivariant over this range)."""
        frames, hop = self.cfg.data.segment_frames, self.spec.hop_length
        mel, teacher, lengths = batch["mel"].cpu(), batch["teacher"].cpu(), batch["frames"].cpu()
        if mel.shape[-1] < frames:
            mel = nn.functional.pad(mel, (0, frames - mel.shape[-1]), value=float(mel.min()))
            teacher = nn.functional.pad(teacher, (0, frames * hop - teacher.shape[-1]))
        room = (lengths - frames).clamp(min=0) + 1
        starts = (torch.rand(len(mel), generator=generator) * room).long().tolist()
        mel = torch.stack([m[:, s : s + frames] for m, s in zip(mel, starts)])
        teacher = torch.stack([t[s * hop : (s + frames) * hop] for t, s in zip(teacher, starts)])
        low, high = self.cfg.data.gain_db
        gain_db = low + (high - low) * torch.rand(len(mel), 1, generator=generator)
        peak = teacher.abs().amax(dim=1, keepdim=True).clamp(min=1e-4)
        gain = torch.minimum(10 ** (gain_db / 20), 0.99 / peak)
        mel = (mel + torch.log(gain)[:, :, None]).clamp(min=float(torch.log(torch.tensor(self.spec.log_floor))))
        return mel, teacher * gain

    def _segments(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        samples = self.cfg.data.segment_frames * self.spec.hop_length
        wav = random_crops(batch["wav"].cpu(), batch["lengths"].cpu(), samples, generator)
        low, high = self.cfg.data.gain_db
        gain = 10 ** ((low + (high - low) * torch.rand(len(wav), 1, generator=generator)) / 20)
        wav = self._add_noise(wav, generator)
        peak = wav.abs().amax(dim=1, keepdim=True).clamp(min=1e-4)
        return wav * torch.minimum(gain, 0.99 / peak)

    def _add_noise(self, wav: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """White noise at a random SNR (vs the segment's RMS) on a random ``noise_prob`` of rows."""
        d = self.cfg.data
        if d.noise_prob <= 0:
            return wav
        low, high = d.noise_snr_db
        snr = low + (high - low) * torch.rand(len(wav), 1, generator=generator)
        rms = wav.pow(2).mean(dim=1, keepdim=True).sqrt()
        use = (torch.rand(len(wav), 1, generator=generator) < d.noise_prob).float()
        noise = torch.randn(wav.shape, generator=generator)
        return wav + use * rms * 10 ** (-snr / 20) * noise

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator):
        """``batch``: ``wav`` ``(B, T_wav)``, ``lengths`` ``(B,)``; returns (total, parts)."""
        device = next(iter(batch.values())).device
        self.extractor.to(device)
        self.stft_loss.to(device)
        self.complex_loss.to(device)
        if "teacher" in batch:
            mel, target = (x.to(device) for x in self._teacher_segments(batch, generator))
        else:
            target = self._segments(batch, generator).to(device)
            with torch.no_grad():
                mel = self.extractor(target)
        if not self.cfg.adversarial.enabled:
            if self.cfg.loss.magnitude_weight > 0:
                log_magnitude, phase = model.log_magnitude_and_phase(mel)
                pred = model.istft(polar_spectrum(log_magnitude, phase))
                total, parts = self._reconstruction(pred, mel, target, {})
                mag = self._magnitude_loss(log_magnitude, target)
                parts["magnitude"] = mag.detach()
                return total + self.cfg.loss.magnitude_weight * mag, parts
            return self._reconstruction(model(mel), mel, target, {})
        pred, real, fake_g, fake_d = model(mel, target)
        adv = self.cfg.adversarial
        g_adv = generator_adversarial_loss(fake_g)
        fm = feature_matching_loss(real, fake_g)
        d_loss = discriminator_loss(real, fake_d)
        parts = {"g_adv": g_adv.detach(), "fm": fm.detach(), "d": d_loss.detach()}
        total, parts = self._reconstruction(pred, mel, target, parts)
        return total + adv.adv_weight * g_adv + adv.fm_weight * fm + d_loss, parts

    def _magnitude_loss(self, log_magnitude: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """L1 of log-magnitudes + spectral convergence, head vs the target's STFT magnitude in the
        synthesis framing (the mel analysis framing: ``MelExtractor.magnitude``)."""
        true = self.extractor.magnitude(target)[..., : log_magnitude.shape[-1]]
        pred = torch.exp(log_magnitude)
        convergence = torch.linalg.norm(true - pred) / torch.linalg.norm(true).clamp(min=1e-7)
        return (log_magnitude - torch.log(true.clamp(min=1e-5))).abs().mean() + convergence

    def _reconstruction(self, pred: torch.Tensor, mel: torch.Tensor, target: torch.Tensor,
                        parts: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        mel_l1 = (self.extractor(pred) - mel).abs().mean()
        stft = self.stft_loss(pred, target)
        total = self.cfg.loss.mel_weight * mel_l1 + self.cfg.loss.stft_weight * stft
        parts = {**parts, "mel_l1": mel_l1.detach(), "stft": stft.detach()}
        if self.cfg.loss.complex_weight > 0:
            edge = self.cfg.loss.complex_edge
            inner = slice(edge, pred.shape[-1] - edge) if pred.shape[-1] > 4 * edge else slice(None)
            cplx = self.complex_loss(pred[:, inner], target[:, inner])
            total = total + self.cfg.loss.complex_weight * cplx
            parts["complex"] = cplx.detach()
        return total, parts

    def export(self, model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        generator = model.generator if isinstance(model, AdversarialVocoder) else model
        return generator.state_dict(), to_dict(self.cfg.model if self.cfg.architecture == "istft" else self.cfg.hifigan)
