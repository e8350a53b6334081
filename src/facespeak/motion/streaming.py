"""Learned motion planned piece by piece as speech arrives (`say --stream`, docs/architecture.md
"Streaming").

The one-shot plan (facespeak.pipeline.plan_motion) needs the whole utterance: the audio mapper's
convolutions see up to ~120 frames either side, the motion sampler's windows are laid out over
the whole sequence, the pose is low-passed across it and the silence gate's levels are relative
to its loudest frame. :class:`MotionStream` plans a *segment* (the video frames a new speech
chunk completes) as soon as it arrives, and releases every frame whose motion can no longer
change:

- lips: the mapper runs on the segment with its receptive field of earlier features on the left
  and, on the right, the segment's last feature frame repeated (what follows a chunk is its
  pause, which repeats that frame), so a segment's lips are final when it arrives;
- silence gate: levels relative to the loudest frame so far (``relative_db(..., peak=)``);
- head motion: sampler windows laid out from the segment's start with the previous segment's
  last ``context`` codes as known codes (:func:`facespeak.motion.sampler.generate_codes`
  ``known=``); the last ``context // 2`` codes of a segment are cross-faded by the next one, so
  they, the normaliser decoder's radius after them and the pose filter's radius after that are
  held back until the next segment (or the end): 14 frames at the defaults.

Decoding, clamping, the pose filter and the ease-in act frame by frame or with a bounded radius,
so the streamed frames equal those of decoding and filtering the streamed codes in one pass.
Every random draw comes from one generator in window order: same inputs and seed -> same plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from ..audio.levels import relative_db
from ..core.errors import InputError
from .articulation import ArticulationConfig, articulate
from .audio_mapper import AudioMapper
from .sampler import MotionSampler, SamplingOptions, generate_codes, sampler_condition
from .silence import gate_lips

__all__ = ["POSE_SIGMA_FRAMES", "StreamMotionConfig", "MotionStream", "mapper_radius", "decoder_radius"]

_TRUNCATE = 4.0  # gaussian_filter1d's default: radius = int(4 sigma + 0.5)
#: the head pose's Gaussian low-pass, video frames (one value for the streamed and the one-shot
#: plan; decisions.md #41: 4 frames, with head motion x1.3, keeps the frame-to-frame landmark jump
#: within real video's where 1.5 frames at x1.7 moved the head about twice as fast)
POSE_SIGMA_FRAMES = 4.0


@dataclass(frozen=True)
class StreamMotionConfig:
    """``pose_sigma`` video frames (the pose low-pass), ``ease_in_frames`` (the pose grows from the
    photo's own over these), ``still`` (lips only), ``gate`` (silence gate on), ``steps`` (sampler
    Euler steps, None = its config), ``articulation`` (the jaw opening scaled before the gate:
    facespeak.motion.articulation; the sampler still sees the mapper's lips)."""
    pose_sigma: float = POSE_SIGMA_FRAMES
    ease_in_frames: float = 10.0
    still: bool = False
    gate: bool = True
    steps: int | None = None
    articulation: ArticulationConfig = ArticulationConfig()


def mapper_radius(mapper: AudioMapper) -> int:
    """Frames either side a mapper output depends on (stacked MRF layers of dilated convs)."""
    cfg = mapper.cfg
    per_block = max(sum((k - 1) // 2 * d + (k - 1) // 2 for d in cfg.dilations) for k in cfg.kernels)
    return cfg.n_mrf * per_block


def decoder_radius(sampler: MotionSampler) -> int:
    """Frames either side the motion normaliser's decoder reads."""
    cfg = sampler.cfg.normaliser
    return cfg.layers * (cfg.kernel // 2)


class MotionStream:
    """Segments of features in, final motion out. :meth:`push` takes the next ``(n, D_in)``
    mapper features and ``(n,)`` RMS levels (linear) of n new video frames and returns the frames
    now final: ``(lips (m, 4) gated, nonlip (m, 8) or None when still)``; :meth:`finish` returns
    the rest. Frames come out in order, each exactly once."""

    def __init__(self, mapper: AudioMapper, sampler: MotionSampler, seed: int, cfg: StreamMotionConfig) -> None:
        self.mapper, self.sampler, self.cfg = mapper, sampler, cfg
        self.gen = torch.Generator().manual_seed(int(seed))
        self.opts = SamplingOptions(steps=cfg.steps)
        self.r_map, self.r_dec = mapper_radius(mapper), decoder_radius(sampler)
        self.r_pose = int(_TRUNCATE * cfg.pose_sigma + 0.5)
        self.ctx = sampler.cfg.context
        self.n_in = 0  # frames pushed
        self.peak = 0.0  # loudest frame so far
        self.feats = np.zeros((0, mapper.cfg.d_in), np.float32)  # the last r_map frames (left context)
        self.lips: list[np.ndarray] = []  # gated lips not yet released
        self.cond = torch.zeros(1, 0, sampler.cfg.d_cond)  # the last ctx frames
        self.codes = torch.zeros(1, 0, sampler.cfg.normaliser.d_code)  # from frame code_base on
        self.code_base = 0
        self.decoded = np.zeros((0, 8))  # decoded motion from frame dec_base on (pose-filter context)
        self.dec_base = 0
        self.n_out = 0  # frames released

    @torch.inference_mode()
    def push(self, feats: np.ndarray, rms: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        feats, rms = np.asarray(feats, np.float32), np.asarray(rms, np.float64)
        if feats.ndim != 2 or feats.shape[1] != self.mapper.cfg.d_in or rms.shape != (len(feats),):
            raise InputError(f"motion stream: expected features (n, {self.mapper.cfg.d_in}) and levels (n,), "
                             f"got {feats.shape} and {rms.shape}")
        if not len(feats):
            return self._release(final=False)
        lips = self._lips(feats)
        shaped = articulate(lips, self.cfg.articulation)
        self.peak = max(self.peak, float(rms.max()))
        gated = gate_lips(shaped, relative_db(rms, peak=self.peak)) if self.cfg.gate else shaped
        self.lips.append(gated)
        self.n_in += len(feats)
        if not self.cfg.still:
            self._codes(lips, feats[:, -1:])
        return self._release(final=False)

    @torch.inference_mode()
    def finish(self) -> tuple[np.ndarray, np.ndarray | None]:
        return self._release(final=True)

    # -- stages ------------------------------------------------------------------------------
    def _lips(self, feats: np.ndarray) -> np.ndarray:
        """Mapper over [left context, the segment, its last frame repeated] -> the segment's lips."""
        left = self.feats
        right = np.repeat(feats[-1:], self.r_map, axis=0)
        x = torch.from_numpy(np.concatenate([left, feats, right]))[None]
        lips = self.mapper(x)[0, len(left):len(left) + len(feats)]
        self.feats = np.concatenate([left, feats])[-self.r_map:] if self.r_map else left
        return lips.double().numpy()

    def _codes(self, lips: np.ndarray, energy: np.ndarray) -> None:
        """Sample the segment's codes, continuing the previous ones."""
        cond = sampler_condition(torch.from_numpy(lips).float()[None], torch.from_numpy(energy)[None])
        c = min(self.ctx, self.cond.shape[1])
        known = self.codes[:, self.codes.shape[1] - c:] if c else None
        window = torch.cat([self.cond[:, self.cond.shape[1] - c:], cond], dim=1)
        new = generate_codes(self.sampler, window, self.gen, self.opts, known=known)
        self.codes = torch.cat([self.codes[:, :self.codes.shape[1] - c], new], dim=1)
        self.cond = window[:, -self.ctx:]

    def _release(self, final: bool) -> tuple[np.ndarray, np.ndarray | None]:
        if self.cfg.still:
            end = self.n_in
            nonlip = None
        else:
            end = self.n_in if final else max(self.n_out, self.n_in - self.ctx // 2 - self.r_dec - self.r_pose)
            nonlip = self._nonlip(end, final)
        lips = np.concatenate(self.lips) if self.lips else np.zeros((0, 4))
        out, rest = lips[:end - self.n_out], lips[end - self.n_out:]
        self.lips = [rest] if len(rest) else []
        self.n_out = end
        return out, nonlip

    def _nonlip(self, end: int, final: bool) -> np.ndarray:
        """Decoded, clamped, pose-filtered and eased-in motion (n, 8) of frames [n_out, end)."""
        codes_final = self.code_base + self.codes.shape[1] - (0 if final else self.ctx // 2)
        dec_end = codes_final if final else codes_final - self.r_dec
        dec_from = self.dec_base + len(self.decoded)
        if dec_end > dec_from:  # decode with the decoder's radius of codes on each side
            lo = max(self.code_base, dec_from - self.r_dec)
            window = self.codes[:, lo - self.code_base:codes_final - self.code_base]
            motion = self.sampler.normaliser.decode(window)[0].double().numpy()
            motion = motion[dec_from - lo:dec_end - lo]
            motion[:, 5:] = np.clip(motion[:, 5:], 0.0, 1.0)
            self.decoded = np.concatenate([self.decoded, motion])
        out = np.zeros((end - self.n_out, 8))
        if end > self.n_out:
            lo = max(self.dec_base, self.n_out - self.r_pose)
            hi = self.dec_base + len(self.decoded)
            rows = self.decoded[lo - self.dec_base:hi - self.dec_base]
            pose = gaussian_filter1d(rows[:, :5], self.cfg.pose_sigma, axis=0, mode="nearest", truncate=_TRUNCATE)
            out[:, :5] = pose[self.n_out - lo:end - lo]
            out[:, 5:] = rows[self.n_out - lo:end - lo, 5:]
            t = np.arange(self.n_out, end)
            out[:, :5] *= np.clip(t / max(self.cfg.ease_in_frames, 1.0), 0.0, 1.0)[:, None]
        self._trim(end)
        return out

    def _trim(self, released: int) -> None:
        """Keep only the codes and decoded rows later frames still read (flat memory)."""
        keep_codes = max(self.code_base, min(released, self.code_base + self.codes.shape[1]) - self.ctx - self.r_dec)
        self.codes = self.codes[:, keep_codes - self.code_base:]
        self.code_base = keep_codes
        keep_dec = max(self.dec_base, released - self.r_pose)
        self.decoded = self.decoded[keep_dec - self.dec_base:]
        self.dec_base = keep_dec
