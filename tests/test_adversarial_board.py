"""A hostile or damaged mood-board folder: files named outside it are never read, embedded or
deleted, and one damaged image shows as damaged instead of making the board unopenable."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dalle_widgets import _png
from dalle_widgets._paths import OutsideFolderError, confine
from dalle_widgets.widgets import MoodBoard


def _png_bytes(value: int, size: int = 32) -> bytes:
    arr = np.random.default_rng(value).integers(0, 255, (size, size, 3), dtype=np.uint8)
    return _png.encode(Image.fromarray(arr))


def _truncated_pixels(png: bytes) -> bytes:
    """A PNG whose pixel data stops halfway, every chunk's CRC valid (``Image.verify`` accepts it)."""
    chunks = list(_png._iter_chunks(png))
    idat = b"".join(png[s + 8 : e - 4] for k, s, e in chunks if k == b"IDAT")
    ihdr = next(png[s:e] for k, s, e in chunks if k == b"IHDR")
    return _png.SIGNATURE + ihdr + _png._chunk(b"IDAT", idat[: len(idat) // 2]) + _png._chunk(b"IEND", b"")


def _hostile_board(tmp_path: Path, files: list[str]) -> tuple[Path, Path]:
    """A board whose manifest names ``files``, plus a secret PNG outside it (``../outside/secret.png``)."""
    board = tmp_path / "board"
    MoodBoard(board).pin(_png_bytes(1), caption="own")
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir()
    secret.write_bytes(_png_bytes(99))
    manifest = json.loads((board / "board.json").read_text())
    for k, name in enumerate(files):
        manifest["items"].append({"id": f"evil{k}", "file": name, "caption": "evil"})
    (board / "board.json").write_text(json.dumps(manifest))
    return board, secret


@pytest.mark.parametrize("name", ["../outside/secret.png", "ABS", "images/../../outside/secret.png"])
def test_manifest_paths_outside_the_board_are_skipped_never_read(tmp_path: Path, name: str) -> None:
    name = str(tmp_path / "outside" / "secret.png") if name == "ABS" else name
    board_dir, secret = _hostile_board(tmp_path, [name])
    board = MoodBoard(board_dir)
    assert [i.caption for i in board.items] == ["own"]
    assert any("outside the folder" in s for s in board.skipped), board.skipped
    page = board.export_html(tmp_path / "page.html").read_text()
    assert page.count("<img") == 1 and "evil" not in page
    board.pin(_png_bytes(2), caption="later")  # an absolute path used to break every later pin()
    board.remove(0)
    board.remove(0)
    assert secret.is_file(), "a file outside the board was deleted"
    assert [i.caption for i in MoodBoard(board_dir).items] == []


def test_a_link_inside_the_folder_that_points_out_is_skipped(tmp_path: Path) -> None:
    board_dir, secret = _hostile_board(tmp_path, ["images/link.png"])
    os.symlink(secret, board_dir / "images" / "link.png")
    os.symlink(secret, board_dir / "images" / "orphan-link.png")  # not in the manifest either
    board = MoodBoard(board_dir)
    assert [i.caption for i in board.items] == ["own"]
    assert sum("outside the folder" in s for s in board.skipped) == 2, board.skipped
    board.contact_sheet()
    assert secret.is_file()


def test_one_damaged_image_shows_as_damaged_not_the_whole_board(tmp_path: Path) -> None:
    board = MoodBoard(tmp_path)
    good = board.pin(_png_bytes(1, 64), caption="good")
    bad = board.pin(_png_bytes(2, 64), caption="bad")
    cut = _truncated_pixels(bad.path.read_bytes())
    with Image.open(io.BytesIO(cut)) as im:
        im.verify()  # what the old check relied on: it passes
    bad.path.write_bytes(cut)
    again = MoodBoard(tmp_path)  # used to raise "image file is truncated" while drawing the grid
    assert [i.id for i in again.items] == [good.id, bad.id]
    assert [i.id for i in again.damaged] == [bad.id]
    assert "stops early" in again.damaged[0].damaged
    tiles = again.grid.children
    assert ["dalle-board-damaged" in t._dom_classes for t in tiles] == [False, True]
    assert "damaged image" in again.status.value
    assert again.contact_sheet().size[0] > 0
    assert "damaged image" in again.export_html(tmp_path / "p.html").read_text()
    with pytest.raises(ValueError, match="damaged"):
        _ = again.items[1].image
    again.remove(bad.id)  # a damaged item can be removed like any other
    assert [i.id for i in MoodBoard(tmp_path).items] == [good.id]


def test_an_image_that_fails_only_when_drawn_is_marked_damaged(tmp_path: Path) -> None:
    board = MoodBoard(tmp_path)
    item = board.pin(_png_bytes(1), caption="x")
    # the file is damaged after the board was opened: drawing its tile finds out
    item.path.write_bytes(_truncated_pixels(item.path.read_bytes()))
    board._thumbs.clear()
    board._render()
    assert board.items[0].damaged


def test_confine_refuses_escapes_and_returns_paths_under_the_root(tmp_path: Path) -> None:
    assert confine(tmp_path, "a/b.png") == tmp_path / "a" / "b.png"
    assert confine(tmp_path, str(tmp_path / "a.png")) == tmp_path / "a.png"
    assert confine(tmp_path, "a/../b.png") == tmp_path / "b.png"
    for bad in ("../x.png", "/etc/passwd", "", ".", "a/\x00.png", "..\\x.png"):
        with pytest.raises(OutsideFolderError):
            confine(tmp_path, bad)
