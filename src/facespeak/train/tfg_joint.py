"""Joint stage (TTSF sec. 3.3-3.4) composed from the one motion stack: latent TFG + ``motion/``'s
audio mapper and motion sampler (+ a frozen SyncNet) + a TTS conditioned on the TFG's ``f_id``.

The motion side is :mod:`facespeak.motion` itself, sized for the latent motion space
(:class:`facespeak.tfg.latent.motion_space.LatentMotionSpace`):

- audio mapper (Fig. 3): ``[e_t, mu_y, |mu_y|]`` pooled to the video rate
  (:func:`facespeak.motion.audio_mapper.pool_to_video`, as at inference) -> MRF blocks ->
  ``f_lip (B, T_video, D_style)`` (linear output); ``f_lip`` drives the generator's lip layers
  (reconstruction trains it) and the SyncNet expert scores the result;
- motion normaliser: auto-encoder ``f_m (B, T_video, D_style) <-> f_c (B, T_video, D_code)``;
- prior (Conformer) and OT-CFM velocity (Conformer) conditioned on ``[f_id, f_lip]``.

Loss weights: :class:`facespeak.tfg.latent.TFGLossWeights` (sync 0.1, cfm 0.1, motion_ae 1,
motion_prior 0.1, tts 1). :func:`export_joint_parts` writes the mapper, sampler and TTS beside
the TFG export, in the formats their one loader reads (``motion.bundled``, ``facespeak.tts``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..core.checkpoint import save_checkpoint
from ..core.config import to_dict
from ..core.errors import ConfigError
from ..data.talking_clips import TalkingClipsConfig
from ..latent_pipeline import JOINT_PARTS
from ..motion.audio_mapper import AudioMapper, AudioMapperConfig, pool_to_video
from ..motion.bundled import MAPPER_ARCH, SAMPLER_ARCH
from ..motion.sampler import MotionSampler, MotionSamplerConfig
from ..tfg.latent import LatentTFG
from ..tfg.latent.losses import sync_loss
from ..tfg.latent.motion_space import latent_condition
from ..tfg.latent.syncnet import mouth_region
from ..tfg.latent.training import ObjectiveOutput, ReconstructionObjective
from .loop import load_last
from ..tts import FaceTTS, TTSConfig

__all__ = ["JointStageConfig", "size_motion_configs", "JointObjective", "JointStageModel", "mel_window",
           "export_joint_parts", "JOINT_PARTS"]


@dataclass
class JointStageConfig:
    """What only the ``joint`` stage uses.

    clips: talking clips (:mod:`facespeak.data.talking_clips`). tts: the TTS trained jointly;
    ``cond_dim`` is set to the TFG's ``style_dim`` (it is conditioned on the TFG's ``f_id``),
    ``n_vocab`` / ``n_mels`` / mel statistics come from the clips. mapper / sampler:
    ``motion/``'s configs; their sizes for the latent space (``d_text``, ``n_mels``, ``n_out``,
    ``output``, ``normaliser.d_motion``, ``d_cond``, ``window``) are set by
    :func:`size_motion_configs`. tts_init_from: an exported TTS whose tensors of matching shape
    warm-start it. detach_tts_features: stop the TFG losses at ``e_t`` / ``mu_y`` (False: they
    also train the TTS's text encoder; the paper trains the two end to end)."""

    clips: TalkingClipsConfig = field(default_factory=TalkingClipsConfig)
    tts: TTSConfig = field(default_factory=TTSConfig.default)
    mapper: AudioMapperConfig = field(default_factory=AudioMapperConfig.paper)
    sampler: MotionSamplerConfig = field(default_factory=MotionSamplerConfig.paper)
    tts_init_from: str = ""
    detach_tts_features: bool = False
    windows_per_clip: int = 1  # windows cut from each clip streamed from shards (the task's shards.dir)

    @classmethod
    def tiny(cls) -> "JointStageConfig":
        return cls(clips=TalkingClipsConfig.tiny(), tts=TTSConfig.tiny(), mapper=AudioMapperConfig.tiny(),
                   sampler=MotionSamplerConfig.tiny())


def size_motion_configs(j: JointStageConfig, style_dim: int) -> None:
    """Set the mapper's and sampler's sizes for the latent space of a ``style_dim`` TFG fed by
    ``j.tts`` (in place). The generation window is the training window (``clips.window_frames``)."""
    m = j.mapper
    m.d_text, m.n_mels, m.n_out, m.output = j.tts.encoder.channels, j.tts.n_mels, style_dim, "linear"
    s = j.sampler
    s.normaliser.d_motion, s.d_cond, s.window = style_dim, 2 * style_dim, j.clips.window_frames
    if not (0 < s.context and s.context + s.context // 2 < s.window):
        raise ConfigError(f"joint.sampler.context: expected 0 < 1.5 x context < the window ({s.window} frames, "
                          f"joint.clips.window_frames), got {s.context}")


def mel_window(x: torch.Tensor, start: torch.Tensor, length: int) -> torch.Tensor:
    """``x (B, C, T_mel)`` -> ``(B, length, C)``: item ``b``'s frames ``start[b] .. start[b] + length``
    (channels last, as :func:`facespeak.motion.audio_mapper.pool_to_video` takes them)."""
    idx = start.to(x.device)[:, None] + torch.arange(length, device=x.device)[None]  # (B, length)
    return x.gather(2, idx[:, None].expand(-1, x.shape[1], -1)).transpose(1, 2)


class JointObjective(nn.Module):
    """All eight terms of the paper's total loss on talking clips.

    Holds the reconstruction objective (TFG + discriminator), ``motion/``'s audio mapper and
    motion sampler, and an optional frozen SyncNet expert (not registered: not trained, not
    checkpointed). ``forward`` takes the TTS loss and the mapper features of the same clips."""

    def __init__(self, recon: ReconstructionObjective, mapper: AudioMapper, sampler: MotionSampler,
                 syncnet: nn.Module | None = None, sync_frames: int = 5) -> None:
        super().__init__()
        self.recon, self.mapper, self.sampler, self.sync_frames = recon, mapper, sampler, sync_frames
        object.__setattr__(self, "_syncnet", syncnet)

    def _sync(self, fake: torch.Tensor, mel_windows: torch.Tensor | None) -> torch.Tensor:
        net = self._syncnet
        if net is None or mel_windows is None:
            return fake.new_zeros(())
        net.to(fake.device)  # unregistered: the model's .to() does not move it
        a, v = net(mouth_region(fake[:, : self.sync_frames], net.cfg.mouth_size), mel_windows)
        return sync_loss(a, v)

    def forward(self, source: torch.Tensor, frames: torch.Tensor, feats: torch.Tensor, tts_loss: torch.Tensor,
                mel_windows: torch.Tensor | None = None, generator: torch.Generator | None = None,
                source_code=None) -> ObjectiveOutput:
        """source ``(B, 3, H, W)``; frames ``(B, T_video, 3, H, W)`` of the same clip; feats
        ``(B, T_video, D_in)`` mapper features; tts_loss scalar; mel_windows ``(B, n_mels, T_mel_win)``
        aligned with the first ``sync_frames`` frames (or None); source_code: ``tfg.encode(source)``
        when the caller already has it."""
        w, tfg = self.recon.weights, self.recon.tfg
        b, t = frames.shape[:2]
        src = tfg.encode(source) if source_code is None else source_code
        f_m = tfg.encode(frames.flatten(0, 1)).f_m.view(b, t, -1)
        f_lip = self.mapper(feats)
        motion = self.sampler.losses(f_m, latent_condition(src.f_id, f_lip), generator)
        rep = type(src)(*(v.repeat_interleave(t, 0) for v in (src.f, src.alpha, src.f_m, src.f_id)),
                        [m.repeat_interleave(t, 0) for m in src.maps])
        fake = tfg.decode(rep, f_m.flatten(0, 1), f_lip.flatten(0, 1))
        real = frames.flatten(0, 1)
        l1 = (fake - real).abs().mean()
        perc, ident = self.recon._feature_terms(fake, real, source.repeat_interleave(t, 0))
        g_adv, d_loss, _ = self.recon.adversarial(fake, real)
        sync = self._sync(fake.view(b, t, *fake.shape[1:]), mel_windows)
        total = (w.gan * (g_adv + d_loss) + w.reconstruction * (l1 + w.perceptual_ratio * perc) + w.identity * ident
                 + w.sync * sync + w.cfm * motion["cfm"] + w.motion_ae * motion["ae"]
                 + w.motion_prior * motion["prior"] + w.tts * tts_loss)
        parts = {"l1": l1, "perceptual": perc, "identity": ident, "g_adv": g_adv, "d_loss": d_loss, "sync": sync,
                 "cfm": motion["cfm"], "motion_ae": motion["ae"], "motion_prior": motion["prior"], "tts": tts_loss}
        return ObjectiveOutput(total, {k: v.detach() for k, v in parts.items()}, fake)


class JointStageModel(nn.Module):
    """The joint stage as one module (one forward, so DDP synchronises every part):

    1. ``f_id`` = the TFG encoder's motion-removed identity of each clip's source frame;
    2. the TTS losses on the whole utterance with ``cond = f_id`` (TTSF: the TTS is conditioned
       on ``f_id``; its loss thus reaches the visual encoder), and its intermediates;
    3. :class:`JointObjective` on the clip's window, the mapper fed ``e_t`` / ``mu_y`` cut to
       the window and pooled to its video frames (``mel_per_video`` TTS mel frames per frame)."""

    def __init__(self, objective: JointObjective, tts: FaceTTS, mel_per_video: float,
                 detach_tts_features: bool = False) -> None:
        super().__init__()
        self.objective, self.tts, self.detach_tts_features = objective, tts, detach_tts_features
        self.mel_per_video = mel_per_video

    @property
    def tfg(self) -> LatentTFG:
        return self.objective.recon.tfg

    def forward(self, source: torch.Tensor, frames: torch.Tensor, ids: torch.Tensor, x_lengths: torch.Tensor,
                mel: torch.Tensor, mel_lengths: torch.Tensor, mel_start: torch.Tensor, mel_frames: int,
                sync_mel: torch.Tensor | None = None, generator: torch.Generator | None = None) -> ObjectiveOutput:
        """source ``(B, 3, S, S)``, frames ``(B, W, 3, S, S)`` in [-1, 1]; ids ``(B, T_text)``;
        mel ``(B, n_mels, T_mel)`` log-mel of the whole utterance; mel_start ``(B,)`` the TTS mel
        frame of the window's first video frame; mel_frames: mel frames under the window;
        sync_mel ``(B, n_mels_sync, T_sync)`` or None."""
        src = self.tfg.encode(source)
        losses, inter = self.tts.compute_losses(ids, x_lengths, mel, mel_lengths, src.f_id, generator,
                                                return_intermediates=True)
        e_t, mu_y = mel_window(inter.e_t, mel_start, mel_frames), mel_window(inter.mu_y, mel_start, mel_frames)
        if self.detach_tts_features:
            e_t, mu_y = e_t.detach(), mu_y.detach()
        feats = pool_to_video(e_t, mu_y, frames.shape[1], self.mel_per_video)
        out = self.objective(source, frames, feats, losses.total, sync_mel, generator, source_code=src)
        out.parts.update({"tts_dur": losses.duration.detach(), "tts_prior": losses.prior.detach(),
                          "tts_cfm": losses.cfm.detach()})
        return out


def export_joint_parts(task: Any, run_dir: str | Path, out: str | Path) -> list[Path]:
    """Joint stage: write the audio mapper, motion sampler and TTS of ``run_dir/last.pt`` beside
    the TFG export ``out`` as ``<out stem>.{audio_mapper,motion_sampler,tts}.safetensors``
    (archs ``facespeak.audio_mapper`` / ``facespeak.motion_sampler`` sized for the latent space,
    ``facespeak.tts`` with condition = this TFG's ``f_id`` and the mel analysis it was trained
    on). Together with ``out`` they are what ``say --tfg latent --weights`` runs. ``task``: a
    :class:`facespeak.train.tfg_task.TFGTask` of stage ``joint``. Returns the paths."""

    if task.cfg.stage != "joint":
        raise ConfigError(f"export_joint_parts: expected stage 'joint', got {task.cfg.stage!r}")
    model, step = load_last(task, run_dir)
    out = Path(out)
    j = task.cfg.joint
    tts_cfg = to_dict(j.tts)
    tts_cfg.update({"_text_symbols": task.symbols, "_cond": "latent_tfg_f_id", "_mel": to_dict(task.tts_mel)})
    space = {"_space": "latent"}
    paths = [out.with_name(f"{out.stem}.{part}.safetensors") for part in JOINT_PARTS]
    extra = {"steps": step}
    obj = model.objective
    save_checkpoint(paths[0], obj.mapper.state_dict(), MAPPER_ARCH, {**to_dict(j.mapper), **space}, extra)
    save_checkpoint(paths[1], obj.sampler.state_dict(), SAMPLER_ARCH, {**to_dict(j.sampler), **space}, extra)
    save_checkpoint(paths[2], model.tts.state_dict(), "facespeak.tts", tts_cfg, extra)
    return paths
