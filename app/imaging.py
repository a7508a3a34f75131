"""Photo uploads: recognise, measure, read the evidence, then strip and resize.

Decoding images is not a business rule, so this lives beside the domain rather than in
it; it knows nothing of Flask or the database either. The verification rules that use
what is read here (DUPLICATE_PHOTO, PHOTO_LOCATION_MISMATCH, PHOTO_TIME_MISMATCH) are in
``app.domain.verification``.

Order matters: the type is judged from the bytes and the pixel count from the header
before any pixel is decoded (an upload is hostile until proven otherwise), and EXIF is
read before the copies we serve are written without it.
"""
from __future__ import annotations

import hashlib
import io
import math
import re
import struct
import threading
import warnings
from dataclasses import dataclass
from itertools import combinations
from datetime import datetime, timedelta, timezone, tzinfo

import pillow_heif
from PIL import Image, ImageCms

pillow_heif.register_heif_opener()

MAX_PIXELS = 40_000_000
# Decodes at once per process. A 12-megapixel photo takes about 40 MB while it is
# decoded; twenty threads of one worker decoding together grew it by over 800 MB.
# Pillow releases the GIL while decoding, but several worker processes already use
# every core, so one at a time costs little throughput.
DECODE_SLOTS = 1
_DECODING = threading.BoundedSemaphore(DECODE_SLOTS)
DISPLAY_LONG_EDGE = 1600
THUMB_LONG_EDGE = 320
DISPLAY_QUALITY = 85
THUMB_QUALITY = 80

# EXIF tags (CIPA DC-008).
_TAG_ORIENTATION = 0x0112
_IFD_EXIF = 0x8769
_IFD_GPS = 0x8825
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_OFFSET_TIME_ORIGINAL = 0x9011
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4

# EXIF orientation -> the transposition that shows the picture upright; the table of
# ImageOps.exif_transpose, applied here to the display copy rather than the full image.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_OFFSET_RE = re.compile(r"^[+-](\d{2}):(\d{2})$")

# HEIF files are ISO-BMFF boxes whose "ftyp" brands say what is inside. These are the
# HEVC-coded ones (HEIC) and the generic image brands; AVIF shares the container but is
# not an accepted type (api.md lists JPEG, PNG, WebP and HEIC/HEIF).
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_HEIF_GENERIC_BRANDS = {b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}

# Anything a hostile file can make Pillow's decoders raise. Mapped to IMAGE_INVALID so
# that a broken upload is a 422 for the client, never a 500.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    RuntimeError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


class ImageRejected(Exception):
    """An upload that cannot be kept as photo evidence; ``code`` is stable for clients."""

    code = "IMAGE_INVALID"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnsupportedImage(ImageRejected):
    """Not JPEG, PNG, WebP or HEIC/HEIF by its content (415 at the edge)."""

    code = "UNSUPPORTED_MEDIA_TYPE"


class ImageTooLarge(ImageRejected):
    """More pixels than allowed, found from the header before decoding (422)."""

    code = "IMAGE_TOO_LARGE"


class InvalidImage(ImageRejected):
    """A supported type that cannot be decoded: truncated, corrupt or a bomb (422)."""

    code = "IMAGE_INVALID"


@dataclass(frozen=True)
class ImageInfo:
    """What an upload says about itself, read before its metadata is stripped."""

    format: str  # "JPEG", "PNG", "WEBP" or "HEIF"
    mime_type: str
    width: int  # as displayed, i.e. after EXIF orientation
    height: int
    sha256: str  # of the original bytes: the evidence id
    dhash: int  # 64-bit difference hash, 0 <= dhash < 2**64
    taken_at: datetime | None  # EXIF DateTimeOriginal, naive wall-clock time
    taken_at_offset: str | None  # EXIF OffsetTimeOriginal such as "+08:00"
    gps: tuple[float, float] | None  # (lat, lon) in decimal degrees, S and W negative

    def taken_at_in(self, default_tz: tzinfo) -> datetime | None:
        """``taken_at`` made aware: its own EXIF offset, else ``default_tz`` (TIMEZONE)."""
        if self.taken_at is None:
            return None
        offset = _parse_offset(self.taken_at_offset)
        return self.taken_at.replace(tzinfo=offset or default_tz)


