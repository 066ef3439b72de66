"""The engine's HTTP errors, in OpenAI's envelope.

Every refusal the engine makes is an :class:`EngineError`: the app turns it into
``{"error": {"message", "type", "param", "code"}}`` with the matching status, the
same shape the OpenAI API sends, so one client error path serves both.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EngineError", "envelope"]


class EngineError(Exception):
    """A request the engine refuses, carrying what goes into the error envelope.

    Parameters
    ----------
    status : int
        HTTP status (400, 401, 404, 413, 429...).
    message : str
        One sentence naming the bad value and the fix.
    param : str or None
        The request field at fault (``"size"``, ``"image"``...).
    code : str or None
        OpenAI-style machine code (``"invalid_value"``, ``"invalid_api_key"``...).
    type : str
        OpenAI-style error type; ``invalid_request_error`` for nearly everything.
    headers : dict or None
        Extra response headers (``Retry-After`` on 429).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",  # noqa: A002 - mirrors the wire field name
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type
        self.headers = headers or {}

    def to_body(self) -> dict[str, Any]:
        """The JSON body: ``{"error": {...}}``."""
        return envelope(self.message, type=self.type, param=self.param, code=self.code)


def envelope(message: str, *, type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:  # noqa: A002
    """Build OpenAI's error envelope.

    >>> envelope("bad size", type="invalid_request_error", param="size")["error"]["param"]
    'size'
    """
    return {"error": {"message": message, "type": type, "param": param, "code": code}}
