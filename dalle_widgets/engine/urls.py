"""Images served by URL (``response_format=url``): in memory, unguessable, expiring.

Each PNG gets a random 192-bit id; ``GET /images/<id>.png`` looks the id up in a
dictionary and nothing else, so a URL can neither be guessed nor used to reach any
file on disk (there is no file). Entries expire after ``ttl`` seconds (60 minutes,
as OpenAI documents) and the oldest are dropped beyond ``max_bytes``.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict

__all__ = ["ImageURLStore"]

_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")


class ImageURLStore:
    """Thread-safe in-memory PNG store with expiry.

    >>> store = ImageURLStore(ttl=60)
    >>> key = store.put(b"\\x89PNG...")
    >>> store.get(key)[:4]
    b'\\x89PNG'
    >>> store.get("../../etc/passwd") is None
    True
    """

    def __init__(self, *, ttl: float = 3600.0, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, png: bytes, key: str | None = None) -> str:
        """Store ``png`` and return its id: a new random one, or ``key`` (a copy kept elsewhere)."""
        if key is None:
            key = secrets.token_urlsafe(24)
        elif not _ID.match(key):
            raise ValueError(f"image URL id {key!r} is not one this store makes")
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl, png)
            self._bytes += len(png)
            self._evict()
        return key

    def get(self, key: str) -> bytes | None:
        """The PNG for ``key``, or None when unknown, malformed or expired."""
        if not _ID.match(key):
            return None
        with self._lock:
            self._evict()
            item = self._items.get(key)
            return item[1] if item else None

    def _evict(self) -> None:
        now = time.monotonic()
        while self._items:
            key, (expires, png) = next(iter(self._items.items()))
            if expires > now and self._bytes <= self.max_bytes:
                break
            del self._items[key]
            self._bytes -= len(png)

    def __len__(self) -> int:
        return len(self._items)
