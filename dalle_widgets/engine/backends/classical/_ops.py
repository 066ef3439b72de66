"""Small numpy/Pillow image operations shared by the classical backend (pure functions)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

__all__ = ["blur", "cover", "crop_to_aspect", "match_colours", "resize", "resize_u8", "to_float", "to_u8"]


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 255] (no rescaling, so errors read in grey levels)."""
    return np.asarray(image, dtype=np.float32)


def to_u8(image: np.ndarray) -> np.ndarray:
    """Round and clip to uint8."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def resize(
    array: np.ndarray, shape: tuple[int, int], *, resample: int = Image.Resampling.BILINEAR
) -> np.ndarray:
    """Resize a float32 (H, W) or (H, W, C) array to ``shape`` (H, W) with Pillow, channel by channel.

    Pillow's float mode keeps full precision and uses pixel-centre alignment, the same
    convention as a 2x2 box reduction, so pyramids built with both stay registered.
    """
    h, w = shape
    a = np.asarray(array, dtype=np.float32)
    if a.shape[:2] == (h, w):
        return a.copy()
    if a.ndim == 2:
        return np.asarray(Image.fromarray(a, mode="F").resize((w, h), resample), dtype=np.float32)
    out = np.empty((h, w, a.shape[2]), np.float32)
    for c in range(a.shape[2]):
        out[:, :, c] = np.asarray(
            Image.fromarray(np.ascontiguousarray(a[:, :, c]), mode="F").resize((w, h), resample)
        )
    return out


def resize_u8(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a uint8 RGB image to ``size`` x ``size`` (Lanczos), or return it as is."""
    if image.shape[:2] == (size, size):
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.LANCZOS))


def blur(array: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur over the two spatial axes only."""
    sig = (sigma, sigma) + (0,) * (array.ndim - 2)
    return ndimage.gaussian_filter(np.asarray(array, np.float32), sig, mode="nearest", truncate=3.0)


def crop_to_aspect(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The centred part of ``image`` (H, W, ...) with the aspect ratio of ``size`` (width, height)."""
    w, h = size
    ih, iw = image.shape[:2]
    if iw * h > w * ih:  # too wide: crop the sides
        cw = max(1, round(ih * w / h))
        x0 = (iw - cw) // 2
        return image[:, x0 : x0 + cw]
    ch = max(1, round(iw * h / w))
    y0 = (ih - ch) // 2
    return image[y0 : y0 + ch]


def cover(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Centre-crop uint8 ``image`` to the aspect of ``size`` (width, height), then resize to it.

    >>> cover(np.zeros((64, 64, 3), np.uint8), (96, 32)).shape
    (32, 96, 3)
    """
    w, h = size
    if image.shape[:2] == (h, w):
        return image
    image = crop_to_aspect(image, size)
    if image.shape[:2] == (h, w):
        return np.ascontiguousarray(image)
    return np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((w, h), Image.Resampling.LANCZOS))


def match_colours(image: np.ndarray, source: np.ndarray, where: np.ndarray, strength: float) -> np.ndarray:
    """Move the colours of ``image`` where ``where`` is True toward the statistics of ``source``.

    Per-channel mean and spread (Reinhard-style transfer in RGB), blended by
    ``strength`` in [0, 1]. ``image`` uint8 (H, W, 3), ``source`` uint8 (N, 3) pixels;
    returns a new uint8 image, unchanged outside ``where``.

    >>> img = np.full((4, 4, 3), 50, np.uint8)
    >>> out = match_colours(img, np.full((9, 3), 200, np.uint8), np.ones((4, 4), bool), 1.0)
    >>> int(out[0, 0, 0])
    200
    """
    where = np.asarray(where, bool)
    if not where.any() or strength <= 0:
        return image.copy()
    px = image[where].astype(np.float32)
    src = np.asarray(source, np.float32).reshape(-1, 3)
    mu, sd = px.mean(0), px.std(0) + 1e-3
    smu, ssd = src.mean(0), src.std(0) + 1e-3
    moved = (px - mu) * np.minimum(ssd / sd, 3.0) + smu
    out = image.copy()
    out[where] = to_u8(px + strength * (moved - px))
    return out
