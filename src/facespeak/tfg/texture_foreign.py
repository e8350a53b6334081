"""Which photo pixels around a face are foreign to it (the wall behind a turned face, not its
skin), and how far a sliver's texture slides off them (:func:`face_colours`, :func:`clean_shift`;
used by :mod:`facespeak.tfg.texture_source` for issue 12's pale wedges along a turned face's far
nose and lips, session 14), with :func:`eye_to_mouth`, the face's scale both use.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..face.analysis import LANDMARK_GROUPS
from . import mesh_topology as mt
from .mesh_space import canonical_landmarks
from .mesh_triangles import face_mask

__all__ = ["eye_to_mouth", "FOREIGN_RATIO", "FOREIGN_BAND", "FOREIGN_SLIVER", "FOREIGN_SHARE", "FOREIGN_MAX_SHIFT",
           "FOREIGN_REVEAL", "FOREIGN_MIN_YAW_DEG", "FOREIGN_ROWS", "nose_and_lips", "face_colours", "clean_shift"]


def eye_to_mouth(points: np.ndarray) -> float:
    """Distance from the middle of the eye corners to the middle of the mouth corners (control
    points, canvas px): the face's scale, little changed by a turn (unlike the eyes' distance)."""
    eyes = points[[*LANDMARK_GROUPS["right_eye_corners"], *LANDMARK_GROUPS["left_eye_corners"]]].mean(axis=0)
    return float(np.linalg.norm(eyes - points[list(LANDMARK_GROUPS["mouth_corners"])].mean(axis=0)))


#: a pixel is foreign to the face when its colour (CIELAB) lies nearer what surrounds the face in
#: the photo than this multiple of its distance to the face's own colours, in a patch that reaches
#: past the mesh's face (:func:`face_colours`; 0.5 missed most of t1_0's pale wall near the nose)
FOREIGN_RATIO = 1.0
#: ... or lies within this fraction of the eye-to-mouth distance of such a pixel (~2 px in a 512 px
#: crop; 0.03-0.045 also took the pale halo beside t1_0's nose but slid real silhouette skin into
#: jagged steps along the woman's cheek and t1_0's jaw)
FOREIGN_BAND = 0.02
#: an own-textured face sliver thinner than this fraction of the eye-to-mouth distance (its smallest
#: height; ~6 px in a 512 px crop: the far silhouette's nose and lip slivers are 3-4 px) with at
#: least FOREIGN_SHARE of its probe points (``_PROBE``) on foreign colour ...
FOREIGN_SLIVER = 0.05
FOREIGN_SHARE = 0.2
#: ... slides towards the face's centre, off foreign colour (:func:`clean_shift`, at most this
#: fraction of the eye-to-mouth distance: a sliver that needs more keeps its texture), in step with
#: its output's growth: none at its own source area (the photo at rest), the whole way at
#: FOREIGN_REVEAL times it and beyond
FOREIGN_MAX_SHIFT = 0.1
FOREIGN_REVEAL = 1.5
#: ... only on portraits turned at least this far (estimated yaw, deg): on frontal and mildly
#: turned faces the slide cut a notch where the astronaut's ear meets her jaw (1 deg) and left
#: facets on t1_4's cheek (32 deg), where there is no wedge to remove (session 14)
FOREIGN_MIN_YAW_DEG = 35.0
#: points (barycentric) where a triangle's texture is tested for foreign colour
_PROBE = np.array([[.8, .1, .1], [.1, .8, .1], [.1, .1, .8], [.45, .45, .1], [.1, .45, .45], [.45, .1, .45],
                   [1 / 3, 1 / 3, 1 / 3], [.6, .2, .2], [.2, .6, .2], [.2, .2, .6]])


#: the band of the face where slivers slide (:func:`nose_and_lips`), as fractions of the way from
#: the eyes to the mouth (canonical face): from the nose's lower half to just below the mouth
FOREIGN_ROWS = (0.4, 1.1)


def nose_and_lips(triangles: np.ndarray) -> np.ndarray:
    """``(n_tri,) bool``: face triangles whose centroid lies in the canonical face's rows of the
    lower nose and the upper lip (``FOREIGN_ROWS``). Slid higher up or lower down, slivers along
    hair (the astronaut's and Lenna's temples, t1_4's eye) drew skin-coloured wedges or jagged
    chunks into the hair, where the photo's own edge was right."""
    canon = canonical_landmarks()[: mt.N_MESH_NO_IRIS, 1]
    eyes = canon[[*LANDMARK_GROUPS["right_eye_corners"], *LANDMARK_GROUPS["left_eye_corners"]]].mean()
    mouth = canon[list(LANDMARK_GROUPS["mouth_corners"])].mean()
    face = (triangles < mt.N_MESH_NO_IRIS).all(axis=1)
    rows = (canon[np.where(face[:, None], triangles, 0)].mean(axis=1) - eyes) / (mouth - eyes)
    return face & (rows >= FOREIGN_ROWS[0]) & (rows <= FOREIGN_ROWS[1])


def face_colours(canvas: np.ndarray, source: np.ndarray, triangles: np.ndarray,
                 own_faces: np.ndarray) -> tuple[np.ndarray, int, int]:
    """``(h, w) bool`` map of the photo's pixels around the face whose colour belongs to the face
    (not foreign: ``FOREIGN_RATIO``) and its top-left corner ``(x0, y0)`` (canvas px). The face's
    own colours: the texture at the centroids of front-facing face triangles off the oval; what
    surrounds it: a ring just outside the mesh's face (wall, hair, collar).

    MediaPipe's mesh reaches a little past a turned face's far silhouette, so triangles along the
    far side of the nose and lips take part of their texture from the wall behind it; at rest that
    is right (the frame is the photo), but a turn back towards the camera grows them into the face
    as pale wedges (issue 12)."""
    from scipy.spatial import cKDTree

    h, w = canvas.shape[:2]
    face = (triangles < mt.N_MESH_NO_IRIS).all(axis=1)
    r = max(2, int(round(0.15 * eye_to_mouth(source))))
    pts = source[triangles[face]].reshape(-1, 2)
    x0, y0 = np.clip(np.floor(pts.min(axis=0)).astype(int) - 2 * r, 0, [w, h])
    x1, y1 = np.clip(np.ceil(pts.max(axis=0)).astype(int) + 2 * r + 1, 0, [w, h])
    lab = cv2.cvtColor(np.ascontiguousarray(canvas[y0:y1, x0:x1]), cv2.COLOR_RGB2LAB).astype(np.float32)
    mask = face_mask(source, triangles[face], (int(x0), int(y0), int(x1), int(y1))).astype(np.uint8)
    ring = (cv2.dilate(mask, np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0) & (
        cv2.dilate(mask, np.ones((r // 2 * 2 + 1, r // 2 * 2 + 1), np.uint8)) == 0)
    oval = np.zeros(int(triangles.max()) + 1, bool)
    oval[list(mt.FACE_OVAL)] = True
    inner = face & own_faces & ~oval[triangles].any(axis=1)
    c = np.clip(np.round(source[triangles[inner]].mean(axis=1) - [x0, y0]).astype(int), 0,
                [lab.shape[1] - 1, lab.shape[0] - 1])
    skin = lab[c[:, 1], c[:, 0]]
    around = lab[ring][:: max(1, int(ring.sum()) // 4000)]
    if len(skin) == 0 or len(around) == 0:
        return np.ones(lab.shape[:2], bool), int(x0), int(y0)
    flat = lab.reshape(-1, 3)
    foreign = (cKDTree(around).query(flat)[0] < FOREIGN_RATIO * cKDTree(skin).query(flat)[0]).reshape(lab.shape[:2])
    # only what reaches in from outside the mesh's face is foreign (not specks of pale or dark skin
    # inside it): components of the foreign pixels, opened by 3x3, that also lie outside it
    foreign = cv2.morphologyEx(foreign.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels = cv2.connectedComponents(foreign, connectivity=8)
    outside = np.zeros(n, bool)
    outside[np.unique(labels[(foreign > 0) & (mask == 0)])] = True
    outside[0] = False
    # ... and the band along it: the silhouette's anti-aliased edge and the pale halo a sharpened
    # or over-exposed photo draws between a face and a bright wall (t1_0's nose and lip)
    band = max(1, int(round(FOREIGN_BAND * eye_to_mouth(source))))
    near = cv2.dilate(outside[labels].astype(np.uint8), np.ones((2 * band + 1, 2 * band + 1), np.uint8))
    return near == 0, int(x0), int(y0)


def clean_shift(corners: np.ndarray, clean: tuple[np.ndarray, int, int], centre: np.ndarray,
                most: float, step: float) -> np.ndarray:
    """``(m, 2)`` least move (multiples of ``step`` px towards the face's ``(2,)``
    ``centre``, at most ``most`` px) that puts the probe points of ``(m, 3, 2)`` texture triangles
    (canvas px) on face colours (:func:`face_colours`); zero where they already are or no move
    up to ``most`` does."""
    if len(corners) == 0:
        return np.zeros((0, 2))
    mask, x0, y0 = clean
    toward = centre - corners.mean(axis=1)
    toward /= np.maximum(np.linalg.norm(toward, axis=1, keepdims=True), 1e-9)
    steps = np.arange(0.0, most + step, step)
    probe = np.einsum("kj,tjd->tkd", _PROBE, corners)  # (m, 10, 2)
    moved = probe[:, None] + steps[None, :, None, None] * toward[:, None, None, :]  # (m, s, 10, 2)
    px = np.round(moved - [x0, y0]).astype(np.int64)
    h, w = mask.shape
    ok = (px[..., 0] >= 0) & (px[..., 0] < w) & (px[..., 1] >= 0) & (px[..., 1] < h)
    ok[ok] = mask[px[..., 1][ok], px[..., 0][ok]]
    fits = ok.all(axis=2)
    # a texture with a probe or two off the face stays (its edge pixels at the silhouette)
    first = np.where(fits.any(axis=1) & (ok[:, 0].mean(axis=1) <= 1.0 - FOREIGN_SHARE), fits.argmax(axis=1), 0)
    return steps[first][:, None] * toward
