"""``AsyncImagesClient``: the asyncio twin of :class:`ImagesClient`, same signatures, awaitable."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from .._types import AsyncImageClient, CacheMode, FramingMode
from ..errors import DalleWidgetsError, InvalidRequestError
from ..results import GeneratedImage, ImageEvent, ImageResult
from ._base import MAX_MODELS_BODY, MAX_REDIRECTS, BaseImagesClient, ModelIds, PreparedRequest
from ._config import USER_AGENT, Secret
from ._deadline import end_of
from ._limits import LineSplitter, Reply
from ._responses import RawImage
from ._streaming import AsyncImageStream, SSEDecoder

__all__ = ["AsyncImagesClient"]

#: The first request of an exchange plus the redirects a download may follow.
MAX_HOPS = MAX_REDIRECTS + 1


def _loop_time(until: float | None) -> float | None:
    """A ``time.monotonic()`` deadline as the running loop's clock reads it (None stays None)."""
    if until is None:
        return None
    return asyncio.get_running_loop().time() + (until - time.monotonic())


if sys.version_info >= (3, 11):
    _timeout_at = asyncio.timeout_at
else:  # Python 3.10 has no asyncio.timeout_at: anyio (httpx's own dependency) keeps the same deadline

    @contextlib.asynccontextmanager
    async def _timeout_at(when: float | None) -> AsyncIterator[None]:
        """Raise ``TimeoutError`` in the block once the loop's clock passes ``when`` (None: never)."""
        import anyio

        delay = None if when is None else max(0.0, when - asyncio.get_running_loop().time())
        with anyio.fail_after(delay):
            yield


async def _empty() -> AsyncIterator[ImageEvent]:
    return
    yield  # pragma: no cover - makes this an async generator


