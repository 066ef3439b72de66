"""MaskEditor in a real browser (JupyterLab + Chromium + the offline engine in the kernel).

Paint with the mouse and check the full-resolution mask in the kernel; use the
buttons; press keys that must not leak into notebook shortcuts; Generate, see
candidates, accept one; run another cell while a request is in flight; reload the
page and see the same image and mask.
"""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.browser

EDITOR = ".dalle-mask-editor"


def _near(p, q, tol=2.5):
    return abs(p[0] - q[0]) <= tol and abs(p[1] - q[1]) <= tol


def _canvas(lab_page):
    canvas = lab_page.page.locator(f"{EDITOR} .dalle-mask-canvas").first
    canvas.wait_for()
    return canvas


def _pixel(lab_page, x: int, y: int) -> list[int]:
    """RGBA of the composited canvas view at CSS pixel (x, y)."""
    return lab_page.page.evaluate(
        """([x, y]) => {
            const el = document.querySelector('.dalle-mask-editor .dalle-mask-canvas');
            const c = el.tagName === 'CANVAS' ? el : el.querySelector('canvas');
            const r = c.getBoundingClientRect();
            const sx = c.width / r.width, sy = c.height / r.height;
            const d = c.getContext('2d').getImageData(Math.round(x * sx), Math.round(y * sy), 1, 1);
            return Array.from(d.data);
        }""",
        [x, y],
    )


