"""Outpainting: extend an image past its borders, plan the frames, blend them in.

DALL-E 2 fills at most a 1024 px square per request, so a larger canvas is
filled frame by frame. This module is the pure part of that loop plus a thin
driver:

* :func:`extend` / :func:`extend_to` place the original on a bigger transparent
  canvas (an :class:`OutpaintCanvas`: image, mask of what is still unknown,
  where the original sits);
* :func:`plan` picks an ordered list of frames that covers every unknown pixel
  while each frame keeps enough known context (the rule is stated there); a frame
  is as large as one request can fill, so a canvas thinner than a request takes
  frames as thin as the canvas, padded to a square when sent;
* :func:`blend` pastes one frame's result back, feathering only over pixels that
  earlier frames generated; the original's pixels are never changed;
* :func:`run` / :func:`arun` drive a plan through a client's ``edit``.

Boxes are ``(x0, y0, x1, y1)`` with ``x1``/``y1`` exclusive; sizes are
``(width, height)`` like Pillow's and the API's ``"1536x1024"``.

>>> import numpy as np
>>> c = extend(np.zeros((1024, 1024, 3), np.uint8), left=512, right=512)
>>> c.size, c.box, round(float(c.mask.mean()), 3)
((2048, 1024), (512, 0, 1536, 1024), 0.5)
>>> plan(c)
[(0, 0, 1024, 1024), (1024, 0, 2048, 1024)]
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from . import imaging
from ._types import AnyImageClient, AsyncImageClient, SyncImageClient
from .errors import DalleWidgetsError
from .masks._validation import check_box, check_px
from .models import lookup

__all__ = [
    "FrameRecord",
    "OutpaintCanvas",
    "OutpaintIncomplete",
    "OutpaintResult",
    "arun",
    "blend",
    "draw_plan",
    "extend",
    "extend_to",
    "frame_shape",
    "lower_bound",
    "pending",
    "plan",
    "request_size",
    "run",
]

logger = logging.getLogger("dalle_widgets")

Box = tuple[int, int, int, int]

#: Largest canvas side accepted (a 8192x8192 RGBA canvas is 256 MB in memory).
MAX_CANVAS_SIDE = 8192
_SQUARE_SIZES = (256, 512, 1024)
_ANCHORS = {
    "center": (0.5, 0.5),
    "centre": (0.5, 0.5),
    "top-left": (0.0, 0.0),
    "top": (0.5, 0.0),
    "top-right": (1.0, 0.0),
    "left": (0.0, 0.5),
    "right": (1.0, 0.5),
    "bottom-left": (0.0, 1.0),
    "bottom": (0.5, 1.0),
    "bottom-right": (1.0, 1.0),
}


@dataclass(frozen=True, eq=False)
class OutpaintCanvas:
    """An image placed on a larger canvas, with what is still to be generated.

    Attributes
    ----------
    image : numpy.ndarray
        RGBA ``uint8 (H, W, 4)``: the original and every frame filled so far;
        alpha 0 (and colour 0) where nothing is known yet.
    mask : numpy.ndarray
        ``bool (H, W)``, True where pixels are still unknown (to generate).
    box : tuple of int
        Where the original sits, ``(x0, y0, x1, y1)``.
    fixed : numpy.ndarray
        ``bool (H, W)``, True on the original's pixels: nothing ever changes them.
    """

    image: np.ndarray
    mask: np.ndarray
    box: Box
    fixed: np.ndarray = field(repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the canvas."""
        return int(self.image.shape[1]), int(self.image.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the canvas."""
        return int(self.image.shape[0]), int(self.image.shape[1])

    @property
    def done(self) -> bool:
        """True once no pixel is left to generate."""
        return not bool(self.mask.any())

    def to_pil(self) -> Image.Image:
        """The canvas as an RGBA PIL image (unknown pixels transparent)."""
        return Image.fromarray(self.image, "RGBA")

    def __repr__(self) -> str:
        w, h = self.size
        return (
            f"OutpaintCanvas({w}x{h}, original at {self.box}, "
            f"{100 * float(self.mask.mean()):.1f}% left to generate)"
        )


def _margin(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
        raise ValueError(f"{name} must be a whole number of pixels >= 0; got {v!r}.")
    return int(v)


def extend(image: Any, left: int = 0, top: int = 0, right: int = 0, bottom: int = 0) -> OutpaintCanvas:
    """Put ``image`` on a canvas grown by the given margins (in px); the margins are to be generated.

    Pixels of the original that are fully transparent count as unknown too.

    Parameters
    ----------
    image : any accepted image input
    left, top, right, bottom : int
        Pixels to add on each side.

    Returns
    -------
    OutpaintCanvas

    Examples
    --------
    >>> import numpy as np
    >>> from dalle_widgets import masks
    >>> c = extend(np.full((2, 2, 3), 7, np.uint8), left=1, bottom=1)
    >>> c.size, c.box
    ((3, 3), (1, 0, 3, 2))
    >>> print(masks.render(c.mask))
    #--
    #--
    ###
    >>> extend(np.zeros((2, 2, 3), np.uint8), left=-4)
    Traceback (most recent call last):
    ...
    ValueError: left must be a whole number of pixels >= 0; got -4.
    """
    left, top, right, bottom = (
        _margin(v, n) for v, n in ((left, "left"), (top, "top"), (right, "right"), (bottom, "bottom"))
    )
    rgba = imaging.to_array(image, "RGBA")
    h, w = rgba.shape[:2]
    cw, ch = w + left + right, h + top + bottom
    if max(cw, ch) > MAX_CANVAS_SIDE:
        raise ValueError(
            f"the extended canvas would be {cw}x{ch} px; the largest side allowed is {MAX_CANVAS_SIDE} px: "
            "use smaller margins."
        )
    canvas = np.zeros((ch, cw, 4), dtype=np.uint8)
    canvas[top : top + h, left : left + w] = rgba
    transparent = rgba[..., 3] == 0
    canvas[top : top + h, left : left + w][transparent] = 0
    fixed = np.zeros((ch, cw), dtype=bool)
    fixed[top : top + h, left : left + w] = ~transparent
    return OutpaintCanvas(image=canvas, mask=~fixed, box=(left, top, left + w, top + h), fixed=fixed)


def _parse_size(size: Any) -> tuple[int, int]:
    if isinstance(size, str):
        parts = size.lower().split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"size must be 'WIDTHxHEIGHT' (e.g. '2048x1024'); got {size!r}.")
        return int(parts[0]), int(parts[1])
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        return int(size), int(size)
    try:
        w, h = size
    except (TypeError, ValueError):
        raise ValueError(f"size must be an int, (width, height) or 'WxH'; got {size!r}.") from None
    return _margin(w, "size width"), _margin(h, "size height")


def extend_to(image: Any, size: Any, anchor: str | tuple[float, float] = "center") -> OutpaintCanvas:
    """Grow ``image`` to a canvas of ``size``, placed by ``anchor``.

    Parameters
    ----------
    image : any accepted image input
    size : int, (width, height) or "WxH"
        The canvas size; at least the image's size on both axes.
    anchor : str or (fx, fy)
        Where the original goes: ``"center"``, ``"top-left"``, ``"top"``,
        ``"top-right"``, ``"left"``, ``"right"``, ``"bottom-left"``,
        ``"bottom"``, ``"bottom-right"``, or fractions in [0, 1] of the free
        space on the left and top.

    Examples
    --------
    >>> import numpy as np
    >>> extend_to(np.zeros((100, 100, 3), np.uint8), "300x200", anchor="left").box
    (0, 50, 100, 150)
    >>> extend_to(np.zeros((100, 100, 3), np.uint8), (300, 50))
    Traceback (most recent call last):
    ...
    ValueError: size 300x50 is smaller than the image (100x100): a canvas must be at least as large on \
both axes.
    """
    rgba = imaging.to_array(image, "RGBA")
    h, w = rgba.shape[:2]
    cw, ch = _parse_size(size)
    if cw < w or ch < h:
        raise ValueError(
            f"size {cw}x{ch} is smaller than the image ({w}x{h}): "
            "a canvas must be at least as large on both axes."
        )
    if isinstance(anchor, str):
        if anchor not in _ANCHORS:
            raise ValueError(
                f"anchor must be one of {sorted(set(_ANCHORS) - {'centre'})} or (fx, fy); got {anchor!r}."
            )
        fx, fy = _ANCHORS[anchor]
    else:
        try:
            fx, fy = (float(v) for v in anchor)
        except (TypeError, ValueError):
            raise ValueError(f"anchor must be a name or (fx, fy) fractions; got {anchor!r}.") from None
        if not (0 <= fx <= 1 and 0 <= fy <= 1):
            raise ValueError(f"anchor fractions must lie in [0, 1]; got {anchor!r}.")
    left, top = round((cw - w) * fx), round((ch - h) * fy)
    return extend(rgba, left=left, top=top, right=cw - w - left, bottom=ch - h - top)


def frame_shape(canvas: OutpaintCanvas, frame: Any = 1024) -> tuple[int, int]:
    """The ``(width, height)`` of the frames :func:`plan` lays on ``canvas``: ``frame`` px a side,
    cut to the canvas where it is narrower (one request fills a ``frame`` px square at most).

    >>> import numpy as np
    >>> frame_shape(extend(np.zeros((50, 2000, 3), np.uint8), left=512, right=512))
    (1024, 50)
    """
    if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) or frame < 16:
        raise ValueError(f"frame must be a whole number of pixels >= 16; got {frame!r}.")
    h, w = canvas.shape
    return int(min(frame, w)), int(min(frame, h))


def lower_bound(canvas: OutpaintCanvas, frame: int = 1024) -> int:
    """The fewest frames that could possibly cover the unknown area: ``ceil(unknown / frame area)``.

    >>> import numpy as np
    >>> lower_bound(extend(np.zeros((1024, 1024, 3), np.uint8), left=1024, right=1024))
    2
    """
    fw, fh = frame_shape(canvas, frame)
    return math.ceil(int(canvas.mask.sum()) / (fw * fh))


def _positions(length: int, side: int, step: int) -> np.ndarray:
    return np.unique(np.concatenate([np.arange(0, length - side + 1, step), [length - side]]))


def plan(
    canvas: OutpaintCanvas, frame: int = 1024, overlap: int | None = None, *, step: int | None = None
) -> list[Box]:
    """Choose the frames that fill a canvas, in the order they must run.

    Frames are boxes inside the canvas, of one of two shapes: squares of side
    ``min(frame, shorter canvas side)`` (a dall-e-2 request is square), or, on a
    canvas thinner than ``frame``, :func:`frame_shape` boxes (``frame`` px long,
    as thin as the canvas), which :func:`run` centres in a square request,
    keeping only the frame's part of the answer. Each frame is one paid request,
    so both are planned and the plan with fewer frames wins; on a tie, the
    squares (the smaller, cheaper request). A square canvas of at most ``frame``
    px takes exactly one frame, and a thin strip (3024x50) a few long frames
    instead of dozens of 50 px squares.

    **Context rule.** When a ``fw x fh`` frame is filled, at least
    ``overlap * min(fw, fh)`` of its pixels must already be known (the original,
    or filled by an earlier frame): as much context as a band ``overlap`` px wide
    across the frame. The default ``overlap = max(fw, fh) // 4`` keeps a quarter
    of every frame as context (256 px of a 1024 frame). If no placement can reach
    that (a small original on a large canvas), the frame goes where it sees the
    most known pixels.

    **Choice and order.** Greedy: among frame positions on a ``step`` px grid
    (default ``max(fw, fh) // 32``, plus the canvas edges) that meet the context
    rule, take the one covering the most still-unknown pixels; mark them known;
    repeat until none is left. So frames are ordered so that each comes after
    the frames that give it context, every unknown pixel is covered, and the
    count stays close to :func:`lower_bound` (``benchmarks/masks.py`` prints
    both for typical canvases).

    Parameters
    ----------
    canvas : OutpaintCanvas
    frame : int
        Largest frame side (1024 for dall-e-2).
    overlap : int, optional
        Context band width in px, ``0 <= overlap < shorter canvas side`` (and below
        ``frame``).
    step : int, optional
        Grid step for candidate positions.

    Returns
    -------
    list of (x0, y0, x1, y1)
        Empty when nothing is left to generate.

    Examples
    --------
    >>> import numpy as np
    >>> c = extend(np.zeros((512, 512, 3), np.uint8), right=256)
    >>> plan(c)
    [(256, 0, 768, 512)]
    >>> c = extend(np.zeros((1024, 1024, 3), np.uint8), right=2048)
    >>> [b[0] for b in plan(c)], lower_bound(c)
    ([768, 1536, 2048], 2)
    >>> plan(extend(np.zeros((50, 2000, 3), np.uint8), left=512, right=512))  # a thin strip
    [(0, 0, 1024, 50), (2000, 0, 3024, 50)]
    """
    fw, fh = frame_shape(canvas, frame)
    side = min(fw, fh)
    if overlap is not None and (
        isinstance(overlap, bool) or not isinstance(overlap, (int, np.integer)) or not 0 <= overlap < side
    ):
        raise ValueError(
            f"overlap must be a whole number of pixels in [0, {side}) for {side} px frames; got {overlap!r}."
        )
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1):
        raise ValueError(f"step must be a whole number of pixels >= 1; got {step!r}.")
    if (fw, fh) == (side, side):
        return _greedy(canvas, side, side, overlap, step)
    long_frames = _greedy(canvas, fw, fh, overlap, step)
    squares = _greedy(canvas, side, side, overlap, step, limit=len(long_frames))
    return squares if squares is not None else long_frames


def _greedy(
    canvas: OutpaintCanvas, fw: int, fh: int, overlap: int | None, step: int | None, limit: int | None = None
) -> Any:
    """:func:`plan`'s greedy choice with ``fw x fh`` frames (its arguments checked); None as soon as
    it takes more than ``limit`` frames (a plan that would lose: no need to finish it)."""
    long_side = max(fw, fh)
    overlap = long_side // 4 if overlap is None else int(overlap)
    step = max(1, long_side // 32) if step is None else int(step)
    unknown = canvas.mask.copy()
    h, w = unknown.shape
    xs, ys = _positions(w, fw, step), _positions(h, fh, step)
    need = overlap * min(fw, fh)
    area = fw * fh
    frames: list[Box] = []
    # Window sums on the candidate grid: prefix sums along each row (updated only for the
    # rows a frame touched), then only the candidate columns are summed down the rows.
    rows = np.zeros((h, w + 1), dtype=np.int32)
    np.cumsum(unknown, axis=1, dtype=np.int32, out=rows[:, 1:])
    per_row = rows[:, xs + fw] - rows[:, xs]  # (H, nx): unknown pixels of each row in each window
    cols = np.zeros((h + 1, len(xs)), dtype=np.int64)
    while True:
        np.cumsum(per_row, axis=0, out=cols[1:])
        new = cols[ys + fh] - cols[ys]  # (ny, nx)
        if not new.any():
            break
        known = area - new
        ok = (new > 0) & (known >= need)
        if ok.any():
            score = np.where(ok, new, -1)
        else:  # not enough context anywhere: go where the most is
            score = np.where(new > 0, known * (area + 1) + new, -1)
        if limit is not None and len(frames) >= limit:
            return None
        iy, ix = np.unravel_index(int(np.argmax(score)), score.shape)
        x0, y0 = int(xs[ix]), int(ys[iy])
        frames.append((x0, y0, x0 + fw, y0 + fh))
        unknown[y0 : y0 + fh, x0 : x0 + fw] = False
        np.cumsum(unknown[y0 : y0 + fh], axis=1, dtype=np.int32, out=rows[y0 : y0 + fh, 1:])
        per_row[y0 : y0 + fh] = rows[y0 : y0 + fh, xs + fw] - rows[y0 : y0 + fh, xs]
    return frames


def pending(canvas: OutpaintCanvas, frames: Sequence[Sequence[int]]) -> list[Box]:
    """The frames of ``frames`` that still hold unknown pixels of ``canvas``, in their order.

    What a fill still has to send: a cancelled or failed run resumes with these.

    Examples
    --------
    >>> import numpy as np
    >>> c = extend(np.zeros((4, 4, 3), np.uint8), right=4)
    >>> pending(c, [(0, 0, 4, 4), (4, 0, 8, 4)])
    [(4, 0, 8, 4)]
    """
    out = []
    for b in frames:
        x0, y0, x1, y1 = (int(v) for v in b)
        if canvas.mask[y0:y1, x0:x1].any():
            out.append((x0, y0, x1, y1))
    return out


def _check_frame_box(canvas: OutpaintCanvas, box: Any) -> Box:
    h, w = canvas.shape
    x0, y0, x1, y1 = check_box(box, (h, w), "frame_box")
    return x0, y0, x1, y1


def blend(
    canvas: OutpaintCanvas, frame_box: Sequence[int], generated: Any, feather: float = 32
) -> OutpaintCanvas:
    """Paste one frame's result into the canvas; return the updated canvas (the input is unchanged).

    Inside the frame: still-unknown pixels take the generated pixels; pixels
    that earlier frames generated are cross-faded towards the new result over
    ``feather`` px from the newly filled area, hiding the seam; the original's
    pixels are never changed (bit-identical).

    Parameters
    ----------
    canvas : OutpaintCanvas
    frame_box : (x0, y0, x1, y1)
    generated : any accepted image input
        The frame's result; resized to the frame if the request size differed.
    feather : float
        Width of the cross-fade into previously generated pixels, in px.

    Examples
    --------
    >>> import numpy as np
    >>> from dalle_widgets import masks
    >>> c = extend(np.zeros((4, 4, 3), np.uint8), right=4)
    >>> out = blend(c, (0, 0, 8, 4), np.full((4, 8, 3), 200, np.uint8))
    >>> out.done, out.image[0, :, 0].tolist()
    (True, [0, 0, 0, 0, 200, 200, 200, 200])
    """
    x0, y0, x1, y1 = _check_frame_box(canvas, frame_box)
    fw, fh = x1 - x0, y1 - y0
    fe = check_px(feather, "feather")
    gen = imaging.to_pil(generated, "RGB", name="generated")
    if gen.size != (fw, fh):
        gen = gen.resize((fw, fh), Image.Resampling.LANCZOS)
    g = np.asarray(gen, dtype=np.float32)
    unknown = canvas.mask[y0:y1, x0:x1]
    earlier = ~unknown & ~canvas.fixed[y0:y1, x0:x1]
    image = canvas.image.copy()
    region = image[y0:y1, x0:x1]
    region[unknown, :3] = np.asarray(gen)[unknown]
    region[unknown, 3] = 255
    if fe > 0 and unknown.any() and earlier.any():
        from scipy import ndimage

        dist = ndimage.distance_transform_edt(~unknown)
        weight = np.clip(1.0 - dist / (fe + 1.0), 0.0, 1.0)
        sel = earlier & (weight > 0)
        wsel = weight[sel][:, None]
        old = region[sel, :3].astype(np.float32)
        region[sel, :3] = np.round(wsel * g[sel] + (1.0 - wsel) * old).astype(np.uint8)
    mask = canvas.mask.copy()
    mask[y0:y1, x0:x1] = False
    return OutpaintCanvas(image=image, mask=mask, box=canvas.box, fixed=canvas.fixed)


def draw_plan(
    canvas: OutpaintCanvas,
    frames: Sequence[Sequence[int]] | None = None,
    *,
    color: tuple[int, int, int] = (255, 64, 64),
) -> Image.Image:
    """Picture of the canvas for display: unknown area checkered, frames outlined and numbered.

    Examples
    --------
    >>> import numpy as np
    >>> from dalle_widgets import masks
    >>> c = extend(np.zeros((64, 64, 3), np.uint8), right=64)
    >>> draw_plan(c, plan(c, frame=64)).size
    (128, 64)
    """
    rgba = canvas.to_pil()
    board = Image.fromarray(imaging.checkerboard(canvas.shape, cell=max(8, min(canvas.shape) // 32)), "RGB")
    board.paste(rgba, (0, 0), rgba)
    draw = ImageDraw.Draw(board)
    width = max(2, min(canvas.shape) // 256)
    boxes = [_check_frame_box(canvas, b) for b in (frames or [])]
    palette = [tuple(color), (64, 128, 255), (40, 180, 90), (240, 170, 30), (170, 80, 220)]
    font = ImageFont.load_default(size=max(12, min(canvas.shape) // 24))
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        col = palette[i % len(palette)]
        inset = (i % 3) * width  # overlapping frames share edges: stagger them so each stays visible
        draw.rectangle((x0 + inset, y0 + inset, x1 - 1 - inset, y1 - 1 - inset), outline=col, width=width)
        draw.text(
            (x0 + inset + 3 * width, y0 + inset + 2 * width),
            str(i + 1),
            fill=col,
            font=font,
            stroke_width=max(1, width // 2),
            stroke_fill=(255, 255, 255),
        )
    return board


# --------------------------------------------------------------------------- the driver


@dataclass
class FrameRecord:
    """One filled frame: where it went and what produced it."""

    index: int
    box: Box
    request_size: str
    info: dict[str, Any]
    path: str | None


@dataclass
class OutpaintResult:
    """What :func:`run` returns: the composite, the frames and their provenance.

    Attributes
    ----------
    canvas : OutpaintCanvas
        The final canvas (``canvas.mask`` shows anything left unfilled).
    frames : list of FrameRecord
        The frames filled, in order, each with the provenance the client recorded.
    planned : list of box
        Every frame the plan called for.
    path : Path or None
        Where the composite was stored (with the frames' provenance), if a store was available.
    error : BaseException or None
        What stopped the run early, if anything.
    """

    canvas: OutpaintCanvas
    frames: list[FrameRecord]
    planned: list[Box]
    path: Any = None
    error: BaseException | None = None

    @property
    def complete(self) -> bool:
        return self.canvas.done

    @property
    def image(self) -> Image.Image:
        """The composite: RGB when complete, else RGBA with the unfilled area transparent."""
        img = self.canvas.to_pil()
        return img.convert("RGB") if self.complete else img

    def to_numpy(self) -> np.ndarray:
        return np.asarray(self.image)

    def _repr_png_(self) -> bytes:
        return imaging.encode_png(imaging.thumbnail(self.image, 512), None)

    def __repr__(self) -> str:
        w, h = self.canvas.size
        state = "complete" if self.complete else f"incomplete ({len(self.frames)}/{len(self.planned)} frames)"
        return f"OutpaintResult({w}x{h}, {state}, path={str(self.path) if self.path else None!r})"


class OutpaintIncomplete(DalleWidgetsError):
    """A frame failed: the frames before it are kept. ``.result`` holds them; ``__cause__`` the failure.

    Resume with ``run(client, err.result.canvas, prompt)``: the canvas knows what is left.
    """

    def __init__(self, message: str, result: OutpaintResult) -> None:
        super().__init__(message)
        self.result = result


def request_size(frames: Sequence[Sequence[int]], model: str | None = None, size: str | None = None) -> int:
    """The side, in px, of the square each frame of ``frames`` is sent at.

    ``size`` when given (it must be square); else the smallest square size ``model``
    offers that is at least the largest frame's longer side (the largest it offers when
    none is), so no frame is sent smaller than it is; without a model, DALL-E 2's 256, 512
    and 1024. :func:`run` sends at this size and scales each answer back; the magic's
    ``--dry-run`` and the :class:`~dalle_widgets.widgets.OutpaintEditor` price it.

    Examples
    --------
    >>> request_size([(0, 0, 300, 300), (200, 0, 500, 300)])
    512
    >>> request_size([(0, 0, 1024, 1024)], model="dall-e-2", size="256x256")
    256
    >>> request_size([(0, 0, 64, 64)], size="256x512")
    Traceback (most recent call last):
    ...
    ValueError: size must be square for outpainting frames; got '256x512'.
    """
    if size is not None:
        w, h = _parse_size(size)
        if w != h:
            raise ValueError(f"size must be square for outpainting frames; got {size!r}.")
        return w
    side = max((max(int(b[2]) - int(b[0]), int(b[3]) - int(b[1])) for b in frames), default=0)
    sizes: Sequence[int] = _SQUARE_SIZES
    if model:
        square = sorted(
            int(x.split("x")[0]) for x in lookup(model).sizes if x != "auto" and len(set(x.split("x"))) == 1
        )
        if square:
            sizes = square
    for candidate in sizes:
        if candidate >= side:
            return candidate
    return sizes[-1]


def _square_of(box: Sequence[int]) -> tuple[int, int, int]:
    """The square a frame is sent in: its side (the frame's longer side) and the frame's offset in it.

    A frame that is not square (a canvas thinner than a request) sits centred in the square;
    the padding around it is asked for like unknown pixels and thrown away.
    """
    bw, bh = int(box[2]) - int(box[0]), int(box[3]) - int(box[1])
    side = max(bw, bh)
    return side, (side - bw) // 2, (side - bh) // 2


def _frame_part(image: Any, box: Sequence[int]) -> Any:
    """The frame's part of an answer (or a preview) made for :func:`_square_of`'s square, at any
    size; a square frame's answer is all of it, returned as it came."""
    side, ox, oy = _square_of(box)
    bw, bh = int(box[2]) - int(box[0]), int(box[3]) - int(box[1])
    if (bw, bh) == (side, side):
        return image
    pil = imaging.to_pil(image, name="generated")
    if pil.size != (side, side):
        pil = pil.resize((side, side), Image.Resampling.LANCZOS)
    return pil.crop((ox, oy, ox + bw, oy + bh))


def _frame_request(canvas: OutpaintCanvas, box: Box, side: int) -> tuple[Image.Image, np.ndarray]:
    """The frame's image (RGBA, transparent where unknown) and bool mask at the request size."""
    x0, y0, x1, y1 = box
    region = canvas.image[y0:y1, x0:x1]
    unknown = canvas.mask[y0:y1, x0:x1]
    square, ox, oy = _square_of(box)
    if (x1 - x0, y1 - y0) != (square, square):  # a thin frame, centred in its square; the pad is unknown
        padded = np.zeros((square, square, 4), np.uint8)
        padded[oy : oy + y1 - y0, ox : ox + x1 - x0] = region
        pad_unknown = np.ones((square, square), bool)
        pad_unknown[oy : oy + y1 - y0, ox : ox + x1 - x0] = unknown
        region, unknown = padded, pad_unknown
    if side != square:
        rgb = region[..., :3]
        if unknown.any() and not unknown.all():
            # Lanczos mixes each pixel with its neighbours: give the unknown pixels their nearest known
            # colour first, so the transparent black beside the known edge does not darken it.
            rows, cols = ndimage.distance_transform_edt(unknown, return_distances=False, return_indices=True)
            rgb = rgb[rows, cols]
        scaled = Image.fromarray(np.ascontiguousarray(rgb), "RGB").resize(
            (side, side), Image.Resampling.LANCZOS
        )
        # Any coverage counts, so a sliver of unknown pixels never vanishes when scaling down.
        soft = Image.fromarray(unknown.astype(np.float32), "F").resize((side, side), Image.Resampling.BOX)
        unknown = np.asarray(soft) > 1e-6
        rgba = np.dstack([np.asarray(scaled), np.full((side, side), 255, np.uint8)])
    else:
        rgba = region.copy()
    rgba[unknown] = 0
    rgba[~unknown, 3] = 255
    return Image.fromarray(rgba, "RGBA"), unknown


def _prepare_run(
    client: AnyImageClient,
    canvas: OutpaintCanvas,
    prompt: str,
    frame: int,
    overlap: int | None,
    frames: Sequence[Sequence[int]] | None,
    edit_kwargs: dict[str, Any],
) -> tuple[list[Box], int]:
    if not isinstance(canvas, OutpaintCanvas):
        raise ValueError(
            f"canvas must be an OutpaintCanvas (from outpaint.extend or extend_to); "
            f"got {type(canvas).__name__}."
        )
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt must be a non-empty string describing the whole extended picture.")
    if "n" in edit_kwargs or "mask" in edit_kwargs:
        raise ValueError(
            "run() sends one image per frame and builds each frame's mask itself: do not pass n= or mask=."
        )
    if frames is None:
        boxes = plan(canvas, frame=frame, overlap=overlap)
    else:
        boxes = [_check_frame_box(canvas, b) for b in frames]  # any shape: sent centred in a square
    if not boxes:
        return boxes, 0
    model = edit_kwargs.get("model") or getattr(client, "model", None)
    return boxes, request_size(boxes, model, edit_kwargs.get("size"))


def _after_frame(
    canvas: OutpaintCanvas, box: Box, result: Any, feather: float, index: int, request: int
) -> tuple[OutpaintCanvas, FrameRecord]:
    first = result[0]
    generated = _frame_part(getattr(first, "image", first), box)
    new = blend(canvas, box, generated, feather=feather)
    info = dict(getattr(first, "info", {}) or {})
    path = getattr(first, "path", None)
    record = FrameRecord(
        index=index,
        box=box,
        request_size=f"{request}x{request}",
        info=info,
        path=str(path) if path is not None else None,
    )
    return new, record


def _finish(client: AnyImageClient, result: OutpaintResult, prompt: str) -> OutpaintResult:
    """Store the composite (when the client has a store) with every frame's provenance."""
    store = getattr(client, "store", None)
    if store is None or not hasattr(store, "save") or not result.frames:
        return result
    info = {
        "operation": "outpaint",
        "prompt": prompt,
        "canvas_size": list(result.canvas.size),
        "original_box": list(result.canvas.box),
        "complete": result.complete,
        "frames": [
            {
                "box": list(f.box),
                "request_size": f.request_size,
                "path": f.path,
                "model": f.info.get("model"),
                "engine": f.info.get("engine"),
            }
            for f in result.frames
        ],
    }
    try:
        result.path = store.save(result.image, info)
    except Exception:  # the frames are on disk already; never lose the returned result over this
        logger.exception("outpaint: could not store the composite image")
    return result


def _fail(result: OutpaintResult, index: int, exc: BaseException, on_error: str) -> OutpaintResult:
    result.error = exc
    done = len(result.frames)
    msg = (
        f"outpaint stopped at frame {index + 1} of {len(result.planned)} ({type(exc).__name__}: {exc}); "
        f"{done} frame{'s' if done != 1 else ''} kept"
        + (f", composite stored at {result.path}" if result.path else "")
        + "; resume with run(client, err.result.canvas, prompt)"
    )
    logger.warning(msg)
    if on_error == "return":
        return result
    raise OutpaintIncomplete(msg, result) from exc


#: ``on_progress(done, total, canvas, record)``, called after each frame.
Progress = Callable[[int, int, OutpaintCanvas, FrameRecord], Any]
#: ``on_preview(frame_index, box, image)``, called with each streamed preview of a frame.
Preview = Callable[[int, tuple[int, ...], Image.Image], Any]
#: Previews asked for per frame when ``on_preview`` is given.
PREVIEWS_PER_FRAME = 2


@dataclass(frozen=True, eq=False)
class _Edit:
    """One frame's request, as the step function hands it to a driver to send."""

    image: Image.Image
    mask: np.ndarray
    kwargs: dict[str, Any]
    index: int = 0
    box: tuple[int, ...] = ()


#: What a step hands the driver: an edit to send, or a frame just blended in.
_Step = _Edit | FrameRecord


class _Run:
    """One outpainting run as a step function: all of its work but the requests, shared by both drivers.

    :meth:`step` advances the frame loop to its next request and returns it as an
    :class:`_Edit`, or a :class:`FrameRecord` when a frame has just been blended in (the
    driver reports progress), or the finished :class:`OutpaintResult`. The driver sends
    each edit and passes back the answer, or what sending raised. Everything a step
    does (planning, cutting a frame, blending, storing the composite) is CPU or disk
    work: :func:`run` calls it in the caller's thread, :func:`arun` in a worker thread,
    so the event loop only ever waits on the network.
    """

    def __init__(
        self,
        client: AnyImageClient,
        canvas: OutpaintCanvas,
        prompt: str,
        *,
        frame: int,
        overlap: int | None,
        frames: Sequence[Sequence[int]] | None,
        feather: float,
        on_error: str,
        edit_kwargs: dict[str, Any],
    ) -> None:
        if on_error not in ("raise", "return"):
            raise ValueError(f"on_error must be 'raise' or 'return'; got {on_error!r}.")
        self.client = client
        self.prompt = prompt
        self.feather = feather
        self.on_error = on_error
        self.edit_kwargs = edit_kwargs
        self._args = (canvas, frame, overlap, frames)
        self.result: OutpaintResult | None = None
        self._loop: Generator[_Step, Any, OutpaintResult] | None = None

    def step(
        self, answer: Any = None, error: BaseException | None = None
    ) -> _Edit | FrameRecord | OutpaintResult:
        """Advance to the next request, finished frame or result, given the last edit's answer or error."""
        if self._loop is None:
            self._loop = self._frames()
        try:
            return self._loop.throw(error) if error is not None else self._loop.send(answer)
        except StopIteration as done:
            return done.value

    def _frames(self) -> Generator[_Edit | FrameRecord, Any, OutpaintResult]:
        canvas, frame, overlap, frames = self._args
        boxes, request = _prepare_run(
            self.client, canvas, self.prompt, frame, overlap, frames, self.edit_kwargs
        )
        result = self.result = OutpaintResult(canvas=canvas, frames=[], planned=boxes)
        for i, box in enumerate(boxes):
            if not result.canvas.mask[box[1] : box[3], box[0] : box[2]].any():
                continue
            image, mask = _frame_request(result.canvas, box, request)
            logger.info("outpaint: frame %d of %d at %s", i + 1, len(boxes), box)
            try:
                kwargs = {"size": f"{request}x{request}", **self.edit_kwargs}
                answer = yield _Edit(image, mask, kwargs, i, tuple(int(v) for v in box))
                result.canvas, record = _after_frame(result.canvas, box, answer, self.feather, i, request)
            except BaseException as exc:
                _finish(
                    self.client, result, self.prompt
                )  # what is filled is stored before anything propagates
                if not isinstance(exc, Exception):
                    raise
                return _fail(result, i, exc, self.on_error)
            result.frames.append(record)
            yield record
        return _finish(self.client, result, self.prompt)

    def progress(self, record: FrameRecord) -> tuple[int, int, OutpaintCanvas, FrameRecord]:
        """The arguments of ``on_progress`` after ``record``'s frame."""
        assert self.result is not None
        return len(self.result.frames), len(self.result.planned), self.result.canvas, record


def run(
    client: SyncImageClient,
    canvas: OutpaintCanvas,
    prompt: str,
    *,
    frame: int = 1024,
    overlap: int | None = None,
    frames: Sequence[Sequence[int]] | None = None,
    feather: float = 32,
    on_progress: Progress | None = None,
    on_error: str = "raise",
    on_preview: Preview | None = None,
    **edit_kwargs: Any,
) -> OutpaintResult:
    """Fill a canvas frame by frame through ``client.edit`` (an :class:`ImagesClient`).

    Each frame of the plan (or of ``frames``) is sent as an edit: the frame's
    pixels with the unknown ones transparent, the frame's bool mask, ``n=1``
    and a square ``size`` (the smallest the model offers that is at least the
    frame side, unless ``size=`` is given; the result is scaled back). The
    result is blended in before the next frame is cut, so later frames see
    earlier ones as context.

    Parameters
    ----------
    client : ImagesClient
        Anything with ``edit(image, prompt, *, mask, n, size, ...)`` returning a
        sequence of images with ``.image``/``.info``/``.path``.
    canvas : OutpaintCanvas
    prompt : str
        Describes the whole extended picture.
    frame, overlap : int
        Passed to :func:`plan`.
    frames : list of box, optional
        An explicit plan instead.
    feather : float
        Seam cross-fade width for :func:`blend`.
    on_progress : callable, optional
        Called as ``on_progress(done, total, canvas, record)`` after each frame.
    on_error : {"raise", "return"}
        When a frame fails: raise :class:`OutpaintIncomplete` (its ``.result``
        holds the finished frames) or return the partial result with ``.error``
        set. Either way the composite so far is stored and nothing is lost.
    on_preview : callable, optional
        Stream each frame (a model that streams: the GPT image models) and call
        ``on_preview(frame_index, box, image)`` with each preview as it arrives;
        ``image`` is the preview of the frame's part of the request, ``box``
        the frame's place on the canvas. Previews are never stored.
    **edit_kwargs
        Passed to ``client.edit`` (``model``, ``size``, ``seed``, ``user``, ``cache``...).

    Returns
    -------
    OutpaintResult

    Examples
    --------
    Against the offline engine (no key, nothing leaves 127.0.0.1):

    >>> import tempfile
    >>> import numpy as np
    >>> from dalle_widgets.client import ImagesClient
    >>> from dalle_widgets.engine import start_background
    >>> engine = start_background()
    >>> canvas = extend(np.full((64, 64, 3), 120, np.uint8), right=64)
    >>> with ImagesClient(api_key=engine.token, base_url=engine.base_url,
    ...                   store=tempfile.mkdtemp()) as client:
    ...     result = run(client, canvas, "a quiet meadow", seed=1)
    >>> result.complete, result.image.size, [f.request_size for f in result.frames]
    (True, (128, 64), ['256x256'])
    """
    job = _Run(
        client,
        canvas,
        prompt,
        frame=frame,
        overlap=overlap,
        frames=frames,
        feather=feather,
        on_error=on_error,
        edit_kwargs=edit_kwargs,
    )
    step = job.step()
    while not isinstance(step, OutpaintResult):
        if isinstance(step, FrameRecord):
            if on_progress is not None:
                on_progress(*job.progress(step))
            step = job.step()
            continue
        try:
            if on_preview is None:
                answer = client.edit(step.image, prompt, mask=step.mask, n=1, **step.kwargs)
            else:
                answer = _streamed(client, step, prompt, on_preview)
        except BaseException as exc:  # the step function stores what is done, then raises or returns
            step = job.step(error=exc)
        else:
            step = job.step(answer)
    return step


def _streamed(client: SyncImageClient, step: _Edit, prompt: str, on_preview: Preview) -> Any:
    """One frame as a streamed edit: each preview to ``on_preview``, then the finished result."""
    events = client.edit(
        step.image, prompt, mask=step.mask, n=1, stream=True, partial_images=PREVIEWS_PER_FRAME, **step.kwargs
    )
    with events:
        for event in events:
            if event.type == "partial":
                on_preview(step.index, step.box, _frame_part(event.image, step.box))
    return events.result


async def _astreamed(client: AsyncImageClient, step: _Edit, prompt: str, on_preview: Preview) -> Any:
    """The async twin of :func:`_streamed`; ``on_preview`` may be a coroutine function."""
    events = await client.edit(
        step.image, prompt, mask=step.mask, n=1, stream=True, partial_images=PREVIEWS_PER_FRAME, **step.kwargs
    )
    try:
        async for event in events:
            if event.type == "partial":
                shown = on_preview(step.index, step.box, _frame_part(event.image, step.box))
                if inspect.isawaitable(shown):
                    await shown
    finally:
        await events.aclose()
    return events.result


async def arun(
    client: AsyncImageClient,
    canvas: OutpaintCanvas,
    prompt: str,
    *,
    frame: int = 1024,
    overlap: int | None = None,
    frames: Sequence[Sequence[int]] | None = None,
    feather: float = 32,
    on_progress: Progress | None = None,
    on_error: str = "raise",
    on_preview: Preview | None = None,
    **edit_kwargs: Any,
) -> OutpaintResult:
    """The async twin of :func:`run`, awaiting ``client.edit`` on an :class:`AsyncImagesClient`.

    Cancelling the task abandons the frame in flight; the frames already
    filled are stored as a composite before the cancellation propagates.
    ``on_progress`` may be a plain function or a coroutine function.

    Examples
    --------
    >>> import asyncio, tempfile
    >>> import numpy as np
    >>> from dalle_widgets.client import AsyncImagesClient
    >>> from dalle_widgets.engine import start_background
    >>> engine = start_background()
    >>> canvas = extend_to(np.full((48, 48, 3), 200, np.uint8), (64, 96), anchor="top")
    >>> async def fill():
    ...     async with AsyncImagesClient(api_key=engine.token, base_url=engine.base_url,
    ...                                  store=tempfile.mkdtemp()) as client:
    ...         return await arun(client, canvas, "a snowy field", seed=2)
    >>> result = asyncio.run(fill())
    >>> result.complete, result.image.size
    (True, (64, 96))
    """
    job = _Run(
        client,
        canvas,
        prompt,
        frame=frame,
        overlap=overlap,
        frames=frames,
        feather=feather,
        on_error=on_error,
        edit_kwargs=edit_kwargs,
    )
    step = await asyncio.to_thread(job.step)
    while not isinstance(step, OutpaintResult):
        if isinstance(step, FrameRecord):
            if on_progress is not None:
                ret = on_progress(*job.progress(step))
                if inspect.isawaitable(ret):
                    await ret
            step = await asyncio.to_thread(job.step)
            continue
        try:
            if on_preview is None:
                answer = await client.edit(step.image, prompt, mask=step.mask, n=1, **step.kwargs)
            else:
                answer = await _astreamed(client, step, prompt, on_preview)
        except Exception as exc:
            step = await asyncio.to_thread(job.step, None, exc)
        except BaseException as exc:
            # cancelled or interrupted: store what is filled right here, before the cancellation
            # propagates (awaiting a thread now could be cut short by a second cancellation)
            job.step(error=exc)
            raise
        else:
            step = await asyncio.to_thread(job.step, answer)
    return step
