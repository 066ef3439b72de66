"""Round trips: this package's own client (sync and async, both protocols) against the real engine."""

from __future__ import annotations

import anyio
import numpy as np
import pytest

from dalle_widgets.client import AsyncImagesClient, ImagesClient


def picture(size: int = 256) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.stack([xx * 255, yy * 255, 128 + 100 * np.sin(xx * 20)], -1).astype(np.uint8)
    img[size // 3 : size // 2, size // 3 : size // 2] = (240, 240, 40)
    return img


def half_mask(size: int = 256) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[:, size // 2 :] = True
    return mask


@pytest.fixture
def client(offline_engine):
    with ImagesClient(api_key=offline_engine.token, base_url=offline_engine.base_url, cache="off") as c:
        yield c


@pytest.fixture
def chat_client(offline_engine):
    with ImagesClient(
        api_key=offline_engine.token, base_url=offline_engine.base_url, protocol="chat", cache="off"
    ) as c:
        yield c


@pytest.mark.parametrize("response_format", ["url", "b64_json"])
def test_images_protocol_all_operations(client: ImagesClient, response_format: str) -> None:
    gen = client.generate(
        "a red sunset over the ocean", n=2, size="256x256", response_format=response_format, seed=1
    )
    assert len(gen) == 2 and all(g.image.size == (256, 256) for g in gen)
    assert gen[0].path is not None and gen[0].path.exists()  # stored before returned
    image = picture()
    edited = client.edit(
        image, "the same picture", mask=half_mask(), size="256x256", response_format=response_format, seed=2
    )
    out = np.asarray(edited[0].image.convert("RGB"))
    assert np.array_equal(out[:, :128], image[:, :128])  # outside the mask: unchanged
    varied = client.vary(image, n=3, size="256x256", response_format=response_format, seed=3)
    assert len(varied) == 3 and len({np.asarray(v.image).tobytes() for v in varied}) == 3


def test_url_and_b64_give_the_same_pixels(client: ImagesClient) -> None:
    a = client.generate("snowy mountains at night", size="256x256", response_format="url", seed=9)
    b = client.generate("snowy mountains at night", size="256x256", response_format="b64_json", seed=9)
    assert np.array_equal(np.asarray(a[0].image), np.asarray(b[0].image))


def test_models(client: ImagesClient) -> None:
    ids = client.models()
    assert ids[0] == "dall-e-2" and "gpt-image-2" in ids


def test_chat_protocol_all_operations(chat_client: ImagesClient) -> None:
    gen = chat_client.generate("a calm lake", n=2, seed=4, extra_body={"size": "256x256"})
    assert len(gen) == 2 and gen[0].image.size == (256, 256)
    image = picture()
    edited = chat_client.edit(
        image, "fill the right half", mask=half_mask(), seed=5, extra_body={"size": "256x256"}
    )
    out = np.asarray(edited[0].image.convert("RGB"))
    assert np.array_equal(out[:, :128], image[:, :128])
    varied = chat_client.vary(image, n=2, seed=6, extra_body={"size": "256x256"})
    assert len(varied) == 2


def test_chat_default_size_is_1024(chat_client: ImagesClient) -> None:
    gen = chat_client.generate("dusk over a city", seed=7)
    assert gen[0].image.size == (1024, 1024)


@pytest.mark.parametrize("protocol", ["images", "chat"])
def test_async_client(offline_engine, protocol: str) -> None:
    async def main() -> None:
        async with AsyncImagesClient(
            api_key=offline_engine.token, base_url=offline_engine.base_url, protocol=protocol, cache="off"
        ) as c:
            extra = {"size": "256x256"} if protocol == "chat" else None
            size = None if protocol == "chat" else "256x256"
            gen, var = await _gather(
                c.generate("a forest", n=2, size=size, seed=1, extra_body=extra),
                c.vary(picture(), size=size, seed=2, extra_body=extra),
            )
            assert len(gen) == 2 and len(var) == 1
            edited = await c.edit(picture(), "edit", mask=half_mask(), size=size, seed=3, extra_body=extra)
            assert np.array_equal(np.asarray(edited[0].image.convert("RGB"))[:, :128], picture()[:, :128])

    anyio.run(main)


async def _gather(*coros):
    results = [None] * len(coros)

    async def run(i, coro):
        results[i] = await coro

    async with anyio.create_task_group() as tg:
        for i, coro in enumerate(coros):
            tg.start_soon(run, i, coro)
    return results


def test_no_key_uses_the_real_engine(caplog: pytest.LogCaptureFixture, monkeypatch) -> None:
    from dalle_widgets.client import _config
    from dalle_widgets.engine import background

    monkeypatch.setattr(_config, "_offline_announced", False)
    with caplog.at_level("WARNING", logger="dalle_widgets"):
        with ImagesClient(cache="off") as c:
            assert c.is_offline and c.base_url.startswith("http://127.0.0.1:")
            result = c.generate("a lake at dawn", size="256x256", seed=1)
            assert result[0].image.size == (256, 256)
    assert any("using the offline engine at http://127.0.0.1:" in r.getMessage() for r in caplog.records)
    assert background.start_background().base_url.rstrip("/") == c.base_url.rstrip("/")


def test_offline_flag_wins_over_a_key(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-be-used-000000")
    monkeypatch.setenv("DALLE_WIDGETS_OFFLINE", "1")
    with ImagesClient(cache="off") as c:
        assert c.is_offline
        assert len(c.generate("a lake", size="256x256")) == 1
