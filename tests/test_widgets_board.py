"""MoodBoard without a browser: persistence, recovery from damage, exports, the widget's buttons."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dalle_widgets.widgets import MoodBoard, current_board
from dalle_widgets.widgets.board import default_board_path


def _img(value: int, size: int = 64) -> np.ndarray:
    a = np.zeros((size, size, 3), np.uint8)
    a[..., 0] = value
    a[: size // 2, :, 1] = 255 - value
    return a


def test_pin_saves_and_reloads(tmp_path: Path) -> None:
    board = MoodBoard(tmp_path / "b")
    a = board.pin(_img(10), caption="ten")
    b = board.pin(Image.fromarray(_img(20)))
    assert (tmp_path / "b" / "board.json").is_file() and a.path.is_file()
    again = MoodBoard(tmp_path / "b")
    assert [i.id for i in again.items] == [a.id, b.id]
    assert [i.caption for i in again.items] == ["ten", ""]
    assert np.asarray(again.items[0].image)[0, 0, 0] == 10
    assert again.skipped == []


def test_move_caption_remove_persist(tmp_path: Path) -> None:
    board = MoodBoard(tmp_path)
    items = [board.pin(_img(v), caption=str(v)) for v in (1, 2, 3)]
    board.move(items[2], 0)
    board.caption(items[0].id, "one")
    board.remove(1)  # by index: after the move this is item "1"
    reloaded = MoodBoard(tmp_path)
    assert [i.caption for i in reloaded.items] == ["3", "2"]
    assert not items[0].path.exists()
    board.move(0, 99)  # clamped
    assert [i.caption for i in MoodBoard(tmp_path).items] == ["2", "3"]
    with pytest.raises(KeyError, match="no item 'nope'"):
        board.remove("nope")
    with pytest.raises(IndexError, match="out of range"):
        board.caption(5, "x")


def test_pin_keeps_provenance_and_prompt_caption(tmp_path: Path) -> None:
    class Gen:  # the attributes of a GeneratedImage the board uses
        def __init__(self) -> None:
            buf = io.BytesIO()
            Image.fromarray(_img(5)).save(buf, format="PNG")
            self.png = buf.getvalue()
            self.info = {"prompt": "a red fox", "operation": "generate", "model": "dall-e-2", "seed": 7}

    board = MoodBoard(tmp_path)
    item = board.pin(Gen())
    assert item.caption == "a red fox" and item.info["seed"] == 7
    assert item.path.read_bytes() == Gen().png  # the PNG (and any provenance chunk) copied as is
    assert MoodBoard(tmp_path).items[0].info["operation"] == "generate"


def test_writes_are_atomic_no_temp_files_left(tmp_path: Path) -> None:
    board = MoodBoard(tmp_path)
    for v in range(3):
        board.pin(_img(v))
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    assert leftovers == []
    json.loads((tmp_path / "board.json").read_text())


def test_missing_image_is_skipped_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    board = MoodBoard(tmp_path)
    board.pin(_img(1), caption="keep")
    gone = board.pin(_img(2), caption="lost")
    gone.path.unlink()
    with caplog.at_level("WARNING", logger="dalle_widgets"):
        again = MoodBoard(tmp_path)
    assert [i.caption for i in again.items] == ["keep"]
    assert len(again.skipped) == 1 and "missing image" in again.skipped[0] and "'lost'" in again.skipped[0]
    assert "missing image" in caplog.text
    assert "missing image" in again.status.value


def test_broken_manifest_recovers_images(tmp_path: Path) -> None:
    board = MoodBoard(tmp_path)
    board.pin(_img(1), caption="a")
    board.pin(_img(2), caption="b")
    (tmp_path / "board.json").write_text("{ this is not json")
    again = MoodBoard(tmp_path)
    assert len(again.items) == 2  # the images are recovered, without captions
    assert (tmp_path / "board.json.broken").is_file()
    assert "unreadable" in again.skipped[0]
    again.caption(0, "fixed")  # the next change writes a good manifest
    assert [i.caption for i in MoodBoard(tmp_path).items][0] == "fixed"


def test_corrupt_image_and_orphan_file(tmp_path: Path) -> None:
    board = MoodBoard(tmp_path)
    bad = board.pin(_img(1), caption="bad")
    bad.path.write_bytes(b"not a png")
    Image.fromarray(_img(9)).save(tmp_path / "images" / "orphan.png")
    again = MoodBoard(tmp_path)
    assert [i.id for i in again.items] == [bad.id, "orphan"]  # the damaged one stays, marked
    assert [i.id for i in again.damaged] == [bad.id] and "bad signature" in again.items[0].damaged
    assert "damaged image" in again.status.value
    assert any("recovered images/orphan.png" in s for s in again.skipped)


def test_export_png_contact_sheet(tmp_path: Path) -> None:
    board = MoodBoard(tmp_path / "b")
    for v in (50, 150, 250):
        board.pin(_img(v, 128), caption=f"v{v}")
    out = board.export_png(tmp_path / "sheet.png")
    sheet = Image.open(out)
    assert sheet.size[0] >= 3 * 128 and sheet.mode == "RGB"
    with pytest.raises(ValueError, match="empty"):
        MoodBoard(tmp_path / "empty").export_png(tmp_path / "x.png")


def test_export_html_is_self_contained(tmp_path: Path) -> None:
    board = MoodBoard(tmp_path / "b")
    board.pin(_img(80), caption="<script>alert(1)</script> dusk")
    page = board.export_html(tmp_path / "board.html").read_text()
    assert page.startswith("<!doctype html>")
    assert "<script>" not in page and "&lt;script&gt;" in page  # captions are escaped
    srcs = re.findall(r"src='([^']+)'", page)
    assert len(srcs) == 1 and srcs[0].startswith("data:image/png;base64,")
    Image.open(io.BytesIO(base64.b64decode(srcs[0].split(",", 1)[1]))).verify()
    assert "http://" not in page and "https://" not in page


def test_widget_buttons_and_caption_box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DALLE_WIDGETS_OUTPUT_DIR", raising=False)
    board = MoodBoard(tmp_path / "board")
    board.pin(_img(1), caption="x")
    board.pin(_img(2), caption="y")
    tiles = board.grid.children
    assert len(tiles) == 2
    caption_box = tiles[0].children[2]
    caption_box.value = "renamed"
    assert board.items[0].caption == "renamed"
    right = tiles[0].children[3].children[1]
    right.click()
    assert [i.caption for i in board.items] == ["y", "renamed"]
    board.grid.children[1].children[3].children[2].click()  # trash on the 2nd tile
    assert [i.caption for i in MoodBoard(tmp_path / "board").items] == ["y"]
    assert "Removed 'renamed'" in board.status.value and not board.undo_button.disabled
    board.undo_button.click()
    assert [i.caption for i in MoodBoard(tmp_path / "board").items] == ["y", "renamed"]
    assert "Restored 'renamed'" in board.status.value and board.undo_button.disabled
    board.export_png_button.click()
    (sheet,) = (tmp_path / "dalle-images").glob("board-board-*.png")  # beside the notebook
    assert board.last_export == sheet and "Wrote" in board.status.value
    (link,) = board.file_link.outputs
    assert f"href='dalle-images/{sheet.name}'" in link["data"]["text/html"]


def test_tile_hover_shows_the_prompt(tmp_path: Path) -> None:
    class Gen:
        png = None
        info = {"prompt": "a red fox", "operation": "generate", "model": "dall-e-2"}
        image = Image.fromarray(_img(5))

    board = MoodBoard(tmp_path)
    board.pin(Gen(), caption="fox")
    line = board.grid.children[0].children[1]
    assert "title='a red fox (generate, dall-e-2)'" in line.value


def test_tile_line_does_not_repeat_the_caption(tmp_path: Path) -> None:
    class Variation:
        png = None
        info = {"operation": "vary", "model": "dall-e-2"}  # a variation has no prompt
        image = Image.fromarray(_img(6))

    board = MoodBoard(tmp_path)
    board.pin(Variation(), caption="variation 2")
    board.pin(_img(7), caption="palette")  # no provenance at all
    lines = [tile.children[1].value for tile in board.grid.children]
    assert "variation 2" not in lines[0] and ">vary, dall-e-2</div>" in lines[0]
    assert "palette" not in lines[1]
    assert [tile.children[2].value for tile in board.grid.children] == ["variation 2", "palette"]


def test_current_board_and_default_path(tmp_path: Path, isolated_env: Path) -> None:
    assert default_board_path() == isolated_env / "boards" / "default"
    b = MoodBoard(tmp_path / "x")
    assert current_board() is b
    c = MoodBoard(tmp_path / "y")
    b.make_current()
    assert current_board() is b and c is not b


def test_static_fallback(tmp_path: Path) -> None:
    board = MoodBoard(tmp_path)
    board.pin(_img(100, 512))
    bundle = board._repr_mimebundle_()
    assert bundle["text/plain"].startswith("MoodBoard(") and "1 items" in bundle["text/plain"]
    assert len(base64.b64decode(bundle["image/png"])) < 100_000


def test_vary_all_on_empty_board_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="board is empty"):
        MoodBoard(tmp_path).vary_all()


def test_display_shows_the_live_view_and_a_static_twin_kept_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dalle_widgets.widgets._static import WIDGET_VIEW

    shown: list[tuple[dict, dict]] = []
    updates: list[tuple[dict, dict]] = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append((obj, kw)))
    monkeypatch.setattr("IPython.display.update_display", lambda obj, **kw: updates.append((obj, kw)))
    board = MoodBoard(tmp_path)
    board.pin(_img(10), caption="one")
    board._ipython_display_()
    (live, _), (twin, kw) = shown
    assert set(live) == {WIDGET_VIEW, "text/plain"} and "dalle-live" in board._dom_classes
    assert kw == {"raw": True, "display_id": f"dalle-static-{board.model_id}"}
    assert twin["text/plain"].startswith("Static picture of MoodBoard(") and "1 items" in twin["text/plain"]
    assert "class='dalle-static'" in twin["text/html"] and ":has(" in twin["text/html"]
    board.pin(_img(200), caption="two")
    board.remove(0)
    assert len(updates) >= 2
    latest, ukw = updates[-1]
    assert ukw["display_id"] == kw["display_id"] and latest["image/png"] != twin["image/png"]
    assert "1 items" in latest["text/plain"] and MoodBoard(tmp_path).items[0].caption == "two"
