"""Real-face test images built in memory from scikit-image's bundled photos (no network).

Shared by tests/unit/test_face_*.py. ``astronaut()`` is a 512x512 portrait with one face
(detector box ~104 px, centred near x=226, y=120).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from skimage import data

ASTRONAUT_FACE_CENTRE = (226.0, 120.0)  # (x, y) px, measured once with analyse_faces


def astronaut() -> np.ndarray:
    """(512, 512, 3) uint8 RGB, one face."""
    return data.astronaut()


def head(scale: float = 1.0, flip: bool = False) -> np.ndarray:
    """Square head-and-shoulders crop of the astronaut (256 px * scale), optionally mirrored."""
    crop = astronaut()[0:256, 98:354]
    if flip:
        crop = crop[:, ::-1]
    side = max(8, round(256 * scale))
    return np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((side, side), Image.Resampling.LANCZOS))


def group(scales: tuple[float, ...] = (1.0, 0.6, 0.8), height: int = 300) -> np.ndarray:
    """Several heads side by side on a grey canvas; the head at position i has ``scales[i]``.

    Every second head is mirrored so the faces are not pixel copies of one another.
    """
    heads = [head(s, flip=bool(i % 2)) for i, s in enumerate(scales)]
    width = sum(h.shape[1] for h in heads) + 20 * (len(heads) + 1)
    canvas = np.full((height, width, 3), 128, np.uint8)
    x = 20
    for h in heads:
        y = (height - h.shape[0]) // 2
        canvas[y:y + h.shape[0], x:x + h.shape[1]] = h
        x += h.shape[1] + 20
    return canvas


def no_face() -> np.ndarray:
    """A real photo without a human face (a cup of coffee), (400, 600, 3)."""
    return data.coffee()


def encode(image: np.ndarray | Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    """Encode an array / PIL image to bytes in ``fmt``."""
    pil = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buf = io.BytesIO()
    pil.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def cameraman() -> np.ndarray:
    """scikit-image ``camera``: a man in three-quarter view (yaw ~ -50 deg), (512, 512, 3) grey."""
    return np.repeat(data.camera()[:, :, None], 3, axis=2)
