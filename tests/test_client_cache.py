"""The request cache through the client: replay instead of paying twice, unless told otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from dalle_widgets.client import ImagesClient
from tests.fixtures.fake_openai import FAKE_KEY


def test_identical_request_replays_without_sending(twin, fake_openai) -> None:
    client = twin()
    first = client.generate("a fox", n=2, size="256x256", seed=3)
    again = client.generate("a fox", n=2, size="256x256", seed=3)
    assert len(fake_openai.api_requests()) == 1
    assert again.cached and again.cost_usd == 0.0 and not first.cached
    assert [im.path for im in again] == [im.path for im in first]
    assert [im.png for im in again] == [im.png for im in first]
    assert again.request_id == first.request_id


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "a cat"},
        {"n": 1},
        {"size": "512x512"},
        {"seed": 4},
        {"user": "someone"},
        {"response_format": "url"},
        {"model": "openai/dall-e-2"},
    ],
)
def test_any_parameter_change_is_a_miss(twin, fake_openai, change) -> None:
    client = twin()
    base = {"prompt": "a fox", "n": 2, "size": "256x256", "seed": 3}
    client.generate(**base)
    client.generate(**{**base, **change})
    assert len(fake_openai.api_requests()) == 2


def test_other_endpoint_is_a_miss(twin, fake_openai) -> None:
    twin().generate("a fox", size="256x256")
    twin(base_url=f"http://localhost:{fake_openai.port}/v1").generate("a fox", size="256x256")
    assert len(fake_openai.api_requests()) == 2


def test_different_image_bytes_are_a_miss(twin, fake_openai) -> None:
    client = twin()
    a = np.zeros((64, 64, 3), np.uint8)
    b = a.copy()
    b[0, 0] = 1
    client.vary(a, size="256x256")
    client.vary(a, size="256x256")
    client.vary(b, size="256x256")
    assert len(fake_openai.api_requests()) == 2


def test_refresh_sends_and_replaces_the_entry(twin, fake_openai) -> None:
    client = twin()
    client.generate("a fox", size="256x256")
    fresh = client.generate("a fox", size="256x256", cache="refresh")
    replay = client.generate("a fox", size="256x256")
    assert len(fake_openai.api_requests()) == 2 and not fresh.cached
    assert replay.cached and replay[0].path == fresh[0].path


def test_off_neither_reads_nor_writes(twin, fake_openai, isolated_env) -> None:
    client = twin(cache="off")
    client.generate("a fox", size="256x256")
    client.generate("a fox", size="256x256")
    assert len(fake_openai.api_requests()) == 2
    assert not (isolated_env / "cache").exists()
    # but every image is still stored
    assert len(list((isolated_env / "images").rglob("*.png"))) == 2


def test_a_deleted_image_makes_the_cache_miss(twin, fake_openai) -> None:
    client = twin()
    first = client.generate("a fox", size="256x256")
    first[0].path.unlink()
    again = client.generate("a fox", size="256x256")
    assert not again.cached and len(fake_openai.api_requests()) == 2


def test_cache_survives_a_new_client(fake_openai) -> None:
    with ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url) as a:
        a.generate("a fox", size="256x256")
    with ImagesClient(api_key="sk-another-key-0000000000", base_url=fake_openai.base_url) as b:
        assert b.generate("a fox", size="256x256").cached


def test_prepared_cache_key_is_stable_and_keyless(fake_openai) -> None:
    with (
        ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url) as a,
        ImagesClient(api_key="sk-other-000000000000", base_url=fake_openai.base_url) as b,
    ):
        assert a.prepare("generate", "x").cache_key == b.prepare("generate", "x").cache_key
        assert a.prepare("generate", "x").cache_key != a.prepare("generate", "y").cache_key
