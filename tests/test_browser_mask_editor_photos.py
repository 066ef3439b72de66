"""Photos of any size in MaskEditor, in JupyterLab 4 + Chromium: the Window / Pad / Crop choice,
the outline of what will be sent, the plan line, and a 2400x1500 photo edited at its own size."""

from __future__ import annotations

import time

import pytest

from tests.fixtures.lab import LabPage, assert_nothing_clipped, on_screen

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


# where a page point falls on an element, as fractions of its width and height
FRACTION_JS = """(c, [x, y]) => {
    const r = c.getBoundingClientRect();
    return [(x - r.left) / r.width, (y - r.top) / r.height];
}"""
# the point of the canvas at the centre of its scrolling frame, as fractions of the canvas
CENTRE_JS = """(f) => {
    const c = f.querySelector('canvas').getBoundingClientRect(), r = f.getBoundingClientRect();
    return [(r.left + f.clientWidth / 2 - c.left) / c.width, (r.top + f.clientHeight / 2 - c.top) / c.height];
}"""


def test_wheel_zoom_at_the_pointer_drag_pan_and_layout_at_1280_and_900(lab_page: LabPage) -> None:
    page = lab_page.page
    page.set_viewport_size({"width": 1280, "height": 800})
    lab_page.open("photos")
    editor = page.locator(EDITOR).first
    canvas = editor.locator(".dalle-mask-canvas").first  # one <canvas>: ipycanvas composites the layers
    frame = editor.locator(".dalle-canvas-frame").first
    canvas.wait_for()
    editor.evaluate("(e) => e.scrollIntoView({block: 'start'})")
    time.sleep(0.5)
    # 1280x800: the canvas, the tools and Generate on screen together
    assert on_screen(page, canvas) and on_screen(page, editor.locator(".dalle-generate"))
    assert on_screen(page, editor.locator(".dalle-tools"))
    lab_page.shot("1280x800-fitted")

    # Ctrl+wheel zooms in one step per notch, and the point under the pointer stays under it
    box = canvas.bounding_box()
    px, py = box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.15
    page.mouse.move(px, py)
    ratio = page.evaluate("() => window.devicePixelRatio")
    fractions = []
    fitted_width = lab_page.eval("editor._zoom.fitted[1]")
    for want in (1.5, 2.0):
        fractions.append(canvas.evaluate(FRACTION_JS, [px, py]))
        page.keyboard.down("Control")
        page.mouse.wheel(0, -120)
        page.keyboard.up("Control")
        assert lab_page.wait_for("editor.zoom", lambda v, w=want: v == w) == want
        page.wait_for_function(
            "([c, w]) => Math.abs(c.getBoundingClientRect().width - w) < 2",
            arg=[canvas.element_handle(), fitted_width * want],
            timeout=10000,
        )
        time.sleep(0.4)
    after = canvas.evaluate(FRACTION_JS, [px, py])
    # the last step had room to scroll both ways: the point under the pointer stayed under it
    assert abs(after[0] - fractions[1][0]) < 0.02 and abs(after[1] - fractions[1][1]) < 0.02, (
        fractions,
        after,
    )
    assert abs(after[0] - fractions[0][0]) < 0.02  # horizontally it held from the start
    assert page.evaluate("() => window.devicePixelRatio") == ratio  # the browser did not zoom the page
    assert lab_page.eval("editor.canvas.width") == 1024  # real pixels, not a blown-up fit
    lab_page.shot("zoomed-2x-at-pointer", editor)

    # a plain wheel scrolls the frame (ipycanvas would have swallowed it); the zoom stays
    top0 = frame.evaluate("(f) => f.scrollTop")
    page.mouse.move(px, py)
    page.mouse.wheel(0, 200)
    page.wait_for_function("([f, t]) => f.scrollTop !== t", arg=[frame.element_handle(), top0], timeout=5000)
    assert lab_page.eval("editor.zoom") == 2.0

    # middle-drag pans and paints nothing
    strokes = lab_page.eval("len(editor.strokes)")
    left0 = frame.evaluate("(f) => f.scrollLeft")
    page.mouse.move(px, py)
    page.mouse.down(button="middle")
    page.mouse.move(px - 150, py - 40, steps=6)
    page.mouse.up(button="middle")
    assert abs(frame.evaluate("(f) => f.scrollLeft") - (left0 + 150)) <= 2
    assert lab_page.wait_for("editor.panzoom.pans", lambda v: v == 1) == 1
    # the Pan switch: a left drag pans too
    editor.locator(".dalle-pan").click()
    assert lab_page.wait_for("editor.panzoom.pan") is True
    page.wait_for_function("(f) => f.style.cursor === 'grab'", arg=frame.element_handle(), timeout=5000)
    left1 = frame.evaluate("(f) => f.scrollLeft")
    page.mouse.move(px - 200, py)
    page.mouse.down()
    page.mouse.move(px - 100, py, steps=5)
    page.mouse.up()
    assert abs(frame.evaluate("(f) => f.scrollLeft") - (left1 - 100)) <= 2
    assert lab_page.wait_for("editor.panzoom.pans", lambda v: v == 2) == 2
    editor.locator(".dalle-pan").click()
    time.sleep(0.5)
    assert lab_page.eval("len(editor.strokes)") == strokes
    # with Pan off the left button paints again
    page.mouse.move(px - 200, py)
    page.mouse.down()
    page.mouse.move(px - 180, py + 10, steps=3)
    page.mouse.up()
    assert lab_page.wait_for("len(editor.strokes)", lambda v: v == strokes + 1) == strokes + 1

    # the zoom buttons keep the centre of the view in place
    centre = frame.evaluate(CENTRE_JS)
    editor.locator(".dalle-zoom-in").click()
    assert lab_page.wait_for("editor.zoom", lambda v: v == 3.0) == 3.0
    time.sleep(0.8)
    centre2 = frame.evaluate(CENTRE_JS)
    assert abs(centre2[0] - centre[0]) < 0.03 and abs(centre2[1] - centre[1]) < 0.03, (centre, centre2)
    lab_page.shot("zoomed-3x-panned", editor)

    # 900 px wide, fitted and zoomed: nothing in the editor is clipped or wider than its output
    page.set_viewport_size({"width": 900, "height": 800})
    for zoom_button in (".dalle-zoom-fit", ".dalle-zoom-in"):
        editor.locator(zoom_button).click()
        time.sleep(1.0)
        editor.evaluate("(e) => e.scrollIntoView({block: 'start'})")
        assert_nothing_clipped(editor, ignore=".dalle-canvas-frame canvas")
        assert frame.bounding_box()["width"] <= editor.bounding_box()["width"] + 1
        lab_page.shot(f"900px-{zoom_button.split('-')[-1]}")
    assert not lab_page.page_errors, lab_page.page_errors


