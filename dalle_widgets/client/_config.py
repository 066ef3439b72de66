"""Client configuration: constants, environment variables, and the offline fallback.

Resolution order for each setting: the constructor argument, then the environment
(``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID``,
``DALLE_WIDGETS_MODEL``; for Azure OpenAI ``AZURE_OPENAI_ENDPOINT``,
``AZURE_OPENAI_API_KEY``, ``OPENAI_API_VERSION``, as the ``openai`` SDK reads them), then
the default. The endpoint is, in order: ``base_url=``, ``azure_endpoint=``,
``$OPENAI_BASE_URL``, ``$AZURE_OPENAI_ENDPOINT``, then OpenAI when a key is set. With
neither a key nor an endpoint (or with ``DALLE_WIDGETS_OFFLINE=1``) the client never
calls OpenAI: it starts the offline engine on 127.0.0.1 and says so once, or raises
:class:`ConfigurationError` explaining how to set a key or a base URL. The default model
depends on the kind of endpoint (``gpt-image-2`` on OpenAI and Azure, ``dall-e-2``
elsewhere): :func:`dalle_widgets.models.default_model`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from .. import _notices
from .._types import CACHE_MODES, WIRE_PROTOCOLS, CacheMode, WireProtocol
from .._version import __version__
from ..errors import ConfigurationError
from ..models import default_model
from ._providers import Endpoint, azure_base_url, kind_of

__all__ = [
    "CACHE_MODES",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "PROTOCOLS",
    "SafeHeaders",
    "Secret",
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
PROTOCOLS = WIRE_PROTOCOLS
USER_AGENT = f"dalle-widgets/{__version__} (python; httpx {httpx.__version__})"

_TRUTHY = {"1", "true", "yes", "on"}
#: Headers whose values a repr may show; every other one (credentials) shows as ``***``.
_SHOWN_HEADERS = frozenset({"user-agent", "accept", "accept-encoding", "content-type", "content-length"})


class Secret(str):
    """A credential: a plain ``str`` wherever it is used, ``'***'`` wherever it is shown.

    The key and the offline engine's token are held as this from the first line that
    receives them, so that no frame of the client holds the bare key in a local
    variable a verbose traceback (``%xmode Verbose``) or a debugger would print.

    >>> key = Secret("sk-abc")
    >>> key, f"Bearer {key}", key == "sk-abc"
    ('***', 'Bearer sk-abc', True)
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"

    @classmethod
    def of(cls, value: str | None) -> Secret | None:
        """``value`` as a Secret (None and empty strings stay as they are)."""
        return cls(value) if value and not isinstance(value, Secret) else value  # type: ignore[return-value]


class SafeHeaders(httpx.Headers):
    """Request headers whose repr hides every credential (httpx hides only ``Authorization``;
    Azure's ``api-key`` and any other header would show)."""

    def __repr__(self) -> str:
        shown = {k: (v if k.lower() in _SHOWN_HEADERS else "***") for k, v in self.items()}
        return f"Headers({shown!r})"


_offline_announced = False


@dataclass(frozen=True)
class Settings:
    """Everything a client needs to talk to one endpoint. The key is kept out of the repr."""

    base_url: str
    api_key: str | None = field(repr=False)
    organization: str | None
    project: str | None
    model: str
    protocol: WireProtocol
    timeout: httpx.Timeout
    max_retries: int
    cache: CacheMode
    offline: bool = False
    api_version: str | None = None
    azure: bool = False

    @property
    def endpoint(self) -> Endpoint:
        """How this endpoint's URLs and credentials are formed (see :mod:`._providers`)."""
        kind = "azure" if self.azure else kind_of(self.base_url, offline=self.offline)
        return Endpoint(kind, self.base_url, self.api_version)

    @property
    def kind(self) -> str:
        """``openai``, ``azure``, ``compatible`` or ``offline``."""
        return self.endpoint.kind

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
        return self.endpoint.auth_headers(self.api_key, self.organization, self.project)

    def url(self, path: str, model: str | None = None) -> str:
        return self.endpoint.url(path, model)


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


