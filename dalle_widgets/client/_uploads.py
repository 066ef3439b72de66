"""Turning what the caller passed into what the wire needs, at the very edge.

An ``image`` may be a path, bytes, a binary file object, a PIL image, a numpy array
(``(H, W, 3|4)`` uint8, or float in [0, 1]) or a :class:`GeneratedImage`; a ``mask`` may
be a bool array (True = generate there), an RGBA image (alpha 0 = generate) or a path.
For dall-e both leave here as RGBA PNG bytes under the model's upload limit, uploaded
as ``("image.png", bytes, "image/png")``; the mask's alpha is 0 exactly where the bool
mask is True. Models that take other upload formats (GPT image: png, jpeg, webp) get a
file the caller passed in one of those formats byte for byte, with its real content type,
and anything else as a PNG. Coercion itself lives in :mod:`dalle_widgets.imaging` and
:mod:`dalle_widgets.masks`; this module adds the API's rules and the error messages.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._formats import sniff
from .._types import Operation
from ..errors import InvalidRequestError
from ..imaging import image_hash
from ..models import ModelSpec

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

__all__ = ["Upload", "coerce_image", "coerce_mask", "encode_upload", "input_upload"]

#: Content type and file suffix of each upload format.
FORMATS = {"png": ("image/png", "png"), "jpeg": ("image/jpeg", "jpg"), "webp": ("image/webp", "webp")}


@dataclass(frozen=True)
class Upload:
    """One file part (``part`` is the multipart field name): what is sent, and what is safe to show."""

    part: str
    filename: str
    data: bytes = field(repr=False)
    size: tuple[int, int]
    sha256: str
    content_type: str = "image/png"
    #: how the part is named to people: ``image``, ``image[1]``, ``mask``
    label: str = ""

    @property
    def nbytes(self) -> int:
        return len(self.data)

    @property
    def name(self) -> str:
        return self.label or self.part

    def multipart(self) -> tuple[str, bytes, str]:
        return (self.filename, self.data, self.content_type)

    def summary(self) -> tuple[str, int, tuple[int, int]]:
        return (self.filename, self.nbytes, self.size)


def _wh(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def coerce_image(image: Any, *, name: str = "image") -> tuple[Image.Image, dict[str, Any]]:
    """A loaded PIL image (RGB or RGBA) plus lineage facts about it.

    The lineage dict has ``parent_hash`` (the pixel hash the store records for every
    image it saves) and, for a stored :class:`GeneratedImage`, ``parent_path``.
    """
    from .. import imaging

    try:
        pil = imaging.to_pil(image, name=name)
    except ValueError as exc:
        raise InvalidRequestError(str(exc), param=name) from None
    lineage: dict[str, Any] = {"parent_hash": image_hash(pil)}
    path = getattr(image, "path", None)
    if path is not None and getattr(image, "info", None) is not None:
        lineage["parent_path"] = str(path)
    return pil, lineage


def check_square(image: Image.Image, spec: ModelSpec, operation: Operation) -> None:
    if spec.square_inputs and image.width != image.height:
        verb = "edits" if operation == "edit" else "variations"
        raise InvalidRequestError(
            f"image is {_wh(image.size)}; {spec.name} {verb} need a square image: use "
            "dalle_widgets.imaging.fit_square(image, mode='pad'|'crop')",
            param="image",
        )


def _encoded_bytes(image: Any) -> bytes | None:
    """The file bytes of an input that already is an encoded image (path, bytes, stored image)."""
    from pathlib import Path

    if isinstance(image, (bytes, bytearray, memoryview)):
        return bytes(image)
    if isinstance(image, (str, Path)):
        try:
            return Path(image).expanduser().read_bytes()
        except OSError:
            return None
    data = getattr(image, "png", None)  # a GeneratedImage keeps the bytes as delivered
    return data if isinstance(data, bytes) and getattr(image, "info", None) is not None else None


def input_upload(part: str, label: str, original: Any, image: Image.Image, spec: ModelSpec) -> Upload:
    """One input image of an edit as a file part.

    A model that takes only PNG (dall-e) gets an RGBA PNG. Otherwise an input that already
    is a file in one of ``spec.upload_formats`` goes byte for byte with its own content type
    (a JPEG stays a JPEG, never ``application/octet-stream``); anything else is encoded
    as PNG. Either way it must be under ``spec.max_upload_bytes``.
    """
    if spec.upload_formats == ("png",):
        upload = encode_upload(part, image, spec)
        return Upload(part, upload.filename, upload.data, upload.size, upload.sha256, label=label)
    raw = _encoded_bytes(original)
    fmt = sniff(raw) if raw is not None else None
    if raw is not None and fmt in spec.upload_formats and fmt in FORMATS:
        if len(raw) >= spec.max_upload_bytes:
            raise InvalidRequestError(
                f"{label} is a {len(raw) / 1e6:.1f} MB {fmt} file; {spec.name} takes files under "
                f"{spec.max_upload_bytes / 1e6:.0f} MB: downscale it or save it as jpeg or webp",
                param=label,
            )
        ctype, suffix = FORMATS[fmt]
        stem = label.replace("[", "-").replace("]", "")
        return Upload(
            part, f"{stem}.{suffix}", raw, image.size, hashlib.sha256(raw).hexdigest(), ctype, label
        )
    from .. import imaging

    try:
        data = imaging.encode_png(image, max_bytes=spec.max_upload_bytes)
    except ValueError as exc:
        raise InvalidRequestError(f"{label}: {exc}", param=label) from None
    stem = label.replace("[", "-").replace("]", "")
    return Upload(part, f"{stem}.png", data, image.size, hashlib.sha256(data).hexdigest(), "image/png", label)


def coerce_mask(mask: Any, image: Image.Image, *, several: bool = False) -> np.ndarray:
    """The mask as bool ``(H, W)``, True = generate, checked against ``image``."""
    from .. import masks

    if isinstance(mask, np.ndarray) and mask.dtype == bool:
        if mask.ndim != 2:
            raise InvalidRequestError(
                f"mask has shape {mask.shape}; a bool mask must be 2-D (H, W), True = generate", param="mask"
            )
        bool_mask = mask
    else:
        try:
            bool_mask = np.asarray(masks.from_image(mask), dtype=bool)
        except (ValueError, TypeError) as exc:
            raise InvalidRequestError(_mask_message(str(exc)), param="mask") from None
    h, w = bool_mask.shape
    if (w, h) != image.size:
        which = "the first image (the one a mask applies to)" if several else "image"
        raise InvalidRequestError(f"mask is {w}x{h} but {which} is {_wh(image.size)}", param="mask")
    if not bool_mask.any():
        raise InvalidRequestError(
            "mask selects no pixels: mark the area to generate with True (or alpha 0 in an RGBA mask)",
            param="mask",
        )
    return bool_mask


def _mask_message(reason: str) -> str:
    """``masks.from_image``'s reason, worded for a ``mask=`` argument, with a fix the caller can apply.

    ``from_image`` names its argument ``x`` and asks for ``threshold=`` or ``convention=``,
    which ``edit`` does not take: the fix is to read the mask with ``from_image`` first.
    """
    text = "the mask " + reason[2:] if reason.startswith("x ") else f"mask: {reason}"
    if "threshold=" in text or "convention=" in text:
        text += (
            " edit() takes neither: read it with dalle_widgets.masks.from_image(mask, threshold=..., "
            "convention=...) and pass the bool array it returns (True = generate)."
        )
    return text


def check_transparency(image: Image.Image, spec: ModelSpec) -> None:
    """dall-e-2 edits without a mask edit the image's transparent pixels: there must be some."""
    if not spec.square_inputs:  # GPT image models edit the whole image when no mask is given
        return
    if image.mode != "RGBA" or not (np.asarray(image.getchannel("A")) == 0).any():
        raise InvalidRequestError(
            "image has no transparent pixels and no mask was given: pass mask= (a bool array, True = "
            "generate) or make the area to edit transparent (alpha 0)",
            param="mask",
        )


