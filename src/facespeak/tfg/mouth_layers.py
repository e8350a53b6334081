"""The mouth interior's per-pixel layers (:mod:`facespeak.tfg.mouth_interior`), compiled with numba:
the throat, tongue and two rows of teeth in arch coordinates (:func:`back_layers`) and the photo's
own teeth laid over them (:func:`own_layer`), one pass over the painted window's pixels each
(numpy passes over the window cost ~2.5x as much at 512 px; docs/renderer.md, "Speed at 512
(session 14)"). Float64 throughout, with ``math`` functions and products rather than ``**``: the
plain-Python fallback (no numba) gives the same colours bit for bit, far slower.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.jit import njit

__all__ = ["interp", "row_shape", "teeth_row", "crown_at", "tongue_at", "back_layers", "own_layer", "load_kernels"]


@njit(cache=True, nogil=True)
def interp(x, line):  # pragma: no cover - jitted
    """``np.interp(x, line[0], line[1])`` of a ``(2, n)`` line with increasing ``line[0]``: linear,
    held at its ends."""
    n = line.shape[1]
    if x <= line[0, 0]:
        return line[1, 0]
    if x >= line[0, n - 1]:
        return line[1, n - 1]
    k = 1
    while line[0, k] < x:
        k += 1
    t = (x - line[0, k - 1]) / max(line[0, k] - line[0, k - 1], 1e-12)
    return line[1, k - 1] + t * (line[1, k] - line[1, k - 1])


def row_shape(crowns, arch_mm: float) -> np.ndarray:
    """``(2, n + 1)`` a row of ``n`` crowns ``(height, width)`` mm around an arch of radius
    ``arch_mm`` seen from the front: each crown's mesial and distal side (mm from the midline,
    projected) and its height (last column unused)."""
    s = np.cumsum([w for _, w in crowns])  # arc length of each tooth's distal side (mm)
    bounds = np.concatenate([[0.0], arch_mm * np.sin(np.minimum(s / arch_mm, np.pi / 2))])
    return np.stack([bounds, np.append([h for h, _ in crowns], 0.0)])


def teeth_row(a: np.ndarray, b: np.ndarray, edge: np.ndarray, direction: int, crowns, arch_mm: float,
               rgb: np.ndarray, gum_rgb: np.ndarray, px_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """One row of teeth (:func:`crown_at`) over ``(h, w)`` arch coordinates ``a``, ``b`` (mm) with
    the incisal edge at ``edge`` (mm per pixel): its ``(h, w, 3)`` colour and ``(h, w)`` alpha."""
    shape = row_shape(crowns, arch_mm)
    colour, alpha = np.zeros((*a.shape, 3)), np.zeros(a.shape)
    for i in np.ndindex(a.shape):
        alpha[i], *colour[i] = crown_at(float(a[i]), float(b[i]), float(edge[i]), direction, shape, px_mm, rgb, gum_rgb)
    return colour, alpha


@njit(cache=True, nogil=True)
def crown_at(a, b, edge, direction, shape, px_mm, rgb, gum_rgb):  # pragma: no cover - jitted
    """A row of crowns (:func:`row_shape`, enamel ``rgb``, gums ``gum_rgb``) whose incisal edge is
    at ``b = edge`` (mm) and which grow up (``direction = -1``, upper) or down (+1, lower) into the
    gums, at one pixel of arch coordinates ``a`` (mm along the mouth from the midline), ``b`` (mm
    across, down): its alpha and colour (r, g, b)."""
    n = shape.shape[1] - 1
    last = shape[0, n]
    x = abs(a)
    aa = 0.6 / px_mm  # anti-aliasing width (mm)
    if x > last or direction * (b - edge) <= -1.9 - aa:  # the crowns' rise (below) is at most 1.9 mm
        return 0.0, 0.0, 0.0, 0.0
    k = 0
    while k < n - 1 and shape[0, k + 1] < x:
        k += 1
    lo, hi = shape[0, k], shape[0, k + 1]
    f = min(max((x - lo) / max(hi - lo, 1e-3), 0.0), 1.0)  # 0 mesial .. 1 distal side
    back = min(max(x / last, 0.0), 1.0)  # 0 midline .. 1 last tooth
    u = (2 * f - 1) * (2 * f - 1)
    rise = 1.5 * back * back + 0.4 * u * u  # the row curves away towards the back; rounded corners
    depth_in = direction * (b - edge) + rise  # mm from the incisal edge into the crown (> 0 inside)
    alpha = min(max(depth_in / aa + 0.5, 0.0), 1.0)
    if alpha <= 0.0:
        return 0.0, 0.0, 0.0, 0.0
    bulge = math.sin(math.pi * f)
    crown = shape[1, k] * (0.8 + 0.2 * bulge) * (1.0 - 0.25 * back)  # scalloped gum line
    gum = min(max((depth_in - crown) / aa + 0.5, 0.0), 1.0)
    gap = min(x - lo, hi - x) * px_mm / 0.7  # to the nearest gap (the midline is one too), per 0.7 px
    shade = ((1.0 - 0.4 * back ** 1.5) * (0.9 + 0.1 * bulge)
             * (1.0 - 0.4 * min(1.0, px_mm / 2.0) * math.exp(-(gap * gap)))  # gaps: resolved at >= 2 px/mm
             * (0.92 + 0.08 * min(max(depth_in / 0.5, 0.0), 1.0))  # translucent incisal edge
             * (1.0 - 0.12 * min(max(depth_in / max(crown, 1e-3), 0.0), 1.0)))  # darker near the gum
    pink = 1.0 - 0.4 * back
    return (alpha, rgb[0] * shade + (gum_rgb[0] * pink - rgb[0] * shade) * gum,
            rgb[1] * shade + (gum_rgb[1] * pink - rgb[1] * shade) * gum,
            rgb[2] * shade + (gum_rgb[2] * pink - rgb[2] * shade) * gum)


@njit(cache=True, nogil=True)
def tongue_at(a, b, low_edge):  # pragma: no cover - jitted
    """A dome behind the lower teeth (jaw-fixed), lit on top, darker to the sides and back, at
    one pixel of arch coordinates (mm; ``low_edge``: the lower incisal edge there): its alpha and shade."""
    half = 20.0  # mm
    side = (a / half) * (a / half)
    top = low_edge - 1.0 + 4.0 * side  # its tip rises just above the lower teeth
    below = b - top
    alpha = min(max(below / 0.8 + 0.5, 0.0), 1.0) * min(max((half - abs(a)) / 1.0, 0.0), 1.0)
    if alpha <= 0.0:
        return 0.0, 0.0
    shade = ((0.55 + 0.45 * math.exp(-max(below, 0.0) / 5.0)) * (1.0 - 0.35 * side)
             * (1.0 - 0.12 * math.exp(-(a / 1.5) * (a / 1.5))))
    return alpha, shade


@njit(cache=True, nogil=True)
def back_layers(depth, arch, low_edge, up_edge, throat_mm, rim, throat, tongue, lower, lower_rgb, upper, upper_rgb, gum,
            px_mm, out):  # pragma: no cover - jitted
    """Paint the interior's back layers into ``out`` ``(h, w, 3)``, per pixel of the window:
    the throat (lip-tinted ``rim`` at the lips, ``throat`` colour ``throat_mm`` deep), the tongue,
    the lower row (:func:`row_shape` ``lower``) and the upper row, each over the last.

    Args:
        depth: ``(h, w)`` mm from the lips; arch: the window's arch coordinates (:func:`facespeak.tfg.mouth_interior._arch`);
            low_edge, up_edge: ``(2, n)`` the lower and upper incisal edges, b (mm) over a.
    """
    h, w = depth.shape
    for y in range(h):
        for x in range(w):
            t = 1.0 - math.exp(-float(depth[y, x]) / throat_mm)
            dx, dy = x + arch[0], y + arch[1]
            ay, by = dx * arch[2] + dy * arch[3], dy * arch[2] - dx * arch[3]
            low, up = interp(ay, low_edge), interp(ay, up_edge)
            r, g, bl = (rim[0] * (1.0 - t) + throat[0] * t, rim[1] * (1.0 - t) + throat[1] * t,
                        rim[2] * (1.0 - t) + throat[2] * t)
            alpha, shade = tongue_at(ay, by, low)
            if alpha > 0.0:
                r += (tongue[0] * shade - r) * alpha
                g += (tongue[1] * shade - g) * alpha
                bl += (tongue[2] * shade - bl) * alpha
            for row in range(2):
                if row == 0:
                    alpha, tr, tg, tb = crown_at(ay, by, low, 1, lower, px_mm, lower_rgb, gum)
                else:
                    alpha, tr, tg, tb = crown_at(ay, by, up, -1, upper, px_mm, upper_rgb, gum)
                if alpha > 0.0:
                    r += (tr - r) * alpha
                    g += (tg - g) * alpha
                    bl += (tb - bl) * alpha
            out[y, x, 0], out[y, x, 1], out[y, x, 2] = r, g, bl


@njit(cache=True, nogil=True)
def own_layer(out, x0, y0, upper, lower, texture, split):  # pragma: no cover - jitted
    """Per pixel ``(x0 + x, y0 + y)`` of ``out`` ``(h, w, 3)``: the ``(h_t, w_t, 4)`` texture (colour,
    mask) sampled bilinearly at the skull's (``upper``) and the jaw's (``lower``) ``(2, 3)`` affine
    map of it (texture px; 0 outside, on cv2.remap's 1/32 px grid), the skull's part above the
    ``(2, n)`` ``split`` line (x increasing) and the jaw's below it, laid over ``out``."""
    h, w = out.shape[:2]
    for y in range(h):
        gy = float(y0 + y)
        for x in range(w):
            gx = float(x0 + x)
            ur, ug, ub, ua = _sample_part(texture, upper, gx, gy, split, True)
            lr, lg, lb, la = _sample_part(texture, lower, gx, gy, split, False)
            alpha = ua + la * (1.0 - ua)
            if alpha <= 0.0:
                continue
            scale = 1.0 / max(alpha, 1e-3)
            r, g, b = float(out[y, x, 0]), float(out[y, x, 1]), float(out[y, x, 2])
            out[y, x, 0] = r + ((ur * ua + lr * (la * (1.0 - ua))) * scale - r) * alpha
            out[y, x, 1] = g + ((ug * ua + lg * (la * (1.0 - ua))) * scale - g) * alpha
            out[y, x, 2] = b + ((ub * ua + lb * (la * (1.0 - ua))) * scale - b) * alpha


@njit(cache=True, nogil=True)
def _sample_part(texture, affine, gx, gy, split, above):  # pragma: no cover - jitted
    """The texture's colour and mask at the affine image of pixel ``(gx, gy)`` (:func:`own_layer`),
    its mask 0 unless the point lies ``above`` (or, False, below) the split line."""
    sx = affine[0, 0] * gx + affine[0, 1] * gy + affine[0, 2]
    sy = affine[1, 0] * gx + affine[1, 1] * gy + affine[1, 2]
    th, tw = texture.shape[:2]
    if not (-1.0 < sx < tw and -1.0 < sy < th):
        return 0.0, 0.0, 0.0, 0.0
    if (sy <= interp(sx, split)) != above:
        return 0.0, 0.0, 0.0, 0.0
    qx, qy = int(np.rint(sx * 32.0)), int(np.rint(sy * 32.0))  # exact in both numba and Python
    ix, iy = qx >> 5, qy >> 5
    fx, fy = (qx & 31) / 32.0, (qy & 31) / 32.0
    c0 = c1 = c2 = c3 = 0.0
    for dy in range(2):
        yy = iy + dy
        if yy < 0 or yy >= th:
            continue
        wy = fy if dy else 1.0 - fy
        for dx in range(2):
            xx = ix + dx
            if xx < 0 or xx >= tw:
                continue
            wgt = wy * (fx if dx else 1.0 - fx)
            c0 += float(texture[yy, xx, 0]) * wgt
            c1 += float(texture[yy, xx, 1]) * wgt
            c2 += float(texture[yy, xx, 2]) * wgt
            c3 += float(texture[yy, xx, 3]) * wgt
    return c0, c1, c2, c3


def load_kernels() -> None:
    """Run the compiled kernels once on a tiny window (numba's first call in a process loads them:
    :func:`facespeak.tfg.triangle_raster.warm_up` calls this in its background thread)."""
    one, rgb, row = np.zeros((1, 1), np.float32), np.ones(3), row_shape(((1.0, 1.0),), 10.0)
    out = np.zeros((1, 1, 3), np.float32)
    line = np.array([[0.0, 1.0], [0.0, 0.0]])
    back_layers(one, np.zeros(4), line, line, 1.0, rgb, rgb, rgb, row, rgb, row, rgb, rgb, 1.0, out)
    own_layer(out, 0, 0, np.eye(2, 3), np.eye(2, 3), np.zeros((2, 2, 4), np.float32), line)
