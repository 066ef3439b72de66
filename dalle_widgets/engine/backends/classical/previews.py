"""Streamed previews of the classical backend: the final picture seen coarse to fine.

A real image model's partial images are rough versions of the picture it is about to
deliver: blurred, noisy, a little washed out, sharpening at each step. The classical
backend paints in milliseconds, so it paints the final picture first and derives its
previews from it: preview ``step`` of ``total`` is the picture reduced to a small
fraction of its size (from :data:`COARSEST` of it for the first to :data:`FINEST` for
the last), with soft colour blotches (noise of :data:`NOISE_CELLS` cells across) and
lowered contrast that fade step by step, then scaled back up. The first preview is
coarse, the last is close to the final image. A few resizes of small arrays per
preview: cheap at any size.

>>> final = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (48, 1, 3))
>>> first, last = (coarse_to_fine(final, s, 3, seed=0) for s in (1, 3))
>>> first.shape == final.shape, distance(last, final) < distance(first, final)
(True, True)
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["COARSEST", "FINEST", "PREVIEW_STAGES", "coarse_to_fine", "detail", "distance"]

#: Previews a backend offers per image (the Images API sends at most 3 partial images).
PREVIEW_STAGES = 3
#: The share of the picture's size the first and the last preview keep.
COARSEST, FINEST = 1 / 24, 1 / 2
#: Standard deviation of the colour blotches (0-255 scale) on the first and the last preview.
NOISE_FIRST, NOISE_LAST = 16.0, 2.0
#: Cells of the blotches' noise field along the picture's long side.
NOISE_CELLS = 10
#: How much of the picture's contrast the first preview keeps (the last keeps all of it).
CONTRAST_FIRST = 0.7


def coarse_to_fine(
    final: np.ndarray, step: int, total: int, *, seed: int, where: np.ndarray | None = None
) -> np.ndarray:
    """Preview ``step`` (1 to ``total``) of the uint8 ``(H, W, 3)`` picture ``final``.

    ``where`` (bool ``(H, W)``), when given, limits the preview to that area (an edit's
    mask): the rest stays ``final``'s. Deterministic in ``seed`` and ``step``.
    """
    t = (step - 1) / max(total - 1, 1)  # 0 for the first preview, 1 for the last
    keep = COARSEST * (FINEST / COARSEST) ** t
    h, w = final.shape[:2]
    small_size = (max(2, round(w * keep)), max(2, round(h * keep)))
    small = np.asarray(Image.fromarray(final).resize(small_size, Image.Resampling.BOX), np.float32)
    mean = small.mean(axis=(0, 1), keepdims=True)
    small = mean + (small - mean) * (CONTRAST_FIRST + (1 - CONTRAST_FIRST) * t)
    small += _blotches(small_size, NOISE_FIRST + (NOISE_LAST - NOISE_FIRST) * t, [seed, step, total])
    coarse = Image.fromarray(np.clip(small + 0.5, 0, 255).astype(np.uint8))
    out = np.asarray(coarse.resize((w, h), Image.Resampling.BICUBIC))
    if where is not None:
        out = np.where(np.asarray(where, bool)[..., None], out, final)
    return out


def _blotches(size: tuple[int, int], sigma: float, seed: list[int]) -> np.ndarray:
    """Smooth colour noise of ``size`` (width, height): a coarse random field scaled up."""
    w, h = size
    cells = (max(2, round(NOISE_CELLS * w / max(w, h))), max(2, round(NOISE_CELLS * h / max(w, h))))
    field = np.random.default_rng(seed).normal(0.0, sigma, (3, cells[1], cells[0])).astype(np.float32)
    smooth = [np.asarray(Image.fromarray(c, "F").resize(size, Image.Resampling.BICUBIC)) for c in field]
    return np.stack(smooth, axis=-1)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 images, 0 to 255."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def detail(image: np.ndarray) -> float:
    """How much fine detail ``image`` has: the mean absolute difference between neighbours."""
    grey = image.astype(np.float32).mean(axis=2) if image.ndim == 3 else image.astype(np.float32)
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())
