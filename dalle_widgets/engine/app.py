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

import base64
import binascii
import functools
import hmac
import io
import json
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread
import numpy as np
from PIL import Image, PngImagePlugin
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._version import __version__
from ..models import DEFAULT_MODEL
from . import validation as v
from ._errors import EngineError, envelope
from .backends import ImageBackend, get_backend
from .urls import ImageURLStore

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ENGINE_NAME", "create_app"]

logger = logging.getLogger("dalle_widgets")

ENGINE_NAME = "dalle-widgets offline engine"
#: Two 4 MB uploads plus form fields fit; anything larger is refused with 413.
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
_PUBLIC = ("/health", "/images/")
_BOUNDARY = re.compile(rb'boundary="?([^";,]+)"?', re.I)

Handler = Callable[[Request], Awaitable[Response]]


def _error_response(exc: EngineError) -> JSONResponse:
    return JSONResponse(exc.to_body(), status_code=exc.status, headers=exc.headers)


class _EngineMiddleware:
    """Pure ASGI: request id on every response, token check, early 413 from Content-Length."""

    def __init__(self, app: ASGIApp, *, token: str | None, max_body_bytes: int) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(12)
        started = time.perf_counter()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                ms = int((time.perf_counter() - started) * 1000)
                headers.append((b"openai-processing-ms", str(ms).encode()))
                headers.append((b"access-control-expose-headers", b"X-Request-ID"))
                message = {**message, "headers": headers}
            await send(message)

        error = self._precheck(scope)
        if error is not None:
            await _error_response(error)(scope, receive, send_with_id)
            return
        await self.app(scope, receive, send_with_id)

    def _precheck(self, scope: Scope) -> EngineError | None:
        path: str = scope.get("path", "")
        headers = dict(scope.get("headers", []))
        if self.token is not None and not path.startswith(_PUBLIC):
            auth = headers.get(b"authorization", b"")
            if not auth:
                return EngineError(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an Authorization "
                    "header "
                    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). The offline engine's token is "
                    "printed by `dalle-widgets serve` and returned by start_background().",
                    code="invalid_api_key",
                )
            scheme, _, given = auth.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
                return EngineError(
                    401,
                    "Incorrect API key provided. Use the offline engine's token (printed by "
                    "`dalle-widgets serve`, "
                    "or BackgroundEngine.token) as the bearer key.",
                    code="invalid_api_key",
                )
        length = headers.get(b"content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                return EngineError(400, "Invalid Content-Length header.", code="invalid_request")
            if n > self.max_body_bytes:
                return EngineError(
                    413,
                    f"Request body of {n:,} bytes exceeds the engine's limit of "
                    f"{self.max_body_bytes:,} bytes (images must be PNGs under 4 MB).",
                    code="request_too_large",
                )
        return None


def _endpoint(fn: Handler) -> Handler:
    """Turn EngineError into its envelope and anything unexpected into a logged 500."""

    @functools.wraps(fn)
    async def wrapper(request: Request) -> Response:
        try:
            return await fn(request)
        except EngineError as exc:
            return _error_response(exc)
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


async def _read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing (413) as soon as it passes ``limit`` (chunked uploads included)."""
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise EngineError(
                413,
                f"Request body exceeds the engine's limit of {limit:,} bytes "
                f"(images must be PNGs under 4 MB).",
                code="request_too_large",
            )
        chunks.append(chunk)
    return b"".join(chunks)


class _RateLimiter:
    """Sliding one-minute window over images produced (OpenAI limits images per minute)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self, n: int) -> None:
        now = time.monotonic()
        with self._lock:
            while self._times and self._times[0] <= now - 60:
                self._times.popleft()
            if len(self._times) + n > self.per_minute:
                wait = 60 - (now - self._times[0]) if self._times else 60
                raise EngineError(
                    429,
                    f"Rate limit exceeded for images per minute on the offline engine. "
                    f"Limit: {self.per_minute}/1min. "
                    f"Current: {len(self._times)}/1min. Please try again in {max(1, int(wait + 0.999))}s.",
                    type="requests",
                    code="rate_limit_exceeded",
                    headers={"Retry-After": str(max(1, int(wait + 0.999)))},
                )
            self._times.extend([now] * n)


