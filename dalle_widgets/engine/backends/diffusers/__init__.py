"""The ``diffusers`` backend: a real image model behind the offline engine (optional extra).

DALL-E 2 is an unCLIP model: a *prior* maps text to a CLIP image embedding and a
*decoder* draws an image from that embedding; its variations are decodes of the input
image's own CLIP embedding. Kandinsky 2.2 is the maintained open model of that family
(Apache-2.0), and the default recipe (:mod:`.recipe`). This backend runs it for the
engine's three operations (:mod:`.kandinsky`), on the user's GPU or, slowly, the CPU.

Nothing here imports torch until the first image is asked for: constructing the backend
only checks that the ``models`` extra is installed and reads the recipe, and each role
(prior, decoder, inpaint decoder, image encoder) loads on first use. One generation runs
per device at a time; up to ``max_queue`` more wait their turn, and beyond that the
backend refuses at once with :class:`~dalle_widgets.engine.backends.errors.BackendBusy`
(the engine's 429 with ``Retry-After``).

Configuration, for ``dalle-widgets serve --backend diffusers`` and for the background
engine the client starts: ``--recipe FILE`` / ``DALLE_WIDGETS_RECIPE`` and
``--low-memory`` / ``DALLE_WIDGETS_LOW_MEMORY=1``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendBusy, BackendUnavailable
from ..progress import Progress, ProgressCallback
from .recipe import Recipe, default_recipe, load_recipe

__all__ = ["DEFAULT_MAX_QUEUE", "DiffusersBackend", "require_models_extra"]

#: The engine's preview hook: ``(image index, step, steps, uint8 (h, w, 3) picture)``.
PreviewCallback = Callable[[int, int, int, np.ndarray], None]

logger = logging.getLogger("dalle_widgets")

#: Requests that may wait for the device while one runs; more get BackendBusy (429).
DEFAULT_MAX_QUEUE = 4
_EXTRA = ("torch", "diffusers", "transformers", "accelerate", "safetensors")
_TRUTHY = {"1", "true", "yes", "on"}
INSTALL_HINT = (
    "pip install 'dalle-widgets[models]' (install the torch build for your hardware first, "
    "e.g. the CPU build from https://download.pytorch.org/whl/cpu on a machine without a GPU)"
)


def require_models_extra() -> None:
    """Raise :class:`BackendUnavailable` naming the install command if the extra is missing.

    Only looks the packages up (``importlib.util.find_spec``); imports nothing.
    """
    missing = [name for name in _EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise BackendUnavailable(
            f"the diffusers backend needs the 'models' extra ({', '.join(missing)} not installed): "
            + INSTALL_HINT
        )


class _DeviceQueue:
    """One job at a time on one device, at most ``limit`` waiting; past jobs' times estimate Retry-After."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running = False
        self._waiting = 0
        self._seconds: deque[float] = deque(maxlen=8)

    def _retry_after(self, ahead: int) -> int:
        per_job = sum(self._seconds) / len(self._seconds) if self._seconds else 30.0
        return int(per_job * ahead + 0.999)

    @contextmanager
    def turn(self, limit: int) -> Iterator[None]:
        """Wait for the device (raise :class:`BackendBusy` at once if ``limit`` jobs already wait)."""
        with self._cond:
            if self._running and self._waiting >= limit:
                ahead = self._waiting + 1
                wait = self._retry_after(ahead)
                raise BackendBusy(
                    f"the model backend is busy: one generation is running and {self._waiting} are queued "
                    f"(the queue holds {limit}); try again in about {max(1, wait)} s",
                    retry_after=wait,
                )
            self._waiting += 1
            try:
                while self._running:
                    self._cond.wait()
            finally:
                self._waiting -= 1
            self._running = True
        started = time.monotonic()
        try:
            yield
        finally:
            with self._cond:
                self._running = False
                self._seconds.append(time.monotonic() - started)
                self._cond.notify()


_queues: dict[str, _DeviceQueue] = {}
_queues_lock = threading.Lock()


def _queue_for(device: str) -> _DeviceQueue:
    """The process-wide queue of a device: two backends on one GPU still take turns."""
    with _queues_lock:
        q = _queues.get(device)
        if q is None:
            q = _queues[device] = _DeviceQueue()
        return q


