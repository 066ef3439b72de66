"""``ImagesClient``: the blocking twin. Only the send loop, sleeping and closing live here."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx

from .._types import CacheMode, FramingMode, SyncImageClient
from ..errors import DalleWidgetsError, InvalidRequestError
from ..results import GeneratedImage, ImageEvent, ImageResult
from ._base import MAX_MODELS_BODY, MAX_REDIRECTS, BaseImagesClient, ModelIds, PreparedRequest
from ._config import USER_AGENT, Secret
from ._deadline import DeadlineTransport, deadline, end_of, expired
from ._limits import LineSplitter, Reply
from ._responses import RawImage
from ._streaming import ImageStream, SSEDecoder

__all__ = ["ImagesClient"]

#: The first request of an exchange plus the redirects a download may follow.
MAX_HOPS = MAX_REDIRECTS + 1


class ImagesClient(BaseImagesClient):
    """Generate, edit (inpaint) and vary images over an OpenAI-compatible API, blocking.

    Parameters
    ----------
    api_key : str, optional
        Default ``$OPENAI_API_KEY``. Sent only to ``base_url``'s host.
    base_url : str, optional
        Default ``$OPENAI_BASE_URL``, else ``https://api.openai.com/v1`` when a key is set.
        With neither a key nor a base URL (or ``DALLE_WIDGETS_OFFLINE=1``) the offline
        engine is started on 127.0.0.1 and used instead.
    model : str, optional
        Default ``$DALLE_WIDGETS_MODEL``, else the endpoint's default from the model table:
        ``gpt-image-2`` on api.openai.com and Azure, ``dall-e-2`` on other endpoints and the
        offline engine. On api.openai.com a model past its shutdown date is refused before
        sending (:class:`~dalle_widgets.errors.ModelNotFoundError`).
    protocol : {"images", "chat"}
        ``chat`` talks to aggregators that serve image models over ``/chat/completions``.
    timeout : float or httpx.Timeout, optional
        Seconds one request may take in all: connecting, sending, waiting and reading the
        answer together (default 120 s, of which at most 5 s to connect). Each attempt of a
        retried request, and each image download, gets the whole budget again.
    max_retries : int
        Retries for connection errors, timeouts, 408, 409, 429 and 5xx (default 2).
    http_client : httpx.Client, optional
        Your own client (proxies, certificates...); it is not closed by :meth:`close`.
    store : Store or path, optional
        Where images are saved (default ``$DALLE_WIDGETS_HOME`` or ``~/.dalle_widgets``).
    cache : {"use", "refresh", "off"}
        Request cache policy (default ``use``: an identical request replays stored images).
    azure_endpoint : str, optional
        Azure OpenAI: ``https://<resource>.openai.azure.com`` (default
        ``$AZURE_OPENAI_ENDPOINT``). Requests go to
        ``/openai/deployments/<model>/images/...?api-version=...`` with an ``api-key`` header;
        ``model`` is the deployment name. End it in ``/openai/v1`` for Azure's v1 API.
    api_version : str, optional
        Azure's ``api-version`` (default ``$OPENAI_API_VERSION``); the key defaults to
        ``$AZURE_OPENAI_API_KEY``.

    Examples
    --------
    >>> with ImagesClient() as client:                               # doctest: +SKIP
    ...     result = client.generate("a watercolor fox", n=4, size="512x512")
    ...     variations = client.vary(result[0], n=2)
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        http_client: httpx.Client | None = None,
        **kwargs: Any,
    ) -> None:
        api_key = Secret.of(api_key)  # no frame below holds the bare key (see Secret)
        super().__init__(api_key, base_url, http_client=http_client, **kwargs)
        self._owns_http = http_client is None
        self._http = (
            http_client
            if http_client is not None
            else httpx.Client(
                timeout=self.timeout,
                headers={"User-Agent": USER_AGENT},
                follow_redirects=False,
                transport=DeadlineTransport(),
            )
        )
        self._sleep = time.sleep

    # --- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP connections (only if this client created them)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ImagesClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- operations -----------------------------------------------------------------------------

    def generate(
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
    ) -> ImageResult | ImageStream:
        """Make ``n`` images from a text ``prompt``.

        Returns an :class:`ImageResult`; every image is on disk in the store before it
        returns. Raises ``InvalidRequestError`` (nothing sent) for bad input, and the
        ``APIError`` family for what the endpoint refused.

        GPT image fields (each checked against the model table before sending; leave unset
        to let the endpoint decide): ``quality`` (low, medium, high, auto; xhigh and max on
        2.5 and 2.6), ``background`` (transparent, opaque, auto; transparent needs png or
        webp), ``output_format`` (png, jpeg, webp; gif and svg on 2.6), ``output_compression``
        (0-100, jpeg and webp), ``moderation`` (auto, low), ``complexity`` (2.6).
        ``output_format="gif"`` (2.6) makes one animated GIF per image: ``frame_count`` (2-16,
        default 9) frames of ``size`` (one frame's size; the largest square for the frame
        count when unset), each ``frame_duration_ms`` long (at least 20, default 200); no
        stream, mask or compression. The frame limits are measured, not published: see
        :class:`~dalle_widgets.models.GifRule`.
        ``stream=True`` returns an iterator of :class:`~dalle_widgets.results.ImageEvent`
        (``partial_images`` previews per image, 0-3, then each final image, stored).
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
        return self._dispatch(prepared, cache)

    def edit(
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
    ) -> ImageResult | ImageStream:
        """Edit ``image``: regenerate its masked area (True in a bool ``mask``), or all of it.

        ``image`` may be a list of up to 16 images on GPT image models (png, jpeg or webp,
        each under 50 MB): they go as repeated ``image[]`` parts with their real content
        types, and ``mask`` applies to the first. With no mask, dall-e-2 edits the image's
        transparent pixels and GPT image models the whole image. ``input_fidelity`` is sent
        only to models that take it.

        A photo the model cannot take at its own size (a non-square photo for dall-e-2) is
        sent as a window sized for the model and the answer pasted back, so the result keeps
        the photo's size; ``framing`` picks the window: ``"window"`` (default) around the
        mask, ``"pad"`` the whole photo padded to a square, ``"crop"`` its centre square
        (a mask reaching outside it is refused). See :mod:`dalle_widgets.photo_window`.

        GPT image fields (each checked against the model table before sending; leave unset
        to let the endpoint decide): ``quality`` (low, medium, high, auto; xhigh and max on
        2.5 and 2.6), ``background`` (transparent, opaque, auto; transparent needs png or
        webp), ``output_format`` (png, jpeg, webp; gif and svg on 2.6), ``output_compression``
        (0-100, jpeg and webp), ``moderation`` (auto, low), ``complexity`` (2.6).
        ``stream=True`` returns an iterator of :class:`~dalle_widgets.results.ImageEvent`
        (``partial_images`` previews per image, 0-3, then each final image, stored).
        """
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
        return self._dispatch(prepared, cache)

    def vary(
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
    ) -> ImageResult | ImageStream:
        """Make ``n`` variations of ``image``.

        dall-e-2 has a variations endpoint. A model without one (every GPT image model)
        gets an edit of the whole image, no mask, with a variation instruction
        (:data:`~dalle_widgets.client.VARY_PROMPT`): priced as an edit, and recorded as
        ``vary`` in the provenance. Such a variation can stream (``stream=True``, as
        :meth:`generate`); dall-e-2's cannot.
        """
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
        return self._dispatch(prepared, cache)

    def models(self) -> ModelIds:
        """The model ids the endpoint lists at ``GET /models``, as a list of str.

        The ``shutdown_date`` each model card carries is kept (``.shutdown_dates``) and used:
        choosing a model near or past the date the endpoint gave logs a warning, and on
        api.openai.com a model past it is refused before sending.
        """
        with self._leaving(self._where()):
            return self._models()

    def _models(self) -> ModelIds:
        """:meth:`models` inside the exit (see :meth:`_leaving`)."""
        response = self._send(
            "GET",
            self._settings.url("models"),
            where=self._where(),
            limit=MAX_MODELS_BODY,
            headers=self._headers(),
            timeout=self._timeout,
        )
        return self._list_models(response)

    def _dispatch(self, prepared: PreparedRequest, cache: CacheMode | None) -> ImageResult | ImageStream:
        return self.stream(prepared, cache=cache) if prepared.stream else self.send(prepared, cache=cache)

    def stream(self, prepared: PreparedRequest, *, cache: CacheMode | None = None) -> ImageStream:
        """Send a request built by :meth:`prepare` with ``stream=True``; return its events.

        Nothing is sent until the stream is first read. A cache hit replays the stored
        images as completed events (no previews).
        """
        if not prepared.stream:
            raise InvalidRequestError("stream() needs a request prepared with stream=True; use send()")
        mode = self._cache_mode(cache)
        stream = ImageStream(prepared, iter(()))
        stream.attach(self._stream_events(prepared, mode, stream))
        return stream

    def _stream_events(
        self, prepared: PreparedRequest, mode: CacheMode, stream: ImageStream
    ) -> Iterator[ImageEvent]:
        hit = self._cached_result(prepared, mode)
        if hit is not None:
            yield from self._replayed_events(hit)
            stream.result = hit
            return
        with self._leaving(self._where(prepared)):
            yield from self._stream_answer(prepared, mode, stream)

    def _stream_answer(
        self, prepared: PreparedRequest, mode: CacheMode, stream: ImageStream
    ) -> Iterator[ImageEvent]:
        """The events of a stream (or of a JSON answer to it), inside the exit."""
        started = time.perf_counter()
        response = self._send(
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
                reply = self._read_reply(response, self._answer_limit(prepared), end_of(self._total))
                raws, usage = self._read_images(prepared, reply)  # type: ignore[arg-type]
                limit = self._image_limit(prepared)
                raws = [self._fetch(raw, i, limit) for i, raw in enumerate(raws)]
                result = self._store_answer(prepared, raws, request_id, engine, mode, started, usage)
                yield from self._replayed_events(result)
                stream.result = result
                return
            images: list[GeneratedImage] = []
            decoder = SSEDecoder()
            try:
                for line in self._lines(response, self._stream_limit(prepared)):
                    sse = decoder.feed(line)
                    item = None if sse is None else self._read_event(prepared, sse, len(images))
                    if item is None:
                        continue
                    if item.kind == "partial":
                        yield self._partial_event(prepared, item)
                    else:
                        event = self._completed_event(prepared, item, request_id, engine)
                        assert event.result is not None  # a completed event carries its image
                        images.append(event.result)
                        yield event
            except (httpx.TransportError, TimeoutError, ValueError) as exc:
                raise self._stream_cut(prepared, images, exc) from exc
        finally:
            response.close()
        stream.result = self._finish_stream(prepared, images, request_id, mode, started)

    def send(self, prepared: PreparedRequest, *, cache: CacheMode | None = None) -> ImageResult:
        """Send a request built by :meth:`prepare` (replaying it from the cache if allowed)."""
        if prepared.stream:
            return self.stream(prepared, cache=cache).until_done()
        mode = self._cache_mode(cache)
        hit = self._cached_result(prepared, mode)
        if hit is not None:
            return hit
        with self._leaving(self._where(prepared)):
            return self._answer(prepared, mode)

    def _answer(self, prepared: PreparedRequest, mode: CacheMode) -> ImageResult:
        """Send, read, download and store: :meth:`send` inside the exit (see :meth:`_leaving`)."""
        started = time.perf_counter()
        response = self._send(
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
        raws = [self._fetch(raw, i, limit) for i, raw in enumerate(raws)]
        return self._store_answer(prepared, raws, request_id, engine, mode, started, usage)

    # --- transport ------------------------------------------------------------------------------

    def _fetch(self, raw: RawImage, index: int, limit: int) -> RawImage:
        """``raw`` with its URL downloaded (or the reason it could not be)."""
        if raw.data is not None or raw.error is not None or raw.url is None:
            return raw
        try:
            return RawImage(data=self._download(raw.url, index, limit), revised_prompt=raw.revised_prompt)
        except DalleWidgetsError as exc:
            return RawImage(error=exc)
        except Exception as exc:  # noqa: BLE001 - a URL no transport can take is this image's failure only
            return RawImage(error=self._failure(exc, f"image {index} download", raw.url)[0])

    def _download(self, url: str, index: int, limit: int) -> bytes:
        response = self._send(
            "GET",
            url,
            where=f"image {index} download",
            limit=limit,
            headers=self._download_headers(url),
            timeout=self._timeout,
            follow_redirects=True,
        )
        return response.content

    def _read_reply(self, response: httpx.Response, limit: int, until: float | None) -> Reply:
        """Read ``response``'s body within ``limit`` bytes and the deadline ``until``, then close it."""
        try:
            reader = self._reader(response, limit)
            parts = []
            chunks = response.iter_raw()
            while not reader.full:
                with deadline(None, until=until):  # every read of the body under the same end
                    raw = next(chunks, None)
                if raw is None:
                    break
                parts.append(reader.feed(raw))
                if expired(until):
                    raise httpx.ReadTimeout("the request's total deadline passed", request=response.request)
            parts.append(reader.finish())
            return Reply(response.status_code, response.headers, b"".join(parts))
        finally:
            response.close()

    def _lines(self, response: httpx.Response, limit: int) -> Iterator[str]:
        """The lines of an event stream, read within ``limit`` bytes and one deadline, then ``""``."""
        until = end_of(self._total)
        reader = self._reader(response, limit)
        splitter = LineSplitter()
        chunks = response.iter_raw()
        while True:
            with deadline(None, until=until):
                raw = next(chunks, None)
            if raw is None:
                break
            yield from splitter.feed(reader.feed(raw))
            if expired(until):
                raise TimeoutError("the stream's total deadline passed")
        yield from splitter.feed(reader.finish())
        yield from splitter.finish()
        yield ""

    def _exchange(
        self, method: str, url: str, limit: int, kwargs: dict[str, Any], stream: bool = False
    ) -> httpx.Response | Reply:
        """One request and its redirects (downloads only); its body read within ``limit``, or with
        ``stream`` a successful answer's body left open after the headers."""
        follow = bool(kwargs.pop("follow_redirects", False))
        until = end_of(self._total)
        for hops in range(MAX_HOPS):
            with deadline(None, until=until):
                request = self._http.build_request(method, url, **kwargs)
                response = self._http.send(request, stream=True, follow_redirects=False)
            hop = self._redirect(response, kwargs, hops) if follow else None
            if hop is not None:
                response.close()
                url, kwargs = hop
                continue
            if stream and response.is_success:
                return response
            return self._read_reply(response, limit, until)
        raise httpx.TooManyRedirects("too many redirects")  # pragma: no cover - _redirect raises first

    def _send(
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
                response = self._exchange(method, url, limit, dict(kwargs), stream)
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
            self._sleep(self._retry_wait(self._scrub(error), cause, retries, headers, where))
            retries += 1


def _fits(client: ImagesClient) -> SyncImageClient:
    """Nothing at run time: mypy proves here that the client is what ``batching``, ``outpaint``
    and the faces take as a sync client (:class:`dalle_widgets._types.SyncImageClient`)."""
    return client