@dataclass(frozen=True)
class ProcessedPhoto:
    """The result of an accepted upload: what it says and the copies we serve."""

    info: ImageInfo
    display_jpeg: bytes  # long edge <= 1600 px, orientation applied, no metadata
    thumbnail_jpeg: bytes  # long edge <= 320 px, no metadata


def process_upload(data: bytes, max_pixels: int = MAX_PIXELS) -> ProcessedPhoto:
    """Check an uploaded image and produce its evidence record and served copies.

    Raises UnsupportedImage, ImageTooLarge or InvalidImage (each with a stable ``code``).
    """
    fmt, mime_type = sniff_type(data)
    # Pillow's own decompression-bomb warning becomes an error here; our pixel limit is
    # far below Pillow's, so in practice it only guards decoders that meet a bigger
    # frame than the header announced. Pillow's "Corrupt EXIF data" warnings are silenced:
    # hostile or sloppy metadata is an expected input, answered by _read_exif, not a
    # warning for the operator. catch_warnings is process-global: _DECODING lets one
    # thread at a time in, and bounds the memory a worker's threads spend on pixels.
    with _DECODING, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        try:
            # formats= keeps Pillow from trying any other plugin on bytes we sniffed as
            # fmt: an EPS, say, would otherwise be handed to Ghostscript.
            im = Image.open(io.BytesIO(data), formats=[fmt])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            # Pillow refuses from the header's size alone, before decoding: too large.
            raise ImageTooLarge(f"The image has too many pixels ({exc}).") from None
        except _DECODE_ERRORS as exc:
            raise InvalidImage(f"The {fmt} image cannot be read ({exc}).") from None
        with im:
            width, height = im.size
            if width <= 0 or height <= 0:
                raise InvalidImage("The image has no pixels.")
            if width * height > max_pixels:
                raise ImageTooLarge(
                    f"The image has {width * height} pixels; at most {max_pixels} are accepted."
                )
            try:
                _decode(im, fmt)
                # Read after decoding: a PNG may keep its eXIf chunk after the pixels,
                # and looking for it earlier would make Pillow decode inside getexif(),
                # where a broken stream is lost and a blank image is left behind.
                exif = _read_exif(im)
                orientation = _orientation(exif)
                display = _display_copy(im, orientation)
            except _DECODE_ERRORS as exc:
                raise InvalidImage(f"The {fmt} image cannot be decoded ({exc}).") from None

    # Orientations 5-8 turn the picture a quarter: the displayed size is swapped.
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    taken_at, offset = _taken_at(exif)
    thumbnail = display.copy()
    thumbnail.thumbnail((THUMB_LONG_EDGE, THUMB_LONG_EDGE), Image.Resampling.LANCZOS)
    info = ImageInfo(
        format=fmt,
        mime_type=mime_type,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        # From the display copy rather than the thumbnail: the extra reduction step
        # of the thumbnail makes near-equal neighbours flip between re-encodings.
        dhash=dhash(display),
        taken_at=taken_at,
        taken_at_offset=offset,
        gps=_gps(exif),
    )
    return ProcessedPhoto(
        info=info,
        display_jpeg=_jpeg(display, DISPLAY_QUALITY),
        thumbnail_jpeg=_jpeg(thumbnail, THUMB_QUALITY),
    )


