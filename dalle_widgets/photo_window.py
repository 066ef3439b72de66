"""Editing a photo of any size: a window around the mask, sized for the model, pasted back.

A model takes a few request sizes (``dall-e-2``: squares of 256, 512 or 1024; GPT image
models: flexible ``WxH`` within limits); a photo comes at its own size. Like A1111's
"inpaint only masked", the request is a **window** of the photo around the mask, widened
by ``context`` pixels of surrounding picture, with the aspect of a request size the model
takes. The window is cut (and resampled when its pixel size differs from the request's),
sent, and the result is pasted back into the full-resolution photo with a feathered seam
that starts at the mask's edge, so:

- the result has the photo's size;
- pixels outside the window are the photo's, untouched (and so is every pixel beyond
  the feather ramp around the mask);
- where the window reaches past the photo (a photo narrower than the request's aspect
  needs), the outside is filled with the photo's edge pixels as context and discarded
  on the way back.

Pure functions over PIL images and numpy arrays. Which request sizes a model takes is
the caller's: :func:`choose_window` gets it as ``fit``, a function from the window's
wanted ``(width, height)`` to a request size the model takes.

>>> import numpy as np
>>> from dalle_widgets.masks import rectangle
>>> mask = rectangle((1500, 2400), (1000, 600, 1200, 800))
>>> w = choose_window((2400, 1500), (1000, 600, 1200, 800), square_fit((256, 512, 1024)))
>>> w.box, w.size, w.scale
((844, 444, 1356, 956), (512, 512), 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import masks
from .imaging import to_pil
from .masks._validation import check_mask

__all__ = [
    "FRAMINGS",
    "Window",
    "choose_window",
    "cut",
    "describe_window",
    "fixed_fit",
    "frame_window",
    "masked_outside",
    "outline_window",
    "paste_back",
    "seam_weight",
    "square_fit",
]

#: Pixels of picture kept around the mask's box by default (A1111's "only masked padding").
DEFAULT_CONTEXT = 32
#: Width in photo pixels of the seam's ramp outside the mask by default.
DEFAULT_FEATHER = 16

#: The outline's colour (a yellow that reads over most photos), as the mask editor draws it.
OUTLINE_COLOR = (255, 214, 0)

#: How a photo the model cannot take at its own size is framed: a window around the mask,
#: the whole photo padded to the request's aspect, or its centred crop of that aspect.
FRAMINGS = ("window", "pad", "crop")

Fit = Callable[[int, int], tuple[int, int]]


@dataclass(frozen=True)
class Window:
    """Where a request's picture comes from in a photo, and the size it is sent at.

    ``box`` is ``(x0, y0, x1, y1)`` in the photo's pixels (``x1``, ``y1`` exclusive); it
    may reach past the photo. ``size`` is the request's ``(width, height)``;
    ``photo_size`` the photo's.
    """

    box: tuple[int, int, int, int]
    size: tuple[int, int]
    photo_size: tuple[int, int]

    @property
    def box_size(self) -> tuple[int, int]:
        return self.box[2] - self.box[0], self.box[3] - self.box[1]

    @property
    def scale(self) -> float:
        """Request pixels per photo pixel (1.0: cut as is, > 1: upscaled, < 1: downscaled)."""
        return round(self.size[0] / self.box_size[0], 4)

    @property
    def is_whole(self) -> bool:
        """True when the window is exactly the photo at its own size: nothing to cut or paste."""
        return self.box == (0, 0, *self.photo_size) and self.size == self.photo_size

    @property
    def request_size(self) -> str:
        return f"{self.size[0]}x{self.size[1]}"

    def as_dict(self) -> dict[str, Any]:
        """The window as JSON-ready facts, for provenance."""
        return {
            "box": list(self.box),
            "size": self.request_size,
            "photo_size": f"{self.photo_size[0]}x{self.photo_size[1]}",
            "scale": self.scale,
        }


def square_fit(sides: Sequence[int]) -> Fit:
    """A ``fit`` for a model that takes squares of ``sides`` (e.g. dall-e-2's 256, 512, 1024).

    The smallest square at least as big as the wanted window (the window is then cut
    at its own pixels, or grown to the square), else the biggest (the window is
    downscaled to it).

    >>> fit = square_fit((256, 512, 1024))
    >>> fit(300, 200), fit(100, 20), fit(3000, 1000)
    ((512, 512), (256, 256), (1024, 1024))
    """
    ordered = sorted(int(s) for s in sides)
    if not ordered or ordered[0] < 1:
        raise ValueError(f"sides must be positive integers; got {list(sides)!r}.")

    def fit(width: int, height: int) -> tuple[int, int]:
        want = max(width, height)
        side = next((s for s in ordered if s >= want), ordered[-1])
        return side, side

    return fit


def fixed_fit(sizes: Sequence[Sequence[int]]) -> Fit:
    """A ``fit`` for a model that takes only ``sizes`` (``(width, height)`` pairs).

    The sizes whose aspect is nearest the wanted window's; of those the smallest that
    holds the window at its own pixels, else the biggest.

    >>> fit = fixed_fit([(1024, 1024), (1536, 1024), (1024, 1536)])
    >>> fit(900, 500), fit(300, 310), fit(200, 700)
    ((1536, 1024), (1024, 1024), (1024, 1536))
    """
    pairs = sorted({_check_size(s, "sizes") for s in sizes}, key=lambda s: s[0] * s[1])
    if not pairs:
        raise ValueError("sizes is empty: give at least one (width, height).")

    def fit(width: int, height: int) -> tuple[int, int]:
        want = math.log(width / height)
        best = min(abs(math.log(w / h) - want) for w, h in pairs)
        same = [(w, h) for w, h in pairs if abs(math.log(w / h) - want) <= best + 1e-9]
        return next(((w, h) for w, h in same if w >= width and h >= height), same[-1])

    return fit


def _check_size(size: Any, name: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (width, height); got {size!r}.") from None
    if w < 1 or h < 1:
        raise ValueError(f"{name} must be positive; got {size!r}.")
    return w, h


def _place(center: float, length: int, limit: int) -> int:
    """The start of a span of ``length`` around ``center``, kept inside ``[0, limit)`` when it fits there."""
    lo, hi = min(0, limit - length), max(0, limit - length)
    return min(max(round(center - length / 2), lo), hi)


def choose_window(
    photo_size: Sequence[int],
    mask_box: Sequence[int] | None,
    fit: Fit,
    *,
    context: int = DEFAULT_CONTEXT,
) -> Window:
    """The window of a ``photo_size`` photo to send for a mask whose box is ``mask_box``.

    The mask's box is widened by ``context`` pixels on each side (within the photo),
    ``fit`` names the request size for it, and the window is the smallest box with
    that request's aspect around the widened box, grown towards the request's own
    pixel size when the photo has room (so nothing is resampled when it can be
    avoided). It stays inside the photo where it fits, and is centred on the mask
    otherwise. ``mask_box=None`` (no mask: the whole photo is edited) windows the
    whole photo.

    Parameters
    ----------
    photo_size : (width, height)
    mask_box : (x0, y0, x1, y1) or None
        As :func:`dalle_widgets.masks.bbox` gives it.
    fit : callable
        ``fit(width, height) -> (width, height)``: a request size the model takes for
        a window of about that size (see :func:`square_fit`).
    context : int
        Pixels of picture kept around the mask's box, >= 0.

    Examples
    --------
    A mask near a corner of an 800x600 photo, for squares of 256/512/1024:

    >>> choose_window((800, 600), (700, 20, 790, 100), square_fit((256, 512, 1024))).box
    (544, 0, 800, 256)
    """
    pw, ph = _check_size(photo_size, "photo_size")
    if isinstance(context, bool) or not isinstance(context, (int, np.integer)) or context < 0:
        raise ValueError(f"context must be an integer >= 0; got {context!r}.")
    if mask_box is None:
        x0, y0, x1, y1 = 0, 0, pw, ph
    else:
        x0, y0, x1, y1 = (int(v) for v in mask_box)
        if not (0 <= x0 < x1 <= pw and 0 <= y0 < y1 <= ph):
            raise ValueError(f"mask_box {tuple(mask_box)} is not a non-empty box inside a {pw}x{ph} photo.")
        x0, y0 = max(0, x0 - context), max(0, y0 - context)
        x1, y1 = min(pw, x1 + context), min(ph, y1 + context)
    need_w, need_h = x1 - x0, y1 - y0
    rw, rh = _check_size(fit(need_w, need_h), "fit(...)")
    aspect = rw / rh
    bw = max(float(need_w), need_h * aspect)  # the smallest box of the request's aspect around it
    bh = bw / aspect
    # Grow towards 1:1 pixels (the request's own size), as far as the photo has room.
    grow = min(rw / bw, max(1.0, min(pw / bw, ph / bh)))
    if grow > 1:
        bw, bh = bw * grow, bh * grow
    box_w = max(need_w, math.ceil(bw - 1e-6))
    box_h = box_w if rw == rh else max(need_h, 1, round(box_w / aspect))  # squares stay square
    bx = _place((x0 + x1) / 2, box_w, pw)
    by = _place((y0 + y1) / 2, box_h, ph)
    return Window((bx, by, bx + box_w, by + box_h), (rw, rh), (pw, ph))


def frame_window(
    photo_size: Sequence[int],
    mask_box: Sequence[int] | None,
    fit: Fit,
    framing: str = "window",
    *,
    context: int = DEFAULT_CONTEXT,
) -> Window:
    """The window to send for a ``framing`` of a ``photo_size`` photo (see :data:`FRAMINGS`).

    - ``"window"``: a window around the mask, as :func:`choose_window` chooses it (the
      most detail: the model sees the mask's surroundings at the photo's own pixels
      where it can);
    - ``"pad"``: the whole photo, centred in the smallest box of the request's aspect
      that holds it (the model sees everything; the padding repeats the edge and is
      discarded on the way back);
    - ``"crop"``: the largest centred box of the request's aspect inside the photo
      (the model sees the middle; what lies outside it is untouched).

    Every framing is pasted back into the photo, so the result keeps the photo's size.

    >>> fit = square_fit((256, 512, 1024))
    >>> frame_window((800, 600), None, fit, "pad").box
    (0, -100, 800, 700)
    >>> frame_window((800, 600), None, fit, "crop").box, frame_window((800, 600), None, fit, "crop").size
    ((100, 0, 700, 600), (1024, 1024))
    """
    if framing == "window":
        return choose_window(photo_size, mask_box, fit, context=context)
    if framing not in FRAMINGS:
        raise ValueError(f"framing must be one of {', '.join(FRAMINGS)}; got {framing!r}.")
    pw, ph = _check_size(photo_size, "photo_size")
    rw, rh = _check_size(fit(pw, ph), "fit(...)")
    aspect = rw / rh
    if framing == "pad":
        bw = max(float(pw), ph * aspect)
    else:
        bw = min(float(pw), ph * aspect)
    box_w = max(1, round(bw))
    box_h = box_w if rw == rh else max(1, round(box_w / aspect))
    size = _check_size(fit(box_w, box_h), "fit(...)")
    if size[0] * rh != size[1] * rw:  # the fit changed its mind about the aspect: keep the first
        size = (rw, rh)
    bx = _place(pw / 2, box_w, pw) if framing == "crop" else round((pw - box_w) / 2)
    by = _place(ph / 2, box_h, ph) if framing == "crop" else round((ph - box_h) / 2)
    return Window((bx, by, bx + box_w, by + box_h), size, (pw, ph))


def masked_outside(mask: np.ndarray, window: Window) -> int:
    """How many masked pixels of ``mask`` (the photo's) lie outside ``window``'s box.

    A window chosen around the mask covers it all (0); a centred crop may not, and those
    pixels would never be regenerated.

    >>> from dalle_widgets.masks import rectangle
    >>> w = frame_window((800, 600), None, square_fit((512,)), "crop")
    >>> masked_outside(rectangle((600, 800), (0, 0, 150, 10)), w)
    1000
    """
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    x0, y0, x1, y1 = window.box
    inside = int(np.count_nonzero(mask[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]))
    return int(np.count_nonzero(mask)) - inside


def describe_window(window: Window, framing: str = "window") -> str:
    """One line saying what a window sends and what comes back, for a status line.

    >>> w = Window((844, 444, 1356, 956), (512, 512), (2400, 1500))
    >>> describe_window(w)
    'sends a 512x512 window at (844, 444) of your 2400x1500 photo; the result keeps 2400x1500'
    >>> pad = frame_window((2400, 1500), None, fixed_fit([(1024, 1024)]), "pad")
    >>> print(describe_window(pad, "pad"))  # doctest: +NORMALIZE_WHITESPACE
    sends your whole 2400x1500 photo padded to a square, at 1024x1024 (scaled x0.43);
    the result keeps 2400x1500
    """
    pw, ph = window.photo_size
    bw, bh = window.box_size
    scaled = f" (scaled x{window.scale:.2g})" if window.scale != 1 else ""
    shape = "a square" if bw == bh else f"{bw}:{bh}"
    if framing == "pad":
        what = f"your whole {pw}x{ph} photo padded to {shape}, at {window.request_size}{scaled}"
    elif framing == "crop":
        what = (
            f"the centre {bw}x{bh} of your {pw}x{ph} photo at {window.request_size}{scaled}"
            " (outside it nothing changes)"
        )
    else:
        size = f"{bw}x{bh} window, sent at {window.request_size}{scaled}," if scaled else f"{bw}x{bh} window"
        article = "an" if size.startswith(("8", "11", "18")) else "a"  # "an 800x800"
        what = f"{article} {size} at ({window.box[0]}, {window.box[1]}) of your {pw}x{ph} photo"
    return f"sends {what}; the result keeps {pw}x{ph}"


def outline_window(
    picture: Image.Image,
    window: Window,
    *,
    color: tuple[int, int, int] = OUTLINE_COLOR,
    dash: tuple[int, int] = (8, 5),
    label: bool = True,
) -> Image.Image:
    """A copy of ``picture`` (the photo at any scale) with ``window`` outlined, dashed, as a canvas shows it.

    The box is scaled from the photo's pixels to the picture's; a box reaching past the
    photo (``"pad"``) is drawn along the picture's edge. Each dash has a dark shadow one
    pixel down and right so it reads over light and dark photos, and the request size is
    written inside the top-left corner ("sent: 512x512", over a dark patch). Used for the
    saved picture of a widget, so a reopened notebook shows the window the live canvas did.

    >>> pic = Image.new("RGB", (200, 150), "white")
    >>> w = Window((25, 25, 125, 125), (256, 256), (800, 600))
    >>> out = outline_window(pic, w, label=False)
    >>> out.getpixel((6, 6)), out.getpixel((50, 50)), out.size
    ((255, 214, 0), (255, 255, 255), (200, 150))
    """
    out = picture.convert("RGB")
    pw, ph = window.photo_size
    sx, sy = out.width / pw, out.height / ph
    x0, y0, x1, y1 = window.box
    left, top = max(0, round(x0 * sx)), max(0, round(y0 * sy))
    right, bottom = min(out.width - 2, round(x1 * sx) - 1), min(out.height - 2, round(y1 * sy) - 1)
    if right <= left or bottom <= top:
        return out
    draw = ImageDraw.Draw(out)
    on, off = (max(1, int(v)) for v in dash)
    for shift, ink in ((1, (0, 0, 0)), (0, color)):
        for a, b in _dashes(left, right, on, off):  # top and bottom edges
            draw.line([(a + shift, top + shift), (b + shift, top + shift)], fill=ink)
            draw.line([(a + shift, bottom + shift), (b + shift, bottom + shift)], fill=ink)
        for a, b in _dashes(top, bottom, on, off):  # left and right edges
            draw.line([(left + shift, a + shift), (left + shift, b + shift)], fill=ink)
            draw.line([(right + shift, a + shift), (right + shift, b + shift)], fill=ink)
    if label:
        text = f"sent: {window.request_size}"
        font = ImageFont.load_default()
        tx, ty = left + 4, top + 4
        bx0, by0, bx1, by1 = draw.textbbox((tx, ty), text, font=font)
        draw.rectangle((bx0 - 2, by0 - 2, bx1 + 2, by1 + 2), fill=(0, 0, 0))
        draw.text((tx, ty), text, fill=color, font=font)
    return out


def _dashes(start: int, stop: int, on: int, off: int) -> list[tuple[int, int]]:
    """The ``(first, last)`` pixels of each dash from ``start`` to ``stop`` (inclusive).

    >>> _dashes(0, 20, 8, 5)
    [(0, 7), (13, 20)]
    """
    return [(a, min(a + on - 1, stop)) for a in range(start, stop + 1, on + off)]


def _edge_padded(arr: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``arr[y0:y1, x0:x1]`` where the box may reach past ``arr``: the outside repeats the edge pixels."""
    h, w = arr.shape[:2]
    x0, y0, x1, y1 = box
    before = (max(0, -y0), max(0, -x0))
    after = (max(0, y1 - h), max(0, x1 - w))
    inner = arr[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
    if not any(before) and not any(after):
        return inner
    pads = [(before[0], after[0]), (before[1], after[1])] + [(0, 0)] * (arr.ndim - 2)
    if arr.dtype == bool:  # a mask: the outside is never masked
        return np.pad(inner, pads, mode="constant")
    return np.pad(inner, pads, mode="edge")


def cut(photo: Any, mask: np.ndarray | None, window: Window) -> tuple[Image.Image, np.ndarray | None]:
    """The window's picture and mask at the request's size: what is sent.

    The picture keeps the photo's mode (RGBA stays RGBA, so transparent pixels still
    mean "generate here"); pixels of the window past the photo repeat its edge and are
    never masked. The mask is resampled by area (True where at least half of a request
    pixel was masked).
    """
    img = to_pil(photo, name="photo")
    if img.size != window.photo_size:
        raise ValueError(
            f"photo is {img.size[0]}x{img.size[1]}; the window was chosen for {window.photo_size}."
        )
    arr = np.asarray(img)
    piece = Image.fromarray(np.ascontiguousarray(_edge_padded(arr, window.box)), img.mode)
    if piece.size != window.size:
        piece = piece.resize(window.size, Image.Resampling.LANCZOS)
    if mask is None:
        return piece, None
    mask = check_mask(mask)
    if mask.shape != (img.size[1], img.size[0]):
        raise ValueError(
            f"mask is {mask.shape[1]}x{mask.shape[0]}; the photo is {img.size[0]}x{img.size[1]}."
        )
    sub = _edge_padded(mask, window.box)
    if sub.shape != (window.size[1], window.size[0]):
        sub = masks.resize(sub, (window.size[1], window.size[0]))
    return piece, sub


def seam_weight(mask: np.ndarray, window: Window, feather: float = DEFAULT_FEATHER) -> np.ndarray:
    """How much of the result each photo pixel takes: float32 ``(H, W)`` in [0, 1].

    1 on the mask, a ramp of ``feather`` pixels outward from its edge, 0 beyond it and
    everywhere outside the window (so no seam can fall on the window's border while
    ``feather`` is at most the context around the mask).
    """
    mask = np.asarray(mask, dtype=bool)
    weight = masks.feather(masks.grow(mask, feather / 2), feather) if feather > 0 else mask.astype(np.float32)
    h, w = mask.shape
    x0, y0, x1, y1 = window.box
    inside = np.zeros((h, w), dtype=bool)
    inside[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)] = True
    weight[~inside] = 0.0
    weight[mask & inside] = 1.0
    return weight


def paste_back(
    photo: Any,
    result: Any,
    window: Window,
    mask: np.ndarray | None,
    *,
    feather: float = DEFAULT_FEATHER,
) -> Image.Image:
    """The photo with the window's ``result`` pasted back: the photo's size, a feathered seam.

    ``result`` (any size; resampled to the window's box) replaces the photo on the mask
    and fades into it over ``feather`` pixels outside the mask's edge; every other pixel
    is the photo's, exactly. ``mask=None`` (the whole window was edited) replaces the
    window's part of the photo. The result is RGB unless either image has transparency
    left in the output.
    """
    img = to_pil(photo, name="photo")
    res = to_pil(result, name="result")
    if img.size != window.photo_size:
        raise ValueError(
            f"photo is {img.size[0]}x{img.size[1]}; the window was chosen for {window.photo_size}."
        )
    pw, ph = img.size
    if res.size != window.box_size:
        res = res.resize(window.box_size, Image.Resampling.LANCZOS)
    x0, y0, _, _ = window.box
    # The result's part that lies on the photo, placed on a photo-sized canvas.
    placed = Image.new("RGBA", (pw, ph), (0, 0, 0, 0))
    placed.paste(res.convert("RGBA"), (x0, y0))
    if mask is None:
        mask = np.zeros((ph, pw), dtype=bool)
        mask[max(0, y0) : min(ph, window.box[3]), max(0, x0) : min(pw, window.box[2])] = True
        weight = mask.astype(np.float32)
    else:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (ph, pw):
            raise ValueError(f"mask is {mask.shape[1]}x{mask.shape[0]}; the photo is {pw}x{ph}.")
        weight = seam_weight(mask, window, feather)
    base = np.asarray(img.convert("RGBA"))
    top = np.asarray(placed)
    w = weight[..., None]
    blended = np.rint(base * (1.0 - w) + top * w).astype(np.uint8)
    keep = weight == 0  # exactly the photo's pixels, not a float round trip
    blended[keep] = base[keep]
    out = Image.fromarray(blended, "RGBA")
    return out if (blended[..., 3] < 255).any() else out.convert("RGB")
