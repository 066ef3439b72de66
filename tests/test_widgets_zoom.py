"""Zoom and pan of the editor's canvas without a browser: sizes, the wheel's messages, the Pan switch."""

from __future__ import annotations

import numpy as np
import pytest

from dalle_widgets.widgets import MaskEditor
from dalle_widgets.widgets._zoom import MAX_CANVAS_PX, ZOOMS, canvas_px, zoom_step


def _photo(w: int, h: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_zoom_steps_and_canvas_pixels_never_exceed_the_image_or_the_cap() -> None:
    assert [zoom_step(z, 1) for z in ZOOMS] == [*ZOOMS[1:], ZOOMS[-1]]
    assert [zoom_step(z, -1) for z in ZOOMS] == [ZOOMS[0], *ZOOMS[:-1]]
    assert canvas_px((1500, 2400), 512, 4.0) == 2048
    assert canvas_px((1500, 2400), 512, 6.0) == 2400  # the photo's own pixels, not 3072
    assert canvas_px((6000, 9000), 1024, 8.0) == MAX_CANVAS_PX
    assert canvas_px((300, 400), 512, 3.0) == 512  # a small image keeps the fitted canvas


def test_zoom_past_the_image_pixels_enlarges_the_css_box_only() -> None:
    ed = MaskEditor(_photo(800, 600), display_px=400)
    ed.set_zoom(8)
    assert (ed.canvas.width, ed.canvas.height) == (800, 600)  # 1:1, not 3200x2400
    assert (ed.canvas.layout.width, ed.canvas.layout.height) == ("3200px", "2400px")
    ed.add_rectangle((0, 0, 10, 10))
    ed.handle_mouse_down(400, 300)  # canvas pixels map to image pixels 1:1 here
    ed.handle_mouse_up(400, 300)
    assert ed.strokes[-1].points == ((400.0, 300.0),)
    assert ed.zoom_fit_button.description == "Fit (8×)" and ed.canvas_col.layout.max_width == "100%"
    ed.set_zoom(1)
    assert ed.canvas.width == 400 and ed.canvas.layout.max_width == "100%"


def test_ctrl_wheel_messages_step_the_zoom_and_stop_at_the_ends() -> None:
    ed = MaskEditor(_photo(2400, 1500), display_px=512)
    for _ in range(3):
        ed.panzoom._on_custom_msg(ed.panzoom, {"event": "zoom", "direction": 1}, [])
    assert ed.zoom == 3.0 and ed.canvas.width == 1536 and ed.panzoom.wheel_zooms == 3
    for _ in range(9):
        ed.panzoom._on_custom_msg(ed.panzoom, {"event": "zoom", "direction": -1}, [])
    assert ed.zoom == 1.0 and ed.canvas.width == 512
    ed.panzoom._on_custom_msg(ed.panzoom, {"event": "other"}, [])
    assert ed.panzoom.wheel_zooms == 12 and ed.error is None


def test_pan_switch_and_h_key_reach_the_browser_helper() -> None:
    ed = MaskEditor(_photo(800, 600), display_px=400)
    assert ed.panzoom in ed.children and ed.panzoom.pan is False
    ed.handle_key({"key": "h"})
    assert ed.pan_button.value is True and ed.panzoom.pan is True
    ed.pan_button.value = False
    assert ed.panzoom.pan is False
    with pytest.raises(ValueError, match="zoom must be between 1 and 8"):
        ed.set_zoom(0.5)


def test_accept_of_another_size_keeps_the_zoom_and_refits_the_canvas() -> None:
    ed = MaskEditor(_photo(512, 512), display_px=256, size="1024x1024")
    ed.set_zoom(2)
    ed.stage([_photo(1024, 1024)])
    ed.accept(0)
    assert ed.zoom == 2 and (ed.canvas.width, ed.canvas.height) == (512, 512)
    assert ed.canvas.layout.width == "512px"
