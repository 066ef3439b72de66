"""Multi-image edits in a real browser: the mood board's Combine and the mask editor's references.

JupyterLab + Chromium + the offline engine (gpt-image-2) in the kernel: select two board
images with their toggles, describe the result, press Combine, and the new image appears
on the board with its lineage; the editor shows its references as thumbnails, one is
removed with its button, and Generate sends the base image and the one left.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

BOARD = ".dalle-board"
EDITOR = ".dalle-mask-editor"


def test_combine_on_the_board_and_references_in_the_editor(lab_page) -> None:
    page = lab_page.page
    lab_page.open("board_combine")
    board = page.locator(BOARD).first
    items = board.locator(".dalle-board-item")
    items.nth(2).wait_for()
    combine = board.locator(".dalle-combine").first
    assert combine.is_disabled()

    # select the room first (the base), then the red swatch (a reference)
    line = board.locator(".dalle-selection-line")
    items.nth(0).locator(".dalle-select").click()
    line.filter(has_text="Base: 'a quiet room': select 1 more").wait_for()
    items.nth(1).locator(".dalle-select").click()
    line.filter(has_text="Base: 'a quiet room', then 1 reference").wait_for()
    ids = lab_page.wait_for("[i.id for i in board.selected]", lambda v: len(v) == 2)
    assert ids == lab_page.eval("[i.id for i in board.items[:2]]")
    labels = [items.nth(k).locator(".dalle-select").inner_text().strip() for k in range(3)]
    assert labels == ["1 · base", "2 · reference", "Select"]
    lab_page.shot("board-selected", board)

    prompt = board.locator(".dalle-combine-prompt input")
    prompt.fill("the quiet room repainted in the swatch's red")
    prompt.press("Tab")
    lab_page.wait_for("board.combine_prompt.value", lambda v: v.startswith("the quiet room"))
    assert not combine.is_disabled() and combine.inner_text().strip() == "Combine 2"
    combine.click()
    items.nth(3).wait_for(timeout=120_000)
    assert lab_page.wait_for("len(board.items)", lambda v: v == 4) == 4
    assert lab_page.eval("board.items[-1].sources") == ids
    status = board.locator(".dalle-status").inner_text()
    assert "Combined 2 board images into a new image" in status and "free (offline engine)" in status
    info = items.nth(3).locator(".dalle-board-info")
    assert info.get_attribute("title") == (
        "the quiet room repainted in the swatch's red (combined from 2 board images, edit, gpt-image-2)"
    )
    # the new tile shows a red picture (the reference steered it), as a thumbnail
    red, green = page.evaluate(
        """() => {
            const im = document.querySelectorAll('.dalle-board .dalle-board-thumb')[3];
            const c = document.createElement('canvas');
            c.width = im.naturalWidth; c.height = im.naturalHeight;
            const g = c.getContext('2d'); g.drawImage(im, 0, 0);
            const d = g.getImageData(0, 0, c.width, c.height).data;
            let r = 0, gr = 0;
            for (let i = 0; i < d.length; i += 4) { r += d[i]; gr += d[i + 1]; }
            return [r / (d.length / 4), gr / (d.length / 4)];
        }"""
    )
    assert red > green + 60, (red, green)
    lab_page.shot("board-combined", board)

    # the editor: two reference thumbnails; remove the blue one, then generate
    editor = page.locator(EDITOR).first
    refs = editor.locator(".dalle-reference")
    refs.nth(1).wait_for()
    assert refs.count() == 2
    assert "2 reference images" in editor.locator(".dalle-references").inner_text()
    lab_page.shot("editor-references", editor)
    refs.nth(1).locator(".dalle-remove-reference").click()
    assert lab_page.wait_for("len(editor.references)", lambda v: v == 1) == 1
    # the kernel drops it first; the strip follows when the widget update reaches the page
    refs.nth(1).wait_for(state="detached")
    assert refs.count() == 1
    editor.locator(".dalle-generate").first.click()
    editor.locator(".dalle-staging .dalle-candidate img").first.wait_for(timeout=120_000)
    assert lab_page.eval("len(editor.last_result[0].info['parent_hashes'])") == 2
    lab_page.shot("editor-generated", editor)
    assert not lab_page.page_errors, lab_page.page_errors
