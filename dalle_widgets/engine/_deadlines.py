"""Deadlines on receiving a request: uvicorn's HTTP protocol with a clock on the head and the body.

uvicorn closes idle keep-alive connections only *after* a response (its
``timeout_keep_alive`` timer starts when a response completes, and any byte received
cancels it), so a connection that never finishes its request line and headers, or
that sends them a byte at a time, is held open forever: with a low file limit, 70
such connections leave no file descriptor for ``/health``. An ASGI middleware cannot
help, since the app is only called once the head is complete.

:func:`server_config` builds the ``uvicorn.Config`` every engine server uses (the
background thread and ``dalle-widgets serve``) with :func:`protocol_class`: the
protocol uvicorn would pick (``httptools``, else ``h11``) plus two deadlines counted
from the first byte of a request (or from the connection, for the first request):

* the head (request line and headers) must arrive within ``header_timeout`` seconds
  and hold at most :data:`MAX_HEAD_BYTES`, or the connection gets a 408 (431 when too
  large) and is closed;
* the body must arrive within ``body_timeout`` seconds of the head, or the connection
  is closed (the route reading it sees the client gone).

Once a request is received whole, the clocks stop: a long generation or a streamed
answer is never cut. Idle connections between requests are uvicorn's
``timeout_keep_alive`` (5 s).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

__all__ = ["BODY_TIMEOUT", "HEADER_TIMEOUT", "MAX_HEAD_BYTES", "protocol_class", "server_config"]

logger = logging.getLogger("dalle_widgets")

#: Seconds a client has to send a request's line and headers.
HEADER_TIMEOUT = 10.0
#: Seconds a client has to send a request's body once its headers are in (10 MB at 170 KB/s).
BODY_TIMEOUT = 60.0
#: Largest request head (line plus headers) accepted, in bytes.
MAX_HEAD_BYTES = 64 * 1024


def _answer(status: int, reason: str, text: str) -> bytes:
    body = text.encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body


def protocol_class(
    header_timeout: float = HEADER_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
    max_head_bytes: int = MAX_HEAD_BYTES,
) -> type[asyncio.Protocol]:
    """uvicorn's automatic HTTP protocol class with deadlines on the head and the body of each request."""
    base: Any = AutoHTTPProtocol

    class DeadlineHTTPProtocol(base):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._timer: asyncio.TimerHandle | None = None
            self._waiting_for: str | None = None  # "head", "body" or None
            self._cycle_seen: Any = None
            self._head_bytes = 0

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._start("head")

        def data_received(self, data: bytes) -> None:
            if self._waiting_for is None and (self.cycle is None or self.cycle.response_complete):
                self._start("head")  # the first bytes of the next request on a kept-alive connection
            super().data_received(data)
            self._advance(len(data))

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._advance(0)

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop()
            super().connection_lost(exc)

        def _start(self, phase: str) -> None:
            self._stop()
            self._waiting_for = phase
            self._cycle_seen = self.cycle
            self._head_bytes = 0
            timeout = header_timeout if phase == "head" else body_timeout
            self._timer = self.loop.call_later(timeout, self._expire)

        def _stop(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._waiting_for = None

        def _advance(self, received: int) -> None:
            cycle = self.cycle
            if self._waiting_for == "head":
                if cycle is not None and cycle is not self._cycle_seen:  # the head is in
                    if cycle.more_body:
                        self._start("body")
                    else:
                        self._stop()
                    return
                self._head_bytes += received
                if self._head_bytes > max_head_bytes:
                    self._close(431, "Request Header Fields Too Large", f"over {max_head_bytes:,} bytes")
            elif self._waiting_for == "body" and (cycle is not self._cycle_seen or not cycle.more_body):
                self._stop()

        def _expire(self) -> None:
            self._timer = None
            phase = self._waiting_for
            timeout = header_timeout if phase == "head" else body_timeout
            self._close(408, "Request Timeout", f"the request's {phase} did not arrive within {timeout:g} s")

        def _close(self, status: int, reason: str, why: str) -> None:
            phase = self._waiting_for
            self._stop()
            if self.transport is None or self.transport.is_closing():
                return
            logger.info("offline engine: closing a connection from %s: %s", self.client, why)
            if phase == "head":  # no request is running on this connection: answer before closing
                self.transport.write(_answer(status, reason, f"{reason}: {why}.\n"))
            self.transport.close()

    return DeadlineHTTPProtocol


def server_config(
    app: Any,
    *,
    header_timeout: float = HEADER_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
    **kwargs: Any,
) -> uvicorn.Config:
    """The ``uvicorn.Config`` of an engine server: deadlines on requests, no websockets, 5 s keep-alive."""
    kwargs.setdefault("timeout_keep_alive", 5)
    return uvicorn.Config(app, http=protocol_class(header_timeout, body_timeout), ws="none", **kwargs)
