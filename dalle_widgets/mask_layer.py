"""The mask editor's overlay as pixels: the whole layer, or only the part a change made dirty.

The editor shows the mask as a translucent layer over the image, on a canvas of
``display`` pixels (at zoom 4 a 2400x1500 photo is a 2048x1280 canvas). Redrawing the
whole layer after each stroke costs a resample of the mask, an RGBA array of the
canvas's size and its PNG encoding (about 200 ms of the 215 at that size). A stroke
changes only a small box, so the editor redraws that box: :func:`dirty_box` says which
canvas pixels a change of the mask can alter, :func:`overlay` computes exactly those
pixels of the layer from the few mask pixels they depend on, and :func:`outline_rect` /
:func:`outline_boxes` say where the dashed window outline lies, so a moved outline is
redrawn the same way. Every part equals the same part of the whole layer, pixel for
pixel (the tests compare them), so a partial redraw cannot drift from a full one.

Boxes are ``(x0, y0, x1, y1)`` with ``x1``, ``y1`` exclusive; shapes are ``(H, W)``.

>>> import numpy as np
>>> from dalle_widgets.masks import rectangle
>>> before = rectangle((1500, 2400), (1000, 600, 1200, 800))
>>> after = before | rectangle((1500, 2400), (1300, 700, 1340, 740))
>>> dirty_box(changed_box(before, after), (1500, 2400), (1280, 2048))
(1108, 596, 1145, 633)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import masks

__all__ = ["changed_box", "dirty_box", "outline_boxes", "outline_rect", "overlay", "sample_rows"]

Box = tuple[int, int, int, int]
Shape = tuple[int, int]


def changed_box(before: np.ndarray, after: np.ndarray) -> Box | None:
    """The box of the pixels where two masks of one shape differ (None: they are equal).

    >>> from dalle_widgets.masks import empty, rectangle
    >>> changed_box(empty((8, 8)), rectangle((8, 8), (2, 3, 5, 4)))
    (2, 3, 5, 4)
    """
    if before.shape != after.shape:
        raise ValueError(f"masks differ in shape: {before.shape} and {after.shape}")
    return masks.bbox(np.not_equal(before, after))


def dirty_box(
    image_box: Sequence[int] | None,
    image_shape: Shape,
    display_shape: Shape,
    *,
    reach: float = 0.0,
    pad: int = 1,
) -> Box | None:
    """The canvas pixels that a change of the mask inside ``image_box`` can alter, clipped to the canvas.

    ``reach`` is how far (in image pixels) a change spreads in the layer (half a feather
    ramp and a pixel); ``pad`` adds canvas pixels for the display resample's own reach.
    None when nothing is left inside the canvas.

    >>> dirty_box((0, 0, 10, 10), (100, 100), (50, 50))
    (0, 0, 6, 6)
    >>> dirty_box((0, 0, 10, 10), (100, 100), (50, 50), reach=200) is None
    False
    """
    if image_box is None:
        return None
    h, w = image_shape
    dh, dw = display_shape
    sx, sy = dw / w, dh / h
    x0, y0, x1, y1 = (float(v) for v in image_box)
    r = float(reach)
    box = (
        max(0, math.floor((x0 - r) * sx) - pad),
        max(0, math.floor((y0 - r) * sy) - pad),
        min(dw, math.ceil((x1 + r) * sx) + pad),
        min(dh, math.ceil((y1 + r) * sy) + pad),
    )
    return box if box[2] > box[0] and box[3] > box[1] else None


def sample_rows(n_out: int, n_in: int, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Which of ``n_in`` source rows (or columns) each output row ``lo..hi`` of ``n_out`` shows.

    The source pixel under the output pixel's centre, in integers: the same for a row
    whatever part of the layer is drawn, so a part equals the whole layer's crop.

    >>> sample_rows(4, 8).tolist(), sample_rows(8, 4).tolist(), sample_rows(8, 4, 5, 7).tolist()
    ([1, 3, 5, 7], [0, 0, 1, 1, 2, 2, 3, 3], [2, 3])
    """
    hi = n_out if hi is None else hi
    return (2 * np.arange(lo, hi, dtype=np.int64) + 1) * n_in // (2 * n_out)


