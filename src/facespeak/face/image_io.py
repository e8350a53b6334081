"""Read a portrait from disk or bytes into one canonical in-memory form.

Every image facespeak analyses goes through :func:`load_image`, so the rest of the code only
ever sees ``(H, W, 3) uint8 RGB`` arrays, upright, of a workable size:

- EXIF orientation is applied (phones store portraits rotated plus a tag).
- Grayscale / 1-bit / CMYK / YCbCr -> RGB; 16-bit and 32-bit grayscale -> 8-bit by range.
- Transparency (RGBA, LA, PA, P with a transparent index) is composited on **white**: a
  transparent cut-out portrait then looks like a studio photo, not a face on black.
- Animated images (GIF, APNG, WebP) -> the first frame (logged).
- Long side > ``MAX_LONG_SIDE`` (4000 px) -> downscaled to ``WORKING_LONG_SIDE`` (2048 px) with a
  logged note. Face analysis does not gain from more pixels and downstream stages work on
  256-512 px crops.
- More than ``MAX_PIXELS`` (50 megapixels) or a Pillow decompression bomb -> :class:`ImageError`
  (refused before the pixels are decoded).
- Shorter side < ``MIN_SIDE`` (64 px) -> :class:`ImageError` naming the size that arrived.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..core.errors import ImageError
from ..core.output_files import check_input_file

__all__ = [
    "MIN_SIDE",
    "MAX_LONG_SIDE",
    "WORKING_LONG_SIDE",
    "MAX_PIXELS",
    "ImageSource",
    "load_image",
    "as_rgb_array",
    "source_name",
    "LUMA_BT601",
]

log = logging.getLogger(__name__)

MIN_SIDE = 64
MAX_LONG_SIDE = 4000
WORKING_LONG_SIDE = 2048
MAX_PIXELS = 50_000_000
#: RGB -> luma weights (ITU-R BT.601): ``rgb @ LUMA_BT601``
LUMA_BT601 = np.array([0.299, 0.587, 0.114], np.float32)

ImageSource = str | os.PathLike | bytes | bytearray | memoryview

_TRANSPARENT_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


def source_name(source: ImageSource | np.ndarray) -> str:
    """Short human name of an image source for messages (the path, or ``<N bytes>``)."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, np.ndarray):
        return "the image array"
    return f"<{len(source)} bytes>"


def load_image(source: ImageSource) -> np.ndarray:
    """Load an image file or encoded bytes as an upright RGB array.

    Args:
        source: a path (``str`` / ``PathLike``) or the encoded file content (``bytes``).

    Returns:
        ``(H, W, 3) uint8`` RGB, C-contiguous and writeable (the caller owns it), EXIF
        orientation applied, long side <= ``MAX_LONG_SIDE``.

    Raises:
        ImageError: missing file, not an image, corrupt/truncated data, too small
            (shorter side < ``MIN_SIDE``), or too large (> ``MAX_PIXELS`` / decompression bomb).
    """
    name = source_name(source)
    with _open(source, name) as img:
        _check_pixel_count(img.size, name)
        original_size = img.size
        if getattr(img, "n_frames", 1) > 1:
            log.info("%s is animated (%d frames); using the first frame", name, img.n_frames)
            img.seek(0)
        _draft_if_huge(img)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img.load()
                upright = ImageOps.exif_transpose(img)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
                Image.DecompressionBombError) as e:
            raise ImageError(f"cannot decode {name}: corrupt or truncated image data ({e})") from e
        array = _to_rgb_uint8(upright)
    array = _limit_size(array, name, original_size)
    _check_min_side(array, name)
    return np.require(array, np.uint8, ["C_CONTIGUOUS", "WRITEABLE"])


