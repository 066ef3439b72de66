"""Which request sizes a model takes, as a window ``fit`` for :mod:`dalle_widgets.photo_window`.

An edit of a photo the model cannot take at its own size is sent as a window around the
mask (see :func:`dalle_widgets.photo_window.choose_window`); this module turns the model
table's size rule into the window's ``fit`` and says when no window is needed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from .. import masks
from ..errors import InvalidRequestError
from ..models import ModelSpec, parse_size
from ..photo_window import FRAMINGS, Fit, Window, cut, fixed_fit, frame_window, masked_outside, paste_back
from . import _uploads

__all__ = ["Framing", "check_framing", "model_fit", "planned_window", "takes_as_is", "windowed"]


@dataclass(frozen=True)
class Framing:
    """An edit sent through a window: the photo and mask its answers are pasted back into."""

    window: Window
    photo: Image.Image = field(repr=False)
    mask: np.ndarray | None = field(repr=False)

    def paste(self, data: bytes) -> bytes:
        """One answer (the window's picture, encoded) pasted into the photo, as PNG bytes."""
        from .. import imaging

        with Image.open(io.BytesIO(data)) as delivered:
            delivered.load()
            out = paste_back(self.photo, delivered, self.window, self.mask)
        return imaging.encode_png(out, max_bytes=None)

    def describe(self) -> str:
        w = self.window
        return (
            f"window: box {w.box} of the {w.photo_size[0]}x{w.photo_size[1]} photo, sent at "
            f"{w.request_size} (x{w.scale:g}); the answer is pasted back at the photo's size"
        )


def check_framing(framing: Any) -> str:
    """``framing`` if it is one of :data:`~dalle_widgets.photo_window.FRAMINGS`, else a clear error."""
    if framing not in FRAMINGS:
        raise InvalidRequestError(
            f"framing={framing!r}: pass one of {', '.join(repr(f) for f in FRAMINGS)} "
            "(a window around the mask, the whole photo padded, or its centre crop)",
            param="framing",
        )
    return str(framing)


def windowed(
    spec: ModelSpec,
    original: Any,
    photo: Image.Image,
    facts: dict[str, Any],
    mask: Any,
    fit: Fit,
    framing: str = "window",
) -> tuple[list[_uploads.Upload], dict[str, Any], tuple[int, int], Framing]:
    """The uploads of an edit of ``photo`` through a window around its mask (see ``_inputs``).

    With no mask, dall-e-2 edits the photo's transparent pixels (they are the mask) and a
    GPT image model the whole photo (the window is the photo, fitted to a size it takes).
    ``framing`` picks the window (see :func:`~dalle_widgets.photo_window.frame_window`); a
    centre crop that would leave part of the mask out is refused before anything is sent.
    """
    lineage = dict(facts)
    prompt = getattr(original, "info", None) and original.info.get("prompt")
    if isinstance(prompt, str):
        lineage["parent_prompt"] = prompt
    lineage["parent_hashes"] = [facts["parent_hash"]]
    if mask is not None:
        full = _uploads.coerce_mask(mask, photo)
        lineage["mask_hash"] = _uploads.mask_hash(full)
    elif spec.square_inputs:
        _uploads.check_transparency(photo, spec)
        full = np.asarray(photo.getchannel("A")) == 0
    else:
        full = None
    box = masks.bbox(full) if full is not None else None
    window = frame_window(photo.size, box, fit, framing)
    outside = masked_outside(full, window) if full is not None else 0
    if outside:
        x0, y0, x1, y1 = window.box
        raise InvalidRequestError(
            f"framing='crop' sends the centre box ({x0}, {y0}, {x1}, {y1}) of the "
            f"{photo.size[0]}x{photo.size[1]} photo, but {outside} masked pixels lie outside it and "
            "would never change: use framing='window' or 'pad', or keep the mask inside the box",
            param="framing",
        )
    piece, sub = cut(photo, full, window)
    uploads = [_uploads.input_upload("image", "image", piece, piece, spec)]
    if mask is not None and sub is not None:
        uploads.append(_uploads.mask_upload(sub, spec))
    return uploads, lineage, window.size, Framing(window, photo, full)


def takes_as_is(spec: ModelSpec, size: tuple[int, int], *, has_mask: bool) -> bool:
    """Whether ``spec`` edits an image of ``size`` as it is (no window needed).

    A model that needs square inputs (dall-e-2) takes any square and nothing else. Other
    models (the GPT image family) take an input of any size, and it goes as it is, byte for
    byte, exactly as the openai SDK sends it; the answer comes at the requested size.
    """
    if spec.square_inputs:
        return size[0] == size[1]
    del has_mask  # any input size is fine for these models, masked or not
    return True


def planned_window(
    spec: ModelSpec,
    photo_size: tuple[int, int],
    mask_box: tuple[int, int, int, int] | None,
    *,
    size: str | None = None,
    framing: str = "window",
) -> Window | None:
    """The window a masked edit of a ``photo_size`` photo is sent through, or None (sent as it is).

    The same rule :meth:`ImagesClient.edit` follows, so what a widget draws before sending
    is what is sent. ``mask_box`` is the mask's :func:`~dalle_widgets.masks.bbox`.
    """
    if takes_as_is(spec, photo_size, has_mask=True):
        return None
    fit = model_fit(spec, size)
    if fit is None:
        return None
    return frame_window(photo_size, mask_box, fit, check_framing(framing))


def model_fit(spec: ModelSpec, size: str | None = None) -> Fit | None:
    """The window ``fit`` for ``spec``, or None when its rule names no size to fit to.

    ``size`` (a request size the caller chose and the model takes) pins the fit to it.
    """
    rule = spec.size_rule
    pinned = parse_size(size) if isinstance(size, str) else None
    if pinned is not None and rule.allows(size or ""):
        return fixed_fit([pinned])
    if rule.kind == "flexible":

        def flexible(width: int, height: int) -> tuple[int, int]:
            near = rule.nearest(f"{width}x{height}")
            wh = parse_size(near or "")
            return wh if wh is not None else (1024, 1024)

        return flexible
    fixed = [wh for wh in (parse_size(s) for s in spec.sizes) if wh is not None]
    return fixed_fit(fixed) if fixed else None