class DiffusersBackend:
    """Kandinsky 2.2 (or any recipe of that family) behind the engine's backend protocol.

    Parameters
    ----------
    recipe : str, Path, Recipe or None
        A recipe file, a parsed :class:`~.recipe.Recipe`, or None for
        ``DALLE_WIDGETS_RECIPE`` if set, else the packaged Kandinsky 2.2 recipe.
    low_memory : bool or None
        Offload models to the CPU between uses (GPU), or keep only the current
        operation's roles in memory (CPU). None reads ``DALLE_WIDGETS_LOW_MEMORY``.
    max_queue : int
        Requests that may wait for the device while one runs.

    Raises
    ------
    BackendUnavailable
        If the ``models`` extra is not installed, or the recipe is invalid
        (:class:`~dalle_widgets.engine.backends.errors.RecipeError`).
    """

    name = "diffusers"
    #: Seconds a client of an engine running this backend should wait for an answer: a
    #: CPU takes minutes per image, and a queued request waits for those before it.
    client_timeout = 3600.0

    def __init__(
        self,
        recipe: str | Path | Recipe | None = None,
        *,
        low_memory: bool | None = None,
        max_queue: int = DEFAULT_MAX_QUEUE,
    ) -> None:
        require_models_extra()
        if recipe is None:
            recipe = os.environ.get("DALLE_WIDGETS_RECIPE") or None
        if recipe is None:
            self.recipe = default_recipe()
        elif isinstance(recipe, Recipe):
            self.recipe = recipe
        else:
            self.recipe = load_recipe(recipe)
        if low_memory is None:
            low_memory = os.environ.get("DALLE_WIDGETS_LOW_MEMORY", "").strip().lower() in _TRUTHY
        self.low_memory = bool(low_memory)
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 0:
            raise ValueError(f"max_queue={max_queue!r}: pass an integer >= 0")
        self.max_queue = max_queue
        #: Worker threads the engine should allow: one running, ``max_queue`` waiting, one to refuse.
        self.max_concurrency = max_queue + 2
        self._runtime: Any = None
        self._init_lock = threading.Lock()

    @property
    def runtime(self) -> Any:
        """The :class:`~.runtime.Runtime` (device, dtype, loaded roles); imports torch on first use."""
        with self._init_lock:
            if self._runtime is None:
                from .runtime import Runtime

                self._runtime = Runtime(self.recipe, low_memory=self.low_memory)
                logger.info(
                    "diffusers backend: recipe %s on %s (%s)%s",
                    self.recipe.origin,
                    self._runtime.device,
                    self._runtime.dtype_name,
                    ", low memory" if self.low_memory else "",
                )
            return self._runtime

    def _call(
        self, operation: str, on_progress: ProgressCallback | None, n: int, run: Any
    ) -> list[np.ndarray]:
        rt = self.runtime
        with _queue_for(rt.device).turn(self.max_queue):
            if on_progress is not None:  # a request cancelled while it queued stops here
                on_progress(
                    Progress(
                        operation=operation, image=0, n=n, stage="start", step=0, steps=0, done=0, total=1
                    )
                )
            return run(rt)

    def generate(
        self,
        prompt: str,
        *,
        size: int | tuple[int, int],
        n: int,
        seed: int,
        quality: str | None = None,
        on_progress: ProgressCallback | None = None,
        on_preview: PreviewCallback | None = None,
    ) -> list[np.ndarray]:
        """Text to ``n`` images (prior, then decoder)."""
        from . import kandinsky

        return self._call(
            "generate",
            on_progress,
            n,
            lambda rt: kandinsky.generate(
                rt,
                prompt,
                size=size,
                n=n,
                seed=seed,
                quality=quality,
                on_progress=on_progress,
                on_preview=on_preview,
            ),
        )

    def edit(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        prompt: str,
        *,
        size: int | tuple[int, int],
        n: int,
        seed: int,
        quality: str | None = None,
        references: Sequence[np.ndarray] = (),
        on_progress: ProgressCallback | None = None,
        on_preview: PreviewCallback | None = None,
    ) -> list[np.ndarray]:
        """Repaint ``mask`` (True = edit) of ``image``; pixels outside come back unchanged.

        ``references`` (further images) pull the repainted area towards their look.
        """
        from . import kandinsky

        return self._call(
            "edit",
            on_progress,
            n,
            lambda rt: kandinsky.edit(
                rt,
                image,
                mask,
                prompt,
                size=size,
                n=n,
                seed=seed,
                quality=quality,
                references=references,
                on_progress=on_progress,
                on_preview=on_preview,
            ),
        )

    def vary(
        self,
        image: np.ndarray,
        *,
        size: int | tuple[int, int],
        n: int,
        seed: int,
        quality: str | None = None,
        on_progress: ProgressCallback | None = None,
        on_preview: PreviewCallback | None = None,
    ) -> list[np.ndarray]:
        """Decodes of the input's CLIP image embedding, a different seed per image."""
        from . import kandinsky

        return self._call(
            "vary",
            on_progress,
            n,
            lambda rt: kandinsky.vary(
                rt,
                image,
                size=size,
                n=n,
                seed=seed,
                quality=quality,
                on_progress=on_progress,
                on_preview=on_preview,
            ),
        )

    def __repr__(self) -> str:
        extra = ", low_memory=True" if self.low_memory else ""
        return f"DiffusersBackend(recipe={self.recipe.origin!r}{extra})"
