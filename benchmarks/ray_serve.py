"""The engine on Ray Serve against ``dalle-widgets serve``: overhead per request, throughput, cost.

Three servers of the same classical backend, each started as a user starts it (a
subprocess, 127.0.0.1): ``dalle-widgets serve``, ``serve --ray --replicas 1`` and
``serve --ray --replicas 2``. Against each:

- **latency**: ``--requests`` sequential ``images.generate`` at ``--size`` (256 px by default), ``b64_json``,
  through one keep-alive httpx client (median ms per request);
- **throughput**: a :func:`dalle_widgets.batch` of ``--requests`` prompts at
  concurrency 4 through the dalle-widgets client (images per second, store writes
  included, as a user's batch does);
- **start**: seconds from launch to the printed base URL; **memory**: the summed RSS of
  the command and every process it started (Ray's GCS, raylet, agents, workers), and
  how many processes that is.

Printed ratios: Serve per-request overhead = Ray (1 replica) latency / serve latency
(goal: under 1.10); scale = 2-replica throughput / 1-replica throughput (this machine
has 2 cores, so 2 is the ceiling, and the client and Serve's proxy share them).

Usage: ``python benchmarks/ray_serve.py [--requests 40] [--size 256x256]``. Needs the ``ray`` extra.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "bench-token"
BODY = {"model": "dall-e-2", "response_format": "b64_json"}


def start(args: list[str]) -> tuple[subprocess.Popen[str], str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dalle_widgets", "serve", "--port", "0", "--token", TOKEN, *args]
        + ["--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    base_url = None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        found = re.search(r"export OPENAI_BASE_URL=(\S+)", line)
        if found:
            base_url = found.group(1)
        if "Ctrl+C" in line:
            break
    if base_url is None:
        raise SystemExit(f"server {args} did not start:\n" + "".join(lines[-20:]))
    return proc, base_url, time.perf_counter() - began


def memory(proc: subprocess.Popen[str]) -> tuple[float, int]:
    procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**30, len(procs)


def latency_ms(base_url: str, requests: int, size: str) -> float:
    body = {**BODY, "size": size}
    times = []
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120) as http:
        http.post(base_url + "/images/generations", json={**body, "prompt": "warm up"}).raise_for_status()
        for i in range(requests):
            began = time.perf_counter()
            http.post(
                base_url + "/images/generations", json={**body, "prompt": f"latency {i}"}
            ).raise_for_status()
            times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def throughput(base_url: str, requests: int, tag: str, size: str) -> float:
    import dalle_widgets
    from dalle_widgets import ImagesClient

    os.environ["DALLE_WIDGETS_HOME"] = tempfile.mkdtemp(prefix="bench-ray-")
    prompts = [f"a lighthouse {tag} {i}" for i in range(requests)]
    client = ImagesClient(base_url=base_url, api_key=TOKEN)
    began = time.perf_counter()
    result = dalle_widgets.batch(prompts, size=size, concurrency=4, client=client, progress=False)
    elapsed = time.perf_counter() - began
    assert not result.failed, result.summary()
    return requests / elapsed


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument(
        "--size",
        default="256x256",
        choices=("256x256", "512x512", "1024x1024"),
        help="image size: the fixed cost of the Serve hop weighs less on a longer request",
    )
    args = parser.parse_args()
    rows = []
    for name, flags in (
        ("serve", []),
        ("serve --ray --replicas 1", ["--ray", "--replicas", "1"]),
        ("serve --ray --replicas 2", ["--ray", "--replicas", "2"]),
    ):
        proc, base_url, started = start(flags)
        try:
            gib, count = memory(proc)
            lat = latency_ms(base_url, args.requests, args.size)
            rate = throughput(base_url, args.requests, name, args.size)
        finally:
            stop(proc)
        rows.append((name, started, gib, count, lat, rate))
        print(f"  {name}: started in {started:.1f} s", flush=True)
    load, cores = os.getloadavg()[0], os.cpu_count()
    print(f"\n{args.size}, {args.requests} requests; load average at the end: {load:.1f} on {cores} cores")
    print(f"{'server':28} {'start s':>8} {'RSS GiB':>8} {'procs':>6} {'ms/req':>8} {'img/s @4':>9}")
    for name, started, gib, count, lat, rate in rows:
        print(f"{name:28} {started:8.1f} {gib:8.2f} {count:6d} {lat:8.1f} {rate:9.2f}")
    serve, one, two = rows
    print(f"\nServe overhead per request (1 replica / serve): {one[4] / serve[4]:.2f}x (goal < 1.10)")
    print(f"  = {one[4] - serve[4]:.1f} ms per request added by the Serve path (about fixed)")
    print(f"throughput, 2 replicas / 1 replica: {two[5] / one[5]:.2f}x")
    print(f"throughput, 2 replicas / serve: {two[5] / serve[5]:.2f}x")


if __name__ == "__main__":
    main()
