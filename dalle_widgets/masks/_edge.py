"""The edge where masks meet pictures: read a mask from an image, write the API's RGBA form, preview.

Inside the package a mask is ``bool (H, W)``, True = generate. An Images API
edit reads the opposite kind of thing, an RGBA PNG whose alpha is 0 where the
model may paint, and people bring black-and-white or transparent pictures
with their own conventions. This module is the only place that converts
between them, so every other mask function stays convention-free.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PIL import Image

from .. import imaging
from ._facts import bbox
from ._validation import check_mask, check_number

logger = logging.getLogger("dalle_widgets")

_CONVENTIONS = ("auto", "alpha", "white", "black")


def _threshold(threshold: float | None, default: float) -> float:
    if threshold is None:
        return default
    t = check_number(threshold, "threshold")
    if not 0.0 < t <= 1.0:
        raise ValueError(f"threshold is a fraction of full intensity in (0, 1]; got {threshold!r}.")
    return t


def from_image(x: Any, *, convention: str = "auto", threshold: float | None = None) -> np.ndarray:
    """Read a mask from a picture, a file, a PIL image or an array.

    Parameters
    ----------
    x : str, os.PathLike, bytes, PIL.Image.Image or ndarray
        A bool ``(H, W)`` array is returned as a copy. A float ``(H, W)``
        array needs ``threshold`` (True where ``x >= threshold``).
    convention : {"auto", "alpha", "white", "black"}
        ``"alpha"``: True where the alpha channel is below ``threshold``
        (default: exactly where alpha is 0, which is what DALL-E 2 edits read).
        ``"white"``: True where the grey level is >= ``threshold`` (default
        0.5), the Stable Diffusion convention. ``"black"``: True where it is
        below ``threshold``. ``"auto"`` uses ``"alpha"`` when the picture has
        transparency, ``"white"`` for a picture that is strictly black and
        white (logged), and otherwise raises and says which to pass: it never
        guesses silently.
    threshold : float in (0, 1], optional
        Cut-off as a fraction of full intensity.

    Returns
    -------
    (H, W) ndarray of bool
        True where the picture says "generate", in the picture's own size.

    Examples
    --------
    >>> from dalle_widgets.masks import rectangle
    >>> m = rectangle((4, 4), (1, 1, 3, 3))
    >>> rgba = to_rgba(np.zeros((4, 4, 3), np.uint8), m)
    >>> bool((from_image(rgba) == m).all())
    True
    >>> bw = np.where(m, 255, 0).astype(np.uint8)
    >>> bool((from_image(bw) == m).all()), bool((from_image(bw, convention="black") == ~m).all())
    (True, True)
    >>> from_image(np.full((4, 4), 0.7))
    Traceback (most recent call last):
    ---
    ValueError: x is a float array: pass threshold=... (e.g. 0.5) to say which values mean "generate".
    """
    if convention not in _CONVENTIONS:
        raise ValueError(f"convention must be one of {_CONVENTIONS}; got {convention!r}.")
    if isinstance(x, np.ndarray) and x.ndim == 2:
        if x.dtype == np.bool_:
            return check_mask(x, "x").copy()
        if np.issubdtype(x.dtype, np.floating):
            if threshold is None:
                raise ValueError(
                    'x is a float array: pass threshold=... (e.g. 0.5) to say which values mean "generate".'
                )
            if not np.isfinite(x).all():
                raise ValueError("x contains NaN or infinite values: replace them (np.nan_to_num) first.")
            t = _threshold(threshold, 0.5)
            m = x >= t
            return ~m if convention == "black" else m
    if _is_rgb_array(x):
        arr = x
    else:
        arr = np.asarray(imaging.to_pil(x, name="x"))
    alpha = arr[..., 3] if arr.shape[2] == 4 else None
    rgb = arr[..., :3]
    if convention == "auto":
        if alpha is not None and bool((alpha < 255).any()):
            convention = "alpha"
        else:
            grey = rgb[..., 0]
            two_tone = bool((rgb == grey[..., None]).all()) and bool(np.isin(grey, (0, 255)).all())
            both = two_tone and bool((grey == 0).any()) and bool((grey == 255).any())
            if alpha is not None:
                if both:
                    raise ValueError(
                        "x is opaque RGBA and strictly black and white, so it is either an alpha mask with "
                        "nothing to generate or a black-and-white mask: pass convention='alpha' or 'white'."
                    )
                convention = "alpha"
            elif two_tone:
                logger.info(
                    "from_image: black-and-white picture read as white = generate "
                    "(pass convention='black' for the opposite)"
                )
                convention = "white"
            else:
                raise ValueError(
                    "x has no transparency and is not strictly black and white, so which pixels mean "
                    "'generate' is ambiguous: pass convention='alpha' (alpha 0 = generate, needs an alpha "
                    "channel), 'white' (white = generate) or 'black' (black = generate), with "
                    "threshold=... for grey levels."
                )
    if convention == "alpha":
        if alpha is None:
            raise ValueError(
                "x has no alpha channel, so convention='alpha' cannot apply: "
                "pass convention='white' or 'black' for a black-and-white mask."
            )
        if threshold is None:
            return alpha == 0
        return alpha < _threshold(threshold, 0.0) * 255
    grey_img = Image.fromarray(np.ascontiguousarray(rgb), "RGB").convert("L")
    grey = np.asarray(grey_img, dtype=np.float32) / 255.0
    t = _threshold(threshold, 0.5)
    return grey >= t if convention == "white" else grey < t


def _is_rgb_array(x: Any) -> bool:
    """A uint8 (H, W, 3|4) array: the fast path that needs no PIL round trip."""
    return (
        isinstance(x, np.ndarray)
        and x.dtype == np.uint8
        and x.ndim == 3
        and x.shape[2] in (3, 4)
        and x.shape[0] > 0
        and x.shape[1] > 0
    )


def _check_sizes(image_shape: tuple[int, ...], mask: np.ndarray) -> None:
    h, w = image_shape[0], image_shape[1]
    if (h, w) != mask.shape:
        raise ValueError(
            f"mask is {mask.shape[1]}x{mask.shape[0]} but image is {w}x{h}: "
            f"resize the mask with masks.resize(mask, ({h}, {w}))."
        )


def _match(image: Any, mask: np.ndarray) -> tuple[Image.Image, np.ndarray]:
    mask = check_mask(mask)
    img = imaging.to_pil(image)
    _check_sizes((img.height, img.width), mask)
    return img, mask


def to_rgba(image: Any, mask: np.ndarray) -> np.ndarray:
    """The image as RGBA ``uint8 (H, W, 4)`` with alpha 0 exactly where ``mask`` is True, 255 elsewhere.

    This is what a DALL-E 2 edit reads: transparent pixels are regenerated.
    The colour under the transparent pixels is kept (see :func:`to_png` for
    the upload form).

    Parameters
    ----------
    image : str, os.PathLike, bytes, PIL.Image.Image or ndarray
        The picture to edit, any mode; its colour is kept, its own alpha is
        replaced.
    mask : (H, W) ndarray of bool
        True where the model may paint; the same size as ``image``.

    Returns
    -------
    (H, W, 4) ndarray of uint8
        The image's RGB with alpha 0 where ``mask`` is True and 255 elsewhere.

    Examples
    --------
    >>> out = to_rgba(np.full((2, 2, 3), 9, np.uint8), np.array([[True, False], [False, False]]))
    >>> out[..., 3].tolist(), int(out[0, 0, 0])
    ([[0, 255], [255, 255]], 9)
    """
    if _is_rgb_array(image):
        mask = check_mask(mask)
        _check_sizes(image.shape[:2], mask)
        img = Image.fromarray(np.ascontiguousarray(image[..., :3]), "RGB")
    else:
        img, mask = _match(image, mask)
        img = img.convert("RGB")
    # Pillow interleaves the alpha plane in C, several times faster than a strided numpy copy.
    img.putalpha(Image.fromarray((~mask).view(np.uint8) * np.uint8(255), "L"))
    return np.array(img)


def to_png(image: Any, mask: np.ndarray, *, max_bytes: int | None = imaging.MAX_UPLOAD_BYTES) -> bytes:
    """The PNG to upload for an edit: :func:`to_rgba`, with the hidden colour zeroed.

    The pixels the model will replace are set to transparent black, which
    makes the file smaller (about a quarter smaller for a typical edit) and
    avoids uploading what the user asked to replace.

    Parameters
    ----------
    image : str, os.PathLike, bytes, PIL.Image.Image or ndarray
        The picture to edit; the same size as ``mask``.
    mask : (H, W) ndarray of bool
        True where the model may paint.
    max_bytes : int or None
        Refuse (with a ``ValueError`` that says by how much) a PNG that is not
        smaller than this; the Images API takes uploads under 4 MB. None
        disables the check.

    Returns
    -------
    bytes
        An RGBA PNG file: transparent black where ``mask`` is True, the
        image's opaque pixels elsewhere.

    Examples
    --------
    >>> from dalle_widgets.masks import from_image, rectangle
    >>> data = to_png(np.zeros((4, 4, 3), np.uint8), rectangle((4, 4), (0, 0, 2, 2)))
    >>> bool((from_image(data) == rectangle((4, 4), (0, 0, 2, 2))).all())
    True
    """
    rgba = to_rgba(image, mask)
    rgba[mask] = 0
    return imaging.encode_png(rgba, max_bytes=max_bytes)


def preview(
    image: Any,
    mask: np.ndarray,
    color: tuple[int, int, int] = (255, 64, 64),
    opacity: float = 0.5,
    *,
    outline: bool = True,
) -> np.ndarray:
    """Show where the mask is: ``color`` blended over the image, RGB ``uint8 (H, W, 3)``.

    Transparent parts of the image are drawn over a checkerboard. With
    ``outline`` the mask's edge pixels are drawn in full ``color`` so thin or
    pale regions stay visible.

    Parameters
    ----------
    image : str, os.PathLike, bytes, PIL.Image.Image or ndarray
        The picture the mask belongs to; the same size as ``mask``.
    mask : (H, W) ndarray of bool
    color : (R, G, B)
        The tint, three integers 0-255.
    opacity : float
        How much of ``color`` covers the masked pixels, in [0, 1].
    outline : bool
        Draw the mask's edge pixels in full ``color``.

    Returns
    -------
    (H, W, 3) ndarray of uint8
        A new picture; the pixels outside the mask are the image's own (over
        a checkerboard where it is transparent).

    Examples
    --------
    >>> p = preview(np.zeros((2, 2, 3), np.uint8), np.array([[True, False], [False, False]]), outline=False)
    >>> p[0, 0].tolist(), p[1, 1].tolist()
    ([128, 32, 32], [0, 0, 0])
    """
    img, mask = _match(image, mask)
    op = check_number(opacity, "opacity")
    if not 0.0 <= op <= 1.0:
        raise ValueError(f"opacity must be in [0, 1]; got {opacity!r}.")
    col = tuple(color)
    if len(col) != 3 or not all(isinstance(c, (int, np.integer)) and 0 <= c <= 255 for c in col):
        raise ValueError(f"color must be three integers 0-255 (R, G, B); got {color!r}.")
    out = np.array(imaging.on_checkerboard(img))
    box = bbox(mask)
    if box is None:
        return out
    x0, y0, x1, y1 = box  # all the work happens inside the mask's box
    m = mask[y0:y1, x0:x1]
    region = out[y0:y1, x0:x1]
    tint = np.asarray(col, dtype=np.float32)
    blended = np.round(region.astype(np.float32) * np.float32(1.0 - op) + tint * np.float32(op))
    np.copyto(region, blended.astype(np.uint8), where=m[..., None])
    if outline:
        inner = m.copy()  # 4-neighbour erosion; the image border does not count as outside
        inner[1:] &= m[:-1]
        inner[:-1] &= m[1:]
        inner[:, 1:] &= m[:, :-1]
        inner[:, :-1] &= m[:, 1:]
        if y0 > 0:
            inner[0] &= mask[y0 - 1, x0:x1]
        if y1 < mask.shape[0]:
            inner[-1] &= mask[y1, x0:x1]
        if x0 > 0:
            inner[:, 0] &= mask[y0:y1, x0 - 1]
        if x1 < mask.shape[1]:
            inner[:, -1] &= mask[y0:y1, x1]
        region[m & ~inner] = np.asarray(col, dtype=np.uint8)
    return out
