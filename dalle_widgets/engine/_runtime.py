"""What one engine app holds while it runs: the :class:`Engine` on ``app.state.engine``.

The backend, the store of images served by URL, the simulated rate limit and the
worker slots live in one small object, so the endpoints are plain module-level
functions that find it on the request (``request.app.state.engine``) instead of
closures over ``create_app``'s locals.

A backend that takes them also gets the request's ``quality`` and an ``on_progress``
hook called after each step: through it a request whose client has gone
(``cancelled()`` is true) stops at the next step. A backend's own refusals
(:class:`~.backends.errors.BackendError`: busy, out of memory, weights missing...)
become :class:`EngineError` with their status, code and message.
"""

from __future__ import annotations

import functools
import inspect
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import numpy as np

from . import validation as v
from ._errors import EngineError
from .backends import ImageBackend, PreviewCallback
from .backends.errors import BackendBusy, BackendError, GenerationCancelled
from .backends.progress import Progress
from .urls import ImageURLStore

__all__ = ["Engine", "Produced", "RateLimiter", "Slot", "from_backend_error"]

T = TypeVar("T")


class RateLimiter:
    """Sliding one-minute window over images produced (OpenAI limits images per minute)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self, n: int) -> None:
        """Count ``n`` images, or refuse with 429 and ``Retry-After`` when over the limit."""
        now = time.monotonic()
        with self._lock:
            while self._times and self._times[0] <= now - 60:
                self._times.popleft()
            if len(self._times) + n > self.per_minute:
                wait = 60 - (now - self._times[0]) if self._times else 60
                retry = max(1, int(wait + 0.999))
                raise EngineError(
                    429,
                    f"Rate limit exceeded for images per minute on the offline engine. "
                    f"Limit: {self.per_minute}/1min. "
                    f"Current: {len(self._times)}/1min. Please try again in {retry}s.",
                    type="requests",
                    code="rate_limit_exceeded",
                    headers={"Retry-After": str(retry)},
                )
            self._times.extend([now] * n)


def from_backend_error(exc: BackendError) -> EngineError:
    """The HTTP answer to a backend's refusal: its status and code, its message (which names the fix).

    Busy is a 429 with ``Retry-After``; anything else tells clients not to retry
    (``x-should-retry: false``): more memory, disk or weights do not come by waiting.
    """
    if isinstance(exc, BackendBusy):
        headers = {"Retry-After": str(exc.retry_after)}
        kind = "requests"
    else:
        headers = {"x-should-retry": "false"}
        kind = "server_error" if exc.status >= 500 else "invalid_request_error"
    return EngineError(exc.status, str(exc), code=exc.code, type=kind, headers=headers)


def _takes(method: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(method).parameters
    except (TypeError, ValueError):  # builtins, odd callables: pass only the protocol's arguments
        return False


@dataclass(frozen=True)
class Produced:
    """A request's images as the backend made them, with the seed that made them."""

    images: list[np.ndarray]
    seed: int


class Slot:
    """One of the engine's slots, held by a request from decoding its inputs to encoding its images.

    Released once (further calls do nothing), by the route that took it or, for a
    streamed answer, when the stream ends.
    """

    def __init__(self, limiter: anyio.CapacityLimiter) -> None:
        self._limiter = limiter
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._limiter.release_on_behalf_of(self)


@dataclass
class Engine:
    """The running engine's state: backend, URL store, rate limiter and worker slots.

    Parameters
    ----------
    backend : ImageBackend
        Makes the pixels.
    urls : ImageURLStore
        Images served by URL (``response_format=url``).
    limiter : RateLimiter or None
        A simulated images-per-minute limit, or None for none.
    slots : anyio.CapacityLimiter
        How many requests are served at once. A request takes its slot (:meth:`admit`)
        before decoding any upload and keeps it until its images are encoded, so the
        memory of decoded pixels is bounded by the slots, not by the requests waiting.
    max_body_bytes : int
        Larger request bodies are refused with 413.
    """

    backend: ImageBackend
    urls: ImageURLStore
    limiter: RateLimiter | None
    slots: anyio.CapacityLimiter
    max_body_bytes: int
    started: int = field(default_factory=lambda: int(time.time()))
    workers: anyio.CapacityLimiter | None = None

    def __post_init__(self) -> None:
        if self.workers is None:  # as many worker threads as slots: one per admitted request
            self.workers = anyio.CapacityLimiter(self.slots.total_tokens)

    async def admit(self) -> Slot:
        """Wait for one of the engine's slots; the caller releases it when its request is done."""
        slot = Slot(self.slots)
        await self.slots.acquire_on_behalf_of(slot)
        return slot

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` in a worker thread (the event loop stays free), at most one per slot."""
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=self.workers)

    def take(self, n: int) -> None:
        """Count ``n`` images against the simulated rate limit (429 past it)."""
        if self.limiter is not None:
            self.limiter.take(n)

    @staticmethod
    def seed_of(req: v.ImageRequest) -> int:
        """The request's seed, or a fresh random one."""
        return req.seed if req.seed is not None else secrets.randbits(63)

    async def produce(self, req: v.ImageRequest, *, cancelled: Callable[[], bool] | None = None) -> Produced:
        """Count the request against the rate limit, pick its seed, run the backend, check its output."""
        self.take(req.n)
        seed = self.seed_of(req)
        return Produced(await self.make(req, n=req.n, seed=seed, cancelled=cancelled), seed)

    async def make(
        self,
        req: v.ImageRequest,
        *,
        n: int,
        seed: int,
        on_preview: PreviewCallback | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[np.ndarray]:
        """Run the backend for ``n`` images of ``req`` with ``seed`` in a worker thread; check them.

        ``cancelled`` is asked after every step of a backend that reports progress
        (from its worker thread); once it is true the backend stops there and this
        raises :class:`EngineError` 499.
        """
        b = self.backend
        method: Callable[..., list[np.ndarray]]
        args: tuple[Any, ...]
        if isinstance(req, v.GenerateRequest):
            method, args = b.generate, (req.prompt,)
            kwargs: dict[str, Any] = {}
        elif isinstance(req, v.EditRequest):
            method, args = b.edit, (req.image, req.mask, req.prompt)
            kwargs = {"references": req.references}
        else:
            method, args, kwargs = b.vary, (req.image,), {}
        gpt = getattr(req, "gpt", None)
        if gpt is not None and _takes(method, "quality"):
            kwargs["quality"] = gpt.resolved_quality
        if cancelled is not None and _takes(method, "on_progress"):

            def on_progress(progress: Progress) -> None:
                if cancelled():
                    raise GenerationCancelled(
                        f"the client went away: {progress.operation} stopped after {progress.done} of "
                        f"{progress.total} steps"
                    )

            kwargs["on_progress"] = on_progress
        try:
            images = await self.run(
                method, *args, size=req.size, n=n, seed=seed, on_preview=on_preview, **kwargs
            )
        except BackendError as exc:
            raise from_backend_error(exc) from None
        return self._checked(images, n, req.size)

    def _checked(self, images: Any, n: int, size: tuple[int, int]) -> list[np.ndarray]:
        images = list(images)
        shape = (size[1], size[0], 3)
        if len(images) != n or any(
            not isinstance(im, np.ndarray) or im.shape != shape or im.dtype != np.uint8 for im in images
        ):
            raise RuntimeError(f"backend {self.backend.name!r} returned images of the wrong shape or count")
        return images