def _start_offline_engine() -> tuple[str, Secret | None, float | None]:
    """Start (or reuse) the background offline engine; return ``(base_url, token, read timeout)``.

    The timeout is the engine's own advice (a model backend on a CPU takes minutes per
    image), or None for the default.
    """
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
        backend = getattr(running, "backend", "classical")
        what = "synthetic images" if backend == "classical" else f"backend {backend}"
        _notices.notice(f"No OPENAI_API_KEY set: using the offline engine at {base_url} ({what})")
        _offline_announced = True
    return base_url, Secret.of(getattr(running, "token", None)), getattr(running, "client_timeout", None)


def resolve_settings(
    api_key: str | None = None,
    base_url: str | None = None,
    *,
    model: str | None = None,
    protocol: WireProtocol = "images",
    timeout: float | httpx.Timeout | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    cache: CacheMode | None = None,
    azure_endpoint: str | None = None,
    api_version: str | None = None,
    env: Any = None,
) -> Settings:
    """Resolve constructor arguments and the environment into :class:`Settings`.

    Raises :class:`ConfigurationError` for a bad setting, or when nothing is configured
    and the offline engine cannot start.
    """
    api_key = Secret.of(api_key)  # from here on no frame holds the bare key
    environ = os.environ if env is None else env
    if base_url is not None and azure_endpoint is not None:
        raise ConfigurationError("pass base_url= or azure_endpoint=, not both")
    azure = azure_endpoint is not None
    url = azure_base_url(azure_endpoint) if azure_endpoint is not None else base_url
    if url is None:
        url = environ.get("OPENAI_BASE_URL") or None
    if url is None and environ.get("AZURE_OPENAI_ENDPOINT"):
        url, azure = azure_base_url(environ["AZURE_OPENAI_ENDPOINT"]), True
    azure = azure or (url is not None and kind_of(url) == "azure")
    if azure:
        key = Secret.of(api_key if api_key is not None else environ.get("AZURE_OPENAI_API_KEY") or None)
        version = api_version or environ.get("OPENAI_API_VERSION") or None
    else:
        key = Secret.of(api_key if api_key is not None else environ.get("OPENAI_API_KEY") or None)
        version = api_version
    if protocol not in PROTOCOLS:
        raise ConfigurationError(f"protocol={protocol!r} is not supported; use 'images' or 'chat'")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(f"max_retries={max_retries!r}: pass an integer >= 0 (0 disables retries)")
    cache_mode = cache or "use"
    if cache_mode not in CACHE_MODES:
        raise ConfigurationError(f"cache={cache!r} is not a cache mode; use 'use', 'refresh' or 'off'")
    force_offline = str(environ.get("DALLE_WIDGETS_OFFLINE", "")).strip().lower() in _TRUTHY
    offline = False
    if force_offline or (not key and not url):
        url, key, engine_timeout = _start_offline_engine()
        offline, azure, version = True, False, None
        if timeout is None and engine_timeout:
            timeout = httpx.Timeout(float(engine_timeout), connect=5.0)
    url = normalize_base_url(url or DEFAULT_BASE_URL)
    if azure and not key:
        raise ConfigurationError(
            "Azure OpenAI needs a key: pass api_key=... or set AZURE_OPENAI_API_KEY (it is sent as the "
            "api-key header)"
        )
    settings = Settings(
        base_url=url,
        api_key=key,
        organization=environ.get("OPENAI_ORG_ID") or None,
        project=environ.get("OPENAI_PROJECT_ID") or None,
        model="",
        protocol=protocol,
        timeout=make_timeout(timeout),
        max_retries=max_retries,
        cache=cache_mode,
        offline=offline,
        api_version=version,
        azure=azure,
    )
    settings.endpoint.check()
    chosen = model or environ.get("DALLE_WIDGETS_MODEL") or default_model(settings.kind)
    return dataclasses.replace(settings, model=chosen)
