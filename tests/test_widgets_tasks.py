"""The task runner: scheduling on the running loop or the fallback loop, errors as one line, cancel."""

from __future__ import annotations

import asyncio
import threading

import pytest

from dalle_widgets.errors import InvalidRequestError
from dalle_widgets.widgets._tasks import TaskRunner, error_line


def _runner(events: list[str]) -> TaskRunner:
    return TaskRunner(
        on_start=lambda: events.append("start"),
        on_finish=lambda: events.append("finish"),
        on_error=lambda line: events.append(f"error:{line}"),
        on_cancel=lambda: events.append("cancel"),
    )


def test_runs_on_the_running_loop() -> None:
    events: list[str] = []

    async def work() -> str:
        await asyncio.sleep(0.01)
        return threading.current_thread().name

    async def main() -> str:
        r = _runner(events)
        fut = r.start(work)
        assert isinstance(fut, asyncio.Task) and r.running
        with pytest.raises(RuntimeError, match="already running"):
            r.start(work)
        return await r.join()

    assert asyncio.run(main()) == threading.current_thread().name
    assert events == ["start", "finish"]


def test_fallback_loop_without_a_running_loop() -> None:
    events: list[str] = []
    r = _runner(events)

    async def work() -> str:
        return threading.current_thread().name

    r.start(work)
    assert r.wait(10) == "dalle-widgets-loop"
    assert events == ["start", "finish"]


def test_errors_become_one_line() -> None:
    events: list[str] = []
    r = _runner(events)

    async def bad() -> None:
        raise InvalidRequestError("n must be between 1 and 10, got 12\ndetails")

    r.start(bad)
    assert r.wait(10) is None
    assert r.last_error == "n must be between 1 and 10, got 12"
    assert events == ["start", "error:n must be between 1 and 10, got 12", "finish"]
    assert error_line(KeyError("x")) == "KeyError: 'x'"


def test_cancel_before_and_while_running() -> None:
    events: list[str] = []

    async def slow() -> None:
        await asyncio.sleep(30)

    async def main() -> None:
        r = _runner(events)
        r.start(slow)
        assert r.cancel()  # before its first step
        assert await r.join() is None
        r.start(slow)
        await asyncio.sleep(0.01)
        assert r.cancel()  # while awaiting
        assert await r.join() is None
        await asyncio.sleep(0)
        assert not r.running and not r.cancel()

    asyncio.run(main())
    assert events == ["start", "cancel", "finish", "start", "cancel", "finish"]
