"""Masks as numpy arrays: build, combine, grow, feather and convert them.

A mask is a ``bool`` array of shape ``(H, W)``; **True means "generate here"**.
Every function takes and returns that (or says otherwise), never mutates its
input and refuses anything else with a ``ValueError`` that names the argument
and the fix. Masks become the API's form (an RGBA PNG whose alpha is 0 where
the model may paint) only at the edge, in :func:`to_rgba` / :func:`to_png`.

Coordinates: points are ``(x, y)`` in full-resolution pixels (x right, y
down), boxes ``(x0, y0, x1, y1)`` with ``x1``/``y1`` exclusive, shapes
``(H, W)``. A pixel ``(x, y)`` is inside a shape when its centre
``(x + 0.5, y + 0.5)`` is.

>>> m = union(rectangle((8, 8), (1, 1, 4, 4)), ellipse((8, 8), (4, 4, 8, 8)))
>>> describe(m)
'32.8% of 8x8, bbox (1, 1)-(8, 8)'
>>> print(render(m))
--------
-###----
-###----
-###----
-----##-
----####
----####
-----##-
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from . import imaging

__all__ = [
    "bbox",
    "coverage",
    "crop",
    "describe",
    "ellipse",
    "empty",
    "feather",
    "fill_holes",
    "from_image",
    "full",
    "grow",
    "intersect",
    "invert",
    "pad",
    "polygon",
    "preview",
    "rectangle",
    "remove_small",
    "render",
    "resize",
    "shrink",
    "stroke",
    "subtract",
    "to_png",
    "to_rgba",
    "union",
]

logger = logging.getLogger("dalle_widgets")

Shape = tuple[int, int]
Box = tuple[int, int, int, int]


# --------------------------------------------------------------------------- validation


def _check_mask(mask: Any, name: str = "mask") -> np.ndarray:
    if not isinstance(mask, np.ndarray):
        raise ValueError(
            f"{name} must be a numpy bool array of shape (H, W); got {type(mask).__name__}. "
            "Use masks.from_image(...) to read a picture or a file."
        )
    if mask.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (H, W); got shape {mask.shape}. "
            "For a picture use masks.from_image(...); for one channel use arr[..., 3] or similar."
        )
    if mask.shape[0] == 0 or mask.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {mask.shape}): a mask needs at least 1x1 px.")
    if mask.dtype != np.bool_:
        if np.issubdtype(mask.dtype, np.floating):
            fix = f"threshold it explicitly, e.g. {name} > 0.5, or masks.from_image({name}, threshold=0.5)"
        else:
            fix = f"convert it explicitly, e.g. {name} > 0 or {name}.astype(bool)"
        raise ValueError(f"{name} must have dtype bool; got {mask.dtype}: {fix}.")
    return mask


def _check_shape(shape: Any, name: str = "shape") -> Shape:
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(f"{name} must be a pair (H, W); got {shape!r}.") from None
    if len(dims) != 2:
        hint = f" (pass image.shape[:2], i.e. {dims[:2]})" if len(dims) == 3 else ""
        raise ValueError(f"{name} must be a pair (H, W); got {dims!r}{hint}.")
    out = []
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0:
            raise ValueError(f"{name} must be two positive integers (H, W); got {dims!r}.")
        out.append(int(d))
    return out[0], out[1]


def _check_number(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number; got {v!r}.")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"{name} must be finite; got {v!r}.")
    return f


def _check_px(px: Any, name: str = "px") -> float:
    f = _check_number(px, name)
    if f < 0:
        raise ValueError(f"{name} must be >= 0 pixels; got {px!r}.")
    return f


def _check_box(box: Any, shape: Shape, name: str = "box", *, clip: bool = False) -> Box:
    """Validate ``(x0, y0, x1, y1)`` against an ``(H, W)`` shape; round to whole pixels."""
    try:
        vals = tuple(box)
    except TypeError:
        raise ValueError(f"{name} must be (x0, y0, x1, y1); got {box!r}.") from None
    if len(vals) != 4:
        raise ValueError(f"{name} must be (x0, y0, x1, y1); got {vals!r}.")
    x0, y0, x1, y1 = (_check_number(v, name) for v in vals)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(
            f"{name} {vals!r} has zero or negative area: it needs x1 > x0 and y1 > y0 "
            "(x1 and y1 are exclusive)."
        )
    h, w = shape
    if clip:
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"{name} {vals!r} lies entirely outside the {w}x{h} image.")
    elif x0 < 0 or y0 < 0 or x1 > w or y1 > h:
        raise ValueError(
            f"{name} {vals!r} reaches outside the {w}x{h} image (0, 0, {w}, {h}): "
            "clip it, or pass clip=True to keep only the part inside."
        )
    return round(x0), round(y0), round(x1), round(y1)


def _check_points(points: Any, name: str = "points", *, minimum: int = 1) -> np.ndarray:
    try:
        pts = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of (x, y) pairs; got {points!r}.") from None
    if pts.ndim == 1 and pts.size == 2 and minimum <= 1:
        pts = pts[None, :]
    if pts.size == 0:
        raise ValueError(f"{name} needs at least {minimum} point{'s' if minimum > 1 else ''}; got 0.")
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"{name} must be a sequence of (x, y) pairs; got an array of shape {pts.shape}.")
    if len(pts) < minimum:
        raise ValueError(f"{name} needs at least {minimum} points; got {len(pts)}.")
    if not np.isfinite(pts).all():
        raise ValueError(f"{name} contains NaN or infinite coordinates: drop those points.")
    return pts


def _same_shape(masks: Sequence[np.ndarray], names: Sequence[str]) -> None:
    ref = masks[0].shape
    for m, n in zip(masks[1:], names[1:], strict=True):
        if m.shape != ref:
            raise ValueError(
                f"{n} is {m.shape[1]}x{m.shape[0]} but {names[0]} is {ref[1]}x{ref[0]}: "
                f"resize one with masks.resize({n}, {ref})."
            )


# --------------------------------------------------------------------------- shapes


def empty(shape: Shape) -> np.ndarray:
    """An all-False mask (nothing to generate).

    >>> empty((2, 3))
    array([[False, False, False],
           [False, False, False]])
    """
    return np.zeros(_check_shape(shape), dtype=bool)


def full(shape: Shape) -> np.ndarray:
    """An all-True mask (generate everything).

    >>> int(full((2, 3)).sum())
    6
    """
    return np.ones(_check_shape(shape), dtype=bool)


def rectangle(shape: Shape, box: Sequence[float], *, clip: bool = False) -> np.ndarray:
    """A mask that is True inside ``box = (x0, y0, x1, y1)`` (``x1``, ``y1`` exclusive).

    Parameters
    ----------
    shape : (H, W)
    box : (x0, y0, x1, y1)
        Rounded to whole pixels. Must lie inside the image unless ``clip``.
    clip : bool
        Keep only the part of ``box`` inside the image instead of refusing it.

    Examples
    --------
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
    shape = _check_shape(shape)
    x0, y0, x1, y1 = _check_box(box, shape, clip=clip)
    out = np.zeros(shape, dtype=bool)
    out[y0:y1, x0:x1] = True
    return out


