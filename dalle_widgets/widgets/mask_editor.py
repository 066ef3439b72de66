"""``MaskEditor``: paint the area to regenerate on the image, inline, then generate edits.

The mask is a value, not pixels on a canvas: every gesture (a brush stroke, a
rectangle, invert, grow...) is recorded as a vector :class:`Stroke` in image
coordinates and rasterised at full resolution by :mod:`dalle_widgets.masks`; the
canvas only shows it. ``.mask`` reads and writes the bool array (True = generate),
``.strokes`` lists the gestures, and ``undo()``/``redo()``/``clear()`` are the
twins of the buttons. Each change is one undo step, whatever its source.

Painting stays immediate because each mouse move sends only its new segment of the
stroke to a preview layer (one small message, whatever the stroke's length); the
mask layer is redrawn once, when the stroke ends. Generation runs as an asyncio task on the kernel's
loop (see :mod:`._tasks`), so the kernel stays free and Cancel works; candidates
land in a staging strip (accept / discard / more like this).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import numpy as np
from ipycanvas import MultiCanvas
from ipyevents import Event
from PIL import Image

from .. import imaging, masks
from ..models import DEFAULT_MODEL, lookup
from . import _client
from ._canvas import Viewport, hold, overlay_rgba, rgba
from ._static import StaticFallbackMixin, png_bytes
from ._tasks import TaskRunner

__all__ = ["MaskEditor", "Stroke"]

logger = logging.getLogger("dalle_widgets")

TOOLS = ("brush", "eraser", "rectangle", "ellipse")
MASK_COLOR = (255, 64, 64)
ERASE_COLOR = (64, 160, 255)
MAX_UNDO = 100
STAGING_THUMB_PX = 160


@dataclass(frozen=True)
class Stroke:
    """One change to the mask, in full-resolution image coordinates.

    Attributes
    ----------
    tool : str
        ``brush``, ``eraser``, ``rectangle``, ``ellipse`` (gestures) or ``invert``,
        ``grow``, ``shrink``, ``clear``, ``set`` (operations).
    points : tuple of (float, float)
        The path of a brush/eraser stroke, or the two corners of a rectangle/ellipse.
    size : float
        Brush diameter in image pixels, or the grow/shrink amount.
    """

    tool: str
    points: tuple[tuple[float, float], ...] = ()
    size: float = 0.0


@dataclass
class _State:
    image: np.ndarray
    mask_bits: np.ndarray
    shape: tuple[int, int]
    strokes: tuple[Stroke, ...]


def _pack(mask: np.ndarray) -> np.ndarray:
    return np.packbits(mask, axis=None)


def _unpack(bits: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return np.unpackbits(bits, count=shape[0] * shape[1]).reshape(shape).astype(bool)


class MaskEditor(StaticFallbackMixin, W.VBox):
    """Paint a mask on an image and generate inpainting candidates, inline in a notebook.

    Parameters
    ----------
    image : path, bytes, PIL.Image, numpy array or GeneratedImage
        The base image. Shown scaled to ``display_px``; strokes map to full resolution.
    client : ImagesClient or AsyncImagesClient, optional
        Who generates. Default: the shared async client (offline engine without a key).
    display_px : int
        Longest side of the canvas on screen, in pixels.
    prompt : str
        Initial text of the prompt box.
    brush_size : int
        Initial brush diameter in image pixels.

    Examples
    --------
    >>> import numpy as np
    >>> ed = MaskEditor(np.zeros((64, 64, 3), np.uint8), display_px=32)
    >>> ed.add_rectangle((0, 0, 32, 64)); float(ed.mask.mean())
    0.5
    >>> _ = ed.undo(); int(ed.mask.sum())
    0
    """

    def __init__(
        self,
        image: Any,
        *,
        client: Any | None = None,
        display_px: int = 512,
        prompt: str = "",
        brush_size: int = 64,
        n: int = 2,
        size: str | None = None,
    ) -> None:
        super().__init__()
        self._client = client
        self.display_px = int(display_px)
        self._image = self._coerce_image(image)
        self._source = image
        shape = self._image.shape[:2]
        self._mask = masks.empty(shape)
        self._strokes: tuple[Stroke, ...] = ()
        self._undo: list[_State] = []
        self._redo: list[_State] = []
        self._drag: dict[str, Any] | None = None
        self._change_callbacks: list[Callable[[MaskEditor], None]] = []
        self.staging: list[Any] = []
        self.history: list[np.ndarray] = []
        self.last_result: Any = None
        self.events_handled = 0
        self._viewport = Viewport(shape, self.display_px)
        self._build_ui(prompt, brush_size, n, size)
        self._tasks = TaskRunner(
            on_start=self._busy, on_finish=self._idle, on_error=self._show_error, on_cancel=self._cancelled
        )
        self._redraw_all()

    # ------------------------------------------------------------------ UI
    def _build_ui(self, prompt: str, brush_size: int, n: int, size: str | None) -> None:
        dh, dw = self._viewport.display
        self.canvas = MultiCanvas(3, width=dw, height=dh, layout=W.Layout(width=f"{dw}px", height=f"{dh}px"))
        self.canvas.add_class("dalle-mask-canvas")
        top = self.canvas[2]
        top.on_mouse_down(self.handle_mouse_down)
        top.on_mouse_move(self.handle_mouse_move)
        top.on_mouse_up(self.handle_mouse_up)
        top.on_mouse_out(self.handle_mouse_out)
        self.canvas[0].on_client_ready(self._draw_image_layer)
        self.canvas[1].on_client_ready(self._draw_mask_layer)

        self.tool_buttons = W.ToggleButtons(
            options=[("Brush", "brush"), ("Eraser", "eraser"), ("Rect", "rectangle"), ("Ellipse", "ellipse")],
            value="brush",
            tooltips=["Paint area to regenerate (B)", "Un-paint (E)", "Rectangle (R)", "Ellipse (O)"],
            style={"button_width": "64px"},
            layout=W.Layout(width="auto"),
        )
        self.size_slider = W.IntSlider(
            value=int(brush_size),
            min=2,
            max=512,
            step=2,
            description="Size",
            continuous_update=False,
            layout=W.Layout(width="220px"),
            style={"description_width": "36px"},
        )
        self.size_slider.add_class("dalle-brush-size")

        def button(label: str, tip: str, cb: Callable[[], Any], icon: str = "", cls: str = "") -> W.Button:
            b = W.Button(description=label, tooltip=tip, icon=icon, layout=W.Layout(width="auto"))
            b.on_click(lambda _b: cb())
            if cls:
                b.add_class(cls)
            return b

        self.undo_button = button("Undo", "Undo (Ctrl+Z)", self.undo, "undo", "dalle-undo")
        self.redo_button = button("Redo", "Redo (Ctrl+Shift+Z)", self.redo, "repeat", "dalle-redo")
        self.clear_button = button("Clear", "Clear the mask", self.clear, "", "dalle-clear")
        self.invert_button = button(
            "Invert", "Swap kept and regenerated areas (I)", self.invert, "", "dalle-invert"
        )
        self.amount = W.BoundedIntText(
            value=8, min=1, max=256, layout=W.Layout(width="56px"), tooltip="pixels to grow or shrink by"
        )
        self.grow_button = button(
            "Grow", "Grow the mask by the given pixels", lambda: self.grow(), "", "dalle-grow"
        )
        self.shrink_button = button(
            "Shrink", "Shrink the mask by the given pixels", lambda: self.shrink(), "", "dalle-shrink"
        )
        self.feather_slider = W.IntSlider(
            value=0,
            min=0,
            max=64,
            description="Feather",
            continuous_update=False,
            layout=W.Layout(width="200px"),
            style={"description_width": "50px"},
            tooltip="Soften the seam when a candidate is accepted (px)",
        )
        self.show_sent = W.ToggleButton(
            value=False,
            description="Show what will be sent",
            tooltip="The RGBA mask exactly as the API receives it: transparent (checkered) = regenerate",
            layout=W.Layout(width="auto"),
        )
        self.show_sent.add_class("dalle-show-sent")
        self.show_sent.observe(lambda _c: self._draw_mask_layer(), "value")
        self.feather_slider.observe(lambda _c: self._draw_mask_layer(), "value")

        self.info = W.HTML(layout=W.Layout(margin="0 0 0 4px"))
        self.status = W.HTML(layout=W.Layout(margin="0 0 0 4px", min_height="20px"))
        self.status.add_class("dalle-status")

        self.prompt = W.Textarea(
            value=prompt,
            placeholder="Describe the whole image, including the new part",
            layout=W.Layout(width=f"{max(dw - 40, 240)}px", height="52px"),
        )
        self.prompt.add_class("dalle-prompt")
        # the sizes and n of the model the client will use (a lazily made default client: dall-e-2's)
        spec = lookup(getattr(self._client, "model", None) or DEFAULT_MODEL, warn=False)
        h, w = self._image.shape[:2]
        own = f"{w}x{h}"
        self.n_box = W.BoundedIntText(
            value=int(n),
            min=1,
            max=spec.max_n,
            description="n",
            layout=W.Layout(width="110px"),
            style={"description_width": "16px"},
        )
        sizes = list(spec.sizes)
        self.size_dd = W.Dropdown(
            options=sizes,
            value=size or (own if own in sizes else spec.default_size),
            layout=W.Layout(width="120px"),
        )
        self._build_model_controls(spec)
        self.generate_button = button(
            "Generate", "Send image, mask and prompt", self.generate, "magic", "dalle-generate"
        )
        self.generate_button.button_style = "primary"
        self.cancel_button = button(
            "Cancel", "Stop the request in flight", self.cancel, "stop", "dalle-cancel"
        )
        self.cancel_button.disabled = True
        self.progress = W.HTML(layout=W.Layout(min_width="120px"))
        self.progress.add_class("dalle-progress")
        self.staging_box = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        self.staging_box.add_class("dalle-staging")

        tools = W.HBox([self.tool_buttons, self.size_slider], layout=W.Layout(flex_flow="row wrap"))
        ops = W.HBox(
            [
                self.undo_button,
                self.redo_button,
                self.clear_button,
                self.invert_button,
                self.grow_button,
                self.shrink_button,
                self.amount,
                self.feather_slider,
                self.show_sent,
            ],
            layout=W.Layout(flex_flow="row wrap"),
        )
        gen = W.HBox(
            [
                self.prompt,
                W.VBox(
                    [W.HBox([self.n_box, self.size_dd]), W.HBox([self.generate_button, self.cancel_button])]
                ),
                self.progress,
            ],
            layout=W.Layout(flex_flow="row wrap", align_items="center"),
        )
        self.children = (
            tools,
            ops,
            self.canvas,
            self.info,
            gen,
            self.model_controls,
            self.status,
            self.staging_box,
        )
        self.add_class("dalle-mask-editor")
        self._install_keys()

    def _build_model_controls(self, spec: Any) -> None:
        """Quality, background, output format and streamed previews, where the model offers a choice.

        Each control lists the values of the model table; a field with one value or none is not
        shown (dall-e-2 shows none of them). "default" leaves the field unset.
        """

        def choice(label: str, values: tuple[str, ...], cls: str) -> W.Dropdown:
            dd = W.Dropdown(
                options=["default", *values],
                value="default",
                description=label,
                layout=W.Layout(width="190px", display="" if len(values) > 1 else "none"),
                style={"description_width": "72px"},
            )
            dd.add_class(cls)
            return dd

        self.quality_dd = choice("Quality", spec.qualities, "dalle-quality")
        self.background_dd = choice("Background", spec.backgrounds, "dalle-background")
        formats = tuple(f for f in spec.output_formats if f in ("png", "jpeg", "webp"))
        self.format_dd = choice("Format", formats, "dalle-format")
        self.stream_box = W.Checkbox(
            value=bool(spec.streaming),
            description="Stream previews",
            indent=False,
            layout=W.Layout(width="150px", display="" if spec.streaming else "none"),
        )
        self.stream_box.add_class("dalle-stream")
        self.model_controls = W.HBox(
            [self.quality_dd, self.background_dd, self.format_dd, self.stream_box],
            layout=W.Layout(flex_flow="row wrap"),
        )
        #: previews of the images in flight, by index (shown at the end of the staging strip)
        self.previews: dict[int, Image.Image] = {}
        #: ``(type, index)`` of each streamed event shown, in order (previews, then finals)
        self.stream_log: list[tuple[str, int]] = []

    def request_options(self) -> dict[str, Any]:
        """The model fields the controls set (unset ones left out), and ``stream``/``partial_images``."""
        options = {
            "quality": self.quality_dd.value,
            "background": self.background_dd.value,
            "output_format": self.format_dd.value,
        }
        options = {k: v for k, v in options.items() if v != "default"}
        if self.stream_box.value and self.stream_box.layout.display != "none":
            options.update(stream=True, partial_images=2)
        return options

    def _install_keys(self) -> None:
        """Keyboard shortcuts while the pointer is over the canvas, never leaking to the notebook.

        ipyevents swallows (preventDefault + stopPropagation) watched keys while the
        pointer is over the canvas, so ``d d`` or ``x`` cannot delete or cut cells.
        """
        self._key_events = Event(source=self.canvas, watched_events=["keydown"], prevent_default_action=True)
        self._key_events.on_dom_event(self.handle_key)

    # ---------------------------------------------------------- properties
    @property
    def image(self) -> np.ndarray:
        """The current base image, uint8 ``(H, W, 3|4)`` (a copy)."""
        return self._image.copy()

    @property
    def mask(self) -> np.ndarray:
        """The mask, bool ``(H, W)``, True = regenerate (a copy). Settable; setting is one undo step."""
        return self._mask.copy()

    @mask.setter
    def mask(self, value: Any) -> None:
        self._commit(self._coerce_mask(value), Stroke("set"))

    @property
    def strokes(self) -> tuple[Stroke, ...]:
        """Every change since the last clear of history, oldest first."""
        return self._strokes

    @property
    def tool(self) -> str:
        return str(self.tool_buttons.value)

    @tool.setter
    def tool(self, value: str) -> None:
        if value not in TOOLS:
            raise ValueError(f"tool must be one of {', '.join(TOOLS)}; got {value!r}")
        self.tool_buttons.value = value

    @property
    def brush_size(self) -> int:
        return int(self.size_slider.value)

    @brush_size.setter
    def brush_size(self, value: int) -> None:
        self.size_slider.value = int(min(max(value, self.size_slider.min), self.size_slider.max))

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def on_change(self, callback: Callable[[MaskEditor], None], remove: bool = False) -> None:
        """Call ``callback(editor)`` after every change of the mask (or base image)."""
        if remove:
            self._change_callbacks.remove(callback)
        else:
            self._change_callbacks.append(callback)

    # ----------------------------------------------------------- coercion
    @staticmethod
    def _coerce_image(image: Any) -> np.ndarray:
        src = getattr(image, "image", image)  # GeneratedImage -> PIL
        arr = imaging.to_array(src)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise ValueError(f"image must be RGB or RGBA, got an array of shape {arr.shape}")
        return arr

    def _coerce_mask(self, value: Any) -> np.ndarray:
        arr = np.asarray(value)
        shape = self._mask.shape
        if arr.shape != shape:
            raise ValueError(
                f"mask is {arr.shape[1] if arr.ndim > 1 else '?'}x{arr.shape[0]} but image is "
                f"{shape[1]}x{shape[0]}: resize it with dalle_widgets.masks.resize(mask, {shape})"
            )
        if arr.dtype == bool:
            return arr.copy()
        if np.issubdtype(arr.dtype, np.integer) and np.isin(arr, (0, 1)).all():
            return arr.astype(bool)
        raise ValueError(
            f"mask must be a bool array (True = regenerate), got dtype {arr.dtype}; "
            "convert an image or alpha channel with dalle_widgets.masks.from_image(...)"
        )

    # --------------------------------------------------------- history
    def _state(self) -> _State:
        return _State(self._image, _pack(self._mask), self._mask.shape, self._strokes)

    def _restore(self, state: _State) -> None:
        image_changed = state.image is not self._image
        self._image = state.image
        self._mask = _unpack(state.mask_bits, state.shape)
        self._strokes = state.strokes
        if image_changed:
            self._set_viewport()
        self._changed(image_changed)

    def _commit(self, new_mask: np.ndarray, stroke: Stroke, *, image: np.ndarray | None = None) -> None:
        self._undo.append(self._state())
        del self._undo[:-MAX_UNDO]
        self._redo.clear()
        image_changed = image is not None
        if image is not None:
            self._image = image
            self._set_viewport()
        self._mask = new_mask
        self._strokes = (*self._strokes, stroke)
        self._changed(image_changed)

    def _changed(self, image_changed: bool = False) -> None:
        if image_changed:
            self._redraw_all()
        else:
            self._draw_mask_layer()
        for cb in list(self._change_callbacks):
            try:
                cb(self)
            except Exception:  # noqa: BLE001 - user callbacks must not break painting
                logger.exception("MaskEditor on_change callback failed")

    def undo(self) -> bool:
        """Undo the last change (stroke, button or ``.mask = ...``); False if nothing to undo."""
        if not self._undo:
            return False
        self._redo.append(self._state())
        self._restore(self._undo.pop())
        return True

    def redo(self) -> bool:
        """Redo the last undone change; False if nothing to redo."""
        if not self._redo:
            return False
        self._undo.append(self._state())
        self._restore(self._redo.pop())
        return True

    # ------------------------------------------------- programmatic gestures
    def paint(
        self, points: Sequence[tuple[float, float]], size: float | None = None, *, erase: bool = False
    ) -> None:
        """Paint (or erase) a stroke through ``points`` (image coordinates), one undo step."""
        pts = tuple((float(x), float(y)) for x, y in points)
        if not pts:
            raise ValueError("a stroke needs at least one point")
        d = float(size if size is not None else self.brush_size)
        if d <= 0:
            raise ValueError(f"brush size must be positive, got {d}")
        painted = masks.stroke(self._mask.shape, pts, d / 2)
        new = masks.subtract(self._mask, painted) if erase else masks.union(self._mask, painted)
        self._commit(new, Stroke("eraser" if erase else "brush", pts, d))

    def add_rectangle(self, box: tuple[float, float, float, float], *, erase: bool = False) -> None:
        """Add (or erase) the box ``(x0, y0, x1, y1)`` in image coordinates, one undo step."""
        self._add_shape("rectangle", box, erase)

    def add_ellipse(self, box: tuple[float, float, float, float], *, erase: bool = False) -> None:
        """Add (or erase) the ellipse inscribed in ``box``, one undo step."""
        self._add_shape("ellipse", box, erase)

    def _add_shape(self, kind: str, box: tuple[float, float, float, float], erase: bool) -> None:
        x0, y0, x1, y1 = (float(v) for v in box)
        x0, x1 = sorted((x0, x1))
        y0, y1 = sorted((y0, y1))
        ibox = (round(x0), round(y0), round(x1), round(y1))
        if ibox[2] <= ibox[0] or ibox[3] <= ibox[1]:
            return  # a click without a drag: nothing to add
        fn = masks.rectangle if kind == "rectangle" else masks.ellipse
        shape_mask = fn(self._mask.shape, ibox, clip=True)
        new = masks.subtract(self._mask, shape_mask) if erase else masks.union(self._mask, shape_mask)
        self._commit(new, Stroke(kind, ((x0, y0), (x1, y1)), 0.0))

    def clear(self) -> None:
        """Empty the mask (one undo step)."""
        self._commit(masks.empty(self._mask.shape), Stroke("clear"))

    def invert(self) -> None:
        """Swap the regenerated and kept areas (one undo step)."""
        self._commit(masks.invert(self._mask), Stroke("invert"))

    def grow(self, px: int | None = None) -> None:
        """Grow the mask by ``px`` pixels (default: the amount box), one undo step."""
        px = int(px if px is not None else self.amount.value)
        self._commit(masks.grow(self._mask, px), Stroke("grow", (), float(px)))

    def shrink(self, px: int | None = None) -> None:
        """Shrink the mask by ``px`` pixels (default: the amount box), one undo step."""
        px = int(px if px is not None else self.amount.value)
        self._commit(masks.shrink(self._mask, px), Stroke("shrink", (), float(px)))

    def sent_mask_rgba(self) -> np.ndarray:
        """The mask exactly as the API will receive it: the image as RGBA, alpha 0 where regenerated."""
        return masks.to_rgba(self._image, self._mask)

    # ------------------------------------------------------- mouse handlers
    def handle_mouse_down(self, x: float, y: float) -> None:
        """Start a gesture at canvas position ``(x, y)`` (what the canvas's mouse-down calls)."""
        self.events_handled += 1
        ix, iy = self._viewport.to_image(x, y)
        self._drag = {"tool": self.tool, "points": [(ix, iy)], "display": [(float(x), float(y))]}
        self._draw_preview()

    def handle_mouse_move(self, x: float, y: float) -> None:
        """Extend the gesture (or move the brush cursor): draws only the preview layer."""
        self.events_handled += 1
        if self._drag is None:
            self._draw_cursor(x, y)
            return
        ix, iy = self._viewport.to_image(x, y)
        drag = self._drag
        if drag["tool"] in ("rectangle", "ellipse"):
            drag["points"][1:] = [(ix, iy)]
            drag["display"][1:] = [(float(x), float(y))]
        elif drag["points"][-1] != (ix, iy):
            drag["points"].append((ix, iy))
            drag["display"].append((float(x), float(y)))
            self._draw_preview_segment(drag["display"][-2], drag["display"][-1])
            return
        else:
            return
        self._draw_preview()

    def handle_mouse_up(self, x: float, y: float) -> None:
        """Finish the gesture: rasterise it at full resolution into the mask (one undo step)."""
        self.events_handled += 1
        if self._drag is None:
            return
        self.handle_mouse_move(x, y)
        drag, self._drag = self._drag, None
        self._finish(drag)

    def handle_mouse_out(self, x: float, y: float) -> None:
        """Leaving the canvas ends a gesture where the pointer left (clipped to the image)."""
        if self._drag is None:
            with hold():
                self.canvas[2].clear()
            return
        self.handle_mouse_up(x, y)

    def _finish(self, drag: dict[str, Any]) -> None:
        tool, pts = drag["tool"], drag["points"]
        with hold():
            self.canvas[2].clear()
            if tool in ("brush", "eraser"):
                self.paint(pts, erase=tool == "eraser")
            elif len(pts) >= 2:
                (x0, y0), (x1, y1) = pts[0], pts[-1]
                self._add_shape(tool, (x0, y0, x1, y1), False)

    def handle_key(self, event: dict[str, Any]) -> None:
        """Keyboard shortcuts (from ipyevents): ``[``/``]`` size, B/E/R/O tools, I invert, Ctrl+Z/Y."""
        key = str(event.get("key", ""))
        ctrl = bool(event.get("ctrlKey") or event.get("metaKey"))
        shift = bool(event.get("shiftKey"))
        if ctrl and key.lower() == "z":
            self.redo() if shift else self.undo()
        elif ctrl and key.lower() == "y":
            self.redo()
        elif ctrl:
            return
        elif key == "[":
            self.brush_size = max(2, round(self.brush_size / 1.25))
        elif key == "]":
            self.brush_size = round(self.brush_size * 1.25) + 1
        elif key.lower() in ("b", "e", "r", "o"):
            self.tool = {"b": "brush", "e": "eraser", "r": "rectangle", "o": "ellipse"}[key.lower()]
        elif key.lower() == "i":
            self.invert()

    # ------------------------------------------------------------ drawing
    def _set_viewport(self) -> None:
        self._viewport = Viewport(self._image.shape[:2], self.display_px)
        dh, dw = self._viewport.display
        if (self.canvas.width, self.canvas.height) != (dw, dh):
            self.canvas.width, self.canvas.height = dw, dh
            self.canvas.layout.width, self.canvas.layout.height = f"{dw}px", f"{dh}px"

    def _display_array(self) -> np.ndarray:
        dh, dw = self._viewport.display
        im = imaging.to_pil(self._image)
        if im.size != (dw, dh):
            im = im.resize((dw, dh), Image.Resampling.LANCZOS)
        return rgba(np.asarray(im.convert("RGBA")))

    def _redraw_all(self) -> None:
        with hold():
            self._draw_image_layer()
            self._draw_mask_layer()
            self.canvas[2].clear()

    def _draw_image_layer(self) -> None:
        with hold():
            layer = self.canvas[0]
            layer.clear()
            layer.put_image_data(self._display_array(), 0, 0)

    def _draw_mask_layer(self) -> None:
        dh, dw = self._viewport.display
        small = masks.resize(self._mask, (dh, dw)) if self._mask.shape != (dh, dw) else self._mask
        with hold():
            layer = self.canvas[1]
            layer.clear()
            if self.show_sent.value:
                # exactly what is sent: the image with alpha 0 (checkered) where regenerated
                board = imaging.checkerboard((dh, dw), cell=12)
                shown = self._display_array().copy()
                shown[small] = np.dstack([board, np.full((dh, dw), 255, np.uint8)])[small]
                layer.put_image_data(shown, 0, 0)
            elif small.any():
                if self.feather_slider.value:
                    soft = masks.feather(self._mask, int(self.feather_slider.value))
                    soft_small = np.asarray(
                        Image.fromarray((soft * 255).astype(np.uint8), "L").resize(
                            (dw, dh), Image.Resampling.BILINEAR
                        )
                    )
                    over = np.zeros((dh, dw, 4), np.uint8)
                    over[..., :3] = MASK_COLOR
                    over[..., 3] = (soft_small.astype(np.float32) * 0.5).astype(np.uint8)
                    layer.put_image_data(over, 0, 0)
                else:
                    layer.put_image_data(overlay_rgba(small, MASK_COLOR, 128), 0, 0)
        self._update_info()

    def _draw_cursor(self, x: float, y: float) -> None:
        layer = self.canvas[2]
        with hold():
            layer.clear()
            if self.tool in ("brush", "eraser"):
                layer.stroke_style = "rgba(255,255,255,0.9)"
                layer.line_width = 1.5
                layer.stroke_circle(float(x), float(y), self._viewport.length_to_display(self.brush_size) / 2)

    def _brush_preview_style(self, tool: str) -> tuple[str, float]:
        color = MASK_COLOR if tool == "brush" else ERASE_COLOR
        width = self._viewport.length_to_display(self.brush_size)
        return f"rgba({color[0]},{color[1]},{color[2]},0.55)", width

    def _draw_preview_segment(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        """Add one segment to the brush preview: a message of constant size, however long the stroke.

        The segment's area is first cut out of the layer, then painted: where it overlaps
        the stroke so far (its round joint) the colour is replaced rather than blended
        twice, so the whole stroke keeps one even translucency, as a redraw would.
        """
        style, width = self._brush_preview_style(self._drag["tool"] if self._drag else "brush")
        layer = self.canvas[2]
        with hold():
            layer.line_width = width
            layer.line_cap = "round"
            layer.stroke_style = "black"
            layer.global_composite_operation = "destination-out"
            layer.stroke_line(start[0], start[1], end[0], end[1])
            layer.global_composite_operation = "source-over"
            layer.stroke_style = style
            layer.stroke_line(start[0], start[1], end[0], end[1])

    def _draw_preview(self) -> None:
        drag = self._drag
        if drag is None:
            return
        layer = self.canvas[2]
        pts = drag["display"]
        with hold():
            layer.clear()
            if drag["tool"] in ("brush", "eraser"):
                style, width = self._brush_preview_style(drag["tool"])
                layer.stroke_style = style
                layer.fill_style = style
                if len(pts) == 1:
                    layer.fill_circle(pts[0][0], pts[0][1], width / 2)
                else:
                    layer.line_width = width
                    layer.line_cap = "round"
                    layer.line_join = "round"
                    layer.stroke_lines(np.asarray(pts, dtype=np.float32))
            elif len(pts) >= 2:
                (x0, y0), (x1, y1) = pts[0], pts[-1]
                layer.stroke_style = "rgba(255,255,255,0.95)"
                layer.fill_style = f"rgba({MASK_COLOR[0]},{MASK_COLOR[1]},{MASK_COLOR[2]},0.35)"
                layer.line_width = 2
                bx, by, bw, bh = min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)
                if drag["tool"] == "rectangle":
                    layer.fill_rect(bx, by, bw, bh)
                    layer.stroke_rect(bx, by, bw, bh)
                else:
                    layer.begin_path()
                    layer.ellipse(bx + bw / 2, by + bh / 2, bw / 2, bh / 2, 0, 0, 2 * np.pi)
                    layer.fill()
                    layer.stroke()

    def _update_info(self) -> None:
        m = self._mask
        h, w = m.shape
        cov = float(m.mean()) if m.size else 0.0
        box = masks.bbox(m)
        where = f", box {box}" if box else ""
        self.info.value = (
            f"<span style='font-size:12px;color:#555'>{w}×{h} image · mask {cov:.1%} "
            f"to regenerate{where} · {len(self._strokes)} "
            f"change{'' if len(self._strokes) == 1 else 's'}</span>"
        )
        if hasattr(self, "undo_button"):
            self.undo_button.disabled = not self._undo
            self.redo_button.disabled = not self._redo

    # ----------------------------------------------------------- generation
    @property
    def running(self) -> bool:
        """True while a request is in flight."""
        return self._tasks.running

    def generate(self) -> Any:
        """Send image, mask and prompt as an edit (async task); candidates go to the staging strip.

        Returns the task's future, or None when the input was refused (the reason is
        in the status line). Bad input is refused here, before anything is sent.
        """
        prompt = self.prompt.value.strip()
        if not prompt:
            self._show_error("Write a prompt first: describe the whole image, including the new part.")
            return None
        if not self._mask.any():
            self._show_error(
                "The mask is empty: paint the area to regenerate (or press Invert to regenerate everything)."
            )
            return None
        if self._tasks.running:
            self._show_error("A request is already running: wait for it or press Cancel.")
            return None
        image, mask = self._image, self._mask.copy()
        n, size = int(self.n_box.value), str(self.size_dd.value)
        options = self.request_options()
        return self._tasks.start(
            lambda: self._run("edit", image, prompt=prompt, mask=mask, n=n, size=size, **options)
        )

    def more_like(self, index: int) -> Any:
        """Ask for variations of staged candidate ``index``; they join the staging strip."""
        cand = self.staging[index]
        n = int(self.n_box.value)
        return self._tasks.start(lambda: self._run("vary", cand, n=n, size=str(self.size_dd.value)))

    async def _run(self, op: str, image: Any, **kwargs: Any) -> Any:
        import asyncio

        client = _client.resolve(self._client)
        t0 = time.monotonic()
        label = "Generating" if op == "edit" else "Varying"
        if kwargs.pop("stream", False):
            first = len(self.staging)
            coro = _client.stream(client, op, image, on_event=lambda e: self._on_event(first, e), **kwargs)
        else:
            coro = _client.call(client, op, image, **kwargs)
        call = asyncio.ensure_future(coro)
        try:
            while not call.done():
                self.progress.value = (
                    f"<span class='dalle-spinner'>{label} "
                    f"{kwargs.get('n', 1)}… {time.monotonic() - t0:.1f} s</span>"
                )
                await asyncio.wait({call}, timeout=0.25)
            result = call.result()
        finally:
            if not call.done():
                call.cancel()
            if self.previews:
                self.previews.clear()
                self._render_staging()
        self.last_result = result
        known = {id(c) for c in self.staging}
        self.staging.extend(im for im in result if id(im) not in known)
        self._render_staging()
        self.progress.value = f"✓ {len(result)} in {time.monotonic() - t0:.1f} s"
        self._set_status("")
        return result

    def _on_event(self, first: int, event: Any) -> None:
        """A streamed event: a preview replaces the last one of its image; a final image replaces
        the preview in the staging strip (stored already, so it can be accepted at once)."""
        self.stream_log.append((event.type, event.index))
        if event.type == "partial":
            self.previews[event.index] = event.image
        else:
            self.previews.pop(event.index, None)
            self.staging.append(event.result)
        self._render_staging()

    def cancel(self) -> bool:
        """Cancel the request in flight (the widget stays usable)."""
        return self._tasks.cancel()

    def accept(self, index: int) -> None:
        """Make staged candidate ``index`` the new base image; the mask clears (undo brings both back)."""
        cand = self.staging[index]
        new = self._coerce_image(cand)
        old = self._image
        if new.shape[:2] == old.shape[:2] and self.feather_slider.value:
            # keep the unmasked pixels exact, soften the seam inside the mask
            soft = masks.feather(self._mask, int(self.feather_slider.value))
            w = np.where(self._mask, soft, 0.0).astype(np.float32)[..., None]
            base = old[..., :3].astype(np.float32)
            new = (base * (1 - w) + new[..., :3].astype(np.float32) * w).round().astype(np.uint8)
        self.history.append(old)
        del self.staging[index]
        self._commit(masks.empty(new.shape[:2]), Stroke("accept"), image=new)
        self._render_staging()

    def discard(self, index: int) -> None:
        """Drop staged candidate ``index``."""
        del self.staging[index]
        self._render_staging()

    def _render_staging(self) -> None:
        cards = []
        for i, cand in enumerate(self.staging):
            pil = getattr(cand, "image", None) or imaging.to_pil(cand)
            thumb = imaging.on_checkerboard(imaging.thumbnail(pil, STAGING_THUMB_PX))
            img = W.Image(
                value=png_bytes(thumb, max_bytes=40_000),
                format="png",
                layout=W.Layout(width=f"{thumb.size[0]}px"),
            )
            acc = W.Button(description="Accept", button_style="success", layout=W.Layout(width="auto"))
            dis = W.Button(description="Discard", layout=W.Layout(width="auto"))
            more = W.Button(
                description="More", tooltip="More like this (variations)", layout=W.Layout(width="auto")
            )
            acc.add_class("dalle-accept")
            dis.add_class("dalle-discard")
            more.add_class("dalle-more")
            acc.on_click(lambda _b, i=i: self._guard(self.accept, i))
            dis.on_click(lambda _b, i=i: self._guard(self.discard, i))
            more.on_click(lambda _b, i=i: self._guard(self.more_like, i))
            card = W.VBox(
                [img, W.HBox([acc, dis, more])],
                layout=W.Layout(margin="2px", border="1px solid #ddd", align_items="center"),
            )
            card.add_class("dalle-candidate")
            cards.append(card)
        for index, preview in sorted(self.previews.items()):
            thumb = imaging.on_checkerboard(imaging.thumbnail(preview, STAGING_THUMB_PX))
            img = W.Image(value=png_bytes(thumb, max_bytes=40_000), format="png")
            img.layout = W.Layout(width=f"{thumb.size[0]}px", opacity="0.85")
            card = W.VBox(
                [img, W.HTML(f"<i>preview of image {index + 1}…</i>")],
                layout=W.Layout(margin="2px", border="1px dashed #aaa", align_items="center"),
            )
            card.add_class("dalle-preview")
            cards.append(card)
        self.staging_box.children = tuple(cards)

    def _guard(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a button action; a failure becomes one line in the status, never a traceback."""
        from ._tasks import error_line

        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - shown to the user, widget stays usable
            self._show_error(error_line(exc))

    # ------------------------------------------------------------- status
    def _busy(self) -> None:
        self.generate_button.disabled = True
        self.cancel_button.disabled = False
        self._set_status("")

    def _idle(self) -> None:
        self.generate_button.disabled = False
        self.cancel_button.disabled = True

    def _cancelled(self) -> None:
        self.progress.value = "Cancelled"

    def _show_error(self, line: str) -> None:
        self.progress.value = ""
        self._set_status(f"<span style='color:#b00020'>⚠ {_escape(line)}</span>")

    def _set_status(self, html: str) -> None:
        self.status.value = html

    @property
    def error(self) -> str | None:
        """The last error line shown, or None."""
        return self._tasks.last_error

    # -------------------------------------------------------- static repr
    def _snapshot(self) -> Image.Image:
        return Image.fromarray(masks.preview(self._image[..., :3], self._mask, color=MASK_COLOR))

    def _summary(self) -> str:
        h, w = self._mask.shape
        return f"MaskEditor({w}x{h} image, mask {float(self._mask.mean()):.1%}, {len(self.staging)} staged)"


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)
