"""PNG bytes, written once: the signature, the encoder, the provenance chunk, the atomic write.

Every layer handles PNG files (the client uploads and stores them, the engine answers
with them, the widgets and the board show and save them), and each used to carry its
own copy of these few lines. They live here, at the bottom, with no import from the
rest of the package:

* :data:`SIGNATURE` and :func:`is_png`: the 8 bytes every PNG starts with;
* :data:`MAX_UPLOAD_BYTES`: the Images API's upload limit (strictly less than 4 MB);
* :func:`encode`: one Pillow encoder, fast by default (zlib level 1);
* :func:`as_png`: PNG bytes kept as they are, anything else encoded;
* :func:`with_info` / :func:`read_info`: provenance as JSON in a ``tEXt`` chunk;
* :func:`check`: a whole PNG checked without decoding it (chunk CRCs, declared size,
  and pixel data that is complete and no larger than declared);
* :func:`write_atomic`: a temporary file in the same directory, then a rename.

>>> from PIL import Image
>>> png = with_info(encode(Image.new("RGB", (2, 2), "red")), {"prompt": "red"})
>>> is_png(png), read_info(png)
(True, {'prompt': 'red'})
"""

from __future__ import annotations

import io
import json
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Pillow is imported where pixels are handled, so the constants stay cheap to import
    from PIL import Image

__all__ = [
    "CHUNK_KEY",
    "FAST",
    "MAX_UPLOAD_BYTES",
    "MAX_PIXELS",
    "SIGNATURE",
    "as_png",
    "check",
    "encode",
    "is_png",
    "read_info",
    "with_info",
    "write_atomic",
]

#: The 8 bytes every PNG file starts with.
SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: The Images API's limit for an uploaded image or mask, in bytes (a file must be strictly smaller).
MAX_UPLOAD_BYTES = 4_000_000

#: The most pixels an image read from outside may declare (32 Mi: 4x the largest size an image
#: API makes, 3840x2160). Above it an image is refused before any pixel is decompressed: a
#: 75 KB PNG can declare 4096x4096 and decompress to 64 MB.
MAX_PIXELS = 32 * 1024 * 1024

#: The zlib level of :func:`encode` by default: level 1 writes a 1024 px image several times
#: faster than Pillow's default 6, for files about 10-20 % larger. Images are written on every
#: request; they are read rarely.
FAST = 1

#: The ``tEXt`` keyword of the provenance chunk.
CHUNK_KEY = "dalle_widgets"

_TEXT_CHUNKS = (b"tEXt", b"iTXt", b"zTXt")
_OUR_KEY = CHUNK_KEY.encode() + b"\x00"


def is_png(data: bytes | bytearray | memoryview) -> bool:
    """Whether ``data`` starts with the PNG signature (nothing else is checked).

    >>> is_png(b"\\x89PNG\\r\\n\\x1a\\n..."), is_png(b"GIF89a")
    (True, False)
    """
    return bytes(data[:8]) == SIGNATURE


def encode(
    image: Image.Image, *, level: int = FAST, optimize: bool = False, text: Mapping[str, str] | None = None
) -> bytes:
    """Encode a PIL image as PNG bytes.

    Parameters
    ----------
    image : PIL.Image.Image
    level : int
        zlib compression level, 0-9; default :data:`FAST`.
    optimize : bool
        Let Pillow also try filter choices (slow; only worth it for files kept small on purpose).
    text : mapping of str to str, optional
        ``tEXt`` chunks to add (keyword -> Latin-1 text), e.g. the engine's ``Software`` label.

    >>> from PIL import Image
    >>> data = encode(Image.new("L", (3, 3)), text={"Software": "demo"})
    >>> Image.open(io.BytesIO(data)).text
    {'Software': 'demo'}
    """
    options: dict[str, Any] = {"compress_level": int(level), "optimize": optimize}
    if text:
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
        options["pnginfo"] = info
    buf = io.BytesIO()
    image.save(buf, format="PNG", **options)
    return buf.getvalue()


