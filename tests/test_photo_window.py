"""A window around the mask, sized for the model, pasted back into the photo at its own size."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from dalle_widgets import masks
from dalle_widgets.photo_window import (
    Window,
    choose_window,
    cut,
    describe_window,
    fixed_fit,
    frame_window,
    masked_outside,
    paste_back,
    seam_weight,
    square_fit,
)

DALLE2 = square_fit((256, 512, 1024))


def flexible_fit(width: int, height: int) -> tuple[int, int]:
    """A GPT-image-like rule: multiples of 16, aspect within 3:1, at least 1024 on the short side."""
    aspect = min(max(width / height, 1 / 3), 3)
    short = 1024
    w, h = (
        (round(short * aspect / 16) * 16, short) if aspect >= 1 else (short, round(short / aspect / 16) * 16)
    )
    return w, h


@st.composite
def photo_and_mask(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    w = draw(st.integers(8, 160))
    h = draw(st.integers(8, 160))
    x0 = draw(st.integers(0, w - 1))
    y0 = draw(st.integers(0, h - 1))
    x1 = draw(st.integers(x0 + 1, w))
    y1 = draw(st.integers(y0 + 1, h))
    seed = draw(st.integers(0, 2**16))
    photo = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return photo, masks.rectangle((h, w), (x0, y0, x1, y1))


SMALL = square_fit((16, 32, 64))


@settings(max_examples=60, deadline=None)
@given(photo_and_mask(), st.integers(0, 12), st.sampled_from([SMALL, flexible_fit]))
def test_paste_back_keeps_the_photo_size_and_every_pixel_outside_the_window(case, context, fit):
    photo, mask = case
    h, w = mask.shape
    window = choose_window((w, h), masks.bbox(mask), fit, context=context)
    x0, y0, x1, y1 = window.box
    # The window has the request's aspect and contains the mask's box.
    bx0, by0, bx1, by1 = masks.bbox(mask)
    assert x0 <= bx0 and y0 <= by0 and x1 >= bx1 and y1 >= by1
    assert abs((x1 - x0) - (y1 - y0) * window.size[0] / window.size[1]) <= window.size[0] / window.size[1]
    piece, sent_mask = cut(photo, mask, window)
    assert piece.size == window.size and sent_mask.shape == window.size[::-1]
    generated = Image.new("RGB", window.size, (1, 2, 3))
    out = np.asarray(paste_back(photo, generated, window, mask, feather=4))
    assert out.shape == photo.shape
    outside = np.ones((h, w), dtype=bool)
    outside[max(0, y0) : y1, max(0, x0) : x1] = False
    assert (out[outside] == photo[outside]).all()
    # Far from the mask (beyond the ramp) the photo is untouched inside the window too.
    far = ~masks.grow(mask, 6)
    assert (out[far] == photo[far]).all()
    # On the mask the result replaces the photo (a flat colour survives any resampling).
    assert (out[mask] == (1, 2, 3)).all()


def test_dalle2_window_on_a_large_photo_is_cut_at_its_own_pixels():
    window = choose_window((2400, 1500), (1000, 600, 1200, 800), DALLE2)
    assert window.box == (844, 444, 1356, 956) and window.size == (512, 512) and window.scale == 1.0
    assert window.as_dict() == {
        "box": [844, 444, 1356, 956],
        "size": "512x512",
        "photo_size": "2400x1500",
        "scale": 1.0,
    }


def test_a_mask_bigger_than_the_largest_request_is_downscaled_and_centred():
    window = choose_window((2400, 1500), (100, 100, 2300, 1400), DALLE2, context=0)
    assert window.size == (1024, 1024)
    assert window.box_size == (2200, 2200)  # wider than the photo is tall: reaches past it
    assert window.box[0] == 100 and window.box[1] < 0 and window.box[3] > 1500


def test_window_past_the_photo_repeats_its_edge_and_is_never_masked():
    photo = np.zeros((600, 800, 3), np.uint8)
    photo[:, :, 0] = np.arange(800, dtype=np.uint16)[None, :] % 256
    mask = masks.rectangle((600, 800), (0, 0, 800, 600))
    window = choose_window((800, 600), masks.bbox(mask), DALLE2, context=0)
    assert window.box == (0, -100, 800, 700) and window.size == (1024, 1024)
    piece, sent = cut(photo, mask, window)
    sent_full = masks.resize(sent, (800, 800))
    assert not sent_full[:100].any() and not sent_full[700:].any()
    out = paste_back(photo, piece, window, mask)
    assert out.size == (800, 600)


def test_a_photo_the_model_takes_whole_is_a_whole_window():
    window = choose_window((512, 512), None, DALLE2)
    assert window.is_whole and window.box == (0, 0, 512, 512)


def test_seam_ramps_outward_from_the_mask_edge():
    mask = masks.rectangle((64, 64), (24, 24, 40, 40))
    window = Window((0, 0, 64, 64), (64, 64), (64, 64))
    weight = seam_weight(mask, window, 8)
    row = weight[32]
    assert row[24:40].min() == 1.0 and row[:14].max() == 0.0
    assert 0 < row[20] < 1 and np.all(np.diff(row[14:25]) >= 0)


def test_rgba_photo_stays_rgba_only_where_transparency_is_left():
    photo = np.zeros((40, 60, 4), np.uint8)
    photo[..., 3] = 255
    photo[10:20, 10:20, 3] = 0  # the area to generate, transparent
    mask = photo[..., 3] == 0
    window = choose_window((60, 40), masks.bbox(mask), SMALL, context=4)
    out = paste_back(photo, Image.new("RGB", window.size, (9, 9, 9)), window, mask)
    assert out.mode == "RGB" and out.size == (60, 40)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (((0, 10), None), "photo_size must be positive"),
        (((10, 10), (5, 5, 20, 8)), "not a non-empty box inside a 10x10 photo"),
        (((10, 10), (5, 5, 5, 8)), "not a non-empty box"),
    ],
)
def test_bad_input_is_named(args, message):
    with pytest.raises(ValueError, match=message):
        choose_window(*args, DALLE2)


def test_cut_refuses_a_photo_of_another_size():
    window = choose_window((100, 80), None, SMALL)
    with pytest.raises(ValueError, match="photo is 80x80; the window was chosen for"):
        cut(np.zeros((80, 80, 3), np.uint8), None, window)


@pytest.mark.parametrize(
    ("photo", "framing", "box", "size"),
    [
        ((800, 600), "pad", (0, -100, 800, 700), (1024, 1024)),
        ((600, 800), "pad", (-100, 0, 700, 800), (1024, 1024)),
        ((2400, 1500), "pad", (0, -450, 2400, 1950), (1024, 1024)),
        ((800, 600), "crop", (100, 0, 700, 600), (1024, 1024)),
        ((2400, 1500), "crop", (450, 0, 1950, 1500), (1024, 1024)),
        ((300, 200), "crop", (50, 0, 250, 200), (256, 256)),
    ],
)
def test_pad_holds_the_whole_photo_and_crop_lies_inside_it(photo, framing, box, size):
    w = frame_window(photo, (10, 10, 20, 20), DALLE2, framing)
    assert (w.box, w.size, w.photo_size) == (box, size, photo)
    x0, y0, x1, y1 = w.box
    inside = 0 <= x0 and 0 <= y0 and x1 <= photo[0] and y1 <= photo[1]
    holds = x0 <= 0 and y0 <= 0 and x1 >= photo[0] and y1 >= photo[1]
    assert (inside if framing == "crop" else holds) and x1 - x0 == y1 - y0


def test_pad_and_crop_paste_back_at_the_photo_size():
    photo = np.random.default_rng(2).integers(0, 256, (60, 90, 3), dtype=np.uint8)
    mask = masks.rectangle((60, 90), (40, 20, 50, 30))
    for framing in ("pad", "crop"):
        w = frame_window((90, 60), masks.bbox(mask), square_fit((32,)), framing)
        piece, sub = cut(photo, mask, w)
        assert piece.size == (32, 32) and sub is not None and sub.any()
        out = np.asarray(paste_back(photo, Image.new("RGB", (32, 32), "red"), w, mask, feather=2))
        assert out.shape == photo.shape
        far = ~masks.grow(mask, 6)
        assert (out[far] == photo[far]).all() and (out[mask] == (255, 0, 0)).all()


def test_masked_outside_counts_what_a_crop_would_leave_out():
    w = frame_window((90, 60), None, square_fit((32,)), "crop")  # box (15, 0, 75, 60)
    assert w.box == (15, 0, 75, 60)
    assert masked_outside(masks.rectangle((60, 90), (20, 10, 30, 20)), w) == 0
    assert masked_outside(masks.rectangle((60, 90), (0, 0, 20, 10)), w) == 150
    window = choose_window((90, 60), (0, 0, 20, 10), square_fit((32,)))
    assert masked_outside(masks.rectangle((60, 90), (0, 0, 20, 10)), window) == 0


def test_describe_window_names_what_is_sent_and_the_size_kept():
    win = frame_window((2400, 1500), (1000, 600, 1200, 800), fixed_fit([(512, 512)]))
    assert describe_window(win) == (
        "sends a 512x512 window at (844, 444) of your 2400x1500 photo; the result keeps 2400x1500"
    )
    crop = frame_window((800, 600), None, fixed_fit([(512, 512)]), "crop")
    assert describe_window(crop, "crop") == (
        "sends the centre 600x600 of your 800x600 photo at 512x512 (scaled x0.85)"
        " (outside it nothing changes); the result keeps 800x600"
    )
    small = frame_window((800, 600), (0, 0, 800, 10), fixed_fit([(512, 512)]))  # mask wider than 512
    assert "an 800x800 window, sent at 512x512 (scaled x0.64), at (0, -200)" in describe_window(small)
    with pytest.raises(ValueError, match="framing must be one of window, pad, crop; got 'centre'"):
        frame_window((800, 600), None, DALLE2, "centre")