#: Spans whose extent (first start to last end) covers at least this fraction of the image
#: are decoded over the whole image (one np.repeat, no zero-fill and copy); a smaller extent
#: is decoded into its window of an all-False mask, so small shapes touch little memory.
_WHOLE_IMAGE_FRACTION = 0.25

_ALTERNATING = np.tile(np.array([False, True]), 4096)


def _alternating(n: int, first: bool) -> np.ndarray:
    """``n`` booleans alternating from ``first`` (a view of a cached array)."""
    global _ALTERNATING
    values = _ALTERNATING  # (one read: another thread may replace it meanwhile)
    if n + 1 > values.size:
        values = np.tile(np.array([False, True]), n // 2 + 1)
        _ALTERNATING = values
    return values[int(first) : int(first) + n]


def _from_bounds(shape: Shape, bounds: np.ndarray) -> np.ndarray:
    """A mask that is True on the flat (row-major) ranges ``[bounds[2k], bounds[2k + 1])``.

    ``bounds`` must be non-decreasing (so the ranges are sorted and disjoint; empty
    ones are allowed). This is run-length decoding: ``np.repeat`` of alternating
    False/True over the run lengths fills memory at memset speed, with no Python loop
    per row and nothing done outside the ranges' extent.
    """
    size = shape[0] * shape[1]
    if bounds.size == 0:
        return np.zeros(shape, dtype=bool)
    lo, hi = int(bounds[0]), int(bounds[-1])
    if hi - lo >= _WHOLE_IMAGE_FRACTION * size:
        runs = np.empty(bounds.size + 1, dtype=np.int64)
        runs[0] = lo
        np.subtract(bounds[1:], bounds[:-1], out=runs[1:-1])
        runs[-1] = size - hi
        return np.repeat(_alternating(runs.size, False), runs).reshape(shape)
    out = np.zeros(shape, dtype=bool)
    _or_bounds(out, bounds)
    return out


def _or_bounds(out: np.ndarray, bounds: np.ndarray) -> None:
    """Set the flat ranges ``[bounds[2k], bounds[2k + 1])`` of a C-contiguous mask to True."""
    lo, hi = int(bounds[0]), int(bounds[-1])
    window = out.reshape(-1)[lo:hi]
    window |= np.repeat(_alternating(bounds.size - 1, True), np.diff(bounds))


def ellipse(shape: Shape, box: Sequence[float], *, clip: bool = False) -> np.ndarray:
    """A mask that is True inside the ellipse inscribed in ``box``.

    A pixel is inside when its centre is (the ellipse is not rounded to whole
    pixels first, so sub-pixel boxes are honoured). ``clip`` allows a box
    reaching outside the image; the ellipse is then cut at the border.

    Examples
    --------
    >>> print(render(ellipse((5, 7), (0, 0, 7, 5))))
    -#####-
    #######
    #######
    #######
    -#####-
    """
    shape = _check_shape(shape)
    _check_box(box, shape, clip=clip)
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
    return _from_bounds(shape, bounds.reshape(-1))


def polygon(shape: Shape, points: Sequence[Sequence[float]]) -> np.ndarray:
    """A filled polygon (even-odd rule) through ``points = [(x, y), ...]``.

    The polygon closes itself; vertices may lie outside the image (it is cut
    at the border). A pixel is inside when a ray from its centre crosses the
    outline an odd number of times; each edge counts for the rows whose centre
    line ``y + 0.5`` lies in ``[min(ya, yb), max(ya, yb))``.

    Examples
    --------
    >>> print(render(polygon((4, 6), [(0, 0), (6, 0), (0, 4)])))
    #####-
    ####--
    ##----
    #-----
    """
    shape = _check_shape(shape)
    pts = _check_points(points, minimum=3)
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
    return _from_bounds(shape, bounds)


def stroke(shape: Shape, points: Sequence[Sequence[float]], radius: float) -> np.ndarray:
    """A brush stroke: every pixel within ``radius`` of the polyline through ``points``.

    Round caps and round joins (the union of discs swept along each segment),
    so a fast mouse drag with samples far apart leaves no gaps. A single point
    gives a disc. Points may lie outside the image.

    The rasterisation is exact (pixel centres at distance <= ``radius``) and
    local: each segment's capsule (convex) gives one span per row it covers,
    in closed form (its left edge is an arc of the first end's disc, a straight
    line, then an arc of the second end's disc; likewise on the right). The
    spans of all segments are merged and run-length decoded at once, so the
    cost follows the stroke's size, not the image's: a 200-point stroke of
    radius 20 on a 1024 px image takes about 0.2 ms.

    Parameters
    ----------
    shape : (H, W)
    points : sequence of (x, y)
    radius : float
        Brush radius in pixels, > 0.

    Examples
    --------
    >>> print(render(stroke((5, 9), [(2.5, 2.5), (6.5, 2.5)], radius=1.5)))
    ---------
    -#######-
    -#######-
    -#######-
    ---------
    >>> stroke((5, 9), [(2, 2)], radius=0)
    Traceback (most recent call last):
    ---
    ValueError: radius must be > 0 pixels; got 0.
    """
    shape = _check_shape(shape)
    pts = _check_points(points)
    r = _check_number(radius, "radius")
    if r <= 0:
        raise ValueError(f"radius must be > 0 pixels; got {radius!r}.")
    bounds = _stroke_bounds(shape, pts, r)  # its temporaries are freed before the mask is allocated
    return _from_bounds(shape, bounds)


def _stroke_bounds(shape: Shape, pts: np.ndarray, r: float) -> np.ndarray:
    """The flat span bounds of :func:`stroke` for :func:`_from_bounds`."""
    h, w = shape
    seg = np.concatenate((pts[:-1], pts[1:]) if len(pts) > 1 else (pts, pts), axis=1)  # ax ay bx by
    d = seg[:, 2:] - seg[:, :2]
    moved = d[:, 0] != 0
    moved |= d[:, 1] != 0
    if not moved.all():  # drop zero-length segments between repeated samples (keep one disc)
        seg, d = (seg[moved], d[moved]) if moved.any() else (seg[:1], d[:1])
    # A segment whose slope is below 1e-12 counts as horizontal (it is, to within float
    # rounding of the distances): its capsule has no straight edge on either side.
    flat = np.abs(d[:, 1]) <= 1e-12 * np.abs(d[:, 0])  # a lone point too
    # Orient every segment downwards (a horizontal one left to right): a is its top end.
    swap = np.where(flat, d[:, 0] < 0, d[:, 1] < 0)
    if swap.any():
        seg[swap] = seg[swap][:, [2, 3, 0, 1]]
        np.negative(d, out=d, where=swap[:, None])
    ax, ay, bx, by = seg.T
    dx, dy = d.T
    # Each side of a capsule is an arc of a's disc down to the tangent point a + r * n
    # (n = (-dy, dx) / L on the left, (dy, -dx) / L on the right), a straight line parallel
    # to the segment down to b + r * n, then an arc of b's disc. In the row's offset
    # da = y - ay from a (db = y - by from b), the left edge is a's arc while da < r dx / L,
    # b's arc once db > r dx / L, and in between the line x = ax - r dy / L + (da - r dx / L)
    # * dx / dy (written from its tangent point, so it stays accurate when dy is small).
    # The right edge is the same with -dx. A horizontal segment's left edge is all a's
    # disc, its right edge all b's.
    length = np.hypot(dx, dy)
    length[flat] = 1.0
    ndx, ndy = r * dx / length, r * dy / length
    dy_safe = np.where(flat, 1.0, dy)
    # Rows whose centre y + 0.5 lies in [ay - r, by + r], clipped to the image, except some
    # that a neighbour draws. Where both edges are arcs of the same end vertex (beyond
    # |r dx / L| from it: db > |r dx / L| at b, da < -|r dx / L| at a), the row's span is
    # that vertex's disc, which the neighbouring capsule sharing the vertex contains whole.
    # So each segment leaves those rows at its end vertex to the next segment, and at its
    # start vertex to the previous one when the path goes on in the same vertical direction
    # there (then the two segments' left-out rows lie on opposite sides of the vertex).
    # Each left-out row is thus drawn by a chain of segments ending at the last (or first).
    cut = np.abs(ndx)
    cut[flat] = r  # a horizontal capsule's edges are never both arcs of one end
    end_cut = cut.copy()
    end_cut[-1] = r  # the last segment shares its end with nobody
    start_cut = np.full_like(cut, r)
    same_way = swap[1:] == swap[:-1]
    same_way |= flat[:-1]  # (a horizontal segment leaves nothing to its neighbours)
    start_cut[1:][same_way] = cut[1:][same_way]
    first_row = np.ceil(ay - np.where(swap, end_cut, start_cut) - 0.5)  # a: end vertex if swapped
    np.clip(first_row, 0, h, out=first_row)
    counts = np.floor(by + np.where(swap, start_cut, end_cut) - 0.5) + 1
    np.clip(counts, 0, h, out=counts)
    counts -= first_row
    counts = np.maximum(counts, 0).astype(np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    row0 = first_row - (np.cumsum(counts) - counts)  # row = pair index + row0 of its segment
    params = np.stack(
        [
            row0 + 0.5 - ay,
            dy,
            ax,
            bx,
            np.where(flat, 0.0, dx / dy_safe),
            np.where(flat, r + 1, ndx),
            ax - ndy,  # left: switch offset, tangent point x
            np.where(flat, -r - 1, -ndx),
            ax + ndy,  # right: the same
            row0 * w,
        ]
    )
    da, p_dy, p_ax, p_bx, slope, l_off, l_x, r_off, r_x, row_base = np.repeat(params, counts, axis=1)
    index = np.arange(total, dtype=np.float64)
    da += index
    r2 = r * r
    sa = da * da  # then a's disc half-width on the row
    np.subtract(r2, sa, out=sa)
    np.sqrt(np.maximum(sa, 0.0, out=sa), out=sa)
    db = da - p_dy
    sb = db * db
    np.subtract(r2, sb, out=sb)
    np.sqrt(np.maximum(sb, 0.0, out=sb), out=sb)
    left_a, left_b, right_a, right_b = da < l_off, db > l_off, da < r_off, db > r_off
    arc = p_dy  # scratch from here on
    lo = da - l_off
    lo *= slope
    lo += l_x
    np.copyto(lo, np.subtract(p_bx, sb, out=arc), where=left_b)
    np.copyto(lo, np.subtract(p_ax, sa, out=arc), where=left_a)
    hi = np.subtract(da, r_off, out=da)
    hi *= slope
    hi += r_x
    np.copyto(hi, np.add(p_bx, sb, out=arc), where=right_b)
    np.copyto(hi, np.add(p_ax, sa, out=arc), where=right_a)
    np.maximum(hi, lo, out=hi)  # a capsule's tip row: rounding must not cross the edges
    # Pixels whose centre x + 0.5 lies in [lo, hi]: [ceil(lo - 0.5), floor(hi - 0.5) + 1).
    lo -= 0.5
    np.ceil(lo, out=lo)
    hi -= 0.5
    np.floor(hi, out=hi)
    hi += 1
    if min(ax.min(), bx.min()) - r < 0 or max(ax.max(), bx.max()) + r > w:
        np.clip(lo, 0, w, out=lo)
        np.clip(hi, 0, w, out=hi)
    # As flat (row-major) indices, then merged: with the starts and the ends each sorted,
    # the union has a gap exactly where the i-th end comes before the (i + 1)-th start.
    index *= w
    index += row_base
    lo += index
    hi += index
    dtype = np.int32 if h * w < 2**31 else np.int64  # sorting 32-bit keys is twice as fast
    starts = lo.astype(dtype)
    starts.sort()
    ends = hi.astype(dtype)
    ends.sort()
    gaps = np.flatnonzero(ends[:-1] < starts[1:])
    bounds = np.empty((gaps.size + 1, 2), dtype=dtype)
    bounds[0, 0] = starts[0]
    bounds[1:, 0] = starts[gaps + 1]
    bounds[:-1, 1] = ends[gaps]
    bounds[-1, 1] = ends[-1]
    return bounds.reshape(-1)


# --------------------------------------------------------------------------- set algebra


def invert(mask: np.ndarray) -> np.ndarray:
    """Swap generate and keep.

    >>> invert(np.array([[True, False]]))
    array([[False,  True]])
    """
    return ~_check_mask(mask)


def _combine(op: Any, masks: Sequence[np.ndarray], what: str) -> np.ndarray:
    if not masks:
        raise ValueError(f"{what} needs at least one mask.")
    names = [f"masks[{i}]" for i in range(len(masks))] if len(masks) > 2 else ["a", "b"][: len(masks)]
    checked = [_check_mask(m, n) for m, n in zip(masks, names, strict=True)]
    _same_shape(checked, names)
    if len(checked) == 1:
        return checked[0].copy()
    out = op(checked[0], checked[1])
    for m in checked[2:]:
        op(out, m, out=out)
    return out


def union(*masks: np.ndarray) -> np.ndarray:
    """True where any mask is True.

    >>> union(np.array([[True, False]]), np.array([[False, False]]))
    array([[ True, False]])
    """
    return _combine(np.logical_or, masks, "union")


def intersect(*masks: np.ndarray) -> np.ndarray:
    """True where every mask is True.

    >>> intersect(np.array([[True, True]]), np.array([[False, True]]))
    array([[False,  True]])
    """
    return _combine(np.logical_and, masks, "intersect")


def subtract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True where ``a`` is and ``b`` is not (an eraser stroke is ``subtract(mask, stroke)``).

    >>> subtract(np.array([[True, True]]), np.array([[False, True]]))
    array([[ True, False]])
    """
    a, b = _check_mask(a, "a"), _check_mask(b, "b")
    _same_shape([a, b], ["a", "b"])
    return a & ~b


# --------------------------------------------------------------------------- morphology


#: Up to this radius grow/shrink use shifted ORs (fast for brush-sized radii); above it,
#: scipy's exact Euclidean distance transform (its cost does not depend on the radius).
_SHIFT_MAX_RADIUS = 24


def _window_or(a: np.ndarray, w: int, axis: int) -> np.ndarray:
    """OR of ``a`` over offsets ``[-w, w]`` along ``axis`` (False beyond the edges).

    A window of ``2w + 1`` is built by doubling (runs of 1, 2, 4... then one last
    overlapping OR), so it costs about ``log2(2w + 1)`` passes, not ``2w``.
    """
    if w <= 0:
        return a.copy()
    n = 2 * w + 1
    pad = [(0, 0), (0, 0)]
    pad[axis] = (w, 0)
    run = np.pad(a, pad)  # run[i] will be OR a[i - w .. i + w] once it covers n samples
    length = 1

    def sl(start: int | None, stop: int | None) -> tuple[slice, ...]:
        return (slice(start, stop), slice(None)) if axis == 0 else (slice(None), slice(start, stop))

    while 2 * length <= n:
        run[sl(None, -length)] |= run[sl(length, None)]
        length *= 2
    if n > length:
        k = n - length
        run[sl(None, -k)] |= run[sl(k, None)].copy()
    return run[sl(0, a.shape[axis])]


def _disc_half_width(px: float, v: int) -> int:
    """Largest ``u >= 0`` with ``sqrt(u^2 + v^2) <= px`` as floats compare (what scipy's EDT gives)."""
    u = math.isqrt(max(0, math.floor(px * px - v * v)))
    while math.sqrt((u + 1) ** 2 + v * v) <= px:  # px * px rounded down (px = sqrt(3), ...)
        u += 1
    while u > 0 and math.sqrt(u * u + v * v) > px:  # px * px rounded up (px just below 2, ...)
        u -= 1
    return u


def _grow_core(a: np.ndarray, px: float) -> np.ndarray:
    """Pixels within ``px`` (Euclidean, pixel centres) of a True pixel of ``a``; nothing beyond the edges."""
    r = int(math.floor(px))
    if r > _SHIFT_MAX_RADIUS:
        from scipy import ndimage

        return ndimage.distance_transform_edt(~a) <= px
    # The disc is the union of rectangles (2 w(v) + 1) x (2 v + 1), w(v) = floor(sqrt(px^2 - v^2)):
    # grow = OR over v of a horizontal window w(v) applied to the vertical window v of ``a``.
    # Only the largest v of each distinct w(v) matters, since vertical windows nest.
    widths = [_disc_half_width(px, v) for v in range(r + 1)]
    out = _window_or(a, widths[0], axis=1)
    vert = a.copy()
    for v in range(1, r + 1):
        vert[:-v] |= a[v:]
        vert[v:] |= a[:-v]
        if v == r or widths[v + 1] < widths[v]:
            out |= _window_or(vert, widths[v], axis=1)
    return out


def grow(mask: np.ndarray, px: float) -> np.ndarray:
    """Dilate by a round brush of radius ``px``: add every pixel within ``px`` of the mask.

    Exact Euclidean distances between pixel centres, computed only over the
    mask's bounding box widened by ``px``: for brush-sized radii as an OR of
    shifted copies over the disc's row spans, for large radii with
    ``scipy.ndimage``'s exact distance transform (same result).

    Examples
    --------
    >>> m = rectangle((7, 7), (3, 3, 4, 4))
    >>> print(render(grow(m, 2)))
    -------
    ---#---
    --###--
    -#####-
    --###--
    ---#---
    -------
    """
    mask = _check_mask(mask)
    px = _check_px(px)
    box = bbox(mask)
    if box is None or px < 1:
        return mask.copy()
    h, w = mask.shape
    m = int(math.floor(px))
    x0, y0, x1, y1 = max(0, box[0] - m), max(0, box[1] - m), min(w, box[2] + m), min(h, box[3] + m)
    out = np.zeros_like(mask)
    out[y0:y1, x0:x1] = _grow_core(mask[y0:y1, x0:x1], px)
    return out


def shrink(mask: np.ndarray, px: float) -> np.ndarray:
    """Erode by a round brush of radius ``px``: keep pixels farther than ``px`` from any False pixel.

    The image border does not erode the mask (a region touching the border
    stays there, as if it went on beyond the image), so
    ``shrink(m, r) == invert(grow(invert(m), r))``.

    Examples
    --------
    >>> m = rectangle((7, 7), (1, 1, 6, 6))
    >>> print(render(shrink(m, 1)))
    -------
    -------
    --###--
    --###--
    --###--
    -------
    -------
    """
    mask = _check_mask(mask)
    px = _check_px(px)
    if px < 1 or not mask.any() or mask.all():
        return mask.copy()
    h, w = mask.shape
    box = bbox(mask)
    assert box is not None
    m = int(math.floor(px)) + 1
    # Outside the mask's box widened by px + 1 nothing survives; inside it, the window
    # holds every False pixel that can reach the box (the image border is no False source).
    x0, y0, x1, y1 = max(0, box[0] - m), max(0, box[1] - m), min(w, box[2] + m), min(h, box[3] + m)
    out = np.zeros_like(mask)
    out[y0:y1, x0:x1] = ~_grow_core(~mask[y0:y1, x0:x1], px)
    return out


#: :func:`fill_holes` follows the runs of False pixels (its cost grows with their number)
#: while at most this fraction of the box's 8-pixel words holds a run boundary; noisier
#: masks are labelled pixel by pixel instead. Measured crossover: about 0.3 (a smooth
#: mask is near 0.05, one with 1 % salt-and-pepper noise 0.1, 10 % noise 0.6).
_FILL_RUNS_MAX_FRACTION = 1 / 4


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill regions of False completely enclosed by True (4-connected holes).

    Holes lie inside the mask's bounding box, and a False region touching the box's
    edge reaches the image border, so only the box is examined. For a typical mask
    (smooth regions) the work is on the runs of False pixels of each row: runs on
    consecutive rows that share a column are connected, and the connected groups
    (``scipy.sparse.csgraph``) that touch the box's edge are the outside; the rest
    are holes. A noisy mask with many short runs is labelled pixel by pixel
    (``scipy.ndimage.label``) instead; both give ``scipy.ndimage.binary_fill_holes``.

    >>> m = rectangle((5, 5), (0, 0, 5, 5)) & ~rectangle((5, 5), (2, 2, 3, 3))
    >>> bool(fill_holes(m).all())
    True
    """
    mask = _check_mask(mask)
    box = bbox(mask)
    if box is None:
        return mask.copy()
    x0, y0, x1, y1 = box
    sub = mask[y0:y1, x0:x1]
    runs = _false_runs(sub)
    if runs is None:
        from scipy import ndimage

        # Pad the box with a ring of False-in-the-mask: every region reaching the box's edge
        # joins the ring, which is the first label.
        inv = np.ones((y1 - y0 + 2, x1 - x0 + 2), dtype=bool)
        np.logical_not(sub, out=inv[1:-1, 1:-1])
        labels = ndimage.label(inv)[0]
        out = mask.copy()
        np.not_equal(labels[1:-1, 1:-1], labels[0, 0], out=out[y0:y1, x0:x1])
        return out
    row, start, end = runs
    holes = _enclosed(row, start, end, *sub.shape)
    out = mask.copy()
    if holes.any():
        w = mask.shape[1]
        base = (row[holes] + y0) * w + x0
        bounds = np.empty((base.size, 2), dtype=np.int64)
        np.add(base, start[holes], out=bounds[:, 0])
        np.add(base, end[holes], out=bounds[:, 1])
        _or_bounds(out, bounds.reshape(-1))
    return out


def _false_runs(sub: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Every row's runs of False as ``(row, start, end)`` (end exclusive), in row-major order.

    None when the runs are too many for run-based work to pay (see
    ``_FILL_RUNS_MAX_FRACTION``). Run boundaries are found as changes between
    neighbours (with True assumed beyond both ends of a row), eight pixels per word.
    """
    bh, bw = sub.shape
    stride = (bw + 8) // 8 * 8  # bw + 1 boundaries per row, in whole words
    changes = np.zeros((bh, stride), dtype=bool)
    np.logical_not(sub[:, 0], out=changes[:, 0])
    np.not_equal(sub[:, 1:], sub[:, :-1], out=changes[:, 1:bw])
    np.logical_not(sub[:, -1], out=changes[:, bw])
    words = changes.view(np.uint64).reshape(-1)
    busy = np.flatnonzero(words != 0)  # (numpy's nonzero is fastest on bool)
    if busy.size > _FILL_RUNS_MAX_FRACTION * words.size:
        return None
    offsets = np.flatnonzero(words[busy].view(np.bool_))
    at = busy[offsets >> 3] * 8 + (offsets & 7)
    # Changes alternate along a row: start of a False run, then its end.
    row = at[0::2] // stride
    start = at[0::2] - row * stride
    end = at[1::2] - row * stride
    return row, start, end


def _enclosed(row: np.ndarray, start: np.ndarray, end: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """Which runs of False (from :func:`_false_runs`) cannot reach the box's edge, 4-connected."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n = row.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    # Run i touches the runs of the next row with start < end_i and end > start_i: a
    # contiguous range [lo, hi) of the row-major order, found by binary search.
    key_start = row * (bw + 1) + start
    key_end = row * (bw + 1) + end
    lo = np.searchsorted(key_end, key_start + (bw + 1), side="right")
    hi = np.searchsorted(key_start, key_end + (bw + 1), side="left")
    count = np.maximum(hi - lo, 0)
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(count, out=indptr[1:])
    m = int(indptr[-1])
    indices = (np.arange(m) + np.repeat(lo - indptr[:-1], count)).astype(np.int32)
    graph = csr_matrix((np.ones(m), indices, indptr), shape=(n, n))
    n_groups, group = connected_components(graph, directed=False)
    edge = (row == 0) | (row == bh - 1) | (start == 0) | (end == bw)
    outside = np.zeros(n_groups, dtype=bool)
    outside[group[edge]] = True
    return ~outside[group]


def remove_small(mask: np.ndarray, min_px: int) -> np.ndarray:
    """Drop connected blobs (8-connected) smaller than ``min_px`` pixels: specks from a stray click.

    >>> m = rectangle((6, 6), (0, 0, 3, 3)) | rectangle((6, 6), (5, 5, 6, 6))
    >>> print(render(remove_small(m, 2)))
    ###---
    ###---
    ###---
    ------
    ------
    ------
    """
    from scipy import ndimage

    mask = _check_mask(mask)
    if isinstance(min_px, bool) or not isinstance(min_px, (int, np.integer)) or min_px < 0:
        raise ValueError(f"min_px must be an integer >= 0; got {min_px!r}.")
    if min_px <= 1 or not mask.any():
        return mask.copy()
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= min_px
    keep[0] = False
    return keep[labels]


def feather(mask: np.ndarray, px: float) -> np.ndarray:
    """A soft version of ``mask``: float32 in [0, 1], ramping over ``px`` pixels across the edge.

    The value is ``clip(0.5 + d / px, 0, 1)`` where ``d`` is the signed
    distance from the pixel centre to the mask's edge (positive inside), so
    the ramp is centred on the edge: 0.5 on it, 1 at ``px / 2`` inside, 0 at
    ``px / 2`` outside. ``px = 0`` gives the hard mask as 0.0/1.0. Use it for
    blending and previews; what is sent to the API is always the hard mask.

    Distances are exact Euclidean distances between pixel centres (``d`` is the
    distance to the nearest pixel on the other side, less half a pixel), and
    only computed as far as the ramp reaches.

    Examples
    --------
    >>> m = rectangle((1, 8), (4, 0, 8, 1))
    >>> print(feather(m, 4))
    [[0.    0.    0.125 0.375 0.625 0.875 1.    1.   ]]
    """
    from scipy import ndimage

    mask = _check_mask(mask)
    px = _check_px(px)
    if px == 0 or mask.all() or not mask.any():
        return mask.astype(np.float32)
    # Only distances up to ``reach`` matter: beyond it the ramp is saturated at 0 or 1.
    reach = math.ceil(px / 2 + 0.5)
    # Outside the mask's box widened by reach + 1 every pixel is far outside: 0.
    h, w = mask.shape
    box = bbox(mask)
    assert box is not None
    x0, y0 = max(0, box[0] - reach - 1), max(0, box[1] - reach - 1)
    x1, y1 = min(w, box[2] + reach + 1), min(h, box[3] + reach + 1)
    local = mask[y0:y1, x0:x1]
    if reach > _SHIFT_MAX_RADIUS:
        inside = ndimage.distance_transform_edt(local)  # >= 1 inside: distance to nearest False centre
        outside = ndimage.distance_transform_edt(~local)
    else:
        inside = _bounded_distance(~local, reach)
        outside = _bounded_distance(local, reach)
    signed = np.where(local, inside - np.float32(0.5), np.float32(0.5) - outside)
    out = np.zeros(mask.shape, dtype=np.float32)
    out[y0:y1, x0:x1] = np.clip(np.float32(0.5) + signed / np.float32(px), 0.0, 1.0)
    return out


def _bounded_distance(target: np.ndarray, reach: int) -> np.ndarray:
    """Exact Euclidean distance to the nearest True pixel of ``target``, wherever it is <= ``reach``.

    Elsewhere the value is some number > ``reach``. Separable and exact: the vertical
    distance ``g`` (capped at ``reach + 1``) by growing a band one row at a time, then
    ``d^2(x) = min over |dx| <= reach of dx^2 + g(x + dx)^2`` by shifted minima. Costs
    about ``6 * reach`` array passes, much less than a full distance transform for the
    few-pixel ramps of a feathered edge.
    """
    cap = reach + 1
    g = np.zeros(target.shape, dtype=np.uint16)
    band = target.copy()
    for d in range(1, cap + 1):
        g += ~band  # g counts the distances d' < d with no target within d' rows
        if d <= reach:
            band[:-d] |= target[d:]
            band[d:] |= target[:-d]
    g2 = g.astype(np.uint16) ** 2  # cap**2 < 65536 for the radii that come here
    d2 = g2.copy()
    for dx in range(1, reach + 1):
        step = np.uint16(dx * dx)
        np.minimum(d2[:, :-dx], g2[:, dx:] + step, out=d2[:, :-dx])
        np.minimum(d2[:, dx:], g2[:, :-dx] + step, out=d2[:, dx:])
    return np.sqrt(d2.astype(np.float32))


# --------------------------------------------------------------------------- geometry


def resize(mask: np.ndarray, shape: Shape) -> np.ndarray:
    """Resample a mask to ``shape = (H, W)``.

    A target pixel is True when at least half of the source area it covers is
    True (area averaging), so integer upscaling repeats pixels exactly and a
    round trip up and down gives the original back.

    >>> m = rectangle((2, 2), (0, 0, 1, 1))
    >>> print(render(resize(m, (4, 4))))
    ##--
    ##--
    ----
    ----
    >>> bool((resize(resize(m, (6, 6)), (2, 2)) == m).all())
    True
    """
    mask = _check_mask(mask)
    h, w = _check_shape(shape)
    if mask.shape == (h, w):
        return mask.copy()
    sh, sw = mask.shape
    if h % sh == 0 and w % sw == 0:  # integer upscale: repeat pixels
        fy, fx = h // sh, w // sw
        return np.broadcast_to(mask[:, None, :, None], (sh, fy, sw, fx)).reshape(h, w).copy()
    if sh % h == 0 and sw % w == 0:  # integer downscale: count True pixels per block
        fy, fx = sh // h, sw // w
        need = (fy * fx + 1) // 2  # at least half of the block's pixels
        if fx in (1, 2, 4, 8) and fy * fx < 256:
            # Read each block row of fx pixels as one unsigned word and add the fy rows as
            # words: every byte then holds its column's count (< 256, so nothing carries
            # between bytes). Multiplying by 0x0101...01 sums a word's bytes into its top byte.
            cells = np.ascontiguousarray(mask).view(f"u{fx}")
            sums = cells[0::fy] if fy == 1 else np.add(cells[0::fy], cells[1::fy])
            for dy in range(2, fy):
                sums += cells[dy::fy]
            if fx > 1:
                sums = np.multiply(sums, sums.dtype.type(int("01" * fx, 16)), out=None if fy == 1 else sums)
            return sums >= need << (8 * (fx - 1))
        cells = mask.view(np.uint8)
        counts = np.zeros((h, w), dtype=np.uint8 if fy * fx < 256 else np.int32)
        for dy in range(fy):  # strided adds: far faster than a 4-D reshape-sum
            for dx in range(fx):
                counts += cells[dy::fy, dx::fx]
        return counts >= need
    img = Image.fromarray(mask.astype(np.float32), "F")
    out = np.asarray(img.resize((w, h), Image.Resampling.BOX))
    return out >= 0.5 - 1e-6


def crop(mask: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """The part of ``mask`` inside ``box = (x0, y0, x1, y1)`` (a copy).

    >>> crop(rectangle((4, 4), (1, 1, 3, 3)), (1, 1, 3, 2)).shape
    (1, 2)
    """
    mask = _check_mask(mask)
    x0, y0, x1, y1 = _check_box(box, mask.shape)
    return mask[y0:y1, x0:x1].copy()


def pad(
    mask: np.ndarray, left: int = 0, top: int = 0, right: int = 0, bottom: int = 0, *, value: bool = False
) -> np.ndarray:
    """Add ``left``/``top``/``right``/``bottom`` pixels around a mask, set to ``value``.

    ``pad(m, ..., value=True)`` is the mask of an outpainting canvas: the new
    border is to be generated.

    >>> print(render(pad(full((1, 2)), left=1, bottom=1)))
    -##
    ---
    """
    mask = _check_mask(mask)
    amounts = {"left": left, "top": top, "right": right, "bottom": bottom}
    for k, v in amounts.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{k} must be an integer >= 0; got {v!r}.")
    return np.pad(mask, ((top, bottom), (left, right)), mode="constant", constant_values=bool(value))


# --------------------------------------------------------------------------- facts


def bbox(mask: np.ndarray) -> Box | None:
    """The tight box ``(x0, y0, x1, y1)`` around the True pixels, or None if there are none.

    >>> bbox(rectangle((10, 10), (2, 3, 5, 9)))
    (2, 3, 5, 9)
    >>> bbox(empty((4, 4))) is None
    True
    """
    mask = _check_mask(mask)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def coverage(mask: np.ndarray) -> float:
    """The fraction of pixels that are True, in [0, 1].

    >>> coverage(rectangle((4, 4), (0, 0, 2, 4)))
    0.5
    """
    mask = _check_mask(mask)
    return float(np.count_nonzero(mask)) / mask.size


def describe(mask: np.ndarray) -> str:
    """One human line: how much of the image is masked and where.

    >>> describe(rectangle((1024, 1024), (120, 80, 610, 540)))
    '21.5% of 1024x1024, bbox (120, 80)-(610, 540)'
    >>> describe(empty((256, 512)))
    'empty (0% of 512x256)'
    """
    mask = _check_mask(mask)
    h, w = mask.shape
    box = bbox(mask)
    if box is None:
        return f"empty (0% of {w}x{h})"
    return f"{100 * coverage(mask):.1f}% of {w}x{h}, bbox ({box[0]}, {box[1]})-({box[2]}, {box[3]})"


def render(mask: np.ndarray, on: str = "#", off: str = "-") -> str:
    """Text picture of a small mask, one line per row (for doctests and debugging).

    >>> print(render(np.array([[True, False]])))
    #-
    """
    mask = _check_mask(mask)
    return "\n".join("".join(on if v else off for v in row) for row in mask)


# --------------------------------------------------------------------------- edge conversions

_CONVENTIONS = ("auto", "alpha", "white", "black")


def _threshold(threshold: float | None, default: float) -> float:
    if threshold is None:
        return default
    t = _check_number(threshold, "threshold")
    if not 0.0 < t <= 1.0:
        raise ValueError(f"threshold is a fraction of full intensity in (0, 1]; got {threshold!r}.")
    return t


def from_image(x: Any, *, convention: str = "auto", threshold: float | None = None) -> np.ndarray:
    """Read a mask from a picture, a file, a PIL image or an array.

    Parameters
    ----------
    x : path, bytes, PIL image or array
        A bool ``(H, W)`` array is returned as a copy. A float ``(H, W)``
        array needs ``threshold`` (True where ``x >= threshold``).
    convention : {"auto", "alpha", "white", "black"}
        ``"alpha"``: True where the alpha channel is below ``threshold``
        (default: exactly where alpha is 0, which is what DALL-E 2 edits read).
        ``"white"``: True where the grey level is >= ``threshold`` (default
        0.5), the Stable Diffusion convention. ``"black"``: True where it is
        below ``threshold``. ``"auto"`` uses ``"alpha"`` when the picture has
        transparency, ``"white"`` for a picture that is strictly black and
        white (logged), and otherwise raises and says which to pass: it never
        guesses silently.
    threshold : float in (0, 1], optional
        Cut-off as a fraction of full intensity.

    Examples
    --------
    >>> m = rectangle((4, 4), (1, 1, 3, 3))
    >>> rgba = to_rgba(np.zeros((4, 4, 3), np.uint8), m)
    >>> bool((from_image(rgba) == m).all())
    True
    >>> bw = np.where(m, 255, 0).astype(np.uint8)
    >>> bool((from_image(bw) == m).all()), bool((from_image(bw, convention="black") == ~m).all())
    (True, True)
    >>> from_image(np.full((4, 4), 0.7))
    Traceback (most recent call last):
    ---
    ValueError: x is a float array: pass threshold=... (e.g. 0.5) to say which values mean "generate".
    """
    if convention not in _CONVENTIONS:
        raise ValueError(f"convention must be one of {_CONVENTIONS}; got {convention!r}.")
    if isinstance(x, np.ndarray) and x.ndim == 2:
        if x.dtype == np.bool_:
            return _check_mask(x, "x").copy()
        if np.issubdtype(x.dtype, np.floating):
            if threshold is None:
                raise ValueError(
                    'x is a float array: pass threshold=... (e.g. 0.5) to say which values mean "generate".'
                )
            if not np.isfinite(x).all():
                raise ValueError("x contains NaN or infinite values: replace them (np.nan_to_num) first.")
            t = _threshold(threshold, 0.5)
            m = x >= t
            return ~m if convention == "black" else m
    if _is_rgb_array(x):
        arr = x
    else:
        arr = np.asarray(imaging.to_pil(x, name="x"))
    alpha = arr[..., 3] if arr.shape[2] == 4 else None
    rgb = arr[..., :3]
    if convention == "auto":
        if alpha is not None and bool((alpha < 255).any()):
            convention = "alpha"
        else:
            grey = rgb[..., 0]
            two_tone = bool((rgb == grey[..., None]).all()) and bool(np.isin(grey, (0, 255)).all())
            both = two_tone and bool((grey == 0).any()) and bool((grey == 255).any())
            if alpha is not None:
                if both:
                    raise ValueError(
                        "x is opaque RGBA and strictly black and white, so it is either an alpha mask with "
                        "nothing to generate or a black-and-white mask: pass convention='alpha' or 'white'."
                    )
                convention = "alpha"
            elif two_tone:
                logger.info(
                    "from_image: black-and-white picture read as white = generate "
                    "(pass convention='black' for the opposite)"
                )
                convention = "white"
            else:
                raise ValueError(
                    "x has no transparency and is not strictly black and white, so which pixels mean "
                    "'generate' is ambiguous: pass convention='alpha' (alpha 0 = generate, needs an alpha "
                    "channel), 'white' (white = generate) or 'black' (black = generate), with "
                    "threshold=... for grey levels."
                )
    if convention == "alpha":
        if alpha is None:
            raise ValueError(
                "x has no alpha channel, so convention='alpha' cannot apply: "
                "pass convention='white' or 'black' for a black-and-white mask."
            )
        if threshold is None:
            return alpha == 0
        return alpha < _threshold(threshold, 0.0) * 255
    grey_img = Image.fromarray(np.ascontiguousarray(rgb), "RGB").convert("L")
    grey = np.asarray(grey_img, dtype=np.float32) / 255.0
    t = _threshold(threshold, 0.5)
    return grey >= t if convention == "white" else grey < t


def _is_rgb_array(x: Any) -> bool:
    """A uint8 (H, W, 3|4) array: the fast path that needs no PIL round trip."""
    return (
        isinstance(x, np.ndarray)
        and x.dtype == np.uint8
        and x.ndim == 3
        and x.shape[2] in (3, 4)
        and x.shape[0] > 0
        and x.shape[1] > 0
    )


def _check_sizes(image_shape: tuple[int, ...], mask: np.ndarray) -> None:
    h, w = image_shape[0], image_shape[1]
    if (h, w) != mask.shape:
        raise ValueError(
            f"mask is {mask.shape[1]}x{mask.shape[0]} but image is {w}x{h}: "
            f"resize the mask with masks.resize(mask, ({h}, {w}))."
        )


def _match(image: Any, mask: np.ndarray) -> tuple[Image.Image, np.ndarray]:
    mask = _check_mask(mask)
    img = imaging.to_pil(image)
    _check_sizes((img.height, img.width), mask)
    return img, mask


def to_rgba(image: Any, mask: np.ndarray) -> np.ndarray:
    """The image as RGBA ``uint8 (H, W, 4)`` with alpha 0 exactly where ``mask`` is True, 255 elsewhere.

    This is what a DALL-E 2 edit reads: transparent pixels are regenerated.
    The colour under the transparent pixels is kept (see :func:`to_png` for
    the upload form).

    >>> out = to_rgba(np.full((2, 2, 3), 9, np.uint8), np.array([[True, False], [False, False]]))
    >>> out[..., 3].tolist(), int(out[0, 0, 0])
    ([[0, 255], [255, 255]], 9)
    """
    if _is_rgb_array(image):
        mask = _check_mask(mask)
        _check_sizes(image.shape[:2], mask)
        img = Image.fromarray(np.ascontiguousarray(image[..., :3]), "RGB")
    else:
        img, mask = _match(image, mask)
        img = img.convert("RGB")
    # Pillow interleaves the alpha plane in C, several times faster than a strided numpy copy.
    img.putalpha(Image.fromarray((~mask).view(np.uint8) * np.uint8(255), "L"))
    return np.array(img)


def to_png(image: Any, mask: np.ndarray, *, max_bytes: int | None = imaging.MAX_UPLOAD_BYTES) -> bytes:
    """The PNG to upload for an edit: :func:`to_rgba`, with the hidden colour zeroed.

    The pixels the model will replace are set to transparent black, which
    makes the file smaller (about a quarter smaller for a typical edit) and
    avoids uploading what the user asked to replace.

    >>> data = to_png(np.zeros((4, 4, 3), np.uint8), rectangle((4, 4), (0, 0, 2, 2)))
    >>> bool((from_image(data) == rectangle((4, 4), (0, 0, 2, 2))).all())
    True
    """
    rgba = to_rgba(image, mask)
    rgba[mask] = 0
    return imaging.encode_png(rgba, max_bytes=max_bytes)


def preview(
    image: Any,
    mask: np.ndarray,
    color: tuple[int, int, int] = (255, 64, 64),
    opacity: float = 0.5,
    *,
    outline: bool = True,
) -> np.ndarray:
    """Show where the mask is: ``color`` blended over the image, RGB ``uint8 (H, W, 3)``.

    Transparent parts of the image are drawn over a checkerboard. With
    ``outline`` the mask's edge pixels are drawn in full ``color`` so thin or
    pale regions stay visible.

    >>> p = preview(np.zeros((2, 2, 3), np.uint8), np.array([[True, False], [False, False]]), outline=False)
    >>> p[0, 0].tolist(), p[1, 1].tolist()
    ([128, 32, 32], [0, 0, 0])
    """
    img, mask = _match(image, mask)
    op = _check_number(opacity, "opacity")
    if not 0.0 <= op <= 1.0:
        raise ValueError(f"opacity must be in [0, 1]; got {opacity!r}.")
    col = tuple(color)
    if len(col) != 3 or not all(isinstance(c, (int, np.integer)) and 0 <= c <= 255 for c in col):
        raise ValueError(f"color must be three integers 0-255 (R, G, B); got {color!r}.")
    out = np.array(imaging.on_checkerboard(img))
    box = bbox(mask)
    if box is None:
        return out
    x0, y0, x1, y1 = box  # all the work happens inside the mask's box
    m = mask[y0:y1, x0:x1]
    region = out[y0:y1, x0:x1]
    tint = np.asarray(col, dtype=np.float32)
    blended = np.round(region.astype(np.float32) * np.float32(1.0 - op) + tint * np.float32(op))
    np.copyto(region, blended.astype(np.uint8), where=m[..., None])
    if outline:
        inner = m.copy()  # 4-neighbour erosion; the image border does not count as outside
        inner[1:] &= m[:-1]
        inner[:-1] &= m[1:]
        inner[:, 1:] &= m[:, :-1]
        inner[:, :-1] &= m[:, 1:]
        if y0 > 0:
            inner[0] &= mask[y0 - 1, x0:x1]
        if y1 < mask.shape[0]:
            inner[-1] &= mask[y1, x0:x1]
        if x0 > 0:
            inner[:, 0] &= mask[y0:y1, x0 - 1]
        if x1 < mask.shape[1]:
            inner[:, -1] &= mask[y0:y1, x1]
        region[m & ~inner] = np.asarray(col, dtype=np.uint8)
    return out
