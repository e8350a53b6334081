"""Joint stage (TTSF sec. 3.3-3.4): audio mapper, motion normaliser, motion prior, OT-CFM sampler.

Given a talking clip (frames at ``fps``) and the TTS intermediates for its text (text
embedding upsampled to mel frames ``e_t``, ``mu_y`` = Matcha's duration-upsampled feature, both
at the mel rate), :class:`JointObjective` adds to the reconstruction losses:

- audio mapper (Fig. 3): ``[e_t, mu_y, energy = |mu_y|]`` -> multi-receptive-field residual
  conv blocks (HiFi-GAN MRF, kernels 3/7/11, dilations 1/3/5) -> ``f_lip (B, T_video, D_style)``
  at the video rate; ``f_lip`` drives the lip layers of the generator (reconstruction of the
  clip's frames trains it) and the SyncNet expert scores the result;
- motion normaliser: an MSE auto-encoder ``f_m -> f_c -> f_m`` (``f_c (B, T_video, D_c)``);
- motion prior: a 4-layer Conformer over ``[f_id, f_lip]`` predicting ``mu (B, T_video, D_c)``;
- OT-CFM (sigma_min 1e-4) on ``f_c`` from ``N(mu, I)`` with a velocity estimator conditioned
  on ``[f_id, f_lip]``.

Loss weights: :class:`TFGLossWeights` (sync 0.1, cfm 0.1, motion_ae 1, motion_prior 0.1, tts 1).
The TTS loss itself is computed by the TTS model and passed in (this package does not import
``facespeak.tts``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...core.flow_matching import OTPath, cfm_loss, euler_solve

__all__ = ["JointConfig", "AudioMapper", "MotionNormaliser", "ConformerPrior", "VelocityEstimator",
           "MotionSampler", "JointLosses", "JointObjective", "joint_motion_losses", "resample_time"]


@dataclass
class JointConfig:
    """d_text: channels of ``e_t``; n_mels: channels of ``mu_y``; d_style: ``D_style``;
    d_c: compressed motion ``D_c``; width: hidden width; prior_layers (paper: 4); heads;
    kernels / dilations: MRF; sigma_min; steps: Euler steps at sampling."""

    d_text: int = 192
    n_mels: int = 80
    d_style: int = 256
    d_c: int = 16
    width: int = 256
    prior_layers: int = 4
    heads: int = 4
    kernels: tuple[int, ...] = (3, 7, 11)
    dilations: tuple[int, ...] = (1, 3, 5)
    sigma_min: float = 1e-4
    steps: int = 10

    @classmethod
    def tiny(cls) -> "JointConfig":
        return cls(d_text=8, n_mels=8, d_style=32, d_c=4, width=16, prior_layers=1, heads=2)


def resample_time(x: torch.Tensor, t_out: int) -> torch.Tensor:
    """Linear resampling of ``(B, T, D)`` to ``(B, t_out, D)`` (mel rate -> video rate)."""
    return F.interpolate(x.transpose(1, 2), size=t_out, mode="linear", align_corners=False).transpose(1, 2)


class _MRF(nn.Module):
    """Sum of residual dilated-conv stacks with different kernels (HiFi-GAN's MRF), / n."""

    def __init__(self, c: int, kernels: tuple[int, ...], dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.stacks = nn.ModuleList(
            nn.ModuleList(nn.Conv1d(c, c, k, dilation=d, padding=d * (k - 1) // 2) for d in dilations) for k in kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = 0.0
        for stack in self.stacks:
            h = x
            for conv in stack:
                h = h + conv(F.leaky_relu(h, 0.1))
            out = out + h
        return out / len(self.stacks)


class AudioMapper(nn.Module):
    """``e_t (B, T_mel, d_text)``, ``mu_y (B, T_mel, n_mels)`` -> ``f_lip (B, T_video, D_style)``."""

    def __init__(self, cfg: JointConfig) -> None:
        super().__init__()
        self.inp = nn.Conv1d(cfg.d_text + cfg.n_mels + 1, cfg.width, 1)
        self.mrf = _MRF(cfg.width, cfg.kernels, cfg.dilations)
        self.out = nn.Linear(cfg.width, cfg.d_style)

    def forward(self, e_t: torch.Tensor, mu_y: torch.Tensor, t_video: int) -> torch.Tensor:
        energy = mu_y.norm(dim=-1, keepdim=True)  # TTSF: L2 norm of f~_t per frame
        x = resample_time(torch.cat([e_t, mu_y, energy], dim=-1), t_video)
        h = self.mrf(self.inp(x.transpose(1, 2)))
        return self.out(F.leaky_relu(h, 0.1).transpose(1, 2))


class MotionNormaliser(nn.Module):
    """Auto-encoder ``f_m (B, T, D_style) <-> f_c (B, T, D_c)`` (temporal convs, MSE-trained)."""

    def __init__(self, cfg: JointConfig) -> None:
        super().__init__()
        w = cfg.width
        self.enc = nn.Sequential(nn.Conv1d(cfg.d_style, w, 3, padding=1), nn.SiLU(), nn.Conv1d(w, cfg.d_c, 3, padding=1))
        self.dec = nn.Sequential(nn.Conv1d(cfg.d_c, w, 3, padding=1), nn.SiLU(), nn.Conv1d(w, cfg.d_style, 3, padding=1))

    def encode(self, f_m: torch.Tensor) -> torch.Tensor:
        return self.enc(f_m.transpose(1, 2)).transpose(1, 2)

    def decode(self, f_c: torch.Tensor) -> torch.Tensor:
        return self.dec(f_c.transpose(1, 2)).transpose(1, 2)


class _ConformerLayer(nn.Module):
    """Self-attention + depthwise-conv module + feed-forward, pre-norm (Gulati et al. 2020, simplified)."""

    def __init__(self, w: int, heads: int) -> None:
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(w), nn.LayerNorm(w), nn.LayerNorm(w)
        self.attn = nn.MultiheadAttention(w, heads, batch_first=True)
        self.dw = nn.Conv1d(w, w, 7, padding=3, groups=w)
        self.ff = nn.Sequential(nn.Linear(w, 2 * w), nn.SiLU(), nn.Linear(2 * w, w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        x = x + self.dw(self.norm2(x).transpose(1, 2)).transpose(1, 2)
        return x + self.ff(self.norm3(x))


class ConformerPrior(nn.Module):
    """``cond (B, T, 2 D_style)`` = ``[f_id, f_lip]`` -> ``mu (B, T, D_c)``."""

    def __init__(self, cfg: JointConfig) -> None:
        super().__init__()
        self.inp = nn.Linear(2 * cfg.d_style, cfg.width)
        self.layers = nn.ModuleList(_ConformerLayer(cfg.width, cfg.heads) for _ in range(cfg.prior_layers))
        self.out = nn.Linear(cfg.width, cfg.d_c)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        h = self.inp(cond)
        for layer in self.layers:
            h = layer(h)
        return self.out(h)


class VelocityEstimator(nn.Module):
    """``v(x_t (B, D_c, T), t (B,), cond (B, T, 2 D_style)) -> (B, D_c, T)``."""

    def __init__(self, cfg: JointConfig) -> None:
        super().__init__()
        w = cfg.width
        self.inp = nn.Linear(cfg.d_c + 2 * cfg.d_style + w, w)
        self.layer = _ConformerLayer(w, cfg.heads)
        self.out = nn.Linear(w, cfg.d_c)
        self.width = w

    def _time(self, t: torch.Tensor) -> torch.Tensor:
        half = self.width // 2
        freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device, dtype=t.dtype) / half)
        ang = t[:, None] * 1000.0 * freqs[None]
        return torch.cat([ang.sin(), ang.cos()], dim=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        temb = self._time(t)[:, None].expand(-1, x.shape[2], -1)
        h = self.inp(torch.cat([x.transpose(1, 2), cond, temb], dim=-1))
        return self.out(self.layer(h)).transpose(1, 2)


class MotionSampler(nn.Module):
    """The trainable motion side of the joint stage (mapper, normaliser, prior, velocity)."""

    def __init__(self, cfg: JointConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.mapper = AudioMapper(cfg)
        self.normaliser = MotionNormaliser(cfg)
        self.prior = ConformerPrior(cfg)
        self.velocity = VelocityEstimator(cfg)

    def sample(self, f_id: torch.Tensor, f_lip: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``f_id (B, D_style)``, ``f_lip (B, T_video, D_style)`` -> ``f_m (B, T_video, D_style)``
        (Euler from ``N(mu, I)``, ``cfg.steps`` steps; noise only from ``generator``)."""
        cond = torch.cat([f_id[:, None].expand_as(f_lip), f_lip], dim=-1)
        mu = self.prior(cond).transpose(1, 2)
        x0 = mu + torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
        f_c = euler_solve(lambda x, t: self.velocity(x, t, cond), x0, self.cfg.steps)
        return self.normaliser.decode(f_c.transpose(1, 2))


@dataclass
class JointLosses:
    """Unweighted motion-side terms (scalars) and the mapper's ``f_lip (B, T_video, D_style)``."""

    motion_ae: torch.Tensor
    motion_prior: torch.Tensor
    cfm: torch.Tensor
    f_lip: torch.Tensor


def joint_motion_losses(sampler: MotionSampler, f_id: torch.Tensor, f_m: torch.Tensor, e_t: torch.Tensor,
                        mu_y: torch.Tensor, generator: torch.Generator | None = None) -> JointLosses:
    """Motion-side losses for a clip.

    Args:
        f_id: ``(B, D_style)`` identity of the clip's source frame.
        f_m: ``(B, T_video, D_style)`` motion of every frame (from the TFG encoder; the target).
        e_t: ``(B, T_mel, d_text)``, mu_y: ``(B, T_mel, n_mels)`` TTS intermediates at the mel rate.
    """
    t_video = f_m.shape[1]
    f_lip = sampler.mapper(e_t, mu_y, t_video)
    f_c = sampler.normaliser.encode(f_m)
    ae = F.mse_loss(sampler.normaliser.decode(f_c), f_m)
    cond = torch.cat([f_id[:, None].expand_as(f_lip), f_lip], dim=-1)
    mu = sampler.prior(cond)
    target = f_c.detach()  # the prior and the flow fit the code; only the AE shapes it
    prior = F.mse_loss(mu, target)
    mask = torch.ones(target.shape[0], 1, t_video, device=target.device, dtype=target.dtype)
    velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = lambda x, t: sampler.velocity(x, t, cond)  # noqa: E731
    cfm = cfm_loss(velocity, target.transpose(1, 2), mask, generator, OTPath(sampler.cfg.sigma_min),
                   mu0=mu.detach().transpose(1, 2))
    return JointLosses(ae, prior, cfm, f_lip)


class JointObjective(nn.Module):
    """All eight terms of the paper's total loss on talking clips.

    Holds the reconstruction objective (TFG + discriminator), the motion sampler and an optional
    frozen SyncNet expert (not registered: not trained, not checkpointed). ``forward`` takes the
    TTS loss and intermediates computed by the TTS model for the same utterances."""

    def __init__(self, recon: nn.Module, sampler: MotionSampler, syncnet: nn.Module | None = None,
                 sync_frames: int = 5) -> None:
        super().__init__()
        self.recon, self.sampler, self.sync_frames = recon, sampler, sync_frames
        object.__setattr__(self, "_syncnet", syncnet)

    def _sync(self, fake: torch.Tensor, mel_windows: torch.Tensor | None) -> torch.Tensor:
        from .losses import sync_loss
        from .syncnet import mouth_region

        net = self._syncnet
        if net is None or mel_windows is None:
            return fake.new_zeros(())
        net.to(fake.device)  # unregistered: the model's .to() does not move it
        mouths = mouth_region(fake[:, : self.sync_frames], net.cfg.mouth_size)
        a, v = net(mouths, mel_windows)
        return sync_loss(a, v)

    def forward(self, source: torch.Tensor, frames: torch.Tensor, e_t: torch.Tensor, mu_y: torch.Tensor,
                tts_loss: torch.Tensor, mel_windows: torch.Tensor | None = None,
                generator: torch.Generator | None = None, source_code=None):
        """source ``(B, 3, H, W)``; frames ``(B, T_video, 3, H, W)`` of the same clip;
        e_t ``(B, T_mel, d_text)``, mu_y ``(B, T_mel, n_mels)``; tts_loss scalar; mel_windows
        ``(B, n_mels, T_mel_win)`` aligned with the first ``sync_frames`` frames (or None);
        source_code: ``tfg.encode(source)`` when the caller already has it (the joint stage
        encodes the source first to condition the TTS on its ``f_id``)."""
        from .training import ObjectiveOutput

        w, tfg = self.recon.weights, self.recon.tfg
        b, t = frames.shape[:2]
        src = tfg.encode(source) if source_code is None else source_code
        drv = tfg.encode(frames.flatten(0, 1))
        f_m = drv.f_m.view(b, t, -1)
        motion = joint_motion_losses(self.sampler, src.f_id, f_m, e_t, mu_y, generator)
        rep = type(src)(*(v.repeat_interleave(t, 0) for v in (src.f, src.alpha, src.f_m, src.f_id)),
                        [m.repeat_interleave(t, 0) for m in src.maps])
        fake = tfg.decode(rep, drv.f_m, motion.f_lip.flatten(0, 1))
        real = frames.flatten(0, 1)
        l1 = (fake - real).abs().mean()
        perc, ident = self.recon._feature_terms(fake, real, source.repeat_interleave(t, 0))
        g_adv, d_loss, _ = self.recon.adversarial(fake, real)
        sync = self._sync(fake.view(b, t, *fake.shape[1:]), mel_windows)
        total = (w.gan * (g_adv + d_loss) + w.reconstruction * (l1 + w.perceptual_ratio * perc) + w.identity * ident
                 + w.sync * sync + w.cfm * motion.cfm + w.motion_ae * motion.motion_ae
                 + w.motion_prior * motion.motion_prior + w.tts * tts_loss)
        parts = {"l1": l1, "perceptual": perc, "identity": ident, "g_adv": g_adv, "d_loss": d_loss, "sync": sync,
                 "cfm": motion.cfm, "motion_ae": motion.motion_ae, "motion_prior": motion.motion_prior, "tts": tts_loss}
        return ObjectiveOutput(total, {k: v.detach() for k, v in parts.items()}, fake)
