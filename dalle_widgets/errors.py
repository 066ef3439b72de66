"""The exceptions dalle-widgets raises, as one small tree.

Every error the package raises on purpose derives from :class:`DalleWidgetsError`,
so ``except DalleWidgetsError`` catches all of them and nothing else::

    DalleWidgetsError
     +-- ConfigurationError            no key and no endpoint, bad environment value
     +-- InvalidRequestError           refused before sending (also a ValueError)
     +-- APIError                      the endpoint answered with an error
     |    +-- AuthenticationError      401
     |    +-- PermissionDeniedError    403
     |    +-- NotFoundError            404
     |    |    +-- ModelNotFoundError  404 model_not_found, or a shut-down model refused before sending
     |    +-- RateLimitError           429 (retryable)
     |    |    +-- QuotaExceededError  429 insufficient_quota (never retried)
     |    +-- ContentPolicyError       400 moderation_blocked / content_policy_violation
     |    +-- ServerError              5xx
     +-- APIConnectionError            no answer: DNS, refused, reset
     |    +-- APITimeoutError          no answer in time
     +-- InvalidResponseError          an answer that is not a valid images response

Messages never contain the API key; :func:`redact` scrubs anything that looks like a
credential before it is put into a message.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "ConfigurationError",
    "ContentPolicyError",
    "DalleWidgetsError",
    "InvalidRequestError",
    "InvalidResponseError",
    "ModelNotFoundError",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "ServerError",
    "redact",
]

_SECRET_PATTERNS = [
    # OpenAI style keys and bearer tokens.
    re.compile(r"sk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-~+/=]{8,}"),
    # Query-string credentials: sig=..., token=..., key=..., api_key=..., access_token=...
    re.compile(r"(?i)([?&](?:sig|signature|token|access_token|api[_-]?key|key|secret|se|sv|sp)=)[^&#\s'\"]+"),
]


def redact(text: str, *secrets: str | None) -> str:
    """Return ``text`` with credentials replaced by ``***``.

    Removes every explicit secret passed in ``secrets`` (for example the client's
    key), OpenAI-style ``sk-`` keys, bearer tokens and query-string parameters that
    carry credentials (``sig=``, ``token=``, ``api_key=`` ...).

    >>> redact("GET https://h/img.png?se=2026&sig=abc123 failed")
    'GET https://h/img.png?se=***&sig=*** failed'
    >>> redact("key was sk-abcdefghijkl")
    'key was ***'
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + "***", text)
        else:
            text = pattern.sub("***", text)
    return text


class DalleWidgetsError(Exception):
    """Base class of every error dalle-widgets raises on purpose."""


class ConfigurationError(DalleWidgetsError):
    """The package is not configured to reach any endpoint, or a setting is invalid."""


class InvalidRequestError(DalleWidgetsError, ValueError):
    """A request was refused before sending: the message names the value and the fix."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class APIError(DalleWidgetsError):
    """The endpoint answered with an error envelope ``{"error": {...}}``.

    Attributes
    ----------
    status_code : int or None
        The HTTP status.
    code, type, param : str or None
        Fields of the server's error envelope.
    request_id : str or None
        The ``x-request-id`` header, to quote when asking the provider for help.
    body : object
        The parsed body (or raw text) the server sent.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        type: str | None = None,  # noqa: A002 - mirrors the wire field name
        param: str | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.type = type
        self.param = param
        self.request_id = request_id
        self.body = body

    def __str__(self) -> str:
        parts = [self.message]
        if self.status_code is not None:
            parts.append(f"(HTTP {self.status_code}")
            if self.code:
                parts[-1] += f", code {self.code}"
            if self.request_id:
                parts[-1] += f", request id {self.request_id}"
            parts[-1] += ")"
        return " ".join(parts)


class AuthenticationError(APIError):
    """401: the key is missing, wrong or revoked."""


class PermissionDeniedError(APIError):
    """403: the key may not use this model or endpoint.

    OpenAI's "organization must be verified" gate (403, and its 400 streaming variant)
    also lands here, with the verification link and the propagation delay.
    """


class NotFoundError(APIError):
    """404: the endpoint or resource does not exist."""


class ModelNotFoundError(NotFoundError):
    """The model does not exist on this endpoint (404 ``model_not_found``, "does not exist").

    Also raised before anything is sent when a model past its shutdown date (in the
    model table, or as reported by the endpoint) is chosen on api.openai.com. For a
    model the table knows was shut down, the message names the date and the live
    replacements, an OpenAI-compatible endpoint that still serves it, and the offline
    engine; for another model, how to list what the endpoint serves.
    """


class RateLimitError(APIError):
    """429: too many requests; retried with backoff up to ``max_retries``."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class QuotaExceededError(RateLimitError):
    """429 ``insufficient_quota``: billing, not speed. Never retried."""


class ContentPolicyError(APIError):
    """400 ``moderation_blocked`` or ``content_policy_violation``: the safety system refused.

    The message names the categories (``moderation_details.categories``) and whether the
    prompt or the generated image was blocked; it never repeats the prompt.
    """


class ServerError(APIError):
    """5xx: the provider failed; retried up to ``max_retries``."""


class APIConnectionError(DalleWidgetsError):
    """The endpoint could not be reached, or the connection broke before an answer."""


class APITimeoutError(APIConnectionError):
    """No answer within the timeout."""


class InvalidResponseError(DalleWidgetsError):
    """The endpoint answered 200 but not with valid images (HTML, truncated, bad base64...)."""
