"""mask_layer: parts of the overlay equal the whole layer, dirty boxes hold every pixel a change alters."""

from __future__ import annotations

import numpy as np
import pytest

from dalle_widgets import masks
from dalle_widgets.mask_layer import changed_box, dirty_box, outline_boxes, outline_rect, overlay, sample_rows
from dalle_widgets.widgets._canvas import Viewport

RED = (255, 64, 64)
CASES = [((1500, 2400), 2048), ((1500, 2400), 512), ((600, 800), 700), ((512, 512), 1024), ((333, 517), 400)]


def _blobs(shape: tuple[int, int], rng: np.random.Generator, n: int = 3) -> np.ndarray:
    h, w = shape
    m = masks.empty(shape)
    for _ in range(n):
        x0, y0 = int(rng.integers(0, w - 10)), int(rng.integers(0, h - 10))
        box = (x0, y0, min(w, x0 + int(rng.integers(3, 300))), min(h, y0 + int(rng.integers(3, 300))))
        m |= masks.ellipse(shape, box, clip=True)
    return m


@pytest.mark.parametrize(("shape", "display_px"), CASES)
@pytest.mark.parametrize("feather", [0, 5, 24])
def test_every_part_equals_the_whole_layers_crop(shape, display_px, feather) -> None:
    rng = np.random.default_rng(display_px + feather)
    display = Viewport(shape, display_px).display
    dh, dw = display
    mask = _blobs(shape, rng)
    whole = overlay(mask, display, RED, feather=feather)
    assert whole.shape == (dh, dw, 4) and whole[..., 3].max() >= 127
    for _ in range(12):
        x0, y0 = int(rng.integers(0, dw - 1)), int(rng.integers(0, dh - 1))
        box = (x0, y0, min(dw, x0 + int(rng.integers(1, 260))), min(dh, y0 + int(rng.integers(1, 260))))
        part = overlay(mask, display, RED, feather=feather, box=box)
        assert np.array_equal(part, whole[box[1] : box[3], box[0] : box[2]]), box


@pytest.mark.parametrize(("shape", "display_px"), CASES)
@pytest.mark.parametrize("feather", [0, 9])
def test_a_change_alters_no_pixel_outside_its_dirty_box(shape, display_px, feather) -> None:
    rng = np.random.default_rng(7 + feather)
    display = Viewport(shape, display_px).display
    before = _blobs(shape, rng)
    for _ in range(6):
        stroke = masks.stroke(
            shape, [tuple(rng.uniform(0, shape[1 - i]) for i in range(2)) for _ in range(4)], 9
        )
        after = before | stroke if rng.random() < 0.7 else before & ~stroke
        box = dirty_box(changed_box(before, after), shape, display, reach=feather / 2 + 1)
        differs = np.any(
            overlay(before, display, RED, feather=feather) != overlay(after, display, RED, feather=feather),
            axis=2,
        )
        if box is None:
            assert not differs.any()
        else:
            x0, y0, x1, y1 = box
            differs[y0:y1, x0:x1] = False
            assert not differs.any(), (box, np.argwhere(differs)[:3])
            assert (x1 - x0) * (y1 - y0) < display[0] * display[1]
        before = after


def test_sample_rows_is_the_pixel_under_each_centre() -> None:
    assert sample_rows(1280, 1500).tolist()[:4] == [0, 1, 2, 4]
    assert np.array_equal(sample_rows(1280, 1500, 100, 140), sample_rows(1280, 1500)[100:140])


def test_outline_boxes_hold_the_outline_and_its_label() -> None:
    rect = outline_rect((844, 444, 1356, 956), (1500, 2400), (1280, 2048))
    assert rect == pytest.approx((720.2, 378.9, 1157.1, 815.8), abs=0.1)
    label = (rect[0] + 1, rect[1] + 3, rect[0] + 130, rect[1] + 19)
    boxes = outline_boxes(rect, label, (1280, 2048))
    covered = np.zeros((1280, 2048), bool)
    for x0, y0, x1, y1 in boxes:
        covered[y0:y1, x0:x1] = True
    x0, y0, x1, y1 = (round(v) for v in rect)
    for dx, dy in ((0, 0), (1, 1)):  # the line and its shadow one pixel down and right
        assert covered[y0 + dy, x0 + dx : x1 + dx].all() and covered[y1 + dy, x0 + dx : x1 + dx].all()
        assert covered[y0 + dy : y1 + dy, x0 + dx].all() and covered[y0 + dy : y1 + dy, x1 + dx].all()
    assert covered[round(label[1]) : round(label[3]), round(label[0]) : round(label[2])].all()
    assert covered.mean() < 0.05  # strips, not the window's inside
    assert dirty_box((0, 0, 5, 5), (100, 100), (50, 50), reach=0) == (0, 0, 4, 4)
