"""Small numpy/Pillow image operations shared by the classical backend (pure functions)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

__all__ = ["blur", "resize", "resize_u8", "to_float", "to_u8"]


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 255] (no rescaling, so errors read in grey levels)."""
    return np.asarray(image, dtype=np.float32)


def to_u8(image: np.ndarray) -> np.ndarray:
    """Round and clip to uint8."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def resize(array: np.ndarray, shape: tuple[int, int], *, resample: int = Image.BILINEAR) -> np.ndarray:
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
    return np.asarray(Image.fromarray(image).resize((size, size), Image.LANCZOS))


def blur(array: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur over the two spatial axes only."""
    sig = (sigma, sigma) + (0,) * (array.ndim - 2)
    return ndimage.gaussian_filter(np.asarray(array, np.float32), sig, mode="nearest", truncate=3.0)
