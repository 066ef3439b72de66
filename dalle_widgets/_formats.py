"""Image files as delivered: which format a file is, and provenance kept inside it where it fits.

GPT image models answer PNG, JPEG or WebP (and GIF or SVG on 2.6). The store keeps each
file byte for byte, as it was paid for, and needs its provenance next to the pixels:

* PNG: a ``tEXt`` chunk (:mod:`dalle_widgets._png`);
* JPEG: a ``COM`` (comment) segment after the header segments, holding the same JSON;
* WebP, GIF, SVG: a sidecar file ``<name>.json`` (:func:`embeds` is False for them).

All pure functions over bytes; nothing here decodes pixels.

>>> from PIL import Image
>>> import io
>>> buf = io.BytesIO()
>>> Image.new("RGB", (4, 4), "red").save(buf, "JPEG")
>>> jpeg = with_info(buf.getvalue(), {"prompt": "red"})
>>> sniff(jpeg), read_info(jpeg), Image.open(io.BytesIO(jpeg)).size
('jpeg', {'prompt': 'red'}, (4, 4))
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

from . import _png

__all__ = ["CONTENT_TYPES", "SUFFIXES", "embeds", "read_info", "sniff", "with_info"]

#: File suffix of each format the store keeps.
SUFFIXES = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "gif": ".gif", "svg": ".svg"}
#: MIME type of each format.
CONTENT_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "svg": "image/svg+xml",
}
_COM_KEY = _png.CHUNK_KEY.encode() + b"\x00"
_MAX_SEGMENT = 65533


def sniff(data: bytes) -> str | None:
    """``png``, ``jpeg``, ``webp``, ``gif`` or ``svg`` from a file's first bytes; None otherwise.

    >>> sniff(b"\\xff\\xd8\\xff\\xe0..."), sniff(b"RIFF\\x00\\x00\\x00\\x00WEBPVP8 "), sniff(b"<svg x='1'>")
    ('jpeg', 'webp', 'svg')
    """
    head = bytes(data[:64])
    if head.startswith(_png.SIGNATURE):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if (
        text.startswith((b"<svg", b"<?xml", b"<!--", b"<!doctype svg"))
        and b"<svg" in bytes(data[:4096]).lower()
    ):
        return "svg"
    return None


def embeds(fmt: str | None) -> bool:
    """Whether provenance goes inside a file of this format (else in a ``.json`` sidecar)."""
    return fmt in ("png", "jpeg")


def _jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """``(marker, start, end)`` of each segment before the image data (SOS); ValueError if broken."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG (no SOI marker)")
    out = []
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"broken JPEG segment at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA or marker == 0xD9:  # SOS: image data follows; EOI
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        out.append((marker, pos, pos + 2 + length))
        pos += 2 + length
    return out


def with_info(data: bytes, info: Mapping[str, Any]) -> bytes:
    """``data`` (PNG or JPEG) with ``info`` embedded as JSON; other formats raise ValueError.

    Any earlier provenance of ours is replaced; the image data is kept byte for byte. A JPEG
    whose JSON would not fit one comment segment (64 KB) raises ValueError: use a sidecar.
    """
    fmt = sniff(data)
    if fmt == "png":
        return _png.with_info(data, info)
    if fmt != "jpeg":
        raise ValueError(f"provenance cannot be embedded in {fmt or 'this'} file; write a sidecar")
    payload = _COM_KEY + json.dumps(info, sort_keys=True, ensure_ascii=True, default=str).encode("ascii")
    if len(payload) > _MAX_SEGMENT:
        raise ValueError("provenance is too long for a JPEG comment segment; write a sidecar")
    segments = _jpeg_segments(data)
    keep = bytearray(b"\xff\xd8")
    insert_at = None
    for marker, start, end in segments:
        if marker == 0xFE and data[start + 4 : start + 4 + len(_COM_KEY)] == _COM_KEY:
            continue  # our earlier comment
        if insert_at is None and not 0xE0 <= marker <= 0xEF:  # after JFIF/EXIF (APPn) headers
            insert_at = len(keep)
        keep += data[start:end]
    ours = b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload
    if insert_at is None:
        insert_at = len(keep)
    rest = data[segments[-1][2] if segments else 2 :]
    return bytes(keep[:insert_at]) + ours + bytes(keep[insert_at:]) + rest


def read_info(data: bytes) -> dict[str, Any]:
    """Provenance embedded in a PNG or JPEG (``{}`` when there is none or for other formats)."""
    fmt = sniff(data)
    if fmt == "png":
        return _png.read_info(data)
    if fmt != "jpeg":
        return {}
    for marker, start, end in _jpeg_segments(data):
        body = data[start + 4 : end]
        if marker == 0xFE and body.startswith(_COM_KEY):
            try:
                value = json.loads(body[len(_COM_KEY) :])
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}
