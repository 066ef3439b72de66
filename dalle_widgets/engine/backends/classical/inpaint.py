"""Content-aware fill for edits and outpainting: smooth base + synthesised texture.

Two classical ideas, each covering the other's weakness (measured in
``benchmarks/engine.py``):

* **push-pull** (a normalized-convolution pyramid) gives the low frequencies: it
  continues the surrounding colours smoothly, scores best on pixel metrics among
  weight-free methods, and costs ~0.1 s at 1024 px. Alone it looks "blurred out".
* **patch synthesis** (PatchMatch, via ``patchmatch-cython``) run at reduced
  resolution finds, for every hole pixel, a source location with similar
  surroundings. The full-resolution detail (high-pass) copied from those locations
  puts texture back into the hole.

The fill is ``smooth + ramp * detail``, where the ramp grows from 0 at the hole's
edge over a few pixels (a feathered seam), and pixels outside the mask are returned
unchanged. For outpainting margins the smooth part also continues the colours of the
known edge outwards (:func:`edge_extend`), blurring them more the further they go,
instead of fading to the image's mean colour within a few pixels.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.linalg import cg

from ._ops import blur, resize, to_float, to_u8

__all__ = ["edge_extend", "fill", "harmonic", "push_pull", "smooth_fill"]

logger = logging.getLogger("dalle_widgets")

#: Scale (px) below which texture is copied from matched places: the finest band only,
#: which carries the grain while costing the least fidelity (see benchmarks/engine.py).
DETAIL_SIGMA = 0.5
#: Texture strength where it is fully faded in, as the ratio of the detail energy (mean
#: absolute Laplacian) to that of a 24 px ring of known pixels around the hole. The
#: photo itself scores about 1.1; copied texture is not the true texture, so a lower
#: level keeps fidelity (PSNR/SSIM).
DETAIL_LEVEL = 0.8
#: Upper bound on the gain applied to the copied texture to reach that level: grain
#: copied from nearly flat places is not amplified into noise.
DETAIL_GAIN_MAX = 20.0
#: The texture fades in between these distances (px) from the hole's edge, so thin
#: strokes stay smooth (where a membrane is nearly exact) and seams stay invisible.
DETAIL_RAMP_PX = (5.0, 17.0)
RING_PX = 24
#: Copied detail is clipped to this many grey levels before the gain: strong edges
#: copied from elsewhere would cost the most fidelity, fine grain the least.
DETAIL_CLIP = 1.5
#: Copied detail whose local RMS (1.5 px Gaussian window) exceeds about this multiple of
#: its median RMS over the hole is faded out rather than clipped: it is an edge or a line
#: of its source, which the gain would turn into a stray embossed contour, not texture.
DETAIL_EDGE_RMS = 1.5
#: Outpainting: the known edge's colours are continued outwards with a blur of
#: ``EDGE_SPREAD * distance`` px, all the way out: bands of colour that touch the edge
#: (sky, ground, a table) widen and soften as they leave it instead of fading into the
#: image's mean colour (measured in benchmarks/engine.py).
EDGE_SPREAD = 1.5
#: The outermost known pixels are often a resampling or anti-aliasing rim tinted by the
#: (black) hole; stretched outwards, a rim would draw a dark band across the margin.
#: Where the edge pixel differs from the pixel ``EDGE_INSET`` px further in by more than
#: ``RIM_TOLERANCE`` grey levels (blended over that range), the inner colour is used.
EDGE_INSET = 3
RIM_TOLERANCE = (12.0, 24.0)
#: A rim runs along the whole edge; a difference that only a short stretch of the edge
#: shows (within a Gaussian of this many px) is a contour of the picture, kept as it is.
RIM_RUN_PX = 16.0
#: The margins' colours are blurred as ``log(value + EDGE_LOG_OFFSET)``, not as values:
#: where a dark band meets a light one far from the edge, a plain average turns both
#: into a mid grey, twice too bright for the dark band and half too dark for the light
#: one, and a relative error is what the eye (and SSIM's luminance term) reads in the
#: dark. Averaging logarithms keeps a black table or a shadow dark as it widens. The
#: offset (1/8 of the range) keeps it from being pure ratios, so a thin black line or a
#: few crushed-black pixels at the edge cannot darken a whole light band.
EDGE_LOG_OFFSET = 32.0
#: A hole with more than this share of its outline on the image border is outpainting.
OUTPAINT_BORDER_SHARE = 0.25


def _reduce(a: np.ndarray) -> np.ndarray:
    """Blur with [1, 2, 1]/4 then average 2x2 blocks (pads odd sides with zeros)."""
    a = ndimage.convolve1d(a, np.array([0.25, 0.5, 0.25], np.float32), axis=0, mode="constant")
    a = ndimage.convolve1d(a, np.array([0.25, 0.5, 0.25], np.float32), axis=1, mode="constant")
    h, w = a.shape[:2]
    if h % 2 or w % 2:
        pad = [(0, h % 2), (0, w % 2)] + [(0, 0)] * (a.ndim - 2)
        a = np.pad(a, pad)
    h2, w2 = a.shape[0] // 2, a.shape[1] // 2
    return a.reshape(h2, 2, w2, 2, *a.shape[2:]).mean(axis=(1, 3))


def push_pull(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill unknown pixels by a normalized-convolution pyramid (push-pull).

    Parameters
    ----------
    image : ndarray, shape (H, W, C), float
        Values at known pixels (others are ignored).
    known : ndarray, shape (H, W), bool or float in [0, 1]
        Confidence of each pixel; 1 = known.

    Returns
    -------
    ndarray, shape (H, W, C), float32
        Known pixels unchanged, unknown ones interpolated smoothly from all sides.

    Examples
    --------
    >>> img = np.zeros((8, 8, 1), np.float32); img[:, 4:] = 100
    >>> known = np.ones((8, 8), bool); known[2:6, 2:6] = False
    >>> out = push_pull(img, known)
    >>> bool(out[4, 1, 0] == 0 and out[4, 7, 0] == 100 and 0 < out[4, 3, 0] < 100)
    True
    """
    w0 = np.asarray(known, np.float32)
    c0 = np.asarray(image, np.float32) * w0[..., None]
    levels = [(c0, w0)]
    while min(levels[-1][1].shape) > 1 and levels[-1][1].min() <= 0:
        c, w = levels[-1]
        levels.append((_reduce(c), _reduce(w)))
    c, w = levels[-1]
    est = c / np.maximum(w, 1e-8)[..., None]
    for c, w in reversed(levels[:-1]):
        up = resize(est, w.shape)
        alpha = np.clip(w * 2.0, 0.0, 1.0)[..., None]
        est = alpha * (c / np.maximum(w, 1e-8)[..., None]) + (1 - alpha) * up
    return est


