"""Morphology by distance: grow, shrink and feather a mask with a round brush.

All three use exact Euclidean distances between pixel centres, so a grown
stroke is the stroke of a larger brush and ``shrink`` is exactly the dual of
``grow``. They work only inside the mask's bounding box widened by the
radius, with shifted ORs (and shifted minima) for brush-sized radii and
``scipy.ndimage``'s distance transform for large ones.
"""

from __future__ import annotations

import math

import numpy as np

from ._facts import bbox
from ._validation import check_mask, check_px

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

    Parameters
    ----------
    mask : (H, W) ndarray of bool
    px : float
        Brush radius in pixels, >= 0. Below 1 nothing changes (no other
        pixel centre is that close).

    Returns
    -------
    (H, W) ndarray of bool
        ``mask`` plus every pixel whose centre lies within ``px`` of the
        centre of a True pixel (a new array).

    Examples
    --------
    >>> from dalle_widgets.masks import rectangle, render
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
    mask = check_mask(mask)
    px = check_px(px)
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

    Parameters
    ----------
    mask : (H, W) ndarray of bool
    px : float
        Brush radius in pixels, >= 0. Below 1 nothing changes.

    Returns
    -------
    (H, W) ndarray of bool
        The True pixels of ``mask`` whose centre is farther than ``px`` from
        the centre of every False pixel (a new array).

    Examples
    --------
    >>> from dalle_widgets.masks import rectangle, render
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
    mask = check_mask(mask)
    px = check_px(px)
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

    Parameters
    ----------
    mask : (H, W) ndarray of bool
    px : float
        Width of the ramp in pixels, >= 0.

    Returns
    -------
    (H, W) ndarray of float32
        1.0 well inside the mask, 0.0 well outside, a linear ramp across
        its edge.

    Examples
    --------
    >>> from dalle_widgets.masks import rectangle
    >>> m = rectangle((1, 8), (4, 0, 8, 1))
    >>> print(feather(m, 4))
    [[0.    0.    0.125 0.375 0.625 0.875 1.    1.   ]]
    """
    from scipy import ndimage

    mask = check_mask(mask)
    px = check_px(px)
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
