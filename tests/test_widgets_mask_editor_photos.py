"""MaskEditor on photos of any size: the Window / Pad / Crop choice, the outline, the plan line."""

from __future__ import annotations

import numpy as np
import pytest

from dalle_widgets import masks
from dalle_widgets.client import AsyncImagesClient
from dalle_widgets.widgets import MaskEditor


def _photo(w: int, h: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_a_2400x1500_photo_opens_with_the_choice_and_says_what_will_be_sent(canvas_log) -> None:
    ed = MaskEditor(_photo(2400, 1500), display_px=480, size="512x512")
    assert ed.framing == "window" and ed.framing_row.layout.display == ""
    assert "Paint where to regenerate" in ed.plan.value
    canvas_log.clear()
    ed.add_rectangle((1000, 600, 1200, 800))
    assert ed.send_window is not None and ed.send_window.box == (844, 444, 1356, 956)
    assert (
        "Sends a 512x512 window at (844, 444) of your 2400x1500 photo; the result keeps 2400x1500"
        in ed.plan.value
    )
    # the outline is drawn with the mask, in the same message, each time the mask changes
    drawn = [m for m in canvas_log.messages if "strokeRect" in m.names]
    assert drawn and "setLineDash" in drawn[-1].names and "fillText" in drawn[-1].names
    assert drawn[-1].canvases == [f"IPY_MODEL_{ed.canvas[1].model_id}"] and "putImageData" in drawn[-1].names
    ed.add_rectangle((2200, 1300, 2300, 1400))  # a second area far away: the window grows to hold both
    assert ed.send_window.box[2] >= 2300 and "scaled x" in ed.plan.value


def test_pad_and_crop_outline_their_window_and_crop_warns_about_mask_outside() -> None:
    ed = MaskEditor(_photo(800, 600), display_px=400, size="512x512", prompt="a lamp")
    ed.framing = "pad"
    assert ed.send_window.box == (0, -100, 800, 700)
    assert "Sends your whole 800x600 photo padded to a square, at 512x512 (scaled x0.64)" in ed.plan.value
    ed.framing = "crop"
    assert ed.send_window.box == (100, 0, 700, 600)
    ed.add_rectangle((10, 10, 60, 60))
    assert "2500 masked pixels lie outside the centre square: use Window or Pad" in ed.plan.value
    assert ed.generate() is None  # refused before anything is sent
    assert "outside the centre square that Crop sends" in ed.status.value and not ed.running
    with pytest.raises(ValueError, match="framing must be one of window, pad, crop"):
        ed.framing = "centre"  # type: ignore[assignment]


def test_a_square_image_needs_no_choice_and_a_bigger_size_says_accept_resizes() -> None:
    ed = MaskEditor(_photo(512, 512), display_px=256, size="1024x1024")
    assert ed.framing_row.layout.display == "none" and ed.send_window is None
    assert (
        "Sends your 512x512 image as it is; the result is 1024x1024: Accept makes the base 1024x1024 "
        "(pick 512x512 to keep it)" in ed.plan.value
    )
    ed.size_dd.value = "512x512"
    assert "the result keeps 512x512" in ed.plan.value
    # a candidate of another size says so on its card, and Accept says it afterwards too
    ed.size_dd.value = "1024x1024"
    ed.stage([_photo(1024, 1024, 1)])
    assert "1024×1024: Accept resizes the base" in ed._cards[0].children[1].value
    ed.accept(0)
    assert ed.image.shape[:2] == (1024, 1024) and "now 1024×1024 (it was 512×512)" in ed.status.value


def test_gpt_image_models_take_the_photo_as_it_is() -> None:
    client = AsyncImagesClient(
        api_key="sk-test-key-123456", base_url="http://127.0.0.1:9/v1", model="gpt-image-1"
    )
    ed = MaskEditor(_photo(800, 600), client=client, display_px=200)
    assert ed.framing_row.layout.display == "none" and ed.send_window is None
    assert ed.plan.value.count("Sends your 800x600 image as it is") == 1


@pytest.mark.parametrize("framing", ["pad", "crop"])
def test_pad_and_crop_generate_candidates_at_the_photo_size(offline_engine, framing) -> None:
    aclient = AsyncImagesClient(api_key=offline_engine.token, base_url=offline_engine.base_url)
    photo = _photo(800, 600, 6)
    ed = MaskEditor(
        photo, client=aclient, display_px=200, prompt="a kite", n=1, size="256x256", framing=framing
    )
    ed.add_rectangle((300, 200, 420, 320))
    assert ed.generate() is not None
    result = ed.wait(180)
    assert ed.error is None and result[0].size == (800, 600)
    assert result[0].info["window"]["box"] == list(ed.send_window.box)
    out = np.asarray(result[0].image.convert("RGB"))
    far = ~masks.grow(ed.mask, 40)
    assert (out[far] == photo[far]).all()
    ed.accept(0)
    assert ed.image.shape[:2] == (600, 800)


def _saved_picture(ed: MaskEditor) -> np.ndarray:
    """The static twin's PNG (what a saved notebook keeps), decoded to RGB."""
    import base64
    import io

    from PIL import Image

    data = base64.b64decode(ed.static_bundle()["image/png"])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def _outline_pixels(picture: np.ndarray) -> np.ndarray:
    """Where the picture is the outline's yellow (255, 214, 0); the test photo's blue is 90 everywhere."""
    r, g, b = picture[..., 0], picture[..., 1], picture[..., 2]
    return (r > 225) & (abs(g - 214) < 30) & (b < 40)


def test_the_saved_picture_outlines_the_window_that_will_be_sent() -> None:
    yy, xx = np.mgrid[0:1500, 0:2400]
    photo = np.stack([xx * 255 // 2399, yy * 255 // 1499, np.full_like(xx, 90)], -1).astype(np.uint8)
    ed = MaskEditor(photo, display_px=480, size="512x512")
    before = _saved_picture(ed)
    assert before.shape == (200, 320, 3) and not _outline_pixels(before).any()  # no mask: no window yet
    ed.add_rectangle((1000, 600, 1200, 800))
    assert ed.send_window.box == (844, 444, 1356, 956)
    ys, xs = np.nonzero(_outline_pixels(_saved_picture(ed)))
    # the window at the picture's scale (320 / 2400): x 112.5..180.8, y 59.2..127.5
    assert abs(xs.min() - 112) <= 1 and abs(xs.max() - 180) <= 1, (xs.min(), xs.max())
    assert abs(ys.min() - 59) <= 1 and abs(ys.max() - 127) <= 1, (ys.min(), ys.max())
    assert xs.size > 150  # dashes round the whole box (and its label), not a stray pixel
    ed.framing = "pad"  # the whole photo padded: the outline runs along the picture's edges
    ys, xs = np.nonzero(_outline_pixels(_saved_picture(ed)))
    assert (xs.min(), ys.min()) == (0, 0) and (xs.max(), ys.max()) == (318, 198)
    ed.framing = "crop"  # the centre 1500x1500: x 60..260 at this scale
    ys, xs = np.nonzero(_outline_pixels(_saved_picture(ed)))
    assert abs(xs.min() - 60) <= 1 and abs(xs.max() - 259) <= 1 and ys.min() == 0
    square = MaskEditor(photo[:1024, :1024], display_px=256, size="1024x1024")  # sent whole: no outline
    square.add_rectangle((100, 100, 200, 200))
    assert square.send_window is None and not _outline_pixels(_saved_picture(square)).any()


def test_a_stroke_at_zoom_4_redraws_only_its_box_and_the_moved_outline(canvas_log) -> None:
    ed = MaskEditor(_photo(2400, 1500), display_px=512, size="512x512", brush_size=40)
    ed.add_rectangle((1000, 600, 1200, 800))
    ed.set_zoom(4)
    assert (ed.canvas.width, ed.canvas.height) == (2048, 1280)
    canvas_log.clear()
    ed.handle_mouse_down(1200, 700)
    for k in range(1, 8):
        ed.handle_mouse_move(1200 + 10 * k, 700 + 4 * k)
    ed.handle_mouse_up(1280, 732)
    boxes = ed.mask_layer_boxes
    assert boxes is not None
    stroke = boxes[0]  # the stroke's box on the canvas, with the brush's radius
    assert stroke[0] <= 1200 - 17 and stroke[2] >= 1280 + 17 and stroke[2] - stroke[0] < 140, stroke
    area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in boxes)
    assert area < 0.05 * 2048 * 1280, boxes  # the moved outline's strips, not the layer
    sent = [m for m in canvas_log.messages if "putImageData" in m.names]
    assert sent and max(m.nbytes for m in sent) < 20_000, [m.nbytes for m in sent]
    # the layer's pixels in those boxes are the whole layer's: a change elsewhere redraws all of it
    ed.feather_slider.value = 6
    assert ed.mask_layer_boxes is None
    ed.handle_mouse_down(400, 300)
    ed.handle_mouse_up(420, 300)
    assert ed.mask_layer_boxes is not None and ed.mask_layer_boxes[0][2] - ed.mask_layer_boxes[0][0] < 80


def test_gpt_image_2_offers_and_keeps_the_photos_own_size(offline_engine) -> None:
    aclient = AsyncImagesClient(
        api_key=offline_engine.token, base_url=offline_engine.base_url, model="gpt-image-2"
    )
    photo = _photo(1536, 864, 7)
    ed = MaskEditor(photo, client=aclient, display_px=256, prompt="a boat", n=1)
    assert ed.size_dd.options[0] == ("1536x864 (photo)", "1536x864") and ed.size_dd.value == "1536x864"
    assert "Sends your 1536x864 image as it is; the result keeps 1536x864" in ed.plan.value
    assert "Accept makes the base" not in ed.plan.value
    ed.size_dd.value = "1024x1024"  # a preset still says what Accept does, and how to keep the size
    assert "Accept makes the base 1024x1024 (pick 1536x864 to keep it)" in ed.plan.value
    ed.size_dd.value = "1536x864"
    ed.add_rectangle((600, 300, 900, 560))
    assert ed.generate() is not None
    result = ed.wait(180)
    assert ed.error is None and result[0].size == (1536, 864)
    ed.accept(0)
    assert ed.image.shape[:2] == (864, 1536)
