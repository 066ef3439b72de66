"""Facts about a mask: its bounding box, coverage, a one-line description, a text picture.

The box is also what keeps the other operations local (growing, feathering,
filling holes and previews work inside it), and the description is what the
widgets and error messages show a person.
"""

from __future__ import annotations

import numpy as np

from ._validation import Box, check_mask


def bbox(mask: np.ndarray) -> Box | None:
    """The tight box ``(x0, y0, x1, y1)`` around the True pixels, or None if there are none.

    Parameters
    ----------
    mask : (H, W) ndarray of bool

    Returns
    -------
    (x0, y0, x1, y1) or None
        Python ints, ``x1`` and ``y1`` exclusive; None for an all-False mask.

    Examples
    --------
    >>> from dalle_widgets.masks import empty, rectangle
    >>> bbox(rectangle((10, 10), (2, 3, 5, 9)))
    (2, 3, 5, 9)
    >>> bbox(empty((4, 4))) is None
    True
    """
    mask = check_mask(mask)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def coverage(mask: np.ndarray) -> float:
    """The fraction of pixels that are True, in [0, 1].

    Parameters
    ----------
    mask : (H, W) ndarray of bool

    Returns
    -------
    float
        True pixels divided by all pixels.

    Examples
    --------
    >>> from dalle_widgets.masks import rectangle
    >>> coverage(rectangle((4, 4), (0, 0, 2, 4)))
    0.5
    """
    mask = check_mask(mask)
    return float(np.count_nonzero(mask)) / mask.size


def describe(mask: np.ndarray) -> str:
    """One human line: how much of the image is masked and where.

    Parameters
    ----------
    mask : (H, W) ndarray of bool

    Returns
    -------
    str
        The coverage in percent, the size as ``WxH`` and the bounding box, or
        ``"empty (...)"`` for an all-False mask.

    Examples
    --------
    >>> from dalle_widgets.masks import empty, rectangle
    >>> describe(rectangle((1024, 1024), (120, 80, 610, 540)))
    '21.5% of 1024x1024, bbox (120, 80)-(610, 540)'
    >>> describe(empty((256, 512)))
    'empty (0% of 512x256)'
    """
    mask = check_mask(mask)
    h, w = mask.shape
    box = bbox(mask)
    if box is None:
        return f"empty (0% of {w}x{h})"
    return f"{100 * coverage(mask):.1f}% of {w}x{h}, bbox ({box[0]}, {box[1]})-({box[2]}, {box[3]})"


def render(mask: np.ndarray, on: str = "#", off: str = "-") -> str:
    """Text picture of a small mask, one line per row (for doctests and debugging).

    Parameters
    ----------
    mask : (H, W) ndarray of bool
    on : str
        Drawn for a True pixel.
    off : str
        Drawn for a False pixel.

    Returns
    -------
    str
        ``H`` lines of ``W`` characters, joined by newlines (no trailing one).

    Examples
    --------
    >>> print(render(np.array([[True, False]])))
    #-
    """
    mask = check_mask(mask)
    return "\n".join("".join(on if v else off for v in row) for row in mask)