def harmonic(image: np.ndarray, mask: np.ndarray, init: np.ndarray, *, maxiter: int = 150) -> np.ndarray:
    """Solve Laplace's equation inside the hole, the known pixels as boundary values.

    The smoothest continuation of the surroundings (a membrane): better than a pyramid
    on thin strokes and enclosed holes. Conjugate gradients on the hole pixels only
    (5-point stencil, image edges reflect), started from ``init`` (the push-pull fill)
    so a bounded number of iterations suffices.

    Parameters
    ----------
    image : ndarray, shape (H, W, C), float
    mask : ndarray, shape (H, W), bool
        True = unknown.
    init : ndarray, shape (H, W, C), float
        Starting values in the hole.
    maxiter : int

    Returns
    -------
    ndarray, shape (H, W, C), float32

    Examples
    --------
    >>> img = np.zeros((16, 16, 1), np.float32); img[:, 8:] = 100
    >>> hole = np.zeros((16, 16), bool); hole[4:12, 4:12] = True
    >>> out = harmonic(img, hole, push_pull(img, ~hole))
    >>> 0 < float(out[8, 7, 0]) < 100
    True
    """
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    n = len(ys)
    out = np.array(init, np.float32, copy=True)
    if n == 0:
        return out
    index = np.full((h, w), -1, np.int64)
    index[ys, xs] = np.arange(n)
    rows, cols = [], []
    diag = np.zeros(n)
    rhs = np.zeros((n, image.shape[2]))
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        src = np.nonzero(inside)[0]
        ny, nx = ny[inside], nx[inside]
        diag[src] += 1
        nb = index[ny, nx]
        hole = nb >= 0
        rows.append(src[hole])
        cols.append(nb[hole])
        rhs[src[~hole]] += image[ny[~hole], nx[~hole]]
    r = np.concatenate([*rows, np.arange(n)])
    c = np.concatenate([*cols, np.arange(n)])
    vals = np.concatenate([-np.ones(len(r) - n), diag])
    matrix = sparse.csr_matrix((vals, (r, c)), shape=(n, n))
    for ch in range(image.shape[2]):
        sol, _ = cg(matrix, rhs[:, ch], x0=out[ys, xs, ch].astype(np.float64), rtol=1e-4, maxiter=maxiter)
        out[ys, xs, ch] = sol
    return out


