"""Per-request cost of ImagesClient / AsyncImagesClient against the official openai SDK.

Both talk to the same local fake OpenAI server (tests/fixtures/fake_openai.py, run in a
separate process so it does not compete for this process's GIL), asking for
``images.generate(model="dall-e-2", size="256x256", n=1, response_format="b64_json")``:
200 sequential requests and 200 at concurrency 10 (threads for the sync clients, asyncio
tasks for the async ones). Every prompt is unique, so dalle-widgets does its full work on
each request: validation, decoding and checking the image, writing it with provenance to
the store, and writing the request-cache entry. The SDK only parses the JSON.

Two payloads: ``solid`` (a flat 256 px PNG, ~1 KB: client overhead dominates) and
``noise`` (a 256 px noise PNG, ~190 KB: like a real image, decoding and disk writes show).

Usage: ``python benchmarks/client.py [--requests 200] [--concurrency 10]``.
SDK and dalle-widgets run in alternating blocks of ``--block`` requests, so that load from
other processes hits both sides alike; times and ratio are medians over the blocks.
Prints a table; ratio = dalle-widgets time / SDK time (below 1.0 means faster).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FAKE_KEY = "sk-test-FAKEKEY-0123456789abcdefSECRET"


def start_server(payload: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.fake_openai", "--payload", payload],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert proc.stdout is not None
    base_url = proc.stdout.readline().strip()
    if not base_url.startswith("http"):
        proc.kill()
        raise SystemExit(f"fake server did not start (said {base_url!r})")
    return proc, base_url


def run_sync(call, total: int, concurrency: int) -> float:
    """Seconds per request for ``total`` calls of ``call(i)``, ``concurrency`` at a time."""
    start = time.perf_counter()
    if concurrency == 1:
        for i in range(total):
            call(i)
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(call, range(total)))
    return (time.perf_counter() - start) / total


async def run_async(call, total: int, concurrency: int) -> float:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await call(i)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(total)))
    return (time.perf_counter() - start) / total


def interleaved(pairs: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Median seconds per request for each side, and the median of the per-block ratios."""
    sdk = statistics.median(p[0] for p in pairs)
    ours = statistics.median(p[1] for p in pairs)
    return sdk, ours, statistics.median(p[1] / p[0] for p in pairs)


def measure(base_url: str, total: int, concurrency: int, block: int, tag: str) -> dict[str, tuple]:
    """Run SDK and dalle-widgets in alternating blocks (so load changes hit both sides alike)."""
    import openai

    from dalle_widgets.client import AsyncImagesClient, ImagesClient

    kwargs = dict(model="dall-e-2", size="256x256", n=1, response_format="b64_json")
    results: dict[str, tuple] = {}
    sdk = openai.OpenAI(api_key=FAKE_KEY, base_url=base_url)
    ours = ImagesClient(api_key=FAKE_KEY, base_url=base_url)
    counter = iter(range(10**9))
    blocks = max(1, total // block)

    def sdk_call(i: int) -> None:
        response = sdk.images.generate(prompt=f"{tag} sdk {next(counter)}", **kwargs)
        assert response.data and response.data[0].b64_json

    def our_call(i: int) -> None:
        result = ours.generate(f"{tag} ours {next(counter)}", size="256x256", n=1)
        assert result[0].path is not None

    async def run_both_async(conc: int) -> tuple[float, float, float]:
        asdk = openai.AsyncOpenAI(api_key=FAKE_KEY, base_url=base_url)
        aours = AsyncImagesClient(api_key=FAKE_KEY, base_url=base_url)

        async def asdk_call(i: int) -> None:
            response = await asdk.images.generate(prompt=f"{tag} asdk {next(counter)}", **kwargs)
            assert response.data and response.data[0].b64_json

        async def aour_call(i: int) -> None:
            result = await aours.generate(f"{tag} aours {next(counter)}", size="256x256", n=1)
            assert result[0].path is not None

        for warm in (asdk_call, aour_call):  # connection set-up and first-call imports
            for i in range(conc):
                await warm(i)
        pairs = []
        for b in range(blocks):
            if b % 2:
                o = await run_async(aour_call, block, conc)
                s = await run_async(asdk_call, block, conc)
            else:
                s = await run_async(asdk_call, block, conc)
                o = await run_async(aour_call, block, conc)
            pairs.append((s, o))
        await asdk.close()
        await aours.aclose()
        return interleaved(pairs)

    for warm in (sdk_call, our_call):
        for i in range(concurrency):
            warm(i)
    for conc in (1, concurrency):
        pairs = []
        for b in range(blocks):
            first, second = (our_call, sdk_call) if b % 2 else (sdk_call, our_call)
            t1, t2 = run_sync(first, block, conc), run_sync(second, block, conc)
            pairs.append((t2, t1) if b % 2 else (t1, t2))
        results[f"sync c={conc}"] = interleaved(pairs)
        results[f"async c={conc}"] = asyncio.run(run_both_async(conc))
    sdk.close()
    ours.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--block", type=int, default=10, help="requests per alternating block")
    parser.add_argument("--payload", choices=["solid", "noise", "both"], default="both")
    args = parser.parse_args()
    os.environ["DALLE_WIDGETS_HOME"] = tempfile.mkdtemp(prefix="dalle-bench-")
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DALLE_WIDGETS_OFFLINE"):
        os.environ.pop(var, None)
    payloads = ["solid", "noise"] if args.payload == "both" else [args.payload]
    import httpx
    import openai

    print(
        f"dalle-widgets client vs openai {openai.__version__} SDK; {args.requests} requests per cell; "
        f"httpx {httpx.__version__}; python {sys.version.split()[0]}; {os.cpu_count()} CPUs"
    )
    print(f"{'payload':8} {'mode':12} {'SDK ms/req':>11} {'ours ms/req':>12} {'ratio':>7}  (medians)")
    ratios = []
    for payload in payloads:
        proc, base_url = start_server(payload)
        try:
            results = measure(base_url, args.requests, args.concurrency, args.block, payload)
        finally:
            proc.kill()
            proc.wait()
        for mode, (sdk_s, ours_s, ratio) in results.items():
            ratios.append(ratio)
            print(f"{payload:8} {mode:12} {sdk_s * 1000:11.2f} {ours_s * 1000:12.2f} {ratio:6.2f}x")
    print(f"geometric mean ratio: {statistics.geometric_mean(ratios):.2f}x (goal: at or below 1.0x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
