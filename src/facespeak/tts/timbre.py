"""Voice timbre from the face (a formant shift chosen by the face's identity) and the user's pitch shift.

Why (docs/decisions.md #21): the TTS learns its face-to-voice map from a few dozen face-voice
pairs, so faces unlike the training faces get voices near the average voice of their gender,
and held-out people of one gender end up sounding alike. The strongest cue a speaker encoder
(and a listener) uses to tell same-gender voices apart is where the formants sit, i.e. the
length of the vocal tract. This module moves the spectral envelope of the TTS's mel up or down
by a number of cents chosen from the face, so each person keeps their own timbre.

Two parts:

* :func:`shift_voice` (mel domain, before the vocoder): split each log-mel frame into a
  smooth envelope (the first ``lifter`` coefficients of its DCT along the mel axis) and the
  fine structure (harmonics, noise); warp the envelope's frequency axis by ``2 ** (cents/1200)``
  and the fine structure's by ``2 ** (pitch_cents/1200)``, and add them. With pitch 0 the
  formants move and F0 stays where the TTS put it (docs/benchmarks.md, "Voice timbre"); the
  fine-structure warp moves F0 by the same ratio (the vocoder follows the harmonics: +200 cents
  took a female voice from 204 to 229 Hz, decisions.md #35). Timing is untouched, so lips stay in sync.
* :class:`TimbreMap` (face -> cents): within each apparent gender, the identity feature is
  standardised (as the TTS's LayerNorm does), centred on the mean of a population of training
  persons, projected on that population's first ``k`` principal directions and each score
  divided by its *leave-one-out* spread (how far a person not in the fit projects: in-sample
  scores of 10-20 persons in 256 dimensions overstate it). The scores are combined with equal
  weights (a fixed direction in the whitened space, so no single trait decides) and squashed:
  ``cents = max_cents * tanh(z)``. The same face always gets the same shift; frames of one
  face video differ by little (identity features are motion-free). The pitch is not chosen from
  the face: a face-chosen pitch cost quality and did not separate voices (decisions.md #35);
  it is the user's knob (``SpeechOptions.pitch_shift``).

The face-voice pairing of our corpus is arbitrary within a gender (docs/datasheet_speech.md),
so there is no real face-to-timbre correlation to learn; the map is a fixed, documented,
deterministic spread, not a claim about how faces and voices relate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from facespeak.audio.mel import slaney_band_edges_hz
from facespeak.core.checkpoint import load_checkpoint, save_checkpoint
from facespeak.core.errors import CheckpointError, InputError
from facespeak.core.timing import MelSpec

__all__ = ["shift_voice", "TIMBRE_ARCH", "TimbreMap", "DEFAULT_LIFTER"]

# the user-facing limits of the shifts (MAX_SHIFT_CENTS, MAX_PITCH_CENTS) live with the options (facespeak.options)
DEFAULT_LIFTER = 20  # DCT coefficients kept as the envelope (of 80 mel bins)
_FEMALE, _MALE = 0, 1


def _mel_centres(spec: MelSpec) -> np.ndarray:
    return slaney_band_edges_hz(spec.n_mels, spec.fmin, spec.fmax)[1:-1]


def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II as an (n, n) matrix (rows = coefficients)."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.cos(np.pi * (i + 0.5) * k / n) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d


def _warp_matrix(cents: float, centres: np.ndarray) -> np.ndarray:
    """(n, n): row k samples the input's log-mel at centre_k / 2^(cents/1200) (linear
    interpolation between bin centres, clamped at the band edges)."""
    n = len(centres)
    src = np.clip(centres / 2.0 ** (cents / 1200.0), centres[0], centres[-1])
    j = np.clip(np.searchsorted(centres, src) - 1, 0, n - 2)
    t = (src - centres[j]) / (centres[j + 1] - centres[j])
    m = np.zeros((n, n))
    m[np.arange(n), j] = 1.0 - t
    m[np.arange(n), j + 1] += t
    return m


def shift_matrix(cents: float, spec: MelSpec = MelSpec(), lifter: int = DEFAULT_LIFTER,
                 pitch_cents: float = 0.0) -> torch.Tensor:
    """(n_mels, n_mels) float32 A with ``shifted = A @ log_mel``: ``W_f P + W_p (I - P)``, P the
    envelope projector (first ``lifter`` DCT coefficients), W_f the frequency warp by ``cents``
    (formants) and W_p the one by ``pitch_cents`` (the fine structure: harmonics, so F0)."""
    if not 1 <= lifter <= spec.n_mels:
        raise ValueError(f"lifter: expected 1..{spec.n_mels}, got {lifter}")
    d = _dct_matrix(spec.n_mels)
    p = d[:lifter].T @ d[:lifter]
    centres = _mel_centres(spec)
    fine = np.eye(spec.n_mels) - p
    a = _warp_matrix(float(cents), centres) @ p + _warp_matrix(float(pitch_cents), centres) @ fine  # 0 cents: identity
    return torch.from_numpy(a.astype(np.float32))


def shift_voice(mel: torch.Tensor, cents: float | torch.Tensor, spec: MelSpec = MelSpec(),
                lifter: int = DEFAULT_LIFTER, pitch_cents: float = 0.0) -> torch.Tensor:
    """Log-mel ``(B, n_mels, T)`` -> same shape with each item's spectral envelope (formants)
    moved by ``cents`` (a float, or a ``(B,)`` tensor: one shift per item) and its harmonics
    (pitch) by ``pitch_cents``. Both 0 return ``mel`` unchanged."""
    if mel.dim() != 3 or mel.shape[1] != spec.n_mels:
        raise ValueError(f"mel: expected (B, {spec.n_mels}, T), got {tuple(mel.shape)}")
    per_item = torch.as_tensor(cents, dtype=torch.float64).flatten()
    if per_item.numel() == 1:
        per_item = per_item.expand(mel.shape[0])
    if per_item.numel() != mel.shape[0]:
        raise ValueError(f"cents: expected 1 or {mel.shape[0]} values, got {per_item.numel()}")
    if bool((per_item == 0).all()) and not pitch_cents:
        return mel
    a = torch.stack([shift_matrix(float(c), spec, lifter, pitch_cents) for c in per_item]).to(mel)  # (B, n, n)
    return torch.bmm(a, mel)


def _standardise(x: np.ndarray) -> np.ndarray:
    """Per vector: zero mean, unit variance over features (the TTS's LayerNorm without affine)."""
    x = x - x.mean(-1, keepdims=True)
    return x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-5)


