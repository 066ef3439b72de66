"""The browser harness itself: JupyterLab runs a notebook and mouse events reach the kernel."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_harness_drag_reaches_kernel(lab_page) -> None:
    lab_page.open("smoke")
    canvas = lab_page.page.locator(".jp-OutputArea-output canvas.smoke-canvas")
    canvas.wait_for()
    lab_page.drag(canvas, [(20, 20), (60, 60), (100, 100)])
    assert lab_page.wait_for("points[-1][0] if points else None", lambda v: v == "up") == "up"
    kinds = lab_page.eval("[p[0] for p in points]")
    # the move to the start point arrives as a move before the press
    assert kinds.count("down") == 1 and kinds.count("up") == 1 and kinds.count("move") >= 2
    lab_page.shot("drag", canvas)
