"""A total deadline per request: connecting, sending, the headers and the body, together.

httpx's timeouts bound each network operation, not the request: a server that sends
one byte a second, of its headers or of its body, never trips a 2 s read timeout.
The clients give every request (each attempt of it, and each image download) one
deadline of :func:`total_seconds` of their ``timeout``:

* the async client wraps the exchange in ``asyncio.timeout``, which cancels it;
* the sync client cannot cancel a blocking read from outside, so the connections it
  makes go through :class:`DeadlineTransport`, whose sockets clamp every connect,
  read and write to the time left (the deadline is a context variable set around
  the exchange, so a pooled connection serves each request under its own deadline);
* both check the deadline between the pieces of a body as well, which is all that
  applies to an ``http_client=`` of your own.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

__all__ = ["DeadlineTransport", "deadline", "end_of", "expired", "total_seconds"]

_DEADLINE: ContextVar[float | None] = ContextVar("dalle_widgets_deadline", default=None)


def total_seconds(timeout: httpx.Timeout) -> float | None:
    """The whole request's budget: the longest of the phases' timeouts (None: no deadline).

    >>> total_seconds(httpx.Timeout(120.0, connect=5.0)), total_seconds(httpx.Timeout(2.0))
    (120.0, 2.0)
    """
    phases = [t for t in (timeout.connect, timeout.read, timeout.write, timeout.pool) if t is not None]
    return max(phases) if phases else None


def end_of(seconds: float | None) -> float | None:
    """The ``time.monotonic()`` reading ``seconds`` from now (None stays None)."""
    return None if seconds is None else time.monotonic() + seconds


@contextlib.contextmanager
def deadline(seconds: float | None, *, until: float | None = None) -> Iterator[None]:
    """Run the body under a deadline ``seconds`` from now, or at ``until`` (None: no deadline).

    A stream read piece by piece sets ``until`` (its one end) around each read.
    """
    token = _DEADLINE.set(until if until is not None else end_of(seconds))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _left() -> float | None:
    end = _DEADLINE.get()
    return None if end is None else end - time.monotonic()


def expired(until: float | None = None) -> bool:
    """Whether ``until`` (default: the current deadline, if any) has passed."""
    left = _left() if until is None else until - time.monotonic()
    return left is not None and left <= 0


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    left = _left()
    if left is None:
        return timeout
    if left <= 0:
        raise error("the request's total deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> Any:
        inner = self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout))
        return _Stream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        clamped = _clamp(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, clamped, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        clamped = _clamp(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, clamped, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` whose sockets honour the current :func:`deadline`.

    httpx has no public way to give its connection pool a network backend, so the pool's
    backend is wrapped after construction; if a future httpcore renames it, the transport
    works as a plain one (the deadline is then checked between body pieces only).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pool = getattr(self, "_pool", None)
        inner = getattr(pool, "_network_backend", None)
        if isinstance(inner, httpcore.NetworkBackend):
            # httpcore has no public hook for the backend of a pool it built: set its attribute.
            pool._network_backend = _Backend(inner)  # type: ignore[union-attr]  # noqa: SLF001
