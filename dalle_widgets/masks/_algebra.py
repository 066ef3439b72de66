"""Set algebra on masks: invert, union, intersect, subtract.

The mask editor's tools are these operations on strokes and shapes (a brush
is a union, an eraser a subtraction), so they check shapes and dtypes like
every other mask function instead of leaving it to numpy's broadcasting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ._validation import check_mask, same_shape


def invert(mask: np.ndarray) -> np.ndarray:
    """Swap generate and keep.

    Parameters
    ----------
    mask : (H, W) ndarray of bool

    Returns
    -------
    (H, W) ndarray of bool
        True where ``mask`` is False and the other way round (a new array).

    Examples
    --------
    >>> invert(np.array([[True, False]]))
    array([[False,  True]])
    """
    return ~check_mask(mask)


def _combine(op: Callable[..., np.ndarray], masks: Sequence[np.ndarray], what: str) -> np.ndarray:
    if not masks:
        raise ValueError(f"{what} needs at least one mask.")
    names = [f"masks[{i}]" for i in range(len(masks))] if len(masks) > 2 else ["a", "b"][: len(masks)]
    checked = [check_mask(m, n) for m, n in zip(masks, names, strict=True)]
    same_shape(checked, names)
    if len(checked) == 1:
        return checked[0].copy()
    out = op(checked[0], checked[1])
    for m in checked[2:]:
        op(out, m, out=out)
    return out


def union(*masks: np.ndarray) -> np.ndarray:
    """True where any mask is True.

    Parameters
    ----------
    *masks : (H, W) ndarray of bool
        One or more masks of the same shape.

    Returns
    -------
    (H, W) ndarray of bool
        A new array (a copy when there is a single mask).

    Examples
    --------
    >>> union(np.array([[True, False]]), np.array([[False, False]]))
    array([[ True, False]])
    """
    return _combine(np.logical_or, masks, "union")


def intersect(*masks: np.ndarray) -> np.ndarray:
    """True where every mask is True.

    Parameters
    ----------
    *masks : (H, W) ndarray of bool
        One or more masks of the same shape.

    Returns
    -------
    (H, W) ndarray of bool
        A new array (a copy when there is a single mask).

    Examples
    --------
    >>> intersect(np.array([[True, True]]), np.array([[False, True]]))
    array([[False,  True]])
    """
    return _combine(np.logical_and, masks, "intersect")


def subtract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True where ``a`` is and ``b`` is not (an eraser stroke is ``subtract(mask, stroke)``).

    Parameters
    ----------
    a : (H, W) ndarray of bool
        The mask to take pixels from.
    b : (H, W) ndarray of bool
        The pixels to take away; same shape as ``a``.

    Returns
    -------
    (H, W) ndarray of bool
        ``a & ~b`` (a new array).

    Examples
    --------
    >>> subtract(np.array([[True, True]]), np.array([[False, True]]))
    array([[ True, False]])
    """
    a, b = check_mask(a, "a"), check_mask(b, "b")
    same_shape([a, b], ["a", "b"])
    return a & ~b
