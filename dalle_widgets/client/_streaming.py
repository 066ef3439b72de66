"""Streamed answers: server-sent events in, :class:`~dalle_widgets.results.ImageEvent` out.

``generate(..., stream=True, partial_images=k)`` (and ``edit``) asks the endpoint for an
SSE stream: ``image_generation.partial_image`` (or ``image_edit.partial_image``) events
carry previews, ``*.completed`` events the final images with their ``usage``. This
module holds what needs no I/O: the line decoder (:class:`SSEDecoder`), reading one
event (:func:`read_event`), and the iterators the clients return (:class:`ImageStream`,
:class:`AsyncImageStream`), which keep the finished :class:`ImageResult`.

>>> decoder = SSEDecoder()
>>> [decoder.feed(line) for line in ['event: image_generation.partial_image', 'data: {"a": 1}', '']]
[None, None, SSE(event='image_generation.partial_image', data='{"a": 1}')]
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import APIError, InvalidResponseError
from ..results import ImageResult
from ._responses import decode_b64, make_status_error

__all__ = ["SSE", "AsyncImageStream", "ImageStream", "SSEDecoder", "StreamItem", "read_event"]

#: Fields of a completed event the provenance keeps (the endpoint's echo of the request).
ECHO_FIELDS = ("background", "output_format", "quality", "size")
#: In-stream error codes and the HTTP status they would have had (for the error tree).
_STATUS_OF_CODE = {"rate_limit_exceeded": 429, "server_error": 500, "model_not_found": 404}


@dataclass(frozen=True)
class SSE:
    """One server-sent event: its ``event:`` name (may be empty) and its joined ``data:`` lines."""

    event: str
    data: str


class SSEDecoder:
    """Turns the lines of an ``text/event-stream`` body into :class:`SSE` events.

    Follows the WHATWG rules that matter here: ``data:`` lines of one event are joined
    with newlines, a blank line ends the event, lines starting with ``:`` are comments,
    one space after the colon is dropped, ``id:`` and ``retry:`` are ignored.
    """

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> SSE | None:
        """Take one line (without its line break); return an event when ``line`` ends one."""
        if not line:
            if not self._data and not self._event:
                return None
            event = SSE(self._event, "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None

    def flush(self) -> SSE | None:
        """The last event when the body ended without its blank line."""
        return self.feed("")


@dataclass
class StreamItem:
    """What one event brought: a ``partial`` preview or a ``completed`` image, as bytes."""

    kind: str
    data: bytes
    index: int
    partial_index: int | None = None
    usage: dict[str, Any] | None = None
    echo: dict[str, Any] = field(default_factory=dict)


def _stream_error(err: Any, where: str, model: str | None, secrets: tuple[str | None, ...]) -> APIError:
    """An error event as the matching :class:`APIError` (what the same error as an HTTP answer gives)."""
    if not isinstance(err, dict):
        err = {"message": str(err)}
    code = err.get("code") if isinstance(err.get("code"), str) else None
    status = _STATUS_OF_CODE.get(code or "", 400)
    if err.get("type") == "server_error":
        status = 500
    body = json.dumps({"error": err}).encode()
    return make_status_error(status, {}, body, where=f"{where} (stream)", model=model, secrets=secrets)


def read_event(
    sse: SSE,
    index: int,
    where: str,
    *,
    model: str | None = None,
    secrets: tuple[str | None, ...] = (),
) -> StreamItem | None:
    """Read one SSE event of an image stream; None for events that carry no image.

    ``index`` is the image of the answer in progress (the number of completed events so
    far). Raises the matching :class:`APIError` for an error event, and
    :class:`InvalidResponseError` for an event that is not JSON or has no image.

    >>> read_event(SSE("", "[DONE]"), 0, "x") is None
    True
    """
    data = sse.data.strip()
    if not data or data == "[DONE]":
        return None
    try:
        payload = json.loads(data)
    except json.JSONDecodeError:
        raise InvalidResponseError(f"{where}: a stream event is not JSON (starts {data[:60]!r})") from None
    if not isinstance(payload, dict):
        raise InvalidResponseError(f"{where}: a stream event is not a JSON object")
    kind = str(payload.get("type") or sse.event or "")
    if "error" in payload or kind == "error":
        raise _stream_error(payload.get("error", payload), where, model, secrets)
    if kind.endswith("partial_image"):
        b64 = payload.get("b64_json")
        if not isinstance(b64, str):
            raise InvalidResponseError(f"{where}: a {kind} event has no b64_json")
        part = payload.get("partial_image_index")
        return StreamItem(
            "partial",
            decode_b64(b64, f"{kind} b64_json"),
            index,
            partial_index=part if isinstance(part, int) else None,
        )
    if kind.endswith(".completed"):
        b64 = payload.get("b64_json")
        if not isinstance(b64, str):
            raise InvalidResponseError(f"{where}: a {kind} event has no b64_json")
        usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else None
        echo = {k: payload[k] for k in ECHO_FIELDS if isinstance(payload.get(k), str)}
        return StreamItem("completed", decode_b64(b64, f"{kind} b64_json"), index, usage=usage, echo=echo)
    return None


class ImageStream(Iterator[Any]):
    """The iterator ``generate(..., stream=True)`` returns: :class:`ImageEvent` objects in order.

    Nothing is sent until the first ``next()``. After the last event, :attr:`result` is
    the :class:`ImageResult` of the completed images (each already stored with its
    provenance); partial images are previews only and are never stored. Closing the
    stream early (``close()``, leaving a ``with`` block, ``break``) closes the connection.

    Attributes
    ----------
    prepared : PreparedRequest
        The request as validated and sent.
    result : ImageResult or None
        Set once the stream has finished.
    """

    def __init__(self, prepared: Any, events: Iterator[Any]) -> None:
        self.prepared = prepared
        self._events = events
        self.result: ImageResult | None = None

    def attach(self, events: Iterator[Any]) -> None:
        """Read events from ``events``: the client builds them after the stream, which they fill in."""
        self._events = events

    def __iter__(self) -> ImageStream:
        return self

    def __next__(self) -> Any:
        return next(self._events)

    def close(self) -> None:
        """Stop reading and close the connection."""
        close = getattr(self._events, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> ImageStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def until_done(self) -> ImageResult:
        """Read the rest of the stream and return its :class:`ImageResult`."""
        for _ in self:
            pass
        assert self.result is not None
        return self.result

    def __repr__(self) -> str:
        state = "finished" if self.result is not None else "open"
        return f"<ImageStream {self.prepared.operation} {self.prepared.model} n={self.prepared.n}, {state}>"


class AsyncImageStream(AsyncIterator[Any]):
    """The async iterator ``await client.generate(..., stream=True)`` returns.

    Same as :class:`ImageStream` with ``async for``, ``aclose()`` and ``async with``.
    """

    def __init__(self, prepared: Any, events: AsyncIterator[Any]) -> None:
        self.prepared = prepared
        self._events = events
        self.result: ImageResult | None = None

    def attach(self, events: AsyncIterator[Any]) -> None:
        """Read events from ``events``: the client builds them after the stream, which they fill in."""
        self._events = events

    def __aiter__(self) -> AsyncImageStream:
        return self

    async def __anext__(self) -> Any:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stop reading and close the connection."""
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> AsyncImageStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def until_done(self) -> ImageResult:
        """Read the rest of the stream and return its :class:`ImageResult`."""
        async for _ in self:
            pass
        assert self.result is not None
        return self.result

    def __repr__(self) -> str:
        state = "finished" if self.result is not None else "open"
        return (
            f"<AsyncImageStream {self.prepared.operation} {self.prepared.model} n={self.prepared.n}, {state}>"
        )