def encode_upload(field_name: str, image: Image.Image, spec: ModelSpec) -> Upload:
    """Encode ``image`` as an RGBA PNG under ``spec.max_upload_bytes``."""
    from .. import imaging

    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    try:
        data = imaging.encode_png(rgba, max_bytes=spec.max_upload_bytes)
    except ValueError as exc:
        raise InvalidRequestError(f"{field_name}: {exc}", param=field_name) from None
    return Upload(field_name, f"{field_name}.png", data, rgba.size, hashlib.sha256(data).hexdigest())


def mask_upload(bool_mask: np.ndarray, spec: ModelSpec) -> Upload:
    """The wire mask: alpha 0 exactly where ``bool_mask`` is True, over black.

    Only the alpha channel of a mask is read, so its colour is left black: the file is a
    few kilobytes instead of a second copy of the image.
    """
    from PIL import Image

    from .. import masks

    h, w = bool_mask.shape
    rgba = masks.to_rgba(np.zeros((h, w, 3), dtype=np.uint8), bool_mask)
    return encode_upload("mask", Image.fromarray(rgba, "RGBA"), spec)


def mask_hash(bool_mask: np.ndarray) -> str:
    """A short content hash of a bool mask (shape and bits)."""
    digest = hashlib.sha256(f"{bool_mask.shape}".encode())
    digest.update(np.packbits(bool_mask).tobytes())
    return digest.hexdigest()[:16]
