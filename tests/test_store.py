"""The store: PNG + provenance on disk, atomic writes, concurrent writers, the request cache."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import dalle_widgets
from dalle_widgets._png import with_info
from dalle_widgets.store import Store, default_root, image_hash, open_image, read_info


def _png(color=(200, 30, 30), size=(16, 12), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format="PNG")
    return buf.getvalue()


def test_default_root_follows_the_environment(isolated_env, monkeypatch) -> None:
    assert Store().root == isolated_env == default_root()
    monkeypatch.delenv("DALLE_WIDGETS_HOME")
    assert default_root() == Path.home() / ".dalle_widgets"


def test_png_bytes_are_kept_and_provenance_reads_back(tmp_path) -> None:
    store = Store(tmp_path)
    original = _png()
    info = {"operation": "generate", "prompt": "un renard, ünïcödé ✓", "n_index": 0, "seed": None}
    path = store.save(original, info)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    # pixels identical, IDAT kept byte for byte
    assert original[original.index(b"IDAT") - 4 :] in data
    back = open_image(path)
    assert back.info == info and back.path == path
    assert np.array_equal(back.to_numpy(), np.asarray(Image.open(io.BytesIO(original))))
    # any PNG reader sees the chunk without decoding pixels
    with Image.open(path) as im:
        assert json.loads(im.info["dalle_widgets"]) == info


def test_provenance_chunk_is_replaced_not_duplicated(tmp_path) -> None:
    first = with_info(_png(), {"a": 1})
    second = with_info(first, {"a": 2})
    assert read_info(second) == {"a": 2}
    assert second.count(b"tEXtdalle_widgets") == 1


def test_chunks_have_valid_crcs(tmp_path) -> None:
    data = with_info(_png(), {"k": "v"})
    pos = 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind_and_data = data[pos + 4 : pos + 8 + length]
        crc = int.from_bytes(data[pos + 8 + length : pos + 12 + length], "big")
        assert zlib.crc32(kind_and_data) == crc
        pos += 12 + length
    Image.open(io.BytesIO(data)).load()


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGBA", (5, 4), (1, 2, 3, 0)),
        np.zeros((4, 5, 3), np.uint8),
    ],
)
def test_save_accepts_pil_and_arrays(tmp_path, image) -> None:
    path = Store(tmp_path).save(image, {"operation": "edit"})
    assert open_image(path).image.size == (5, 4)
    assert "-edit-" in path.name


def test_jpeg_bytes_become_png(tmp_path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buf, format="JPEG")
    path = Store(tmp_path).save(buf.getvalue(), {})
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_writes_leave_no_temporary_files(tmp_path) -> None:
    store = Store(tmp_path)
    for i in range(5):
        store.save(_png(), {"i": i})
    files = list(tmp_path.rglob("*"))
    assert not [p for p in files if p.name.startswith(".tmp-")]
    assert len(list(store)) == 5


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    store = Store(tmp_path)
    store.save(_png(), {})

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store.save(_png(), {})
    assert [p.name for p in tmp_path.rglob("*") if p.is_file() and p.name.startswith(".tmp-")] == []


REPO = Path(__file__).resolve().parent.parent
_WRITER = """
import io, sys
from PIL import Image
from dalle_widgets.store import Store
root, worker, count, cache = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "cache"
store = Store(root)
for i in range(count):
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (worker * 40, i * 5 % 256, 0)).save(buf, format="PNG")
    path = store.save(buf.getvalue(), {"worker": worker, "i": i})
    if cache:
        store.cache_put(f"{worker:02x}{i:062x}", [path])
"""


def _run_writers(root: Path, workers: int, count: int, *, cache: bool = False) -> None:
    """Start ``workers`` separate Python processes writing to the same store at once; wait for all."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [str(count), "cache" if cache else "images"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(root), str(w), *args],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err


def test_two_processes_writing_at_once_lose_nothing(tmp_path) -> None:
    _run_writers(tmp_path, 2, 25)
    seen = {(open_image(p).info["worker"], open_image(p).info["i"]) for p in Store(tmp_path)}
    assert seen == {(w, i) for w in range(2) for i in range(25)}


def test_image_hash_is_content_based() -> None:
    a = Image.new("RGB", (4, 4), "red")
    assert image_hash(a) == image_hash(Image.new("RGB", (4, 4), "red"))
    assert image_hash(a) != image_hash(Image.new("RGB", (4, 4), "blue"))
    assert image_hash(a) != image_hash(a.convert("RGBA"))


