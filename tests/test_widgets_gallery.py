"""Gallery without a browser: tiles, thumbnails only, selection, pin, save, edit, provenance."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dalle_widgets.widgets import Gallery, MaskEditor, MoodBoard
from dalle_widgets.widgets.gallery import describe_provenance


def _photo(seed: int, size: int = 1024) -> np.ndarray:
    """A photo-like image (smooth gradients plus noise) that compresses like a real picture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.dstack([np.sin(6 * xx + seed), np.cos(5 * yy - seed), np.sin(4 * (xx + yy))]) * 100 + 128
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def _tile_image(g: Gallery, i: int):
    return g.grid.children[i].children[0]


def test_tiles_carry_thumbnails_not_full_images() -> None:
    g = Gallery([_photo(s) for s in range(10)], thumb_px=256)
    assert len(g.grid.children) == 10
    total = 0
    for i in range(10):
        img = _tile_image(g, i)
        png = img.value
        total += len(png)
        assert max(Image.open(io.BytesIO(png)).size) <= 256
    assert total < 1_000_000, total


def test_select_and_on_select() -> None:
    imgs = [_photo(1, 64), _photo(2, 64)]
    g = Gallery(imgs, thumb_px=32)
    seen = []
    g.on_select(seen.append)
    assert g.selected is None
    g.select(1)
    assert g.selected_index == 1 and g.selected is imgs[1] and seen == [imgs[1]]
    # the highlight is the theme's brand colour (a class styled from --jp-brand-color1)
    assert "dalle-selected" in g.grid.children[1]._dom_classes
    assert "dalle-selected" not in g.grid.children[0]._dom_classes
    # a click on the thumbnail arrives through ipyevents and goes the same way
    g._events[0]._handle_mouse_msg(None, {"event": "click", "type": "click"}, [])
    assert g.selected_index == 0 and len(seen) == 2
    with pytest.raises(IndexError, match="out of range"):
        g.select(5)


def test_pin_to_current_board(tmp_path: Path) -> None:
    board = MoodBoard(tmp_path / "board")
    g = Gallery([_photo(3, 64)], thumb_px=32)
    g.grid.children[0].children[2].children[2].click()  # the Pin button
    assert len(board.items) == 1 and "Pinned #0" in g.status.value


def test_save_writes_png(tmp_path: Path) -> None:
    g = Gallery([_photo(4, 64)], thumb_px=32, save_dir=tmp_path)
    path = g.save(0)
    assert path.parent == tmp_path and path.suffix == ".png"
    np.testing.assert_array_equal(np.asarray(Image.open(path)), _photo(4, 64))
    assert g.save(0) != path  # never overwrites


def test_edit_opens_mask_editor_below() -> None:
    g = Gallery([_photo(5, 128)], thumb_px=32)
    ed = g.edit(0)
    assert isinstance(ed, MaskEditor) and ed in g.detail.children
    assert ed.image.shape == (128, 128, 3)
    g._close_editor()
    assert g.detail.children == ()


def test_provenance_tooltip_and_panel() -> None:
    class Gen:
        def __init__(self) -> None:
            buf = io.BytesIO()
            Image.fromarray(_photo(6, 64)).save(buf, format="PNG")
            self.png = buf.getvalue()
            self.image = Image.open(io.BytesIO(self.png))
            self.info = {
                "prompt": "a <b>bold</b> fox",
                "operation": "generate",
                "model": "dall-e-2",
                "seed": 11,
                "size": "64x64",
            }

    g = Gallery([Gen()], thumb_px=32)
    img = _tile_image(g, 0)
    assert img.tooltip is None  # ipywidgets 8.1 crashes rendering a tooltip on an Image
    assert g.grid.children[0].children[1].children[0].tooltip == describe_provenance(Gen().info)
    toggle = g.grid.children[0].children[1].children[1]
    panel = g.grid.children[0].children[3]
    toggle.value = True
    assert "seed" in panel.value and "&lt;b&gt;bold" in panel.value and panel.layout.display == "block"
    toggle.value = False
    assert panel.layout.display == "none"


def test_errors_become_one_line() -> None:
    g = Gallery([_photo(7, 32)], thumb_px=16, save_dir="/proc/definitely/not/writable")
    g.grid.children[0].children[2].children[3].click()  # Save into an impossible folder
    assert "⚠" in g.status.value and "Traceback" not in g.status.value


def test_single_image_and_static_fallback() -> None:
    g = Gallery(_photo(8, 512))
    assert len(g.images) == 1
    bundle = g._repr_mimebundle_()
    assert bundle["text/plain"] == "Gallery(1 image)"
    assert len(base64.b64decode(bundle["image/png"])) < 100_000


def test_a_replayed_image_says_so_on_its_tile() -> None:
    from types import SimpleNamespace

    from PIL import Image as PILImage

    fresh = SimpleNamespace(image=PILImage.new("RGB", (32, 32), "red"), info={"operation": "generate"})
    replay = SimpleNamespace(image=PILImage.new("RGB", (32, 32), "blue"), info={"cached": True})
    g = Gallery([fresh, replay], thumb_px=32)
    labels = [tile.children[1].children[0].value for tile in g.grid.children]
    assert "replayed" not in labels[0] and "replayed" in labels[1]


@pytest.mark.parametrize("bad", [5, None])
def test_something_that_is_no_image_or_list_is_named(bad: object) -> None:
    expected = rf"Gallery shows an image or a list of them .*; got {type(bad).__name__}"
    with pytest.raises(TypeError, match=expected):
        Gallery(bad)