def overlay(
    mask: np.ndarray,
    display: Shape,
    color: tuple[int, int, int],
    *,
    alpha: int = 128,
    feather: int = 0,
    box: Sequence[int] | None = None,
) -> np.ndarray:
    """The mask's overlay on a ``display``-sized canvas (RGBA uint8), or only its part ``box``.

    Each canvas pixel shows the mask pixel under its centre (:func:`sample_rows`): ``color``
    at ``alpha`` where it is True. With ``feather`` (image pixels) the opacity follows
    :func:`dalle_widgets.masks.feather` instead, from ``alpha`` inside to 0 outside. A
    part is computed from the mask pixels it shows (and, feathered, those within the
    ramp's reach of them) and equals the same part of the whole overlay.

    >>> from dalle_widgets.masks import rectangle
    >>> m = rectangle((300, 400), (100, 100, 200, 150))
    >>> whole = overlay(m, (240, 320), (255, 0, 0), feather=8)
    >>> part = overlay(m, (240, 320), (255, 0, 0), feather=8, box=(70, 70, 170, 130))
    >>> bool((part == whole[70:130, 70:170]).all()), part.shape
    (True, (60, 100, 4))
    """
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    dh, dw = display
    x0, y0, x1, y1 = (0, 0, dw, dh) if box is None else (int(v) for v in box)
    if not (0 <= x0 < x1 <= dw and 0 <= y0 < y1 <= dh):
        raise ValueError(f"box {tuple(box or ())} is not a non-empty box inside the {dw}x{dh} canvas")
    ys, xs = sample_rows(dh, h, y0, y1), sample_rows(dw, w, x0, x1)
    out = np.zeros((y1 - y0, x1 - x0, 4), np.uint8)
    if not feather:
        out[mask[np.ix_(ys, xs)]] = (*color, alpha)
        return out
    # the ramp at a pixel depends on the mask within ``reach`` of it: feather just that much
    reach = math.ceil(feather / 2 + 0.5) + 2
    top, left = max(0, int(ys[0]) - reach), max(0, int(xs[0]) - reach)
    bottom, right = min(h, int(ys[-1]) + 1 + reach), min(w, int(xs[-1]) + 1 + reach)
    soft = masks.feather(mask[top:bottom, left:right], feather)[np.ix_(ys - top, xs - left)]
    out[..., :3] = color
    out[..., 3] = (soft * np.float32(alpha)).astype(np.uint8)
    return out


def outline_rect(window_box: Sequence[int], image_shape: Shape, display_shape: Shape) -> tuple[float, ...]:
    """Where the dashed outline of a window (image pixels) is drawn on the canvas: ``(x0, y0, x1, y1)``.

    A window reaching past the photo (a padded one) is drawn along the canvas's edge.

    >>> outline_rect((0, -100, 800, 700), (600, 800), (300, 400))
    (1.0, 1.0, 398.0, 298.0)
    """
    h, w = image_shape
    dh, dw = display_shape
    x0, y0, x1, y1 = (float(v) for v in window_box)
    return (
        max(1.0, x0 * dw / w),
        max(1.0, y0 * dh / h),
        min(dw - 2.0, x1 * dw / w),
        min(dh - 2.0, y1 * dh / h),
    )


def outline_boxes(rect: Sequence[float], label: Sequence[float], display_shape: Shape) -> list[Box]:
    """The canvas pixels an outline drawn at ``rect`` with its ``label`` patch can touch.

    Four strips along the edges (the 2 px line, its shadow one pixel down and right and
    their anti-aliasing) and the label's box, clipped to the canvas. A partial redraw
    that moves the outline clears these for the old outline and draws the new one.

    >>> outline_boxes((10, 10, 50, 40), (12, 12, 40, 28), (100, 100))
    [(6, 6, 55, 15), (6, 36, 55, 45), (6, 6, 15, 45), (46, 6, 55, 45), (10, 10, 42, 30)]
    """
    dh, dw = display_shape
    x0, y0, x1, y1 = rect
    m = 4  # half the line, the shadow's offset, anti-aliasing
    raw = [
        (x0 - m, y0 - m, x1 + m + 1, y0 + m + 1),
        (x0 - m, y1 - m, x1 + m + 1, y1 + m + 1),
        (x0 - m, y0 - m, x0 + m + 1, y1 + m + 1),
        (x1 - m, y0 - m, x1 + m + 1, y1 + m + 1),
        (label[0] - 2, label[1] - 2, label[2] + 2, label[3] + 2),
    ]
    out = []
    for a, b, c, d in raw:
        box = (max(0, math.floor(a)), max(0, math.floor(b)), min(dw, math.ceil(c)), min(dh, math.ceil(d)))
        if box[2] > box[0] and box[3] > box[1]:
            out.append(box)
    return out
