"""The offline engine's HTTP app: OpenAI's Images API (and a chat route) over a backend.

``create_app()`` returns a Starlette ASGI app speaking the same wire protocol as
``https://api.openai.com/v1`` for ``dall-e-2``: the same routes, the same validation
(:mod:`.validation`), the same error envelope and status codes, ``x-request-id`` on
every response. Pixels come from a pluggable backend (:mod:`.backends`), run in
worker threads so ``/health`` and other requests stay responsive under load.

Routes
------
``POST /v1/images/generations`` (JSON), ``POST /v1/images/edits`` and
``POST /v1/images/variations`` (multipart), ``POST /v1/chat/completions`` (images in
``choices[0].message.images[]`` as data URLs, the way aggregators answer),
``GET /v1/models``, ``GET /v1/models/{id}``, ``GET /health``, and
``GET /images/{id}.png`` for ``response_format=url`` (no token needed, 60 minutes).

Security: every ``/v1`` route needs ``Authorization: Bearer <token>`` (compared in
constant time); bodies over ``max_body_bytes`` get 413 before they are read whole;
uploads are checked for the PNG signature, size and pixel count before decoding.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.from_thread
import numpy as np
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Scope

from .._types import WireProtocol
from .._version import __version__
from ..models import DEFAULT_MODEL, live_models, lookup
from . import gpt_image
from . import validation as v
from ._errors import EngineError, envelope
from ._middleware import EngineMiddleware, error_response
from ._runtime import Engine, Produced, RateLimiter, Slot
from ._sse import Emit, EventStream, b64, preview_size, preview_steps
from .backends import ImageBackend, get_backend, seeds_for
from .encode import ENGINE_NAME, encode, finish, resize_to, wants_transparency
from .urls import ImageURLStore

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ENGINE_NAME", "create_app", "render_images"]

logger = logging.getLogger("dalle_widgets")

#: Two 4 MB uploads plus form fields fit; anything larger is refused with 413.
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
#: File parts a form may carry: 16 images (GPT image models' edits) and a mask.
MAX_FILES = 17
_BOUNDARY = re.compile(rb'boundary="?([^";,]+)"?', re.I)
_PAST_TENSE = {"generate": "generated", "edit": "edited", "vary": "varied"}

Handler = Callable[[Request], Awaitable[Response]]


def _endpoint(fn: Handler) -> Handler:
    """Turn EngineError into its envelope and anything unexpected into a logged 500."""

    @functools.wraps(fn)
    async def wrapper(request: Request) -> Response:
        try:
            return await fn(request)
        except EngineError as exc:
            return error_response(exc)
        except Exception:  # noqa: BLE001 - the server must answer and stay up
            logger.exception("offline engine: unexpected error on %s", request.url.path)
            return JSONResponse(
                envelope(
                    "The server had an error while processing your request.",
                    type="server_error",
                    code="server_error",
                ),
                status_code=500,
            )

    return wrapper


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _client_gone(request: Request) -> Callable[[], bool]:
    """A check, callable from a backend's worker thread, of whether the client has disconnected.

    A backend that reports progress asks it after every step, so a request whose client
    went away (a Cancel in a widget, a closed stream) frees the device at its next step.
    """

    def gone() -> bool:
        return anyio.from_thread.run(request.is_disconnected)

    return gone


# ---------------------------------------------------------------------------- request bodies


async def _read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing (413) as soon as it passes ``limit`` (chunked uploads included)."""
    chunks: list[bytes] = []
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise EngineError(
                    413,
                    f"Request body exceeds the engine's limit of {limit:,} bytes "
                    f"(images must be PNGs under 4 MB).",
                    code="request_too_large",
                    headers={"Connection": "close"},  # the rest of the body is not read
                )
            chunks.append(chunk)
    except ClientDisconnect:  # gone, or cut by the server's body deadline (see _deadlines)
        raise EngineError(
            400, "The connection closed before the request body was complete.", code="incomplete_body"
        ) from None
    return b"".join(chunks)


def _not_multipart(ctype: str, operation: str) -> EngineError:
    return EngineError(
        400,
        f"Invalid Content-Type {ctype or '(none)'!r}: {operation} with dall-e-2 require "
        f"multipart/form-data (JSON {operation} are for GPT image models only).",
        code="invalid_content_type",
    )


