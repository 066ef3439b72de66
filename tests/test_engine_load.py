"""Load: 50 concurrent mixed requests all answer correctly while /health stays responsive."""

from __future__ import annotations

import base64
import io

import anyio
import httpx
import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def _image(item: dict, client_get=None) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(item["b64_json"]))).convert("RGB"))


@pytest.mark.timeout(300)
def test_fifty_concurrent_mixed_requests(offline_engine, record_property) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
    rgba = np.dstack([base, np.full((256, 256), 255, np.uint8)])
    rgba[64:192, 64:192, 3] = 0
    edit_png, vary_png = _png(rgba), _png(base)
    headers = {"Authorization": f"Bearer {offline_engine.token}"}
    results: dict[int, str] = {}
    health_during_load: list[float] = []
    pending = {"n": 50}

    async def one(i: int, http: httpx.AsyncClient) -> None:
        kind = ("generate", "edit", "vary", "chat", "generate_url")[i % 5]
        n = 1 + i % 3
        if kind == "generate":
            r = await http.post(
                "/images/generations",
                json={
                    "prompt": f"scene {i}",
                    "n": n,
                    "size": "256x256",
                    "response_format": "b64_json",
                    "seed": i,
                },
            )
            assert r.status_code == 200, r.text
            imgs = [_image(d) for d in r.json()["data"]]
        elif kind == "generate_url":
            r = await http.post(
                "/images/generations", json={"prompt": f"lake {i}", "n": n, "size": "256x256"}
            )
            assert r.status_code == 200, r.text
            imgs = []
            for d in r.json()["data"]:
                got = await http.get(d["url"])
                assert got.status_code == 200
                imgs.append(np.asarray(Image.open(io.BytesIO(got.content)).convert("RGB")))
        elif kind == "edit":
            r = await http.post(
                "/images/edits",
                files={"image": ("i.png", edit_png, "image/png")},
                data={"prompt": "fill", "n": str(n), "size": "256x256", "response_format": "b64_json"},
            )
            assert r.status_code == 200, r.text
            imgs = [_image(d) for d in r.json()["data"]]
            for im in imgs:  # pixels outside the hole are untouched
                assert np.array_equal(im[:64], base[:64]) and np.array_equal(im[:, 192:], base[:, 192:])
        elif kind == "vary":
            r = await http.post(
                "/images/variations",
                files={"image": ("i.png", vary_png, "image/png")},
                data={"n": str(n), "size": "256x256", "response_format": "b64_json"},
            )
            assert r.status_code == 200, r.text
            imgs = [_image(d) for d in r.json()["data"]]
        else:
            r = await http.post(
                "/chat/completions",
                json={
                    "model": "openai/dall-e-2",
                    "n": n,
                    "size": "256x256",
                    "messages": [{"role": "user", "content": f"sunset {i}"}],
                },
            )
            assert r.status_code == 200, r.text
            parts = r.json()["choices"][0]["message"]["images"]
            imgs = [
                np.asarray(Image.open(io.BytesIO(base64.b64decode(p["image_url"]["url"].split(",")[1]))))
                for p in parts
            ]
        assert len(imgs) == n and all(im.shape[:2] == (256, 256) for im in imgs)
        results[i] = kind
        pending["n"] -= 1

    async def probe(http: httpx.AsyncClient) -> None:
        while pending["n"] > 0:
            start = anyio.current_time()
            r = await http.get(offline_engine.url + "/health")
            assert r.status_code == 200
            if pending["n"] > 0:
                health_during_load.append(anyio.current_time() - start)
            await anyio.sleep(0.2)

    async def main() -> None:
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(
            base_url=offline_engine.base_url, headers=headers, timeout=240, limits=limits
        ) as http:
            async with anyio.create_task_group() as tg:
                for i in range(50):
                    tg.start_soon(one, i, http)
                tg.start_soon(probe, http)

    anyio.run(main)
    assert len(results) == 50
    # The server answered health probes while backend jobs were still queued.
    assert len(health_during_load) >= 3
    record_property("health_probes_during_load", len(health_during_load))
    record_property("health_max_latency_ms", round(max(health_during_load) * 1000))
