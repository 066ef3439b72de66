"""``MaskDocument``: the mask editor's document (base image, mask, strokes, undo/redo), no widgets.

The editor's state is a value a script or a test can drive without a browser or
``ipywidgets``: every gesture (a brush stroke, a rectangle, a lasso, invert,
grow...) is recorded as a vector :class:`Stroke` in full-resolution image
coordinates and rasterised by :mod:`dalle_widgets.masks`; each change is one
undo step, whatever its source. :class:`~.mask_editor.MaskEditor` is a view of
one document: it turns mouse and keys into these calls and redraws on
:meth:`MaskDocument.on_change`.

The base image lives here and only here (:meth:`MaskDocument.replace_image`), so
whatever prepares a photo before editing (a window, a pad, a crop) changes the
document in one place. :attr:`MaskDocument.base_revision` counts the base
images, so a candidate made from an older base can be told apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import imaging, masks
from .._types import SHAPE_TOOLS  # gestures that fill an outline rather than follow a brush path

__all__ = ["SHAPE_TOOLS", "MaskDocument", "Stroke"]

logger = logging.getLogger("dalle_widgets")

MAX_UNDO = 100


@dataclass(frozen=True)
class Stroke:
    """One change to the mask, in full-resolution image coordinates.

    Attributes
    ----------
    tool : str
        ``brush``, ``eraser``, ``rectangle``, ``ellipse``, ``lasso`` (gestures) or
        ``invert``, ``grow``, ``shrink``, ``clear``, ``set``, ``accept`` (operations).
    points : tuple of (float, float)
        The path of a brush/eraser stroke, the two corners of a rectangle/ellipse,
        or the vertices of a lasso.
    size : float
        Brush diameter in image pixels, or the grow/shrink amount.
    erase : bool
        True when a rectangle, ellipse or lasso was subtracted from the mask.
    breaks : tuple of int
        Where a brush path starts again (indices into ``points``): a stroke that left
        the canvas and came back with the button held is one stroke in several pieces.
    """

    tool: str
    points: tuple[tuple[float, float], ...] = ()
    size: float = 0.0
    erase: bool = False
    breaks: tuple[int, ...] = ()


@dataclass(frozen=True)
class _State:
    image: np.ndarray
    mask_bits: np.ndarray
    shape: tuple[int, int]
    strokes: tuple[Stroke, ...]
    base_revision: int


def _pack(mask: np.ndarray) -> np.ndarray:
    return np.packbits(mask, axis=None)


def _unpack(bits: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return np.unpackbits(bits, count=shape[0] * shape[1]).reshape(shape).astype(bool)


def coerce_image(image: Any) -> np.ndarray:
    """``image`` (path, bytes, PIL, array or GeneratedImage) as uint8 RGB or RGBA ``(H, W, 3|4)``."""
    src = getattr(image, "image", image)  # GeneratedImage -> PIL
    arr = imaging.to_array(src)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"image must be RGB or RGBA, got an array of shape {arr.shape}")
    return arr


class MaskDocument:
    """A base image and the mask painted on it, with vector strokes and undo/redo.

    Parameters
    ----------
    image : path, bytes, PIL.Image, numpy array or GeneratedImage
        The base image.
    max_undo : int
        Undo steps kept (older ones are dropped; a step stores the mask as packed bits).

    Examples
    --------
    >>> import numpy as np
    >>> doc = MaskDocument(np.zeros((4, 8, 3), np.uint8))
    >>> doc.add_shape("rectangle", (0, 0, 4, 4)), float(doc.mask.mean())
    (True, 0.5)
    >>> doc.add_shape("rectangle", (0, 0, 2, 4), erase=True), float(doc.mask.mean())
    (True, 0.25)
    >>> doc.undo(), doc.undo(), int(doc.mask.sum()), doc.can_redo
    (True, True, 0, True)
    """

    def __init__(self, image: Any, *, max_undo: int = MAX_UNDO) -> None:
        self._image = coerce_image(image)
        self._mask = masks.empty(self._image.shape[:2])
        self._strokes: tuple[Stroke, ...] = ()
        self._undo: list[_State] = []
        self._redo: list[_State] = []
        self._max_undo = int(max_undo)
        self._callbacks: list[Callable[[bool], None]] = []
        self.base_revision = 0

    # ------------------------------------------------------------ reading
    @property
    def image(self) -> np.ndarray:
        """The current base image, uint8 ``(H, W, 3|4)`` (a copy)."""
        return self._image.copy()

    @property
    def image_view(self) -> np.ndarray:
        """The base image without a copy: read only, for drawing."""
        view = self._image.view()
        view.flags.writeable = False
        return view

    @property
    def mask(self) -> np.ndarray:
        """The mask, bool ``(H, W)``, True = regenerate (a copy)."""
        return self._mask.copy()

    @property
    def mask_view(self) -> np.ndarray:
        """The mask without a copy: read only, for drawing."""
        view = self._mask.view()
        view.flags.writeable = False
        return view

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the base image and the mask."""
        h, w = self._mask.shape
        return int(h), int(w)

    @property
    def strokes(self) -> tuple[Stroke, ...]:
        """Every change so far, oldest first (undo removes the last)."""
        return self._strokes

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def coverage(self) -> float:
        """Fraction of the image the mask regenerates (0 to 1)."""
        return float(self._mask.mean()) if self._mask.size else 0.0

    def hint(self) -> str:
        """What to tell the user about the mask as it is, or "" when it is ready to send.

        Examples
        --------
        >>> doc = MaskDocument(np.zeros((4, 4, 3), np.uint8))
        >>> doc.hint()
        'The mask is empty: paint the area to regenerate (or press Invert to regenerate everything).'
        """
        if not self._mask.any():
            return (
                "The mask is empty: paint the area to regenerate (or press Invert to regenerate everything)."
            )
        if self._mask.all():
            return (
                "The mask covers the whole image: everything will be regenerated "
                "(a variation or a new generation may suit better)."
            )
        return ""

    def sent_mask_rgba(self) -> np.ndarray:
        """The mask exactly as the API will receive it: the image as RGBA, alpha 0 where regenerated."""
        return masks.to_rgba(self._image, self._mask)

    def on_change(self, callback: Callable[[bool], None], remove: bool = False) -> None:
        """Call ``callback(image_changed)`` after every change (also undo and redo)."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    # ------------------------------------------------------------ history
    def _state(self) -> _State:
        return _State(self._image, _pack(self._mask), self.shape, self._strokes, self.base_revision)

    def _restore(self, state: _State) -> None:
        image_changed = state.image is not self._image
        self._image = state.image
        self._mask = _unpack(state.mask_bits, state.shape)
        self._strokes = state.strokes
        self.base_revision = state.base_revision
        self._changed(image_changed)

    def _commit(
        self, new_mask: np.ndarray, stroke: Stroke, *, image: np.ndarray | None = None, amend: bool = False
    ) -> None:
        self._redo.clear()
        if amend:
            # the gesture goes on (it left the canvas and came back): it replaces its own step
            self._mask = new_mask
            self._strokes = (*self._undo[-1].strokes, stroke)
            self._changed(False)
            return
        self._undo.append(self._state())
        del self._undo[: -self._max_undo]
        if image is not None:
            self._image = image
            self.base_revision += 1
        self._mask = new_mask
        self._strokes = (*self._strokes, stroke)
        self._changed(image is not None)

    def _start_from(self, amend: bool) -> np.ndarray:
        """The mask a change applies to: the current one, or the one before the step it amends."""
        if not amend:
            return self._mask
        if not self._undo:
            raise ValueError("nothing to amend: the last change is gone")
        top = self._undo[-1]
        return _unpack(top.mask_bits, top.shape)

    def _changed(self, image_changed: bool) -> None:
        for cb in list(self._callbacks):
            try:
                cb(image_changed)
            except Exception:  # noqa: BLE001 - a view's or user's callback must not break the document
                logger.exception("MaskDocument on_change callback failed")

    def undo(self) -> bool:
        """Undo the last change; False if there is nothing to undo."""
        if not self._undo:
            return False
        self._redo.append(self._state())
        self._restore(self._undo.pop())
        return True

    def redo(self) -> bool:
        """Redo the last undone change; False if there is nothing to redo."""
        if not self._redo:
            return False
        self._undo.append(self._state())
        self._restore(self._redo.pop())
        return True

    # ------------------------------------------------------------ changes
    def coerce_mask(self, value: Any) -> np.ndarray:
        """``value`` as a bool mask of this document's shape, or a ValueError that says how to fix it."""
        arr = np.asarray(value)
        shape = self.shape
        if arr.shape != shape:
            got = f"{arr.shape[1]}x{arr.shape[0]}" if arr.ndim == 2 else f"an array of shape {arr.shape}"
            raise ValueError(
                f"mask is {got} but image is {shape[1]}x{shape[0]}: "
                f"resize it with dalle_widgets.masks.resize(mask, {shape})"
            )
        if arr.dtype == bool:
            return arr.copy()
        if np.issubdtype(arr.dtype, np.integer) and np.isin(arr, (0, 1)).all():
            return arr.astype(bool)
        raise ValueError(
            f"mask must be a bool array (True = regenerate), got dtype {arr.dtype}; "
            "convert an image or alpha channel with dalle_widgets.masks.from_image(...)"
        )

    def set_mask(self, value: Any) -> None:
        """Replace the mask (bool or 0/1 array of the image's shape), one undo step."""
        self._commit(self.coerce_mask(value), Stroke("set"))

    def paint(
        self,
        points: Sequence[tuple[float, float]],
        size: float,
        *,
        erase: bool = False,
        breaks: Sequence[int] = (),
        amend: bool = False,
    ) -> None:
        """Paint (or erase) a brush stroke of diameter ``size`` through ``points``, one undo step.

        ``breaks`` lists the indices where the path starts again (the pointer left the
        canvas and came back with the button held). ``amend=True`` replaces the last step
        (the same gesture, continued) instead of adding one.
        """
        pts = tuple((float(x), float(y)) for x, y in points)
        if not pts:
            raise ValueError("a stroke needs at least one point")
        d = float(size)
        if not d > 0:
            raise ValueError(f"brush size must be positive, got {size}")
        cuts = sorted({int(b) for b in breaks if 0 < int(b) < len(pts)})
        painted = masks.empty(self.shape)
        for a, b in zip([0, *cuts], [*cuts, len(pts)], strict=True):
            painted |= masks.stroke(self.shape, pts[a:b], d / 2)
        start = self._start_from(amend)
        new = masks.subtract(start, painted) if erase else masks.union(start, painted)
        self._commit(new, Stroke("eraser" if erase else "brush", pts, d, False, tuple(cuts)), amend=amend)

    def add_shape(
        self, kind: str, box: tuple[float, float, float, float], *, erase: bool = False, amend: bool = False
    ) -> bool:
        """Add (or subtract) a ``rectangle`` or the ``ellipse`` inscribed in ``box``; one undo step.

        Returns False (and changes nothing) for a box without area: a click without a drag.
        """
        if kind not in ("rectangle", "ellipse"):
            raise ValueError(f"shape must be 'rectangle' or 'ellipse'; got {kind!r}")
        x0, y0, x1, y1 = (float(v) for v in box)
        x0, x1 = sorted((x0, x1))
        y0, y1 = sorted((y0, y1))
        ibox = (round(x0), round(y0), round(x1), round(y1))
        if ibox[2] <= ibox[0] or ibox[3] <= ibox[1]:
            return False
        fn = masks.rectangle if kind == "rectangle" else masks.ellipse
        region = fn(self.shape, ibox, clip=True)
        start = self._start_from(amend)
        new = masks.subtract(start, region) if erase else masks.union(start, region)
        self._commit(new, Stroke(kind, ((x0, y0), (x1, y1)), 0.0, erase), amend=amend)
        return True

    def add_lasso(
        self, points: Sequence[tuple[float, float]], *, erase: bool = False, amend: bool = False
    ) -> bool:
        """Add (or subtract) the polygon through ``points`` (closed, even-odd), one undo step.

        Returns False (and changes nothing) when the outline has fewer than three distinct
        points or encloses no pixel centre.
        """
        pts: list[tuple[float, float]] = []
        for x, y in points:
            p = (float(x), float(y))
            if not pts or pts[-1] != p:
                pts.append(p)
        if len(set(pts)) < 3:
            return False
        region = masks.polygon(self.shape, pts)
        if not region.any():
            return False
        start = self._start_from(amend)
        new = masks.subtract(start, region) if erase else masks.union(start, region)
        self._commit(new, Stroke("lasso", tuple(pts), 0.0, erase), amend=amend)
        return True

    def clear(self) -> None:
        """Empty the mask (one undo step)."""
        self._commit(masks.empty(self.shape), Stroke("clear"))

    def invert(self) -> None:
        """Swap the regenerated and kept areas (one undo step)."""
        self._commit(masks.invert(self._mask), Stroke("invert"))

    def grow(self, px: int) -> None:
        """Grow the mask by ``px`` pixels (one undo step)."""
        self._commit(masks.grow(self._mask, int(px)), Stroke("grow", (), float(px)))

    def shrink(self, px: int) -> None:
        """Shrink the mask by ``px`` pixels (one undo step)."""
        self._commit(masks.shrink(self._mask, int(px)), Stroke("shrink", (), float(px)))

    def replace_image(self, image: Any, *, stroke: Stroke | None = None) -> None:
        """Make ``image`` the new base (the mask clears), one undo step that brings both back.

        :attr:`base_revision` goes up by one. The image may have another size: the mask
        follows it.
        """
        new = coerce_image(image)
        self._commit(masks.empty(new.shape[:2]), stroke or Stroke("accept"), image=new)

    def blend(self, candidate: Any, feather: int) -> np.ndarray:
        """``candidate`` over the base inside the mask, the seam softened by ``feather`` px.

        Pixels outside the mask stay exactly the base's. A candidate of another size, or
        ``feather`` 0, is returned as it is (uint8 RGB/RGBA).
        """
        new = coerce_image(candidate)
        old = self._image
        if new.shape[:2] != old.shape[:2] or not feather:
            return new
        soft = masks.feather(self._mask, int(feather))
        w = np.where(self._mask, soft, 0.0).astype(np.float32)[..., None]
        base = old[..., :3].astype(np.float32)
        return (base * (1 - w) + new[..., :3].astype(np.float32) * w).round().astype(np.uint8)
