"""The output store: every image received is on disk, with its provenance, before anyone sees it.

Images are written under ``$DALLE_WIDGETS_HOME`` (default ``~/.dalle_widgets``)::

    <root>/images/<YYYY-MM-DD>/<HHMMSS>-<operation>-<unique>.png   (or .jpg, .webp, .gif, .svg)
    <root>/cache/index-<YYYY-MM-DD>.jsonl  the request cache: one line per request, pointing
                                          at the image files it produced

Each PNG carries its provenance as JSON in a ``tEXt`` chunk named ``dalle_widgets``, placed
right after the header so that a plain ``PIL.Image.open`` reads it without decoding pixels.
When the server sent a PNG, its bytes are kept as received and only the text chunk is
added: no re-encoding, no quality loss, and almost no time spent. A JPEG, WebP, GIF or
SVG answer is kept as delivered too (:meth:`Store.save_delivered`): a JPEG carries the
same JSON in a comment segment, the others in a sidecar ``<name>.json`` written next to
them; :func:`open_image` reads either back.

Writes are atomic (a temporary file in the same directory, then a rename: see
:func:`dalle_widgets._png.write_atomic` for when it also flushes to the disk), and every
file name carries a random part, so two processes writing at once never lose or clobber
an image. The API key is never part of what is stored: the client builds the
provenance from the request, never from its headers.

The request cache is an append-only log rather than a file per request: appending one
line to an existing file creates no directory entry, which on a busy disk is most of the
cost of a write. Each record is written with one ``O_APPEND`` write, framed by newlines,
so concurrent writers never interleave and a record cut short by a crash is skipped as
unreadable: a miss, never an error. So is any line that does not parse as a record (a
hand edit, another tool's file): it is skipped and counted (:attr:`Store.skipped_cache_lines`),
and every other record still answers. Later records for the same key win.

>>> import tempfile
>>> from PIL import Image
>>> store = Store(tempfile.mkdtemp())
>>> path = store.save(Image.new("RGB", (8, 8), "red"), {"operation": "generate", "prompt": "red"})
>>> open_image(path).info["prompt"]
'red'
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from . import _formats
from ._png import CHUNK_KEY, as_png, read_info, with_info, write_atomic
from .imaging import image_hash
from .results import GeneratedImage

__all__ = ["CHUNK_KEY", "Store", "default_root", "image_hash", "open_image", "read_info"]

logger = logging.getLogger("dalle_widgets")

CACHE_VERSION = 1


def default_root() -> Path:
    """The store directory: ``$DALLE_WIDGETS_HOME`` if set, else ``~/.dalle_widgets``."""
    env = os.environ.get("DALLE_WIDGETS_HOME")
    return Path(env).expanduser() if env else Path.home() / ".dalle_widgets"


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

    def _new_path(self, info: Mapping[str, Any], suffix: str = ".png") -> Path:
        now = time.localtime()
        op = str(info.get("operation") or "image").replace("/", "_")[:16]
        name = f"{time.strftime('%H%M%S', now)}-{op}-{secrets.token_hex(6)}{suffix}"
        return self.images_dir / time.strftime("%Y-%m-%d", now) / name

    def save(self, image: Any, info: Mapping[str, Any]) -> Path:
        """Write ``image`` as a PNG with ``info`` in its ``dalle_widgets`` chunk; return the path.

        ``image`` may be PNG bytes (stored byte for byte plus the chunk), other encoded
        image bytes (re-encoded as PNG), a PIL image or a uint8 numpy array. The write is
        atomic and the file name unique, so concurrent writers never clobber each other.
        """
        return self.save_png(as_png(image), info)[0]

    def save_png(self, png: bytes, info: Mapping[str, Any]) -> tuple[Path, bytes]:
        """Like :meth:`save` for PNG bytes; also return the bytes written (with the chunk)."""
        data = with_info(png, info)
        path = write_atomic(self._new_path(info), data)
        logger.debug("stored %s (%d bytes)", path, len(data))
        return path, data

    def save_delivered(self, data: bytes, info: Mapping[str, Any]) -> tuple[Path, bytes]:
        """Store image bytes in the format they arrived in, with ``info``; return the path and bytes.

        PNG and JPEG carry ``info`` inside; WebP, GIF and SVG get a ``<name>.json`` sidecar,
        written after the image (an image without its sidecar still opens). Anything that
        is not one of these formats is re-encoded as PNG.
        """
        fmt = _formats.sniff(data)
        if fmt == "png" or fmt not in _formats.SUFFIXES:
            return self.save_png(as_png(data), info)
        path = self._new_path(info, _formats.SUFFIXES[fmt])
        if fmt == "jpeg":
            try:
                data = _formats.with_info(data, info)
                write_atomic(path, data)
                logger.debug("stored %s (%d bytes)", path, len(data))
                return path, data
            except ValueError:  # too long for a comment segment: a sidecar instead
                pass
        write_atomic(path, data)
        write_atomic(sidecar_of(path), json.dumps(dict(info), sort_keys=True, default=str).encode("utf-8"))
        logger.debug("stored %s (%d bytes) and its provenance sidecar", path, len(data))
        return path, data

    def open(self, path: str | os.PathLike[str]) -> GeneratedImage:
        """Open a stored image with its provenance (see :func:`open_image`)."""
        return open_image(path)

    def __iter__(self) -> Iterator[Path]:
        """Stored image paths, oldest first."""
        if not self.images_dir.is_dir():
            return iter(())
        suffixes = set(_formats.SUFFIXES.values())
        found = [
            p for p in self.images_dir.glob("*/*.*") if p.suffix in suffixes and not p.name.startswith(".")
        ]
        return iter(sorted(found, key=lambda p: (p.stat().st_mtime, p.name)))

    # --- request cache ------------------------------------------------------------------------

    @staticmethod
    def _check_key(key: str) -> None:
        if not key or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"cache key must be lowercase hex, got {key!r}")

    def cache_get(self, key: str) -> list[GeneratedImage] | None:
        """The images stored for request ``key``, or None on a miss.

        A missing or unreadable record, or one whose image files are gone or damaged, is a
        miss (logged at DEBUG), never an error.
        """
        self._check_key(key)
        record = self._index.get(key)
        if record is None:
            return None
        try:
            names = record["images"]
            if not isinstance(names, list) or not names:
                raise ValueError("the record lists no images")
            return [open_image(self.root / name) for name in names]
        except Exception as exc:  # noqa: BLE001 - a damaged cache is a miss, whatever the damage
            logger.debug("request cache record %s… unusable (%s): treating as a miss", key[:12], exc)
            return None

    def cache_put(self, key: str, paths: list[Path], meta: Mapping[str, Any] | None = None) -> None:
        """Record that request ``key`` produced the images at ``paths`` (one appended line)."""
        self._check_key(key)
        names = []
        for p in paths:
            try:  # images this store wrote live under its root: keep the record relocatable
                names.append(Path(p).relative_to(self.root).as_posix())
            except ValueError:
                names.append(str(Path(p).resolve()))
        record = {"v": CACHE_VERSION, "key": key, "created": time.time(), "images": names, **dict(meta or {})}
        self._index.put(record)

    @property
    def skipped_cache_lines(self) -> int:
        """How many lines of the request cache's log files could not be read as a record so far."""
        index = self._index
        with index.lock:
            index.refresh()
            return index.skipped

    @property
    def _index(self) -> _CacheIndex:
        index = _indexes.get(self.cache_dir)
        if index is None:
            index = _indexes.setdefault(self.cache_dir, _CacheIndex(self.cache_dir))
        return index