# the composited canvas's pixels, kept in the page under ``name``; or how many differ from them
SHOT_JS = """(c, name) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    window.__shots = window.__shots || {};
    window.__shots[name] = d;
    return [c.width, c.height];
}"""
# where they differ: the box and a few pixels (dirty, full), for the failure message
WHERE_JS = """(c, name) => {
    const a = window.__shots[name], b = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let x0 = 1e9, y0 = 1e9, x1 = -1, y1 = -1, samples = [];
    for (let i = 0; i < a.length; i += 4) {
        if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2] || a[i + 3] !== b[i + 3]) {
            const p = i / 4, x = p % c.width, y = Math.floor(p / c.width);
            x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
            const px = (d) => Array.from(d.slice(i, i + 4));
            if (samples.length < 8) samples.push([x, y, px(a), px(b)]);
        }
    }
    return [x0, y0, x1, y1, samples];
}"""
DIFF_JS = """(c, name) => {
    const a = window.__shots[name], b = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    if (a.length !== b.length) return -1;
    let n = 0;
    for (let i = 0; i < a.length; i += 4) {
        if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2] || a[i + 3] !== b[i + 3]) n++;
    }
    return n;
}"""


def test_a_stroke_at_zoom_4_redraws_its_box_with_the_pixels_of_a_full_redraw(lab_page: LabPage) -> None:
    page = lab_page.page
    page.set_viewport_size({"width": 1280, "height": 800})
    lab_page.open("photos")
    editor = page.locator(EDITOR).first
    canvas = editor.locator(".dalle-mask-canvas").first  # one <canvas>: ipycanvas composites the layers
    frame = editor.locator(".dalle-canvas-frame").first
    canvas.wait_for()
    lab_page.eval("editor.add_rectangle((300, 200, 520, 380))")  # a window outline to move
    lab_page.eval("editor.set_zoom(4)")
    assert lab_page.wait_for("editor.canvas.width", lambda v: v == 2048) == 2048
    editor.evaluate("(e) => e.scrollIntoView({block: 'start'})")
    time.sleep(1.0)
    # a brush stroke with the mouse, inside the part of the canvas the frame shows
    fb, cb = frame.bounding_box(), canvas.bounding_box()
    x0, y0 = fb["x"] - cb["x"] + fb["width"] * 0.3, fb["y"] - cb["y"] + fb["height"] * 0.4
    lab_page.drag(canvas, [(x0, y0), (x0 + 160, y0 + 50), (x0 + 260, y0 + 20)], steps_between=6)
    lab_page.wait_for("len(editor.strokes)", lambda v: v == 2)
    boxes = lab_page.eval("editor.mask_layer_boxes")
    assert boxes, "the stroke redrew the whole layer"
    area = sum((b[2] - b[0]) * (b[3] - b[1]) for b in boxes)
    assert area < 0.1 * 2048 * 1280, boxes  # a few boxes, not the 2048x1280 layer
    time.sleep(1.5)  # the partial redraw reaches the canvas
    canvas.evaluate(SHOT_JS, "dirty")
    lab_page.shot("zoom-4-after-a-stroke", editor)
    # the whole layer drawn again (Show sent on and off): not one pixel differs
    lab_page.eval("setattr(editor.show_sent, 'value', True)")
    page.wait_for_function(
        f"(c) => ({DIFF_JS})(c, 'dirty') > 1000", arg=canvas.element_handle(), timeout=15000
    )
    lab_page.eval("setattr(editor.show_sent, 'value', False)")
    assert lab_page.eval("editor.mask_layer_boxes") is None  # that was a full redraw
    try:
        page.wait_for_function(
            f"(c) => ({DIFF_JS})(c, 'dirty') === 0", arg=canvas.element_handle(), timeout=15000
        )
    except Exception:  # noqa: BLE001 - report how many pixels differ
        raise AssertionError(
            f"{canvas.evaluate(DIFF_JS, 'dirty')} pixels differ from the full redraw, "
            f"within (x0, y0, x1, y1, samples) {canvas.evaluate(WHERE_JS, 'dirty')}"
        ) from None
    assert not lab_page.page_errors, lab_page.page_errors


def test_gpt_image_2_size_menu_starts_on_the_photos_own_size(lab_page: LabPage) -> None:
    page = lab_page.page
    page.set_viewport_size({"width": 1280, "height": 800})
    lab_page.open("gpt_photo")
    ed = page.locator(EDITOR).first
    select = ed.locator(".dalle-size select")
    select.wait_for()
    # the selected label, and whether its text (in the menu's font, with its padding) fits the menu
    shown = select.evaluate(
        """(s) => {
            const st = getComputedStyle(s), text = s.options[s.selectedIndex].text;
            const ctx = document.createElement('canvas').getContext('2d');
            ctx.font = st.font;
            const pad = parseFloat(st.paddingLeft) + parseFloat(st.paddingRight);
            const need = ctx.measureText(text).width + pad;
            return [text.replace(/\u00a0/g, ' '), need <= s.clientWidth];
        }"""
    )
    assert shown == ["1536x864 (photo)", True]
    page.wait_for_function(
        "(el) => el.textContent.includes('the result keeps 1536x864')",
        arg=ed.locator(".dalle-plan").element_handle(),
    )
    assert "Accept makes the base" not in _text(ed.locator(".dalle-plan"))
    lab_page.shot("1536x864-gpt-image-2-size", ed)
