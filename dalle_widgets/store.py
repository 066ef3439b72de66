"""The output store: every image received is on disk, with its provenance, before anyone sees it.

Images are written as PNG files under ``$DALLE_WIDGETS_HOME`` (default ``~/.dalle_widgets``)::

    <root>/images/<YYYY-MM-DD>/<HHMMSS>-<operation>-<unique>.png
    <root>/cache/<k[:2]>/<k>.json        request cache entries (they point at image files)

Each PNG carries its provenance as JSON in a ``tEXt`` chunk named ``dalle_widgets``, placed
right after the header so that a plain ``PIL.Image.open`` reads it without decoding pixels.
When the server sent a PNG, its bytes are kept as received and only the text chunk is
added: no re-encoding, no quality loss, and almost no time spent.

Writes are atomic (a temporary file in the same directory, then :func:`os.replace`), and
every file name carries a random part, so two processes writing at once never lose or
clobber an image. The API key is never part of what is stored: the client builds the
provenance from the request, never from its headers.

>>> import tempfile
>>> from PIL import Image
>>> store = Store(tempfile.mkdtemp())
>>> path = store.save(Image.new("RGB", (8, 8), "red"), {"operation": "generate", "prompt": "red"})
>>> open_image(path).info["prompt"]
'red'
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import secrets
import struct
import tempfile
import time
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from .client._results import GeneratedImage

__all__ = ["CHUNK_KEY", "Store", "default_root", "image_hash", "open_image", "read_info"]

logger = logging.getLogger("dalle_widgets")

CHUNK_KEY = "dalle_widgets"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = (b"tEXt", b"iTXt", b"zTXt")
CACHE_VERSION = 1


def default_root() -> Path:
    """The store directory: ``$DALLE_WIDGETS_HOME`` if set, else ``~/.dalle_widgets``."""
    env = os.environ.get("DALLE_WIDGETS_HOME")
    return Path(env).expanduser() if env else Path.home() / ".dalle_widgets"


def image_hash(image: Image.Image) -> str:
    """A short content hash of an image's pixels (mode, size and raw bytes).

    Used for lineage: a variation records the hash of its parent, which equals the
    ``image_hash`` the store recorded for that parent when it was received.

    >>> from PIL import Image
    >>> image_hash(Image.new("RGB", (2, 2))) == image_hash(Image.new("RGB", (2, 2)))
    True
    """
    digest = hashlib.sha256()
    digest.update(f"{image.mode}:{image.size[0]}x{image.size[1]}:".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()[:16]


# --- PNG chunk surgery (pure functions over bytes) -------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _iter_chunks(png: bytes) -> Iterator[tuple[bytes, int, int]]:
    """Yield ``(type, start, end)`` of each chunk; raise ValueError on a malformed PNG."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG (bad signature)")
    pos = len(PNG_SIGNATURE)
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


def _is_our_text(png: bytes, kind: bytes, start: int) -> bool:
    key = CHUNK_KEY.encode() + b"\x00"
    return kind in _TEXT_CHUNKS and png[start + 8 : start + 8 + len(key)] == key


def png_with_info(png: bytes, info: Mapping[str, Any]) -> bytes:
    """Return ``png`` with ``info`` as JSON in a ``dalle_widgets`` text chunk after IHDR.

    Any earlier ``dalle_widgets`` chunk is dropped; every other chunk is kept byte for byte.
    """
    text = json.dumps(info, sort_keys=True, ensure_ascii=True, default=str).encode("latin-1")
    ours = _chunk(b"tEXt", CHUNK_KEY.encode() + b"\x00" + text)
    parts = [PNG_SIGNATURE]
    for kind, start, end in _iter_chunks(png):
        if _is_our_text(png, kind, start):
            continue
        parts.append(png[start:end])
        if kind == b"IHDR":
            parts.append(ours)
    return b"".join(parts)


def read_info(png: bytes) -> dict[str, Any]:
    """The provenance dict stored in a PNG's ``dalle_widgets`` chunk (empty if none)."""
    key = CHUNK_KEY.encode() + b"\x00"
    for kind, start, end in _iter_chunks(png):
        if kind == b"tEXt" and _is_our_text(png, kind, start):
            data = png[start + 8 + len(key) : end - 4]
            value = json.loads(data.decode("latin-1"))
            return value if isinstance(value, dict) else {}
        if kind == b"IDAT":
            break
    return {}


def _encode_png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _as_png(image: Any) -> bytes:
    """PNG bytes for a PIL image, PNG bytes (kept as is) or other encoded image bytes."""
    from PIL import Image

    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        if data.startswith(PNG_SIGNATURE):
            return data
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return _encode_png(im)
    if isinstance(image, Image.Image):
        return _encode_png(image)
    import numpy as np

    if isinstance(image, np.ndarray):
        return _encode_png(Image.fromarray(image))
    raise TypeError(f"cannot store {type(image).__name__}: pass a PIL image, a numpy array or image bytes")