def as_png(image: Any) -> bytes:
    """PNG bytes for PNG bytes (kept byte for byte), other encoded image bytes, a PIL image or an array.

    Raises TypeError for anything else, naming what to pass.

    >>> import numpy as np
    >>> is_png(as_png(np.zeros((2, 2, 3), np.uint8)))
    True
    >>> as_png(3.5)
    Traceback (most recent call last):
    ...
    TypeError: cannot store float: pass a PIL image, a numpy array or image bytes
    """
    from PIL import Image

    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        if is_png(data):
            return data
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            return encode(opened)
    if isinstance(image, Image.Image):
        return encode(image)
    import numpy as np

    if isinstance(image, np.ndarray):
        return encode(Image.fromarray(image))
    raise TypeError(f"cannot store {type(image).__name__}: pass a PIL image, a numpy array or image bytes")


# --- the provenance chunk (pure functions over bytes) ----------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _iter_chunks(png: bytes) -> Iterator[tuple[bytes, int, int]]:
    """Yield ``(type, start, end)`` of each chunk; raise ValueError on a malformed PNG."""
    if not png.startswith(SIGNATURE):
        raise ValueError("not a PNG (bad signature)")
    pos = len(SIGNATURE)
    while pos < len(png):
        if pos + 8 > len(png):
            raise ValueError("truncated PNG chunk header")
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(png):
            raise ValueError("truncated PNG chunk")
        yield kind, pos, end
        pos = end
        if kind == b"IEND":
            return
    raise ValueError("PNG has no IEND chunk")


def _is_ours(png: bytes, kind: bytes, start: int) -> bool:
    return kind in _TEXT_CHUNKS and png[start + 8 : start + 8 + len(_OUR_KEY)] == _OUR_KEY


def with_info(png: bytes, info: Mapping[str, Any]) -> bytes:
    """Return ``png`` with ``info`` as JSON in a ``dalle_widgets`` text chunk right after IHDR.

    Any earlier ``dalle_widgets`` chunk is dropped; every other chunk is kept byte for byte,
    so the pixels are never re-encoded. Right after the header, the chunk is read without
    decoding any pixel data (a plain ``PIL.Image.open`` shows it in ``.info`` too).

    >>> from PIL import Image
    >>> png = encode(Image.new("L", (2, 2)))
    >>> read_info(with_info(with_info(png, {"a": 1}), {"a": 2}))
    {'a': 2}
    """
    text = json.dumps(info, sort_keys=True, ensure_ascii=True, default=str).encode("latin-1")
    ours = _chunk(b"tEXt", _OUR_KEY + text)
    parts = [SIGNATURE]
    for kind, start, end in _iter_chunks(png):
        if _is_ours(png, kind, start):
            continue
        parts.append(png[start:end])
        if kind == b"IHDR":
            parts.append(ours)
    return b"".join(parts)


def read_info(png: bytes) -> dict[str, Any]:
    """The provenance dict stored in a PNG's ``dalle_widgets`` chunk (empty if none).

    Only the chunks before the pixel data are read. Raises ValueError for bytes that are
    not a well-formed PNG.

    >>> read_info(b"not a png")
    Traceback (most recent call last):
    ...
    ValueError: not a PNG (bad signature)
    """
    for kind, start, end in _iter_chunks(png):
        if kind == b"tEXt" and _is_ours(png, kind, start):
            value = json.loads(png[start + 8 + len(_OUR_KEY) : end - 4].decode("latin-1"))
            return value if isinstance(value, dict) else {}
        if kind == b"IDAT":
            break
    return {}


# --- the integrity check (no decoding) ------------------------------------------------------------

_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_INFLATE_STEP = 1 << 20