def sniff_type(data: bytes) -> tuple[str, str]:
    """The Pillow format and MIME type judged from the content, never from a name.

    Raises UnsupportedImage for anything but JPEG, PNG, WebP and HEIC/HEIF (SVG
    included: it is a document that can carry scripts, not a photo).
    """
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG", "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG", "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP", "image/webp"
    if len(data) >= 16 and data[4:8] == b"ftyp":
        box_size = int.from_bytes(data[:4], "big")
        end = min(box_size, len(data)) if box_size >= 16 else 16
        major = data[8:12]
        brands = {major} | {data[i : i + 4] for i in range(16, end - 3, 4)}
        if brands & _HEIC_BRANDS:
            return "HEIF", "image/heic"
        if major in _HEIF_GENERIC_BRANDS and not brands & _AVIF_BRANDS:
            return "HEIF", "image/heif"
    raise UnsupportedImage("Only JPEG, PNG, WebP and HEIC/HEIF images are accepted.")


def dhash(image: Image.Image, hash_size: int = 8) -> int:
    """64-bit difference hash: for each row of a 9x8 greyscale reduction, whether each
    pixel is darker than its right-hand neighbour.

    Bit order (row-major, most significant first, set when the right pixel is brighter)
    and the Lanczos reduction match ``imagehash.dhash``, so ``int(str(h), 16)`` of that
    library gives the same number; the dependency is not needed for twenty lines.
    """
    small = image.convert("L").resize((hash_size + 1, hash_size), Image.Resampling.LANCZOS)
    pixels = small.tobytes()
    value = 0
    for row in range(hash_size):
        offset = row * (hash_size + 1)
        for col in range(hash_size):
            left, right = pixels[offset + col], pixels[offset + col + 1]
            value = (value << 1) | (right > left)
    return value


# --- The 64-bit difference hash in four bands (the duplicate look-up's index) ----------

_BITS = 64
BAND_BITS = 16
BANDS = _BITS // BAND_BITS


def dhash_column(value: int, *, to_db: bool) -> int:
    """The 64-bit hash between Python (unsigned, 0..2**64-1) and the signed BIGINT
    column (two's complement): ``to_db`` one way, else back."""
    if to_db:
        return value - (1 << _BITS) if value >= 1 << (_BITS - 1) else value
    return value & ((1 << _BITS) - 1)


def dhash_bands(dhash: int) -> list[int]:
    """The unsigned hash cut into four 16-bit bands, the most significant first."""
    mask = (1 << BAND_BITS) - 1
    return [(dhash >> (_BITS - BAND_BITS * (i + 1))) & mask for i in range(BANDS)]


def band_probes(band: int, max_distance: int) -> list[int]:
    """Every band value within ``max_distance // 4`` bits of ``band``.

    Pigeonhole: hashes at most d bits apart differ in at most d bits over four bands,
    so on one band at least they differ in at most d // 4 bits. Looking a photo up by
    these values on each band finds every candidate within d bits; for the default
    d = 6 that is 17 values a band, and a random photo matches one of the 68 with a
    probability of about 0.1 %.
    """
    radius = max(0, max_distance) // BANDS
    probes = [band]
    for flipped in range(1, radius + 1):
        for bits in combinations(range(BAND_BITS), flipped):
            value = band
            for bit in bits:
                value ^= 1 << bit
            probes.append(value)
    return probes


def _decode(im: Image.Image, fmt: str) -> None:
    """Decode the pixels once, as small as the display copy allows."""
    width, height = im.size
    if fmt == "JPEG":
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale while staying at least as large as
        # the display copy. The box keeps the aspect ratio: with a square box, a 4:3
        # photo's short side would forbid any reduction.
        scale = DISPLAY_LONG_EDGE / max(width, height)
        if scale < 1:
            im.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
    im.load()


