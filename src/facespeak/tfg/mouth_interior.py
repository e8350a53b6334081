"""Paint the inside of the mouth where the warped lips part: teeth, gums, tongue and throat.

The warp stretches whatever the photo had between the lips over the new opening. Where the lips
open *beyond* the portrait's own opening we paint, inside the inner-lip contour (the lips
occlude everything else), back to front:

1. the throat: a dark cavity, lip-tinted at its rim and darkest towards its centre-back;
2. the tongue, fixed to the jaw: a dome behind the lower teeth, lit on top, darker to its sides
   and back, with a faint median groove;
3. the lower teeth, fixed to the jaw (they follow ``LOWER_FOLLOW`` of the lower lip's jaw
   displacement), then the upper teeth, fixed to the skull (they move with the head pose only);
   both are a row of crowns of average human size (:data:`UPPER_TEETH`, :data:`LOWER_TEETH`)
   around an arch, seen in projection: narrower, darker and shorter towards the mouth corners,
   a dark gap between neighbours, a scalloped gum line and darker gums beyond it, a slightly
   translucent incisal edge;
4. shadows: everything darkens close to the lips (ambient occlusion of the lips).

Where the photo itself shows teeth (lips parted over bright, low-chroma pixels) its own mouth
interior is used instead: the part above its lips' midline moves with the skull, the part below
with the jaw; synthesised layers fill only what the photo does not show.

Colour and sharpness follow the photo (:class:`PhotoLook`, estimated once per portrait by
:mod:`facespeak.tfg.photo_look`; the lip contours come from :mod:`facespeak.tfg.lip_contours`): all
colours scale with the face's median luma, teeth never exceed the face's highlights, chroma
scales with the skin's (a grey photo gets grey teeth) and the photo's colour cast is applied;
the painted interior is blurred by the face's own blur, estimated with the re-blur gradient
ratio of Zhuo & Sim, "Defocus map estimation from a single image" (Pattern Recognition 2011).
Strength ramps with the *extra* opening, so zero motion returns the photo unchanged. Pure per
frame; all work happens in a small box around the mouth.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from ..face.image_io import LUMA_BT601
from . import mesh_topology as mt
from .lip_contours import grown_polygon, inner_lip_polygon, lip_line, lip_opening, polygon_mask
from .mouth_layers import back_layers, own_layer, row_shape
from .photo_look import REF_LUMA, OwnTeeth, PhotoLook, estimate_look

__all__ = ["MouthStyle", "PhotoLook", "OwnTeeth", "TeethPose", "estimate_look", "teeth_pose",
           "paint_mouth_interior", "shows_interior", "inner_lip_polygon", "lip_opening", "UPPER_TEETH", "LOWER_TEETH"]

#: (crown height, mesio-distal width) mm from the midline back: central and lateral incisor,
#: canine, two premolars, first molar (average crown sizes, Wheeler's Dental Anatomy tables)
UPPER_TEETH = ((10.5, 8.5), (9.0, 6.5), (10.0, 7.5), (8.5, 7.0), (8.5, 6.5), (7.5, 10.0))
LOWER_TEETH = ((9.0, 5.0), (9.5, 5.5), (11.0, 7.0), (8.5, 7.0), (8.0, 7.0), (7.5, 11.0))
#: dental arch radius (mm) for projecting the row of crowns onto the image plane
UPPER_ARCH_MM, LOWER_ARCH_MM = 25.0, 22.0
#: the lower teeth move this fraction of the lower inner lip's jaw displacement (the lip droops
#: past the teeth as the jaw opens, so lower teeth show in wide openings)
LOWER_FOLLOW = 0.8
#: band (of the mouth width) along the lips' meeting line repainted as lips when they close
SEAM_BAND = 0.08
#: synthesised teeth chroma (max - min RGB) at most this fraction of their luma
TEETH_MAX_CHROMA = 0.2
#: median shade of the upper row's visible front (incisal 3.5 mm, within 15 mm of the midline)
#: in ``mouth_layers.crown_at``: 0.84-0.85 at 0.85-2 px/mm
OWN_TEETH_SHADE = 0.85


@dataclass(frozen=True)
class MouthStyle:
    """Colours (RGB 0-255, for a face of median luma ``REF_LUMA`` and ordinary skin chroma)
    and teeth placement (cm in the face's canonical frame)."""

    throat_rgb: tuple[int, int, int] = (16, 5, 7)
    cavity_rgb: tuple[int, int, int] = (78, 28, 32)
    tongue_rgb: tuple[int, int, int] = (172, 86, 92)
    teeth_rgb: tuple[int, int, int] = (224, 216, 200)
    gum_rgb: tuple[int, int, int] = (170, 84, 90)
    # upper incisal edge below the rest upper inner lip: the display while speaking. Rest display
    # averages 1.9 mm (men) to 3.4 mm (women), more in the young (Vig & Brundo, J Prosthet Dent
    # 1978); with 2.5 mm the upper teeth were a 2-px band at crop 256 (0.8-0.9 px/mm) that the
    # photo's blur and the video's 4:2:0 chroma mixed into the red lips and the dark gap below
    upper_show_cm: float = 0.35
    # lower incisal edge above the upper one with the jaw closed: 4 mm (normal overbite is about
    # 2-4 mm) keeps the lower edge 0.5 mm above the rest lips' line, where it was with 2.5 / 3 mm
    overbite_cm: float = 0.4
    ramp_width_fraction: float = 0.03  # extra opening (of mouth width) for full strength
    own_teeth: bool = True  # use the photo's own teeth when it shows them

    @classmethod
    def tiny(cls) -> "MouthStyle":
        return cls()


@dataclass(frozen=True, eq=False)
class TeethPose:
    """Where the teeth are in one frame (:func:`teeth_pose`), frame px.

    upper: ``(11, 2)`` the rest upper inner lip, corner to corner, moved with the head pose only
    (the upper teeth hang below it); lower: ``(11, 2)`` the rest lower inner lip moved with the
    head and ``LOWER_FOLLOW`` of the jaw; px_per_cm: the face's scale; upper_to_rest, lower_to_rest:
    ``(2, 3)`` affine maps from frame px to canvas px of the still photo for skull and jaw."""

    upper: np.ndarray = field(repr=False)
    lower: np.ndarray = field(repr=False)
    px_per_cm: float
    upper_to_rest: np.ndarray = field(repr=False)
    lower_to_rest: np.ndarray = field(repr=False)

    def shifted(self, dx: float, dy: float) -> "TeethPose":
        """The same pose in a frame whose origin is canvas px ``(dx, dy)`` (a region)."""
        def move(a: np.ndarray) -> np.ndarray:
            out = a.copy()
            out[:, 2] += a[:, :2] @ [dx, dy]
            return out
        d = np.array([dx, dy])
        return TeethPose(self.upper - d, self.lower - d, self.px_per_cm, move(self.upper_to_rest),
                         move(self.lower_to_rest))


_UPPER_LINE = [mt.MOUTH_CORNERS_INNER[0], *mt.LIP_UPPER_INNER, mt.MOUTH_CORNERS_INNER[1]]
_LOWER_LINE = [mt.MOUTH_CORNERS_INNER[0], *mt.LIP_LOWER_INNER, mt.MOUTH_CORNERS_INNER[1]]
#: rigid skull points around the mouth (upper lips, nose base) and jaw points (lower lips, chin)
#: for the affine maps back to the still photo
_SKULL_POINTS = sorted(set(_UPPER_LINE + list(mt.LIP_UPPER_OUTER) + [1, 2, 4, 98, 327, 164]))
_JAW_POINTS = sorted(set(_LOWER_LINE + list(mt.LIP_LOWER_OUTER) + [152, 148, 377, 199, 200]))


# ---------------------------------------------------------------------- per frame geometry


def teeth_pose(space, motion: np.ndarray) -> TeethPose:
    """Where the teeth are for one ``(D_motion,)`` motion frame of a
    :class:`facespeak.tfg.mesh_space.MeshMotionSpace` (canvas px): upper teeth on the skull
    (pose only), lower teeth on the jaw (pose + ``LOWER_FOLLOW`` of the jaw's lower-lip drop)."""
    # lazy: loads scipy, torch
    from .mesh_space import EXPRESSION_NAMES, K_EXPR

    jaw_k = EXPRESSION_NAMES.index("jaw_open")
    amount = float(space.basis.codes_to_amounts(motion[None, :K_EXPR])[0, jaw_k])
    drop = LOWER_FOLLOW * amount * space.basis.design[jaw_k, mt.LIP_LOWER_INNER[4]]  # (3,) cm
    skull, jaw = space.neutral[_UPPER_LINE + _SKULL_POINTS], space.neutral[_LOWER_LINE + _JAW_POINTS] + drop
    posed = space.project(np.concatenate([skull, jaw])[None], motion[None, K_EXPR:])[..., :2]
    rest = space.project(np.concatenate([skull, jaw - drop])[None], np.zeros((1, 5)))[0, :, :2]
    n_up, n = len(skull), len(_UPPER_LINE)
    return TeethPose(posed[0, :n], posed[0, n_up:n_up + n], float(space.scale),
                     _affine(posed[0, :n_up], rest[:n_up]), _affine(posed[0, n_up:], rest[n_up:]))


def _affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``(2, 3)`` least-squares affine ``dst ~ A [src, 1]`` of ``(N, 2)`` point sets."""
    homo = np.concatenate([src, np.ones((len(src), 1))], axis=1)
    return np.linalg.lstsq(homo, dst, rcond=None)[0].T


# ---------------------------------------------------------------------- painting


def shows_interior(landmarks: np.ndarray, rest_opening: float) -> bool:
    """Whether :func:`paint_mouth_interior` paints the interior for ``(478, 2)`` ``landmarks``:
    only where the lips open beyond the photo's own opening (``rest_opening`` px); elsewhere it
    needs no :class:`TeethPose` (a caller can skip :func:`teeth_pose`)."""
    return lip_opening(landmarks) > rest_opening


def paint_mouth_interior(frame: np.ndarray, landmarks: np.ndarray, rest_opening: float, style: MouthStyle,
                         teeth: TeethPose | None = None, look: PhotoLook | None = None,
                         in_place: bool = False, visible=None, face_shown=None) -> np.ndarray:
    """Paint the mouth interior into a copy of ``frame`` (into ``frame`` itself with ``in_place``).

    Args:
        frame: ``(H, W, 3) uint8`` RGB, the warped frame.
        landmarks: ``(478, 2)`` its mesh in frame px.
        rest_opening: the portrait's own lip opening in px (painting starts beyond it).
        style: colours and proportions.
        teeth: where the teeth are (frame px; :func:`teeth_pose`). None: hung from this frame's
            own lips (no head pose known; 0.6 px per mm).
        look: the photo's look (:func:`estimate_look`); None: a neutral, sharp photo.
        in_place: paint into ``frame`` (a frame the caller owns) instead of a copy.
        visible: where the mouth itself is seen in this frame: anything whose
            ``visible[rows, cols]`` (two slices) gives the ``(h, w) bool`` of those frame px, e.g. an
            ``(H, W) bool`` array (the renderer passes the pixels its lip and mouth-opening
            triangles own). Nothing is painted elsewhere: on a turned face the inner-lip contour
            reaches past the face's outline and over the far cheek, which hide that part of the
            mouth. None: everywhere.
        face_shown: the same for the face as a whole (the renderer: its face triangles' pixels):
            where the lips closing over the photo's own gap may be painted (their band runs a
            little past the mouth corners). None: everywhere.

    Returns:
        ``(H, W, 3) uint8``; ``frame`` itself (not a copy) when nothing needs painting.
    """
    corners = landmarks[list(mt.MOUTH_CORNERS_INNER)]
    width = float(np.linalg.norm(corners[1] - corners[0]))
    opening = lip_opening(landmarks)
    ramp = max(style.ramp_width_fraction * width, 1e-3)
    strength = float(np.clip((opening - rest_opening) / ramp, 0.0, 1.0))
    closing = float(np.clip((rest_opening - opening) / ramp, 0.0, 1.0))
    if width < 2.0 or (strength <= 0.0 and closing <= 0.0):
        return frame
    poly = inner_lip_polygon(landmarks)
    pad = int(np.ceil(0.1 * width)) + 2
    x0, y0 = np.maximum(np.floor(poly.min(axis=0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(poly.max(axis=0)).astype(int) + pad, [frame.shape[1], frame.shape[0]])
    if x1 <= x0 or y1 <= y0:
        return frame
    patch = frame[y0:y1, x0:x1].astype(np.float32)
    local = landmarks - [x0, y0]
    if strength <= 0.0:  # the lips close over the photo's own gap: cover it with lips
        shown = None if face_shown is None else np.asarray(face_shown[y0:y1, x0:x1], np.float32)
        out = patch
        for colour, mask in _seam_layers(patch, local, width):
            alpha = cv2.GaussianBlur(mask, (0, 0), max(0.5, 0.01 * width)) * closing
            alpha = alpha if shown is None else alpha * shown  # nothing past the face's outline
            out = out * (1.0 - alpha[..., None]) + colour * alpha[..., None]
    else:
        shown = None if visible is None else np.asarray(visible[y0:y1, x0:x1], np.float32)
        look = look or PhotoLook()
        if teeth is None:  # no head pose known: no own teeth (their maps need it)
            look = replace(look, own=None)
            teeth = TeethPose(lip_line(landmarks, mt.LIP_UPPER_INNER), lip_line(landmarks, mt.LIP_LOWER_INNER),
                              6.0, np.eye(2, 3), np.eye(2, 3))
        sigma = float(np.hypot(look.blur_sigma, 0.35))
        colour, inside, win = _interior(patch, local, teeth.shifted(x0, y0), style, look, _blur_reach(sigma), shown)
        alpha = cv2.GaussianBlur(inside, (0, 0), sigma)[win][..., None] * strength
        if shown is not None:  # the blur's fringe too: nothing past the mouth's visible outline
            alpha = alpha * shown[win][..., None]
        out = patch[win] * (1.0 - alpha) + cv2.GaussianBlur(colour, (0, 0), sigma) * alpha
        # alpha is 0 outside the window, where the patch stays as it was
        y0, x0 = y0 + win[0].start, x0 + win[1].start
        y1, x1 = y0 + out.shape[0], x0 + out.shape[1]
    result = frame if in_place else frame.copy()
    result[y0:y1, x0:x1] = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return result


def _blur_reach(sigma: float) -> int:
    """Px beyond which ``cv2.GaussianBlur(float32, (0, 0), sigma)`` reads nothing (its kernel
    radius ``round(8 sigma + 1) // 2``, plus one px to spare)."""
    return int(round(8.0 * sigma + 1.0)) // 2 + 1


def _window(inside: np.ndarray, reach: int) -> tuple[slice, slice]:
    """Rows and columns of ``inside`` ``(h, w)`` within ``2 reach`` px of its non-zero pixels:
    the blurred alpha is 0 beyond ``reach`` of them and the blurred colour there reads only
    colour within ``reach`` more, so nothing outside the window can change the painted frame."""
    win = _support(inside, 2 * reach)
    return win if win[0].stop > win[0].start else (slice(0, 1), slice(0, 1))  # none inside: 1 px, alpha 0


def _lip_colour(patch: np.ndarray, poly: np.ndarray, inside: np.ndarray,
                fallback: np.ndarray | None = None) -> np.ndarray:
    """Mean colour of the lip ring just outside the inner-lip polygon (where there is none:
    ``fallback``, or the patch's mean colour)."""
    ring = (inside < 0.5) & (polygon_mask(patch.shape[:2], grown_polygon(poly, 1.25)) > 0.5)
    if ring.any():
        return patch[ring].mean(axis=0)
    return patch.reshape(-1, 3).mean(axis=0) if fallback is None else fallback


#: the closed lips' meeting line: a shadow this fraction of the mouth width thick, at most this
#: strong, darkening the lips to this fraction of their colour (session 14: a flat band of the lip
#: ring's mean colour with a 0.6 x, 0.8-strong seam read as a pencil line drawn over pale lips)
SEAM_WIDTH, SEAM_STRENGTH, SEAM_SHADE = 0.015, 0.55, 0.72


def _seam_layers(patch: np.ndarray, lm: np.ndarray, width: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Closed-lip layers for a photo with an open mouth whose lips are brought together: the
    squeezed interior (a bright teeth line or a dark slit, a few px whatever the warp) is filled
    from the lips around it (each pixel takes the colours of the upper and lower lip next to it)
    over a band along the lips' meeting line, with a soft shadow along the middle."""
    shape = patch.shape[:2]
    poly = inner_lip_polygon(lm)
    mid = np.round((lip_line(lm, mt.LIP_UPPER_INNER) + lip_line(lm, mt.LIP_LOWER_INNER)) / 2.0 * 16).astype(np.int32)

    def band(thickness: float) -> np.ndarray:
        m = np.zeros(shape, np.uint8)
        cv2.polylines(m, [mid], False, 255, max(1, int(round(thickness))), cv2.LINE_AA, shift=4)
        return m.astype(np.float32) / 255.0

    gap = polygon_mask(shape, poly)
    cover = np.maximum(gap, band(SEAM_BAND * width))
    # normalised convolution: each pixel of the band takes the mean of the lip pixels around it,
    # mostly those right above and below (a Gaussian taller than wide; ~0.2 ms at 512 where
    # cv2.inpaint took ~4 ms)
    known = (cv2.dilate(cover, np.ones((3, 3), np.uint8)) <= 0.05).astype(np.float32)
    sx, sy = max(1.0, 0.02 * width), max(1.5, 0.05 * width)
    weight = cv2.GaussianBlur(known, (0, 0), sx, sigmaY=sy)
    filled = cv2.GaussianBlur(patch * known[..., None], (0, 0), sx, sigmaY=sy) / np.maximum(weight, 1e-3)[..., None]
    # teeth beside the band would bleed in: what is brighter than the lips turns to lip colour
    lip = _lip_colour(patch, poly, gap)
    lip_luma = max(float(lip @ LUMA_BT601), 1.0)
    towards_lip = np.clip((filled @ LUMA_BT601 - 1.05 * lip_luma) / (0.2 * lip_luma), 0.0, 1.0)[..., None]
    filled = filled * (1.0 - towards_lip) + lip * towards_lip
    return [(filled, cover), (SEAM_SHADE * filled, band(max(1.0, SEAM_WIDTH * width)) * SEAM_STRENGTH)]


def _matched(rgb, look: PhotoLook, gain: float = 1.0) -> np.ndarray:
    """A style colour in this photo: luma scaled to the face, chroma to its skin, its colour cast."""
    c = np.asarray(rgb, np.float32) * gain * float(np.clip(look.luma / REF_LUMA, 0.3, 1.3))
    grey = float(c @ LUMA_BT601)
    return (grey + look.saturation * (c - grey)) * look.cast


def _interior(patch: np.ndarray, lm: np.ndarray, teeth: TeethPose, style: MouthStyle, look: PhotoLook,
              reach: int, shown: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
    """Painted interior colour ``(h', w', 3)`` over the patch's window (:func:`_window` for a
    blur of ``reach`` px; the only pixels it can show at), the ``(h, w)`` inside-the-lips mask of
    the whole patch (times ``shown``, the ``(h, w)`` pixels where the mouth is seen), and the
    window (rows, columns of the patch). The layers are painted per pixel by compiled kernels
    (:mod:`facespeak.tfg.mouth_layers`; numpy passes over the window cost ~2.5x as much at 512 px,
    docs/renderer.md "Speed at 512 (session 14)")."""
    poly = inner_lip_polygon(lm)
    wide = poly.copy()  # reach 4 % past the corners: squeezed photo content shows as specks otherwise
    wide[:, 0] = poly[:, 0].mean() + (poly[:, 0] - poly[:, 0].mean()) * 1.04
    lips = polygon_mask(patch.shape[:2], wide)
    inside = lips if shown is None else lips * shown
    win = _window(inside, reach)  # zero margin kept: distances within it are as on the whole patch
    px_mm = teeth.px_per_cm / 10.0
    depth = cv2.distanceTransform((inside[win] > 0.5).astype(np.uint8), cv2.DIST_L2, 3) / px_mm  # mm from the lips
    opening_mm = max(lip_opening(lm) / px_mm, 0.5)
    # 1. throat: lip-tinted rim, darkest towards the centre-back
    rim = 0.6 * _matched(style.cavity_rgb, look) + 0.4 * 0.45 * _lip_colour(patch, poly, lips, _matched(style.cavity_rgb, look))
    arch = _arch(win, teeth, px_mm)
    show = style.upper_show_cm * 10.0
    up_edge = _line_in_arch(teeth.upper, teeth, px_mm) + [[0.0], [show]]
    low_edge = _line_in_arch(teeth.lower, teeth, px_mm) + [[0.0], [show - style.overbite_cm * 10.0]]
    # 2. tongue (jaw), 3. lower teeth (jaw) and upper teeth (skull), drawn back to front (one
    # compiled pass over the window's pixels)
    rgb = [np.asarray(c, np.float64) for c in (rim, _matched(style.throat_rgb, look), _matched(style.tongue_rgb, look),
                                               _teeth_colour(style, look), _matched(style.gum_rgb, look))]
    colour = np.empty((*depth.shape, 3), np.float32)  # (float64 colours: the kernels and plain Python agree)
    back_layers(depth, arch, low_edge, up_edge, max(0.22 * opening_mm, 0.5), *rgb[:3],
                row_shape(LOWER_TEETH, LOWER_ARCH_MM), rgb[3] * 0.9, row_shape(UPPER_TEETH, UPPER_ARCH_MM), rgb[3],
                rgb[4], px_mm, colour)
    if look.own is not None and style.own_teeth:
        _own_teeth(colour, win, teeth, look.own)
    # 4. the lips' shadow
    colour = colour * (1.0 - 0.2 * np.exp(-depth / 0.6))[..., None]
    return colour, inside, win


def _teeth_colour(style: MouthStyle, look: PhotoLook) -> np.ndarray:
    """Teeth base colour: the photo's own teeth, else the style's matched to the photo and kept
    below the face's highlights (no glowing teeth in a dark photo)."""
    if look.teeth_rgb is not None:
        # the photo's teeth colour is the median of its teeth as seen, shading included: the rows
        # are shaded again, so their lit colour is that over the median shade of their visible front
        c = look.teeth_rgb.astype(np.float32) / OWN_TEETH_SHADE
        luma = float(c @ LUMA_BT601)
        return c * min(1.0, 0.97 * look.white / max(luma, 1e-3))  # still below the face's highlights
    # teeth take at most ordinary chroma and half the (already halved) cast: enamel is near grey
    c = _matched(style.teeth_rgb, replace(look, saturation=min(look.saturation, 1.0), cast=np.sqrt(look.cast)))
    luma = float(c @ LUMA_BT601)
    # enamel is at most as tinted as real teeth: the photos' own teeth (train faces) have chroma
    # (max - min RGB) of 0.12-0.29 of their luma in colour photos, median 0.20; a warm face's cast took
    # it past 0.25 (the face's mean colour, mostly skin, is read as the cast)
    chroma = float(c.max() - c.min())
    if chroma > TEETH_MAX_CHROMA * luma:
        c = luma + (c - luma) * (TEETH_MAX_CHROMA * luma / chroma)
    target = min(1.35 * look.luma, 0.97 * look.white)  # a little brighter than the skin, below its highlights
    return c * target / max(luma, 1e-3)


def _arch(win: tuple[slice, slice], teeth: TeethPose, px_mm: float) -> np.ndarray:
    """The arch coordinates of the patch's window (rows, columns) ``win``: ``(4,)`` such that its
    pixel ``(x, y)`` lies at ``dx, dy = x + arch[0], y + arch[1]`` px from the upper lip's middle,
    ``a = dx arch[2] + dy arch[3]`` mm along the mouth and ``b = dy arch[2] - dx arch[3]`` mm across
    it, down (:func:`facespeak.tfg.mouth_layers.back_layers`)."""
    e1 = teeth.upper[-1] - teeth.upper[0]
    e1 = e1 / max(float(np.linalg.norm(e1)), 1e-6)
    origin = teeth.upper[len(teeth.upper) // 2]
    return np.array([win[1].start - origin[0], win[0].start - origin[1], e1[0] / px_mm, e1[1] / px_mm])


def _line_in_arch(line: np.ndarray, teeth: TeethPose, px_mm: float) -> np.ndarray:
    """``(2, n)`` a lip line's (a, b) mm in the arch coordinates, sorted by a (:func:`facespeak.tfg.mouth_layers.interp`)."""
    e1 = teeth.upper[-1] - teeth.upper[0]
    e1 = e1 / max(float(np.linalg.norm(e1)), 1e-6)
    d = (line - teeth.upper[len(teeth.upper) // 2]) / px_mm
    a, b = d @ e1, d @ np.array([-e1[1], e1[0]])
    order = np.argsort(a)
    return np.stack([a[order], b[order]])


def _support(mask: np.ndarray, margin: int = 0) -> tuple[slice, slice]:
    """Rows and columns of ``mask`` ``(h, w)`` within ``margin`` px of its non-zero pixels
    (empty slices when it has none)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return slice(0, 0), slice(0, 0)
    return (slice(max(int(rows[0]) - margin, 0), min(int(rows[-1]) + margin + 1, mask.shape[0])),
            slice(max(int(cols[0]) - margin, 0), min(int(cols[-1]) + margin + 1, mask.shape[1])))


def _own_teeth(colour: np.ndarray, win: tuple[slice, slice], teeth: TeethPose, own: OwnTeeth) -> None:
    """Paint the photo's own mouth interior, moved with the skull (above its lips' midline) and the
    jaw (below it), over ``colour`` ``(h', w', 3)``, the patch's window ``win`` (rows, columns)."""
    order = np.argsort(own.split[:, 0])
    split = (own.split[order] - own.origin).T  # (2, 11) texture px, by x
    own_layer(colour, win[1].start, win[0].start, teeth.upper_to_rest - [[0, 0, own.origin[0]], [0, 0, own.origin[1]]],
               teeth.lower_to_rest - [[0, 0, own.origin[0]], [0, 0, own.origin[1]]], own.texture,
               np.ascontiguousarray(split))
