"""load_image: canonical (H, W, 3) uint8 RGB, upright, and one-line ImageErrors."""

from __future__ import annotations

import logging
import struct

import numpy as np
import pytest
from PIL import Image

from face_photos import astronaut, encode
from facespeak.core.errors import ImageError
from facespeak.face.image_io import MAX_LONG_SIDE, WORKING_LONG_SIDE, as_rgb_array, load_image


def test_png_path_and_bytes_round_trip_exactly(tmp_path):
    img = astronaut()
    path = tmp_path / "a.png"
    path.write_bytes(encode(img))
    for source in (path, str(path), path.read_bytes()):
        out = load_image(source)
        assert out.dtype == np.uint8 and out.shape == (512, 512, 3)
        assert out.flags.writeable and out.flags.c_contiguous
        np.testing.assert_array_equal(out, img)


def test_grayscale_becomes_three_equal_channels():
    gray = astronaut().mean(axis=2).astype(np.uint8)
    out = load_image(encode(gray))
    assert out.shape == (512, 512, 3)
    np.testing.assert_array_equal(out[:, :, 0], gray)
    np.testing.assert_array_equal(out[:, :, 1], out[:, :, 2])


def test_rgba_composited_on_white():
    rgba = np.dstack([astronaut(), np.full((512, 512), 255, np.uint8)])
    rgba[:100, :100, 3] = 0  # fully transparent corner (colour underneath is the photo)
    rgba[200:300, 200:300, 3] = 128
    out = load_image(encode(rgba))
    assert (out[:100, :100] == 255).all()
    np.testing.assert_array_equal(out[400:, 400:], astronaut()[400:, 400:])  # opaque unchanged
    half = out[250, 250].astype(int)
    expected = (astronaut()[250, 250].astype(int) * 128 + 255 * 127) / 255
    assert np.abs(half - expected).max() <= 2


def test_la_and_palette_with_transparency_on_white():
    la = Image.fromarray(np.dstack([np.full((80, 80), 10, np.uint8), np.zeros((80, 80), np.uint8)]), "LA")
    assert (load_image(encode(la)) == 255).all()
    pal = Image.fromarray(astronaut()).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    idx = np.asarray(pal)[0, 0]
    out = load_image(encode(pal, transparency=int(idx)))
    assert (out[0, 0] == 255).all()
    assert out.shape == (512, 512, 3)


def test_sixteen_bit_grayscale_scaled_to_eight_bit():
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (128, 1))
    out = load_image(encode(Image.fromarray(ramp)))  # 16-bit PNG
    assert out.dtype == np.uint8 and out.shape == (128, 256, 3)
    assert out[0, 0, 0] == 0 and out[0, -1, 0] == 255
    assert abs(int(out[0, 128, 0]) - 128) <= 1


def test_animated_gif_gives_first_frame(caplog):
    frames = [Image.new("RGB", (96, 96), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    with caplog.at_level(logging.INFO):
        out = load_image(data)
    assert out[48, 48, 0] > 200 and out[48, 48, 2] < 50
    assert "first frame" in caplog.text


@pytest.mark.parametrize("orientation,rotate", [(6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270)])
def test_exif_orientation_applied(orientation, rotate):
    upright = Image.fromarray(astronaut())
    stored = upright.transpose(rotate)  # what a camera stores, plus a tag saying how to undo it
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = load_image(encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert out.shape == (512, 512, 3)
    assert np.abs(out.astype(int) - astronaut().astype(int)).mean() < 6  # JPEG noise only


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "nope.jpg")


def test_text_file_named_jpg(tmp_path):
    p = tmp_path / "fake.jpg"
    p.write_text("this is not an image\n")
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(p)


def test_truncated_jpeg():
    data = encode(astronaut(), "JPEG", quality=90)
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(data[: len(data) // 2])


def test_directory_and_empty_bytes(tmp_path):
    with pytest.raises(ImageError, match="directory"):
        load_image(tmp_path)
    with pytest.raises(ImageError, match="0 bytes"):
        load_image(b"")


def test_too_small_names_the_size():
    with pytest.raises(ImageError, match=r"100x40 px; expected at least 64"):
        load_image(encode(np.zeros((40, 100, 3), np.uint8)))


def test_huge_image_is_downscaled_with_note(caplog):
    big = np.asarray(Image.fromarray(astronaut()).resize((5000, 5000), Image.Resampling.BILINEAR))
    with caplog.at_level(logging.INFO):
        out = load_image(encode(big, "JPEG", quality=85))
    assert max(out.shape[:2]) == WORKING_LONG_SIDE and out.shape[0] == out.shape[1]
    assert "5000x5000" in caplog.text and "downscaled" in caplog.text
    assert 5000 > MAX_LONG_SIDE


def _bmp_claiming(width: int, height: int) -> bytes:
    """A tiny valid BMP whose header is patched to claim a huge size (pixels never stored)."""
    data = bytearray(encode(np.zeros((64, 64, 3), np.uint8), "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


@pytest.mark.parametrize("w,h", [(10000, 6000), (30000, 20000)])
def test_too_many_pixels_refused_before_decoding(w, h):
    with pytest.raises(ImageError, match="megapixels|decompression bomb"):
        load_image(_bmp_claiming(w, h))


def test_as_rgb_array_validates():
    img = astronaut()
    assert as_rgb_array(img) is img
    assert as_rgb_array(img[:, :, 0]).shape == (512, 512, 3)
    with pytest.raises(ImageError, match="uint8"):
        as_rgb_array(img.astype(np.float32))
    with pytest.raises(ImageError, match="64"):
        as_rgb_array(img[:50])