class AsyncImagesClient(BaseImagesClient):
    """Generate, edit (inpaint) and vary images without blocking the event loop.

    Same parameters and methods as :class:`~dalle_widgets.client.ImagesClient`; the
    operations are coroutines. Widgets use this one so the kernel stays responsive and
    cancelling the task cancels the request.

    An ``httpx.AsyncClient`` is bound to the event loop it first ran on; when this client
    owns its HTTP client and finds itself on a new loop (a new ``asyncio.run``), it opens a
    fresh connection pool instead of failing.

    Examples
    --------
    >>> async def main():                                            # doctest: +SKIP
    ...     async with AsyncImagesClient() as client:
    ...         return await client.generate("a watercolor fox", n=2)
    """

    _async = True

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        api_key = Secret.of(api_key)  # no frame below holds the bare key (see Secret)
        super().__init__(api_key, base_url, http_client=http_client, **kwargs)
        self._owns_http = http_client is None
        self._http: httpx.AsyncClient | None = http_client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sleep = asyncio.sleep

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._owns_http and (self._http is None or self._loop is not loop):
            self._http = httpx.AsyncClient(timeout=self.timeout, headers={"User-Agent": USER_AGENT})
            self._loop = loop
        assert self._http is not None
        return self._http

    # --- lifecycle ------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the HTTP connections (only if this client created them)."""
        if self._owns_http and self._http is not None:
            if self._loop is asyncio.get_running_loop():
                await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> AsyncImagesClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- operations -----------------------------------------------------------------------------

    async def generate(
        self,
        prompt: str,
        *,
        n: int = 1,
        size: str | None = None,
        model: str | None = None,
        response_format: str | None = None,
        user: str | None = None,
        seed: int | None = None,
        quality: str | None = None,
        background: str | None = None,
        output_format: str | None = None,
        output_compression: int | None = None,
        moderation: str | None = None,
        complexity: str | None = None,
        stream: bool = False,
        partial_images: int | None = None,
        frame_count: int | None = None,
        frame_duration_ms: int | None = None,
        extra_body: dict[str, Any] | None = None,
        cache: CacheMode | None = None,
    ) -> ImageResult | AsyncImageStream:
        """Make ``n`` images from a text ``prompt`` (see :meth:`ImagesClient.generate`).

        ``await client.generate(..., stream=True)`` returns an :class:`AsyncImageStream`
        to read with ``async for``.
        """
        prepared = self.prepare(
            "generate",
            prompt,
            n=n,
            size=size,
            model=model,
            response_format=response_format,
            user=user,
            seed=seed,
            quality=quality,
            background=background,
            output_format=output_format,
            output_compression=output_compression,
            moderation=moderation,
            complexity=complexity,
            stream=stream,
            partial_images=partial_images,
            frame_count=frame_count,
            frame_duration_ms=frame_duration_ms,
            extra_body=extra_body,
        )
        return await self._dispatch(prepared, cache)

    async def edit(
        self,
        image: Any,
        prompt: str,
        *,
        mask: Any = None,
        n: int = 1,
        size: str | None = None,
        model: str | None = None,
        response_format: str | None = None,
        user: str | None = None,
        seed: int | None = None,
        quality: str | None = None,
        background: str | None = None,
        output_format: str | None = None,
        output_compression: int | None = None,
        moderation: str | None = None,
        input_fidelity: str | None = None,
        complexity: str | None = None,
        stream: bool = False,
        partial_images: int | None = None,
        extra_body: dict[str, Any] | None = None,
        framing: FramingMode = "window",
        cache: CacheMode | None = None,
    ) -> ImageResult | AsyncImageStream:
        """Edit ``image`` (or a list of up to 16) with ``prompt`` (see :meth:`ImagesClient.edit`)."""
        prepared = self.prepare(
            "edit",
            prompt,
            image,
            mask=mask,
            n=n,
            size=size,
            model=model,
            response_format=response_format,
            user=user,
            seed=seed,
            quality=quality,
            background=background,
            output_format=output_format,
            output_compression=output_compression,
            moderation=moderation,
            input_fidelity=input_fidelity,
            complexity=complexity,
            stream=stream,
            partial_images=partial_images,
            extra_body=extra_body,
            framing=framing,
        )
        return await self._dispatch(prepared, cache)

    async def vary(
        self,
        image: Any,
        *,
        n: int = 1,
        size: str | None = None,
        model: str | None = None,
        response_format: str | None = None,
        user: str | None = None,
        seed: int | None = None,
        quality: str | None = None,
        background: str | None = None,
        output_format: str | None = None,
        output_compression: int | None = None,
        moderation: str | None = None,
        stream: bool = False,
        partial_images: int | None = None,
        extra_body: dict[str, Any] | None = None,
        cache: CacheMode | None = None,
    ) -> ImageResult | AsyncImageStream:
        """Make ``n`` variations of ``image`` (see :meth:`ImagesClient.vary`)."""
        prepared = self.prepare(
            "vary",
            None,
            image,
            n=n,
            size=size,
            model=model,
            response_format=response_format,
            user=user,
            seed=seed,
            quality=quality,
            background=background,
            output_format=output_format,
            output_compression=output_compression,
            moderation=moderation,
            stream=stream,
            partial_images=partial_images,
            extra_body=extra_body,
        )
        return await self._dispatch(prepared, cache)

    async def models(self) -> ModelIds:
        """The model ids the endpoint lists at ``GET /models``, as a list of str.

        The ``shutdown_date`` each model card carries is kept (``.shutdown_dates``) and used:
        choosing a model near or past the date the endpoint gave logs a warning, and on
        api.openai.com a model past it is refused before sending.
        """
        with self._leaving(self._where()):
            return await self._models()

    async def _models(self) -> ModelIds:
        """:meth:`models` inside the exit (see :meth:`_leaving`)."""
        response = await self._send(
            "GET",
            self._settings.url("models"),
            where=self._where(),
            limit=MAX_MODELS_BODY,
            headers=self._headers(),
            timeout=self._timeout,
        )
        return self._list_models(response)

    async def _dispatch(
        self, prepared: PreparedRequest, cache: CacheMode | None
    ) -> ImageResult | AsyncImageStream:
        if prepared.stream:
            return self.stream(prepared, cache=cache)
        return await self.send(prepared, cache=cache)

    def stream(self, prepared: PreparedRequest, *, cache: CacheMode | None = None) -> AsyncImageStream:
        """Send a request built by :meth:`prepare` with ``stream=True``; return its events.

        Nothing is sent until the stream is first read (``async for``).
        """
        if not prepared.stream:
            raise InvalidRequestError("stream() needs a request prepared with stream=True; use send()")
        mode = self._cache_mode(cache)
        stream = AsyncImageStream(prepared, _empty())
        stream.attach(self._stream_events(prepared, mode, stream))
        return stream

    async def _stream_events(
        self, prepared: PreparedRequest, mode: CacheMode, stream: AsyncImageStream
    ) -> AsyncIterator[ImageEvent]:
        hit = self._cached_result(prepared, mode)
        if hit is not None:
            for event in self._replayed_events(hit):
                yield event
            stream.result = hit
            return
        with self._leaving(self._where(prepared)):
            async for event in self._stream_answer(prepared, mode, stream):
                yield event

    async def _stream_answer(
        self, prepared: PreparedRequest, mode: CacheMode, stream: AsyncImageStream
    ) -> AsyncIterator[ImageEvent]:
        """The events of a stream (or of a JSON answer to it), inside the exit."""
        started = time.perf_counter()
        response = await self._send(
            prepared.method,
            prepared.url,
            where=self._where(prepared),
            model=prepared.model,
            limit=self._answer_limit(prepared),
            stream=True,
            **self._request_kwargs(prepared),
        )
        request_id = response.headers.get("x-request-id")
        engine = response.headers.get("x-dalle-widgets-engine")
        try:
            if not self._is_event_stream(response):  # a server that ignored stream=true: one JSON answer
                reply = await self._read_reply(response, self._answer_limit(prepared), end_of(self._total))
                raws, usage = self._read_images(prepared, reply)  # type: ignore[arg-type]
                limit = self._image_limit(prepared)
                raws = list(await asyncio.gather(*(self._fetch(raw, i, limit) for i, raw in enumerate(raws))))
                result = await asyncio.to_thread(
                    self._store_answer, prepared, raws, request_id, engine, mode, started, usage
                )
                for event in self._replayed_events(result):
                    yield event
                stream.result = result
                return
            images: list[GeneratedImage] = []
            decoder = SSEDecoder()
            try:
                async for line in self._lines(response, self._stream_limit(prepared)):
                    sse = decoder.feed(line)
                    item = None if sse is None else self._read_event(prepared, sse, len(images))
                    if item is None:
                        continue
                    if item.kind == "partial":
                        yield self._partial_event(prepared, item)
                    else:
                        # the disk write runs in a worker thread: the event loop never waits on I/O
                        event = await asyncio.to_thread(
                            self._completed_event, prepared, item, request_id, engine
                        )
                        assert event.result is not None  # a completed event carries its image
                        images.append(event.result)
                        yield event
            except (httpx.TransportError, TimeoutError, ValueError) as exc:
                raise self._stream_cut(prepared, images, exc) from exc
        finally:
            await response.aclose()
        stream.result = await asyncio.to_thread(
            self._finish_stream, prepared, images, request_id, mode, started
        )

    async def send(self, prepared: PreparedRequest, *, cache: CacheMode | None = None) -> ImageResult:
        """Send a request built by :meth:`prepare` (replaying it from the cache if allowed)."""
        if prepared.stream:
            return await self.stream(prepared, cache=cache).until_done()
        mode = self._cache_mode(cache)
        hit = self._cached_result(prepared, mode)
        if hit is not None:
            return hit
        with self._leaving(self._where(prepared)):
            return await self._answer(prepared, mode)

    async def _answer(self, prepared: PreparedRequest, mode: CacheMode) -> ImageResult:
        """Send, read, download and store: :meth:`send` inside the exit (see :meth:`_leaving`)."""
        started = time.perf_counter()
        response = await self._send(
            prepared.method,
            prepared.url,
            where=self._where(prepared),
            model=prepared.model,
            limit=self._answer_limit(prepared),
            **self._request_kwargs(prepared),
        )
        request_id = response.headers.get("x-request-id")
        engine = response.headers.get("x-dalle-widgets-engine")
        raws, usage = self._read_images(prepared, response)
        limit = self._image_limit(prepared)
        raws = list(await asyncio.gather(*(self._fetch(raw, i, limit) for i, raw in enumerate(raws))))
        # disk writes run in a worker thread: the event loop (a kernel's) never waits on I/O
        return await asyncio.to_thread(
            self._store_answer, prepared, raws, request_id, engine, mode, started, usage
        )

    # --- transport ------------------------------------------------------------------------------

    async def _fetch(self, raw: RawImage, index: int, limit: int) -> RawImage:
        """``raw`` with its URL downloaded (or the reason it could not be)."""
        if raw.data is not None or raw.error is not None or raw.url is None:
            return raw
        try:
            return RawImage(
                data=await self._download(raw.url, index, limit), revised_prompt=raw.revised_prompt
            )
        except DalleWidgetsError as exc:
            return RawImage(error=exc)
        except Exception as exc:  # noqa: BLE001 - a URL no transport can take is this image's failure only
            return RawImage(error=self._failure(exc, f"image {index} download", raw.url)[0])

    async def _download(self, url: str, index: int, limit: int) -> bytes:
        response = await self._send(
            "GET",
            url,
            where=f"image {index} download",
            limit=limit,
            headers=self._download_headers(url),
            timeout=self._timeout,
            follow_redirects=True,
        )
        return response.content

    async def _read_reply(self, response: httpx.Response, limit: int, until: float | None) -> Reply:
        """Read ``response``'s body within ``limit`` bytes and the deadline ``until``, then close it."""
        try:
            async with _timeout_at(_loop_time(until)):
                reader = self._reader(response, limit)
                parts = []
                async for raw in response.aiter_raw():
                    parts.append(reader.feed(raw))
                    if reader.full:
                        break
                parts.append(reader.finish())
                return Reply(response.status_code, response.headers, b"".join(parts))
        finally:
            await response.aclose()

    async def _lines(self, response: httpx.Response, limit: int) -> AsyncIterator[str]:
        """The lines of an event stream, read within ``limit`` bytes and one deadline, then ``""``."""
        when = _loop_time(end_of(self._total))
        reader = self._reader(response, limit)
        splitter = LineSplitter()
        chunks = response.aiter_raw()
        while True:
            async with _timeout_at(when):  # each read under the stream's one deadline
                raw = await anext(chunks, None)
            if raw is None:
                break
            for line in splitter.feed(reader.feed(raw)):
                yield line
        for line in splitter.feed(reader.finish()) + splitter.finish() + [""]:
            yield line

    async def _exchange(
        self, method: str, url: str, limit: int, kwargs: dict[str, Any], stream: bool = False
    ) -> httpx.Response | Reply:
        """One request and its redirects (downloads only); its body read within ``limit``, or with
        ``stream`` a successful answer's body left open after the headers."""
        follow = bool(kwargs.pop("follow_redirects", False))
        until = end_of(self._total)
        http = self._client()
        for hops in range(MAX_HOPS):
            # connect, send and the headers under the exchange's deadline, cancelled at it
            async with _timeout_at(_loop_time(until)):
                request = http.build_request(method, url, **kwargs)
                response = await http.send(request, stream=True, follow_redirects=False)
            hop = self._redirect(response, kwargs, hops) if follow else None
            if hop is not None:
                await response.aclose()
                url, kwargs = hop
                continue
            if stream and response.is_success:
                return response
            return await self._read_reply(response, limit, until)
        raise httpx.TooManyRedirects("too many redirects")  # pragma: no cover - _redirect raises first

    async def _send(
        self,
        method: str,
        url: str,
        *,
        where: str,
        model: str | None = None,
        limit: int,
        stream: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Send with retries under one deadline per attempt; the answer read whole within ``limit``
        (a :class:`Reply`), or with ``stream`` a successful answer's body left unread (the response)."""
        retries = 0
        cause: BaseException | None
        while True:
            try:
                response = await self._exchange(method, url, limit, dict(kwargs), stream)
            except Exception as exc:  # noqa: BLE001 - whatever the transport raised is mapped to the tree
                error, retryable = self._failure(exc, where, url)
                if not retryable:
                    raise self._scrub(error) from exc
                cause, headers = exc, None
            else:
                if response.is_success:
                    return response
                error = self._status_error(response, model, where)  # type: ignore[arg-type]
                cause, headers = None, response.headers
            await self._sleep(self._retry_wait(self._scrub(error), cause, retries, headers, where))
            retries += 1


def _fits(client: AsyncImagesClient) -> AsyncImageClient:
    """Nothing at run time: mypy proves here that the client is what ``batching``, ``outpaint``
    and the faces take as an async client (:class:`dalle_widgets._types.AsyncImageClient`)."""
    return client
