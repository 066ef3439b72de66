"""The offline engine under hostile load: peak memory of waiting uploads, /health latency under chat load.

Two measurements on an engine started in its own process on 127.0.0.1 (classical backend,
the default two slots), each against a goal of issue 15:

1. **Memory**: 30 concurrent ``dall-e-2`` edits, each a PNG of about 75 KB that declares
   4096x4096 pixels (a transparent hole over a flat grey). Reported: the server's resident
   memory when idle (after one small warm-up edit), its peak (``VmHWM``) after one such edit
   alone, and its peak after the 30 at once. Goal: the peak under 30 stays within 2x of
   "idle plus the slots" = idle + slots x (one edit's peak - idle).
2. **Event loop**: 30 concurrent chat completions, each carrying a 1024x1024 noise PNG as
   a base64 data URL (about 4 MB of JSON, answered with about 2 MB of base64), while
   ``/health`` is polled every 20 ms on its own connection. Reported: /health p50 and p99.
   Goal: p99 under 100 ms.

Peer: the same load against the engine as it was before issue 15's server fixes, when
``--before REV`` names that commit (a temporary ``git worktree`` of it is run with this
environment's packages), e.g. ``python benchmarks/robustness.py --before 2ff8497``.

Usage: ``python benchmarks/robustness.py [--before REV] [--uploads 30] [--chats 30]``.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SLOTS = 2

_SERVER = """
import sys, time
from dalle_widgets.engine.background import BackgroundEngine
engine = BackgroundEngine.start(max_concurrency={slots})
print(engine.port, engine.token, flush=True)
time.sleep(3600)
"""


class Server:
    """An engine in its own process, from ``source`` (a checkout) or this tree."""

    def __init__(self, source: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(source)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER.format(slots=SLOTS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=source,
        )
        port, self.token = self.proc.stdout.readline().split()
        self.url = f"http://127.0.0.1:{port}"
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def memory(self, field: str) -> float:
        """``VmRSS`` (now) or ``VmHWM`` (peak) of the server process, in MB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(field)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def declared_4096_png() -> bytes:
    """A PNG of about 75 KB declaring 4096x4096 RGBA pixels: grey, with a transparent square hole."""
    side = 4096
    rows = bytearray()
    opaque = b"\x00" + bytes([128, 128, 128, 255]) * side
    holed = (
        b"\x00"
        + bytes([128, 128, 128, 255]) * (side // 4)
        + bytes(4 * side // 2)
        + bytes([128, 128, 128, 255]) * (side // 4)
    )
    for y in range(side):
        rows += holed if side // 4 <= y < 3 * side // 4 else opaque
    idat = zlib.compress(bytes(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = side.to_bytes(4, "big") * 2 + bytes([8, 6, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def small_edit_png() -> bytes:
    a = np.full((256, 256, 4), 128, np.uint8)
    a[64:192, 64:192, 3] = 0
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def edit(server: Server, png: bytes) -> int:
    r = httpx.post(
        server.url + "/v1/images/edits",
        files={"image": ("i.png", png, "image/png")},
        data={"prompt": "a lake", "size": "256x256", "response_format": "b64_json"},
        headers=server.headers,
        timeout=600,
    )
    return r.status_code


def memory_figures(server: Server, uploads: int) -> dict[str, float]:
    png = declared_4096_png()
    assert edit(server, small_edit_png()) == 200
    time.sleep(0.5)
    idle = server.memory("VmRSS")
    one_status = edit(server, png)
    one = server.memory("VmHWM")
    with concurrent.futures.ThreadPoolExecutor(uploads) as pool:
        statuses = list(pool.map(lambda _: edit(server, png), range(uploads)))
    peak = server.memory("VmHWM")
    return {
        "png_kb": len(png) / 1024,
        "idle": idle,
        "one": one,
        "peak": peak,
        "ok": sum(s == 200 for s in statuses) + (one_status == 200),
        "sent": uploads + 1,
    }


def chat_body() -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (1024, 1024, 3), dtype=np.uint8)).save(buf, "PNG", compress_level=1)
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    content = [{"type": "text", "text": "vary"}, {"type": "image_url", "image_url": {"url": url}}]
    import json

    return json.dumps({"model": "dall-e-2", "messages": [{"role": "user", "content": content}]}).encode()


def health_figures(server: Server, chats: int) -> dict[str, float]:
    body = chat_body()
    latencies: list[float] = []
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(timeout=60) as http:
            while not done.is_set():
                started = time.perf_counter()
                http.get(server.url + "/health")
                latencies.append(time.perf_counter() - started)
                time.sleep(0.02)

    def chat(_: int) -> int:
        headers = {**server.headers, "Content-Type": "application/json"}
        return httpx.post(
            server.url + "/v1/chat/completions", content=body, headers=headers, timeout=600
        ).status_code

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.3)
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(chats) as pool:
        statuses = list(pool.map(chat, range(chats)))
    elapsed = time.perf_counter() - started
    done.set()
    poller.join()
    ms = sorted(t * 1000 for t in latencies)
    return {
        "p50": statistics.median(ms),
        "p99": ms[min(len(ms) - 1, int(0.99 * len(ms)))],
        "max": ms[-1],
        "polls": len(ms),
        "ok": sum(s == 200 for s in statuses),
        "sent": chats,
        "seconds": elapsed,
        "body_mb": len(body) / 1e6,
    }


def measure(source: Path, uploads: int, chats: int) -> tuple[dict[str, float], dict[str, float]]:
    server = Server(source)
    try:
        mem = memory_figures(server, uploads)
    finally:
        server.close()
    server = Server(source)
    try:
        health = health_figures(server, chats)
    finally:
        server.close()
    return mem, health


def report(name: str, mem: dict[str, float], health: dict[str, float]) -> None:
    bound = mem["idle"] + SLOTS * (mem["one"] - mem["idle"])
    ratio = mem["peak"] / bound
    print(f"\n{name}")
    print(
        f"  memory: idle {mem['idle']:.0f} MB, one {mem['png_kb']:.0f} KB upload declaring 4096x4096 "
        f"{mem['one']:.0f} MB peak, {mem['sent'] - 1} at once {mem['peak']:.0f} MB peak "
        f"({mem['ok']}/{mem['sent']} answered 200)"
    )
    print(
        f"    idle + {SLOTS} slots = {bound:.0f} MB; peak / that = {ratio:.2f}x "
        f"(goal <= 2x: {'met' if ratio <= 2 else 'NOT met'})"
    )
    print(
        f"  /health under {health['sent']} chat requests ({health['body_mb']:.1f} MB each, "
        f"{health['ok']}/{health['sent']} answered 200 in {health['seconds']:.1f} s, "
        f"{health['polls']} polls): "
        f"p50 {health['p50']:.1f} ms, p99 {health['p99']:.1f} ms, max {health['max']:.0f} ms "
        f"(goal p99 < 100 ms: {'met' if health['p99'] < 100 else 'NOT met'})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", metavar="REV", help="also measure the engine at this commit (peer)")
    parser.add_argument("--uploads", type=int, default=30)
    parser.add_argument("--chats", type=int, default=30)
    args = parser.parse_args(argv)
    ours = measure(ROOT, args.uploads, args.chats)
    report("this tree", *ours)
    if args.before:
        with tempfile.TemporaryDirectory() as tmp:
            where = Path(tmp) / "before"
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), args.before],
                check=True,
                capture_output=True,
            )
            try:
                before = measure(where, args.uploads, args.chats)
            finally:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)], check=False
                )
        report(f"before ({args.before})", *before)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
