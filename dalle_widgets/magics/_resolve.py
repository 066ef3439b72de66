"""Turning the words of a ``%dalle`` line into values: numbers, sizes, images, masks, prompt lists.

Every failure is a :class:`UsageError` whose message names the value and the fix;
nothing here sends a request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from .._types import FRAMING_MODES, FramingMode
from .._types import WIRE_PROTOCOLS as PROTOCOLS
from ._lexer import interpolate

__all__ = [
    "ImageRef",
    "resolve_image",
    "resolve_images",
    "resolve_mask",
    "resolve_object",
    "to_framing",
    "to_int",
    "to_protocol",
    "to_size",
]

_SIZE = re.compile(r"^(\d+)x(\d+)$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def to_int(value: str | None, option: str, *, minimum: int = 1, default: int | None = None) -> int | None:
    """Parse an option's integer value, naming the option when it is not one.

    >>> to_int("4", "-n")
    4
    """
    if value is None:
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise UsageError(f"{option} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise UsageError(f"{option} must be {minimum} or more, got {number}")
    return number


def to_size(value: str | None) -> str | None:
    """Normalise a size: ``'512'`` -> ``'512x512'``; ``'auto'`` stays; anything else must be ``WxH``.

    Whether the model accepts the size is the client's check (it knows the model table).

    >>> to_size("512"), to_size(" 1024X1024 "), to_size("auto")
    ('512x512', '1024x1024', 'auto')
    """
    if value is None:
        return None
    text = value.strip().lower()
    if text.isdigit():
        return f"{text}x{text}"
    if text == "auto" or _SIZE.match(text):
        return text
    raise UsageError(f"--size must look like 512x512 (width x height in pixels), got {value!r}")


def to_protocol(value: str | None) -> str | None:
    """Check ``--protocol``: ``images`` or ``chat``."""
    if value is None:
        return None
    text = value.strip().lower()
    if text not in PROTOCOLS:
        raise UsageError(f"--protocol must be 'images' or 'chat', got {value!r}")
    return text


def to_framing(value: str | None) -> FramingMode | None:
    """Check ``--framing``: ``window``, ``pad`` or ``crop`` (None when not given).

    >>> to_framing(" Pad "), to_framing(None)
    ('pad', None)
    """
    if value is None:
        return None
    text = value.strip().lower()
    for mode in FRAMING_MODES:
        if text == mode:
            return mode
    raise UsageError(
        f"--framing must be window (around the mask), pad (the whole photo) or crop (its centre), "
        f"got {value!r}"
    )


def resolve_object(ref: str, namespace: Mapping[str, Any], *, what: str) -> tuple[Any, bool]:
    """Evaluate ``ref`` in the user namespace, or fall back to it being a path.

    Returns ``(value, found)``: ``found`` is False when ``ref`` is neither a defined
    name nor a valid expression, and the value is then the (interpolated) text.
    """
    if "{" in ref or "}" in ref:
        return interpolate(ref, namespace), False
    try:
        code = compile(ref, f"<%dalle {what}>", "eval")
    except SyntaxError:
        return ref, False
    try:
        return eval(code, dict(namespace)), True  # noqa: S307 - the user's own namespace, as {expr} does
    except NameError:
        return ref, False
    except Exception as exc:
        if Path(os.path.expanduser(ref)).is_file():  # e.g. photo.png when a variable `photo` exists
            return ref, False
        raise UsageError(f"{what} {ref!r} failed: {type(exc).__name__}: {exc}") from None


def _existing_file(text: str, ref: str, what: str, *, variable: bool = False) -> Path:
    path = Path(os.path.expanduser(text))
    if path.is_file():
        return path
    if path.exists():
        raise UsageError(f"{what} {ref!r} is a directory, not an image file")
    if variable:
        raise UsageError(
            f"{what} {ref!r} is the path {text!r}, which does not exist (looked in {os.getcwd()})"
        )
    if _IDENT.match(ref):
        raise UsageError(
            f"{what} {ref!r} not found: no variable named {ref!r} and no file {ref!r} in {os.getcwd()}"
        )
    raise UsageError(f"file not found: {text!r} (looked in {os.getcwd()})")


def _is_generated(value: Any) -> bool:
    return hasattr(value, "image") and hasattr(value, "info") and not hasattr(value, "mask")


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) or (hasattr(value, "__len__") and hasattr(value, "__getitem__"))


def _is_editor(value: Any) -> bool:
    return hasattr(value, "image") and hasattr(value, "mask") and not isinstance(value, type)


class ImageRef:
    """An image argument resolved from the namespace or the file system.

    Attributes
    ----------
    image : object
        What the client accepts: a path, PIL image, numpy array or bytes.
    mask : object or None
        The mask an editor brought along, if any.
    source : object
        What the name referred to (an editor, a GeneratedImage...), for display.
    """

    def __init__(self, image: Any, *, mask: Any = None, source: Any = None) -> None:
        self.image = image
        self.mask = mask
        self.source = source


def resolve_image(ref: str, namespace: Mapping[str, Any], *, what: str = "image") -> ImageRef:
    """Resolve IMAGE: a variable or expression holding an image, or a path to an image file."""
    value, found = resolve_object(ref, namespace, what=what)
    if not found:
        return ImageRef(_existing_file(str(value), ref, what))
    return _coerce_image(value, ref, what)


def resolve_images(ref: str, namespace: Mapping[str, Any], *, what: str = "--ref") -> list[Any]:
    """Resolve one word that may stand for several images (``--ref``): what IMAGE takes, or
    a list or tuple of them, a result holding several, or a mood board (its selected
    images, or all of them when none is selected). Each image is checked, and named by
    its index when it is not one (``refs[2]``)."""
    value, found = resolve_object(ref, namespace, what=what)
    if not found:
        return [_existing_file(str(value), ref, what)]
    if _is_board(value):
        items = value.selected or [i for i in value.items if not i.damaged]
        if not items:
            raise UsageError(f"{what} {ref!r} is an empty mood board: pin images to it first")
        return [item.path for item in items]
    if not _several(value):
        return [_coerce_image(value, ref, what).image]
    images = list(value)
    if not images:
        raise UsageError(f"{what} {ref!r} is empty: put the reference images in it, or drop {what} {ref}")
    return [_coerce_image(v, f"{ref}[{i}]", what).image for i, v in enumerate(images)]


def _several(value: Any) -> bool:
    """A list or tuple, or a result (a sequence of generated images): not one image."""
    if isinstance(value, (list, tuple)):
        return True
    if isinstance(value, (str, bytes, bytearray, os.PathLike)) or hasattr(value, "__array_interface__"):
        return False
    return _is_sequence(value) and len(value) > 1 and all(_is_generated(v) for v in value)


def _is_board(value: Any) -> bool:
    return hasattr(value, "store") and hasattr(value, "selected") and hasattr(value, "pin")


def _coerce_image(value: Any, ref: str, what: str) -> ImageRef:
    if isinstance(value, (str, os.PathLike)):
        return ImageRef(_existing_file(os.fspath(value), ref, what, variable=True))
    if isinstance(value, (bytes, bytearray)):
        return ImageRef(bytes(value))
    if _is_editor(value):
        image = value.image
        if image is None:
            raise UsageError(f"{what} {ref!r} is an editor with no image yet")
        return ImageRef(image, mask=value.mask, source=value)
    if _is_generated(value):
        return ImageRef(value.image, source=value)
    if hasattr(value, "selected") and hasattr(value, "on_select"):  # a Gallery
        selected = value.selected
        if selected is None:
            raise UsageError(f"{what} {ref!r} is a gallery with no tile selected: click one, or use {ref}[0]")
        return _coerce_image(selected, ref, what)
    module = type(value).__module__ or ""
    if module.startswith("PIL.") or hasattr(value, "__array_interface__") or hasattr(value, "read"):
        return ImageRef(value)
    if _is_sequence(value) and len(value) and all(_is_generated(v) for v in value):
        if len(value) != 1:
            raise UsageError(f"{what} {ref!r} holds {len(value)} images: pick one, e.g. {ref}[0]")
        return ImageRef(value[0].image, source=value[0])
    raise UsageError(
        f"{what} {ref!r} is a {type(value).__name__}, not an image: use a path, a PIL image, a numpy "
        "array, a GeneratedImage or an editor"
    )


def resolve_mask(ref: str, namespace: Mapping[str, Any]) -> Any:
    """Resolve ``--mask``: a bool array, an RGBA image, an editor (its mask), or a path."""
    value, found = resolve_object(ref, namespace, what="mask")
    if not found:
        return _existing_file(str(value), ref, "mask")
    if isinstance(value, (str, os.PathLike)):
        return _existing_file(os.fspath(value), ref, "mask", variable=True)
    if _is_editor(value):
        return value.mask
    if _is_generated(value):
        return value.image
    module = type(value).__module__ or ""
    if module.startswith("PIL.") or hasattr(value, "__array_interface__") or isinstance(value, bytes):
        return value
    raise UsageError(
        f"mask {ref!r} is a {type(value).__name__}: use a bool array (True = repaint), an RGBA image "
        "(alpha 0 = repaint), a MaskEditor or a path"
    )
