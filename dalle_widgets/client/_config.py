"""Client configuration: constants, environment variables, and the offline fallback.

Resolution order for each setting: the constructor argument, then the environment
(``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID``,
``DALLE_WIDGETS_MODEL``), then the default. With neither a key nor a base URL (or with
``DALLE_WIDGETS_OFFLINE=1``) the client never calls OpenAI: it starts the offline engine
on 127.0.0.1 and says so once, or raises :class:`ConfigurationError` explaining how to
set a key or a base URL.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from .._version import __version__
from ..errors import ConfigurationError
from ..models import DEFAULT_MODEL

__all__ = [
    "CACHE_MODES",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "PROTOCOLS",
    "Settings",
    "resolve_settings",
]

logger = logging.getLogger("dalle_widgets")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Image calls are slow: a short connect timeout, a long read timeout.
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2
#: Backoff before retry k (0-based) is min(INITIAL * 2**k, MAX) scaled by a jitter in [0.75, 1].
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
#: A server asking to wait longer than this fails at once, with the wait in the message.
MAX_RETRY_AFTER = 60.0
CACHE_MODES = ("use", "refresh", "off")
PROTOCOLS = ("images", "chat")
USER_AGENT = f"dalle-widgets/{__version__} (python; httpx {httpx.__version__})"

_TRUTHY = {"1", "true", "yes", "on"}
_offline_announced = False


@dataclass(frozen=True)
class Settings:
    """Everything a client needs to talk to one endpoint. The key is kept out of the repr."""

    base_url: str
    api_key: str | None = field(repr=False)
    organization: str | None
    project: str | None
    model: str
    protocol: str
    timeout: httpx.Timeout
    max_retries: int
    cache: str
    offline: bool = False

    @property
    def origin(self) -> tuple[str, str, int | None]:
        """``(scheme, host, port)`` of the base URL: credentials go only there."""
        return origin_of(self.base_url)

    @property
    def host(self) -> str:
        """The endpoint host (with port if any), recorded in provenance instead of the URL."""
        parts = urlsplit(self.base_url)
        return parts.netloc.rsplit("@", 1)[-1]

    def auth_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if self.organization:
            headers["OpenAI-Organization"] = self.organization
        if self.project:
            headers["OpenAI-Project"] = self.project
        return headers

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"


def origin_of(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default


def normalize_base_url(base_url: str) -> str:
    """Strip whitespace and trailing slashes; require an http(s) URL with a host.

    >>> normalize_base_url("http://127.0.0.1:8000/v1/")
    'http://127.0.0.1:8000/v1'
    """
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"base_url {url!r} is not an http(s) URL; use e.g. 'https://api.openai.com/v1' or "
            "'http://127.0.0.1:8000/v1'"
        )
    if parts.username or parts.password:
        raise ConfigurationError("base_url must not contain credentials; pass api_key= instead")
    return url


def make_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    """``None`` gives the default (connect 5 s, read 120 s); a number sets the read timeout."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigurationError(f"timeout={timeout!r}: pass a number of seconds > 0 or an httpx.Timeout")
    return httpx.Timeout(float(timeout), connect=min(5.0, float(timeout)))


def _start_offline_engine() -> tuple[str, str | None]:
    """Start (or reuse) the background offline engine; return ``(base_url, token)``."""
    global _offline_announced
    try:
        from .. import engine

        running = engine.start_background()
    except Exception as exc:  # noqa: BLE001 - any failure means: no endpoint configured
        raise ConfigurationError(
            "No API key and no endpoint configured, and the offline engine could not start "
            f"({type(exc).__name__}: {exc}). Set OPENAI_API_KEY (or pass api_key=...) to use OpenAI, "
            "or set OPENAI_BASE_URL (or pass base_url=...) to use an OpenAI-compatible endpoint."
        ) from exc
    base_url = normalize_base_url(str(running.base_url))
    if not _offline_announced:
        logger.warning("No OPENAI_API_KEY set: using the offline engine at %s (synthetic images)", base_url)
        _offline_announced = True
    return base_url, getattr(running, "token", None)


def resolve_settings(
    api_key: str | None = None,
    base_url: str | None = None,
    *,
    model: str | None = None,
    protocol: str = "images",
    timeout: float | httpx.Timeout | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    cache: str | None = None,
    env: Any = None,
) -> Settings:
    """Resolve constructor arguments and the environment into :class:`Settings`.

    Raises :class:`ConfigurationError` for a bad setting, or when nothing is configured
    and the offline engine cannot start.
    """
    environ = os.environ if env is None else env
    key = api_key if api_key is not None else environ.get("OPENAI_API_KEY") or None
    url = base_url if base_url is not None else environ.get("OPENAI_BASE_URL") or None
    if protocol not in PROTOCOLS:
        raise ConfigurationError(f"protocol={protocol!r} is not supported; use 'images' or 'chat'")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(f"max_retries={max_retries!r}: pass an integer >= 0 (0 disables retries)")
    cache_mode = cache or "use"
    if cache_mode not in CACHE_MODES:
        raise ConfigurationError(f"cache={cache!r} is not a cache mode; use 'use', 'refresh' or 'off'")
    chosen_model = model or environ.get("DALLE_WIDGETS_MODEL") or DEFAULT_MODEL
    force_offline = str(environ.get("DALLE_WIDGETS_OFFLINE", "")).strip().lower() in _TRUTHY
    offline = False
    if force_offline or (not key and not url):
        url, key = _start_offline_engine()
        offline = True
    url = url or DEFAULT_BASE_URL
    return Settings(
        base_url=normalize_base_url(url),
        api_key=key,
        organization=environ.get("OPENAI_ORG_ID") or None,
        project=environ.get("OPENAI_PROJECT_ID") or None,
        model=chosen_model,
        protocol=protocol,
        timeout=make_timeout(timeout),
        max_retries=max_retries,
        cache=cache_mode,
        offline=offline,
    )
