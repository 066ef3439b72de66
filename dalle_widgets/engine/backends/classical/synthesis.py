"""Patch synthesis at reduced resolution, transferred back as full-resolution texture.

PatchMatch (``patchmatch-cython``, coarse to fine) runs on a copy of the image shrunk
to about ``work_px`` pixels, which keeps it well under a second. Its final
nearest-neighbour field says, for each hole pixel, where similar surroundings are in
the known part of the image. Scaling those offsets back up and reading the
full-resolution high-pass of the image there gives the hole real texture (grain,
fabric, foliage) at full sharpness, at the cost of one gather.
"""

from __future__ import annotations

import numpy as np
from patchmatch_cython.imageops import (
    build_query_patch_centers,
    build_valid_patch_centers,
    downsample,
    resize_image,
    sanitize_nnf,
    upsample,
)

from ._ops import blur, resize

__all__ = ["patch_match", "texture_detail"]

PATCH = 5


def _solver_class() -> type:
    try:
        from patchmatch_cython import CythonSolver

        return CythonSolver
    except ImportError:  # pragma: no cover - the wheels ship the compiled solver
        from patchmatch_cython import PythonSolver

        return PythonSolver


def patch_match(image: np.ndarray, mask: np.ndarray, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Coarse-to-fine PatchMatch fill of a small image.

    Parameters
    ----------
    image : ndarray, shape (h, w, 3), float32
    mask : ndarray, shape (h, w), bool
        True = hole.
    seed : int

    Returns
    -------
    filled : ndarray, shape (h, w, 3), float32
        The synthesised image (known pixels as given).
    nnf : ndarray, shape (h, w, 2), int32
        For each pixel, the ``(x, y)`` centre of its matched source patch.
    """
    solver_class = _solver_class()
    h, w = mask.shape
    half = PATCH // 2
    levels = max(0, int(np.floor(np.log2(min(h, w) / (PATCH * 4)))))
    mask_f = mask.astype(np.float32)
    working = image.copy()
    working[mask] = 0
    nnf = None
    prev = None
    filled = working
    rng = np.random.default_rng(seed)
    for level in range(levels + 1):
        scale = 2 ** (levels - level)
        lh, lw = h // scale, w // scale
        img_l = downsample(working, lh, lw) if scale > 1 else working.copy()
        mask_l = (downsample(mask_f, lh, lw).squeeze(-1) > 0) if scale > 1 else mask
        if prev is not None:
            up = resize_image(prev, lh, lw)
            img_l[mask_l] = up[mask_l]
        solver = solver_class(img_l, mask_l, PATCH)
        iterations = 2 * (level + 2) + 1
        filled = solver(
            iterations=iterations,
            randomize_nnf=nnf is None,
            nnf=nnf,
            seed=int(rng.integers(2**31)),
            em_loops=2 if level < levels else 1,
        )
        prev = filled
        if level < levels:
            nh, nw = h // 2 ** (levels - level - 1), w // 2 ** (levels - level - 1)
            next_mask = (downsample(mask_f, nh, nw).squeeze(-1) > 0) if (nh, nw) != (h, w) else mask
            nnf = sanitize_nnf(
                upsample(solver.nnf, nh, nw),
                build_query_patch_centers(next_mask, half),
                build_valid_patch_centers(next_mask, half),
                rng=rng,
            )
        else:
            nnf = np.asarray(solver.nnf, np.int32)
    return np.asarray(filled, np.float32), nnf


def texture_detail(
    image: np.ndarray,
    mask: np.ndarray,
    base: np.ndarray,
    *,
    seed: int,
    work_px: int = 256,
    sigma: float = 0.5,
) -> np.ndarray:
    """Fine texture for a hole, copied from the places patch matching picks.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), float32
        The image (values inside the hole are ignored).
    mask : ndarray, shape (H, W), bool
        True = hole.
    base : ndarray, shape (H, W, 3), float32
        The smooth fill of the hole; the search runs on it, shrunk.
    seed : int
    work_px : int
        Side length the search runs at (the shrink factor is rounded to an integer).
    sigma : float
        Gaussian scale (px) of the high-pass: only detail finer than this is copied.

    Returns
    -------
    ndarray, shape (H, W, 1), float32
        Zero-mean grey detail inside the hole (the same for every channel, so it adds
        texture, not colour noise), zero outside.
    """
    h, w = mask.shape
    factor = max(1, int(round(max(h, w) / work_px)))
    sh, sw = h // factor, w // factor
    small = resize(base, (sh, sw), resample=4)  # BOX
    small_mask = resize(mask.astype(np.float32), (sh, sw), resample=4) > 0
    _, nnf = patch_match(small, small_mask, seed=seed)
    ys, xs = np.nonzero(mask)
    sy = np.minimum(ys // factor, sh - 1)
    sx = np.minimum(xs // factor, sw - 1)
    src_x = np.clip(xs + (nnf[sy, sx, 0].astype(np.int64) - sx) * factor, 0, w - 1)
    src_y = np.clip(ys + (nnf[sy, sx, 1].astype(np.int64) - sy) * factor, 0, h - 1)
    grey = base.mean(axis=2)  # the known pixels, with the hole smoothly filled so the blur stays clean
    high = grey - blur(grey, sigma)
    detail = np.zeros((h, w, 1), np.float32)
    ok = ~mask[src_y, src_x]
    detail[ys[ok], xs[ok], 0] = high[src_y[ok], src_x[ok]]
    return detail
