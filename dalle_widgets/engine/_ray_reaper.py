"""A watchdog that stops what a killed ``serve --ray`` leaves behind.

When the process that started a local Ray is killed outright (SIGKILL, the OOM
killer), Ray's GCS, raylet and workers go down with it, but its dashboard agent and
runtime-env agent keep running, holding ports and memory. No handler runs on
SIGKILL, so ``serve --ray`` starts this watchdog beside itself: a small process in
its own session that notes, every ``interval`` seconds, the processes descended from
the server, and reads a pipe from it. The pipe closes when the server's process ends,
however it ends; the watchdog then terminates whichever of the noted processes still
run (matched by pid *and* start time, so a reused pid is never hit) and exits.

Run as ``python -m dalle_widgets.engine._ray_reaper PID`` with the pipe on stdin;
:func:`start_reaper` does that.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import IO, Any

__all__ = ["reap", "start_reaper"]


def _tree(pid: int) -> dict[int, float]:
    """``{pid: create_time}`` of the descendants of ``pid`` (empty once it is gone)."""
    import psutil

    try:
        children = psutil.Process(pid).children(recursive=True)
        return {p.pid: p.create_time() for p in children if p.pid != os.getpid()}
    except psutil.Error:
        return {}


def reap(noted: dict[int, float], grace: float = 3.0) -> list[int]:
    """Terminate (then kill) the noted processes that still run; return their pids."""
    import psutil

    alive = []
    for pid, created in noted.items():
        try:
            proc = psutil.Process(pid)
            if proc.create_time() == created:
                alive.append(proc)
        except psutil.Error:
            continue
    for proc in alive:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    _, still = psutil.wait_procs(alive, timeout=grace)
    for proc in still:
        try:
            proc.kill()
        except psutil.Error:
            pass
    return [p.pid for p in alive]


def watch(pid: int, pipe: IO[bytes], interval: float = 1.0) -> list[int]:
    """Note ``pid``'s descendants until ``pipe`` reaches EOF, then reap the noted ones."""
    noted: dict[int, float] = {}
    closed = threading.Event()

    def wait_for_eof() -> None:
        while pipe.read(1024):
            pass
        closed.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    while not closed.is_set():
        noted.update(_tree(pid))
        closed.wait(interval)
    return reap(noted)


def start_reaper() -> subprocess.Popen[Any]:
    """Start the watchdog for this process; it acts when this process's end closes its pipe."""
    return subprocess.Popen(
        [sys.executable, "-m", __name__, str(os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl+C or a group kill of the server leaves it to clean up
    )


if __name__ == "__main__":  # pragma: no cover - exercised as a subprocess by the tests
    watch(int(sys.argv[1]), sys.stdin.buffer)
