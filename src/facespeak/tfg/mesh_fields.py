"""Hand-designed mesh displacement fields (the expression directions of the mesh space).

Each field is a ``(478, 3)`` displacement in the canonical face frame (cm; x right, y down,
z away from the camera) for one unit **amount** of a gesture, designed on a reference shape
(MediaPipe's canonical face) from the mesh topology in :mod:`facespeak.tfg.mesh_topology`:

- ``jaw_open``: the mandible turns about a pivot near the ears (10 deg at amount 1: the lower
  lip drops ~1.3 cm, a wide "a"); a point follows it by a weight that is 1 below the lip seam
  and 0 above (sigmoid across the seam, softer away from the mouth so cheeks stretch), with
  the lips labelled explicitly (lower lip 0.5 at the corners .. 1 at the middle; the corners
  and commissures 0.5; upper lip 0 over its middle, rising to the corners' 0.5 towards them).
- ``lip_closure``: upper lip down and lower lip up towards the seam, closing a 0.45 cm gap
  (what a quarter-open jaw leaves), vermilion rolled slightly inwards: bilabial closure / press.
- ``lip_round``: mouth corners towards the middle (35 % of their distance), lips pushed 0.5 cm
  forward and slightly apart vertically (pucker, "oo", "w").
- ``lip_spread``: corners outwards (25 %) and up, cheeks lifted a little (smile, "ee").
- ``blink_right`` / ``blink_left``: the upper lid comes down onto the lower lid (lower lid up by
  10 % of the opening), the skin between lid and brow following with a linear fall-off.
- ``brow_raise``: both brows up 0.6 cm; the forehead follows partially, the skin down to the
  upper lid stretches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial import cKDTree

from . import mesh_topology as mt

__all__ = ["design_fields", "lip_closure_field", "lip_press_field", "blink_field"]

JAW_ANGLE_RAD = np.deg2rad(10.0)
CLOSURE_GAP_CM = 0.45
ROUND_PULL = 0.35
SPREAD_PUSH = 0.25
BROW_RAISE_CM = 0.6
#: the mouth corners follow the jaw by this weight (the middle of the lower lip by 1) ...
CORNER_JAW = 0.5
#: ... and the upper lip near them too, less and less towards the middle, not at all over
#: this fraction of the opening's width
UPPER_LIP_STILL = 0.55


def design_fields(ref: np.ndarray) -> np.ndarray:
    """``(478, 3)`` reference shape (cm) -> ``(7, 478, 3)`` fields in ``EXPRESSION_NAMES`` order."""
    mouth = _MouthFrame(ref)
    return np.stack([_jaw_open(ref, mouth), _lip_closure(ref, mouth), _lip_round(ref, mouth),
                     _lip_spread(ref, mouth),
                     blink_field(ref, mt.RIGHT_EYE_UPPER, mt.RIGHT_EYE_LOWER, mt.RIGHT_EYE_CORNERS),
                     blink_field(ref, mt.LEFT_EYE_UPPER, mt.LEFT_EYE_LOWER, mt.LEFT_EYE_CORNERS),
                     _brow_raise(ref)])


class _MouthFrame:
    """Mouth geometry of a reference shape: seam curve, centre, half width, lip extents."""

    def __init__(self, ref: np.ndarray) -> None:
        up, lo = ref[list(mt.LIP_UPPER_INNER)], ref[list(mt.LIP_LOWER_INNER)]
        corners = ref[list(mt.MOUTH_CORNERS_INNER)]
        self.inner_corners = corners
        seam = np.concatenate([corners[:1], (up + lo) / 2.0, corners[1:]])
        order = np.argsort(seam[:, 0])
        self.seam_x, self.seam_y = seam[order, 0], seam[order, 1]
        outer = ref[list(mt.MOUTH_CORNERS_OUTER)]
        self.centre = (outer[0] + outer[1]) / 2.0
        self.half_width = float(abs(outer[1, 0] - outer[0, 0]) / 2.0)
        self.top = float(ref[list(mt.LIP_UPPER_OUTER), 1].min())  # upper lip outer edge (y)
        self.bottom = float(ref[list(mt.LIP_LOWER_OUTER), 1].max())
        self.nose_base = float(ref[2, 1])  # subnasale

    def seam(self, x: np.ndarray) -> np.ndarray:
        return np.interp(x, self.seam_x, self.seam_y)

    def profile(self, x: np.ndarray) -> np.ndarray:
        """1 at the mouth's middle, 0 at (and beyond) its corners; elliptic."""
        u = (x - self.centre[0]) / self.half_width
        return np.sqrt(np.clip(1.0 - u**2, 0.0, 1.0))

    def corner_share(self, x: np.ndarray) -> np.ndarray:
        """How much of a mouth corner's jaw motion the upper lip takes at ``x``: 0 over the
        middle ``UPPER_LIP_STILL`` of the opening, rising linearly to 1 at the inner corners.
        A function of x only (points at one x move together, so the rows that converge at the
        corner keep their order), with a gentle slope: the rows also slope down towards the
        corner, and a steep ramp moved an outer-contour point below the row beneath it."""
        half = float(np.abs(self.inner_corners[:, 0] - self.centre[0]).mean())
        u = np.abs(x - self.centre[0]) / half
        return np.clip((u - UPPER_LIP_STILL) / (1.0 - UPPER_LIP_STILL), 0.0, 1.0)

    def region(self, ref: np.ndarray, margin: float) -> np.ndarray:
        """Soft weight of the lip region grown by ``margin`` cm (1 inside, Gaussian fall-off)."""
        dx = np.maximum(np.abs(ref[:, 0] - self.centre[0]) - self.half_width, 0.0)
        dy = np.maximum(np.maximum(self.top - ref[:, 1], ref[:, 1] - self.bottom), 0.0)
        return np.exp(-(dx**2 + dy**2) / (2.0 * margin**2))


