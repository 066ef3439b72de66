"""Masks drawn from geometry: all, nothing, rectangles, ellipses and polygons.

The curved shapes are rasterised exactly (a pixel is inside when its centre
is) and in closed form, one span per row crossing, then decoded by the
run-length rasteriser, so their cost follows the shape's size, not a
per-pixel test over the whole image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ._runs import from_bounds
from ._validation import Shape, check_box, check_points, check_shape


def empty(shape: Shape) -> np.ndarray:
    """An all-False mask (nothing to generate).

    Parameters
    ----------
    shape : (H, W)
        Height and width in pixels, positive integers.

    Returns
    -------
    (H, W) ndarray of bool
        False everywhere.

    Examples
    --------
    >>> empty((2, 3))
    array([[False, False, False],
           [False, False, False]])
    """
    return np.zeros(check_shape(shape), dtype=bool)


def full(shape: Shape) -> np.ndarray:
    """An all-True mask (generate everything).

    Parameters
    ----------
    shape : (H, W)
        Height and width in pixels, positive integers.

    Returns
    -------
    (H, W) ndarray of bool
        True everywhere.

    Examples
    --------
    >>> int(full((2, 3)).sum())
    6
    """
    return np.ones(check_shape(shape), dtype=bool)


def rectangle(shape: Shape, box: Sequence[float], *, clip: bool = False) -> np.ndarray:
    """A mask that is True inside ``box = (x0, y0, x1, y1)`` (``x1``, ``y1`` exclusive).

    Parameters
    ----------
    shape : (H, W)
        Height and width of the mask in pixels.
    box : (x0, y0, x1, y1)
        Rounded to whole pixels. Must lie inside the image unless ``clip``.
    clip : bool
        Keep only the part of ``box`` inside the image instead of refusing it.

    Returns
    -------
    (H, W) ndarray of bool
        True on the rows ``y0 <= y < y1`` and columns ``x0 <= x < x1``.

    Examples
    --------
    >>> from dalle_widgets.masks import render
    >>> print(render(rectangle((3, 5), (1, 0, 4, 2))))
    -###-
    -###-
    -----
    >>> rectangle((3, 5), (1, 0, 9, 2))
    Traceback (most recent call last):
    ---
    ValueError: box (1, 0, 9, 2) reaches outside the 5x3 image (0, 0, 5, 3): clip it, or pass clip=True \
