"""The diffusers backend through HTTP: the real engine on 127.0.0.1, the official ``openai`` SDK.

Tiny random Kandinsky pipelines (built once per session, loaded from disk by the
backend's real loading path), the network blocked beyond loopback, the hub offline.
"""

from __future__ import annotations

import base64
import io
import json
import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from openai import OpenAI
from PIL import Image
from scipy import ndimage

from dalle_widgets.engine import background
from dalle_widgets.engine.backends.diffusers import DiffusersBackend
from dalle_widgets.engine.backends.diffusers.compose import FEATHER_PX
from dalle_widgets.engine.backends.errors import GenerationCancelled
from dalle_widgets.engine.background import BackgroundEngine

pytestmark = pytest.mark.usefixtures("no_network")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_engine(tiny_recipe: Path) -> Iterator[BackgroundEngine]:
    engine = BackgroundEngine.start(backend=DiffusersBackend(tiny_recipe))
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture
def sdk(model_engine: BackgroundEngine) -> OpenAI:
    return OpenAI(base_url=model_engine.base_url, api_key=model_engine.token, max_retries=0, timeout=120)


def pixels(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"))


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def picture(size: int = 256) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return np.stack([xx * 255 // size, 255 - yy * 255 // size, (xx ^ yy) & 255], -1).astype(np.uint8)


def test_generate_through_the_sdk(sdk: OpenAI) -> None:
    raw = sdk.images.with_raw_response.generate(
        model="dall-e-2",
        prompt="a watercolor fox",
        n=2,
        size="256x256",
        response_format="b64_json",
        extra_body={"seed": 21},
    )
    assert raw.headers["x-dalle-widgets-engine"] == "diffusers"
    first = [pixels(d.b64_json) for d in raw.parse().data]
    assert [a.shape for a in first] == [(256, 256, 3)] * 2 and not np.array_equal(first[0], first[1])
    again = sdk.images.generate(
        model="dall-e-2",
        prompt="a watercolor fox",
        n=2,
        size="256x256",
        response_format="b64_json",
        extra_body={"seed": 21},
    )
    assert all(np.array_equal(a, pixels(d.b64_json)) for a, d in zip(first, again.data, strict=True))
    other = sdk.images.generate(
        model="dall-e-2",
        prompt="a watercolor fox",
        size="256x256",
        response_format="b64_json",
        extra_body={"seed": 22},
    )
    assert np.array_equal(pixels(other.data[0].b64_json), first[1])  # image i is seeded seed + i


def test_edit_through_the_sdk_keeps_pixels_outside_the_mask(sdk: OpenAI) -> None:
    img = picture(256)
    hole = np.zeros((256, 256), bool)
    hole[40:120, 150:230] = True
    mask = np.dstack([img, np.where(hole, 0, 255).astype(np.uint8)])  # alpha 0 = edit
    result = sdk.images.edit(
        model="dall-e-2",
        image=("image.png", png(img), "image/png"),
        mask=("mask.png", png(mask), "image/png"),
        prompt="a hot air balloon",
        n=2,
        size="256x256",
        response_format="b64_json",
        extra_body={"seed": 4},
    )
    outside = ndimage.distance_transform_edt(~hole) > FEATHER_PX
    outs = [pixels(d.b64_json) for d in result.data]
    for out in outs:
        assert np.array_equal(out[outside], img[outside])
        assert np.abs(out[hole].astype(int) - img[hole]).mean() > 10
    assert not np.array_equal(outs[0], outs[1])


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the SDK marks dall-e-2's route
def test_vary_through_the_sdk(sdk: OpenAI) -> None:
    result = sdk.images.create_variation(
        model="dall-e-2",
        image=("image.png", png(picture(256)), "image/png"),
        n=2,
        size="512x512",
        response_format="b64_json",
        extra_body={"seed": 8},
    )
    outs = [pixels(d.b64_json) for d in result.data]
    assert [o.shape for o in outs] == [(512, 512, 3)] * 2 and not np.array_equal(outs[0], outs[1])


def test_background_engine_from_the_environment(tiny_recipe: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No key: the client starts the background engine with the configured backend and a long timeout."""
    from dalle_widgets import ImagesClient

    monkeypatch.setenv("DALLE_WIDGETS_ENGINE_BACKEND", "diffusers")
    monkeypatch.setenv("DALLE_WIDGETS_RECIPE", str(tiny_recipe))
    background.stop_background()
    try:
        client = ImagesClient()
        assert client.is_offline and client._settings.timeout.read == DiffusersBackend.client_timeout
        result = client.generate("a lighthouse", size="256x256", seed=1)
        assert result[0].info["engine"] == "diffusers" and result[0].image.size == (256, 256)
    finally:
        background.stop_background()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def test_serve_refuses_a_bad_recipe_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'family = "kandinsky2.2"\nprior = "p/q"\ndecoder = "p/r"\ninpaint = "p/s"\nnative_size = 100\n'
    )
    run = [sys.executable, "-m", "dalle_widgets", "serve", "--backend", "diffusers", "--port", "0"]
    out = subprocess.run(
        [*run, "--recipe", str(bad)], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        f"error: model recipe {bad}: native_size = 100 must be a multiple of 64 from 64 to 2048 "
        "(Kandinsky renders in 64 px blocks; 768 is the model's own size)"
    ]
    classical = subprocess.run(
        [sys.executable, "-m", "dalle_widgets", "serve", "--port", "0", "--recipe", str(bad)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert classical.returncode == 2 and "'classical' engine backend does not take recipe" in classical.stderr


TORCH_FREE = r"""
import sys, threading, time, httpx
import dalle_widgets
from dalle_widgets import ImagesClient, masks
assert "torch" not in sys.modules, "import dalle_widgets loaded torch"
from dalle_widgets.engine import cli
import io, contextlib
out = io.StringIO()
def serve():
    with contextlib.redirect_stdout(out):
        cli.main(["--backend", "classical", "--port", "0", "--token", "t0k3n-t0k3n"])
threading.Thread(target=serve, daemon=True).start()
for _ in range(600):
    if "OPENAI_BASE_URL=" in out.getvalue():
        break
    time.sleep(0.05)
base = out.getvalue().split("OPENAI_BASE_URL=")[1].split()[0]
client = ImagesClient(base_url=base, api_key="t0k3n-t0k3n")
client.generate("a lake", size="256x256")
from dalle_widgets.engine.backends import available_backends, get_backend
assert "diffusers" in available_backends()
heavy = sorted(m for m in ("torch", "diffusers", "transformers", "accelerate") if m in sys.modules)
sys.__stdout__.write(f"heavy: {heavy}\n")
"""


def test_import_and_classical_serve_load_no_torch(tmp_path: Path) -> None:
    env = _env()
    env["DALLE_WIDGETS_HOME"] = str(tmp_path / "home")
    out = subprocess.run(
        [sys.executable, "-c", TORCH_FREE], capture_output=True, text=True, env=env, timeout=180
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "heavy: []"


def test_constructing_the_diffusers_backend_loads_no_torch(tiny_recipe: Path) -> None:
    code = (
        "import sys\n"
        "from dalle_widgets.engine.backends import get_backend\n"
        f"b = get_backend('diffusers', recipe={str(tiny_recipe)!r})\n"
        "print(b.name, 'torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert out.stdout.strip() == "diffusers False", out.stderr


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_streamed_generation_shows_latent_previews_then_the_image(sdk: OpenAI) -> None:
    stream = sdk.images.generate(
        model="gpt-image-2",
        prompt="a lighthouse at dusk",
        size="1024x1024",
        quality="high",
        stream=True,
        partial_images=2,
        extra_body={"seed": 5},
    )
    events = list(stream)
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    partials = [pixels(e.b64_json) for e in events[:2]]
    final = pixels(events[-1].b64_json)
    assert final.shape == (1024, 1024, 3) and all(p.std() > 1 for p in partials)
    assert not np.array_equal(partials[0], partials[1])  # each preview shows its own step
    plain = sdk.images.generate(
        model="gpt-image-2",
        prompt="a lighthouse at dusk",
        size="1024x1024",
        quality="high",
        extra_body={"seed": 5},
    )
    assert np.array_equal(pixels(plain.data[0].b64_json), final)  # streaming changes no pixel


class Recorded(DiffusersBackend):
    """The real backend, recording the progress the engine asks it to report, and how each call ended."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.steps: list[int] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.ended: queue.Queue[BaseException | None] = queue.Queue()

    def generate(self, prompt, *, on_progress=None, **kwargs):
        def record(progress):
            self.steps.append(progress.done)
            self.started.set()
            assert self.release.wait(60)
            if on_progress is not None:
                on_progress(progress)

        try:
            images = super().generate(prompt, on_progress=record, **kwargs)
        except BaseException as exc:
            self.ended.put(exc)
            raise
        self.ended.put(None)
        return images


@pytest.fixture(scope="module")
def slow_engine(tiny_recipe: Path) -> Iterator[tuple[BackgroundEngine, Recorded]]:
    """The tiny recipe with 300 decoder steps at high quality: long enough to cancel in the middle."""
    from dalle_widgets.engine.backends.diffusers.recipe import load_recipe

    recipe = load_recipe(tiny_recipe)
    recipe = recipe.with_overrides(steps={**recipe.steps, "high": 300})
    backend = Recorded(recipe, max_queue=0)
    engine = BackgroundEngine.start(backend=backend)
    try:
        yield engine, backend
    finally:
        engine.stop()


def _raw_request(engine: BackgroundEngine, body: dict) -> socket.socket:
    data = json.dumps(body).encode()
    sock = socket.create_connection((engine.host, engine.port))
    sock.sendall(
        b"POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {engine.token}\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    return sock


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_goes_away_stops_the_generation_at_the_next_step(slow_engine, stream: bool) -> None:
    engine, backend = slow_engine
    backend.steps.clear()
    backend.started.clear()
    body = {"model": "gpt-image-2", "prompt": "a fox", "size": "1024x1024", "quality": "high", "seed": 1}
    if stream:
        body.update(stream=True, partial_images=3)
    sock = _raw_request(engine, body)
    assert backend.started.wait(60)
    sock.close()  # Cancel in a widget: the connection goes away
    ended = backend.ended.get(timeout=120)
    assert isinstance(ended, GenerationCancelled), ended
    prior_steps, steps = backend.recipe.steps_for("high")
    assert backend.steps[-1] < prior_steps + steps  # it stopped well before its 300 decoder steps
    # The device is free again: the next request runs (and completes) at once.
    sdk = OpenAI(base_url=engine.base_url, api_key=engine.token, max_retries=0, timeout=120)
    result = sdk.images.generate(model="dall-e-2", prompt="a fox", size="256x256", response_format="b64_json")
    assert pixels(result.data[0].b64_json).shape == (256, 256, 3)
    assert backend.ended.get(timeout=5) is None


def test_a_full_queue_answers_429_with_retry_after(slow_engine) -> None:
    engine, backend = slow_engine
    backend.started.clear()
    backend.release.clear()  # the first generation holds the device at its first step
    sdk = OpenAI(base_url=engine.base_url, api_key=engine.token, max_retries=0, timeout=120)
    holder = threading.Thread(
        target=lambda: sdk.images.generate(
            model="dall-e-2", prompt="a", size="256x256", response_format="b64_json"
        )
    )
    holder.start()
    try:
        assert backend.started.wait(60)
        raw = httpx.post(
            engine.base_url + "/images/generations",
            json={"model": "dall-e-2", "prompt": "b", "size": "256x256"},
            headers={"Authorization": f"Bearer {engine.token}"},
            timeout=60,
        )
        assert raw.status_code == 429 and int(raw.headers["retry-after"]) >= 1
        error = raw.json()["error"]
        assert error["code"] == "engine_busy" and "the model backend is busy" in error["message"]
    finally:
        backend.release.set()
        holder.join(60)
    while not backend.ended.empty():
        backend.ended.get()


def test_missing_weights_are_a_503_that_says_how_to_get_them(tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        'family = "kandinsky2.2"\nprior = "dalle-widgets-tests/gone-prior"\n'
        'decoder = "dalle-widgets-tests/gone"\ninpaint = "dalle-widgets-tests/gone-inpaint"\ndevice = "cpu"\n'
    )
    engine = BackgroundEngine.start(backend=DiffusersBackend(recipe))
    try:
        raw = httpx.post(
            engine.base_url + "/images/generations",
            json={"model": "dall-e-2", "prompt": "a fox", "size": "256x256"},
            headers={"Authorization": f"Bearer {engine.token}"},
            timeout=120,
        )
    finally:
        engine.stop()
    assert raw.status_code == 503 and raw.headers["x-should-retry"] == "false"
    error = raw.json()["error"]
    assert error["code"] == "backend_unavailable" and error["type"] == "server_error"
    assert "not on this machine" in error["message"] and "huggingface-cli download" in error["message"]
    assert "Traceback" not in raw.text
