"""Reading what the endpoint sent: error envelopes, retry decisions, image payloads.

All pure functions over status codes, headers and bytes, shared by the sync and async
clients and unit-tested without a network.
"""

from __future__ import annotations

import binascii
import email.utils
import io
import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pybase64

from .. import _png
from ..errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ContentPolicyError,
    DalleWidgetsError,
    InvalidResponseError,
    ModelNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    redact,
    redact_value,
)
from ..models import live_replacements, lookup, strip_provider
from ._config import INITIAL_RETRY_DELAY, MAX_RETRY_AFTER, MAX_RETRY_DELAY

__all__ = [
    "RawImage",
    "backoff_delay",
    "check_image",
    "decode_data_url",
    "make_status_error",
    "parse_images_body",
    "parse_json_body",
    "retired_message",
    "retry_after_seconds",
    "retry_wait",
    "snippet",
]

RETRY_STATUSES = frozenset({408, 409, 429})
#: 429 codes that mean "billing", which waiting cannot fix.
QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "credit_balance_exhausted"})
POLICY_CODES = frozenset({"content_policy_violation", "moderation_blocked"})
#: Where OpenAI organisations are verified, and how long access takes to follow (OpenAI's 403 text).
VERIFY_URL = "https://platform.openai.com/settings/organization/general"
VERIFY_DELAY = "up to 15 minutes"
_SAFETY_LIST = re.compile(r"safety_violations=\[([^\]]*)\]")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class RawImage:
    """One image as the endpoint delivered it: decoded bytes, a URL still to download, or the
    reason it is unusable (so that one bad item does not cost the good ones of the same answer).
    """

    data: bytes | None = field(default=None, repr=False)
    url: str | None = field(default=None, repr=False)
    revised_prompt: str | None = field(default=None, repr=False)
    error: DalleWidgetsError | None = None


# --- small helpers ------------------------------------------------------------------------------


def snippet(content: bytes | str, limit: int = 160, *secrets: str | None) -> str:
    """The start of a body as one redacted line, for error messages."""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[:limit] + "..."
    return redact(text, *secrets)


def _looks_like_html(content: bytes, headers: Mapping[str, str]) -> bool:
    ctype = headers.get("content-type", "").lower()
    head = content[:200].lstrip().lower()
    return "text/html" in ctype or head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def _describe_html(content: bytes) -> str:
    match = _TITLE.search(content[:4000])
    title = " ".join(match.group(1).decode("utf-8", "replace").split()) if match else ""
    return f"an HTML page (title {title!r})" if title else "an HTML page"


def parse_json_body(content: bytes, headers: Mapping[str, str], where: str, *secrets: str | None) -> Any:
    """Decode a 200 body as JSON or raise :class:`InvalidResponseError` saying what it was."""
    if _looks_like_html(content, headers):
        raise InvalidResponseError(
            f"{where} answered 200 with {_describe_html(content)} instead of JSON: is the base URL "
            "right (it usually ends in /v1)?"
        )
    if not content.strip():
        raise InvalidResponseError(f"{where} answered 200 with an empty body instead of JSON")
    try:
        return json.loads(content)
    except json.JSONDecodeError as exc:
        cut = exc.msg.startswith("Unterminated") or exc.pos >= len(exc.doc.rstrip()) - 1
        truncated = "truncated " if cut else ""
    except UnicodeDecodeError:
        truncated = ""
    except RecursionError:
        raise InvalidResponseError(
            f"{where} answered 200 with JSON nested too deeply to read ({len(content):,} bytes)"
        ) from None
    raise InvalidResponseError(
        f"{where} answered 200 with a {truncated}body that is not valid JSON "
        f"({len(content)} bytes, starting {snippet(content, 80, *secrets)!r})"
    )


def redact_deep(value: Any, *secrets: str | None) -> Any:
    """``value`` (parsed JSON) with :func:`~dalle_widgets.errors.redact` applied to every string.

    Containers nested deeper than a couple of dozen levels are replaced by a marker.
    """
    return redact_value(value, secrets)


