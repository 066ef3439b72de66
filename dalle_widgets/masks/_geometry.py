"""Geometry of a mask: resample it, crop it, pad it.

These follow the image operations a mask must stay aligned with: resizing to
the request size, cropping to an outpainting frame, padding for an extended
canvas.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from ._validation import Shape, check_box, check_mask, check_shape


def resize(mask: np.ndarray, shape: Shape) -> np.ndarray:
    """Resample a mask to ``shape = (H, W)``.

    A target pixel is True when at least half of the source area it covers is
    True (area averaging), so integer upscaling repeats pixels exactly and a
    round trip up and down gives the original back.

    Parameters
    ----------
    mask : (h, w) ndarray of bool
    shape : (H, W)
        The new height and width in pixels.

    Returns
    -------
    (H, W) ndarray of bool
        A new array, also when the shape is unchanged.

    Examples
    --------
    >>> from dalle_widgets.masks import rectangle, render
    >>> m = rectangle((2, 2), (0, 0, 1, 1))
    >>> print(render(resize(m, (4, 4))))
    ##--
    ##--
    ----
    ----
    >>> bool((resize(resize(m, (6, 6)), (2, 2)) == m).all())
    True
    """
    mask = check_mask(mask)
    h, w = check_shape(shape)
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

    Parameters
    ----------
    mask : (H, W) ndarray of bool
    box : (x0, y0, x1, y1)
        Rounded to whole pixels, ``x1`` and ``y1`` exclusive; must lie inside
        the mask.

    Returns
    -------
    (y1 - y0, x1 - x0) ndarray of bool
        A copy, so changing it leaves ``mask`` alone.

    Examples
    --------
    >>> from dalle_widgets.masks import rectangle
    >>> crop(rectangle((4, 4), (1, 1, 3, 3)), (1, 1, 3, 2)).shape
    (1, 2)
    """
    mask = check_mask(mask)
    x0, y0, x1, y1 = check_box(box, mask.shape)
    return mask[y0:y1, x0:x1].copy()


def pad(
    mask: np.ndarray, left: int = 0, top: int = 0, right: int = 0, bottom: int = 0, *, value: bool = False
) -> np.ndarray:
    """Add ``left``/``top``/``right``/``bottom`` pixels around a mask, set to ``value``.

    ``pad(m, ..., value=True)`` is the mask of an outpainting canvas: the new
    border is to be generated.

    Parameters
    ----------
    mask : (H, W) ndarray of bool
    left, top, right, bottom : int
        Pixels to add on each side, >= 0.
    value : bool
        What the new pixels are: False (keep) or True (generate).

    Returns
    -------
    (H + top + bottom, W + left + right) ndarray of bool
        ``mask`` in the middle, ``value`` around it.

    Examples
    --------
    >>> from dalle_widgets.masks import full, render
    >>> print(render(pad(full((1, 2)), left=1, bottom=1)))
    -##
    ---
    """
    mask = check_mask(mask)
    amounts = {"left": left, "top": top, "right": right, "bottom": bottom}
    for k, v in amounts.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{k} must be an integer >= 0; got {v!r}.")
    return np.pad(mask, ((top, bottom), (left, right)), mode="constant", constant_values=bool(value))
