"""No key, no endpoint: never call OpenAI; use the offline engine or say how to configure one."""

from __future__ import annotations

import sys
import types

import pytest
from PIL import Image

import dalle_widgets
from dalle_widgets import errors
from dalle_widgets.client import (
    AsyncImagesClient,
    ImagesClient,
    _config,
    default_async_client,
    default_client,
    set_default_client,
)
from tests.fixtures.fake_openai import FAKE_KEY


@pytest.fixture
def engine_module(monkeypatch):
    """Install a stand-in for ``dalle_widgets.engine``; returns a setter for its start_background."""
    monkeypatch.setattr(_config, "_offline_announced", False)

    def install(start_background) -> types.ModuleType:
        module = types.ModuleType("dalle_widgets.engine")
        module.start_background = start_background
        monkeypatch.setitem(sys.modules, "dalle_widgets.engine", module)
        monkeypatch.setattr(dalle_widgets, "engine", module, raising=False)
        return module

    return install


def test_engine_unavailable_raises_configuration_error(monkeypatch) -> None:
    if "engine" in vars(dalle_widgets):
        monkeypatch.delattr(dalle_widgets, "engine")
    monkeypatch.setitem(sys.modules, "dalle_widgets.engine", None)  # the import fails
    with pytest.raises(errors.ConfigurationError) as info:
        ImagesClient()
    text = str(info.value)
    assert "OPENAI_API_KEY" in text and "api_key=" in text
    assert "OPENAI_BASE_URL" in text and "base_url=" in text
    assert "offline engine could not start" in text


def test_engine_failing_to_start_raises_configuration_error(engine_module) -> None:
    def broken():
        raise OSError("no free port")

    engine_module(broken)
    with pytest.raises(errors.ConfigurationError, match="no free port"):
        AsyncImagesClient()


def test_no_key_uses_the_engine_and_says_so_once(engine_module, fake_openai, caplog) -> None:
    calls = []

    def start_background():
        calls.append(1)
        return types.SimpleNamespace(base_url=fake_openai.base_url, token=FAKE_KEY)

    engine_module(start_background)
    with caplog.at_level("WARNING", logger="dalle_widgets"):
        first, second = ImagesClient(), ImagesClient()
    notes = [r for r in caplog.records if "offline engine" in r.getMessage()]
    assert len(notes) == 1
    assert notes[0].getMessage() == (
        f"No OPENAI_API_KEY set: using the offline engine at {fake_openai.base_url} (synthetic images)"
    )
    assert first.is_offline and first.base_url == fake_openai.base_url
    assert "offline=True" in repr(first) and FAKE_KEY not in repr(first)
    result = first.generate("a fox", size="256x256")
    assert result.cost_usd == 0.0 and result[0].info["offline"] is True
    assert fake_openai.last.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert first.prepare("generate", "x").describe().endswith("cost: $0.00 (offline engine)")
    first.close()
    second.close()


def test_offline_flag_wins_over_a_key(engine_module, fake_openai, monkeypatch) -> None:
    engine_module(lambda: types.SimpleNamespace(base_url=fake_openai.base_url, token=None))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-key-that-must-not-be-used")
    monkeypatch.setenv("DALLE_WIDGETS_OFFLINE", "1")
    with ImagesClient() as client:
        assert client.is_offline and client.base_url == fake_openai.base_url


def test_a_key_never_starts_the_engine(engine_module) -> None:
    def must_not_run():
        raise AssertionError("engine started although a key is set")

    engine_module(must_not_run)
    with ImagesClient(api_key=FAKE_KEY) as client:
        assert not client.is_offline and client.base_url == "https://api.openai.com/v1"


def test_default_clients_are_shared(monkeypatch, fake_openai) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    set_default_client(None)
    try:
        assert default_client() is default_client()
        assert default_async_client() is default_async_client()
        assert isinstance(default_async_client(), AsyncImagesClient)
        mine = ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url, model="gpt-image-1")
        set_default_client(mine)
        assert default_client() is mine
    finally:
        set_default_client(None)


def test_real_offline_engine_end_to_end(monkeypatch) -> None:
    """With the real engine package present, no key means real synthetic images."""
    monkeypatch.setattr(_config, "_offline_announced", False)
    with ImagesClient() as client:
        assert client.is_offline
        result = client.generate("a lighthouse at dusk", n=2, size="256x256", seed=1)
    assert [im.image.size for im in result] == [(256, 256)] * 2
    assert result.cost_usd == 0.0
    info = result[0].info
    assert info["offline"] is True and info["engine"]  # the engine's backend name, from its header
    with Image.open(result[0].path) as stored:  # the engine's own label survives in the stored file
        assert "dalle_widgets_engine" in stored.info and "dalle_widgets" in stored.info
