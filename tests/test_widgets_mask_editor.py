"""MaskEditor without a browser: drive the canvas handlers and the buttons' twins; check state, messages."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from dalle_widgets import masks
from dalle_widgets.widgets import MaskEditor
from dalle_widgets.widgets._canvas import Viewport


def _image(h: int = 1024, w: int = 1024) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.dstack([xx % 256, yy % 256, np.full_like(xx, 128)]).astype(np.uint8)


def _drag(ed: MaskEditor, pts: list[tuple[float, float]]) -> None:
    ed.handle_mouse_down(*pts[0])
    for p in pts[1:]:
        ed.handle_mouse_move(*p)
    ed.handle_mouse_up(*pts[-1])


def test_stroke_maps_display_to_full_resolution() -> None:
    ed = MaskEditor(_image(), display_px=512, brush_size=40)
    _drag(ed, [(50, 50), (150, 50), (250, 50)])
    (stroke,) = ed.strokes
    assert stroke.tool == "brush" and stroke.size == 40
    assert stroke.points[0] == (100.0, 100.0) and stroke.points[-1] == (500.0, 100.0)
    expected = masks.stroke((1024, 1024), stroke.points, 20)
    np.testing.assert_array_equal(ed.mask, expected)
    assert ed.mask[100, 300] and ed.mask[119, 300] and not ed.mask[125, 300]


def test_non_square_image_viewport() -> None:
    ed = MaskEditor(_image(512, 1024), display_px=512)
    assert (ed.canvas.width, ed.canvas.height) == (512, 256)
    # at zoom 1 the canvas shrinks to the output's width (and a share of the window's height)
    assert ed.canvas.layout.max_width == "100%"
    assert ed.canvas.layout.width == "min(512px, calc(68vh * 2.0000))"  # keeps the 2:1 shape
    _drag(ed, [(10, 10)])
    assert ed.strokes[0].points == ((20.0, 20.0),)
    assert ed.mask.shape == (512, 1024)


def test_viewport_clips_outside_points() -> None:
    vp = Viewport((100, 200), 100)
    assert vp.display == (50, 100)
    assert vp.to_image(-5, 60) == (0.0, 100.0)
    with pytest.raises(ValueError, match="display_px"):
        Viewport((10, 10), 0)


def test_eraser_rectangle_ellipse_tools() -> None:
    ed = MaskEditor(_image(256, 256), display_px=256, brush_size=10)
    ed.tool = "rectangle"
    _drag(ed, [(10, 10), (60, 40), (110, 90)])
    np.testing.assert_array_equal(ed.mask, masks.rectangle((256, 256), (10, 10, 110, 90)))
    ed.tool = "eraser"
    _drag(ed, [(20, 50), (100, 50)])
    assert not ed.mask[50, 60] and ed.mask[20, 60]
    ed.tool = "ellipse"
    _drag(ed, [(150, 150), (250, 250)])
    assert ed.mask[200, 200] and not ed.mask[151, 151]
    assert [s.tool for s in ed.strokes] == ["rectangle", "eraser", "ellipse"]
    with pytest.raises(ValueError, match="tool must be one of"):
        ed.tool = "magic wand"


def test_every_change_is_one_undo_step() -> None:
    ed = MaskEditor(_image(128, 128), display_px=128, brush_size=8)
    _drag(ed, [(10, 10), (50, 50)])
    painted = ed.mask
    ed.invert()
    ed.grow(3)
    ed.shrink(2)
    ed.clear()
    assert not ed.mask.any()
    for _ in range(4):
        assert ed.undo()
    np.testing.assert_array_equal(ed.mask, painted)
    assert ed.undo() and not ed.mask.any() and not ed.undo()
    assert ed.redo()
    np.testing.assert_array_equal(ed.mask, painted)
    # setting .mask from Python is a step too, and a new change drops the redo branch
    ed.mask = masks.full((128, 128))
    assert not ed.can_redo and ed.mask.all()
    ed.undo()
    np.testing.assert_array_equal(ed.mask, painted)


def test_mask_setter_validates_shape_and_dtype() -> None:
    ed = MaskEditor(_image(64, 128), display_px=64)
    with pytest.raises(ValueError, match=r"mask is 64x64 but image is 128x64.*masks.resize"):
        ed.mask = np.zeros((64, 64), bool)
    with pytest.raises(ValueError, match="bool array"):
        ed.mask = np.full((64, 128), 0.5)
    ed.mask = np.ones((64, 128), np.uint8)
    assert ed.mask.dtype == bool and ed.mask.all()
    assert ed.strokes[-1].tool == "set"


def test_mouse_move_sends_only_the_preview_layer(canvas_log) -> None:
    ed = MaskEditor(_image(), display_px=512)
    ed.handle_mouse_down(10, 10)
    canvas_log.clear()
    for i in range(1, 21):
        ed.handle_mouse_move(10 + 5 * i, 10 + 3 * i)
    assert len(canvas_log.messages) == 20  # one batched message per event
    ed.handle_mouse_move(110, 70)  # the same point again: nothing new to draw
    assert len(canvas_log.messages) == 20
    top = f"IPY_MODEL_{ed.canvas[2].model_id}"
    for m in canvas_log.messages:
        assert "putImageData" not in m.names  # never re-send an image while painting
        assert set(m.canvases) <= {top}
        assert m.nbytes < 4000
    canvas_log.clear()
    ed.handle_mouse_up(120, 80)
    names = canvas_log.names()
    assert names.count("putImageData") == 1  # the mask layer, once, at the end of the stroke
    assert f"IPY_MODEL_{ed.canvas[1].model_id}" in {c for m in canvas_log.messages for c in m.canvases}


def test_mouse_move_messages_do_not_grow_with_the_stroke(canvas_log) -> None:
    ed = MaskEditor(_image(), display_px=512)
    ed.handle_mouse_down(10, 10)
    sizes = []
    for i in range(1, 2001):
        canvas_log.clear()
        ed.handle_mouse_move(10 + (i % 400), 10 + i // 5)
        sizes.append(canvas_log.messages[0].nbytes)
    assert max(sizes) <= 1.2 * sizes[1]  # the 2000th segment costs what the 2nd did
    assert "clear" not in canvas_log.names()  # the stroke so far stays on the layer
    ed.handle_mouse_up(300, 300)
    assert len(ed.strokes[-1].points) == 2002


def test_hover_draws_brush_cursor(canvas_log) -> None:
    ed = MaskEditor(_image(256, 256), display_px=256, brush_size=20)
    ed.handle_mouse_move(30, 30)
    assert "strokeCircle" in canvas_log.names() and ed.strokes == ()


def test_mouse_out_finishes_the_stroke() -> None:
    ed = MaskEditor(_image(256, 256), display_px=256, brush_size=10)
    ed.handle_mouse_down(10, 10)
    ed.handle_mouse_move(100, 10)
    ed.handle_mouse_out(300, 10)  # left the canvas to the right: clipped to the image edge
    assert len(ed.strokes) == 1 and ed.strokes[0].points[-1] == (256.0, 10.0)
    ed.handle_mouse_move(50, 50)  # hovering again does not paint
    assert len(ed.strokes) == 1


def test_keyboard_shortcuts() -> None:
    ed = MaskEditor(_image(128, 128), display_px=128, brush_size=40)
    ed.handle_key({"key": "]"})
    assert ed.brush_size > 40
    ed.handle_key({"key": "["})
    ed.handle_key({"key": "["})
    assert ed.brush_size < 40
    ed.handle_key({"key": "r"})
    assert ed.tool == "rectangle"
    ed.handle_key({"key": "i"})
    assert ed.mask.all()
    ed.handle_key({"key": "z", "ctrlKey": True})
    assert not ed.mask.any()
    ed.handle_key({"key": "Z", "ctrlKey": True, "shiftKey": True})
    assert ed.mask.all()
    ed.handle_key({"key": "d"})  # not ours: ignored (and swallowed by ipyevents in the browser)
    assert ed.mask.all()


def test_keys_come_from_the_focused_canvas_and_tab_is_left_to_the_browser() -> None:
    ed = MaskEditor(_image(64, 64), display_px=64)
    # no page-wide key grab (ipyevents swallowed every key, Tab included, under the pointer)
    assert not any(
        isinstance(c, type(ed._enter_events)) and "keydown" in c.watched_events for c in [ed._enter_events]
    )
    assert ed.keyguard.scope in ed._dom_classes and ed.keyguard.frame in ed.frame._dom_classes
    assert "Esc or Tab to leave" in ed.keyguard.label
    ed.canvas[2]._handle_frontend_event(
        None, {"event": "key_down", "key": "l", "shift_key": False, "ctrl_key": False, "meta_key": False}, []
    )
    assert ed.tool == "lasso"


def test_show_what_will_be_sent_matches_the_api_form(canvas_log) -> None:
    ed = MaskEditor(_image(256, 256), display_px=256)
    ed.add_rectangle((0, 0, 128, 256))
    rgba = ed.sent_mask_rgba()
    assert rgba.shape == (256, 256, 4)
    assert (rgba[:, :128, 3] == 0).all() and (rgba[:, 128:, 3] == 255).all()
    canvas_log.clear()
    ed.show_sent.value = True
    assert "putImageData" in canvas_log.names()


def test_feather_is_a_preview_and_blend_setting_only() -> None:
    ed = MaskEditor(_image(64, 64), display_px=64)
    ed.add_rectangle((16, 16, 48, 48))
    before = ed.mask
    ed.feather_slider.value = 8
    np.testing.assert_array_equal(ed.mask, before)  # the sent mask stays hard


def test_accept_makes_new_base_clears_mask_and_undo_restores() -> None:
    base = _image(64, 64)
    ed = MaskEditor(base, display_px=64)
    ed.add_rectangle((0, 0, 32, 64))
    painted = ed.mask
    cand = np.zeros((64, 64, 3), np.uint8)
    assert ed.stage([Image.fromarray(cand)]) == 1
    assert len(ed.staging_box.children) == 1  # one run
    ed.accept(0)
    np.testing.assert_array_equal(ed.image, cand)
    assert not ed.mask.any() and ed.staging == [] and len(ed.history) == 1
    ed.undo()
    np.testing.assert_array_equal(ed.image, base)
    np.testing.assert_array_equal(ed.mask, painted)


def test_accept_with_feather_keeps_unmasked_pixels_exact() -> None:
    base = _image(64, 64)
    ed = MaskEditor(base, display_px=64)
    ed.add_rectangle((16, 16, 48, 48))
    ed.feather_slider.value = 8
    ed.stage([np.zeros((64, 64, 3), np.uint8)])
    ed.accept(0)
    out = ed.image
    outside = ~masks.rectangle((64, 64), (16, 16, 48, 48))
    np.testing.assert_array_equal(out[outside], base[outside])
    assert out[32, 32].tolist() == [0, 0, 0]  # deep inside: the candidate
    assert 0 < int(out[16, 40, 0]) < int(base[16, 40, 0]) or base[16, 40, 0] == 0  # the seam is blended


def test_discard() -> None:
    ed = MaskEditor(_image(32, 32), display_px=32)
    ed.stage([np.zeros((32, 32, 3), np.uint8), np.ones((32, 32, 3), np.uint8)])
    ed.discard(0)
    assert len(ed.staging) == 1 and int(np.asarray(ed.staging[0]).max()) == 1


def test_generate_refuses_bad_input_before_sending() -> None:
    ed = MaskEditor(_image(64, 64), display_px=64)
    assert ed.generate() is None
    assert "Write a prompt" in ed.status.value
    ed.prompt.value = "a cat"
    assert ed.generate() is None
    assert "mask is empty" in ed.status.value
    assert not ed.running


def test_static_fallback_in_mimebundle() -> None:
    ed = MaskEditor(_image(), display_px=512)
    ed.add_rectangle((0, 0, 512, 1024))
    bundle = ed._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == "MaskEditor(1024x1024 image, mask 50.0%, 0 staged)"
    png = base64.b64decode(bundle["image/png"])
    im = Image.open(io.BytesIO(png))
    assert max(im.size) <= 320 and len(png) < 100_000
    # the snapshot shows the mask tint on the left half
    a = np.asarray(im.convert("RGB")).astype(int)
    assert a[:, : im.size[0] // 2 - 4, 0].mean() > a[:, im.size[0] // 2 + 4 :, 0].mean()


def test_client_ready_redraws_layers(canvas_log) -> None:
    ed = MaskEditor(_image(128, 128), display_px=128)
    ed.add_rectangle((0, 0, 64, 64))
    canvas_log.clear()
    # a new view (page reload, second output) announces itself: both layers are replayed
    ed.canvas[0]._handle_frontend_event(None, {"event": "client_ready"}, [])
    ed.canvas[1]._handle_frontend_event(None, {"event": "client_ready"}, [])
    assert canvas_log.names().count("putImageData") == 2


def test_on_change_callbacks() -> None:
    ed = MaskEditor(_image(32, 32), display_px=32)
    seen = []
    ed.on_change(lambda e: seen.append(int(e.mask.sum())))
    ed.add_rectangle((0, 0, 4, 4))
    ed.undo()
    assert seen == [16, 0]


def test_bad_image_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="image"):
        MaskEditor(np.zeros((4, 4, 2), np.uint8))


def test_lasso_and_subtract_by_mouse() -> None:
    ed = MaskEditor(_image(256, 256), display_px=256)
    ed.tool = "lasso"
    _drag(ed, [(10, 10), (200, 10), (200, 200), (10, 200)])
    assert ed.strokes[-1].tool == "lasso" and ed.mask[100, 100] and not ed.mask[230, 230]
    ed.subtract.value = True
    ed.tool = "ellipse"
    _drag(ed, [(50, 50), (150, 150)])
    assert not ed.mask[100, 100] and ed.mask[20, 20] and ed.strokes[-1].erase
    ed.handle_key({"key": "-"})
    assert ed.subtract.value is False


def test_stroke_continues_when_the_pointer_comes_back_with_the_button_held() -> None:
    ed = MaskEditor(_image(256, 256), display_px=256, brush_size=10)
    ed.handle_mouse_down(10, 100)
    ed.handle_mouse_move(100, 100)
    ed.handle_mouse_out(300, 100)  # out to the right: the stroke so far is committed
    assert len(ed.strokes) == 1 and ed.mask[100, 200]
    ed.handle_mouse_enter(200, 200, buttons=1)  # back in, button still held
    ed.handle_mouse_move(150, 200)
    ed.handle_mouse_up(100, 200)
    assert len(ed.strokes) == 1  # still one stroke, one undo step
    assert ed.strokes[0].breaks and ed.mask[200, 120] and ed.mask[100, 50]
    assert not ed.mask[150, 250]  # nothing painted across the way it went outside
    ed.undo()
    assert not ed.mask.any()
    # back in without the button: hovering does not paint
    ed.handle_mouse_down(10, 10)
    ed.handle_mouse_out(-5, 10)
    ed.handle_mouse_enter(50, 50, buttons=0)
    ed.handle_mouse_move(60, 60)
    assert len(ed.strokes) == 1 and not ed.mask[60, 60]


def test_hints_for_empty_and_full_masks_are_shown() -> None:
    ed = MaskEditor(_image(64, 64), display_px=64)
    assert "empty" in ed.hint.value
    ed.invert()
    assert "whole image" in ed.hint.value
    ed.add_rectangle((0, 0, 8, 8), erase=True)
    assert ed.hint.value == ""


def test_staging_preview_cycle_before_after_accept_by_keys(canvas_log) -> None:
    base = _image(64, 64)
    ed = MaskEditor(base, display_px=64)
    ed.add_rectangle((0, 0, 32, 64))
    cands = [np.full((64, 64, 3), v, np.uint8) for v in (10, 20, 30)]
    assert ed.stage(cands, prompt="p") == 3
    ed.stage(cands[:1])  # the same pixels again: no duplicate card
    assert len(ed.staging) == 3 and len(ed._cards) == 3
    canvas_log.clear()
    ed.handle_key({"key": "ArrowRight"})
    assert ed.selected == 0 and ed._previewing == 0
    assert "putImageData" in canvas_log.names()  # the candidate is drawn on the canvas
    assert "dalle-selected" in ed._cards[0]._dom_classes and "Previewing candidate #1" in ed.status.value
    ed.handle_key({"key": "ArrowLeft"})
    assert ed.selected == 2  # wraps
    ed.handle_key({"key": " "})
    assert ed.before_after.value is True and ed._shown_image() is None  # before: the base
    ed.handle_key({"key": " "})
    assert int(ed._shown_image()[0, 0, 0]) == 30
    ed.handle_key({"key": "Delete"})
    assert len(ed.staging) == 2 and ed._previewing is None
    ed.cycle(1)
    ed.handle_key({"key": "Enter"})
    assert len(ed.history) == 1 and len(ed.staging) == 1 and ed.is_stale(0)
    assert ed.discard_all() == 1 and ed.staging == []


def test_hover_previews_without_selecting() -> None:
    ed = MaskEditor(_image(32, 32), display_px=32)
    ed.stage([np.full((32, 32, 3), v, np.uint8) for v in (1, 2)])
    ed.staging_view._on_card_event(1, {"type": "mouseenter"})
    assert ed._previewing == 1 and ed.selected is None
    ed.staging_view._on_card_event(1, {"type": "mouseleave"})
    assert ed._previewing is None
    ed.staging_view._on_card_event(0, {"type": "click"})
    assert ed.selected == 0 and ed._previewing == 0


def test_show_preview_fills_a_pending_card() -> None:
    ed = MaskEditor(_image(32, 32), display_px=32)
    run = ed.staging_area.start("edit", prompt="p", size="256x256", n=2, base_revision=0)
    ed._render_staging()
    pending = ed.staging_box.children[0].children[1].children
    assert len(pending) == 2 and all("dalle-candidate-pending" in c._dom_classes for c in pending)
    ed.show_preview(run, 0, np.full((32, 32, 3), 99, np.uint8))
    first = ed.staging_box.children[0].children[1].children[0]
    assert "preview" in first.children[1].value and first.children[0].format == "png"
    ed.staging_area.fill(run, [np.full((32, 32, 3), 5, np.uint8)])
    ed._render_staging()
    assert len(ed._cards) == 1 and "dalle-candidate" in ed._cards[0]._dom_classes


def test_zoom_changes_canvas_resolution_and_maps_points() -> None:
    ed = MaskEditor(_image(1024, 1024), display_px=256)
    ed.set_zoom(2)
    assert (ed.canvas.width, ed.canvas.layout.width, ed.canvas.layout.max_width) == (512, "512px", "none")
    _drag(ed, [(100, 100)])
    assert ed.strokes[-1].points == ((200.0, 200.0),)
    ed.set_zoom(1)
    assert ed.canvas.width == 256 and ed.canvas.layout.max_width == "100%"
    with pytest.raises(ValueError, match="zoom"):
        ed.set_zoom(9)


def test_entering_with_the_button_held_after_a_finished_stroke_does_not_reopen_it() -> None:
    ed = MaskEditor(_image(64, 64), display_px=64, brush_size=4)
    _drag(ed, [(5, 5), (20, 5)])
    ed.handle_mouse_enter(40, 40, buttons=1)  # pressed outside, dragged in: not the old stroke
    ed.handle_mouse_move(50, 50)
    assert len(ed.strokes) == 1 and not ed.mask[50, 50]


def test_a_reentry_that_arrives_before_the_leaving_still_continues_the_stroke() -> None:
    # ipyevents' mouseenter and ipycanvas' mouse out travel on different channels
    ed = MaskEditor(_image(256, 256), display_px=256, brush_size=10)
    ed.handle_mouse_down(10, 100)
    ed.handle_mouse_move(100, 100)
    ed.handle_mouse_enter(200, 200, buttons=1)  # seen first...
    ed.handle_mouse_out(300, 100)  # ...then the leaving
    ed.handle_mouse_move(150, 200)
    ed.handle_mouse_up(100, 200)
    assert len(ed.strokes) == 1 and ed.strokes[0].breaks and ed.mask[200, 120]


def test_static_twin_follows_the_edits(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[dict] = []
    updates: list[dict] = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    monkeypatch.setattr("IPython.display.update_display", lambda obj, **kw: updates.append(obj))
    ed = MaskEditor(_image(256, 256), display_px=256)
    ed._ipython_display_()
    first = shown[1]["image/png"]
    ed.add_rectangle((0, 0, 200, 200))
    assert updates and updates[-1]["image/png"] != first  # the saved picture shows the mask


def test_a_reentry_that_arrives_after_the_release_still_continues_the_stroke() -> None:
    # on a busy machine the canvas's moves and release can all come before the late mouseenter
    ed = MaskEditor(_image(256, 256), display_px=256, brush_size=10)
    ed.handle_mouse_down(10, 100)
    ed.handle_mouse_move(100, 100)
    ed.handle_mouse_out(300, 100)
    ed.handle_mouse_move(150, 200)  # back on the canvas, button held: kept until the re-entry
    ed.handle_mouse_up(100, 200)
    assert len(ed.strokes) == 1 and not ed.strokes[0].breaks and not ed.mask[200, 120]
    ed.handle_mouse_enter(200, 200, buttons=1)  # the re-entry, last
    assert len(ed.strokes) == 1 and ed.strokes[0].breaks and ed.mask[200, 120] and ed.mask[200, 175]
    assert not ed.mask[150, 250]  # nothing painted across the way it went outside
    # a new press forgets what was kept: a late re-entry after it changes nothing
    ed.handle_mouse_down(10, 10)
    ed.handle_mouse_up(10, 10)
    ed.handle_mouse_enter(200, 30, buttons=1)
    assert len(ed.strokes) == 2 and not ed.mask[30, 200]
