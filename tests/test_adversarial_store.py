"""The store under attack or out of room: a request already paid for loses no image, a damaged
request-cache log answers every other lookup, and the offline engine's replays survive a restart."""

from __future__ import annotations

import json
import sys
import tempfile
import types

import pytest

import dalle_widgets
from dalle_widgets import errors
from dalle_widgets.client import ImagesClient, _config
from dalle_widgets.store import Store, open_image
from tests.fixtures.fake_openai import FAKE_KEY, FakeOpenAI


@pytest.fixture
def unwritable_store(tmp_path):
    """A store whose image folder cannot be made (a plain file sits where it should be)."""
    root = tmp_path / "store"
    root.mkdir()
    (root / "images").write_text("not a folder")
    return Store(root)


def test_a_store_that_cannot_write_rescues_the_paid_images(
    twin, unwritable_store, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    with pytest.raises(errors.StoreWriteError) as info:
        twin(store=unwritable_store).generate("a fox", n=2, size="256x256")
    err = info.value
    assert "could not write 2 of 2 images" in str(err) and "Saved in the store: none" in str(err)
    assert len(err.rescued) == 2 and err.unsaved == []
    assert all(str(tmp_path / "tmp" / "dalle-widgets-rescue") in str(p) for p in err.rescued)
    assert "Rescued to" in str(err)
    for path in err.rescued:  # whole images, with their provenance
        again = open_image(path)
        assert again.info["prompt"] == "a fox" and again.image.size == (256, 256)
    assert [i for i, _ in err.failures] == [0, 1] and isinstance(err.failures[0][1], OSError)


def test_when_nothing_can_be_written_the_images_are_held_in_the_error(
    twin, unwritable_store, tmp_path, monkeypatch
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, so no folder can be made under it")
    monkeypatch.setattr(tempfile, "tempdir", str(blocked / "tmp"))
    with pytest.raises(errors.StoreWriteError) as info:
        twin(store=unwritable_store).generate("a fox", n=2, size="256x256")
    err = info.value
    assert err.rescued == [] and len(err.unsaved) == 2
    assert "error.save_rest(folder)" in str(err)
    written = err.save_rest(tmp_path / "elsewhere")
    assert len(written) == 2 and err.unsaved == []
    assert sorted(open_image(p).info["n_index"] for p in written) == [0, 1]


def test_a_malformed_cache_line_is_skipped_and_counted(twin, fake_openai, isolated_env) -> None:
    client = twin()
    client.generate("a fox", size="256x256")
    (log,) = (isolated_env / "cache").glob("index-*.jsonl")
    with open(log, "a") as f:  # valid JSON, not a record: 'created' is a list
        f.write(json.dumps({"v": 1, "key": "ab" * 32, "created": [1], "images": []}) + "\n")
        f.write("[" * 50_000 + "\n")
    client.generate("a cat", size="256x256")  # a miss reads the log: used to raise TypeError, every time
    again = client.generate("a fox", size="256x256")
    assert again.cached
    assert client.client.store.skipped_cache_lines == 2
    assert len(fake_openai.api_requests()) == 2


def _engine_at(monkeypatch, fake: FakeOpenAI) -> None:
    """The offline engine as a client finds it: started in the background on some port."""
    module = types.ModuleType("dalle_widgets.engine")
    module.start_background = lambda: types.SimpleNamespace(base_url=fake.base_url, token=FAKE_KEY)
    monkeypatch.setitem(sys.modules, "dalle_widgets.engine", module)
    monkeypatch.setattr(dalle_widgets, "engine", module, raising=False)


def test_offline_replays_survive_an_engine_on_a_new_port(fake_openai, isolated_env, monkeypatch) -> None:
    """A kernel restart starts the engine on another random port: the request cache still replays."""
    monkeypatch.setattr(_config, "_offline_announced", True)
    _engine_at(monkeypatch, fake_openai)
    with ImagesClient() as before:
        first = before.generate("a fox", size="256x256")
    restarted = FakeOpenAI().start()
    try:
        _engine_at(monkeypatch, restarted)
        with ImagesClient() as after:
            assert after.base_url != fake_openai.base_url and after.is_offline
            replay = after.generate("a fox", size="256x256")
        assert replay.cached and replay[0].path == first[0].path
        assert restarted.api_requests() == []
    finally:
        restarted.stop()
