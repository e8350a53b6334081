"""Identity feature with motion removal: ``f_id = f - f_m`` (TTSF, Jang et al. CVPR 2024, Sec. 3).

TTSF conditions its TTS on the motion-removed visual feature of LIA (Wang et al., "Latent Image
Animator", ICLR 2022): an encoder gives ``f``; an MLP gives magnitudes ``alpha`` (M = 20) over a
learned orthonormal basis ``Q`` (the QR factor of a learned matrix, as in LIA); ``f_m = Q alpha``
and ``f_id = f - f_m``. Here the same structure sits on a per-face feature vector instead of
pixels (see docs/identity.md):

- ``descriptor``: dlib's 128-d face descriptor (ResNet, ``face-recognition-models``), computed on
  a chip aligned by dlib's 5-point shape predictor inside our detector box: a strong pretrained
  identity backbone, partly sensitive to expression and pose;
- ``geometry``: the 468 face-mesh points with the head pose removed by a 3-D similarity
  Procrustes fit to MediaPipe's canonical face (cm, y up, z to the viewer), minus that
  canonical face: face shape (identity) plus expression (motion);
- ``measures``: head pose and mouth/eye/brow measures (:func:`motion_targets`): the pose is
  otherwise invisible (the geometry is pose-free, the descriptor uses an aligned chip).

``IdentityEncoder`` standardises the concatenation with stored statistics, maps it to ``f``
``(B, D_id)``, predicts ``alpha (B, M)`` from ``f`` and removes ``f_m``. Its first
``N_MOTION_TARGETS`` magnitudes are trained to equal standardised motion measurements of the
face (yaw, pitch, roll, mouth opening/width, eye opening, brow raise; :func:`motion_targets`),
so ``f_m`` demonstrably carries the motion.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..assets import asset_path
from ..core.checkpoint import load_checkpoint, save_checkpoint
from ..core.config import from_dict, to_dict
from ..core.errors import CheckpointError, DependencyError, InputError
from .analysis import Face
from .pose import N_MODEL_POINTS, canonical_face_model

__all__ = [
    "ARCH",
    "DESCRIPTOR_DIM",
    "GEOMETRY_DIM",
    "INPUT_DIM",
    "N_MOTION_TARGETS",
    "MOTION_TARGET_NAMES",
    "IdentityConfig",
    "IdentityOutput",
    "IdentityEncoder",
    "IdentityFeatures",
    "IdentityExtractor",
    "descriptor_in_box",
    "face_descriptor",
    "mesh_geometry",
    "motion_targets",
    "identity_input",
    "bundled_identity_path",
]

log = logging.getLogger(__name__)

ARCH = "identity"
DESCRIPTOR_DIM = 128
GEOMETRY_DIM = N_MODEL_POINTS * 3
MOTION_TARGET_NAMES = ("yaw", "pitch", "roll", "mouth_open", "mouth_width", "right_eye_open",
                       "left_eye_open", "brow_raise")
N_MOTION_TARGETS = len(MOTION_TARGET_NAMES)
INPUT_DIM = DESCRIPTOR_DIM + GEOMETRY_DIM + N_MOTION_TARGETS

# Face-mesh indices (MediaPipe topology; "right"/"left" are the subject's).
_LIPS_INNER = (13, 14)  # upper / lower inner lip, centre
_MOUTH_CORNERS = (61, 291)
_RIGHT_EYE = (33, 133, 159, 145)  # outer, inner, upper lid, lower lid
_LEFT_EYE = (263, 362, 386, 374)
_BROWS = (105, 334)  # mid-brow points (right, left)


@dataclass
class IdentityConfig:
    """Identity encoder size and input choice.

    Attributes:
        dim: D_id, size of ``f``, ``f_m`` and ``f_id``.
        n_motion: M, number of motion directions (LIA uses 20); must be >= N_MOTION_TARGETS.
        hidden: hidden width of the encoder MLP.
        motion_hidden: hidden width of the motion MLP (``f -> alpha``).
        use_descriptor: feed the dlib descriptor (else zeros in its place).
        use_geometry: feed the pose-free mesh geometry and motion measures (else zeros).
    """

    dim: int = 256
    n_motion: int = 20
    hidden: int = 256
    motion_hidden: int = 128
    use_descriptor: bool = True
    use_geometry: bool = True

    @classmethod
    def tiny(cls) -> IdentityConfig:
        return cls(dim=32, n_motion=N_MOTION_TARGETS, hidden=16, motion_hidden=16)

    def __post_init__(self) -> None:
        if self.n_motion < N_MOTION_TARGETS:
            raise InputError(f"IdentityConfig.n_motion must be >= {N_MOTION_TARGETS} (one per motion "
                             f"target), got {self.n_motion}")
        if self.n_motion > self.dim:
            raise InputError(f"IdentityConfig.n_motion ({self.n_motion}) cannot exceed dim ({self.dim}): "
                             f"the basis needs n_motion orthonormal columns")


@dataclass
class IdentityOutput:
    """Encoder outputs (tensors): ``f, f_m, f_id (B, D_id)``, ``alpha (B, M)``."""

    f: torch.Tensor
    f_m: torch.Tensor
    f_id: torch.Tensor
    alpha: torch.Tensor


class IdentityEncoder(nn.Module):
    """Per-face feature ``(B, INPUT_DIM)`` -> ``f``, ``alpha``, ``f_m = Q alpha``, ``f_id = f - f_m``.

    ``Q (D_id, M)`` is the Q factor of the QR decomposition of the learned matrix
    ``motion_weight`` (LIA's orthonormal motion dictionary), so ``Q^T Q = I`` by construction.
    Input standardisation statistics are buffers (set from training data with
    :meth:`set_input_stats`), as are the motion-target statistics used to read ``alpha``.
    """

    def __init__(self, config: IdentityConfig) -> None:
        super().__init__()
        self.config = config
        d, h = config.dim, config.hidden
        self.register_buffer("input_mean", torch.zeros(INPUT_DIM))
        self.register_buffer("input_std", torch.ones(INPUT_DIM))
        self.register_buffer("target_mean", torch.zeros(N_MOTION_TARGETS))
        self.register_buffer("target_std", torch.ones(N_MOTION_TARGETS))
        self.register_buffer("input_mask", self._mask(config))
        self.descriptor_proj = nn.Linear(DESCRIPTOR_DIM, d)
        self.measure_proj = nn.Linear(N_MOTION_TARGETS, d)
        self.encoder = nn.Sequential(nn.Linear(INPUT_DIM, h), nn.GELU(), nn.Linear(h, h), nn.GELU(),
                                     nn.Linear(h, d))
        self.motion_mlp = nn.Sequential(nn.Linear(d, config.motion_hidden), nn.GELU(),
                                        nn.Linear(config.motion_hidden, config.n_motion))
        self.motion_linear = nn.Linear(d, config.n_motion)
        self.motion_weight = nn.Parameter(torch.randn(d, config.n_motion) / d**0.5)

    @staticmethod
    def _mask(config: IdentityConfig) -> torch.Tensor:
        mask = torch.ones(INPUT_DIM)
        if not config.use_descriptor:
            mask[:DESCRIPTOR_DIM] = 0.0
        if not config.use_geometry:
            mask[DESCRIPTOR_DIM:] = 0.0
        return mask

    def basis(self) -> torch.Tensor:
        """Orthonormal motion basis ``Q (D_id, M)``, ``Q^T Q = I``."""
        q, r = torch.linalg.qr(self.motion_weight)
        # Fix QR's sign ambiguity so Q is a smooth function of the weights.
        return q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, torch.ones(()))

    def set_input_stats(self, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        """Store standardisation statistics from training ``inputs (N, INPUT_DIM)`` and
        motion ``targets (N, N_MOTION_TARGETS)``."""
        self.input_mean.copy_(inputs.mean(0))
        self.input_std.copy_(inputs.std(0).clamp_min(1e-3))
        self.target_mean.copy_(targets.mean(0))
        self.target_std.copy_(targets.std(0).clamp_min(1e-3))

    def forward(self, x: torch.Tensor) -> IdentityOutput:
        """x: ``(B, INPUT_DIM)`` from :func:`identity_input` -> :class:`IdentityOutput`."""
        if x.ndim != 2 or x.shape[1] != INPUT_DIM:
            raise InputError(f"IdentityEncoder expects (B, {INPUT_DIM}) features, got {tuple(x.shape)}")
        z = (x - self.input_mean) / self.input_std * self.input_mask
        # Linear paths (descriptor -> f, measures -> f -> alpha) next to the MLPs: with a dozen
        # training identities they extrapolate to new faces and poses far better than MLPs alone.
        f = self.descriptor_proj(z[:, :DESCRIPTOR_DIM]) + self.measure_proj(z[:, -N_MOTION_TARGETS:]) + self.encoder(z)
        alpha = self.motion_linear(f) + self.motion_mlp(f)
        f_m = alpha @ self.basis().T
        return IdentityOutput(f=f, f_m=f_m, f_id=f - f_m, alpha=alpha)

    def standardise_targets(self, targets: torch.Tensor) -> torch.Tensor:
        """Motion targets ``(B, N_MOTION_TARGETS)`` in their units -> the scale of ``alpha[:, :K]``."""
        return (targets - self.target_mean) / self.target_std


# ----------------------------------------------------------------------------- face features

_DLIB_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _dlib_models() -> tuple[Any, Any]:
    """dlib 5-point shape predictor and face-descriptor ResNet from ``face_recognition_models``."""
    try:
        import dlib
        import face_recognition_models
    except ImportError as e:  # pragma: no cover - depends on the install
        raise DependencyError(f"identity features need 'dlib-bin' and 'face-recognition-models': {e}") from e
    models = Path(face_recognition_models.__file__).parent / "models"
    predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    resnet = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
    return predictor, resnet


def face_descriptor(image: np.ndarray, face: Face) -> np.ndarray:
    """dlib's 128-d face descriptor of ``face`` (unit-ish norm, same person ~< 0.6 apart).

    Args:
        image: ``(H, W, 3) uint8`` RGB the face was found in.
        face: a detection from :func:`facespeak.face.analysis.analyse_faces`.

    Returns:
        ``(128,) float32``.
    """
    return descriptor_in_box(image, tuple(int(round(v)) for v in face.box))


def descriptor_in_box(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """dlib's 128-d face descriptor of the face inside ``box`` (x0, y0, x1, y1 px) of ``image``
    ``(H, W, 3) uint8`` RGB (e.g. a fixed template box on aligned crops). Returns ``(128,) float32``."""
    import dlib

    predictor, resnet = _dlib_models()
    image = np.ascontiguousarray(image)
    with _DLIB_LOCK:  # dlib models are not documented as re-entrant
        shape = predictor(image, dlib.rectangle(*box))
        desc = resnet.compute_face_descriptor(image, shape, 0)
    return np.asarray(desc, dtype=np.float32)


def _similarity_procrustes(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``src (N, 3)`` mapped by the least-squares similarity onto ``dst (N, 3)`` (Umeyama 1991)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, s, vt = np.linalg.svd(b.T @ a)
    sign = np.ones(3)
    sign[2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rotation = u @ np.diag(sign) @ vt
    scale = (s * sign).sum() / (a**2).sum()
    return scale * a @ rotation.T + mu_d


def mesh_geometry(face: Face) -> np.ndarray:
    """Pose-free face shape: mesh fitted to the canonical face by 3-D similarity, minus it.

    Returns:
        ``(468, 3) float32`` residual in cm of the canonical face (y up, z to the viewer).
    """
    canonical = canonical_face_model()
    points = face.landmarks[:N_MODEL_POINTS].astype(np.float64) * np.array([1.0, -1.0, -1.0])
    return (_similarity_procrustes(points, canonical) - canonical).astype(np.float32)


def _dist(points: np.ndarray, i: int, j: int) -> float:
    return float(np.linalg.norm(points[i, :2] - points[j, :2]))


def motion_targets(face: Face) -> np.ndarray:
    """Measured motion of a face, ``(N_MOTION_TARGETS,) float32`` in :data:`MOTION_TARGET_NAMES` order.

    Pose in degrees; mouth/eye/brow measures are 2-D distances divided by the inter-ocular
    distance (outer eye corners), so they are scale free.
    """
    p = face.landmarks
    iod = max(_dist(p, _RIGHT_EYE[0], _LEFT_EYE[0]), 1e-6)
    eye = [_dist(p, e[2], e[3]) / max(_dist(p, e[0], e[1]), 1e-6) for e in (_RIGHT_EYE, _LEFT_EYE)]
    eye_centres = [(p[e[0], :2] + p[e[1], :2]) / 2 for e in (_RIGHT_EYE, _LEFT_EYE)]
    brow = np.mean([np.linalg.norm(p[b, :2] - c) for b, c in zip(_BROWS, eye_centres)]) / iod
    values = [*face.pose, _dist(p, *_LIPS_INNER) / iod, _dist(p, *_MOUTH_CORNERS) / iod, *eye, brow]
    return np.asarray(values, dtype=np.float32)


def identity_input(image: np.ndarray, face: Face) -> np.ndarray:
    """The encoder's input for one face: ``(INPUT_DIM,) float32`` = descriptor ++ geometry ++ measures."""
    return np.concatenate([face_descriptor(image, face), mesh_geometry(face).reshape(-1), motion_targets(face)])


# ----------------------------------------------------------------------------- high-level API


def bundled_identity_path() -> Path:
    """Path of the bundled identity weights (``assets/identity/identity.safetensors``)."""

    return asset_path("identity", "identity.safetensors")


@dataclass
class IdentityFeatures:
    """Identity features of one face, numpy ``float32``: ``f, f_m, f_id (D_id,)``, ``alpha (M,)``.

    ``motion`` reads ``alpha``'s first N_MOTION_TARGETS entries back in measurement units
    (degrees, ratios), keyed by :data:`MOTION_TARGET_NAMES`.
    """

    f: np.ndarray
    f_m: np.ndarray
    f_id: np.ndarray
    alpha: np.ndarray
    motion: dict[str, float] = field(default_factory=dict)


class IdentityExtractor:
    """Image + face -> :class:`IdentityFeatures`, on CPU, with a trained :class:`IdentityEncoder`."""

    def __init__(self, model: IdentityEncoder) -> None:
        self.model = model.eval()

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> IdentityExtractor:
        state, info = load_checkpoint(path, arch=ARCH)
        config = from_dict(IdentityConfig, info.config, where=f"{path}: config")
        model = IdentityEncoder(config)
        try:
            model.load_state_dict(state)
        except RuntimeError as e:
            raise CheckpointError(f"checkpoint {path} does not fit IdentityEncoder({config}): {e}") from None
        return cls(model)

    @classmethod
    def from_bundled(cls) -> IdentityExtractor:
        """The weights shipped in ``assets/identity`` (see its MODEL_CARD.md)."""
        return cls.from_checkpoint(bundled_identity_path())

    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> None:
        save_checkpoint(path, self.model.state_dict(), ARCH, to_dict(self.model.config), extra)

    @torch.no_grad()
    def from_inputs(self, inputs: np.ndarray) -> list[IdentityFeatures]:
        """Features for precomputed encoder inputs ``(B, INPUT_DIM)`` (see :func:`identity_input`)."""
        x = torch.as_tensor(np.asarray(inputs, dtype=np.float32))
        if x.ndim == 1:
            x = x[None]
        out = self.model(x)
        k = N_MOTION_TARGETS
        motion = out.alpha[:, :k] * self.model.target_std + self.model.target_mean
        return [IdentityFeatures(f=out.f[i].numpy(), f_m=out.f_m[i].numpy(), f_id=out.f_id[i].numpy(),
                                 alpha=out.alpha[i].numpy(),
                                 motion={n: float(v) for n, v in zip(MOTION_TARGET_NAMES, motion[i])})
                for i in range(x.shape[0])]

    def extract(self, image: np.ndarray, face: Face) -> IdentityFeatures:
        """Features of one face of ``image (H, W, 3) uint8`` RGB (~0.1 s on CPU, mostly dlib)."""
        return self.from_inputs(identity_input(image, face))[0]

    def extract_batch(self, images: list[np.ndarray], faces: list[Face]) -> list[IdentityFeatures]:
        """Features of ``faces[i]`` in ``images[i]`` (e.g. the frames of a video), one encoder pass."""
        if len(images) != len(faces):
            raise InputError(f"extract_batch expects one face per image, got {len(images)} images "
                             f"and {len(faces)} faces")
        if not images:
            return []
        return self.from_inputs(np.stack([identity_input(im, fc) for im, fc in zip(images, faces)]))
