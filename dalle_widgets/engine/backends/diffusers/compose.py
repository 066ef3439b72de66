"""Pure numpy/Pillow steps around the model: sizes, the inpainting mask, paste-back (no torch).

DALL-E 2's edit promise is that pixels outside the mask come back unchanged. Inpainting
models do not keep it on their own: the mask is downsampled 8x to the latent grid and
the decoder repaints a margin around it. So the mask handed to the model is dilated by
at least one latent cell (8 px), and after decoding the original pixels are pasted back
everywhere outside the *requested* mask, with a feather that lies entirely outside it
(the masked area is fully the model's, the seam fades over a few pixels beyond).

>>> render_size(1024, 768), render_size((1536, 1024), 768)
((768, 768), (960, 640))
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

__all__ = [
    "DILATE_PX",
    "FEATHER_PX",
    "inpaint_mask",
    "paste_back",
    "render_size",
    "resample",
    "resample_mask",
    "to_u8",
]

#: The model's mask is the request's mask grown by this many pixels (one latent cell).
DILATE_PX = 8
#: Width of the blend band just outside the requested mask.
FEATHER_PX = 4


def render_size(size: int | tuple[int, int], native: int) -> tuple[int, int]:
    """``(width, height)`` to render at: the recipe's native area, the request's aspect, in 64 px blocks."""
    w, h = (size, size) if isinstance(size, int) else size
    scale = (native * native / (w * h)) ** 0.5
    return max(64, round(w * scale / 64) * 64), max(64, round(h * scale / 64) * 64)


def to_u8(image: np.ndarray) -> np.ndarray:
    """Float in [0, 1] (H, W, 3) -> uint8, rounded."""
    return np.clip(np.rint(np.asarray(image, np.float32) * 255.0), 0, 255).astype(np.uint8)


def resample(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 RGB image to ``(width, height)`` with Lanczos (unchanged if already that size)."""
    w, h = size
    if image.shape[:2] == (h, w):
        return image
    return np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.LANCZOS))


def resample_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a bool mask to ``(width, height)``; a pixel is True if any of its source area was.

    Erring towards True means no requested pixel is ever left out of the repainted area.
    """
    m = np.asarray(mask, bool)
    w, h = size
    if m.shape == (h, w):
        return m.copy()
    area = np.asarray(
        Image.fromarray(m.astype(np.float32), mode="F").resize((w, h), Image.Resampling.BOX), dtype=np.float32
    )
    return area > 1e-3


def inpaint_mask(mask: np.ndarray, size: tuple[int, int], *, dilate: int = DILATE_PX) -> np.ndarray:
    """The model's mask: ``mask`` (True = repaint) at ``(width, height)``, grown by ``dilate`` px.

    Returns float32 (H, W), 1 = repaint, 0 = keep: the diffusers convention (white = repaint).

    >>> m = np.zeros((64, 64), bool); m[30:34, 30:34] = True
    >>> out = inpaint_mask(m, (64, 64))
    >>> out.dtype.name, int(out.sum()) > 16, float(out[0, 0]), float(out[32, 32])
    ('float32', True, 0.0, 1.0)
    """
    m = resample_mask(mask, size)
    if dilate > 0 and m.any():
        m = ndimage.binary_dilation(m, structure=_disc(dilate))
    return m.astype(np.float32)


def _disc(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return xx * xx + yy * yy <= radius * radius


def paste_back(
    generated: np.ndarray, original: np.ndarray, mask: np.ndarray, *, feather: int = FEATHER_PX
) -> np.ndarray:
    """Keep ``original`` outside ``mask``, ``generated`` inside, blended over ``feather`` px outside.

    All three share one (H, W). The weight of ``generated`` is 1 on the mask and falls
    linearly with the distance from it, to 0 past ``feather`` px: every pixel farther than
    ``feather`` px from the mask is exactly ``original``.

    >>> orig = np.zeros((8, 8, 3), np.uint8); gen = np.full((8, 8, 3), 200, np.uint8)
    >>> m = np.zeros((8, 8), bool); m[:, :2] = True
    >>> out = paste_back(gen, orig, m, feather=2)
    >>> out[0, :5, 0].tolist()
    [200, 200, 133, 67, 0]
    """
    m = np.asarray(mask, bool)
    if not m.any():
        return original.copy()
    if feather > 0:
        distance = ndimage.distance_transform_edt(~m)  # 0 on the mask, >= 1 outside
        weight = np.where(distance <= feather, 1.0 - distance / (feather + 1), 0.0)
    else:
        weight = m.astype(np.float64)
    w = weight[:, :, None]
    out = generated.astype(np.float64) * w + original.astype(np.float64) * (1.0 - w)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