# --- errors -------------------------------------------------------------------------------------


def make_status_error(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    where: str,
    model: str | None = None,
    secrets: tuple[str | None, ...] = (),
) -> APIError:
    """Map a non-2xx answer to the matching :class:`APIError` subclass.

    Reads OpenAI's ``{"error": {"message", "type", "param", "code"}}`` envelope, and
    survives a null message, an empty envelope, plain text and HTML error pages.
    """
    body: Any = None
    message = code = type_ = param = None
    try:
        body = json.loads(content) if content.strip() else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = None
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            message = err.get("message") if isinstance(err.get("message"), str) else None
            code = err.get("code") if isinstance(err.get("code"), str) else None
            type_ = err.get("type") if isinstance(err.get("type"), str) else None
            param = err.get("param") if isinstance(err.get("param"), str) else None
        elif isinstance(err, str):
            message = err
    elif content.strip():
        body = snippet(content, 300, *secrets)
        message = (
            f"{where} answered with {_describe_html(content)}"
            if _looks_like_html(content, headers)
            else f"{where} answered {snippet(content, 160, *secrets)!r}"
        )
    if not message:
        message = f"{where} answered HTTP {status} without an error message"
    message = redact(message, *secrets)
    request_id = headers.get("x-request-id")
    body = redact_deep(body, *secrets)
    kwargs: dict[str, Any] = dict(
        status_code=status, code=code, type=type_, param=param, request_id=request_id, body=body
    )
    text = message.lower()
    if status == 401:
        return AuthenticationError(
            f"{message} Check OPENAI_API_KEY (or api_key=...) for this endpoint.", **kwargs
        )
    if "must be verified" in text and "organization" in text:
        return PermissionDeniedError(verification_message(message, model), **kwargs)
    if status == 403:
        return PermissionDeniedError(message, **kwargs)
    if code == "model_not_found" or (
        status in (400, 404)
        and model
        and "model" in text
        and ("does not exist" in text or "not found" in text)
    ):
        return ModelNotFoundError(model_not_found_message(message, model, where), **kwargs)
    if status == 404:
        return NotFoundError(f"{message} (is the base URL right? it usually ends in /v1)", **kwargs)
    if status == 429:
        wait = retry_after_seconds(headers)
        if code in QUOTA_CODES:
            return QuotaExceededError(
                f"{message} This is a billing limit, not a speed limit: it was not retried.",
                retry_after=wait,
                **kwargs,
            )
        return RateLimitError(message, retry_after=wait, **kwargs)
    if status == 400 and (code in POLICY_CODES or "safety system" in text):
        return ContentPolicyError(moderation_message(message, err_body(body)), **kwargs)
    if status == 400 and code == "unknown_parameter":
        return APIError(unknown_parameter_message(message, param, model, where), **kwargs)
    if status == 400 and code in ("invalid_image_file", "unsupported_file_mimetype", "invalid_image_format"):
        return APIError(image_file_message(message, code, param, model), **kwargs)
    if status >= 500:
        return ServerError(message, **kwargs)
    return APIError(message, **kwargs)