def _png(array: np.ndarray, meta: dict[str, Any]) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", f"{ENGINE_NAME} {__version__}")
    info.add_text("dalle_widgets_engine", json.dumps(meta, sort_keys=True))
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG", compress_level=1, pnginfo=info)
    return buf.getvalue()


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
        ``app.state.token``.
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
    image_backend = get_backend(backend)
    if token is None and require_token:
        token = secrets.token_urlsafe(24)
    urls = ImageURLStore(ttl=url_ttl)
    limiter = _RateLimiter(images_per_minute) if images_per_minute else None
    limiter_slots = anyio.CapacityLimiter(max_concurrency)
    started = int(time.time())

    async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=limiter_slots)

    def check_output(images: Any, n: int, size: int) -> list[np.ndarray]:
        images = list(images)
        if len(images) != n or any(
            not isinstance(im, np.ndarray) or im.shape != (size, size, 3) or im.dtype != np.uint8
            for im in images
        ):
            raise RuntimeError(f"backend {image_backend.name!r} returned images of the wrong shape or count")
        return images

    async def respond(
        request: Request,
        op: str,
        images: list[np.ndarray],
        *,
        response_format: str,
        seed: int,
        prompt: str | None,
    ) -> JSONResponse:
        base = {
            "engine": ENGINE_NAME,
            "backend": image_backend.name,
            "operation": op,
            "model": DEFAULT_MODEL,
            "synthetic": True,
            "request_seed": seed,
        }
        if prompt is not None:
            base["prompt"] = prompt
        pngs = await run(lambda: [_png(im, {**base, "index": i}) for i, im in enumerate(images)])
        data: list[dict[str, str]] = []
        for png in pngs:
            if response_format == "b64_json":
                data.append({"b64_json": base64.b64encode(png).decode("ascii")})
            else:
                data.append({"url": f"{str(request.base_url).rstrip('/')}/images/{urls.put(png)}.png"})
        headers = {"x-dalle-widgets-engine": image_backend.name, "x-dalle-widgets-seed": str(seed)}
        return JSONResponse({"created": int(time.time()), "data": data}, headers=headers)

    def take(n: int) -> None:
        if limiter is not None:
            limiter.take(n)

    async def json_body(request: Request) -> Any:
        body = await _read_body(request, max_body_bytes)
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EngineError(
                400,
                f"We could not parse the JSON body of your request ({exc}). The body must be a JSON object.",
                code="invalid_json",
            ) from None

    async def form_fields(request: Request, operation: str) -> dict[str, Any]:
        ctype = request.headers.get("content-type", "")
        if not ctype.lower().startswith("multipart/form-data"):
            raise EngineError(
                400,
                f"Invalid Content-Type {ctype or '(none)'!r}: {operation} with dall-e-2 require "
                f"multipart/form-data (JSON {operation} are for GPT image models only).",
                code="invalid_content_type",
            )
        body = await _read_body(request, max_body_bytes)
        match = _BOUNDARY.search(ctype.encode("latin-1"))
        if not match or b"--" + match.group(1) + b"--" not in body:
            raise EngineError(
                400,
                "Malformed multipart body: it is truncated or has no closing boundary.",
                code="invalid_multipart",
            )
        request._body = body  # let Starlette's parser read what we already hold
        try:
            form = await request.form(max_files=4, max_fields=32, max_part_size=64 * 1024)
        except HTTPException as exc:
            raise EngineError(
                400, f"Malformed multipart body: {exc.detail}", code="invalid_multipart"
            ) from None
        except Exception as exc:  # noqa: BLE001 - any parser failure is the body's fault
            raise EngineError(400, f"Malformed multipart body: {exc}", code="invalid_multipart") from None
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            if key in fields or key.endswith("[]"):
                name = key.removesuffix("[]")
                raise EngineError(
                    400,
                    f"Invalid type for '{name}': expected one value, but got an array instead"
                    + (" (dall-e-2 takes exactly one image)." if name == "image" else "."),
                    param=name,
                    code="invalid_type",
                )
            fields[key] = await value.read() if isinstance(value, UploadFile) else value
        await form.close()
        return fields

    def pick_seed(seed: int | None) -> int:
        return seed if seed is not None else secrets.randbits(63)

    @_endpoint
    async def generations(request: Request) -> Response:
        req = v.parse_generate(await json_body(request))
        take(req.n)
        seed = pick_seed(req.seed)
        images = check_output(
            await run(image_backend.generate, req.prompt, size=req.size, n=req.n, seed=seed), req.n, req.size
        )
        return await respond(
            request, "generate", images, response_format=req.response_format, seed=seed, prompt=req.prompt
        )

    @_endpoint
    async def edits(request: Request) -> Response:
        req = await run(v.parse_edit, await form_fields(request, "edits"))
        take(req.n)
        seed = pick_seed(req.seed)
        images = check_output(
            await run(image_backend.edit, req.image, req.mask, req.prompt, size=req.size, n=req.n, seed=seed),
            req.n,
            req.size,
        )
        return await respond(
            request, "edit", images, response_format=req.response_format, seed=seed, prompt=req.prompt
        )

    @_endpoint
    async def variations(request: Request) -> Response:
        req = await run(v.parse_vary, await form_fields(request, "variations"))
        take(req.n)
        seed = pick_seed(req.seed)
        images = check_output(
            await run(image_backend.vary, req.image, size=req.size, n=req.n, seed=seed), req.n, req.size
        )
        return await respond(
            request, "vary", images, response_format=req.response_format, seed=seed, prompt=None
        )

    @_endpoint
    async def chat(request: Request) -> Response:
        body = await json_body(request)
        call = _parse_chat(body)
        take(call["n"])
        seed = pick_seed(call["seed"])
        size, n = call["size"], call["n"]
        if call["op"] == "generate":
            images = await run(image_backend.generate, call["prompt"], size=size, n=n, seed=seed)
        elif call["op"] == "edit":
            images = await run(
                image_backend.edit, call["image"], call["mask"], call["prompt"], size=size, n=n, seed=seed
            )
        else:
            images = await run(image_backend.vary, call["image"], size=size, n=n, seed=seed)
        images = check_output(images, n, size)
        meta = {
            "engine": ENGINE_NAME,
            "backend": image_backend.name,
            "operation": call["op"],
            "model": DEFAULT_MODEL,
            "synthetic": True,
            "request_seed": seed,
            "protocol": "chat",
        }
        pngs = await run(lambda: [_png(im, {**meta, "index": i}) for i, im in enumerate(images)])
        parts = [
            {
                "type": "image_url",
                "image_url": {"url": "data:image/png;base64," + base64.b64encode(p).decode("ascii")},
            }
            for p in pngs
        ]
        word = {"generate": "generated", "edit": "edited", "vary": "varied"}[call["op"]]
        return JSONResponse(
            {
                "id": "chatcmpl-" + secrets.token_hex(12),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": call["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": f"{len(pngs)} image(s) {word} by the {ENGINE_NAME} (synthetic).",
                            "images": parts,
                        },
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            },
            headers={"x-dalle-widgets-engine": image_backend.name, "x-dalle-widgets-seed": str(seed)},
        )

    def model_card(model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": started, "owned_by": "dalle-widgets-offline"}

    @_endpoint
    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [model_card(DEFAULT_MODEL)]})

    @_endpoint
    async def model(request: Request) -> Response:
        model_id = request.path_params["model_id"]
        v.parse_model(model_id, "models")
        return JSONResponse(model_card(model_id))

    @_endpoint
    async def health(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "engine": ENGINE_NAME,
                "version": __version__,
                "backend": image_backend.name,
                "models": [DEFAULT_MODEL],
            }
        )

    @_endpoint
    async def served_image(request: Request) -> Response:
        png = urls.get(request.path_params["key"])
        if png is None:
            raise EngineError(
                404,
                "This image URL is unknown or has expired (URLs are valid for 60 minutes); "
                "request the image again or use response_format='b64_json'.",
                code="not_found",
            )
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        if status == 405:
            message = f"Method {request.method} is not allowed on {request.url.path}."
        else:
            message = (
                f"Invalid URL ({request.method} {request.url.path}): the offline engine has no such route."
            )
        return JSONResponse(
            envelope(
                message,
                type="invalid_request_error",
                code="not_found" if status == 404 else "method_not_allowed",
            ),
            status_code=status,
        )

    routes = [
        Route("/v1/images/generations", generations, methods=["POST"]),
        Route("/v1/images/edits", edits, methods=["POST"]),
        Route("/v1/images/variations", variations, methods=["POST"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", model, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/images/{key}.png", served_image, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                _EngineMiddleware, token=token if require_token else None, max_body_bytes=max_body_bytes
            )
        ],
        exception_handlers={HTTPException: not_found},
    )
    app.state.token = token if require_token else None
    app.state.backend = image_backend
    app.state.urls = urls
    return app


