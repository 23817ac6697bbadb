"""Real files for the media tests, made in memory: images by Pillow, MP4s box by box (ISO/IEC
14496-12: `ftyp`, `moov` with `mvhd` and a `trak` with `tkhd`, then `mdat`)."""

from __future__ import annotations

import io
import struct

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

STUTTGART = ((48, 1), (46, 1), (30, 1)), ((9, 1), (10, 1), (55, 1))  # degrees, minutes, seconds


def image(fmt: str = "PNG", size: tuple[int, int] = (1080, 1080), color: str = "#c0392b") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def phone_photo(size: tuple[int, int] = (1200, 900), orientation: int = 1) -> bytes:
    """A JPEG as a phone writes it: GPS position, camera make and model, an XMP packet and a
    comment; `orientation` 6 means "turn 90 degrees clockwise to show it upright"."""
    picture = Image.new("RGB", size, "#2e86c1")
    picture.paste(Image.new("RGB", (size[0] // 4, size[1] // 4), "#f1c40f"), (0, 0))  # top left corner
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Pocket 12"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    latitude, longitude = STUTTGART
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = tuple(n / d for n, d in latitude)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = tuple(n / d for n, d in longitude)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>48,46.5N</exif:GPSLatitude></x:xmpmeta>'
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90, exif=exif.tobytes(), xmp=xmp, comment=b"Koenigstrasse 28")
    return out.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def mp4(
    size: tuple[int, int] = (1080, 1920), seconds: float = 12.5, brand: bytes = b"isom", turned: bool = False
) -> bytes:
    """A small MP4 (no real frames: what a phone's file has in its boxes, nothing more)."""
    ftyp = _box(b"ftyp", brand + struct.pack(">I", 512) + brand + b"mp41")
    timescale = 1000
    mvhd = _box(
        b"mvhd",
        bytes(4) + struct.pack(">IIII", 0, 0, timescale, int(seconds * timescale)) + bytes(80),
    )
    width, height = size
    one, minus_one, zero = 0x10000, -0x10000, 0
    matrix = (zero, one, zero, minus_one, zero, zero) if turned else (one, zero, zero, zero, one, zero)
    tkhd = _box(
        b"tkhd",
        bytes([0, 0, 0, 3])
        + struct.pack(">IIIII", 0, 0, 1, 0, int(seconds * timescale))
        + bytes(8)
        + struct.pack(">hhhh", 0, 0, 0, 0)
        + struct.pack(">iiiiiiiii", *matrix, 0, 0, 0x40000000)
        + struct.pack(">II", width << 16, height << 16),
    )
    moov = _box(b"moov", mvhd + _box(b"trak", tkhd))
    return ftyp + moov + _box(b"mdat", bytes(2048))


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    """A file as a browser sends it; the content type is the browser's claim, never trusted."""
    return SimpleUploadedFile(name, content, content_type=content_type)
