"""Streamed generations from the offline engine: time to the first preview and to the final image.

One engine (the classical backend, on 127.0.0.1 in this process's background thread) serves
``images.generate(model="gpt-image-2", stream=True, partial_images=3)`` for a scene prompt
(three coarse-to-fine previews) to two clients:

* ``sdk``: the official ``openai`` SDK, iterating its event stream;
* ``dalle-widgets``: ``ImagesClient.generate(..., stream=True)``, which also decodes every
  preview and writes the final image with its provenance to the store before yielding it.

For each size it reports the median time to the first ``partial_image`` event, to the
``completed`` event, and the same request without streaming (SDK), over alternating blocks
so that load from other processes hits both clients alike; ratio = dalle-widgets / SDK.

Usage: ``python benchmarks/streaming.py [--runs 6] [--sizes 1024x1024 1536x1024 3840x2160]``.
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

PROMPT = "a calm lake under snowy mountains at dawn"


def sdk_stream(sdk, size: str, seed: int) -> tuple[float, float]:
    start = time.perf_counter()
    first = None
    for event in sdk.images.generate(
        model="gpt-image-2",
        prompt=PROMPT,
        size=size,
        stream=True,
        partial_images=3,
        extra_body={"seed": seed},
    ):
        if first is None and event.type.endswith("partial_image"):
            first = time.perf_counter() - start
    return first or float("nan"), time.perf_counter() - start


def ours_stream(client, size: str, seed: int) -> tuple[float, float]:
    start = time.perf_counter()
    first = None
    for event in client.generate(
        PROMPT, model="gpt-image-2", size=size, stream=True, partial_images=3, seed=seed
    ):
        if first is None and event.type == "partial":
            first = time.perf_counter() - start
    return first or float("nan"), time.perf_counter() - start


def sdk_plain(sdk, size: str, seed: int) -> float:
    start = time.perf_counter()
    sdk.images.generate(model="gpt-image-2", prompt=PROMPT, size=size, extra_body={"seed": seed})
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6, help="requests per client and size")
    parser.add_argument("--sizes", nargs="+", default=["1024x1024", "1536x1024", "3840x2160"])
    args = parser.parse_args(argv)
    os.environ["DALLE_WIDGETS_HOME"] = tempfile.mkdtemp(prefix="dalle-bench-")

    from openai import OpenAI

    from dalle_widgets import ImagesClient
    from dalle_widgets.engine.background import BackgroundEngine

    engine = BackgroundEngine.start()
    try:
        sdk = OpenAI(api_key=engine.token, base_url=engine.base_url, max_retries=0, timeout=300)
        ours = ImagesClient(api_key=engine.token, base_url=engine.base_url, cache="off")
        sdk_stream(sdk, "1024x1024", 0)  # warm both paths
        ours_stream(ours, "1024x1024", 0)
        print(f"gpt-image-2, partial_images=3, {args.runs} runs per client and size (medians, seconds)")
        print(f"{'size':>10} {'client':>14} {'first preview':>14} {'final image':>12} {'not streamed':>13}")
        for size in args.sizes:
            times: dict[str, list[tuple[float, float]]] = {"sdk": [], "dalle-widgets": []}
            plain = []
            for run in range(args.runs):  # alternate, so background load hits both alike
                times["sdk"].append(sdk_stream(sdk, size, run))
                times["dalle-widgets"].append(ours_stream(ours, size, run))
                plain.append(sdk_plain(sdk, size, run))
            medians = {
                name: (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts))
                for name, ts in times.items()
            }
            for name, (first, final) in medians.items():
                extra = f"{statistics.median(plain):13.2f}" if name == "sdk" else ""
                print(f"{size:>10} {name:>14} {first:14.2f} {final:12.2f} {extra}")
            (sf, sl), (of, ol) = medians["sdk"], medians["dalle-widgets"]
            print(f"{size:>10} {'ratio':>14} {of / sf:14.2f} {ol / sl:12.2f}")
        ours.close()
    finally:
        engine.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
