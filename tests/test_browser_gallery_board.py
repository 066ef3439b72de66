"""Gallery and MoodBoard in a real browser: an ImageResult shows as a gallery; select, vary (lineage),
pin to the board, caption and reorder, reload the board from disk, vary everything pinned, export."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser

TOP = ".dalle-gallery"


def test_gallery_vary_pin_board_reload(lab_page) -> None:
    page = lab_page.page
    lab_page.open("gallery_board")
    gallery = page.locator(TOP).first
    tiles = gallery.locator(".dalle-gallery-grid").first.locator(":scope > .dalle-tile")
    tiles.nth(3).wait_for()
    assert tiles.count() == 4
    assert lab_page.eval("len(galleries())") == 1
    lab_page.eval("galleries()[0].on_select(selected.append)")
    lab_page.shot("gallery", gallery)

    # thumbnails only: each tile's image is a small PNG, not the 512 px original
    sizes = page.evaluate("""() => Array.from(document.querySelectorAll('.dalle-gallery .dalle-thumb'))
        .map(im => [im.naturalWidth, im.naturalHeight])""")
    assert sizes and all(max(s) <= 256 for s in sizes), sizes

    # click a thumbnail: the kernel sees the selection
    tiles.nth(2).locator(".dalle-thumb").click()
    assert lab_page.wait_for("galleries()[0].selected_index", lambda v: v == 2) == 2
    assert lab_page.eval("selected[-1] is result[2]") is True

    # provenance on demand
    tiles.nth(0).locator(".dalle-info").click()
    prov = tiles.nth(0).locator(".dalle-provenance")
    prov.wait_for()
    assert "a watercolor fox in a forest" in prov.text_content()

    # vary tile 0: its variations appear beneath as a lineage row
    tiles.nth(0).locator(".dalle-vary").click()
    lineage = gallery.locator(".dalle-lineage .dalle-tile")
    lineage.nth(2).wait_for(timeout=120_000)
    assert lab_page.eval("len(galleries()[0].lineage[0][0].images)") == 3
    assert lab_page.eval("galleries()[0].lineage[0][0].images[0].info['operation']") in ("vary", "variation")
    lab_page.shot("lineage", gallery)

    # pin two tiles to the board shown below
    tiles.nth(1).locator(".dalle-pin").click()
    tiles.nth(3).locator(".dalle-pin").click()
    items = page.locator(".dalle-board .dalle-board-item")
    items.nth(1).wait_for()
    assert lab_page.wait_for("len(board.items)", lambda v: v == 2) == 2
    assert lab_page.eval("[i.caption for i in board.items]") == ["a watercolor fox in a forest"] * 2

    # caption and reorder from the board's own controls
    cap = items.nth(0).locator(".dalle-caption input")
    cap.fill("fox one")
    cap.press("Enter")
    assert lab_page.wait_for("board.items[0].caption", lambda v: v == "fox one") == "fox one"
    items.nth(0).locator(".dalle-move-right").click()
    assert lab_page.wait_for("[i.caption for i in board.items]", lambda v: v[1] == "fox one")[1] == "fox one"
    lab_page.shot("board", page.locator(".dalle-board").first)

    # reload the board from its folder in a new cell: same order, same captions
    out = lab_page.add_and_run("board2 = MoodBoard(board.path); display(board2)")
    out.first.wait_for()
    assert lab_page.wait_for("[i.caption for i in board2.items]", lambda v: len(v) == 2) == [
        "a watercolor fox in a forest",
        "fox one",
    ]
    assert lab_page.eval("board2.skipped") == []
    reloaded = page.locator(".dalle-board").last
    reloaded.locator(".dalle-board-item").nth(1).wait_for()

    # vary everything pinned, then export
    reloaded.locator(".dalle-vary-all").click()
    reloaded.locator(".dalle-gallery .dalle-tile").nth(1).wait_for(timeout=120_000)
    assert lab_page.wait_for("len(board2.variations)", lambda v: v == 2) == 2
    reloaded.locator(".dalle-export-png").click()
    reloaded.locator(".dalle-export-html").click()
    assert lab_page.wait_for("len(list(board2.store.export_dir.glob('board-*.*')))", lambda v: v >= 2) >= 2
    assert lab_page.eval("str(board2.last_export.parent)") == str(lab_page.server.root / "dalle-images")
    lab_page.shot("board-reloaded-varied", reloaded)

    # Remove, then Undo: the image comes back to its place, on disk too
    reloaded.locator(".dalle-board-item").nth(0).locator(".dalle-remove").click()
    assert lab_page.wait_for("len(MoodBoard(board2.path).items)", lambda v: v == 1) == 1
    lab_page.shot("board-removed", reloaded)
    tile = reloaded.locator(".dalle-board-item").first
    info = tile.locator(".dalle-board-info")
    info.hover()  # the hover summary: the whole prompt, operation and model
    assert info.get_attribute("title") == "a watercolor fox in a forest (generate, dall-e-2)"
    assert tile.locator("img").count() == 1 and not tile.locator(".jupyter-widgets-error-widget").count()
    reloaded.locator(".dalle-undo-remove").click()
    captions = lab_page.wait_for("[i.caption for i in MoodBoard(board2.path).items]", lambda v: len(v) == 2)
    assert captions == ["a watercolor fox in a forest", "fox one"]

    # the export's link opens the file (beside the notebook) in a JupyterLab tab
    link = reloaded.locator("a.dalle-file-link")
    link.wait_for()
    link.click()
    page.locator(".lm-TabBar-tab", has_text=".html").first.wait_for(timeout=30_000)
    lab_page.shot("board-export-opened")
    page.locator(".lm-TabBar-tab", has_text=lab_page.name).first.click()

    # saved with outputs, the notebook stays small and every widget output carries a static PNG
    lab_page.save()
    nb = json.loads((lab_page.server.root / lab_page.name).read_text())
    size = (lab_page.server.root / lab_page.name).stat().st_size
    outputs = [o for c in nb["cells"] for o in c.get("outputs", []) if "data" in o]
    widget_outputs = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o["data"]]
    twins = [outputs[outputs.index(o) + 1]["data"] for o in widget_outputs]  # each view's static twin
    assert widget_outputs and all(
        "image/png" in t and "dalle-static" in "".join(t["text/html"]) for t in twins
    )
    texts = ["".join(o["data"]["text/plain"]) for o in widget_outputs]
    assert any(t.startswith("Gallery(4 images") for t in texts), texts
    assert size < 1_000_000, size
    assert not lab_page.page_errors, lab_page.page_errors
