"""TTS training task: face-conditioned Matcha-style model on prepared features + a face bank,
or (``shards.dir`` set) streamed from audio-visual shards, each clip conditioned on its own
face crop (:class:`facespeak.data.shards.stage_items.TTSItems`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..core.checkpoint import load_checkpoint
from ..core.config import from_dict, to_dict
from ..core.errors import ConfigError
from ..core.timing import MelSpec
from ..data.shards.reader import decode_sample, decode_without_frames
from ..data.shards.stage_items import TTSItems, shard_mel_stats
from ..data.shards.streaming import ShardStream, ShardStreamConfig
from ..data.tts_dataset import FaceBank, TTSDataset, TTSFeatures, collate_tts
from ..text import TextConfig, TextFrontend
from .loop import TrainConfig
from ..tts import FaceTTS, TTSConfig

__all__ = ["TTSDataConfig", "TTSTrainConfig", "TTSTask"]

log = logging.getLogger(__name__)


@dataclass
class TTSDataConfig:
    features: str = "runs/data/tts_train.safetensors"
    face_bank: str = "runs/data/face_bank.safetensors"
    cond: str = "f_id"  # f_id (the paper) | f (ablation: motion kept)
    cond_noise: float = 0.05  # std of Gaussian noise added to the (unit-norm scaled) face feature
    # with model.gender_cond: the bank's +-1 gender is scaled by U(gender_scale_min, 1) per item,
    # so the model also sees the less confident scores the estimator gives at inference
    gender_scale_min: float = 0.5
    # with model.gender_cond: probability of zeroing the face-feature part of an item's
    # condition (the gender score stays), so the voice's gender is learned from the score too
    # and not only from the few training identities (decisions.md #14)
    face_dropout: float = 0.0
    # shard stream only (the features file records its own): the mel analysis of the training
    # mels, and the identity encoder checkpoint that gives each clip's face feature ("" = bundled)
    mel: MelSpec = field(default_factory=MelSpec)
    identity: str = ""
    max_seconds: float = 11.0  # shard stream only: longer clips are skipped
    # shard stream only: every clip's face condition computed once (python -m
    # facespeak.data.shards.face_cache), instead of face analysis each time a clip is streamed
    face_cache: str = ""

    @classmethod
    def tiny(cls) -> "TTSDataConfig":
        return cls()


@dataclass
class TTSTrainConfig:
    model: TTSConfig = field(default_factory=TTSConfig.default)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: TTSDataConfig = field(default_factory=TTSDataConfig)
    init_from: str = ""  # optional exported checkpoint to warm-start from
    # set shards.dir to train from 'facespeak data prepare' shards instead of features + face bank
    shards: ShardStreamConfig = field(default_factory=ShardStreamConfig)

    @classmethod
    def tiny(cls) -> "TTSTrainConfig":
        return cls(model=TTSConfig.tiny(), train=TrainConfig.tiny(), data=TTSDataConfig.tiny())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TTSTrainConfig":
        return from_dict(cls, d)


def _grow(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor | None:
    """Warm start across an input-width change (e.g. a gender column added to the condition):
    a weight whose last axis grew keeps its old columns, the new ones start at zero."""
    if old.dim() != new.dim() or old.shape[:-1] != new.shape[:-1] or old.shape[-1] >= new.shape[-1]:
        return None
    out = torch.zeros_like(new)
    out[..., :old.shape[-1]] = old.to(new.dtype)
    return out


class TTSTask:
    arch = "facespeak.tts"

    def __init__(self, cfg: TTSTrainConfig) -> None:
        if cfg.data.cond not in ("f_id", "f"):
            raise ConfigError(f"data.cond: expected 'f_id' or 'f', got {cfg.data.cond!r}")
        self.cfg = cfg
        self.items: TTSItems | None = None
        if cfg.shards.enabled:
            self._init_shards()
        else:
            self._init_features()

    def _init_shards(self) -> None:
        cfg, m = self.cfg, self.cfg.model
        self.items = TTSItems(cfg.data.mel, cfg.data.cond, m.gender_cond, cfg.data.max_seconds, cfg.data.identity,
                              cfg.data.face_cache)
        front = TextFrontend(TextConfig())
        self.symbols = str(front.symbol_table_version)
        m.n_vocab = front.vocab_size
        m.cond_dim = int(self.items.models()[1].model.config.dim)
        m.n_mels = cfg.data.mel.n_mels
        if m.mel_mean == TTSConfig().mel_mean:  # default -> statistics of the first clips
            m.mel_mean, m.mel_std = shard_mel_stats(cfg.shards, cfg.data.mel)
        log.info("TTS data: shards %s (splits %s, %d held-out speakers), vocab %d, cond %s dim %d, mel %d Hz, "
                 "mean %.3f std %.3f", cfg.shards.dir, cfg.shards.splits, len(cfg.shards.heldout_speakers), m.n_vocab,
                 cfg.data.cond, m.cond_dim, cfg.data.mel.sample_rate, m.mel_mean, m.mel_std)

    def _init_features(self) -> None:
        cfg = self.cfg
        self.features = TTSFeatures(cfg.data.features)
        self.symbols = self.features.symbols
        self.bank = FaceBank.load(cfg.data.face_bank)
        missing = sorted(set(self.features.speakers) - set(self.bank.speakers))
        if len(missing) == len(self.features.speakers):
            raise ConfigError(f"face bank {cfg.data.face_bank} has none of the corpus speakers")
        if missing:
            log.info("speakers without a face in the bank are not used: %s", missing)
        self.speaker_map = [self.bank.speakers.index(s) if s in self.bank.speakers else -1 for s in self.features.speakers]
        m = cfg.model
        m.n_vocab = self.features.vocab_size
        m.cond_dim = self.bank.dim
        if m.gender_cond and self.bank.gender is None:
            raise ConfigError(f"model.gender_cond needs a face bank with genders; rebuild {cfg.data.face_bank} "
                              "with 'facespeak data prepare-tts'")
        m.n_mels = int(self.features.mel.shape[1])
        if m.mel_mean == TTSConfig().mel_mean:  # default -> dataset statistics
            m.mel_mean, m.mel_std = self.features.mel_stats()
        log.info("TTS data: %d utterances, %d speakers, vocab %d, cond %s dim %d, mel mean %.3f std %.3f",
                 len(self.features), len(self.features.speakers), m.n_vocab, cfg.data.cond, m.cond_dim, m.mel_mean, m.mel_std)

    def build_model(self) -> nn.Module:
        model = FaceTTS(self.cfg.model)
        if self.cfg.init_from:
            state, _ = load_checkpoint(self.cfg.init_from, arch=self.arch)
            own = model.state_dict()
            # stage change (e.g. speaker codes -> face features): layers whose shape changed restart
            fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
            grown = {k: _grow(v, own[k]) for k, v in state.items() if k in own and k not in fitting}
            grown = {k: v for k, v in grown.items() if v is not None}
            model.load_state_dict({**fitting, **grown}, strict=False)
            log.info("warm start from %s: %d/%d tensors reused, %d grown (%s)", self.cfg.init_from, len(fitting),
                     len(own), len(grown), ", ".join(sorted(grown)))
        n = sum(p.numel() for p in model.parameters())
        log.info("TTS model: %.2f M parameters", n / 1e6)
        return model

    def train_dataset(self) -> TTSDataset | ShardStream:
        if self.items is not None:  # with a face cache no pixel is needed: the video is not decoded
            decode = decode_without_frames if self.cfg.data.face_cache else decode_sample
            return ShardStream(self.cfg.shards, self.items, seed=self.cfg.train.seed, decode=decode)
        return TTSDataset(self.features, self.speaker_map)

    def collate(self, items):
        if self.items is None:
            return collate_tts(items)
        # shard items: ids (T_text,), mel (n_mels, T_mel), cond (D_id,), gender score
        batch = collate_tts([(it["ids"], it["mel"], 0) for it in items])
        batch["cond"] = torch.stack([torch.from_numpy(it["cond"]) for it in items])
        batch["gender"] = torch.tensor([float(it["gender"]) for it in items])
        return batch

    def _noisy(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.cfg.data.cond_noise > 0:
            scale = cond.norm(dim=1, keepdim=True) / cond.shape[1] ** 0.5
            cond = cond + self.cfg.data.cond_noise * scale * torch.randn(cond.shape, generator=generator)
        return cond

    def _with_gender(self, cond: torch.Tensor, g: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """cond (B, D_id), g (B,) -> (B, D_id + 1), the face part dropped for ``face_dropout`` of the items."""
        if self.cfg.data.face_dropout > 0:
            keep = torch.rand(len(g), generator=generator) >= self.cfg.data.face_dropout
            cond = cond * keep[:, None].to(cond.dtype)
        return torch.cat([cond, g[:, None]], dim=1)

    def condition(self, speaker: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """speaker (B,) -> cond (B, D_cond): a random view's face feature (+ noise) [+ gender score]."""
        rows = self.bank.sample_rows(speaker, generator)
        cond = self._noisy((self.bank.f_id if self.cfg.data.cond == "f_id" else self.bank.f)[rows], generator)
        if self.cfg.model.gender_cond:
            lo = self.cfg.data.gender_scale_min
            g = self.bank.gender[rows] * (lo + (1 - lo) * torch.rand(len(rows), generator=generator))
            cond = self._with_gender(cond, g, generator)
        return cond

    def stream_condition(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        """A shard batch's own face features (B, D_id) (+ noise) [+ its estimated gender scores]."""
        cond = self._noisy(batch["cond"].cpu(), generator)
        if self.cfg.model.gender_cond:
            cond = self._with_gender(cond, batch["gender"].cpu(), generator)
        return cond

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator):
        if self.items is not None:
            cond = self.stream_condition(batch, generator).to(batch["mel"].device)
        else:
            cond = self.condition(batch["speaker"].cpu(), generator).to(batch["mel"].device)
        # through forward (not compute_losses) so a DDP wrapper synchronises gradients
        losses = model(batch["ids"], batch["x_lengths"], batch["mel"], batch["mel_lengths"], cond, generator)
        parts = {"dur": losses.duration.detach(), "prior": losses.prior.detach(), "cfm": losses.cfm.detach()}
        return losses.total, parts

    def export(self, model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        cfg = to_dict(self.cfg.model)
        cfg["_text_symbols"] = self.symbols
        cfg["_cond"] = self.cfg.data.cond
        if self.items is not None:  # the mel analysis it learnt (a features file's is not recorded here)
            cfg["_mel"] = to_dict(self.cfg.data.mel)
        return model.state_dict(), cfg