def _raw_size(width: int, height: int, bits: int, interlaced: bool) -> int:
    """Bytes of the filtered scanlines a PNG of this header decompresses to (a filter byte per row)."""
    if not interlaced:
        return height * (1 + (width * bits + 7) // 8)
    total = 0
    for x0, y0, dx, dy in _ADAM7:
        w = (width - x0 + dx - 1) // dx if width > x0 else 0
        h = (height - y0 + dy - 1) // dy if height > y0 else 0
        if w and h:
            total += h * (1 + (w * bits + 7) // 8)
    return total


def check(png: bytes, *, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """Check that ``png`` is a whole, uncorrupted PNG; return its ``(width, height)``.

    Every chunk's CRC is checked, the declared size must be at most ``max_pixels``,
    and the pixel data (the IDAT chunks) must inflate to exactly the size the header
    declares: a file whose pixel data stops early (which ``PIL.Image.verify`` accepts)
    or that inflates to more than declared is refused. Nothing is decoded: the data is
    inflated a megabyte at a time and thrown away, so memory stays bounded whatever
    the file claims. Raises ValueError saying what is wrong.

    >>> from PIL import Image
    >>> check(encode(Image.new("RGB", (3, 2))))
    (3, 2)
    >>> check(encode(Image.new("RGB", (3, 2)))[:-30])
    Traceback (most recent call last):
    ...
    ValueError: truncated PNG chunk header
    """
    header = None
    inflater = zlib.decompressobj()
    expected = produced = 0
    for kind, start, end in _iter_chunks(png):
        body = png[start + 8 : end - 4]
        (crc,) = struct.unpack(">I", png[end - 4 : end])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise ValueError(f"PNG chunk {kind.decode('latin-1')!r} is corrupted (bad CRC)")
        if header is None:
            if kind != b"IHDR" or len(body) != 13:
                raise ValueError("PNG does not start with a valid IHDR chunk")
            width, height, depth, ctype, _compression, _filter, interlace = struct.unpack(">IIBBBBB", body)
            if ctype not in _CHANNELS or depth not in (1, 2, 4, 8, 16) or not width or not height:
                raise ValueError(f"PNG header is invalid (colour type {ctype}, bit depth {depth})")
            if width * height > max_pixels:
                raise ValueError(
                    f"PNG declares {width}x{height} pixels, more than the {max_pixels:,} accepted "
                    "(a decompression bomb?)"
                )
            header = (width, height)
            expected = _raw_size(width, height, depth * _CHANNELS[ctype], interlace == 1)
        elif kind == b"IDAT":
            data = body
            while data and not inflater.eof:
                try:
                    out = inflater.decompress(data, _INFLATE_STEP)
                except zlib.error as exc:
                    raise ValueError(f"PNG pixel data is corrupted ({exc})") from None
                produced += len(out)
                if produced > expected:
                    raise ValueError(f"PNG pixel data inflates to more than the {expected:,} bytes declared")
                data = inflater.unconsumed_tail
    if header is None:
        raise ValueError("PNG has no IHDR chunk")
    if not inflater.eof or produced < expected:
        raise ValueError(f"PNG pixel data stops early ({produced:,} of {expected:,} bytes)")
    return header


# --- the atomic write ---------------------------------------------------------------------------

_made_dirs: set[Path] = set()


def write_atomic(path: str | os.PathLike[str], data: bytes, *, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename.

    Readers see the old file or the new one, never a part; a failed write leaves no
    temporary file behind. Missing parent directories are made.

    The fsync policy: ``durable=False`` (the default) does not flush to the disk. A new,
    uniquely named file (every image the store writes) is then safe from the crash of
    the kernel or of Python, since the operating system already holds the bytes; only
    the crash of the machine itself in the next few seconds could lose it, and an fsync
    would cost milliseconds per image instead of a tenth of one. ``durable=True`` fsyncs
    the data before the rename: use it for files a user curates by hand and that are
    replaced in place (a mood board's manifest and its images), where a power cut must
    leave the previous version rather than an empty file.

    Returns the path written.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "sub" / "a.txt"
    >>> write_atomic(target, b"hello").read_bytes()
    b'hello'
    """
    path = Path(path)
    if path.parent not in _made_dirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        _made_dirs.add(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    except FileNotFoundError:  # the directory was removed since: make it again
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
