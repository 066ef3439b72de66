"""The engine's pure-ASGI middleware: request ids, the bearer token, an early 413.

It runs before any route and reads only the request line and headers, so a request
without the token or with a body over the limit is refused before a byte of the body
is read.
"""

from __future__ import annotations

import hmac
import secrets
import time

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import EngineError

__all__ = ["EngineMiddleware", "PUBLIC_PATHS", "error_response"]

#: Paths served without the token: the health check and images served by URL.
PUBLIC_PATHS = ("/health", "/images/")


def error_response(exc: EngineError) -> JSONResponse:
    """The JSON response for a refusal: OpenAI's envelope, its status and headers."""
    return JSONResponse(exc.to_body(), status_code=exc.status, headers=exc.headers)


def route_path(scope: Scope) -> str:
    """The request's path within the app, without the prefix it is mounted under (``root_path``).

    Ray Serve, like an ASGI server behind a proxy, passes a route prefix as ``root_path``
    and leaves it in ``path``.

    >>> route_path({"path": "/tiny/health", "root_path": "/tiny"}), route_path({"path": "/health"})
    ('/health', '/health')
    """
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("/", ""):
        return path[len(root) :] or "/"
    return path


def _has_body(scope: Scope) -> bool:
    headers = dict(scope.get("headers", []))
    return b"transfer-encoding" in headers or headers.get(b"content-length", b"0").strip() not in (b"0", b"")


class EngineMiddleware:
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
            if _has_body(scope):  # refused unread: close rather than read or misparse the body
                error.headers.setdefault("Connection", "close")
            await error_response(error)(scope, receive, send_with_id)
            return
        await self.app(scope, receive, send_with_id)

    def _precheck(self, scope: Scope) -> EngineError | None:
        path = route_path(scope)
        headers = dict(scope.get("headers", []))
        if self.token is not None and not path.startswith(PUBLIC_PATHS):
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
