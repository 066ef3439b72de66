"""``AsyncImagesClient``: the asyncio twin of :class:`ImagesClient`, same signatures, awaitable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ..errors import (
    DalleWidgetsError,
    InvalidRequestError,
)
from ..results import GeneratedImage, ImageEvent, ImageResult
from ._base import BaseImagesClient, ModelIds, PreparedRequest
from ._config import USER_AGENT
from ._responses import RawImage
from ._streaming import AsyncImageStream, SSEDecoder

__all__ = ["AsyncImagesClient"]


async def _empty() -> AsyncIterator[ImageEvent]:
    return
    yield  # pragma: no cover - makes this an async generator


async def _with_end(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The lines, then one blank line (ends an event the body left open)."""
    async for line in lines:
        yield line
    yield ""


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
        extra_body: dict[str, Any] | None = None,
        cache: str | None = None,
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
        cache: str | None = None,
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
        extra_body: dict[str, Any] | None = None,
        cache: str | None = None,
    ) -> ImageResult:
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
            extra_body=extra_body,
        )
        return await self.send(prepared, cache=cache)

    async def models(self) -> ModelIds:
        """The model ids the endpoint lists at ``GET /models``, as a list of str.

        The ``shutdown_date`` each model card carries is kept (``.shutdown_dates``) and used:
        choosing a model near or past the date the endpoint gave logs a warning, and on
        api.openai.com a model past it is refused before sending.
        """
        response = await self._send(
            "GET",
            self._settings.url("models"),
            where=self._where(),
            headers=self._headers(),
            timeout=self._timeout,
        )
        return self._list_models(response)

    async def _dispatch(self, prepared: PreparedRequest, cache: str | None) -> ImageResult | AsyncImageStream:
        if prepared.stream:
            return self.stream(prepared, cache=cache)
        return await self.send(prepared, cache=cache)

    def stream(self, prepared: PreparedRequest, *, cache: str | None = None) -> AsyncImageStream:
        """Send a request built by :meth:`prepare` with ``stream=True``; return its events.

        Nothing is sent until the stream is first read (``async for``).
        """
        if not prepared.stream:
            raise InvalidRequestError("stream() needs a request prepared with stream=True; use send()")
        mode = self._cache_mode(cache)
        stream = AsyncImageStream(prepared, _empty())
        stream._events = self._stream_events(prepared, mode, stream)
        return stream

    async def _stream_events(
        self, prepared: PreparedRequest, mode: str, stream: AsyncImageStream
    ) -> AsyncIterator[ImageEvent]:
        hit = self._cached_result(prepared, mode)
        if hit is not None:
            for event in self._replayed_events(hit):
                yield event
            stream.result = hit
            return
        started = time.perf_counter()
        response = await self._send(
            prepared.method,
            prepared.url,
            where=self._where(prepared),
            model=prepared.model,
            stream=True,
            **self._request_kwargs(prepared),
        )
        request_id = response.headers.get("x-request-id")
        engine = response.headers.get("x-dalle-widgets-engine")
        try:
            if not self._is_event_stream(response):  # a server that ignored stream=true: one JSON answer
                await response.aread()
                raws, usage = self._read_images(prepared, response)
                raws = list(await asyncio.gather(*(self._fetch(raw, i) for i, raw in enumerate(raws))))
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
                async for line in _with_end(response.aiter_lines()):
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
                        images.append(event.result)
                        yield event
            except httpx.TransportError as exc:
                raise self._stream_cut(prepared, images, exc) from exc
        finally:
            await response.aclose()
        stream.result = await asyncio.to_thread(
            self._finish_stream, prepared, images, request_id, mode, started
        )

    async def send(self, prepared: PreparedRequest, *, cache: str | None = None) -> ImageResult:
        """Send a request built by :meth:`prepare` (replaying it from the cache if allowed)."""
        if prepared.stream:
            return await self.stream(prepared, cache=cache).until_done()
        mode = self._cache_mode(cache)
        hit = self._cached_result(prepared, mode)
        if hit is not None:
            return hit
        started = time.perf_counter()
        response = await self._send(
            prepared.method,
            prepared.url,
            where=self._where(prepared),
            model=prepared.model,
            **self._request_kwargs(prepared),
        )
        request_id = response.headers.get("x-request-id")
        engine = response.headers.get("x-dalle-widgets-engine")
        raws, usage = self._read_images(prepared, response)
        raws = list(await asyncio.gather(*(self._fetch(raw, i) for i, raw in enumerate(raws))))
        # disk writes run in a worker thread: the event loop (a kernel's) never waits on I/O
        return await asyncio.to_thread(
            self._store_answer, prepared, raws, request_id, engine, mode, started, usage
        )

    # --- transport ------------------------------------------------------------------------------

    async def _fetch(self, raw: RawImage, index: int) -> RawImage:
        """``raw`` with its URL downloaded (or the reason it could not be)."""
        if raw.data is not None or raw.error is not None or raw.url is None:
            return raw
        try:
            return RawImage(data=await self._download(raw.url, index), revised_prompt=raw.revised_prompt)
        except DalleWidgetsError as exc:
            return RawImage(error=exc)

    async def _download(self, url: str, index: int) -> bytes:
        response = await self._send(
            "GET",
            url,
            where=f"image {index} download",
            headers=self._download_headers(url),
            timeout=self._timeout,
            follow_redirects=True,
        )
        return response.content

    async def _send(
        self,
        method: str,
        url: str,
        *,
        where: str,
        model: str | None = None,
        stream: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries; with ``stream`` the body of a successful answer is left unread."""
        retries = 0
        while True:
            try:
                if stream:
                    http = self._client()
                    response = await http.send(http.build_request(method, url, **kwargs), stream=True)
                    if not response.is_success:
                        await response.aread()
                        await response.aclose()
                else:
                    response = await self._client().request(method, url, **kwargs)
            except httpx.TransportError as exc:  # timeouts included
                error, cause, headers = self._transport_error(exc, url, where), exc, None
            else:
                if response.is_success:
                    return response
                error, cause, headers = self._status_error(response, model, where), None, response.headers
            await self._sleep(self._retry_wait(error, cause, retries, headers, where))
            retries += 1