def err_body(body: Any) -> dict[str, Any]:
    """The ``error`` object of a parsed error body (empty when there is none)."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return err
    return {}


def moderation_message(message: str, err: dict[str, Any]) -> str:
    """A safety refusal, naming the categories and the stage (never echoing the prompt).

    >>> print(moderation_message("Rejected by the safety system. safety_violations=[violence].", {}))
    ... # doctest: +ELLIPSIS
    Rejected by the safety system. safety_violations=[violence]. Categories: violence. Rephrase ...
    """
    raw = err.get("moderation_details")
    details: dict[str, Any] = raw if isinstance(raw, dict) else {}
    categories = [str(c) for c in details.get("categories") or [] if isinstance(c, str)]
    if not categories:
        found = _SAFETY_LIST.search(message)
        if found:
            categories = [c.strip() for c in found.group(1).split(",") if c.strip()]
    text = message.rstrip()
    if categories:
        text += f" Categories: {', '.join(categories)}."
    stage = details.get("moderation_stage")
    if stage == "output":
        text += " The generated image was blocked."
    elif stage == "input":
        text += " The prompt or input images were blocked."
    return (
        f"{text} Rephrase the prompt or change the input images; GPT image models also take "
        "moderation='low' for less strict filtering."
    )


def verification_message(message: str, model: str | None) -> str:
    """OpenAI's organisation-verification gate, with the link and the propagation delay."""
    which = f" to use {model}" if model else ""
    return (
        f"OpenAI requires a verified organization{which}: verify it at {VERIFY_URL} (Verify "
        f"Organization); after verifying, access can take {VERIFY_DELAY} to propagate, then run this "
        f"again. Meanwhile, another endpoint (base_url=...) or the offline engine works. Server said: "
        f"{message}"
    )


def retired_message(model: str, when: Any, host: str) -> str:
    """A shut-down model on an endpoint that follows OpenAI's schedule: the date and what to use.

    >>> import datetime
    >>> print(retired_message("dall-e-2", datetime.date(2026, 5, 12), "api.openai.com"))
    ... # doctest: +ELLIPSIS
    model 'dall-e-2' was shut down by OpenAI on 2026-05-12 and api.openai.com does not serve it: use ...
    """
    base = strip_provider(model)
    instead = live_replacements(base)
    use = f"use {' or '.join(instead)} (model={instead[0]!r}), " if instead else ""
    return (
        f"model {model!r} was shut down by OpenAI on {when} and {host} does not serve it: {use}an "
        f"OpenAI-compatible endpoint that still serves {base} (base_url=... or OPENAI_BASE_URL), "
        "or the offline engine (unset OPENAI_API_KEY, or set DALLE_WIDGETS_OFFLINE=1)"
    )


def model_not_found_message(message: str, model: str | None, where: str) -> str:
    """A model the endpoint does not have: the shutdown date and replacements when the table knows them."""
    host = where.split(" ", 1)[0]
    if model:
        spec = lookup(model, warn=False)
        if (
            spec.known
            and (spec.shutdown_date is not None or spec.status == "shutdown")
            and spec.is_shut_down()
        ):
            when = spec.shutdown_date.isoformat() if spec.shutdown_date else "an earlier date"
            return f"{retired_message(model, when, host)}. Server said: {message}"
        return (
            f"model {model!r} was not found on {host}: {message} List what it serves with "
            "client.models() (or %dalle models) and pass one as model=..."
        )
    return message


def unknown_parameter_message(message: str, param: str | None, model: str | None, where: str) -> str:
    """A field the endpoint does not take for this model: name it, the model, and what to do."""
    name = param or (re.findall(r"'([^']+)'", message) or ["?"])[0]
    model_part = f" for {model}" if model else ""
    hint = ""
    if name == "response_format":
        hint = (
            " GPT image models always answer base64 and reject it: dalle-widgets leaves it out for any "
            "gpt-image-* id; for another id, register it as one: "
            f"dalle_widgets.models.register({(model or 'MODEL')!r}, family='gpt-image')."
        )
    return (
        f"{where.split(' ', 1)[0]} does not accept the parameter {name!r}{model_part}: leave it out "
        f"(check extra_body and the model's fields in dalle_widgets.models).{hint} Server said: {message}"
    )


def image_file_message(message: str, code: str | None, param: str | None, model: str | None) -> str:
    """An upload the endpoint could not read, with what to change."""
    part = f" {param!r}" if param else ""
    if code == "unsupported_file_mimetype":
        fix = (
            f"the file part{part} went out with a content type the endpoint does not take: send "
            "image/png, image/jpeg or image/webp with a matching file name (raw bytes without a name go "
            "out as application/octet-stream; dalle-widgets' own uploads are image/png)"
        )
    else:
        limits = ""
        if model:
            spec = lookup(model, warn=False)
            mb = spec.max_upload_bytes // 1_000_000
            limits = f" ({spec.name} takes {', '.join(spec.upload_formats)}, each under {mb} MB)"
        fix = (
            f"the endpoint could not read the image{part}: pass a valid PNG, JPEG or WebP in RGB or RGBA"
            f"{limits}; a mask must be a PNG with an alpha channel, the same size as the first image"
        )
    return f"{fix}. Server said: {message}"


