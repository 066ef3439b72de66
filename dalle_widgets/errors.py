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
     +-- PartialResultError            some images of an answer stored, the others unusable
          +-- StoreWriteError          the store could not write (disk full, read-only)

Messages never contain the API key: the clients pass every error through :func:`scrub`
(with their own key) before it leaves them, which applies :func:`redact` to the message,
to every field the server supplied (``code``, ``param``, ``body``...) and to the errors
it chains to; :func:`redact` alone scrubs anything that looks like a credential.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # the value types sit in the same layer; imported for annotations only
    from .results import GeneratedImage, ImageResult

#: Any exception: :func:`scrub` hands back the very one it was given.
_E = TypeVar("_E", bound=BaseException)

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
    "PartialResultError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "ServerError",
    "StoreWriteError",
    "redact",
    "redact_value",
    "scrub",
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


#: How deep :func:`scrub` follows nested containers (a server's error body can nest without end).
_SCRUB_DEPTH = 24
#: Containers deeper than that are replaced by this marker rather than copied.
_TOO_DEEP = "<nested too deep>"


def redact_value(value: Any, secrets: tuple[str | None, ...] = (), depth: int = 0) -> Any:
    """``value`` with :func:`redact` applied to every string in it, at any depth of dicts, lists and
    tuples (exceptions in it are :func:`scrub`-bed); containers nested deeper than a couple of
    dozen levels are replaced by ``"<nested too deep>"`` (a server's body can nest without end).

    >>> redact_value({"error": {"message": "bad key sk-abcdefghijklmnop", "n": [1, "x"]}})
    {'error': {'message': 'bad key ***', 'n': [1, 'x']}}
    """
    if isinstance(value, str):
        return redact(value, *secrets)
    if isinstance(value, (dict, list, tuple)):
        if depth >= _SCRUB_DEPTH:
            return _TOO_DEEP
        if isinstance(value, dict):
            return {
                redact_value(k, secrets, depth + 1) if isinstance(k, str) else k: redact_value(
                    v, secrets, depth + 1
                )
                for k, v in value.items()
            }
        items = [redact_value(v, secrets, depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, BaseException):
        return scrub(value, *secrets)
    return value


def scrub(error: _E, *secrets: str | None) -> _E:
    """Redact ``error`` in place, everywhere a credential could hide; return it.

    The one redaction point for what leaves a client: :func:`redact` (with ``secrets``,
    the client's own key and tokens) is applied to the exception's ``args``, to every
    string, dict or list attribute (``message``, the server's ``code``, ``type``,
    ``param``, ``request_id`` and ``body``, at any depth), to its notes, to the errors
    a :class:`PartialResultError` carries, and to the exceptions it is chained to.
    A chained exception that is not dalle-widgets' own (from httpx, json, Pillow) also
    loses its traceback: the frames of those libraries hold request headers and
    response bodies in their locals, which a verbose traceback (``%xmode Verbose``)
    would print. Its type and message are kept.

    >>> err = APIError("bad key sk-abcdefghijklmnop", code="sk-abcdefghijklmnop", status_code=401)
    >>> str(scrub(err))
    'bad key *** (HTTP 401, code ***)'
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        _scrub_one(current, secrets)
        if not isinstance(current, DalleWidgetsError):
            current.__traceback__ = None
        current = current.__cause__ or current.__context__
    return error


def _scrub_one(error: BaseException, secrets: tuple[str | None, ...]) -> None:
    try:
        error.args = tuple(redact_value(a, secrets) for a in error.args)
    except (AttributeError, TypeError):  # pragma: no cover - an exception type with read-only args
        pass
    for name, value in list(getattr(error, "__dict__", {}).items()):
        if name == "__notes__" or isinstance(value, (str, dict, list, tuple)):
            try:
                setattr(error, name, redact_value(value, secrets))
            except (AttributeError, TypeError):  # pragma: no cover - a read-only attribute
                pass


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
        # the server chose the code and the request id: never printed without a redaction pass
        return redact(" ".join(str(p) for p in parts))


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


class PartialResultError(DalleWidgetsError):
    """Some images of an answer were stored and the others were unusable.

    Every image of an answer is handled on its own: the good ones are on disk before
    this is raised, and :attr:`result` returns them like a successful call would; the
    bad ones (a link that redirects without end, a bad host, an image cut short or too
    large, bad base64...) are listed together in :attr:`failures`.

    Attributes
    ----------
    result : ImageResult
        The images that were stored, in answer order.
    failures : list of (int, DalleWidgetsError)
        The index of each unusable image in the answer, and why.
    """

    def __init__(
        self,
        message: str,
        *,
        result: ImageResult,
        failures: list[tuple[int, DalleWidgetsError]],
    ) -> None:
        super().__init__(message)
        self.message = message
        self.result = result
        self.failures = failures


class StoreWriteError(PartialResultError):
    """The store could not write an image (disk full, read-only, no permission).

    The request was already answered (and paid for), so nothing is thrown away: the
    message says which images were saved and where the others are. dalle-widgets tries
    a rescue folder in the system's temporary directory first (:attr:`rescued`); what
    could not be written anywhere is held in :attr:`unsaved` (PNG bytes with their
    provenance) until :meth:`save_rest` writes it where you choose.

    Attributes
    ----------
    result : ImageResult
        The images that were stored in the store.
    failures : list of (int, Exception)
        Each image that could not be stored, and the write error.
    rescued : list of Path
        The rescue copies written outside the store.
    unsaved : list of GeneratedImage
        The images written nowhere yet (``path`` None).
    """

    def __init__(
        self,
        message: str,
        *,
        result: ImageResult,
        failures: list[tuple[int, Any]],
        rescued: list[Path] | None = None,
        unsaved: list[GeneratedImage] | None = None,
    ) -> None:
        super().__init__(message, result=result, failures=failures)
        self.rescued = list(rescued or [])
        self.unsaved = list(unsaved or [])

    def save_rest(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Write the images held in :attr:`unsaved` into ``folder`` (PNGs with provenance); return paths."""
        from . import _png

        out = Path(folder)
        written: list[Path] = []
        for image in self.unsaved:
            label = f"{image.info.get('operation') or 'image'}-{image.info.get('n_index', len(written))}"
            target = out / f"{label}-{uuid.uuid4().hex[:8]}.png"  # a new name: never overwrite
            written.append(_png.write_atomic(target, _png.with_info(_png.as_png(image.png), image.info)))
            image.path = written[-1]
        self.rescued.extend(written)
        self.unsaved = []
        return written
