"""Server-sent events for streamed image requests, written as the images are made.

:class:`EventStream` is a Starlette response that hands its ASGI ``send`` to a
producer coroutine as an ``emit(event)`` function: each event goes out as
``event: <type>`` plus ``data: <json>`` the moment it is emitted (the OpenAI SDK
reads the JSON ``type``). A refusal or failure after the stream has started becomes
an ``error`` event with OpenAI's envelope, which the SDK raises as ``APIError``.
"""

from __future__ import annotations

import base64
import json
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ._errors import EngineError, envelope

__all__ = ["PREVIEW_SIDE", "Emit", "EventStream", "b64", "preview_size", "preview_steps"]

logger = logging.getLogger("dalle_widgets")

#: Longest side of a streamed preview: larger images are previewed scaled down (cheap to send).
PREVIEW_SIDE = 1024

Emit = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]
Producer = Callable[[Emit], Awaitable[None]]


def b64(data: bytes) -> str:
    """Base64 text of ``data`` (the ``b64_json`` field)."""
    return base64.b64encode(data).decode("ascii")


def preview_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size a preview of a ``size`` (width, height) image is sent at.

    >>> preview_size((1536, 1024)), preview_size((3840, 2160))
    ((1024, 683), (1024, 576))
    """
    w, h = size
    scale = min(1.0, PREVIEW_SIDE / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def preview_steps(total: int, wanted: int) -> set[int]:
    """Which of a backend's ``total`` previews (numbered from 1) to send when ``wanted`` are asked for.

    Evenly spread and ending with the last (most finished) one; all of them when the
    backend has fewer than asked (OpenAI may also send fewer partial images).

    >>> sorted(preview_steps(25, 3)), sorted(preview_steps(3, 1)), sorted(preview_steps(2, 3))
    ([9, 17, 25], [3], [1, 2])
    """
    if wanted <= 0 or total <= 0:
        return set()
    if total <= wanted:
        return set(range(1, total + 1))
    return {math.ceil((j + 1) * total / wanted) for j in range(wanted)}


class EventStream(Response):
    """A ``text/event-stream`` response whose events come from ``produce(emit)``."""

    media_type = "text/event-stream"

    def __init__(
        self,
        produce: Producer,
        *,
        headers: dict[str, str] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.produce = produce
        self.on_close = on_close  # called once the stream has ended, however it ended
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "no-cache", **(headers or {})})

    async def __call__(self, _scope: Scope, _receive: Receive, send: Send) -> None:  # ASGI's signature
        try:
            await self._stream(send)
        finally:
            if self.on_close is not None:
                self.on_close()

    async def _stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})

        async def emit(event: dict[str, Any]) -> None:
            name = event.get("type", "error")
            chunk = f"event: {name}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"
            await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})

        try:
            await self.produce(emit)
        except EngineError as exc:
            await emit(exc.to_body())
        except OSError:  # the client went away: nothing left to tell it
            logger.debug("offline engine: stream closed by the client")
            return
        except Exception:  # noqa: BLE001 - the stream must end with an error event, not a cut
            logger.exception("offline engine: unexpected error while streaming")
            await emit(
                envelope(
                    "The server had an error while processing your request.",
                    type="server_error",
                    code="server_error",
                )
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})
