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
from collections.abc import Callable
from typing import Any, TypeGuard

from .._types import AnyImageClient, AsyncImageClient

__all__ = ["call", "is_async", "resolve", "stream"]


def is_async(client: AnyImageClient, method: str = "edit") -> TypeGuard[AsyncImageClient]:
    """Whether ``client.<method>`` is awaited (an async client) rather than called."""
    return inspect.iscoroutinefunction(getattr(client, method, None))


def resolve(client: AnyImageClient | None) -> AnyImageClient:
    """``client`` itself, or the shared default async client when None."""
    if client is not None:
        return client
    from ..client import default_async_client

    return default_async_client()


async def call(client: AnyImageClient, method: str, *args: Any, **kwargs: Any) -> Any:
    """Await ``client.<method>(*args, **kwargs)``; a sync client's call runs in a thread."""
    fn = getattr(client, method)
    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    result = await asyncio.to_thread(fn, *args, **kwargs)
    if inspect.isawaitable(result):
        return await result
    return result


async def stream(
    client: AnyImageClient, method: str, *args: Any, on_event: Callable[[Any], None], **kwargs: Any
) -> Any:
    """Call ``client.<method>(*args, stream=True, **kwargs)``, hand each event to ``on_event`` on
    the kernel's loop as it arrives, and return the finished :class:`ImageResult`.

    A sync client reads its stream in a worker thread; its events are passed to the loop
    one by one, so a preview is shown while the next is still on the way.
    """
    fn = getattr(client, method)
    if inspect.iscoroutinefunction(fn):
        events = await fn(*args, stream=True, **kwargs)
        try:
            async for event in events:
                on_event(event)
        finally:
            await events.aclose()
        return events.result
    loop = asyncio.get_running_loop()

    def read() -> Any:
        events = fn(*args, stream=True, **kwargs)
        with events:
            for event in events:
                loop.call_soon_threadsafe(on_event, event)
        return events.result

    return await asyncio.to_thread(read)