def smooth_fill(
    image: np.ndarray, mask: np.ndarray, on_stage: Callable[[np.ndarray], None] | None = None
) -> np.ndarray:
    """The low-frequency part of the fill, float32 (H, W, C).

    Holes mostly enclosed by known pixels (strokes, objects, even when they touch the
    edge) get the harmonic (membrane) fill; holes with a large share of their outline
    on the image border (outpainting margins) keep the push-pull fill, which
    extrapolates better than a membrane with free edges (measured in
    ``benchmarks/engine.py``). ``on_stage`` sees the push-pull estimate before the refinements.
    """
    pp = push_pull(image, ~mask)
    if on_stage is not None:
        on_stage(pp)
    labels, count = ndimage.label(mask)
    if count == 0:
        return pp
    edge = np.zeros_like(mask)
    edge[0], edge[-1], edge[:, 0], edge[:, -1] = True, True, True, True
    outline = mask & ndimage.binary_dilation(~mask)
    on_border = ndimage.sum(mask & edge, labels, np.arange(1, count + 1))
    on_known = ndimage.sum(outline, labels, np.arange(1, count + 1))
    is_enclosed = on_border <= OUTPAINT_BORDER_SHARE * (on_border + on_known)
    enclosed = np.isin(labels, np.nonzero(is_enclosed)[0] + 1)
    margins = mask & ~enclosed
    if margins.any():
        pp = edge_extend(image, mask, pp, margins)
    if not enclosed.any():
        return pp
    return harmonic(image, enclosed, pp)


