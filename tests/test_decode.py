"""decode_image: every Pillow mode, EXIF orientation, channel forcing, bad files."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from classifykit.data.decode import decode_image, detect_channels, image_channels
from classifykit.errors import ClassifykitError


def _save(tmp_path, im, name, fmt=None, **kw):
    path = tmp_path / name
    im.save(path, format=fmt, **kw)
    return path


def _mode(path):
    with Image.open(path) as im:
        return im.mode


def _px(im):
    return np.asarray(im).tolist()


def test_mode_1_becomes_0_or_255(tmp_path):
    im = Image.new("1", (2, 1), 0)
    im.putpixel((1, 0), 1)
    out = decode_image(_save(tmp_path, im, "a.png"))
    assert out.mode == "L"
    assert _px(out) == [[0, 255]]


def test_mode_l_kept(tmp_path):
    im = Image.fromarray(np.array([[0, 7, 200]], dtype=np.uint8))
    out = decode_image(_save(tmp_path, im, "a.png"))
    assert out.mode == "L"
    assert _px(out) == [[0, 7, 200]]


def test_la_composited_on_white(tmp_path):
    a = np.array([[[100, 0], [100, 255], [0, 128]]], dtype=np.uint8)
    out = decode_image(_save(tmp_path, Image.fromarray(a, "LA"), "a.png"))
    assert out.mode == "L"
    # (c*a + 255*(255-a)) / 255: transparent -> white, opaque -> c, half-transparent black -> 127
    assert _px(out) == [[255, 100, 127]]


def test_rgba_composited_on_white(tmp_path):
    a = np.array([[[10, 20, 30, 255], [10, 20, 30, 0], [0, 0, 0, 128]]], dtype=np.uint8)
    out = decode_image(_save(tmp_path, Image.fromarray(a, "RGBA"), "a.png"))
    assert out.mode == "RGB"
    assert _px(out) == [[[10, 20, 30], [255, 255, 255], [127, 127, 127]]]


def test_palette_with_transparency_composited_on_white(tmp_path):
    im = Image.new("P", (2, 1))
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.putdata([0, 1])
    path = _save(tmp_path, im, "a.png", transparency=1)
    assert _mode(path) == "P"
    out = decode_image(path)
    assert out.mode == "RGB"
    assert _px(out) == [[[255, 0, 0], [255, 255, 255]]]


def test_palette_without_transparency_gives_palette_colours(tmp_path):
    im = Image.new("P", (2, 1))
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.putdata([0, 1])
    out = decode_image(_save(tmp_path, im, "a.gif"))
    assert out.mode == "RGB"
    assert _px(out) == [[[255, 0, 0], [0, 0, 255]]]


def test_rgb_png_with_trns_key_colour_is_transparent(tmp_path):
    a = np.array([[[1, 2, 3], [9, 9, 9]]], dtype=np.uint8)
    path = _save(tmp_path, Image.fromarray(a, "RGB"), "a.png", transparency=(1, 2, 3))
    assert _px(decode_image(path)) == [[[255, 255, 255], [9, 9, 9]]]


def test_cmyk(tmp_path):
    a = np.array([[[0, 0, 0, 0], [255, 0, 0, 0], [0, 0, 0, 255]]], dtype=np.uint8)
    out = decode_image(_save(tmp_path, Image.fromarray(a, "CMYK"), "a.tif"))
    assert out.mode == "RGB"
    assert _px(out) == [[[255, 255, 255], [0, 255, 255], [0, 0, 0]]]


def test_ycbcr(tmp_path):
    a = np.array([[[255, 128, 128], [0, 128, 128]]], dtype=np.uint8)
    path = _save(tmp_path, Image.fromarray(a, "YCbCr"), "a.tif")
    assert _mode(path) == "YCbCr"
    out = decode_image(path)
    assert out.mode == "RGB"
    assert _px(out) == [[[255, 255, 255], [0, 0, 0]]]


@pytest.mark.parametrize("name", ["a.png", "a.tif"])
def test_16bit_scaled_not_clipped(tmp_path, name):
    a = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    path = _save(tmp_path, Image.fromarray(a), name)
    assert _mode(path) == "I;16"
    out = decode_image(path)
    assert out.mode == "L"
    assert _px(out) == [[0, 1, 128, 255]]


def test_16bit_big_endian(tmp_path):
    im = Image.frombytes("I;16B", (3, 1), np.array([0, 32768, 65535], dtype=">u2").tobytes())
    path = _save(tmp_path, im, "a.tif")
    assert _mode(path) == "I;16B"
    assert _px(decode_image(path)) == [[0, 128, 255]]


def test_32bit_int_clamped_to_16bit_range_then_scaled(tmp_path):
    a = np.array([[-5, 32768, 65535, 70000]], dtype=np.int32)
    path = _save(tmp_path, Image.fromarray(a, "I"), "a.tif")
    assert _mode(path) == "I"
    assert _px(decode_image(path)) == [[0, 128, 255, 255]]


def test_float_uses_pillow_0_255_scale(tmp_path):
    a = np.array([[0.4, 254.6, 300.0, -3.0]], dtype=np.float32)
    path = _save(tmp_path, Image.fromarray(a, "F"), "a.tif")
    assert _px(decode_image(path)) == [[0, 255, 255, 0]]


def test_exif_orientation_6_rotates(tmp_path):
    im = Image.new("L", (3, 2), 0)  # stored 3 wide, 2 high
    im.putpixel((0, 0), 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    out = decode_image(_save(tmp_path, im, "a.png", exif=exif))
    assert out.size == (2, 3)
    assert _px(out) == [[0, 255], [0, 0], [0, 0]]


def test_channels_forcing(tmp_path):
    rgb = Image.fromarray(np.array([[[255, 0, 0]]], dtype=np.uint8))
    grey = Image.fromarray(np.array([[100]], dtype=np.uint8))
    p_rgb, p_grey = _save(tmp_path, rgb, "c.png"), _save(tmp_path, grey, "g.png")
    one = decode_image(p_rgb, channels=1)
    assert one.mode == "L" and _px(one) == [[76]]  # ITU-R 601-2: 0.299 * 255 = 76.2
    three = decode_image(p_grey, channels=3)
    assert three.mode == "RGB" and _px(three) == [[[100, 100, 100]]]
    assert decode_image(p_rgb, channels=3).mode == "RGB"
    assert decode_image(p_grey, channels=1).mode == "L"


def test_file_object_input():
    buf = io.BytesIO()
    Image.new("RGB", (2, 2), (1, 2, 3)).save(buf, "PNG")
    buf.seek(0)
    out = decode_image(buf)
    assert _px(out)[1][1] == [1, 2, 3]
    assert not buf.closed


def test_bad_channels_value(tmp_path):
    with pytest.raises(ClassifykitError, match="--channels 2: use 1"):
        decode_image(tmp_path / "x.png", channels=2)


def test_missing_file(tmp_path):
    with pytest.raises(ClassifykitError, match=r"nope\.png: no such file"):
        decode_image(tmp_path / "nope.png")


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ClassifykitError, match=r"empty\.jpg: not an image"):
        decode_image(path)


def test_html_saved_as_jpg(tmp_path):
    path = tmp_path / "page.jpg"
    path.write_text("<!doctype html><html><body>404</body></html>")
    with pytest.raises(ClassifykitError, match=r"page\.jpg: not an image"):
        decode_image(path)


def test_truncated_png(tmp_path, rng):
    path = _save(tmp_path, Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)), "t.png")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ClassifykitError, match=r"t\.png: cannot decode the image .*damaged"):
        decode_image(path)


def _png_claiming_size(path, width, height):
    """A valid 1×1 PNG whose IHDR says ``width×height``: Pillow's bomb check runs on open, before decoding."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = 8  # after the PNG signature: length(4) type(4) data(13) crc(4)
    data[ihdr + 8 : ihdr + 16] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr + 4 : ihdr + 8 + 13]))
    data[ihdr + 21 : ihdr + 25] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))
    return path


