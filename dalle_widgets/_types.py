"""The shapes that cross module boundaries, each defined once: string choices and client protocols.

The string choices (an operation, a wire protocol, a cache mode, a mask tool) are
``Literal`` aliases, so a type checker catches ``cache="refesh"`` where it is
written; the runtime checks that name the value and the fix read the tuples built
from the same aliases, so the two cannot drift apart.

:class:`SyncImageClient` and :class:`AsyncImageClient` (structural types, checked
by mypy) describe "a client that can generate, edit and vary" as the orchestration
(``batching``, ``outpaint``) and the faces (widgets, magics, the board) use it:
:class:`~dalle_widgets.client.ImagesClient` and
:class:`~dalle_widgets.client.AsyncImagesClient` fit them, and so does any object with
the same methods (a wrapper that logs or meters calls, a test double). They live in
the bottom layer so that every layer above can name them without importing the client.

>>> from typing import get_args
>>> get_args(CacheMode) == CACHE_MODES
True
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, get_args

__all__ = [
    "AnyImageClient",
    "CACHE_MODES",
    "MASK_TOOLS",
    "OPERATIONS",
    "SHAPE_TOOLS",
    "WIRE_PROTOCOLS",
    "AsyncImageClient",
    "CacheMode",
    "FRAMING_MODES",
    "FramingMode",
    "SyncImageClient",
    "MaskTool",
    "Operation",
    "ShapeTool",
    "WireProtocol",
]

#: What a request asks for: new images from text, an edit of an image (with a mask), variations.
Operation = Literal["generate", "edit", "vary"]
#: How requests travel: the Images API, or an aggregator's chat completions.
WireProtocol = Literal["images", "chat"]
#: The request cache: replay a stored answer, send and replace it, or neither read nor write it.
CacheMode = Literal["use", "refresh", "off"]
#: The mask editor's shape tools (drawn as outlines, filled when closed).
ShapeTool = Literal["rectangle", "ellipse", "lasso"]
#: Every tool of the mask editor.
MaskTool = Literal["brush", "eraser", "rectangle", "ellipse", "lasso"]
#: How an edit frames a photo the model cannot take at its own size (see ``photo_window``).
FramingMode = Literal["window", "pad", "crop"]

OPERATIONS: tuple[Operation, ...] = get_args(Operation)
WIRE_PROTOCOLS: tuple[WireProtocol, ...] = get_args(WireProtocol)
CACHE_MODES: tuple[CacheMode, ...] = get_args(CacheMode)
SHAPE_TOOLS: tuple[ShapeTool, ...] = get_args(ShapeTool)
MASK_TOOLS: tuple[MaskTool, ...] = get_args(MaskTool)
FRAMING_MODES: tuple[FramingMode, ...] = get_args(FramingMode)


class SyncImageClient(Protocol):
    """A client whose ``generate``, ``edit`` and ``vary`` answer when called (no ``await``).

    ``prepare`` checks and prices a request without sending it (what a batch plans with).

    Each returns an :class:`~dalle_widgets.results.ImageResult`, or an image stream when
    called with ``stream=True``; the keyword arguments are those of
    :class:`~dalle_widgets.client.ImagesClient`.
    """

    def prepare(self, operation: Operation, /, *args: Any, **kwargs: Any) -> Any:
        """Check and price a request without sending it."""
        ...

    def generate(self, prompt: str, *args: Any, **kwargs: Any) -> Any: ...

    def edit(self, image: Any, prompt: str, *args: Any, **kwargs: Any) -> Any: ...

    def vary(self, image: Any, *args: Any, **kwargs: Any) -> Any: ...

    def close(self) -> None:
        """Close the connections the client opened."""
        ...


class AsyncImageClient(Protocol):
    """A client whose ``generate``, ``edit`` and ``vary`` are awaited.

    The async twin of :class:`SyncImageClient`; :class:`~dalle_widgets.client.AsyncImagesClient` is one.
    """

    def prepare(self, operation: Operation, /, *args: Any, **kwargs: Any) -> Any:
        """Check and price a request without sending it (no ``await``: nothing is sent)."""
        ...

    async def generate(self, prompt: str, *args: Any, **kwargs: Any) -> Any: ...

    async def edit(self, image: Any, prompt: str, *args: Any, **kwargs: Any) -> Any: ...

    async def vary(self, image: Any, *args: Any, **kwargs: Any) -> Any: ...

    async def aclose(self) -> None:
        """Close the connections the client opened."""
        ...


#: Either kind of client: what code that works with both (a widget, a plan) accepts.
AnyImageClient = SyncImageClient | AsyncImageClient