def _wait_pixel(lab_page, x, y, pred, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        px = _pixel(lab_page, x, y)
        if pred(px):
            return px
        if time.monotonic() > deadline:
            raise AssertionError(f"pixel at {(x, y)} stayed {px}")
        time.sleep(0.1)


def test_paint_undo_keys_generate_accept_reload(lab_page) -> None:
    page = lab_page.page
    # wide enough for the canvas at its own 512 px beside the tools (the layout test covers narrow ones)
    lab_page.page.set_viewport_size({"width": 1700, "height": 1400})
    lab_page.open("mask_editor")
    canvas = _canvas(lab_page)
    editor = page.locator(EDITOR).first
    lab_page.shot("opened", editor)
    box = canvas.bounding_box()
    assert round(box["width"]) == 512 and round(box["height"]) == 512
    before = _wait_pixel(lab_page, 175, 160, lambda p: p[3] == 255)

    # 1. paint: a drag from (50, 60) to (300, 260) CSS px on a 512 px view of a 1024 px image
    lab_page.drag(canvas, [(50 + 25 * i, 60 + 20 * i) for i in range(11)])
    assert lab_page.wait_for("len(editor.strokes)", lambda v: v == 1) == 1
    pts = lab_page.eval("[tuple(round(v) for v in p) for p in editor.strokes[0].points]")
    assert _near(pts[0], (100, 120)) and _near(pts[-1], (600, 520)), pts
    for x, y in [(100, 120), (350, 320), (600, 520)]:  # the path, at full resolution
        assert lab_page.eval(f"bool(editor.mask[{y}, {x}])") is True
    assert lab_page.eval("bool(editor.mask[900, 100])") is False
    tinted = _wait_pixel(lab_page, 175, 160, lambda p: p[0] > before[0] + 30)  # the overlay is drawn
    assert tinted[0] > before[0]
    page.mouse.move(box["x"] + 480, box["y"] + 40)
    lab_page.shot("stroke", editor)

    # 1b. while the button is held the preview grows one segment per move, with one even tint:
    #     the joints between segments must not be tinted twice (0.55 alpha over the image)
    spots = [(110, 470), (85, 450), (160, 430), (185, 450)]  # joints and mid-segments
    under = [_pixel(lab_page, x, y) for x, y in spots]
    page.mouse.move(box["x"] + 60, box["y"] + 430)
    page.mouse.down()
    for x, y in [(110, 470), (160, 430), (210, 470)]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=5)
    tint = [0.45 * u + 0.55 * c for u, c in zip(under[0][:3], (255, 64, 64), strict=True)]
    _wait_pixel(lab_page, 110, 470, lambda p: max(abs(a - b) for a, b in zip(p[:3], tint, strict=True)) <= 12)
    lab_page.shot("preview-while-painting", editor)
    for (x, y), u in zip(spots, under, strict=True):
        expected = [0.45 * a + 0.55 * c for a, c in zip(u[:3], (255, 64, 64), strict=True)]
        got = _pixel(lab_page, x, y)
        assert max(abs(a - b) for a, b in zip(got[:3], expected, strict=True)) <= 12, ((x, y), got, expected)
    page.mouse.up()
    assert lab_page.wait_for("len(editor.strokes)", lambda v: v == 2) == 2
    page.locator(f"{EDITOR} .dalle-undo").first.click()
    assert lab_page.wait_for("len(editor.strokes)", lambda v: v == 1) == 1
    page.mouse.move(box["x"] + 480, box["y"] + 40)  # keys go to the canvas under the pointer

    # 2. keys over the canvas: '[' shrinks the brush, 'd d' and 'x' must not touch the notebook's cells
    cells = page.locator(".jp-NotebookPanel .jp-Cell").count()
    size0 = lab_page.eval("editor.brush_size")
    for key in ["[", "d", "d", "x", "a", "b"]:
        page.keyboard.press(key)
    assert lab_page.wait_for("editor.brush_size", lambda v: v < size0) < size0
    time.sleep(0.3)
    assert page.locator(".jp-NotebookPanel .jp-Cell").count() == cells

    # 3. buttons: rectangle tool + undo button
    page.locator(f"{EDITOR} .widget-toggle-button:has-text('Rect')").first.click()
    lab_page.drag(canvas, [(350, 350), (420, 400), (480, 470)])
    assert lab_page.wait_for("len(editor.strokes)", lambda v: v == 2) == 2
    assert lab_page.eval("editor.strokes[-1].tool") == "rectangle"
    assert lab_page.eval("bool(editor.mask[830, 830])") is True
    page.locator(f"{EDITOR} .dalle-undo").first.click()
    assert lab_page.wait_for("len(editor.strokes)", lambda v: v == 1) == 1
    assert lab_page.eval("bool(editor.mask[830, 830])") is False

    # 4. show what will be sent: the regenerated area turns into a checkerboard
    page.locator(f"{EDITOR} .dalle-show-sent").first.click()
    page.mouse.move(box["x"] + 480, box["y"] + 40)
    time.sleep(0.5)
    lab_page.shot("what-will-be-sent", editor)
    page.locator(f"{EDITOR} .dalle-show-sent").first.click()

    # 5. Generate: the kernel stays free while the request is in flight
    page.locator(f"{EDITOR} .dalle-generate").first.click()
    out = lab_page.add_and_run("print('still free:', editor.running)")
    out.first.wait_for()
    assert lab_page.wait_for("editor.running", lambda v: v is True or v is False) in (True, False)
    text = out.first.text_content()
    assert "still free: True" in text, text
    page.locator(f"{EDITOR} .dalle-spinner").first.wait_for()
    lab_page.shot("in-flight", editor)
    cards = page.locator(f"{EDITOR} .dalle-candidate")
    cards.nth(2).wait_for(timeout=180_000)
    assert lab_page.eval("len(editor.staging)") == 3
    assert lab_page.eval("editor.error") is None
    lab_page.shot("candidates", editor)

    # 6. accept the second candidate: new base image, mask cleared
    cards.nth(1).locator(".dalle-accept").click()
    assert lab_page.wait_for("len(editor.history)", lambda v: v == 1) == 1
    assert lab_page.eval("int(editor.mask.sum())") == 0
    assert lab_page.eval("len(editor.staging)") == 2
    cards.nth(2).wait_for(state="detached")
    assert lab_page.eval("bool((editor.image == editor.last_result[1].to_numpy()[..., :3]).all())") is True
    lab_page.shot("accepted", editor)

    # 7. paint again, then reload the page: the same image and mask come back
    page.locator(f"{EDITOR} .widget-toggle-button:has-text('Brush')").first.click()
    lab_page.drag(canvas, [(100, 400), (200, 400)])
    lab_page.wait_for("len(editor.strokes)", lambda v: v >= 3)
    page.mouse.move(5, 5)
    time.sleep(1.0)  # the mask layer is redrawn once the stroke is committed
    painted = _pixel(lab_page, 150, 400)
    lab_page.save()
    lab_page.goto()
    _canvas(lab_page)

    def same(p: list[int]) -> bool:
        return max(abs(a - b) for a, b in zip(p, painted, strict=True)) <= 6

    again = _wait_pixel(lab_page, 150, 400, same)
    assert again[3] == 255
    lab_page.shot("reloaded", page.locator(EDITOR).first)
    assert not lab_page.page_errors, lab_page.page_errors
