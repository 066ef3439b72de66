"""The run-length rasteriser: a mask from sorted spans of flat pixel indices.

Every exact rasteriser of the package (ellipse, polygon, stroke) and the hole
filler reduce their shape to spans ``[start, end)`` of row-major pixel
indices, one or a few per row, computed in closed form. Decoding those spans
is the only part that touches the whole mask, so it is written once, here:
``np.repeat`` of alternating False/True over the run lengths fills memory at
memset speed with no Python loop per row.
"""

from __future__ import annotations

import numpy as np

from ._validation import Shape

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


def from_bounds(shape: Shape, bounds: np.ndarray) -> np.ndarray:
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
    or_bounds(out, bounds)
    return out


def or_bounds(out: np.ndarray, bounds: np.ndarray) -> None:
    """Set the flat ranges ``[bounds[2k], bounds[2k + 1])`` of a C-contiguous mask to True."""
    lo, hi = int(bounds[0]), int(bounds[-1])
    window = out.reshape(-1)[lo:hi]
    window |= np.repeat(_alternating(bounds.size - 1, True), np.diff(bounds))
