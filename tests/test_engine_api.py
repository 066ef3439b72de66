"""The engine over real sockets, driven by the official ``openai`` SDK (conformance checks S1-S19)."""

from __future__ import annotations

import base64
import io
import json
import time

import httpx
import numpy as np
import pytest
from openai import OpenAI
from PIL import Image


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def photo(size: int = 256, alpha: bool = False) -> np.ndarray:
    """A structured test picture: gradient, stripes and a disc."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.stack([xx * 255, yy * 255, 128 + 100 * np.sin(xx * 30)], -1)
    img[(xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.04] = (250, 250, 40)
    img = img.astype(np.uint8)
    if alpha:
        img = np.dstack([img, np.full((size, size), 255, np.uint8)])
    return img


def decode(item) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(item.b64_json)))


@pytest.fixture(scope="module")
def sdk(offline_engine) -> OpenAI:
    return OpenAI(api_key=offline_engine.token, base_url=offline_engine.base_url, max_retries=0)


def test_generate_default_is_one_url_at_1024(sdk: OpenAI, offline_engine) -> None:
    before = int(time.time())
    result = sdk.images.generate(prompt="a red sunset over the ocean", model="dall-e-2")
    assert before - 2 <= result.created <= int(time.time()) + 2
    assert len(result.data) == 1
    item = result.data[0]
    assert item.url and item.b64_json is None
    assert item.url.startswith(offline_engine.url + "/images/")
    png = httpx.get(item.url)  # no key needed for served URLs
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(png.content))
    assert img.size == (1024, 1024)
    meta = json.loads(img.info["dalle_widgets_engine"])
    assert meta["engine"] == "dalle-widgets offline engine" and meta["operation"] == "generate"


@pytest.mark.parametrize("n", [1, 10])
def test_generate_n_b64(sdk: OpenAI, n: int) -> None:
    result = sdk.images.generate(prompt="calm blue lake", n=n, size="256x256", response_format="b64_json")
    assert len(result.data) == n
    images = [decode(d) for d in result.data]
    assert all(d.url is None for d in result.data)
    assert all(im.size == (256, 256) and im.format == "PNG" for im in images)
    arrays = [np.asarray(im) for im in images]
    assert len({a.tobytes() for a in arrays}) == n  # every image of a request differs


def test_generate_same_seed_same_pixels(sdk: OpenAI) -> None:
    kw = dict(prompt="snowy mountains at night", size="256x256", response_format="b64_json")
    a = decode(sdk.images.generate(**kw, extra_body={"seed": 5}).data[0])
    b = decode(sdk.images.generate(**kw, extra_body={"seed": 5}).data[0])
    c = decode(sdk.images.generate(**kw, extra_body={"seed": 6}).data[0])
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_generate_prompt_limits(sdk: OpenAI) -> None:
    ok = sdk.images.generate(prompt="x" * 1000, size="256x256", response_format="b64_json")
    assert len(ok.data) == 1
    with pytest.raises(Exception) as info:
        sdk.images.generate(prompt="x" * 1001, size="256x256")
    assert info.value.status_code == 400 and info.value.body["param"] == "prompt"


def test_nulls_mean_defaults(offline_engine) -> None:
    body = {
        "prompt": "a forest",
        "n": None,
        "size": None,
        "response_format": None,
        "model": None,
        "quality": None,
    }
    r = httpx.post(
        offline_engine.base_url + "/images/generations",
        json=body,
        headers={"Authorization": f"Bearer {offline_engine.token}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert "url" in r.json()["data"][0]


@pytest.mark.parametrize("size", ["256x256", "512x512", "1024x1024"])
def test_edit_keeps_pixels_outside_mask(sdk: OpenAI, size: str) -> None:
    side = int(size.split("x")[0])
    image = photo(side)
    mask = np.dstack([image, np.full((side, side), 255, np.uint8)])
    mask[:, side // 2 :, 3] = 0  # right half transparent = edit
    result = sdk.images.edit(
        image=("image.png", png_bytes(image), "image/png"),
        mask=("mask.png", png_bytes(mask), "image/png"),
        prompt="the same picture",
        size=size,
        response_format="b64_json",
        n=2,
    )
    assert len(result.data) == 2
    out = np.asarray(decode(result.data[0]).convert("RGB")).astype(int)
    keep = np.zeros((side, side), bool)
    keep[:, : side // 2] = True
    assert np.abs(out[keep] - image[keep]).max() == 0
    assert np.abs(out[~keep] - image[~keep]).mean() > 1  # the edited half did change
    assert out.shape == (side, side, 3)


def test_edit_without_mask_uses_image_alpha_and_resizes(sdk: OpenAI) -> None:
    image = photo(512, alpha=True)
    image[100:200, 100:200, 3] = 0
    result = sdk.images.edit(
        image=("image.png", png_bytes(image), "image/png"),
        prompt="fill it",
        size="256x256",
        response_format="b64_json",
    )
    out = decode(result.data[0])
    assert out.size == (256, 256)


def test_edit_fields_in_any_order_and_n_as_text(offline_engine) -> None:
    image = photo(256, alpha=True)
    image[:64, :64, 3] = 0
    files = [
        ("mask", ("m.png", png_bytes(image), "image/png")),
        ("image", ("i.png", png_bytes(image), "image/png")),
    ]
    r = httpx.post(
        offline_engine.base_url + "/images/edits",
        files=files,
        data={"n": "2", "prompt": "order", "response_format": "b64_json", "size": "256x256"},
        headers={"Authorization": f"Bearer {offline_engine.token}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert len(r.json()["data"]) == 2


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")
def test_variations(sdk: OpenAI) -> None:
    image = photo(512)
    result = sdk.images.create_variation(
        image=("image.png", png_bytes(image), "image/png"), n=3, size="256x256", response_format="b64_json"
    )
    arrays = [np.asarray(decode(d).convert("RGB")) for d in result.data]
    assert len(arrays) == 3 and all(a.shape == (256, 256, 3) for a in arrays)
    assert len({a.tobytes() for a in arrays}) == 3
    small = np.asarray(Image.fromarray(image).resize((256, 256))).astype(float)
    for a in arrays:  # recognisably derived: same overall colours
        assert np.abs(a.astype(float).mean(axis=(0, 1)) - small.mean(axis=(0, 1))).max() < 60


def test_models_list_and_retrieve(sdk: OpenAI) -> None:
    ids = [m.id for m in sdk.models.list()]
    assert ids[0] == "dall-e-2"  # the engine's default stays first
    assert {"gpt-image-2", "gpt-image-2-2026-04-21", "gpt-image-2.5-flare", "gpt-image-2.6-sunburst"} <= set(
        ids
    )
    assert sdk.models.retrieve("dall-e-2").id == "dall-e-2"
    assert sdk.models.retrieve("gpt-image-2.6-flare").id == "gpt-image-2.6-flare"
    with pytest.raises(Exception) as info:
        sdk.models.retrieve("dall-e-3")
    assert info.value.status_code == 404 and info.value.code == "model_not_found"


def test_provider_prefixed_model_is_accepted(sdk: OpenAI) -> None:
    r = sdk.images.generate(
        prompt="dusk", model="openai/dall-e-2", size="256x256", response_format="b64_json"
    )
    assert len(r.data) == 1


def test_unknown_model_is_404(sdk: OpenAI) -> None:
    with pytest.raises(Exception) as info:
        sdk.images.generate(prompt="dusk", model="dall-e-3", size="256x256")
    assert info.value.status_code == 404 and info.value.code == "model_not_found"


def test_health_and_request_ids(offline_engine) -> None:
    a = httpx.get(offline_engine.url + "/health")
    b = httpx.get(offline_engine.url + "/health")
    assert a.status_code == 200 and a.json()["status"] == "ok"
    assert (
        a.headers["x-request-id"].startswith("req_")
        and a.headers["x-request-id"] != b.headers["x-request-id"]
    )


def test_request_id_reaches_sdk(sdk: OpenAI) -> None:
    raw = sdk.images.with_raw_response.generate(prompt="x", size="256x256", response_format="b64_json")
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.headers["x-dalle-widgets-engine"] == "classical"


def test_chat_route_generates_data_urls(sdk: OpenAI) -> None:
    r = sdk.chat.completions.create(
        model="openai/dall-e-2",
        messages=[{"role": "user", "content": "a sunset"}],
        extra_body={"modalities": ["image", "text"], "n": 2, "size": "256x256"},
    )
    images = r.choices[0].message.model_extra["images"]
    assert len(images) == 2
    url = images[0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert img.size == (256, 256)


def test_chat_route_edit_and_vary(offline_engine) -> None:
    image = photo(256, alpha=True)
    image[:, 128:, 3] = 0
    data_url = "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()
    opaque = "data:image/png;base64," + base64.b64encode(png_bytes(photo(256))).decode()
    headers = {"Authorization": f"Bearer {offline_engine.token}"}
    for url, op in ((data_url, "edit"), (opaque, "vary")):
        body = {
            "model": "openai/dall-e-2",
            "modalities": ["image", "text"],
            "size": "256x256",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "continue"},
                        {"type": "image_url", "image_url": {"url": url}},
                    ],
                }
            ],
        }
        r = httpx.post(offline_engine.base_url + "/chat/completions", json=body, headers=headers, timeout=60)
        assert r.status_code == 200, r.text
        out = r.json()["choices"][0]["message"]["images"][0]["image_url"]["url"]
        img = Image.open(io.BytesIO(base64.b64decode(out.split(",", 1)[1])))
        assert json.loads(img.info["dalle_widgets_engine"])["operation"] == op
        if op == "edit":
            arr = np.asarray(img.convert("RGB"))
            assert np.array_equal(arr[:, :128], image[:, :128, :3])


def test_served_url_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient

    from dalle_widgets.engine import create_app

    app = create_app(token="tok", url_ttl=0.2)
    with TestClient(app) as http:
        r = http.post(
            "/v1/images/generations",
            json={"prompt": "x", "size": "256x256"},
            headers={"Authorization": "Bearer tok"},
        )
        path = httpx.URL(r.json()["data"][0]["url"]).path
        assert http.get(path).status_code == 200
        time.sleep(0.3)
        gone = http.get(path)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def test_rate_limit_simulation() -> None:
    from starlette.testclient import TestClient

    from dalle_widgets.engine import create_app

    app = create_app(token="tok", images_per_minute=2)
    with TestClient(app) as http:
        h = {"Authorization": "Bearer tok"}
        assert (
            http.post(
                "/v1/images/generations", json={"prompt": "x", "size": "256x256", "n": 2}, headers=h
            ).status_code
            == 200
        )
        r = http.post("/v1/images/generations", json={"prompt": "x", "size": "256x256"}, headers=h)
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["code"] == "rate_limit_exceeded"