def _display_copy(im: Image.Image, orientation: int) -> Image.Image:
    """The decoded image upright, in RGB and sRGB, long edge <= 1600 px, no metadata."""
    image = _to_rgb(im)
    # Bicubic rather than Lanczos: indistinguishable at a reduction this mild, and about
    # a third faster on a 12-megapixel photo.
    image.thumbnail((DISPLAY_LONG_EDGE, DISPLAY_LONG_EDGE), Image.Resampling.BICUBIC)
    # Turned upright after shrinking (the box is square, so the order does not change
    # the result) because rotating the small copy is cheaper. The orientation is the one
    # _read_exif could read: a corrupt EXIF block costs the metadata, not the photo.
    transposition = _UPRIGHT.get(orientation)
    if transposition is not None:
        image = image.transpose(transposition)
    image = _to_srgb(image, im.info.get("icc_profile"))
    # Nothing of the original's metadata may travel with the copies we serve.
    image.info.clear()
    return image


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB pixels, transparency flattened onto white (JPEG has no alpha)."""
    if im.mode == "RGB":
        return im.copy()
    if im.mode.startswith("I;16"):
        # 16-bit greyscale: keep the top byte rather than clipping everything to white.
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L").convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return im.convert("RGB")


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Convert from an embedded colour profile (e.g. Display P3) to sRGB.

    The copies carry no profile, and browsers read untagged JPEGs as sRGB, so without
    this a wide-gamut phone photo would look washed out. A broken profile is ignored.
    """
    if not icc_profile:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        converted = ImageCms.profileToProfile(
            image, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted if converted is not None else image


def _jpeg(image: Image.Image, quality: int) -> bytes:
    """Encode without exif, icc_profile or xmp: Pillow writes only what it is given."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _read_exif(im: Image.Image) -> Image.Exif | None:
    # A corrupt EXIF block loses the metadata, not the photo: a missing field raises
    # nothing in verification.md, and the pixels may still be fine.
    try:
        return im.getexif()
    except _DECODE_ERRORS:
        return None


def _orientation(exif: Image.Exif | None) -> int:
    if exif is None:
        return 1
    value = exif.get(_TAG_ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _taken_at(exif: Image.Exif | None) -> tuple[datetime | None, str | None]:
    """EXIF DateTimeOriginal (naive wall-clock time) and OffsetTimeOriginal, if valid."""
    if exif is None:
        return None, None
    try:
        ifd = exif.get_ifd(_IFD_EXIF)
    except _DECODE_ERRORS:
        return None, None
    raw = _text(ifd.get(_TAG_DATETIME_ORIGINAL))
    if raw is None:
        return None, None
    try:
        # Cameras with no clock write "0000:00:00 00:00:00" or blanks: no time at all.
        taken_at = datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None, None
    if not 1 < taken_at.year < 9999:
        # At the calendar's ends an offset or a tolerance would carry the time out of it
        # (0001-01-01 at +05:00 is before year 1): a time nothing can be computed with is
        # unusable, and ignored like a missing one. A year away from the ends, any
        # offset and tolerance fit; such a time is then judged like any other.
        return None, None
    offset = _text(ifd.get(_TAG_OFFSET_TIME_ORIGINAL))
    if offset is not None and _parse_offset(offset) is None:
        offset = None
    return taken_at, offset


def _parse_offset(offset: str | None) -> timezone | None:
    if offset is None:
        return None
    match = _OFFSET_RE.match(offset)
    if not match:
        return None
    hours, minutes = int(match[1]), int(match[2])
    if hours > 23 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if offset[0] == "-" else delta)


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    value = value.strip("\x00 ")
    return value or None


def _gps(exif: Image.Exif | None) -> tuple[float, float] | None:
    """EXIF GPS position in decimal degrees, or None when absent or unusable."""
    if exif is None:
        return None
    try:
        gps = exif.get_ifd(_IFD_GPS)
        lat = _degrees(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), "S")
        lon = _degrees(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), "W")
    except _DECODE_ERRORS:
        return None
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    # Receivers without a fix write zeros; a photo "at 0,0" would otherwise be reported
    # as taken in the Gulf of Guinea, a flag the engineer did nothing to earn.
    if lat == 0 and lon == 0:
        return None
    return lat, lon


def _degrees(dms: object, ref: object, negative_ref: str) -> float | None:
    if not isinstance(dms, tuple) or not 1 <= len(dms) <= 3:
        return None
    value = sum(float(part) / 60**i for i, part in enumerate(dms))
    if math.isnan(value) or math.isinf(value):
        return None
    return -value if _text(ref) == negative_ref else value
