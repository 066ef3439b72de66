"""What a server can make the client hold, bounded: body size, decompression, text, image count.

An endpoint is trusted to make images, not to decide how much memory or disk the
client spends. Every answer is read through :class:`BodyReader`, which stops at a
limit derived from the request (``n`` images of the size asked for) and decompresses
``gzip``/``deflate`` a bounded piece at a time: a 200 KB gzip body cannot grow into
hundreds of megabytes. Streams (server-sent events) read through the same class,
one chunk at a time. Text a server supplies is cut to :data:`MAX_TEXT_CHARS` before
it is stored in provenance, and an answer with more images than ``n`` keeps ``n``.

All pure: no sockets here, only bytes in and bytes out.

>>> reader = BodyReader(limit=10)
>>> reader.feed(b"hello") + reader.feed(b"!")
b'hello!'
>>> reader.feed(b"and more")
Traceback (most recent call last):
...
dalle_widgets.client._limits.BodyTooLarge: the answer is larger than 10 bytes
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import httpx

from .._png import MAX_PIXELS

__all__ = [
    "ACCEPT_ENCODING",
    "ANSWER_SLACK",
    "MAX_ERROR_BODY",
    "MAX_TEXT_CHARS",
    "BodyReader",
    "BodyTooLarge",
    "LineSplitter",
    "Reply",
    "answer_limit",
    "bound_text",
    "image_limit",
]

#: The content codings the client asks for, and the only ones it decodes (bounded).
ACCEPT_ENCODING = "gzip, deflate"
#: Longest text a server may put into stored provenance (a revised prompt, a chat reply).
#: Pillow refuses text chunks over 1 MB; 32 Ki characters stay far below it even as ``\uXXXX``.
MAX_TEXT_CHARS = 32_768
#: An error answer is read up to this many bytes; the message quotes its start anyway.
MAX_ERROR_BODY = 1_000_000
#: Room for ancillary chunks (metadata) in one image file.
_SLACK = 1_000_000
#: JSON framing, revised prompts and other text around the images of one answer: generous, so
#: that a long text never costs the images (it is cut before it is stored, see bound_text).
ANSWER_SLACK = 32_000_000
#: The bound assumes at most 8 bytes per pixel (16-bit RGBA), compression or not.
_BYTES_PER_PIXEL = 8
#: Sizes below this (in pixels) are counted as this, so a server answering a little larger
#: than asked (a compatible server that ignores ``size``) is not refused.
_MIN_PIXELS = 1024 * 1024
_STEP = 1 << 20
_SIZE = re.compile(r"^\s*(\d{1,6})\s*x\s*(\d{1,6})\s*$")


class BodyTooLarge(ValueError):
    """An answer (or one image of it) larger than the client agreed to hold."""


@dataclass(frozen=True)
class Reply:
    """A response read whole, within the limits: what the send loops hand to the parsers.

    Has the attributes of ``httpx.Response`` that the parsers use, so either can be passed.
    """

    status_code: int
    headers: httpx.Headers = field(repr=False)
    content: bytes = field(repr=False)  # what the server sent is never shown in a traceback

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


def image_limit(size: str | None) -> int:
    """The most bytes one image of ``size`` (``"WxH"``; anything else: the largest) may take.

    >>> image_limit("1024x1024")
    9388608
    """
    match = _SIZE.match(size or "")
    pixels = int(match.group(1)) * int(match.group(2)) if match else MAX_PIXELS
    return max(_MIN_PIXELS, min(pixels, MAX_PIXELS)) * _BYTES_PER_PIXEL + _SLACK


def answer_limit(n: int, size: str | None) -> int:
    """The most bytes an answer with ``n`` images of ``size`` may take (base64 included).

    >>> answer_limit(1, "1024x1024") < answer_limit(2, "1024x1024")
    True
    """
    return max(1, n) * (image_limit(size) * 4 // 3 + 4096) + ANSWER_SLACK


def bound_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was dropped.

    >>> bound_text("abcdef", 3)
    'abc… [3 more characters dropped]'
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit:,} more characters dropped]"


def bound_fields(info: dict[str, Any], limit: int = MAX_TEXT_CHARS) -> dict[str, Any]:
    """``info`` with every string value cut by :func:`bound_text` (lists of strings too)."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, str):
            value = bound_text(value, limit)
        elif isinstance(value, list):
            value = [bound_text(v, limit) if isinstance(v, str) else v for v in value]
        out[key] = value
    return out


class BodyReader:
    """Decode a body fed in raw pieces, refusing to produce more than ``limit`` bytes.

    Parameters
    ----------
    encoding : str
        The ``Content-Encoding`` header: ``""``/``identity``, ``gzip`` or ``deflate``.
        Anything else was not asked for (see :data:`ACCEPT_ENCODING`) and raises ValueError.
    limit : int
        Most decoded bytes accepted.
    truncate : bool
        Stop quietly at the limit (for error bodies, which are only quoted) instead of
        raising :class:`BodyTooLarge`.
    """

    def __init__(self, encoding: str = "", *, limit: int, truncate: bool = False) -> None:
        coding = ",".join(c.strip().lower() for c in encoding.split(",") if c.strip())
        if coding in ("", "identity"):
            self._inflater = None
        elif coding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif coding == "deflate":
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib or gzip header
        else:
            raise ValueError(
                f"the answer is encoded as {encoding!r}, which was not asked for ({ACCEPT_ENCODING})"
            )
        self.limit = limit
        self.truncate = truncate
        self.size = 0
        self.full = False

    def _take(self, piece: bytes) -> bytes:
        room = self.limit - self.size
        if len(piece) > room:
            if not self.truncate:
                raise BodyTooLarge(f"the answer is larger than {self.limit:,} bytes")
            piece, self.full = piece[:room], True
        self.size += len(piece)
        return piece

    def feed(self, raw: bytes) -> bytes:
        """The decoded bytes of ``raw`` (a piece of the body as it came off the wire)."""
        if self.full:
            return b""
        if self._inflater is None:
            return self._take(raw)
        out = []
        data = raw
        while data and not self._inflater.eof and not self.full:
            try:
                piece = self._inflater.decompress(data, min(_STEP, self.limit - self.size + 1))
            except zlib.error as exc:
                raise ValueError(f"the answer's compressed data is corrupted ({exc})") from None
            out.append(self._take(piece))
            data = self._inflater.unconsumed_tail
        return b"".join(out)

    def finish(self) -> bytes:
        """What the decoder still held at the end of the body."""
        if self._inflater is None or self.full:
            return b""
        return self._take(self._inflater.flush())


class LineSplitter:
    r"""Decoded bytes of an event stream in, text lines out (``\n``, ``\r\n`` or ``\r`` ends one).

    >>> lines = LineSplitter()
    >>> lines.feed(b"data: 1\r"), lines.feed(b"\ndata: 2\n\nda"), lines.finish()
    ([], ['data: 1', 'data: 2', ''], ['da'])
    """

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> list[str]:
        buf = self._rest + data
        lines = buf.splitlines(keepends=True)
        self._rest = b""
        if lines and (not lines[-1].endswith((b"\n", b"\r")) or lines[-1].endswith(b"\r")):
            self._rest = lines.pop()  # an unfinished line, or a \r whose \n may come next
        return [line.rstrip(b"\r\n").decode("utf-8", "replace") for line in lines]

    def finish(self) -> list[str]:
        rest, self._rest = self._rest, b""
        return [rest.rstrip(b"\r\n").decode("utf-8", "replace")] if rest else []