to keep only the part inside.
    """
    shape = check_shape(shape)
    x0, y0, x1, y1 = check_box(box, shape, clip=clip)
    out = np.zeros(shape, dtype=bool)
    out[y0:y1, x0:x1] = True
    return out


def ellipse(shape: Shape, box: Sequence[float], *, clip: bool = False) -> np.ndarray:
    """A mask that is True inside the ellipse inscribed in ``box``.

    A pixel is inside when its centre is (the ellipse is not rounded to whole
    pixels first, so sub-pixel boxes are honoured).

    Parameters
    ----------
    shape : (H, W)
        Height and width of the mask in pixels.
    box : (x0, y0, x1, y1)
        The ellipse's bounding box, in (fractional) pixels. Must lie inside
        the image unless ``clip``.
    clip : bool
        Allow a box reaching outside the image; the ellipse is then cut at
        the border.

    Returns
    -------
    (H, W) ndarray of bool
        True at the pixels whose centre lies inside the ellipse.

    Examples
    --------
    >>> from dalle_widgets.masks import render
    >>> print(render(ellipse((5, 7), (0, 0, 7, 5))))
    -#####-
    #######
    #######
    #######
    -#####-
    """
    shape = check_shape(shape)
    check_box(box, shape, clip=clip)
    x0, y0, x1, y1 = (float(v) for v in box)
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    h, w = shape
    r0, r1 = max(0, math.floor(y0)), min(h, math.ceil(y1))
    if r1 <= r0:
        return np.zeros(shape, dtype=bool)
    # One span per row: the centres x + 0.5 in [cx - half, cx + half], half = rx * sqrt(1 - dy^2).
    dy2 = np.arange(r1 - r0, dtype=np.float64)
    dy2 += r0 + 0.5 - cy
    dy2 /= ry
    dy2 *= dy2
    rows = np.arange(r0 * w, r1 * w, w, dtype=np.int64)
    if dy2[0] > 1 or dy2[-1] > 1:  # an end row whose centre is above or below the ellipse
        inside = dy2 <= 1
        dy2, rows = dy2[inside], rows[inside]
    half = np.subtract(1.0, dy2, out=dy2)
    np.sqrt(half, out=half)
    half *= rx
    # first = ceil(cx - half - 0.5) = -floor(0.5 - cx + half), end = floor(cx + half - 0.5) + 1.
    bounds = half + np.array([[0.5 - cx], [0.5 + cx]])
    np.floor(bounds, out=bounds)
    neg_first, end = bounds.astype(np.int64)
    if x0 < 0 or x1 > w:  # clipped: keep the spans inside [0, w]
        np.clip(neg_first, -w, 0, out=neg_first)
        np.clip(end, 0, w, out=end)
    np.maximum(end, -neg_first, out=end)
    bounds = np.empty((rows.size, 2), dtype=np.int64)
    np.subtract(rows, neg_first, out=bounds[:, 0])
    np.add(rows, end, out=bounds[:, 1])
    return from_bounds(shape, bounds.reshape(-1))


def polygon(shape: Shape, points: Sequence[Sequence[float]]) -> np.ndarray:
    """A filled polygon (even-odd rule) through ``points = [(x, y), ...]``.

    The polygon closes itself; vertices may lie outside the image (it is cut
    at the border). A pixel is inside when a ray from its centre crosses the
    outline an odd number of times; each edge counts for the rows whose centre
    line ``y + 0.5`` lies in ``[min(ya, yb), max(ya, yb))``.

    Parameters
    ----------
    shape : (H, W)
        Height and width of the mask in pixels.
    points : sequence of (x, y)
        At least three vertices, in (fractional) pixels, finite.

    Returns
    -------
    (H, W) ndarray of bool
        True at the pixels whose centre lies inside the polygon.

    Examples
    --------
    >>> from dalle_widgets.masks import render
    >>> print(render(polygon((4, 6), [(0, 0), (6, 0), (0, 4)])))
    #####-
    ####--
    ##----
    #-----
    """
    shape = check_shape(shape)
    pts = check_points(points, minimum=3)
    h, w = shape
    # Edge i runs from vertex i to vertex i + 1 (the last one closes the outline).
    closed = np.concatenate((pts, pts[:1]))
    xa, ya, y = closed[:-1, 0], closed[:-1, 1], closed[:, 1]
    # Every (edge, row) crossing: the rows whose centre line y + 0.5 lies in
    # [min(ya, yb), max(ya, yb)), clipped to the image (a horizontal edge has none).
    rows = y - 0.5
    np.ceil(rows, out=rows)
    np.clip(rows, 0, h, out=rows)
    first_row = np.minimum(rows[:-1], rows[1:])
    counts = np.maximum(rows[:-1], rows[1:])
    counts -= first_row
    counts = counts.astype(np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(shape, dtype=bool)
    row0 = np.cumsum(counts)
    np.subtract(first_row + counts, row0, out=row0, casting="unsafe")  # row = pair index + row0
    params = np.stack((row0 + 0.5, ya, y[1:] - ya, closed[1:, 0] - xa, xa))
    yc, e_ya, e_dy, e_dx, e_xa = np.repeat(params, counts, axis=1)
    yc += np.arange(total, dtype=np.float64)
    row_start = yc * w  # flat index of the row's start, + w / 2
    # x = xa + (yc - ya) / (yb - ya) * (xb - xa), the crossing of the edge with the row's centre line
    x = np.subtract(yc, e_ya, out=yc)
    x /= e_dy
    x *= e_dx
    x += e_xa
    # A crossing at x bounds the pixels whose centre is >= x: column ceil(x - 0.5). In flat
    # (row-major) indices these boundaries sort row by row, then by x, so the even-odd rule
    # pairs them up (every row meets an even number of edges) into spans [2k, 2k + 1).
    x -= 0.5
    np.ceil(x, out=x)
    np.clip(x, 0, w, out=x)
    x += row_start
    x -= 0.5 * w
    bounds = x.astype(np.int32 if h * w < 2**31 else np.int64)  # 32-bit keys sort twice as fast
    bounds.sort()
    return from_bounds(shape, bounds)
