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
from ..core.config import from_dict, to_dict
from ..core.errors import ConfigError
from ..core.timing import MelSpec
from ..vocoder.bundled import ISTFT_ARCH
from ..vocoder.discriminators import (
    DiscriminatorConfig,
    WaveDiscriminators,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from ..vocoder.distill import MultiResolutionStftLoss
from ..vocoder.istft_vocoder import IstftVocoder, IstftVocoderConfig
from .loop import TrainConfig

__all__ = ["VocoderDataConfig", "VocoderLossConfig", "AdversarialConfig", "VocoderTrainConfig",
           "SpeechWavDataset", "AdversarialVocoder", "VocoderTask", "collate_wavs", "random_crops"]

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

    @classmethod
    def tiny(cls) -> "VocoderLossConfig":
        return cls(stft_resolutions=[(256, 64, 256), (512, 128, 512)])


@dataclass
class AdversarialConfig:
    """GAN stage. ``init_from``: an exported vocoder whose weights start the generator (the
    reconstruction-trained model; the discriminators always start fresh)."""

    enabled: bool = False
    adv_weight: float = 1.0
    fm_weight: float = 2.0
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    init_from: str = ""

    @classmethod
    def tiny(cls) -> "AdversarialConfig":
        return cls(discriminator=DiscriminatorConfig.tiny())


@dataclass
class VocoderTrainConfig:
    model: IstftVocoderConfig = field(default_factory=IstftVocoderConfig.fast)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: VocoderDataConfig = field(default_factory=VocoderDataConfig)
    loss: VocoderLossConfig = field(default_factory=VocoderLossConfig)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)

    @classmethod
    def tiny(cls) -> "VocoderTrainConfig":
        return cls(model=IstftVocoderConfig.tiny(), train=TrainConfig.tiny(),
                   data=VocoderDataConfig.tiny(), loss=VocoderLossConfig.tiny(),
                   adversarial=AdversarialConfig.tiny())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VocoderTrainConfig":
        return from_dict(cls, d)


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

    arch = ISTFT_ARCH

    def __init__(self, cfg: VocoderTrainConfig, spec: MelSpec | None = None) -> None:
        self.cfg, self.spec = cfg, spec or MelSpec()
        if cfg.model.hop_length != self.spec.hop_length or cfg.model.n_mels != self.spec.n_mels:
            raise ConfigError(
                f"model: expected hop_length {self.spec.hop_length} and n_mels {self.spec.n_mels} "
                f"(the mel spec), got {cfg.model.hop_length} and {cfg.model.n_mels}"
            )
        self.extractor = MelExtractor(self.spec)
        self.stft_loss = MultiResolutionStftLoss(cfg.loss.stft_resolutions)

    def build_model(self) -> nn.Module:
        model = IstftVocoder(self.cfg.model)
        log.info("vocoder: %.2f M parameters", sum(p.numel() for p in model.parameters()) / 1e6)
        adv = self.cfg.adversarial
        if not adv.enabled:
            return model
        if adv.init_from:
            from ..core.checkpoint import load_checkpoint

            state, _ = load_checkpoint(adv.init_from, arch=self.arch)
            model.load_state_dict({k: v.float() for k, v in state.items()})
            log.info("generator warm start from %s", adv.init_from)
        disc = WaveDiscriminators(adv.discriminator)
        log.info("discriminators: %.2f M parameters", sum(p.numel() for p in disc.parameters()) / 1e6)
        return AdversarialVocoder(model, disc)

    def train_dataset(self) -> SpeechWavDataset:
        d = self.cfg.data
        return SpeechWavDataset(d.manifest, d.split, self.spec.sample_rate, d.max_items)

    def collate(self, items: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        return collate_wavs(items)

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
        device = batch["wav"].device
        target = self._segments(batch, generator).to(device)
        self.extractor.to(device)
        self.stft_loss.to(device)
        with torch.no_grad():
            mel = self.extractor(target)
        if not self.cfg.adversarial.enabled:
            return self._reconstruction(model(mel), mel, target, {})
        pred, real, fake_g, fake_d = model(mel, target)
        adv = self.cfg.adversarial
        g_adv = generator_adversarial_loss(fake_g)
        fm = feature_matching_loss(real, fake_g)
        d_loss = discriminator_loss(real, fake_d)
        parts = {"g_adv": g_adv.detach(), "fm": fm.detach(), "d": d_loss.detach()}
        total, parts = self._reconstruction(pred, mel, target, parts)
        return total + adv.adv_weight * g_adv + adv.fm_weight * fm + d_loss, parts

    def _reconstruction(self, pred: torch.Tensor, mel: torch.Tensor, target: torch.Tensor,
                        parts: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        mel_l1 = (self.extractor(pred) - mel).abs().mean()
        stft = self.stft_loss(pred, target)
        total = self.cfg.loss.mel_weight * mel_l1 + self.cfg.loss.stft_weight * stft
        return total, {**parts, "mel_l1": mel_l1.detach(), "stft": stft.detach()}

    def export(self, model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        generator = model.generator if isinstance(model, AdversarialVocoder) else model
        return generator.state_dict(), to_dict(self.cfg.model)
