"""MaskEditor in a real browser: paint with the mouse, undo, keys that must not leak, generate."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

CANVAS = ".jp-OutputArea-output .dalle-mask-editor canvas"


def _canvas(lab_page):
    canvas = lab_page.page.locator(".dalle-mask-editor .dalle-mask-canvas").first
    canvas.wait_for()
    return canvas


def _near(p, q, tol=2.5):
    return abs(p[0] - q[0]) <= tol and abs(p[1] - q[1]) <= tol


def test_paint_stroke_maps_to_full_resolution(lab_page) -> None:
    lab_page.open("mask_editor")
    canvas = _canvas(lab_page)
    lab_page.shot("opened", lab_page.page.locator(".dalle-mask-editor").first)
    box = canvas.bounding_box()
    assert round(box["width"]) == 512 and round(box["height"]) == 512
    # drag from (50, 60) to (300, 260) CSS px on a 512 px view of a 1024 px image
    pts = [(50 + 25 * i, 60 + 20 * i) for i in range(11)]
    lab_page.drag(canvas, pts)
    n = lab_page.wait_for("len(editor.strokes)", lambda v: v == 1)
    assert n == 1
    stroke_pts = lab_page.eval("[tuple(round(v) for v in p) for p in editor.strokes[0].points]")
    # the bounding box top can be fractional: allow 2 image px (1 CSS px)
    assert _near(stroke_pts[0], (100, 120)) and _near(stroke_pts[-1], (600, 520)), stroke_pts
    # the mask covers the path at full resolution, and nothing far away
    for x, y in [(100, 120), (350, 320), (600, 520)]:
        assert lab_page.eval(f"bool(editor.mask[{y}, {x}])") is True
    assert lab_page.eval("bool(editor.mask[900, 100])") is False
    lab_page.page.mouse.move(0, 0)
    lab_page.shot("stroke", lab_page.page.locator(".dalle-mask-editor").first)