def _smooth(ref: np.ndarray, weight: np.ndarray, fixed: np.ndarray, iters: int = 4, k: int = 7) -> np.ndarray:
    """Average ``weight`` over each point's k nearest mesh neighbours, keeping ``fixed`` points."""
    _, nn = cKDTree(ref).query(ref, k=k)
    w = weight.copy()
    for _ in range(iters):
        w = np.where(fixed, weight, w[nn].mean(axis=1))
    return w


def _jaw_weight(ref: np.ndarray, mouth: _MouthFrame) -> np.ndarray:
    x, y = ref[:, 0], ref[:, 1]
    beyond = np.maximum(np.abs(x - mouth.centre[0]) - mouth.half_width, 0.0)
    softness = 0.15 + 0.6 * beyond  # cm; crisp at the lips, soft over the cheeks
    w = 1.0 / (1.0 + np.exp(-(y - mouth.seam(x)) / softness))
    fixed = np.zeros(len(ref), bool)
    upper = list(mt.LIP_UPPER_INNER + mt.LIP_UPPER_OUTER)
    lower = list(mt.LIP_LOWER_INNER + mt.LIP_LOWER_OUTER)
    corners = list(mt.MOUTH_CORNERS_INNER + mt.MOUTH_CORNERS_OUTER + mt.MOUTH_COMMISSURES)
    # each lip moves as one piece, the rows between its outer and inner contours too: left to
    # the smoothing below they took up to half of the other lip's weight (their 3-D neighbours
    # across the closed seam), dropped below the inner contour and folded the lip. The corners
    # and the commissure points between them (where the middle rows end) share one weight; the
    # upper lip stays with the skull except near the corners, where it follows them (a corner
    # dropping away from a still upper lip tore the sliver between them open, > 3x; session 11)
    inside = np.abs(x - mouth.centre[0]) < mouth.half_width
    upper_band = inside & (y <= mouth.seam(x)) & (y >= mouth.top)
    lower_band = inside & (y > mouth.seam(x)) & (y <= mouth.bottom)
    w[upper_band] = CORNER_JAW * mouth.corner_share(x[upper_band])
    w[lower_band] = CORNER_JAW + (1.0 - CORNER_JAW) * mouth.profile(x[lower_band])
    w[upper] = CORNER_JAW * mouth.corner_share(ref[upper, 0])
    w[lower] = CORNER_JAW + (1.0 - CORNER_JAW) * mouth.profile(ref[lower, 0])
    w[corners] = CORNER_JAW
    fixed[upper_band | lower_band] = True
    fixed[upper + lower + corners] = True
    w[mt.N_MESH_NO_IRIS:] = 0.0
    fixed[mt.N_MESH_NO_IRIS:] = True
    return _smooth(ref, w, fixed)