_indexes: dict[Path, _CacheIndex] = {}


class _CacheIndex:
    """The request cache of one store directory, shared by every :class:`Store` on it in this process.

    Holds the records read so far in memory and, per log file, how many bytes were read;
    a lookup that misses reads only what other processes appended since.
    """

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.records: dict[str, dict[str, Any]] = {}
        self.offsets: dict[str, int] = {}
        self.lock = threading.Lock()
        self.made = False  # whether the directory is known to exist
        self.skipped = 0  # lines that were not a readable record

    def get(self, key: str) -> dict[str, Any] | None:
        with self.lock:
            record = self.records.get(key)
            if record is None:
                self.refresh()
                record = self.records.get(key)
            return record

    def put(self, record: dict[str, Any]) -> None:
        line = b"\n" + json.dumps(record, sort_keys=True).encode("utf-8") + b"\n"
        path = self.dir / f"index-{time.strftime('%Y-%m-%d')}.jsonl"
        with self.lock:
            if not self.made:
                self.dir.mkdir(parents=True, exist_ok=True)
                self.made = True
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
            self._keep(record)

    @staticmethod
    def _created(record: dict[str, Any]) -> float:
        value = record.get("created") or 0
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"'created' is {type(value).__name__}, not a number")
        return float(value)

    def _keep(self, record: Any) -> None:
        """Keep ``record`` if it is newer than the one held; ValueError if it is not a record."""
        if not isinstance(record, dict) or not isinstance(record.get("key"), str):
            raise ValueError("not a record with a 'key'")
        if record.get("v") != CACHE_VERSION:
            return  # another version's record: not an error, just not ours
        if not isinstance(record.get("images"), list):
            raise ValueError("'images' is not a list")
        created = self._created(record)
        old = self.records.get(record["key"])
        if old is None or created >= self._created(old):
            self.records[record["key"]] = record

    def refresh(self) -> None:
        """Read what was appended to the log files since the last look (complete lines only)."""
        try:
            entries = sorted(os.scandir(self.dir), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if not (entry.name.startswith("index-") and entry.name.endswith(".jsonl")):
                continue
            try:
                size = entry.stat().st_size
                done = self.offsets.get(entry.name, 0)
                if size <= done:
                    continue
                with open(entry.path, "rb") as f:
                    f.seek(done)
                    chunk = f.read(size - done)
            except OSError as exc:
                logger.debug("request cache log %s unreadable (%s)", entry.name, exc)
                continue
            end = chunk.rfind(b"\n")
            if end < 0:
                continue
            for line in chunk[:end].split(b"\n"):
                if not line.strip():
                    continue
                try:
                    self._keep(json.loads(line))
                except (ValueError, TypeError, RecursionError) as exc:
                    self.skipped += 1
                    logger.warning(
                        "request cache: skipped an unreadable line in %s (%s; %d so far)",
                        entry.name,
                        str(exc)[:80],
                        self.skipped,
                    )
            self.offsets[entry.name] = done + end + 1


def sidecar_of(path: str | os.PathLike[str]) -> Path:
    """Where the provenance of an image that cannot hold it lives: ``<name>.<suffix>.json``."""
    p = Path(path)
    return p.with_name(p.name + ".json")


def open_image(path: str | os.PathLike[str]) -> GeneratedImage:
    """Open an image saved by the store, with its provenance read back.

    Parameters
    ----------
    path : str or Path
        An image written by :class:`Store`: PNG or JPEG with embedded provenance, or WebP,
        GIF or SVG with a ``.json`` sidecar (any image works; provenance is then empty).

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
    p = Path(path)
    data = p.read_bytes()
    fmt = _formats.sniff(data)
    try:
        if fmt is None:  # not an image format the store writes: it must at least be a PNG
            info = read_info(data)
        else:
            info = _formats.read_info(data) if _formats.embeds(fmt) else {}
    except ValueError as exc:
        raise ValueError(f"{p} is not a readable {fmt or 'PNG'}: {exc}") from exc
    if not info:
        side = sidecar_of(p)
        if side.is_file():
            try:
                loaded = json.loads(side.read_text("utf-8"))
                info = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError) as exc:
                logger.debug("provenance sidecar %s unreadable (%s)", side, exc)
    return GeneratedImage(data, info=info, path=p)
