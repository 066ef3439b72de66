"""Which client a widget talks to, and calling it the same way whether it is sync or async.

Widgets take ``client=None`` (the process-wide :func:`dalle_widgets.client.default_async_client`,
which falls back to the offline engine when no key is set), an
:class:`~dalle_widgets.client.AsyncImagesClient`, or a sync
:class:`~dalle_widgets.client.ImagesClient` (its blocking calls then run in a worker
thread so the kernel loop stays free). The client is resolved lazily, on the first
request, so building a widget never starts an engine or opens a connection.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

__all__ = ["call", "resolve"]


def resolve(client: Any | None) -> Any:
    """``client`` itself, or the shared default async client when None."""
    if client is not None:
        return client
    from ..client import default_async_client

    return default_async_client()


async def call(client: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """Await ``client.<method>(*args, **kwargs)``; a sync client's call runs in a thread."""
    fn = getattr(client, method)
    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    result = await asyncio.to_thread(fn, *args, **kwargs)
    if inspect.isawaitable(result):
        return await result
    return result