def _jaw_open(ref: np.ndarray, mouth: _MouthFrame) -> np.ndarray:
    w = _jaw_weight(ref, mouth)
    ears = ref[[234, 454]]
    pivot = np.array([0.0, ears[:, 1].mean(), ears[:, 2].mean() + 1.5])  # behind and at ear height
    rel = ref - pivot
    # small rotation about the x axis: chin goes down (+y) and back (+z, damped: the condyle
    # also slides forward, so the chin moves mostly down)
    disp = np.zeros_like(ref)
    disp[:, 1] = -JAW_ANGLE_RAD * rel[:, 2]
    disp[:, 2] = 0.3 * JAW_ANGLE_RAD * rel[:, 1]
    return disp * w[:, None]


def _lip_closure(ref: np.ndarray, mouth: _MouthFrame) -> np.ndarray:
    return lip_closure_field(ref, lambda x: CLOSURE_GAP_CM * (0.35 + 0.65 * mouth.profile(x)))


def lip_press_field(ref: np.ndarray) -> np.ndarray:
    """Press of closed lips, one unit: ``lip_closure``'s ``CLOSURE_GAP_CM`` at the mouth's middle,
    falling elliptically to 0 at the inner corners (the shared ``lip_closure`` keeps 35 % of it out
    to the corners and beyond, which moves the skin beside them). ``ref`` must have its lips
    apart or touching (the canonical face): where a shape's lips overlap, its seam lies between
    them and the field would push them apart. Used for the extra press of closed lips on turned
    portraits (facespeak.tfg.mesh_space.turned_press)."""
    corners = ref[list(mt.MOUTH_CORNERS_INNER), 0]
    centre, half = float(corners.mean()), max(float(np.ptp(corners)) / 2.0, 1e-3)
    return lip_closure_field(ref, lambda x: CLOSURE_GAP_CM * np.sqrt(np.clip(1.0 - ((x - centre) / half) ** 2, 0.0, 1.0)))


