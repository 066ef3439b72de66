"""Story 2 in a real browser, the tile actions not covered elsewhere: "Edit" opens a MaskEditor on
that tile's image (it shows that image, painting reaches the kernel's mask at full resolution) and
"Save" writes the PNG where the widget's status line says."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

TOP = ".dalle-gallery"
SMALL = 32  # side of the thumbnail compared between the browser's canvas and the kernel's images


def _canvas_small(page, selector: str) -> list[list[list[int]]]:
    """The canvas downscaled to SMALL x SMALL in the browser, as RGB rows."""
    return page.evaluate(
        """([sel, n]) => {
            const c = document.querySelector(sel);
            const t = document.createElement('canvas'); t.width = n; t.height = n;
            const ctx = t.getContext('2d'); ctx.imageSmoothingQuality = 'high';
            ctx.drawImage(c, 0, 0, n, n);
            const d = ctx.getImageData(0, 0, n, n).data, rows = [];
            for (let y = 0; y < n; y++) { const row = [];
                for (let x = 0; x < n; x++) {
                    const i = 4 * (y * n + x); row.push([d[i], d[i + 1], d[i + 2]]); }
                rows.push(row); }
            return rows;
        }""",
        [selector, SMALL],
    )


def _mean_abs(a, b) -> float:
    flat_a = [v for row in a for px in row for v in px]
    flat_b = [v for row in b for px in row for v in px]
    return sum(abs(x - y) for x, y in zip(flat_a, flat_b, strict=True)) / len(flat_a)


def test_tile_edit_and_save(lab_page) -> None:
    page = lab_page.page
    # wide enough for the canvas at its own 512 px beside the tools (the layout test covers narrow ones)
    lab_page.page.set_viewport_size({"width": 1700, "height": 1400})
    lab_page.open("gallery_edit_save")
    gallery = page.locator(TOP).first
    tiles = gallery.locator(".dalle-gallery-grid").first.locator(":scope > .dalle-tile")
    tiles.nth(2).wait_for()
    assert tiles.count() == 3
    lab_page.shot("gallery", gallery)

    # -- Edit on tile 1: an editor opens below the grid, on that image ------------------------
    tiles.nth(1).locator(".dalle-edit").click()
    canvas_sel = f"{TOP} .dalle-mask-editor .dalle-mask-canvas"
    canvas = page.locator(canvas_sel).first
    canvas.wait_for()
    assert lab_page.wait_for("galleries()[0].editor is not None") is True
    assert lab_page.eval("bool((galleries()[0].editor.image == result[1].to_numpy()[..., :3]).all())") is True
    assert lab_page.eval("galleries()[0].editor.prompt.value") == "a lighthouse on a cliff at sunset"
    assert "Editing #1" in gallery.text_content()
    box = canvas.bounding_box()
    assert round(box["width"]) == 512 and round(box["height"]) == 512
    page.mouse.move(5, 5)  # no brush cursor over the picture
    # the canvas shows image #1, not one of its siblings
    expected = lab_page.eval(
        f"__import__('numpy').asarray([r.image.convert('RGB').resize(({SMALL}, {SMALL}), 4) for r in result])"
        ".astype(int).tolist()"
    )
    deadline = time.monotonic() + 20
    while True:
        shown = _canvas_small(page, canvas_sel)
        diffs = [_mean_abs(shown, e) for e in expected]
        if diffs[1] < 6 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert diffs[1] < 6 and diffs[1] < min(diffs[0], diffs[2]), diffs
    editor = gallery.locator(".dalle-mask-editor").first
    lab_page.shot("edit-opened", gallery)

    # paint a little: the editor's mask (full resolution, 512 px here) covers the stroke's path
    lab_page.drag(canvas, [(100 + 30 * i, 300 - 10 * i) for i in range(8)])
    assert lab_page.wait_for("len(galleries()[0].editor.strokes)", lambda v: v == 1) == 1
    for x, y in [(100, 300), (190, 270), (310, 230)]:
        assert lab_page.eval(f"bool(galleries()[0].editor.mask[{y}, {x}])") is True
    assert lab_page.eval("bool(galleries()[0].editor.mask[40, 450])") is False
    page.mouse.move(5, 5)
    time.sleep(0.5)
    lab_page.shot("edit-painted", editor)

    # Close editor empties the detail area
    gallery.locator(".dalle-close-editor").click()
    canvas.wait_for(state="detached")
    assert lab_page.wait_for("galleries()[0].editor is None") is True

    # -- Save on tile 2: the file lands where the status line says ----------------------------
    tiles.nth(2).locator(".dalle-save").click()
    status = gallery.locator(".dalle-status").first
    status.get_by_text("Saved #2 to").wait_for()
    said = re.search(r"Saved #2 to (\S+\.png)", status.text_content())
    assert said, status.text_content()
    path = Path(said.group(1))
    assert path.is_absolute() and path.parent == lab_page.server.root / "dalle-images", path
    assert path.name.startswith("a-lighthouse-on-a-cliff-at-sunset")
    assert lab_page.eval(f"open({str(path)!r}, 'rb').read() == result[2].png") is True
    lab_page.shot("saved", gallery)
    assert not lab_page.page_errors, lab_page.page_errors
