"""Patch synthesis at reduced resolution, transferred back as full-resolution texture.

PatchMatch (``patchmatch-cython``) runs on a copy of the image shrunk to about
``work_px`` pixels, which keeps it well under a second. Its nearest-neighbour field
says, for each hole pixel, where similar surroundings are in the known part of the
image. Scaling those offsets back up and reading the full-resolution high-pass of the
image there gives the hole real texture (grain, fabric, foliage) at full sharpness, at
the cost of one gather.

The search is *guided*: the hole holds the smooth fill's colours while PatchMatch
runs, at one resolution, so every hole pixel is matched to a place of about its own
colour. The usual coarse-to-fine pyramid started from a black hole, and at its coarsest
level a large hole often had no source of its colour left (a masked sky with a thin
strip of sky below it); the coarse level matched the sky to the lake and the finer
levels inherited that, copying the lake's wave lines into the sky as horizontal bands.
Matching at one level costs the same fidelity and detail on the benchmark photos and
is faster (``benchmarks/engine.py``).
"""

from __future__ import annotations

import numpy as np

from ._ops import blur, resize

__all__ = ["match_sources", "texture_detail"]

PATCH = 5
#: PatchMatch iterations (propagation and random search sweeps) over the hole.
ITERATIONS = 5


def _solver_class() -> type:
    try:
        from patchmatch_cython import CythonSolver

        return CythonSolver
    except ImportError:  # pragma: no cover - the wheels ship the compiled solver
        from patchmatch_cython import PythonSolver

        return PythonSolver


def match_sources(guide: np.ndarray, mask: np.ndarray, *, seed: int) -> np.ndarray:
    """For each hole pixel, the centre of the known patch that best matches its surroundings.

    Parameters
    ----------
    guide : ndarray, shape (h, w, 3), float32
        The image with its hole already filled smoothly: the hole's colours steer the
        search towards known places of the same colour.
    mask : ndarray, shape (h, w), bool
        True = hole.
    seed : int
        Seeds PatchMatch's random initialisation and search (any non-negative int).

    Returns
    -------
    ndarray, shape (h, w, 2), int32
        The ``(x, y)`` centre of each hole pixel's matched source patch (meaningful in
        the hole only).

    Raises
    ------
    ValueError
        When no whole patch of known pixels exists to match against.
    """
    solver = _solver_class()(np.ascontiguousarray(guide, np.float32), mask, PATCH)
    solver_seed = int(np.random.default_rng(seed).integers(2**31))  # the solver takes 32 bits
    solver(iterations=ITERATIONS, randomize_nnf=True, seed=solver_seed, em_loops=1)
    return np.asarray(solver.nnf, np.int32)


def texture_detail(
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
    mask : ndarray, shape (H, W), bool
        True = hole.
    base : ndarray, shape (H, W, 3), float32
        The smooth fill of the hole; the search runs on it, shrunk (see
        :func:`match_sources`).
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
    nnf = match_sources(small, small_mask, seed=seed)
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
