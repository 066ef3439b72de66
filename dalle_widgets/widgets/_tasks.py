"""Run widget work (network calls) as asyncio tasks on the kernel's loop, with cancel.

A widget's Generate button must not block the kernel: ipykernel runs an asyncio
loop, so the coroutine is scheduled there with :func:`asyncio.ensure_future` and
the button handler returns at once (another cell can run while a request is in
flight). Outside a running loop (plain scripts, unit tests) the same coroutine
runs on one shared background loop thread instead, so the widgets behave the
same everywhere.

Errors never escape as tracebacks into the notebook: they become one clear line
(:func:`error_line`) passed to the widget's ``on_error`` callback, and the
widget stays usable.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["TaskRunner", "background_loop", "error_line"]

logger = logging.getLogger("dalle_widgets")

_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def background_loop() -> asyncio.AbstractEventLoop:
    """The process-wide fallback loop (a daemon thread), started on first use."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="dalle-widgets-loop", daemon=True)
            thread.start()
            _loop = loop
        return _loop


def error_line(exc: BaseException) -> str:
    """One human line for ``exc``: the message's first line, with the error kind for unknown types.

    Examples
    --------
    >>> error_line(ValueError("n must be 1..10, got 12\\nmore detail"))
    'ValueError: n must be 1..10, got 12'
    """
    from ..errors import DalleWidgetsError

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, DalleWidgetsError):
        return text
    return f"{type(exc).__name__}: {text}"


class TaskRunner:
    """At most one running task per widget, with progress, cancel and error reporting.

    Parameters
    ----------
    on_start, on_finish : callable, optional
        Called (no arguments) when a task starts and when it ends, whatever the
        outcome: the widget disables/enables its buttons there.
    on_error : callable, optional
        Called with one line of text when the task fails (not when cancelled).
    on_cancel : callable, optional
        Called when the task was cancelled.
    """

    def __init__(
        self,
        *,
        on_start: Callable[[], None] | None = None,
        on_finish: Callable[[], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
    ) -> None:
        self.on_start = on_start
        self.on_finish = on_finish
        self.on_error = on_error
        self.on_cancel = on_cancel
        self._future: asyncio.Future[Any] | concurrent.futures.Future[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.last_error: str | None = None
        self._state: dict[str, Any] = {}

    @property
    def running(self) -> bool:
        """True while a task is scheduled or running."""
        return self._future is not None and not self._future.done()

    def start(
        self, factory: Callable[[], Awaitable[Any]]
    ) -> asyncio.Future[Any] | concurrent.futures.Future[Any]:
        """Schedule ``factory()`` on the kernel's loop (or the fallback loop); return its future.

        Raises
        ------
        RuntimeError
            If a task is already running (the widget disables its button meanwhile).
        """
        if self.running:
            raise RuntimeError("a task is already running; cancel it first")
        self.last_error = None
        if self.on_start:
            self.on_start()
        state: dict[str, Any] = {"started": False, "finished": threading.Event()}
        self._state = state
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self._loop = loop
            fut: Any = asyncio.ensure_future(self._wrap(factory, state))
        else:
            self._loop = background_loop()
            fut = asyncio.run_coroutine_threadsafe(self._wrap(factory, state), self._loop)
        self._future = fut
        fut.add_done_callback(lambda f: self._on_done(f, state))
        return fut

    def _on_done(self, fut: Any, state: dict[str, Any]) -> None:
        # A task cancelled before its first step never enters _wrap: report it here.
        if fut.cancelled() and not state["started"]:
            self._call(self.on_cancel)
            self._call(self.on_finish)
            state["finished"].set()

    async def _wrap(self, factory: Callable[[], Awaitable[Any]], state: dict[str, Any]) -> Any:
        state["started"] = True
        try:
            return await factory()
        except asyncio.CancelledError:
            logger.info("widget task cancelled")
            self._call(self.on_cancel)
            raise
        except Exception as exc:  # noqa: BLE001 - reported as one line, the widget stays usable
            self.last_error = error_line(exc)
            logger.warning("widget task failed: %s", self.last_error)
            logger.debug("widget task failure", exc_info=True)
            if self.on_error:
                self._call(self.on_error, self.last_error)
            return None
        finally:
            self._call(self.on_finish)
            state["finished"].set()

    @staticmethod
    def _call(fn: Callable[..., None] | None, *args: Any) -> None:
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - a UI callback must not kill the task machinery
            logger.exception("widget callback failed")

    def cancel(self) -> bool:
        """Cancel the running task (what was finished stays); True if there was one."""
        fut = self._future
        if fut is None or fut.done():
            return False
        if isinstance(fut, concurrent.futures.Future):
            loop = self._loop
            assert loop is not None
            # run_coroutine_threadsafe futures cancel their task thread-safely
            fut.cancel()
        else:
            fut.cancel()
        return True

    def wait(self, timeout: float | None = 60) -> Any:
        """Block until the fallback-loop task ends (for scripts and tests); return its result.

        Only valid when no loop runs in this thread: in a kernel, ``await runner.join()``.
        """
        fut = self._future
        if fut is None:
            return None
        if not isinstance(fut, concurrent.futures.Future):
            raise RuntimeError("the task runs on this thread's loop: use 'await runner.join()'")
        try:
            return fut.result(timeout)
        except concurrent.futures.CancelledError:
            # the future reports cancellation at once; wait for the task's own clean-up
            self._state["finished"].wait(timeout)
            return None

    async def join(self) -> Any:
        """Await the running task from the loop it runs on; return its result (None if cancelled)."""
        fut = self._future
        if fut is None:
            return None
        if isinstance(fut, concurrent.futures.Future):
            fut = asyncio.wrap_future(fut)
        try:
            return await asyncio.shield(fut) if not fut.done() else fut.result()
        except asyncio.CancelledError:
            return None
