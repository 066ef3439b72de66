"""Photos of any size in MaskEditor, in JupyterLab 4 + Chromium: the Window / Pad / Crop choice,
the outline of what will be sent, the plan line, and a 2400x1500 photo edited at its own size."""

from __future__ import annotations

import time

import pytest

from tests.fixtures.lab import LabPage

pytestmark = pytest.mark.browser

EDITOR = ".dalle-mask-editor"


def _text(locator) -> str:
    return " ".join((locator.text_content() or "").split())


def test_photo_framing_choice_outline_and_generate_at_the_photo_size(lab_page: LabPage) -> None:
    page = lab_page.page
    page.set_viewport_size({"width": 1280, "height": 800})
    lab_page.open("photos")
    big, small = page.locator(EDITOR).nth(0), page.locator(EDITOR).nth(1)
    canvas = big.locator(".dalle-mask-canvas").first
    canvas.wait_for()
    # both photos open with the choice, Window selected, and say the window follows the mask
    for ed in (big, small):
        assert ed.locator(".dalle-framing button").count() == 3
        assert "mod-active" in (
            ed.locator(".dalle-framing button", has_text="Window").get_attribute("class") or ""
        )
    assert "Paint where to regenerate" in _text(big.locator(".dalle-plan"))
    lab_page.shot("800x600-opens-with-choice", small)

    # a rectangle on the 2400x1500 photo: the plan names the window, the outline is drawn
    big.locator(".dalle-tools button", has_text="Rect").click()
    box = canvas.bounding_box()
    w, h = box["width"], box["height"]
    lab_page.drag(canvas, [(w * 0.42, h * 0.40), (w * 0.50, h * 0.53)], steps_between=4)
    lab_page.wait_for("len(editor.strokes)", lambda v: v == 1)
    plan = lab_page.wait_for("editor.send_plan()", lambda v: "window at" in v)
    assert "of your 2400x1500 photo; the result keeps 2400x1500" in plan
    page.wait_for_function(
        "(el) => el.textContent.includes('the result keeps 2400x1500')",
        arg=big.locator(".dalle-plan").element_handle(),
    )
    lab_page.shot("2400x1500-window-outline", big)
    # the outline's pixels are on the mask layer: its yellow shows at the window's left edge
    x0 = lab_page.eval("editor.send_window.box[0]")
    scale = lab_page.eval("editor.canvas.width") / 2400
    yellow = canvas.evaluate(
        """(c, x) => {
            const layers = c.closest('.dalle-canvas-frame').querySelectorAll('canvas');
            let hits = 0;
            for (const l of layers) {
              const d = l.getContext('2d').getImageData(Math.round(x) - 2, 0, 5, l.height).data;
              for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] > 170 && d[i + 2] < 90) hits++;
            }
            return hits;
        }""",
        x0 * scale,
    )
    assert yellow > 10, yellow

    # Pad and Crop: the plan line follows the choice before anything is sent
    big.locator(".dalle-framing button", has_text="Pad").click()
    page.wait_for_function(
        "(el) => el.textContent.includes('padded to a square')",
        arg=big.locator(".dalle-plan").element_handle(),
    )
    lab_page.shot("2400x1500-pad", big)
    big.locator(".dalle-framing button", has_text="Crop").click()
    page.wait_for_function(
        "(el) => el.textContent.includes('the centre 1500x1500')",
        arg=big.locator(".dalle-plan").element_handle(),
    )
    lab_page.shot("2400x1500-crop", big)
    big.locator(".dalle-framing button", has_text="Window").click()
    assert lab_page.wait_for("editor.framing", lambda v: v == "window") == "window"

    # Generate: the candidate is the photo's size, the window's box in its provenance
    big.locator(".dalle-generate").click()
    lab_page.wait_for("len(editor.staging)", lambda v: v == 1, timeout=120)
    assert lab_page.eval("editor.staging[0].size") == (2400, 1500)
    assert lab_page.eval("editor.staging[0].info['window']['box']") == list(
        lab_page.eval("editor.send_window.box")
    )
    big.locator(".dalle-accept").first.click()
    lab_page.wait_for("len(editor.history)", lambda v: v == 1)
    assert lab_page.eval("editor.image.shape") == (1500, 2400, 3)
    time.sleep(0.5)
    lab_page.shot("2400x1500-accepted", big)
    assert not lab_page.page_errors, lab_page.page_errors