def as_rgb_array(image: np.ndarray, name: str = "the image") -> np.ndarray:
    """Validate an in-memory image: ``(H, W, 3) uint8`` RGB, shorter side >= ``MIN_SIDE``.

    Grayscale ``(H, W)`` arrays are expanded to RGB; the input is not copied when already valid.
    """
    if not isinstance(image, np.ndarray):
        raise ImageError(f"expected an (H, W, 3) uint8 RGB numpy array for {name}, got {type(image).__name__}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ImageError(f"expected an (H, W, 3) uint8 RGB array for {name}, got shape {image.shape} "
                         f"dtype {image.dtype}")
    _check_min_side(image, name)
    return image


def _open(source: ImageSource, name: str) -> Image.Image:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        check_input_file(path, "image file", ImageError)  # missing, a folder, a name too long
        if not path.is_file():
            raise ImageError(f"expected an image file, got a special file: {name}")
        stream: io.IOBase | Path = path
    elif isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageError("expected encoded image bytes, got 0 bytes")
        stream = io.BytesIO(bytes(source))
    else:
        raise ImageError(f"expected a path or encoded image bytes, got {type(source).__name__}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(stream)
    except UnidentifiedImageError as e:
        raise ImageError(f"{name} is not a readable image (expected JPEG, PNG, WebP, GIF, BMP or TIFF)") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"{name} is too large to decode safely (decompression bomb check): {e}") from e
    except OSError as e:
        raise ImageError(f"{name} is not a readable image: corrupt or truncated ({e}); expected a complete JPEG, PNG, WebP, GIF, BMP or TIFF") from e


def _check_pixel_count(size: tuple[int, int], name: str) -> None:
    w, h = size
    if w * h > MAX_PIXELS:
        raise ImageError(f"{name} is {w}x{h} px ({w * h / 1e6:.0f} megapixels); expected at most "
                         f"{MAX_PIXELS / 1e6:.0f} megapixels")


def _draft_if_huge(img: Image.Image) -> None:
    """Let JPEG decode at a reduced DCT scale when it is far above the working size (fast)."""
    if img.format == "JPEG" and max(img.size) > MAX_LONG_SIDE:
        f = WORKING_LONG_SIDE / max(img.size)
        img.draft("RGB", (int(img.size[0] * f) + 1, int(img.size[1] * f) + 1))


def _to_rgb_uint8(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in _TRANSPARENT_MODES:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if mode.startswith("I") or mode == "F":
        gray = _high_depth_to_uint8(np.asarray(img), mode)
        return np.repeat(gray[:, :, None], 3, axis=2)
    return np.asarray(img.convert("RGB"))


def _high_depth_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """16/32-bit integer or float grayscale -> uint8 (16-bit range maps 0..65535 -> 0..255)."""
    x = values.astype(np.float64)
    if mode == "F":
        top = 1.0 if x.size and float(x.max()) <= 1.0 else 255.0
    else:
        top = 65535.0 if x.size and float(x.max()) > 255 else 255.0
    return np.clip(np.rint(x * (255.0 / top)), 0, 255).astype(np.uint8)


def _limit_size(array: np.ndarray, name: str, original_size: tuple[int, int]) -> np.ndarray:
    """Downscale to ``WORKING_LONG_SIDE`` when the file's long side exceeds ``MAX_LONG_SIDE``.

    ``original_size`` is the stored (W, H) before any JPEG draft decoding, for the log line.
    """
    if max(original_size) <= MAX_LONG_SIDE:
        return array
    h, w = array.shape[:2]
    f = WORKING_LONG_SIDE / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    log.info("%s is %dx%d px; downscaled to %dx%d for analysis (long side > %d px)",
             name, original_size[0], original_size[1], size[0], size[1], MAX_LONG_SIDE)
    if (w, h) == size:
        return array
    return np.asarray(Image.fromarray(array).resize(size, Image.Resampling.LANCZOS))


def _check_min_side(array: np.ndarray, name: str) -> None:
    h, w = array.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageError(f"{name} is {w}x{h} px; expected at least {MIN_SIDE} px on the shorter side")