def lip_closure_field(ref: np.ndarray, gap_cm: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Field bringing the lips together by ``gap_cm(x)`` (cm) at each x: 40 % upper, 60 % lower.

    Used for the shared ``lip_closure`` direction and, per portrait, to close the portrait's
    own lip gap (a photo with parted lips must still close them on "m").
    """
    mouth = _MouthFrame(ref)
    x, y = ref[:, 0], ref[:, 1]
    seam = mouth.seam(x)
    lateral = gap_cm(x)
    region = mouth.region(ref, 0.4)
    up_w = np.clip((y - mouth.nose_base) / np.maximum(seam - mouth.nose_base, 1e-3), 0.0, 1.0) * (y <= seam)
    chin_crease = mouth.bottom + 0.8
    lo_w = np.clip((chin_crease - y) / np.maximum(chin_crease - seam, 1e-3), 0.0, 1.0) * (y > seam)
    disp = np.zeros_like(ref)
    disp[:, 1] = lateral * region * (0.4 * up_w - 0.6 * lo_w)
    disp[:, 2] = 0.1 * region * (up_w + lo_w)  # roll the vermilion in a little
    disp[list(mt.MOUTH_CORNERS_INNER + mt.MOUTH_CORNERS_OUTER)] = 0.0
    disp[mt.N_MESH_NO_IRIS:] = 0.0
    return disp


def _lip_round(ref: np.ndarray, mouth: _MouthFrame) -> np.ndarray:
    region = mouth.region(ref, 0.8)
    rel = ref - mouth.centre
    disp = np.zeros_like(ref)
    disp[:, 0] = -ROUND_PULL * rel[:, 0] * region
    disp[:, 1] = 0.15 * np.tanh(rel[:, 1] / 0.5) * region * mouth.profile(ref[:, 0])  # lips part
    disp[:, 2] = -0.5 * region  # forward, towards the camera
    disp[mt.N_MESH_NO_IRIS:] = 0.0
    return disp


def _lip_spread(ref: np.ndarray, mouth: _MouthFrame) -> np.ndarray:
    region = mouth.region(ref, 1.2)
    rel = ref - mouth.centre
    u = np.clip(rel[:, 0] / mouth.half_width, -1.5, 1.5)
    disp = np.zeros_like(ref)
    disp[:, 0] = SPREAD_PUSH * rel[:, 0] * region
    disp[:, 1] = -0.25 * u**2 * region  # corners up
    disp[:, 2] = 0.1 * region  # lips flatten against the teeth
    disp[mt.N_MESH_NO_IRIS:] = 0.0
    return disp


def blink_field(ref: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...], corners: tuple[int, ...]) -> np.ndarray:
    """Field closing one eye of ``ref`` (lid lists and corners from :mod:`mesh_topology`)."""
    up, lo = ref[list(upper)], ref[list(lower)]
    c = ref[list(corners)]
    xs = np.concatenate([c[:, 0], up[:, 0]])
    order = np.argsort(xs)
    gap_x = xs[order]
    gap = np.concatenate([[0.0, 0.0], np.interp(up[:, 0], lo[:, 0][np.argsort(lo[:, 0])],
                                                lo[:, 1][np.argsort(lo[:, 0])]) - up[:, 1]])[order]
    x, y = ref[:, 0], ref[:, 1]
    lid_y = np.interp(x, gap_x, np.concatenate([c[:, 1], up[:, 1]])[order])
    drop = np.interp(x, gap_x, gap, left=0.0, right=0.0)  # how far the lid travels at x
    above = np.clip(1.0 - (lid_y - y) / 1.6, 0.0, 1.0) * (y <= lid_y + 1e-6)  # lid .. brow
    disp = np.zeros_like(ref)
    disp[:, 1] = 0.92 * drop * above
    disp[list(lower), 1] = -0.08 * np.interp(lo[:, 0], gap_x, gap, left=0.0, right=0.0)
    disp[list(corners)] = 0.0
    disp[mt.N_MESH_NO_IRIS:] = 0.0
    return disp


def _brow_raise(ref: np.ndarray) -> np.ndarray:
    brows = list(mt.RIGHT_BROW + mt.LEFT_BROW)
    lids = list(mt.RIGHT_EYE_UPPER + mt.LEFT_EYE_UPPER)
    brow_y = float(ref[brows, 1].mean())
    lid_y = float(ref[lids, 1].mean())
    x, y = ref[:, 0], ref[:, 1]
    w = np.clip((lid_y - y) / (lid_y - brow_y), 0.0, 1.0)  # 0 at the lids, 1 at the brows
    w *= np.clip(1.0 - (brow_y - y - 1.5) / 4.0, 0.3, 1.0)  # the upper forehead follows less
    w *= np.clip(1.0 - (np.abs(x) - 6.0) / 1.5, 0.0, 1.0)  # fade at the temples
    disp = np.zeros_like(ref)
    disp[:, 1] = -BROW_RAISE_CM * w
    disp[mt.N_MESH_NO_IRIS:] = 0.0
    return disp
