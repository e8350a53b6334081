"""Face-conditioned Matcha-style TTS (Matcha-TTS, Mehta et al. 2024; TTSF, Jang et al. 2024 §3.2).

The face feature (f_id, motion removed; or f for the ablation) replaces Matcha's speaker
embedding and conditions both the text encoder and the flow-matching decoder.
Spectrograms are channels-first: (B, n_mels, T_mel), natural-log mel magnitudes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..core.flow_matching import OTPath, cfm_loss, euler_solve, sample_noise
from .alignment import beta_binomial_log_prior, durations_to_path, monotonic_alignment_search, sequence_mask
from .config import TTSConfig
from .decoder import UNet1DDecoder
from .text_encoder import DurationPredictor, TextEncoder

__all__ = ["FaceTTS", "TTSLosses", "TTSIntermediates", "SynthesisOutput"]

LOG_2PI = math.log(2 * math.pi)


@dataclass
class TTSLosses:
    duration: torch.Tensor
    prior: torch.Tensor
    cfm: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        return self.duration + self.prior + self.cfm


@dataclass
class TTSIntermediates:
    """What the TFG side of the joint stage needs from a training forward (TTSF Fig. 3):
    e_t (B, C, T_mel) text embedding upsampled to mel frames by the MAS path; mu_y
    (B, n_mels, T_mel) duration-upsampled text feature (f~_t, normalised-mel units);
    mel_mask (B, 1, T_mel) 1 on valid frames; path (B, T_text, T_mel) the MAS alignment."""

    e_t: torch.Tensor
    mu_y: torch.Tensor
    mel_mask: torch.Tensor
    path: torch.Tensor


@dataclass
class SynthesisOutput:
    """mel (B, n_mels, T_mel) log-mel; mel_lengths (B,); durations (B, T_text) in mel frames;
    e_t (B, C, T_text) text embedding; mu_y (B, n_mels, T_mel) duration-upsampled text feature
    (the paper's f~_t, normalised-mel units); path (B, T_text, T_mel)."""

    mel: torch.Tensor
    mel_lengths: torch.Tensor
    durations: torch.Tensor
    e_t: torch.Tensor
    mu_y: torch.Tensor
    path: torch.Tensor


class FaceTTS(nn.Module):
    def __init__(self, cfg: TTSConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # LayerNorm over the face feature only; extra columns (gender score) join after it
        self.cond = nn.Sequential(nn.LayerNorm(cfg.cond_dim), nn.Linear(cfg.cond_width, cfg.spk_dim * 2), nn.SiLU(),
                                  nn.Linear(cfg.spk_dim * 2, cfg.spk_dim))
        self.encoder = TextEncoder(cfg.encoder, cfg.n_vocab, cfg.n_mels, cfg.spk_dim)
        self.duration = DurationPredictor(cfg.duration, cfg.encoder.channels, cfg.spk_dim)
        self.decoder = UNet1DDecoder(cfg.decoder, cfg.n_mels, cfg.spk_dim)
        self.path = OTPath(cfg.sigma_min)

    # -- helpers ---------------------------------------------------------------------------
    def normalise(self, mel: torch.Tensor) -> torch.Tensor:
        return (mel - self.cfg.mel_mean) / self.cfg.mel_std

    def denormalise(self, mel: torch.Tensor) -> torch.Tensor:
        return mel * self.cfg.mel_std + self.cfg.mel_mean

    def speaker_embedding(self, cond: torch.Tensor, gender_guidance: float = 0.0) -> torch.Tensor:
        """cond (B, D_cond) face feature [+ gender score] -> (B, spk_dim).

        ``gender_guidance`` in [0, 1] (gender-conditioned models only) blends the face's
        embedding with the embedding of its gender score alone (face part zeroed, as seen in
        training through ``face_dropout``) when the face's embedding is nearer the opposite
        gender's: 0 = face only, 1 = the gender's average voice (decisions.md #16)."""
        if cond.shape[1] != self.cfg.cond_width:
            raise ValueError(f"cond: expected {self.cfg.cond_width} columns, got {cond.shape[1]}")
        spk = self._embed(cond)
        if gender_guidance > 0 and self.cfg.gender_cond:
            own, _, wrong = self._gender_voices(cond, spk)
            # only voices that lean to the other gender's average are pulled back
            spk = torch.where(wrong[:, None], (1.0 - gender_guidance) * spk + gender_guidance * own, spk)
        return spk

    def _gender_voices(self, cond: torch.Tensor, spk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> embeddings of the gender score alone and of the opposite score (B, spk_dim) each, and
        whether the face's voice leans to the other gender's average (B,) bool."""
        zero = torch.zeros_like(cond[:, :self.cfg.cond_dim])
        g = cond[:, self.cfg.cond_dim:]
        own, other = self._embed(torch.cat([zero, g], dim=1)), self._embed(torch.cat([zero, -g], dim=1))
        return own, other, F.cosine_similarity(spk, other, dim=1) > F.cosine_similarity(spk, own, dim=1)

    def _embed(self, cond: torch.Tensor) -> torch.Tensor:
        x = self.cond[0](cond[:, :self.cfg.cond_dim])
        if self.cfg.gender_cond:
            x = torch.cat([x, cond[:, self.cfg.cond_dim:]], dim=1)
        return self.cond[3](self.cond[2](self.cond[1](x)))

    def _encode(self, ids: torch.Tensor, x_lengths: torch.Tensor, cond: torch.Tensor, gender_guidance: float = 0.0):
        x_mask = sequence_mask(x_lengths, ids.shape[1]).unsqueeze(1).to(cond.dtype)
        spk = self.speaker_embedding(cond, gender_guidance)
        mu_x, e_t = self.encoder(ids, x_mask, spk)
        logw = self.duration(e_t.detach(), x_mask, spk)
        return x_mask, spk, mu_x, e_t, logw

    # -- training --------------------------------------------------------------------------
    def forward(self, *args, **kwargs) -> TTSLosses:
        """Same as :meth:`compute_losses` (so DDP wrappers see a forward)."""
        return self.compute_losses(*args, **kwargs)

    def compute_losses(
        self, ids: torch.Tensor, x_lengths: torch.Tensor, mel: torch.Tensor, mel_lengths: torch.Tensor,
        cond: torch.Tensor, generator: torch.Generator | None = None, return_intermediates: bool = False,
    ) -> TTSLosses | tuple[TTSLosses, TTSIntermediates]:
        """ids (B, T_text) long; mel (B, n_mels, T_mel) log-mel (unnormalised); cond (B, D_cond).

        ``return_intermediates``: also return :class:`TTSIntermediates` (joint TTS+TFG stage);
        they carry gradients to the text encoder (and through ``cond`` to its source)."""
        if self.training and self.cfg.cond_dropout > 0:
            keep = (torch.rand(cond.shape[0], 1, device=cond.device, generator=generator) >= self.cfg.cond_dropout)
            cond = cond * keep.to(cond.dtype)
        y = self.normalise(mel)
        x_mask, spk, mu_x, e_t, logw = self._encode(ids, x_lengths, cond)
        y_mask = sequence_mask(mel_lengths, y.shape[-1]).unsqueeze(1).to(y.dtype)
        with torch.no_grad():  # Glow-TTS eq. 7: log N(y_j; mu_i, I) for all (i, j)
            logp = (torch.bmm(mu_x.transpose(1, 2), y) - 0.5 * (y**2).sum(1, keepdim=True)
                    - 0.5 * (mu_x**2).sum(1).unsqueeze(-1) - 0.5 * LOG_2PI * y.shape[1])
            if self.cfg.align_prior_weight > 0:
                logp = logp + self.cfg.align_prior_weight * beta_binomial_log_prior(
                    x_lengths, mel_lengths, logp.shape[1], logp.shape[2], self.cfg.align_prior_scale).to(logp)
            path = monotonic_alignment_search(logp, x_lengths, mel_lengths)
        logw_target = torch.log(1e-8 + path.sum(-1)).unsqueeze(1) * x_mask
        dur_loss = ((logw - logw_target) ** 2).sum() / x_mask.sum()
        mu_y = torch.bmm(mu_x, path)  # (B, n_mels, T_mel)
        prior = (0.5 * ((y - mu_y) ** 2 + LOG_2PI) * y_mask).sum() / (y_mask.sum() * y.shape[1])
        ys, mus, ms = self._random_segments(y, mu_y, mel_lengths, generator)
        cfm = cfm_loss(lambda xt, t: self.decoder(xt, ms, mus, t, spk), ys, ms, generator=generator, path=self.path)
        losses = TTSLosses(duration=dur_loss, prior=prior, cfm=cfm)
        if not return_intermediates:
            return losses
        return losses, TTSIntermediates(e_t=torch.bmm(e_t, path), mu_y=mu_y, mel_mask=y_mask, path=path)

    def _random_segments(self, y: torch.Tensor, mu_y: torch.Tensor, lengths: torch.Tensor, generator):
        seg = self.cfg.segment_frames
        m = self.decoder.length_multiple
        seg = ((seg + m - 1) // m) * m
        b = y.shape[0]
        ys = y.new_zeros(b, y.shape[1], seg)
        mus = y.new_zeros(b, y.shape[1], seg)
        ms = y.new_zeros(b, 1, seg)
        for i in range(b):
            n = int(lengths[i])
            start = int(torch.randint(0, max(n - seg, 0) + 1, (1,), generator=generator)) if n > seg else 0
            L = min(seg, n)
            ys[i, :, :L] = y[i, :, start:start + L]
            mus[i, :, :L] = mu_y[i, :, start:start + L]
            ms[i, :, :L] = 1.0
        return ys, mus, ms

    # -- inference -------------------------------------------------------------------------
    def _velocity(self, cond: torch.Tensor, spk: torch.Tensor, y_mask: torch.Tensor, mu_y: torch.Tensor,
                  face_guidance: float):
        """Decoder velocity ``v(x (B, n_mels, T_mel), t)`` with optional face guidance."""
        if face_guidance == 1.0 or not self.cfg.gender_cond:
            return lambda x, t: self.decoder(x, y_mask, mu_y, t, spk)
        own, other, wrong = self._gender_voices(cond, self._embed(cond))
        axis = F.normalize(other - own, dim=1)
        ref = own + ((spk - own) * axis).sum(1, keepdim=True) * axis  # personal part removed
        w = torch.where(wrong, 1.0, face_guidance).to(spk.dtype)[:, None, None]  # (B, 1, 1)
        spk2 = torch.cat([spk, ref])
        mask2, mu2 = torch.cat([y_mask, y_mask]), torch.cat([mu_y, mu_y])
        b = spk.shape[0]

        def v(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            both = self.decoder(torch.cat([x, x]), mask2, mu2, torch.cat([t, t]), spk2)
            v_face, v_ref = both[:b], both[b:]
            return v_ref + w * (v_face - v_ref)
        return v

    @torch.inference_mode()
    def synthesise(
        self, ids: torch.Tensor, x_lengths: torch.Tensor, cond: torch.Tensor, n_steps: int = 10,
        temperature: float = 0.667, length_scale: float = 1.0, generator: torch.Generator | None = None,
        gender_guidance: float = 0.0, face_guidance: float = 1.0, on_step: Callable[[int], None] | None = None,
    ) -> SynthesisOutput:
        """Text ids (B, T_text) + face feature (B, D_cond) -> mel and the TFG intermediates.

        ``face_guidance`` w (gender-conditioned models trained with face dropout): classifier-free
        guidance of the decoder's velocity on what is personal in the face,
        ``v = v_ref + w (v_face - v_ref)``. ``v_ref`` is the velocity for the face's embedding with
        its personal part removed: the gender-only embedding ``own`` (face part zeroed, as seen in
        training through face dropout) plus the face's offset from it *along* the gender axis
        (``other - own``). So w > 1 amplifies only what sets this face apart from others of its
        gender and never moves the voice across genders; 1 = off (decisions.md #18). Faces whose
        voice leans to the other gender's average get no guidance. Costs a second decoder pass
        per step. ``on_step(i)`` is called before decoder step i (progress, or cancellation by
        raising); the solver stays a pure function of the velocity."""
        x_mask, spk, mu_x, e_t, logw = self._encode(ids, x_lengths, cond, gender_guidance)
        dur = torch.ceil(torch.exp(logw) * length_scale).clamp_min(1.0) * x_mask  # (B, 1, T_text)
        dur = dur.squeeze(1).long()
        y_lengths = dur.sum(1).clamp_min(1)
        m = self.decoder.length_multiple
        t_y = int(((int(y_lengths.max()) + m - 1) // m) * m)
        y_mask = sequence_mask(y_lengths, t_y).unsqueeze(1).to(mu_x.dtype)
        path = durations_to_path(dur, x_mask.squeeze(1), y_mask.squeeze(1))
        mu_y = torch.bmm(mu_x, path)
        z = sample_noise(tuple(mu_y.shape), generator, mu_y.device, mu_y.dtype, temperature)
        velocity = self._velocity(cond, spk, y_mask, mu_y, face_guidance)
        if on_step is not None:
            velocity = _reporting(velocity, on_step)
        y = euler_solve(velocity, z, n_steps) * y_mask
        return SynthesisOutput(mel=self.denormalise(y) * y_mask, mel_lengths=y_lengths, durations=dur,
                               e_t=e_t, mu_y=mu_y, path=path)


def _reporting(velocity: Callable, on_step: Callable[[int], None]) -> Callable:
    """``velocity`` that calls ``on_step(i)`` before its i-th evaluation."""
    calls = itertools.count()

    def v(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        on_step(next(calls))
        return velocity(x, t)
    return v