def _replay(body: bytes) -> Callable[[], Awaitable[Message]]:
    """An ASGI ``receive`` that hands over a body already read, in one message."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def read_form(request: Request, operation: str) -> bytes:
    """The multipart body, read under the size limit and checked for its closing boundary.

    A truncated upload is a 400 here, not a parser error later. The body is parsed by
    :func:`parse_form`, in a worker thread, once the request holds its slot.
    """
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise _not_multipart(ctype, operation)
    body = await _read_body(request, _engine(request).max_body_bytes)
    match = _BOUNDARY.search(ctype.encode("latin-1"))
    if not match or b"--" + match.group(1) + b"--" not in body:
        raise EngineError(
            400,
            "Malformed multipart body: it is truncated or has no closing boundary.",
            code="invalid_multipart",
        )
    return body


def parse_form(scope: Scope, body: bytes) -> dict[str, Any]:
    """The multipart form as ``{name: str | Upload}``, one value per name (a list when repeated).

    Starlette's parser is a coroutine: it runs here on an event loop of the worker
    thread's own, so parsing megabytes of form data never holds up the server's loop.
    """
    return asyncio.run(_form_fields(scope, body))


async def _form_fields(scope: Scope, body: bytes) -> dict[str, Any]:
    held = Request(scope, _replay(body))
    try:
        form = await held.form(max_files=MAX_FILES, max_fields=48, max_part_size=64 * 1024)
    except HTTPException as exc:
        raise EngineError(400, f"Malformed multipart body: {exc.detail}", code="invalid_multipart") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is the body's fault
        raise EngineError(400, f"Malformed multipart body: {exc}", code="invalid_multipart") from None
    fields: dict[str, Any] = {}
    try:
        for key, part in form.multi_items():
            name = key.removesuffix("[]")
            value: Any = part
            if isinstance(part, UploadFile):
                value = v.Upload(part.filename, part.content_type, await part.read())
            if name in fields or key.endswith("[]"):  # a repeated field or an array: a list
                previous = fields.get(name, [])
                fields[name] = [*(previous if isinstance(previous, list) else [previous]), value]
            else:
                fields[name] = value
    finally:
        await form.close()
    return fields


# ---------------------------------------------------------------------------- rendering


def _meta(engine: Engine, req: v.ImageRequest, seed: int, protocol: WireProtocol) -> dict[str, Any]:
    """The provenance record every image carries (see :mod:`.encode`)."""
    meta: dict[str, Any] = {
        "engine": ENGINE_NAME,
        "backend": engine.backend.name,
        "operation": req.operation,
        "model": gpt.model if (gpt := getattr(req, "gpt", None)) else DEFAULT_MODEL,
        "synthetic": True,
        "request_seed": seed,
    }
    if protocol == "chat":
        meta["protocol"] = "chat"
    elif not isinstance(req, v.VaryRequest):
        meta["prompt"] = req.prompt
    return meta


def _format_of(req: v.ImageRequest) -> dict[str, Any]:
    """``encode``'s format arguments for ``req``: png for dall-e-2, the request's own otherwise."""
    gpt = getattr(req, "gpt", None)
    if gpt is None:
        return {"fmt": "png", "compression": None}
    animation = (gpt.frame_count, gpt.frame_duration_ms or 200) if gpt.frame_count else None
    return {"fmt": gpt.output_format, "compression": gpt.output_compression, "animation": animation}


def _encode_all(req: v.ImageRequest, images: list[np.ndarray], meta: dict[str, Any]) -> list[bytes]:
    """The images as sent: alpha cut out if asked, encoded with provenance (``index`` counts from meta's)."""
    fmt = _format_of(req)
    first = int(meta.get("index", 0))
    return [encode(finish(im, req), **fmt, meta={**meta, "index": first + i}) for i, im in enumerate(images)]


def _echo(req: v.GenerateRequest | v.EditRequest) -> dict[str, Any]:
    """The fields a GPT image answer echoes: what was made, as made."""
    assert req.gpt is not None
    return {
        "background": "transparent" if wants_transparency(req) else "opaque",
        "output_format": req.gpt.output_format,
        "quality": req.gpt.resolved_quality,
        "size": f"{req.size[0]}x{req.size[1]}",
    }


async def render_images(
    request: Request,
    req: v.ImageRequest,
    produced: Produced,
    *,
    protocol: WireProtocol = "images",
    chat_model: str = DEFAULT_MODEL,
) -> Response:
    """Encode the images with their provenance and answer in the route's protocol.

    ``images``: OpenAI's ``{"created", "data": [{"url"} | {"b64_json"}]}``, plus the
    echoed fields and ``usage`` for GPT image models; ``chat``: a chat completion (its
    ``model`` is ``chat_model``, echoed as the client sent it) whose message carries
    the images as data URLs.
    """
    engine = _engine(request)
    meta = _meta(engine, req, produced.seed, protocol)
    base_url = str(request.base_url).rstrip("/")
    body = await engine.run(_answer, engine, req, produced.images, meta, protocol, chat_model, base_url)
    headers = {"x-dalle-widgets-engine": engine.backend.name, "x-dalle-widgets-seed": str(produced.seed)}
    return Response(body, media_type="application/json", headers=headers)


def _answer(
    engine: Engine,
    req: v.ImageRequest,
    images: list[np.ndarray],
    meta: dict[str, Any],
    protocol: WireProtocol,
    chat_model: str,
    base_url: str,
) -> bytes:
    """The JSON answer's bytes: images encoded, base64'd or stored for their URLs (in a worker thread)."""
    encoded = _encode_all(req, images, meta)
    if protocol == "chat":
        return _json(_chat_completion(req, encoded, chat_model))
    data: list[dict[str, str]] = []
    for png in encoded:
        if req.response_format == "b64_json":
            data.append({"b64_json": base64.b64encode(png).decode("ascii")})
        else:
            data.append({"url": f"{base_url}/images/{engine.urls.put(png)}.png"})
    body: dict[str, Any] = {"created": int(time.time()), "data": data}
    if isinstance(req, (v.GenerateRequest, v.EditRequest)) and req.gpt is not None:
        body.update(_echo(req), usage=gpt_image.usage_for(req))
    return _json(body)


def _json(body: Any) -> bytes:
    """``body`` as JSONResponse renders it (compact, UTF-8)."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def _stream(request: Request, req: v.GenerateRequest | v.EditRequest, slot: Slot) -> Response:
    """Answer ``stream=true``: partial images as the backend makes them, then each final image.

    Server-sent events as OpenAI sends them (``event:`` line plus a JSON ``data:`` line
    with its ``type``): ``image_generation.partial_image`` / ``image_edit.partial_image``
    with ``partial_image_index``, then ``*.completed`` with ``usage`` per image. Images
    are made one at a time (image ``i`` with the request's ``i``-th seed, the same pixels
    as without streaming), and previews are encoded in the backend's worker thread and
    written out from there, so they reach the client while the backend works. Previews
    of large images are sent at most :data:`~._sse.PREVIEW_SIDE` px a side. The request's
    ``slot`` is released when the stream ends.
    """
    engine = _engine(request)
    assert req.gpt is not None
    engine.take(req.n)
    seed = engine.seed_of(req)
    kind = "image_generation" if isinstance(req, v.GenerateRequest) else "image_edit"
    meta = _meta(engine, req, seed, "images")
    echo = _echo(req)
    fmt = _format_of(req)  # never gif: GIFs are not streamed
    wanted = req.gpt.partial_images

    gone = _client_gone(request)

    async def produce(emit: Emit) -> None:
        for i, image_seed in enumerate(seeds_for(seed, req.n)):
            sent = 0

            def on_preview(index: int, step: int, total: int, image: np.ndarray, i: int = i) -> None:  # noqa: ARG001
                nonlocal sent
                if step not in preview_steps(total, wanted):
                    return
                shown = finish(resize_to(image, preview_size(req.size)), req)
                data = encode(shown, **fmt, meta={**meta, "index": i, "partial": sent})
                event = {
                    "type": f"{kind}.partial_image",
                    "b64_json": b64(data),
                    "created_at": int(time.time()),
                }
                anyio.from_thread.run(emit, {**event, **echo, "partial_image_index": sent})
                sent += 1

            image = (await engine.make(req, n=1, seed=image_seed, on_preview=on_preview, cancelled=gone))[0]
            data = (await engine.run(_encode_all, req, [image], {**meta, "index": i}))[0]
            usage = gpt_image.usage_for(req, images=1)
            usage.pop("output_tokens_details")
            if i:  # the inputs are read once: count them on the first image only
                usage["input_tokens"] -= (
                    usage["input_tokens_details"]["image_tokens"]
                    + usage["input_tokens_details"]["text_tokens"]
                )
                usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
                usage["input_tokens_details"] = {"text_tokens": 0, "image_tokens": 0}
            event = {"type": f"{kind}.completed", "b64_json": b64(data), "created_at": int(time.time())}
            await emit({**event, **echo, "usage": usage})

    headers = {"x-dalle-widgets-engine": engine.backend.name, "x-dalle-widgets-seed": str(seed)}
    return EventStream(produce, headers=headers, on_close=slot.release)


def _chat_completion(req: v.ImageRequest, pngs: list[bytes], model: str) -> dict[str, Any]:
    parts = [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(p).decode()}}
        for p in pngs
    ]
    return {
        "id": "chatcmpl-" + secrets.token_hex(12),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": f"{len(pngs)} image(s) {_PAST_TENSE[req.operation]} by the {ENGINE_NAME} "
                    f"(synthetic).",
                    "images": parts,
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


async def _respond(request: Request, parse: Callable[[Any], Any], raw: Any, **render: Any) -> Response:
    """The one path of every image route: in one of the engine's slots, parse, make and encode.

    ``parse`` turns the raw body (JSON bytes) or form fields into a request record (or
    a record and more arguments for :func:`render_images`), parsing the JSON and
    decoding any upload: it runs in a worker thread only once the request holds its
    slot, so a request waiting for a slot holds its raw bytes only, never parsed JSON
    or decoded pixels (a 75 KB PNG that declares 4096x4096 pixels costs 75 KB while it
    waits, 112 MB once decoded), and no more threads than slots compete with the
    event loop. The slot is released when the images are encoded (for a stream, when
    it ends).
    """
    engine = _engine(request)
    admitted = await engine.admit()
    slot: Slot | None = admitted
    try:
        parsed = await engine.run(parse, raw)
        req, more = parsed if isinstance(parsed, tuple) else (parsed, {})
        if isinstance(req, (v.GenerateRequest, v.EditRequest)) and req.gpt is not None and req.gpt.stream:
            streamed, slot = _stream(request, req, admitted), None  # the stream releases the slot
            return streamed
        produced = await engine.produce(req, cancelled=_client_gone(request))
        return await render_images(request, req, produced, **render, **more)
    finally:
        if slot is not None:
            slot.release()


def _form(request: Request, parse: Callable[[Any], v.ImageRequest]) -> Callable[[bytes], v.ImageRequest]:
    """``parse`` of the form a multipart body holds (both in the worker thread)."""
    scope = request.scope
    return lambda body: parse(parse_form(scope, body))


def _generation(raw: bytes) -> v.ImageRequest:
    return v.parse_generate(v.parse_json(raw))


def _json_edit(raw: bytes) -> v.ImageRequest:
    body = v.parse_json(raw)
    if isinstance(body, dict) and v.is_gpt_image(body.get("model")):
        return gpt_image.parse_edit_json(body)
    raise _not_multipart("application/json", "edits")


def _chat(raw: bytes) -> tuple[v.ImageRequest, dict[str, Any]]:
    body = v.parse_json(raw)
    req = v.parse_chat(body)
    return req, {"chat_model": body.get("model") or DEFAULT_MODEL}  # echoed as the client sent it


# ---------------------------------------------------------------------------- endpoints


@_endpoint
async def generations(request: Request) -> Response:
    return await _respond(request, _generation, await _read_body(request, _engine(request).max_body_bytes))


@_endpoint
async def edits(request: Request) -> Response:
    if request.headers.get("content-type", "").lower().startswith("application/json"):
        return await _respond(request, _json_edit, await _read_body(request, _engine(request).max_body_bytes))
    body = await read_form(request, "edits")
    return await _respond(request, _form(request, v.parse_edit), body)


@_endpoint
async def variations(request: Request) -> Response:
    body = await read_form(request, "variations")
    return await _respond(request, _form(request, v.parse_vary), body)


@_endpoint
async def chat(request: Request) -> Response:
    raw = await _read_body(request, _engine(request).max_body_bytes)
    return await _respond(request, _chat, raw, protocol="chat")


def _model_card(engine: Engine, model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": engine.started, "owned_by": "dalle-widgets-offline"}


def served_models() -> list[str]:
    """The ids ``/v1/models`` lists: dall-e-2 (the default), then the live GPT image models and snapshots."""
    ids = [DEFAULT_MODEL]
    for name in live_models(family="gpt-image"):
        ids += [name, *lookup(name).snapshots]
    return ids


@_endpoint
async def models(request: Request) -> Response:
    engine = _engine(request)
    return JSONResponse({"object": "list", "data": [_model_card(engine, m) for m in served_models()]})


@_endpoint
async def model(request: Request) -> Response:
    model_id = request.path_params["model_id"]
    if not v.is_gpt_image(model_id):
        v.parse_model(model_id, "models")
    return JSONResponse(_model_card(_engine(request), model_id))


@_endpoint
async def health(request: Request) -> Response:
    return JSONResponse(
        {
            "status": "ok",
            "engine": ENGINE_NAME,
            "version": __version__,
            "backend": _engine(request).backend.name,
            "models": served_models(),
        }
    )


@_endpoint
async def served_image(request: Request) -> Response:
    png = _engine(request).urls.get(request.path_params["key"])
    if png is None:
        raise EngineError(
            404,
            "This image URL is unknown or has expired (URLs are valid for 60 minutes); "
            "request the image again or use response_format='b64_json'.",
            code="not_found",
        )
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


async def _no_route(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    if status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    else:
        message = f"Invalid URL ({request.method} {request.url.path}): the offline engine has no such route."
    return JSONResponse(
        envelope(
            message, type="invalid_request_error", code="not_found" if status == 404 else "method_not_allowed"
        ),
        status_code=status,
    )


ROUTES = [
    Route("/v1/images/generations", generations, methods=["POST"]),
    Route("/v1/images/edits", edits, methods=["POST"]),
    Route("/v1/images/variations", variations, methods=["POST"]),
    Route("/v1/chat/completions", chat, methods=["POST"]),
    Route("/v1/models", models, methods=["GET"]),
    Route("/v1/models/{model_id:path}", model, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
    Route("/images/{key}.png", served_image, methods=["GET"]),
]


def _checked_token(token: str | None) -> str:
    """``token``, or a random one for None; an empty or unsendable token is refused (it would lock
    everyone out, or, empty, once let everyone in)."""
    if token is None:
        return secrets.token_urlsafe(24)
    if not isinstance(token, str):
        problem = f"a {type(token).__name__}"
    elif not token:
        problem = "empty"
    elif not (token.isascii() and token.isprintable()) or any(c.isspace() for c in token):
        problem = "holding spaces, control or non-ASCII characters"  # never the token itself
    else:
        return token
    raise ValueError(
        f"token is {problem}: it must be a non-empty string of visible ASCII characters (it is sent "
        f"in the Authorization header). Pass token=None for a random one, or require_token=False to "
        f"serve without one (never on a shared host)."
    )
    return token


def create_app(
    backend: str | ImageBackend | None = None,
    *,
    token: str | None = None,
    require_token: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    url_ttl: float = 3600.0,
    images_per_minute: int | None = None,
    max_concurrency: int = 2,
) -> Starlette:
    """Build the engine's ASGI app.

    Parameters
    ----------
    backend : str, ImageBackend or None
        A backend instance, or the name of a registered one; None is ``classical``.
    token : str or None
        The bearer token clients must send. None makes a random one, available as
        ``app.state.token``. An empty token, or one with spaces or non-ASCII characters,
        raises ValueError.
    require_token : bool
        Set False to accept requests without a token (never do this on a shared host).
    max_body_bytes : int
        Larger request bodies get 413 before they are read whole.
    url_ttl : float
        Seconds an image served by URL stays available (OpenAI: 60 minutes).
    images_per_minute : int or None
        Simulate a rate limit: beyond it, 429 ``rate_limit_exceeded`` with ``Retry-After``.
    max_concurrency : int
        Backend jobs run at once (each in a worker thread); others wait their turn.

    Returns
    -------
    starlette.applications.Starlette

    Examples
    --------
    >>> from starlette.testclient import TestClient
    >>> app = create_app(token="t0k3n")
    >>> with TestClient(app) as http:
    ...     http.get("/v1/models", headers={"Authorization": "Bearer t0k3n"}).json()["data"][0]["id"]
    'dall-e-2'
    """
    if require_token:
        token = _checked_token(token)
    app = Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(
                EngineMiddleware, token=token if require_token else None, max_body_bytes=max_body_bytes
            )
        ],
        exception_handlers={HTTPException: _no_route},
    )
    app.state.token = token if require_token else None
    app.state.engine = Engine(
        backend=get_backend(backend),
        urls=ImageURLStore(ttl=url_ttl),
        limiter=RateLimiter(images_per_minute) if images_per_minute else None,
        slots=anyio.CapacityLimiter(max_concurrency),
        max_body_bytes=max_body_bytes,
    )
    return app
