"""What one engine app holds while it runs: the :class:`Engine` on ``app.state.engine``.

The backend, the store of images served by URL, the simulated rate limit and the
worker slots live in one small object, so the endpoints are plain module-level
functions that find it on the request (``request.app.state.engine``) instead of
closures over ``create_app``'s locals.
"""

from __future__ import annotations

import functools
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
from .urls import ImageURLStore

__all__ = ["Engine", "Produced", "RateLimiter", "Slot"]

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

    async def produce(self, req: v.ImageRequest) -> Produced:
        """Count the request against the rate limit, pick its seed, run the backend, check its output."""
        self.take(req.n)
        seed = self.seed_of(req)
        return Produced(await self.make(req, n=req.n, seed=seed), seed)

    async def make(
        self, req: v.ImageRequest, *, n: int, seed: int, on_preview: PreviewCallback | None = None
    ) -> list[np.ndarray]:
        """Run the backend for ``n`` images of ``req`` with ``seed`` in a worker thread; check them."""
        b = self.backend
        if isinstance(req, v.GenerateRequest):
            images = await self.run(
                b.generate, req.prompt, size=req.size, n=n, seed=seed, on_preview=on_preview
            )
        elif isinstance(req, v.EditRequest):
            images = await self.run(
                b.edit,
                req.image,
                req.mask,
                req.prompt,
                size=req.size,
                n=n,
                seed=seed,
                references=req.references,
                on_preview=on_preview,
            )
        else:
            images = await self.run(b.vary, req.image, size=req.size, n=n, seed=seed, on_preview=on_preview)
        return self._checked(images, n, req.size)

    def _checked(self, images: Any, n: int, size: tuple[int, int]) -> list[np.ndarray]:
        images = list(images)
        shape = (size[1], size[0], 3)
        if len(images) != n or any(
            not isinstance(im, np.ndarray) or im.shape != shape or im.dtype != np.uint8 for im in images
        ):
            raise RuntimeError(f"backend {self.backend.name!r} returned images of the wrong shape or count")
        return images
