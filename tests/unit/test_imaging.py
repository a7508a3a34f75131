"""Photo uploads: type by content, pixel limit before decoding, EXIF, copies, dhash."""
from __future__ import annotations

import ast
import hashlib
import io
import os
import struct
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageDraw, ImageOps

from app import imaging
from app.domain.verification import hamming
from app.imaging import ImageTooLarge, InvalidImage, UnsupportedImage, process_upload

EXIF_IFD, GPS_IFD = 0x8769, 0x8825


def scene(size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A picture with broad structure, so that its difference hash is stable."""
    w, h = size
    red = Image.linear_gradient("L").resize(size)
    green = Image.radial_gradient("L").resize(size)
    blue = Image.linear_gradient("L").rotate(90).resize(size)
    im = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(im)
    draw.ellipse((w * 0.2, h * 0.2, w * 0.6, h * 0.7), fill=(250, 30, 30))
    draw.rectangle((w * 0.65, h * 0.1, w * 0.9, h * 0.5), fill=(10, 10, 120))
    return im


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def camera_exif(
    taken: str | None = "2026:11:03 08:15:00",
    offset: str | None = "+08:00",
    gps: tuple[str, tuple, str, tuple] | None = ("S", (33.0, 51.0, 54.0), "W", (151.0, 12.0, 36.0)),
    orientation: int | None = None,
) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    exif.get_ifd(EXIF_IFD)[0x010F] = "unused"  # keep the IFD even without a time
    if taken is not None:
        exif.get_ifd(EXIF_IFD)[0x9003] = taken
    if offset is not None:
        exif.get_ifd(EXIF_IFD)[0x9011] = offset
    if gps is not None:
        ref_lat, lat, ref_lon, lon = gps
        exif.get_ifd(GPS_IFD).update({1: ref_lat, 2: lat, 3: ref_lon, 4: lon})
    return exif


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a size and whose pixel data is nonsense."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"\x00" * 16)


def opened(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def assert_no_metadata(data: bytes) -> None:
    im = opened(data)
    assert im.format == "JPEG"
    assert not im.getexif()
    assert not {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment"} & set(im.info)


# --- Reading the evidence --------------------------------------------------------------


def test_jpeg_exif_time_offset_and_gps_are_read():
    data = encode(scene(), "JPEG", exif=camera_exif())
    info = process_upload(data).info
    assert (info.format, info.mime_type) == ("JPEG", "image/jpeg")
    assert (info.width, info.height) == (800, 600)
    assert info.taken_at == datetime(2026, 11, 3, 8, 15)
    assert info.taken_at_offset == "+08:00"
    assert info.taken_at_in(timezone.utc) == datetime(
        2026, 11, 3, 8, 15, tzinfo=timezone(timedelta(hours=8))
    )
    lat, lon = info.gps
    assert lat == pytest.approx(-(33 + 51 / 60 + 54 / 3600))
    assert lon == pytest.approx(-(151 + 12 / 60 + 36 / 3600))
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert 0 <= info.dhash < 2**64


def test_north_east_is_positive():
    exif = camera_exif(gps=("N", (52.0, 22.0, 12.0), "E", (4.0, 53.0, 42.0)))
    lat, lon = process_upload(encode(scene(), "JPEG", exif=exif)).info.gps
    assert lat == pytest.approx(52.37) and lon == pytest.approx(4.895)


def test_without_offset_the_caller_applies_the_organisations_timezone():
    info = process_upload(encode(scene(), "JPEG", exif=camera_exif(offset=None))).info
    assert info.taken_at == datetime(2026, 11, 3, 8, 15)
    assert info.taken_at_offset is None
    tz = timezone(timedelta(hours=-5))
    assert info.taken_at_in(tz) == datetime(2026, 11, 3, 8, 15, tzinfo=tz)


@pytest.mark.parametrize("taken", ["0000:00:00 00:00:00", "    :  :     :  :  ", "garbage"])
def test_unusable_exif_time_is_no_time(taken):
    info = process_upload(encode(scene(), "JPEG", exif=camera_exif(taken=taken))).info
    assert info.taken_at is None and info.taken_at_in(timezone.utc) is None


def test_malformed_offset_is_ignored_not_guessed():
    info = process_upload(encode(scene(), "JPEG", exif=camera_exif(offset="8 hours"))).info
    assert info.taken_at == datetime(2026, 11, 3, 8, 15)
    assert info.taken_at_offset is None


def test_missing_exif_raises_nothing_and_reads_nothing():
    info = process_upload(encode(scene(), "JPEG")).info
    assert (info.taken_at, info.taken_at_offset, info.gps) == (None, None, None)


def test_zero_gps_from_a_receiver_without_fix_is_no_position():
    exif = camera_exif(gps=("N", (0.0, 0.0, 0.0), "E", (0.0, 0.0, 0.0)))
    assert process_upload(encode(scene(), "JPEG", exif=exif)).info.gps is None


def test_corrupt_exif_costs_the_metadata_not_the_photo():
    data = encode(scene(), "JPEG", exif=b"Exif\x00\x00MM\x00*garbage-garbage")
    info = process_upload(data).info
    assert (info.taken_at, info.gps) == (None, None)


# --- Accepted types ---------------------------------------------------------------------


def test_png_with_transparency_is_flattened_to_a_jpeg_copy():
    im = scene().convert("RGBA")
    im.putalpha(Image.linear_gradient("L").resize(im.size))
    result = process_upload(encode(im, "PNG"))
    assert (result.info.format, result.info.mime_type) == ("PNG", "image/png")
    assert opened(result.display_jpeg).mode == "RGB"
    # Fully transparent corner shows the white background, not black.
    assert opened(result.display_jpeg).getpixel((0, 0)) >= (240, 240, 240)


def test_png_exif_after_the_pixels_is_read():
    data = encode(scene(), "PNG", exif=camera_exif(orientation=6))
    result = process_upload(data)
    assert result.info.taken_at == datetime(2026, 11, 3, 8, 15)
    assert result.info.gps is not None
    assert opened(result.display_jpeg).size == (600, 800)


def test_palette_and_greyscale_pngs():
    assert process_upload(encode(scene().convert("P"), "PNG")).info.format == "PNG"
    grey16 = Image.linear_gradient("L").resize((300, 200)).convert("I").point(lambda v: v * 256)
    result = process_upload(encode(grey16.convert("I;16"), "PNG"))
    # The 16-bit gradient keeps its range rather than clipping to white.
    assert opened(result.display_jpeg).convert("L").getextrema()[0] < 20


def test_webp():
    data = encode(scene(), "WEBP", exif=camera_exif())
    result = process_upload(data)
    assert (result.info.format, result.info.mime_type) == ("WEBP", "image/webp")
    assert result.info.taken_at == datetime(2026, 11, 3, 8, 15)
    assert_no_metadata(result.display_jpeg)


def test_heif():
    try:
        data = encode(scene(), "HEIF", exif=camera_exif().tobytes())
    except (KeyError, OSError, ValueError) as exc:  # no HEVC encoder in this build
        pytest.skip(f"pillow_heif cannot save HEIF here: {exc}")
    result = process_upload(data)
    assert (result.info.format, result.info.mime_type) == ("HEIF", "image/heic")
    assert (result.info.width, result.info.height) == (800, 600)
    assert result.info.taken_at == datetime(2026, 11, 3, 8, 15)
    assert result.info.gps is not None
    assert_no_metadata(result.display_jpeg)


# --- Refused uploads --------------------------------------------------------------------

SVG = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">
<script>alert(1)</script><rect width="10" height="10"/></svg>"""


@pytest.mark.parametrize(
    "data",
    [
        SVG,
        b'<svg xmlns="http://www.w3.org/2000/svg"/>',
        os.urandom(4096),
        b"",
        encode(scene((20, 20)), "GIF"),
        encode(scene((20, 20)), "BMP"),
        encode(scene((20, 20)), "TIFF"),
        b"%PDF-1.7\n",
        # An ISO-BMFF box that is not HEIF (an MP4 video).
        b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64,
        # AVIF shares the HEIF container but is not an accepted type.
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 64,
    ],
    ids=["svg", "bare-svg", "random", "empty", "gif", "bmp", "tiff", "pdf", "mp4", "avif"],
)
def test_unsupported_types_judged_by_content(data):
    with pytest.raises(UnsupportedImage) as caught:
        process_upload(data)
    assert caught.value.code == "UNSUPPORTED_MEDIA_TYPE"


def test_a_jpeg_name_on_an_svg_does_not_help():
    # There is no name to pass: only the bytes decide.
    with pytest.raises(UnsupportedImage):
        process_upload(SVG)


@pytest.mark.parametrize("keep", [0.5, 0.9, 200])
def test_truncated_jpeg_is_invalid(keep):
    data = encode(scene(), "JPEG")
    cut = int(len(data) * keep) if keep < 1 else keep
    with pytest.raises(InvalidImage) as caught:
        process_upload(data[:cut])
    assert caught.value.code == "IMAGE_INVALID"


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "HEIF"])
def test_truncated_files_of_every_type_are_invalid(fmt):
    try:
        data = encode(scene(), fmt)
    except (KeyError, OSError, ValueError) as exc:
        pytest.skip(f"cannot save {fmt} here: {exc}")
    with pytest.raises(InvalidImage):
        process_upload(data[: len(data) // 2])


def test_corrupt_png_is_invalid():
    with pytest.raises(InvalidImage):
        process_upload(png_header_only(100, 100))


def test_too_many_pixels_is_refused_from_the_header_without_decoding():
    # 10000 x 5000 = 50 MP > 40 MP. The pixel data is nonsense: decoding it would fail
    # with IMAGE_INVALID, so IMAGE_TOO_LARGE proves the header alone decided.
    with pytest.raises(ImageTooLarge) as caught:
        process_upload(png_header_only(10000, 5000))
    assert caught.value.code == "IMAGE_TOO_LARGE"


def test_pixel_limit_boundary():
    with pytest.raises(InvalidImage):  # exactly the limit passes on to decoding
        process_upload(png_header_only(100, 100), max_pixels=10_000)
    with pytest.raises(ImageTooLarge):
        process_upload(png_header_only(101, 100), max_pixels=10_000)
    assert process_upload(encode(scene((100, 100)), "PNG"), max_pixels=10_000)


def test_a_header_pillow_calls_a_bomb_is_too_large():
    # 30000 x 30000 is past Pillow's own limit, which refuses it inside Image.open.
    with pytest.raises(ImageTooLarge):
        process_upload(png_header_only(30000, 30000))


# --- The copies we serve ----------------------------------------------------------------


def test_orientation_is_applied_and_sizes_swap():
    im = scene((400, 300))
    im.paste((0, 255, 0), (0, 0, 40, 40))  # a green mark in the top-left corner
    result = process_upload(encode(im, "JPEG", exif=camera_exif(orientation=6)))
    assert (result.info.width, result.info.height) == (300, 400)
    display = opened(result.display_jpeg)
    assert display.size == (300, 400)
    # Orientation 6: the camera was turned a quarter clockwise; shown upright, the
    # stored top-left corner is at the top right.
    r, g, b = display.getpixel((300 - 10, 10))
    assert g > 200 and r < 60 and b < 60
    assert opened(result.thumbnail_jpeg).size == (240, 320)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pillows_exif_transpose(orientation):
    im = Image.new("RGB", (64, 48), (128, 128, 128))
    im.paste((0, 255, 0), (0, 0, 16, 16))  # top-left: green
    im.paste((255, 0, 0), (48, 0, 64, 16))  # top-right: red
    exif = camera_exif(orientation=orientation)
    data = encode(im, "PNG", exif=exif)  # lossless, so pixels can be compared
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    result = process_upload(data)
    display = opened(result.display_jpeg)
    assert display.size == expected.size == (result.info.width, result.info.height)
    for corner in [(4, 4), (display.width - 5, 4), (4, display.height - 5)]:
        got, want = display.getpixel(corner), expected.getpixel(corner)
        assert all(abs(a - b) < 40 for a, b in zip(got, want)), (corner, got, want)


def test_large_photo_copies_are_bounded_and_carry_no_metadata():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(scene((4000, 3000)), "JPEG", exif=camera_exif(), icc_profile=icc, quality=90)
    result = process_upload(data)
    assert (result.info.width, result.info.height) == (4000, 3000)
    display, thumb = opened(result.display_jpeg), opened(result.thumbnail_jpeg)
    assert display.size == (1600, 1200)
    assert thumb.size == (320, 240)
    assert_no_metadata(result.display_jpeg)
    assert_no_metadata(result.thumbnail_jpeg)
    assert b"Exif" not in result.display_jpeg and b"Exif" not in result.thumbnail_jpeg


def test_small_photo_is_not_enlarged():
    result = process_upload(encode(scene((200, 100)), "PNG"))
    assert opened(result.display_jpeg).size == (200, 100)
    assert opened(result.thumbnail_jpeg).size == (200, 100)


# --- Difference hash --------------------------------------------------------------------


def test_dhash_survives_re_encoding_resizing_and_format():
    original = scene()
    first = process_upload(encode(original, "JPEG", quality=95)).info.dhash
    copies = [
        encode(original, "JPEG", quality=40),
        encode(original.resize((4000, 3000)), "JPEG", quality=80),
        encode(original, "PNG"),
        encode(original, "WEBP"),
    ]
    for data in copies:
        assert hamming(process_upload(data).info.dhash, first) == 0


def test_dhash_is_far_for_a_different_picture():
    first = process_upload(encode(scene(), "JPEG")).info.dhash
    mirrored = scene().transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    other = process_upload(encode(mirrored, "JPEG")).info.dhash
    assert hamming(first, other) > 6
    gradient = Image.linear_gradient("L").resize((800, 600)).convert("RGB")
    assert hamming(first, process_upload(encode(gradient, "JPEG")).info.dhash) > 6


def test_dhash_bit_order():
    # Brightness rising to the right in every row sets every bit; falling clears them.
    rising = Image.linear_gradient("L").rotate(90).resize((90, 80))  # dark left
    assert imaging.dhash(rising) == 2**64 - 1
    assert imaging.dhash(rising.transpose(Image.Transpose.FLIP_LEFT_RIGHT)) == 0
    # Only the first row rises: the 8 most significant bits.
    first_row = Image.new("L", (9, 8), 128)
    first_row.putdata([i * 20 for i in range(9)] + [128] * 63)
    assert imaging.dhash(first_row) == 0xFF << 56


def test_imaging_imports_neither_flask_nor_sqlalchemy():
    source = Path(imaging.__file__).read_text()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"flask", "flask_sqlalchemy", "sqlalchemy", "werkzeug"}


@pytest.mark.parametrize("taken, offset", [
    ("0001:01:01 00:00:00", "+05:00"),  # before year 1 in UTC
    ("9999:12:31 23:59:59", "-05:00"),  # after year 9999 in UTC
    ("0001:01:01 00:00:00", None),
    ("9999:12:31 00:00:00", None),
])
def test_exif_time_at_the_ends_of_the_calendar_is_no_time(taken, offset):
    info = process_upload(encode(scene(), "JPEG", exif=camera_exif(taken=taken, offset=offset))).info
    assert info.taken_at is None and info.taken_at_in(timezone.utc) is None


@pytest.mark.parametrize("taken, offset", [("0002:01:01 00:00:00", "+14:00"), ("9998:12:31 23:59:59", "-12:00")])
def test_exif_time_a_year_from_the_ends_is_kept(taken, offset):
    info = process_upload(encode(scene(), "JPEG", exif=camera_exif(taken=taken, offset=offset))).info
    assert info.taken_at == datetime.strptime(taken, "%Y:%m:%d %H:%M:%S")
    assert info.taken_at_in(timezone.utc).astimezone(timezone.utc) - timedelta(days=1)  # no overflow