#: Chat messages carry an instruction around the prompt (see the client's chat protocol),
#: so the chat route allows longer text than the Images API's 1000 characters.
CHAT_PROMPT_CHARS = 4000
_DATA_URL = re.compile(r"^data:image/[a-z0-9.+-]+;base64,(.*)$", re.I | re.S)


def _chat_image(url: Any, param: str) -> Image.Image:
    if not isinstance(url, str):
        raise EngineError(
            400,
            f"Invalid '{param}': expected an image_url object with a 'url' string.",
            param=param,
            code="invalid_type",
        )
    match = _DATA_URL.match(url)
    if not match:
        raise EngineError(
            400,
            f"Invalid '{param}': the offline engine accepts images as data URLs "
            f"(data:image/png;base64,...) only; it never fetches remote URLs.",
            param=param,
            code="invalid_image_url",
        )
    try:
        data = base64.b64decode(match.group(1), validate=True)
    except (binascii.Error, ValueError):
        raise EngineError(
            400,
            f"Invalid '{param}': the data URL is not valid base64.",
            param=param,
            code="invalid_image_url",
        ) from None
    img = v.decode_png(data, param)
    v._check_square(img, param)
    return img


def _parse_chat(body: Any) -> dict[str, Any]:
    """Read an image request out of a chat completion body.

    The last user message carries the prompt (text parts) and, for edits and
    variations, the image and an optional mask as ``image_url`` data-URL parts. An
    image with transparent pixels (or a mask) makes an edit; an opaque image with no
    mask makes variations. Chat's many generation knobs (temperature...) are ignored.
    """
    if not isinstance(body, dict):
        raise EngineError(400, "The request body must be a JSON object.", code="invalid_json")
    model = body.get("model") or DEFAULT_MODEL
    v.parse_model(model, "chat")
    if body.get("stream"):
        raise EngineError(
            400,
            "'stream' is not supported by the offline engine's image chat route.",
            param="stream",
            code="unsupported_parameter",
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise EngineError(
            400,
            "'messages' is a required property and must be a non-empty array.",
            param="messages",
            code="missing_required_parameter",
        )
    user = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not user:
        raise EngineError(
            400,
            "'messages' must contain a user message with the prompt.",
            param="messages",
            code="invalid_value",
        )
    content = user[-1].get("content")
    texts: list[str] = []
    images: list[Image.Image] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for i, part in enumerate(content):
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif part.get("type") == "image_url":
                ref = part.get("image_url")
                url = ref.get("url") if isinstance(ref, dict) else ref
                images.append(_chat_image(url, f"messages[-1].content[{i}].image_url"))
    else:
        raise EngineError(
            400,
            "The user message's 'content' must be a string or an array of parts.",
            param="messages",
            code="invalid_type",
        )
    if len(images) > 2:
        raise EngineError(
            400,
            "Send at most two images: the image and, optionally, its mask.",
            param="messages",
            code="invalid_value",
        )
    image_config = body.get("image_config") if isinstance(body.get("image_config"), dict) else {}
    n = v.parse_int(body.get("n"), "n", lo=1, hi=v.SPEC.max_n, default=1)
    size = v.parse_size(body.get("size") or image_config.get("size"))
    seed = v.parse_int(body.get("seed"), "seed", lo=0, hi=v.SEED_MAX, default=None)
    prompt = "\n".join(t for t in texts if t.strip())
    call: dict[str, Any] = {"model": model, "n": n, "size": size, "seed": seed, "prompt": prompt}
    if not images:
        call.update(op="generate", prompt=v.parse_prompt(prompt, limit=CHAT_PROMPT_CHARS))
        return call
    img = images[0]
    if len(images) == 2:
        mimg = images[1]
        if mimg.size != img.size:
            raise EngineError(
                400,
                f"Invalid mask image - mask is {mimg.size[0]}x{mimg.size[1]} but image is "
                f"{img.size[0]}x{img.size[1]}; they must have the same dimensions.",
                param="mask",
                code="invalid_image_dimensions",
            )
        alpha = v._alpha(mimg)
        if alpha is None:
            raise EngineError(
                400,
                "Invalid mask image - it needs an alpha channel (alpha 0 = area to edit).",
                param="mask",
                code="invalid_image_format",
            )
    else:
        alpha = v._alpha(img)
    mask = alpha == 0 if alpha is not None else None
    if mask is not None and mask.any():
        call.update(
            op="edit", image=v._rgb(img), mask=mask, prompt=v.parse_prompt(prompt, limit=CHAT_PROMPT_CHARS)
        )
    else:
        call.update(op="vary", image=v._rgb(img))
    return call
