"""What differs between kinds of endpoint, in one place.

``openai``
    ``api.openai.com``: ``Authorization: Bearer``; the model table's lifecycle is
    enforced (a model past its shutdown date is refused before sending).
``azure``
    Azure OpenAI. The classic form sends to
    ``{endpoint}/openai/deployments/{deployment}/images/...?api-version=...``, where the
    deployment is the ``model``; the v1 form (a base URL ending in ``/openai/v1``) sends to
    ``{endpoint}/openai/v1/images/...`` with the deployment in the body. Both authenticate
    with an ``api-key`` header and never send ``Authorization``.
``compatible``
    Any other OpenAI-compatible server or aggregator: Bearer auth, and it serves
    what it serves (``dall-e-2`` included).
``offline``
    The built-in offline engine on 127.0.0.1.

The default model of each kind is data: the ``[endpoints]`` table of
:mod:`dalle_widgets.models`. Aggregator options for the chat protocol
(``image_config``) are built here too.

>>> azure = Endpoint("azure", "https://res.openai.azure.com/openai", api_version="2025-04-01-preview")
>>> azure.url("images/generations", "my-gpt-image")
'https://res.openai.azure.com/openai/deployments/my-gpt-image/images/generations?api-version=2025-04-01-preview'
>>> azure.auth_headers("k3y", None, None)
{'api-key': 'k3y'}
>>> kind_of("https://api.openai.com/v1"), kind_of("https://x.openai.azure.com/openai/v1")
('openai', 'azure')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigurationError

__all__ = ["AZURE_API_VERSION_HINT", "Endpoint", "aspect_ratio", "chat_image_options", "kind_of"]

OPENAI_HOST = "api.openai.com"
AZURE_HOST_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")
#: The first Azure api-version that takes gpt-image edits (learn.microsoft.com, LibreChat docs).
AZURE_API_VERSION_HINT = "2025-04-01-preview"
#: Aspect ratios OpenRouter's ``image_config.aspect_ratio`` documents.
CHAT_ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")


def kind_of(base_url: str, *, offline: bool = False) -> str:
    """The kind of endpoint a base URL is: ``openai``, ``azure``, ``compatible`` or ``offline``."""
    if offline:
        return "offline"
    host = (urlsplit(base_url).hostname or "").lower()
    if host == OPENAI_HOST:
        return "openai"
    if host.endswith(AZURE_HOST_SUFFIXES):
        return "azure"
    return "compatible"


def azure_base_url(endpoint: str) -> str:
    """``https://res.openai.azure.com`` -> ``https://res.openai.azure.com/openai``; a URL that
    already ends in ``/openai`` or ``/openai/v1`` is kept.

    >>> azure_base_url("https://res.openai.azure.com/")
    'https://res.openai.azure.com/openai'
    >>> azure_base_url("https://res.openai.azure.com/openai/v1")
    'https://res.openai.azure.com/openai/v1'
    """
    url = endpoint.strip().rstrip("/")
    path = urlsplit(url).path.rstrip("/")
    if path.endswith(("/openai", "/openai/v1")):
        return url
    return url + "/openai"


@dataclass(frozen=True)
class Endpoint:
    """Where requests go and how they authenticate, for one kind of endpoint."""

    kind: str
    base_url: str
    api_version: str | None = None

    @property
    def azure_deployments(self) -> bool:
        """Azure's classic form: the model (deployment) is part of the path."""
        return self.kind == "azure" and not urlsplit(self.base_url).path.rstrip("/").endswith("/v1")

    @property
    def enforces_lifecycle(self) -> bool:
        """Whether the model table's shutdown dates are this endpoint's own (only OpenAI's)."""
        return self.kind == "openai"

    def check(self) -> None:
        """Refuse a configuration that cannot work, naming the missing setting."""
        if self.azure_deployments and not self.api_version:
            raise ConfigurationError(
                "Azure OpenAI needs an api-version: pass api_version=... or set OPENAI_API_VERSION "
                f"(e.g. {AZURE_API_VERSION_HINT!r}, the first that takes gpt-image edits), or use the v1 "
                "API with azure_endpoint='https://<resource>.openai.azure.com/openai/v1'"
            )

    def url(self, path: str, model: str | None = None) -> str:
        """The full URL of ``path`` (``images/edits``, ``models``...) for ``model``."""
        path = path.lstrip("/")
        if self.azure_deployments:
            if model is not None and path != "models":
                path = f"deployments/{model}/{path}"
            return f"{self.base_url}/{path}?api-version={self.api_version}"
        if self.kind == "azure" and self.api_version:
            return f"{self.base_url}/{path}?api-version={self.api_version}"
        return f"{self.base_url}/{path}"

    def auth_headers(
        self, api_key: str | None, organization: str | None, project: str | None
    ) -> dict[str, str]:
        """Credentials for this endpoint (sent only to its origin)."""
        headers: dict[str, str] = {}
        if self.kind == "azure":
            if api_key:
                headers["api-key"] = api_key
            return headers
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        if organization:
            headers["OpenAI-Organization"] = organization
        if project:
            headers["OpenAI-Project"] = project
        return headers


def aspect_ratio(size: str | None) -> str | None:
    """The reduced ``W:H`` of a ``WxH`` size when aggregators document it, else None.

    >>> aspect_ratio("1536x1024"), aspect_ratio("1024x1792"), aspect_ratio("1000x999"), aspect_ratio(None)
    ('3:2', None, None, None)
    """
    if not size or "x" not in size:
        return None
    try:
        w, h = (int(v) for v in size.split("x"))
    except ValueError:
        return None
    g = math.gcd(w, h) or 1
    ratio = f"{w // g}:{h // g}"
    return ratio if ratio in CHAT_ASPECT_RATIOS else None


def chat_image_options(size: str | None, extras: dict[str, Any]) -> dict[str, Any]:
    """Aggregator options for a chat-protocol body: ``image_config`` from ``size`` and ``extras``.

    A non-square ``size`` becomes ``image_config.aspect_ratio`` (OpenRouter's form); what the
    caller put in ``extra_body["image_config"]`` wins, key by key.

    >>> chat_image_options("1536x1024", {"image_config": {"image_size": "2K"}})
    {'image_config': {'aspect_ratio': '3:2', 'image_size': '2K'}}
    >>> chat_image_options("1024x1024", {})
    {}
    """
    options = dict(extras)
    config: dict[str, Any] = {}
    ratio = aspect_ratio(size)
    if ratio is not None and ratio != "1:1":
        config["aspect_ratio"] = ratio
    given = options.pop("image_config", None)
    if given is not None and not isinstance(given, dict):
        from ..errors import InvalidRequestError

        raise InvalidRequestError(
            f"image_config={given!r}: pass a dict such as {{'aspect_ratio': '16:9'}}", param="image_config"
        )
    config.update(given or {})
    if config:
        options["image_config"] = config
    return options
