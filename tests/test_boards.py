"""BoardStore, the mood board's data without any widget: undo of a removal, exports beside the notebook."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dalle_widgets import boards
from dalle_widgets.boards import BoardStore


def _img(value: int, size: int = 32) -> np.ndarray:
    a = np.zeros((size, size, 3), np.uint8)
    a[..., 0] = value
    return a


def _manifest_captions(folder: Path) -> list[str]:
    return [e["caption"] for e in json.loads((folder / "board.json").read_text())["items"]]


def test_store_imports_no_widgets() -> None:
    code = "import sys, dalle_widgets.boards; print('ipywidgets' in sys.modules, 'IPython' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_remove_then_undo_restores_image_caption_and_place(tmp_path: Path) -> None:
    store = BoardStore(tmp_path)
    a, b, c = (store.pin(_img(v), caption=f"c{v}") for v in (10, 20, 30))
    original = b.path.read_bytes()
    store.remove(b)
    assert not b.path.exists() and _manifest_captions(tmp_path) == ["c10", "c30"]
    assert BoardStore(tmp_path).skipped == []  # the trash is not mistaken for lost images
    assert store.can_undo and store.last_removed is b
    back = store.undo()
    assert back is b and b.path.read_bytes() == original
    assert [i.caption for i in store.items] == ["c10", "c20", "c30"]
    assert _manifest_captions(tmp_path) == ["c10", "c20", "c30"]  # on disk, not only in memory
    assert np.asarray(BoardStore(tmp_path).items[1].image)[0, 0, 0] == 20
    assert not store.can_undo
    with pytest.raises(ValueError, match="nothing to undo"):
        store.undo()


def test_undo_takes_back_removals_newest_first(tmp_path: Path) -> None:
    store = BoardStore(tmp_path)
    for v in range(4):
        store.pin(_img(v), caption=str(v))
    store.remove(0)
    store.remove(-1)  # "3"
    assert [i.caption for i in store.items] == ["1", "2"]
    assert store.undo().caption == "3"
    assert store.undo().caption == "0"
    assert [i.caption for i in store.items] == ["0", "1", "2", "3"]


def test_trash_keeps_only_the_last_removals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(boards, "UNDO_DEPTH", 2)
    store = BoardStore(tmp_path)
    for v in range(4):
        store.pin(_img(v), caption=str(v))
    for _ in range(4):
        store.remove(0)
    assert len(list((tmp_path / ".trash").iterdir())) == 2
    assert [store.undo().caption, store.undo().caption] == ["3", "2"]
    assert not store.can_undo


def test_undo_says_so_when_the_trashed_file_is_gone(tmp_path: Path) -> None:
    store = BoardStore(tmp_path)
    item = store.pin(_img(5))
    store.remove(item)
    for f in (tmp_path / ".trash").iterdir():
        f.unlink()
    with pytest.raises(ValueError, match="gone from the board's trash"):
        store.undo()
    assert len(store) == 0


def test_exports_go_beside_the_notebook_or_where_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook_dir = tmp_path / "project"
    notebook_dir.mkdir()
    monkeypatch.chdir(notebook_dir)  # a kernel runs in its notebook's folder
    monkeypatch.delenv("DALLE_WIDGETS_OUTPUT_DIR", raising=False)
    store = BoardStore(tmp_path / "home" / "boards" / "trip")
    store.pin(_img(40), caption="dusk")
    png = store.export("png")
    assert png.parent == notebook_dir / "dalle-images" and png.name.startswith("board-trip-")
    Image.open(png).verify()
    html = store.export("html")
    assert html.suffix == ".html" and html != png and html.parent == png.parent
    monkeypatch.setenv("DALLE_WIDGETS_OUTPUT_DIR", str(tmp_path / "shared"))
    assert store.export("png").parent == tmp_path / "shared"
    assert BoardStore(tmp_path / "b2", export_dir=tmp_path / "x").export("html").parent == tmp_path / "x"
    with pytest.raises(ValueError, match="kind='pdf'"):
        store.export("pdf")


def test_move_and_caption_report_changes(tmp_path: Path) -> None:
    store = BoardStore(tmp_path)
    store.pin(_img(1), caption="a")
    store.pin(_img(2), caption="b")
    assert store.move(0, 0) is False and store.move(0, 5) is True
    assert [i.caption for i in store.items] == ["b", "a"]
    assert store.caption(0, "b") is False and store.caption(0, "B") is True
    assert _manifest_captions(tmp_path) == ["B", "a"]


def test_item_summary_for_hover(tmp_path: Path) -> None:
    class Gen:
        png = None
        info = {"prompt": "a red fox", "operation": "vary", "model": "dall-e-2"}
        image = Image.fromarray(_img(9))

    store = BoardStore(tmp_path)
    item = store.pin(Gen())
    assert item.summary == "a red fox (vary, dall-e-2)"
    assert store.pin(_img(3), caption="plain").summary == "plain"


def test_a_file_is_refused_as_a_board_folder_naming_the_fix(tmp_path: Path) -> None:
    board = BoardStore(tmp_path / "night")
    board.pin(_img(1), caption="one")
    manifest = tmp_path / "night" / "board.json"
    assert manifest.is_file()
    with pytest.raises(ValueError, match=r"is a file; a board is a folder .* pass its folder, '.*night'"):
        BoardStore(manifest)  # the manifest instead of its folder: the message names the folder
    assert len(BoardStore(board.path)) == 1
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="is a file; .* pass a folder path"):
        BoardStore(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match=r"cannot create the board folder .*notes.txt/b.* pass a folder"):
        BoardStore(tmp_path / "notes.txt" / "b")
