"""Argument checks shared by every mask function.

Each check returns the value in the form the caller computes with (a pair of
ints, a float, a ``(N, 2)`` array) or raises a ``ValueError`` that names the
argument and says how to fix it, so bad input is refused before any numpy
work starts and never surfaces as a traceback from deep inside numpy.
:mod:`dalle_widgets.outpaint` uses the box and distance checks for its frames.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: An image or mask shape ``(H, W)``.
Shape = tuple[int, int]
#: A box ``(x0, y0, x1, y1)`` in whole pixels, ``x1`` and ``y1`` exclusive.
Box = tuple[int, int, int, int]


def check_mask(mask: Any, name: str = "mask") -> np.ndarray:
    """``mask`` itself if it is a non-empty bool ``(H, W)`` array."""
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


def check_shape(shape: Any, name: str = "shape") -> Shape:
    """``shape`` as a pair of positive Python ints ``(H, W)``."""
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


def check_number(v: Any, name: str) -> float:
    """``v`` as a finite float (bools are refused: ``True`` is no radius)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number; got {v!r}.")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"{name} must be finite; got {v!r}.")
    return f


def check_px(px: Any, name: str = "px") -> float:
    """A distance in pixels: a finite float >= 0."""
    f = check_number(px, name)
    if f < 0:
        raise ValueError(f"{name} must be >= 0 pixels; got {px!r}.")
    return f


def check_box(box: Any, shape: Shape, name: str = "box", *, clip: bool = False) -> Box:
    """Validate ``(x0, y0, x1, y1)`` against an ``(H, W)`` shape; round to whole pixels."""
    try:
        vals = tuple(box)
    except TypeError:
        raise ValueError(f"{name} must be (x0, y0, x1, y1); got {box!r}.") from None
    if len(vals) != 4:
        raise ValueError(f"{name} must be (x0, y0, x1, y1); got {vals!r}.")
    x0, y0, x1, y1 = (check_number(v, name) for v in vals)
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


def check_points(points: Any, name: str = "points", *, minimum: int = 1) -> np.ndarray:
    """``points`` as a float64 ``(N, 2)`` array of finite ``(x, y)``, ``N >= minimum``."""
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


def same_shape(masks: Sequence[np.ndarray], names: Sequence[str]) -> None:
    """Refuse masks of different shapes, saying how to resize the odd one out."""
    ref = masks[0].shape
    for m, n in zip(masks[1:], names[1:], strict=True):
        if m.shape != ref:
            raise ValueError(
                f"{n} is {m.shape[1]}x{m.shape[0]} but {names[0]} is {ref[1]}x{ref[0]}: "
                f"resize one with masks.resize({n}, {ref})."
            )