_made_dirs: set[Path] = set()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename."""
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
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Store:
    """A directory of received images with provenance, plus the request cache.

    Parameters
    ----------
    root : str or Path, optional
        The store directory; default ``$DALLE_WIDGETS_HOME`` or ``~/.dalle_widgets``,
        read when the store is created. Created on first write.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> store = Store(tempfile.mkdtemp())
    >>> p = store.save(Image.new("RGB", (4, 4)), {"operation": "vary"})
    >>> p.suffix, p.parent.parent.name
    ('.png', 'images')
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    @property
    def images_dir(self) -> Path:
        return self.root / "images"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    # --- images -------------------------------------------------------------------------------

    def _new_path(self, info: Mapping[str, Any]) -> Path:
        now = time.localtime()
        op = str(info.get("operation") or "image").replace("/", "_")[:16]
        name = f"{time.strftime('%H%M%S', now)}-{op}-{secrets.token_hex(6)}.png"
        return self.images_dir / time.strftime("%Y-%m-%d", now) / name

    def save(self, image: Any, info: Mapping[str, Any]) -> Path:
        """Write ``image`` as a PNG with ``info`` in its ``dalle_widgets`` chunk; return the path.

        ``image`` may be PNG bytes (stored byte for byte plus the chunk), other encoded
        image bytes (re-encoded as PNG), a PIL image or a uint8 numpy array. The write is
        atomic and the file name unique, so concurrent writers never clobber each other.
        """
        return self.save_png(_as_png(image), info)[0]

    def save_png(self, png: bytes, info: Mapping[str, Any]) -> tuple[Path, bytes]:
        """Like :meth:`save` for PNG bytes; also return the bytes written (with the chunk)."""
        data = png_with_info(png, info)
        path = self._new_path(info)
        _atomic_write(path, data)
        logger.debug("stored %s (%d bytes)", path, len(data))
        return path, data

    def open(self, path: str | os.PathLike[str]) -> GeneratedImage:
        """Open a stored image with its provenance (see :func:`open_image`)."""
        return open_image(path)

    def __iter__(self) -> Iterator[Path]:
        """Stored image paths, oldest first."""
        if not self.images_dir.is_dir():
            return iter(())
        return iter(sorted(self.images_dir.glob("*/*.png"), key=lambda p: (p.stat().st_mtime, p.name)))

    # --- request cache ------------------------------------------------------------------------

    def _cache_path(self, key: str) -> Path:
        if not key or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"cache key must be lowercase hex, got {key!r}")
        return self.cache_dir / key[:2] / f"{key}.json"

    def cache_get(self, key: str) -> list[GeneratedImage] | None:
        """The images stored for request ``key``, or None on a miss.

        A missing, unreadable or inconsistent entry, or one whose image files are gone or
        damaged, is a miss (logged at DEBUG), never an error.
        """
        path = self._cache_path(key)
        try:
            entry = json.loads(path.read_text("utf-8"))
            if entry.get("version") != CACHE_VERSION or entry.get("key") != key:
                raise ValueError("stale or foreign cache entry")
            names = entry["images"]
            if not isinstance(names, list) or not names:
                raise ValueError("cache entry lists no images")
            images = [open_image(self.root / name) for name in names]
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - a damaged cache is a miss, whatever the damage
            logger.debug("request cache entry %s unusable (%s): treating as a miss", path.name, exc)
            return None
        return images

    def cache_put(self, key: str, paths: list[Path], meta: Mapping[str, Any] | None = None) -> None:
        """Record that request ``key`` produced the images at ``paths`` (atomically)."""
        names = []
        for p in paths:
            try:
                names.append(Path(p).relative_to(self.root).as_posix())
            except ValueError:
                names.append(str(Path(p).resolve()))
        entry = {
            "version": CACHE_VERSION,
            "key": key,
            "created": time.time(),
            "images": names,
            **dict(meta or {}),
        }
        _atomic_write(self._cache_path(key), json.dumps(entry, sort_keys=True).encode("utf-8"))


def open_image(path: str | os.PathLike[str]) -> GeneratedImage:
    """Open an image saved by the store, with its provenance read back.

    Parameters
    ----------
    path : str or Path
        A PNG written by :class:`Store` (any PNG works; provenance is then empty).

    Returns
    -------
    GeneratedImage
        With ``.path`` set, ``.info`` the stored provenance, ``.image`` decoded lazily.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> p = Store(tempfile.mkdtemp()).save(Image.new("RGB", (3, 2)), {"prompt": "x"})
    >>> im = open_image(p)
    >>> im.info["prompt"], im.image.size
    ('x', (3, 2))
    """
    from .client._results import GeneratedImage

    p = Path(path)
    data = p.read_bytes()
    try:
        info = read_info(data)
    except ValueError as exc:
        raise ValueError(f"{p} is not a readable PNG: {exc}") from exc
    return GeneratedImage(data, info=info, path=p)