def _halve(a: np.ndarray) -> np.ndarray:
    """Average 2x2 blocks, repeating the last row/column of odd sides (no dark border)."""
    h, w = a.shape[:2]
    if h % 2 or w % 2:
        a = np.pad(a, [(0, h % 2), (0, w % 2)] + [(0, 0)] * (a.ndim - 2), mode="edge")
    return a.reshape(a.shape[0] // 2, 2, a.shape[1] // 2, 2, *a.shape[2:]).mean(axis=(1, 3))


def _edge_colours(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each pixel's nearest known colour, read past a rim (see :data:`RIM_TOLERANCE`)."""
    _, (ey, ex) = ndimage.distance_transform_edt(mask, return_indices=True)
    edge = image[ey, ex]
    inner = ~mask & (ndimage.distance_transform_edt(~mask) > EDGE_INSET)
    if not inner.any():
        return edge
    _, (iy, ix) = ndimage.distance_transform_edt(~inner, return_indices=True)
    deep = image[iy, ix]
    lo, hi = RIM_TOLERANCE
    t = np.clip((np.abs(edge - deep).max(axis=-1) - lo) / (hi - lo), 0.0, 1.0)
    # A rim runs along the edge; a contour of the picture that happens to lie within the
    # inset only crosses a stretch of it. Keep ``t`` where most of the nearby edge (a
    # Gaussian of RIM_RUN_PX along it; ``t`` is constant along each ray outwards) has it.
    hole = mask.astype(np.float32)
    run = blur(t * hole, RIM_RUN_PX) / np.maximum(blur(hole, RIM_RUN_PX), 1e-6)
    t = (t * run)[..., None]
    return (1 - t) * edge + t * deep


def edge_extend(image: np.ndarray, mask: np.ndarray, base: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Continue the known edge's colours into ``where``, softer the further they go.

    Each unknown pixel takes the colour of its nearest known pixel (the edge pixels
    stretched outwards, as Telea's and Navier-Stokes' fills do) blurred over
    ``EDGE_SPREAD * distance`` px, so streaks widen into soft bands as they leave the
    edge: sky stays sky and a table stays a table as far as the margin goes, with no
    streaks. The blur comes from a box pyramid of the stretched image, so the cost stays
    a few resizes whatever the distances. It averages logarithms (see
    :data:`EDGE_LOG_OFFSET`): where a dark band and a light one blur together, the dark
    one stays dark.

    Parameters
    ----------
    image : ndarray, shape (H, W, C), float32
        Known values (those under ``mask`` are ignored).
    mask : ndarray, shape (H, W), bool
        True = unknown.
    base : ndarray, shape (H, W, C), float32
        The fill to keep outside ``where``.
    where : ndarray, shape (H, W), bool
        The unknown pixels to change (the outpainting margins).

    Returns
    -------
    ndarray, shape (H, W, C), float32
        ``base`` with the pixels in ``where`` replaced.

    Examples
    --------
    >>> img = np.zeros((256, 256, 1), np.float32); img[:128, :, 0] = 200
    >>> hole = np.zeros((256, 256), bool); hole[:, 192:] = True
    >>> out = edge_extend(img, hole, np.full_like(img, 100), hole)
    >>> [round(float(out[y, x, 0])) for y, x in ((40, 255), (216, 255))]  # the bands go on
    [200, 0]
    >>> [round(float(out[120, x, 0])) for x in (194, 255)]  # their border softens outwards, dark winning
    [200, 70]
    """
    h, w = mask.shape
    out = np.array(base, np.float32, copy=True)
    if not where.any():
        return out
    stretched = np.log(np.maximum(_edge_colours(np.asarray(image, np.float32), mask), 0.0) + EDGE_LOG_OFFSET)
    dist = ndimage.distance_transform_edt(mask)
    # Blur scale per pixel as a pyramid level: level k ~ a box of 2**k px.
    level = np.log2(np.maximum(EDGE_SPREAD * dist, 1.0)).astype(np.float32)
    top = int(np.ceil(level[where].max()))
    blended = stretched.copy()
    current = stretched
    prev_up = stretched
    for k in range(1, top + 1):
        current = _halve(current)
        up = resize(current, (h, w))
        t = np.clip(level - (k - 1), 0.0, 1.0)[..., None]
        sel = (level > k - 1)[..., None]
        blended = np.where(sel, (1 - t) * prev_up + t * up, blended)
        prev_up = up
    out[where] = np.exp(blended[where]) - EDGE_LOG_OFFSET
    return out


def _edge_ramp(mask: np.ndarray, start: float, stop: float) -> np.ndarray:
    """0 up to ``start`` px inside the hole, rising linearly to 1 at ``stop`` px."""
    dist = ndimage.distance_transform_edt(mask)
    return np.clip((dist - start) / max(stop - start, 1e-6), 0.0, 1.0).astype(np.float32)


def _detail_energy(grey: np.ndarray, where: np.ndarray) -> float:
    return float(np.abs(ndimage.laplace(grey))[where].mean()) if where.any() else 0.0


def add_texture(base: np.ndarray, mask: np.ndarray, fine: np.ndarray) -> np.ndarray:
    """Add copied texture ``fine`` (H, W, 1) to ``base`` at the surroundings' texture level.

    Copied edges and lines (detail with a high local RMS) are faded out and what is left
    is clipped: stray contours cost the most fidelity and look wrong, fine grain the
    least. The texture is faded in from the hole's edge and scaled so that, where fully
    faded in, its detail energy is :data:`DETAIL_LEVEL` times that of the known ring
    around the hole (gain within ``[0, DETAIL_GAIN_MAX]``). Thin holes, which the ramp
    keeps mostly smooth, are therefore not compensated with a stronger grain.
    """
    grain = fine[..., 0]
    rms = np.sqrt(blur(grain * grain, 1.5))
    typical = max(float(np.median(rms[mask])), 0.05)
    grain = np.clip(grain * np.exp(-((rms / (DETAIL_EDGE_RMS * typical)) ** 2)), -DETAIL_CLIP, DETAIL_CLIP)
    ramp = _edge_ramp(mask, *DETAIL_RAMP_PX)
    shaped = grain * ramp
    outside = ndimage.distance_transform_edt(~mask)
    ring = (outside > 0) & (outside <= RING_PX)
    target = DETAIL_LEVEL * _detail_energy(base.mean(axis=2), ring)
    have = _detail_energy(shaped, mask) / max(float(ramp[mask].mean()), 1e-3)
    gain = float(np.clip(target / have, 0.0, DETAIL_GAIN_MAX)) if have > 0 else 0.0
    return base + gain * shaped[..., None]


#: How many times :func:`fill` calls its ``on_stage``: the push-pull fill, then the smooth fill.
FILL_STAGES = 2


def fill(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    seed: int = 0,
    detail: bool = True,
    on_stage: Callable[[np.ndarray], None] | None = None,
) -> np.ndarray:
    """Fill ``image`` where ``mask`` is True: smooth continuation plus synthesised texture.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8
    mask : ndarray, shape (H, W), bool
        True = regenerate.
    seed : int
        Seeds the patch search: a different seed gives a different texture.
    detail : bool
        Add synthesised texture on top of the smooth fill.
    on_stage : callable or None
        Called :data:`FILL_STAGES` times with the uint8 image as the fill progresses
        (coarse, then smooth), for previews.

    Returns
    -------
    ndarray, shape (H, W, 3), uint8
        Pixels outside ``mask`` are exactly the input's.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> img = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    >>> hole = np.zeros((64, 64), bool); hole[16:48, 16:48] = True
    >>> out = fill(img, hole)
    >>> bool((out[~hole] == img[~hole]).all()), out.dtype
    (True, dtype('uint8'))
    """
    mask = np.asarray(mask, bool)
    if not mask.any():
        return image.copy()
    if mask.all():
        raise ValueError("the mask covers the whole image: there is nothing to continue from")
    img = to_float(image)
    img[mask] = 0

    def show(estimate: np.ndarray) -> None:
        if on_stage is not None:
            preview = image.copy()
            preview[mask] = to_u8(estimate[mask])
            on_stage(preview)

    out = smooth_fill(img, mask, show)
    show(out)
    if detail:
        from .synthesis import texture_detail

        try:
            fine = texture_detail(mask, out, seed=seed, sigma=DETAIL_SIGMA)
        except ValueError as exc:  # too little known area for any whole patch: stay smooth
            logger.debug("offline engine: no texture synthesis for this mask (%s)", exc)
        else:
            out = add_texture(out, mask, fine)
    result = image.copy()
    result[mask] = to_u8(out[mask])
    return result