def _principal_directions(means: np.ndarray, k: int) -> np.ndarray:
    """(k, D) unit rows; each sign fixed so its largest-magnitude entry is positive."""
    _, _, vt = np.linalg.svd(means - means.mean(0), full_matrices=False)
    vt = vt[:k]
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])
    return vt * signs[:, None]


TIMBRE_ARCH = "facespeak.tts.timbre"


@dataclass
class TimbreMap:
    """Face identity feature -> formant shift in cents (see the module docstring).

    mean (2, D), directions (2, k, D), spread (2, k): index 0 = female, 1 = male (gender score
    < 0 / >= 0, the TTS's ``P(male) - P(female)`` convention)."""

    mean: np.ndarray
    directions: np.ndarray
    spread: np.ndarray
    max_cents: float = 300.0
    persons: tuple[int, int] = (0, 0)  # population sizes (female, male), for the record

    @classmethod
    def fit(cls, features: np.ndarray, person: np.ndarray, gender: np.ndarray, k: int = 4,
            max_cents: float = 300.0) -> "TimbreMap":
        """features (N, D) identity views; person (N,) ids; gender (N,) +1 male / -1 female.
        Needs at least k + 2 persons of each gender."""
        feats = _standardise(np.asarray(features, dtype=np.float64))
        person, gender = np.asarray(person), np.asarray(gender)
        means, dirs, spreads, counts = [], [], [], []
        for g in (-1, 1):
            ids = [p for p in np.unique(person) if gender[person == p][0] == g]
            if len(ids) < k + 2:
                raise InputError(f"timbre map: {len(ids)} {'male' if g > 0 else 'female'} persons, need >= {k + 2}")
            pm = np.stack([feats[person == p].mean(0) for p in ids])
            loo = []  # each person projected on directions fitted without them
            for i in range(len(pm)):
                rest = np.delete(pm, i, 0)
                d = _principal_directions(rest, k)
                loo.append((pm[i] - rest.mean(0)) @ d.T)
            means.append(pm.mean(0))
            dirs.append(_principal_directions(pm, k))
            spreads.append(np.sqrt((np.asarray(loo) ** 2).mean(0)))
            counts.append(len(ids))
        return cls(np.stack(means), np.stack(dirs), np.stack(spreads), float(max_cents), (counts[0], counts[1]))

    def score(self, feature: np.ndarray, gender_score: float) -> float:
        """The face's position z (about unit spread over a population) on the timbre axis."""
        g = _MALE if gender_score >= 0 else _FEMALE
        x = _standardise(np.asarray(feature, dtype=np.float64).reshape(-1))
        if x.shape[0] != self.mean.shape[1]:
            raise ValueError(f"feature: expected {self.mean.shape[1]} values, got {x.shape[0]}")
        proj = (x - self.mean[g]) @ self.directions[g].T / self.spread[g]
        return float(proj.sum() / math.sqrt(len(proj)))

    def cents(self, feature: np.ndarray, gender_score: float) -> float:
        """The face's formant shift, cents."""
        return float(self.max_cents * math.tanh(self.score(feature, gender_score)))

    def save(self, path: str | Path, note: str = "") -> None:
        """Write through :func:`facespeak.core.checkpoint.save_checkpoint` (arch :data:`TIMBRE_ARCH`)."""

        state = {k: torch.from_numpy(np.asarray(v, dtype=np.float32))
                 for k, v in (("mean", self.mean), ("directions", self.directions), ("spread", self.spread))}
        save_checkpoint(path, state, TIMBRE_ARCH, {"max_cents": self.max_cents, "persons": list(self.persons)},
                        extra={"note": note})

    @classmethod
    def load(cls, path: str | Path) -> "TimbreMap":
        """A map written by :meth:`save`, or by the earlier writer (its own metadata: max_cents,
        persons; the bundled map)."""
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), "np") as f:
                meta = f.metadata() or {}
        except (OSError, ValueError, SafetensorError) as exc:  # missing file, not safetensors
            raise CheckpointError(f"cannot read timbre map {path}: {exc}") from exc
        if meta.get("arch") != TIMBRE_ARCH:
            raise CheckpointError(f"{path} is not a timbre map (arch {meta.get('arch')!r})")
        state, info = load_checkpoint(path, arch=TIMBRE_ARCH) if "facespeak_format" in meta else (None, None)
        config = info.config if info is not None else {"max_cents": float(meta["max_cents"]),
                                                        "persons": json.loads(meta.get("persons", "[0, 0]"))}
        if state is None:
            from safetensors.torch import load_file

            state = load_file(str(path))
        t = {k: state[k].numpy().astype(np.float64) for k in ("mean", "directions", "spread")}
        return cls(t["mean"], t["directions"], t["spread"], float(config["max_cents"]), tuple(config["persons"]))