def test_open_image_is_public_and_rejects_non_png(tmp_path) -> None:
    assert dalle_widgets.open_image is open_image
    bad = tmp_path / "x.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="not a readable PNG"):
        open_image(bad)


def test_plain_png_opens_with_empty_provenance(tmp_path) -> None:
    path = tmp_path / "plain.png"
    path.write_bytes(_png())
    assert open_image(path).info == {}


# --- request cache -------------------------------------------------------------------------------


KEY = "ab" + "0" * 62


def test_cache_roundtrip_and_misses(tmp_path) -> None:
    store = Store(tmp_path)
    assert store.cache_get(KEY) is None
    paths = [store.save(_png(), {"n_index": i}) for i in range(2)]
    store.cache_put(KEY, paths, {"request_id": "req_1"})
    hit = store.cache_get(KEY)
    assert [im.info["n_index"] for im in hit] == [0, 1]
    assert [im.path for im in hit] == paths


def _fresh(store: Store) -> Store:
    """A store on the same directory as a new process would see it (no in-memory records)."""
    from dalle_widgets import store as store_module

    store_module._indexes.pop(store.cache_dir, None)
    return Store(store.root)


@pytest.mark.parametrize("damage", ["garbage_line", "missing_image", "empty_list", "bad_png", "cut_short"])
def test_damaged_cache_records_are_misses(tmp_path, damage) -> None:
    store = Store(tmp_path)
    paths = [store.save(_png(), {"n_index": 0})]
    store.cache_put(KEY, paths)
    (log,) = store.cache_dir.glob("index-*.jsonl")
    text = log.read_text()
    if damage == "garbage_line":
        log.write_text(text.replace('"images"', '"imag'))
    elif damage == "missing_image":
        paths[0].unlink()
    elif damage == "empty_list":
        log.write_text(text.replace(json.dumps(paths[0].relative_to(tmp_path).as_posix()), ""))
    elif damage == "bad_png":
        paths[0].write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    elif damage == "cut_short":  # a crash in the middle of the append
        log.write_text(text[: len(text) // 2])
    assert _fresh(store).cache_get(KEY) is None


def test_a_record_cut_short_does_not_hide_the_next_one(tmp_path) -> None:
    store = Store(tmp_path)
    store.cache_put(KEY, [store.save(_png(), {"n_index": 0})])
    (log,) = store.cache_dir.glob("index-*.jsonl")
    log.write_text(log.read_text()[:-20])  # the first record loses its end
    other = "cd" + "1" * 62
    store.cache_put(other, [store.save(_png(), {"n_index": 7})])
    fresh = _fresh(store)
    assert fresh.cache_get(KEY) is None
    assert [im.info["n_index"] for im in fresh.cache_get(other)] == [7]


def test_later_records_win(tmp_path) -> None:
    store = Store(tmp_path)
    store.cache_put(KEY, [store.save(_png(), {"n_index": 1})])
    store.cache_put(KEY, [store.save(_png(), {"n_index": 2})])
    assert [im.info["n_index"] for im in _fresh(store).cache_get(KEY)] == [2]


def test_records_appended_by_another_process_are_seen(tmp_path) -> None:
    store = Store(tmp_path)
    assert store.cache_get(_key(0, 19)) is None  # this process has looked once already
    _run_writers(tmp_path, 1, 20, cache=True)
    hit = store.cache_get(_key(0, 19))
    assert hit is not None and hit[0].info == {"worker": 0, "i": 19}


def _key(worker: int, i: int) -> str:
    return f"{worker:02x}{i:062x}"


def test_two_processes_appending_at_once_lose_no_record(tmp_path) -> None:
    _run_writers(tmp_path, 2, 40, cache=True)
    store = Store(tmp_path)
    for w in range(2):
        for i in range(40):
            hit = store.cache_get(_key(w, i))
            assert hit is not None and hit[0].info == {"worker": w, "i": i}


def test_cache_records_are_few_files(tmp_path) -> None:
    store = Store(tmp_path)
    for i in range(10):
        store.cache_put(_key(5, i), [store.save(_png(), {"i": i})])
    assert len(list(store.cache_dir.iterdir())) == 1


def test_cache_key_must_be_hex(tmp_path) -> None:
    with pytest.raises(ValueError, match="lowercase hex"):
        Store(tmp_path).cache_get("../../etc/passwd")