# --- retries ------------------------------------------------------------------------------------


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait a server asked for: ``retry-after-ms``, else ``retry-after`` (seconds or HTTP date).

    >>> retry_after_seconds({"retry-after-ms": "250"})
    0.25
    >>> retry_after_seconds({"retry-after": "3"})
    3.0
    >>> retry_after_seconds({"retry-after": "Wed, 25 Nov 2026 12:00:10 GMT"}, now=1795608000.0)
    10.0
    >>> retry_after_seconds({}) is None
    True
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000.0
            if value >= 0 and value == value and value != float("inf"):
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
        if value >= 0 and value == value and value != float("inf"):
            return value
        return None
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, parsed.timestamp() - current)


def backoff_delay(retries_taken: int, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: ``min(0.5 * 2**k, 8) * (1 - 0.25 * U)``.

    >>> backoff_delay(0, rand=lambda: 0.0), backoff_delay(1, rand=lambda: 1.0), backoff_delay(9, lambda: 0)
    (0.5, 0.75, 8.0)
    """
    return min(INITIAL_RETRY_DELAY * 2.0**retries_taken, MAX_RETRY_DELAY) * (1.0 - 0.25 * rand())


def retry_wait(
    error: Exception,
    retries_taken: int,
    max_retries: int,
    headers: Mapping[str, str] | None = None,
    rand: Callable[[], float] = random.random,
) -> tuple[float | None, str]:
    """Decide whether to retry after ``error``: ``(seconds to wait, reason)``, or ``(None, reason)``.

    Retried: connection errors and timeouts, truncated bodies, HTTP 408, 409, 429 (except
    billing codes) and 5xx, at most ``max_retries`` times; a server's ``x-should-retry``
    header overrides the status (never for billing codes). A server-given wait is honoured
    exactly (no jitter) up to 60 s; a longer one is not retried.
    """
    if isinstance(error, APIError):
        status = error.status_code or 0
        if isinstance(error, QuotaExceededError):
            return None, "billing limit (insufficient_quota)"
        told = (headers or {}).get("x-should-retry", "").strip().lower()  # the server's explicit say
        if told == "false":
            return None, f"HTTP {status}; the server said x-should-retry: false"
        if told != "true" and not (status in RETRY_STATUSES or status >= 500):
            return None, f"HTTP {status} is not retryable"
        reason = f"HTTP {status}" + (f" {error.code}" if error.code else "")
        asked = retry_after_seconds(headers or {})
        if asked is not None and asked > MAX_RETRY_AFTER:
            return None, f"{reason}; server asks to wait {asked:.0f} s (over the {MAX_RETRY_AFTER:.0f} s cap)"
    elif isinstance(error, APITimeoutError):
        reason, asked = "timeout", None
    elif isinstance(error, (APIConnectionError, InvalidResponseError)):
        reason, asked = f"connection problem ({type(error).__name__})", None
    else:
        return None, f"{type(error).__name__} is not retryable"
    if retries_taken >= max_retries:
        return None, f"{reason}; gave up after {retries_taken} retr{'y' if retries_taken == 1 else 'ies'}"
    if asked is not None:
        return asked, f"{reason}; server asked to wait {asked:.2f} s"
    return backoff_delay(retries_taken, rand), reason


# --- success bodies -----------------------------------------------------------------------------


def decode_b64(value: str, where: str) -> bytes:
    try:
        return pybase64.b64decode(value, validate=True)  # SIMD: ~40x the stdlib on a 1 MB image
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidResponseError(f"{where} is not valid base64 ({exc})") from None


def decode_data_url(url: str, where: str) -> bytes:
    """The bytes of a ``data:image/...;base64,...`` URL.

    >>> decode_data_url("data:image/png;base64,aGk=", "x")
    b'hi'
    """
    head, sep, payload = url.partition(",")
    if not sep or not head.startswith("data:"):
        raise InvalidResponseError(f"{where} is not a data URL (starts {url[:40]!r})")
    if not head.endswith(";base64"):
        raise InvalidResponseError(f"{where} is a data URL without base64 encoding ({head[:40]!r})")
    return decode_b64(payload.strip(), where)


def parse_images_body(payload: Any, where: str) -> list[RawImage]:
    """Images from an Images API body ``{"created": ..., "data": [{"b64_json"|"url": ...}]}``."""
    if not isinstance(payload, dict):
        raise InvalidResponseError(
            f"{where} answered JSON that is not an object: {snippet(_short_json(payload))!r}"
        )
    data = payload.get("data")
    if not isinstance(data, list) or not data:
        if isinstance(payload.get("error"), dict):
            raise InvalidResponseError(
                f"{where} answered 200 with an error: {snippet(str(payload['error'].get('message')), 300)!r}"
            )
        raise InvalidResponseError(f"{where} answered 200 with no images (no 'data' items)")
    images = []
    for i, item in enumerate(data):
        try:
            images.append(_parse_item(item, i, where))
        except InvalidResponseError as exc:
            images.append(RawImage(error=exc))
    return images


def _parse_item(item: Any, i: int, where: str) -> RawImage:
    if not isinstance(item, dict):
        raise InvalidResponseError(f"{where}: data[{i}] is not an object")
    revised = item.get("revised_prompt") if isinstance(item.get("revised_prompt"), str) else None
    if isinstance(item.get("b64_json"), str):
        return RawImage(data=decode_b64(item["b64_json"], f"data[{i}].b64_json"), revised_prompt=revised)
    if isinstance(item.get("url"), str):
        url = item["url"]
        if url.startswith("data:"):
            return RawImage(data=decode_data_url(url, f"data[{i}].url"), revised_prompt=revised)
        return RawImage(url=url, revised_prompt=revised)
    raise InvalidResponseError(f"{where}: data[{i}] has neither 'b64_json' nor 'url'")


def _short_json(value: Any) -> str:
    try:
        return json.dumps(value)[:200]
    except (ValueError, TypeError, RecursionError):
        return type(value).__name__


def check_image(data: bytes, where: str) -> tuple[tuple[int, int], str]:
    """Check that ``data`` is a complete, uncorrupted image file; return ``((w, h), mode)``.

    A PNG is checked whole without being decoded (:func:`dalle_widgets._png.check`:
    every chunk's CRC, a declared size of at most :data:`~dalle_widgets._png.MAX_PIXELS`,
    pixel data that is complete and no larger than declared). Other formats (JPEG,
    WebP, GIF) are stored as PNG, which decodes them anyway: they are decoded here,
    once their declared size is known to be within the limit. Whatever is wrong with
    the bytes (including Pillow's decompression-bomb refusal) is an
    :class:`InvalidResponseError` naming the image.
    """
    import warnings

    from PIL import Image

    if not data:
        raise InvalidResponseError(f"{where} is empty, not an image")
    try:
        if _png.is_png(data):
            size = _png.check(data)
            with Image.open(io.BytesIO(data)) as im:
                return size, im.mode
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                size, mode = im.size, im.mode
                if size[0] * size[1] > _png.MAX_PIXELS:
                    raise ValueError(f"it declares {size[0]}x{size[1]} pixels, more than {_png.MAX_PIXELS:,}")
                im.load()
        return size, mode
    except Exception as exc:  # noqa: BLE001 - whatever the bytes do to a decoder, this image is unusable
        detail = str(exc) or type(exc).__name__
        raise InvalidResponseError(
            f"{where} is not a valid image ({len(data):,} bytes starting {data[:16]!r}: {detail})"
        ) from None
