"""The one Images API client everything calls: sync and async twins over httpx.

>>> from dalle_widgets.client import ImagesClient
>>> client = ImagesClient(api_key="sk-example-key-123456", base_url="http://127.0.0.1:9/v1")
>>> client
ImagesClient(base_url='http://127.0.0.1:9/v1', model='dall-e-2', api_key=<set>)
>>> print(client.prepare("generate", "a watercolor fox", n=2, size="512x512").describe())
POST http://127.0.0.1:9/v1/images/generations  (generate, images protocol)
  model: dall-e-2   n: 2   size: 512x512   response_format: b64_json
  prompt: 'a watercolor fox' (16 chars)
  cost: 2 x $0.018 = $0.036
>>> client.close()

Modules: ``_config`` (settings, environment, offline fallback), ``_base`` (validation,
request building, result handling), ``_responses`` (errors, retries, payloads),
``_protocols`` (images vs chat wire formats), ``_uploads`` (input coercion at the edge),
``_sync`` / ``_async`` (the send loops). The results it returns, :class:`ImageResult` and
:class:`GeneratedImage`, are defined in :mod:`dalle_widgets.results` and re-exported here.
"""

from __future__ import annotations

import threading
from typing import Any

from ..results import GeneratedImage, ImageEvent, ImageResult
from ._async import AsyncImagesClient
from ._base import VARY_PROMPT, PreparedRequest
from ._streaming import AsyncImageStream, ImageStream
from ._sync import ImagesClient

__all__ = [
    "VARY_PROMPT",
    "AsyncImageStream",
    "AsyncImagesClient",
    "GeneratedImage",
    "ImageEvent",
    "ImageResult",
    "ImageStream",
    "ImagesClient",
    "PreparedRequest",
    "default_async_client",
    "default_client",
    "set_default_client",
]

_lock = threading.Lock()
_default: dict[str, Any] = {}


def default_client() -> ImagesClient:
    """The process-wide shared :class:`ImagesClient`, created on first use from the environment."""
    with _lock:
        client = _default.get("sync")
        if client is None:
            client = _default["sync"] = ImagesClient()
        return client


def default_async_client() -> AsyncImagesClient:
    """The process-wide shared :class:`AsyncImagesClient`, created on first use from the environment."""
    with _lock:
        client = _default.get("async")
        if client is None:
            client = _default["async"] = AsyncImagesClient()
        return client


def set_default_client(client: ImagesClient | AsyncImagesClient | None) -> None:
    """Replace (or with None, forget) the shared client of that kind, e.g. to point widgets elsewhere."""
    with _lock:
        if client is None:
            _default.clear()
        elif isinstance(client, AsyncImagesClient):
            _default["async"] = client
        else:
            _default["sync"] = client
