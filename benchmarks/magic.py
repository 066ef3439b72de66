"""What the %dalle magic adds on top of the client, and what batch concurrency buys.

1. Overhead per call, in a real ``InteractiveShell``, on the request-cache replay path
   (no network, so the magic's own work shows): ``%dalle ... --no-show`` against the
   same ``client.generate(...)`` call made directly, and ``%dalle ... --dry-run``
   (parse, interpolate, validate, price) against ``client.prepare(...)``.
2. ``dalle_widgets.batch`` of 12 prompts against the fake OpenAI service (in-process,
   real sockets) answering each request after a fixed latency, at concurrency 1, 2
   and 4, against a plain loop of ``client.generate`` calls.

Usage: ``python benchmarks/magic.py [--calls 200] [--latency 0.25]``. Prints two tables.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _per_call(fn, calls: int) -> float:
    """Median seconds per call over 5 blocks of ``calls // 5`` calls."""
    block = max(1, calls // 5)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(block):
            fn()
        times.append((time.perf_counter() - start) / block)
    return statistics.median(times)


def overhead(base_url: str, calls: int) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "dalle_widgets")
    shell.run_line_magic("config", f"DalleMagics.base_url = {base_url!r}")
    magics = shell.magics_manager.registry["DalleMagics"]
    client = magics.client()
    line = "a watercolor fox --size 256x256 --no-show"
    shell.run_line_magic("dalle", line)  # fill the cache
    dry = line + " --dry-run"
    with capture_output():  # the dry run displays its request each time
        rows = [
            (
                "replay: %dalle --no-show",
                _per_call(lambda: shell.run_line_magic("dalle", line), calls),
                "client.generate",
                _per_call(lambda: client.generate("a watercolor fox", size="256x256"), calls),
            ),
            (
                "dry run: %dalle --dry-run",
                _per_call(lambda: shell.run_line_magic("dalle", dry), calls),
                "client.prepare",
                _per_call(lambda: client.prepare("generate", "a watercolor fox", size="256x256"), calls),
            ),
        ]
    print(f"\nmagic overhead per call (median of 5 blocks, {calls} calls each side)")
    print(f"{'magic':<28}{'ms':>8}   {'direct':<18}{'ms':>8}{'ratio':>8}")
    for name, t, peer, tp in rows:
        print(f"{name:<28}{t * 1e3:>8.2f}   {peer:<18}{tp * 1e3:>8.2f}{t / tp:>8.2f}")


def concurrency(latency: float) -> None:
    from dalle_widgets.batching import batch
    from dalle_widgets.client import ImagesClient
    from tests.fixtures.fake_openai import FAKE_KEY, FakeOpenAI

    server = FakeOpenAI().start()
    normal = server.default_answer

    def slow(req):  # the remote service's generation time
        time.sleep(latency)
        return normal(req)

    server.default_answer = slow
    prompts = [f"poster {i}, flat colours" for i in range(12)]
    rows = []
    with ImagesClient(api_key=FAKE_KEY, base_url=server.base_url, cache="off") as client:
        start = time.perf_counter()
        for p in prompts:
            client.generate(p, size="256x256")
        loop = time.perf_counter() - start
        rows.append(("loop of client.generate", loop))
        for k in (1, 2, 4):  # the fake server listens with a backlog of 5: more would measure that
            start = time.perf_counter()
            result = batch(
                prompts, size="256x256", concurrency=k, client=client, cache="refresh", progress=False
            )
            assert len(result.succeeded) == 12
            rows.append((f"batch, concurrency {k}", time.perf_counter() - start))
    server.stop()
    print(f"\nbatch of 12 prompts, fake service answering after {latency:.2f} s")
    print(f"{'how':<28}{'seconds':>8}{'vs loop':>9}")
    for name, t in rows:
        print(f"{name:<28}{t:>8.2f}{loop / t:>8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.25)
    args = parser.parse_args()
    os.environ["DALLE_WIDGETS_HOME"] = tempfile.mkdtemp(prefix="dalle-bench-magic-")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DALLE_WIDGETS_OFFLINE"):
        os.environ.pop(name, None)
    from tests.fixtures.fake_openai import FAKE_KEY, FakeOpenAI

    server = FakeOpenAI().start()
    os.environ["OPENAI_API_KEY"] = FAKE_KEY
    try:
        overhead(server.base_url, args.calls)
    finally:
        server.stop()
    concurrency(args.latency)


if __name__ == "__main__":
    main()
