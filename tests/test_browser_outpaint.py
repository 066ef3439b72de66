"""OutpaintEditor in a real browser: margins by number, the frame plan drawn first, fill with progress."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ED = ".dalle-outpaint-editor"


def _set(page, cls: str, value: str) -> None:
    box = page.locator(f"{ED} .{cls} input").first
    for _ in range(10):  # typed over, not appended to a value still syncing in
        box.fill(value)
        if box.input_value() == value:
            break
        time.sleep(0.2)
    expect(box).to_have_value(value)
    box.press("Enter")


def test_margins_plan_fill(lab_page) -> None:
    page = lab_page.page
    lab_page.open("outpaint_editor")
    editor = page.locator(ED).first
    editor.locator(".dalle-outpaint-canvas").first.wait_for()
    lab_page.shot("opened", editor)

    # a target size first, then margins typed as numbers
    target = editor.locator(".dalle-target-size input").first
    target.fill("1024x512")
    editor.locator(".dalle-apply-target").click()
    assert lab_page.wait_for("ed.margins", lambda m: m["left"] == 256)["right"] == 256
    for side in ("left", "right"):  # the browser shows the kernel's new margins before we type
        expect(page.locator(f"{ED} .dalle-margin-{side}-value input").first).to_have_value("256")
    _set(page, "dalle-margin-left-value", "256")
    _set(page, "dalle-margin-right-value", "768")
    m = lab_page.wait_for("ed.margins", lambda m: m["right"] == 768)
    assert m == {"left": 256, "top": 0, "right": 768, "bottom": 0}
    assert lab_page.eval("ed.canvas_state.size") == (1536, 512)
    assert lab_page.eval("len(ed.plan)") == 3  # drawn before anything is sent
    assert lab_page.eval("len(ed.frames_done)") == 0
    # the browser follows the kernel's state a moment later: wait for the 3:1 view
    canvas = editor.locator(".dalle-outpaint-canvas").first
    deadline = time.monotonic() + 30
    while (box := canvas.bounding_box()) and round(box["height"]) != 256 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert round(box["width"]) == 768 and round(box["height"]) == 256
    lab_page.shot("plan", editor)

    editor.locator(".dalle-generate").click()
    editor.locator(".widget-html", has_text="filled in").first.wait_for(timeout=300_000)
    assert lab_page.eval("ed.canvas_state.done") is True
    assert lab_page.eval("len(ed.frames_done)") == 3
    assert lab_page.eval("ed.error") is None
    page.mouse.move(5, 5)
    lab_page.shot("filled", editor)
    assert not lab_page.page_errors, lab_page.page_errors