def test_decompression_bomb_refused_and_limit_untouched(tmp_path):
    limit = Image.MAX_IMAGE_PIXELS
    path = _png_claiming_size(tmp_path / "bomb.png", 20_000, 20_000)  # 4.5x the limit: Pillow raises
    with pytest.raises(ClassifykitError, match=r"bomb\.png: image too large to decode safely") as e:
        decode_image(path)
    assert Image.MAX_IMAGE_PIXELS == limit == 89_478_485
    # One limit in the message (issue 15 defect 12: it gave Pillow's 2× limit 178956970, then 89478485).
    assert "400000000 pixels, over the limit of 89478485 pixels (PIL.Image.MAX_IMAGE_PIXELS); resize it below that" in str(e.value)
    assert "178956970" not in str(e.value)


def test_image_between_1x_and_2x_the_limit_refused_too(tmp_path):
    path = _png_claiming_size(tmp_path / "big.png", 10_000, 10_000)  # 1.1x: Pillow only warns
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(
        ClassifykitError, match=r"big\.png: image too large .*10000×10000 = 100000000 pixels, over the limit of 89478485 pixels"
    ) as e:
        decode_image(path)
    assert str(e.value).count("89478485") == 1


def test_image_channels():
    assert [image_channels(m) for m in ("1", "L", "LA", "I;16", "I", "F")] == [1] * 6
    assert [image_channels(m) for m in ("RGB", "RGBA", "P", "CMYK", "YCbCr")] == [3] * 5


def test_detect_channels():
    assert detect_channels(["L", "L", "I;16"]) == 1
    assert detect_channels(["L", "P", "L"]) == 3
    with pytest.raises(ClassifykitError, match="training split has no images"):
        detect_channels([])


def test_decode_refuses_formats_outside_the_allowed_decoders(tmp_path):
    # A PCX file is a valid image to Pillow, but no user image format we accept: only PIL_FORMATS
    # decoders may see user files (EPS, say, would start Ghostscript).
    from PIL import Image

    from classifykit.data.decode import decode_image
    from classifykit.errors import ClassifykitError

    Image.new("RGB", (4, 4)).save(tmp_path / "x.pcx")
    with pytest.raises(ClassifykitError, match="x.pcx: not an image Pillow can read"):
        decode_image(tmp_path / "x.pcx")
