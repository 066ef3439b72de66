"""``MaskEditor``: paint the area to regenerate on the image, inline, then generate edits.

The editor is a view of a :class:`~.mask_document.MaskDocument` (the base image,
the mask, the vector strokes, undo/redo): ``.mask`` reads and writes the bool
array (True = generate), ``.strokes`` lists the gestures, and
``undo()``/``redo()``/``clear()`` are the twins of the buttons. Each change is
one undo step, whatever its source.

Painting stays immediate because each mouse move sends only its new segment of
the stroke to a preview layer (one small message, whatever the stroke's length);
the mask layer is redrawn once, when the stroke ends. A stroke that leaves the
canvas and comes back with the button held goes on as the same stroke.
Generation runs as an asyncio task on the kernel's loop (see :mod:`._tasks`), so
the kernel stays free and Cancel works. Every press of Generate or More asks for
new images (the request cache is refreshed, never replayed). The candidates land
in a staging area (the model :mod:`.staging`, drawn by :mod:`.staging_view`):
grouped by run, newest first, each run labelled; hovering or clicking a candidate
previews it on the canvas (Before / After flips back), the arrow keys cycle,
Enter accepts, Delete discards.

A photo the model cannot take at its own size is sent through a window (Window,
Pad or Crop; :mod:`dalle_widgets.photo_window`), outlined on the canvas before
anything is sent. Zoom and pan (buttons, Ctrl/Cmd+wheel, middle-drag or Pan) are
:mod:`._zoom`'s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import ipywidgets as W
import numpy as np
from ipycanvas import MultiCanvas
from ipyevents import Event
from PIL import Image

from .. import imaging, mask_layer, masks
from .._types import FRAMING_MODES, MASK_TOOLS, AnyImageClient, FramingMode, MaskTool
from ..client._window import planned_window
from ..errors import DalleWidgetsError
from ..models import DEFAULT_MODEL, lookup
from ..photo_window import OUTLINE_COLOR, Window, describe_window, masked_outside, outline_window
from . import _client
from ._canvas import Viewport, hold, rgba
from ._keyguard import KeyGuard
from ._model_controls import ModelControls
from ._prompt_counter import PromptCounter
from ._shell import WidgetShell, escape
from ._static import StaticFallbackMixin
from ._tasks import error_line
from ._zoom import CanvasZoom, PanZoom, zoom_step
from .mask_document import SHAPE_TOOLS, MaskDocument, Stroke, coerce_image
from .references import ReferenceStrip
from .staging import Candidate, Run, Staging
from .staging_view import StagingView

__all__ = ["MaskEditor", "Stroke"]

logger = logging.getLogger("dalle_widgets")

TOOLS = MASK_TOOLS
TOOL_KEYS: dict[str, MaskTool] = {"b": "brush", "e": "eraser", "r": "rectangle", "o": "ellipse", "l": "lasso"}
MASK_COLOR = (255, 64, 64)
ERASE_COLOR = (64, 160, 255)
WINDOW_COLOR = "rgba({},{},{},0.95)".format(*OUTLINE_COLOR)  # the saved picture uses the same
_uids = iter(range(1, 1 << 62))
#: Where a window's outline is drawn on the canvas: its rectangle, its label's box, the label.
_Outline = tuple[tuple[float, ...], tuple[float, float, float, float], str]


class MaskEditor(WidgetShell, StaticFallbackMixin, W.VBox):
    """Paint a mask on an image and generate inpainting candidates, inline in a notebook.

    Parameters
    ----------
    image : path, bytes, PIL.Image, numpy array or GeneratedImage
        The base image. Shown scaled to ``display_px``; strokes map to full resolution.
    client : ImagesClient or AsyncImagesClient, optional
        Who generates. Default: the shared async client (offline engine without a key).
    display_px : int
        Longest side of the canvas at zoom 1, in canvas pixels; on screen the canvas also
        shrinks to the width of the output.
    prompt : str
        Initial text of the prompt box.
    brush_size : int
        Initial brush diameter in image pixels.
    n : int
        Candidates per Generate.
    size : str, optional
        Requested size (default: the image's own size when the model offers it).
    references : list of images, optional
        Extra input images sent with each edit (GPT image models take up to 16 inputs in
        all): the model draws on them, and the mask applies to the base image only. Shown
        as a strip of thumbnails with remove buttons (:class:`~.references.ReferenceStrip`).
    framing : {"window", "pad", "crop"}
        How a photo the model cannot take at its own size (any non-square photo for
        dall-e-2) is sent: a window around the mask (default), the whole photo padded to
        a square, or its centre square. Every framing is pasted back, so candidates keep
        the photo's size. The window is outlined on the canvas before anything is sent.

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
        client: AnyImageClient | None = None,
        display_px: int = 512,
        prompt: str = "",
        brush_size: int = 64,
        n: int = 2,
        size: str | None = None,
        references: Sequence[Any] = (),
        framing: FramingMode = "window",
    ) -> None:
        super().__init__()
        if framing not in FRAMING_MODES:
            raise ValueError(f"framing must be one of {', '.join(FRAMING_MODES)}; got {framing!r}")
        self._client = client
        self._references = references
        self.display_px = int(display_px)
        self._source = image
        self.doc = MaskDocument(self._load_base(image))
        self.doc.on_change(self._doc_changed)
        self._drag: dict[str, Any] | None = None
        self._left: dict[str, Any] | None = None  # a gesture that left the canvas with the button held
        self._early_enter: tuple[float, float] | None = None  # a re-entry seen before its leaving
        self._change_callbacks: list[Callable[[MaskEditor], None]] = []
        self.staging_area = Staging()
        self.history: list[np.ndarray] = []
        self.last_result: Any = None
        self.events_handled = 0
        self.selected: int | None = None
        self._previewing: int | None = None
        self._show_before = False
        self._uid = f"dalle-ed-{next(_uids)}"
        self._init_shell()
        self._build_ui(prompt, brush_size, n, size, framing)
        self._redraw_all()

    # ------------------------------------------------------------ base image
    def _load_base(self, image: Any) -> np.ndarray:
        """The one place a new base image comes in (construction and Accept go through here)."""
        return coerce_image(image)

    # ------------------------------------------------------------------ UI
    def _build_ui(self, prompt: str, brush_size: int, n: int, size: str | None, framing: str) -> None:
        dh, dw = Viewport(self.doc.shape, self.display_px).display
        self.canvas = MultiCanvas(3, width=dw, height=dh)
        self.canvas.add_class("dalle-mask-canvas")
        self._zoom = CanvasZoom(self.canvas, self.doc.shape, self.display_px)
        self._zoom.fit_layout()
        top = self.canvas[2]
        top.on_mouse_down(self.handle_mouse_down)
        top.on_mouse_move(self.handle_mouse_move)
        top.on_mouse_up(self.handle_mouse_up)
        top.on_mouse_out(self.handle_mouse_out)
        self.canvas.on_key_down(self._on_canvas_key)
        self.canvas[0].on_client_ready(self._draw_image_layer)
        self.canvas[1].on_client_ready(self._draw_mask_layer)
        self._enter_events = Event(source=self.canvas, watched_events=["mouseenter"])
        self._enter_events.on_dom_event(self._on_enter_event)
        self.frame = W.Box([self.canvas], layout=W.Layout(max_height="72vh", overflow="auto"))
        self.frame.add_class("dalle-canvas-frame")
        self.keyguard = KeyGuard(scope=self._uid, frame="dalle-canvas-frame", label=self._canvas_label())
        self.panzoom = PanZoom(scope=self._uid, frame="dalle-canvas-frame")
        self.panzoom.on_zoom(lambda d: self.guard(self.set_zoom, zoom_step(self.zoom, d)))

        self.tool_buttons = W.ToggleButtons(
            options=[
                ("Brush", "brush"),
                ("Erase", "eraser"),
                ("Rect", "rectangle"),
                ("Ellipse", "ellipse"),
                ("Lasso", "lasso"),
            ],
            value="brush",
            tooltips=[
                "Brush: paint the area to regenerate (B)",
                "Eraser: un-paint (E)",
                "Rectangle: drag a box (R)",
                "Ellipse: drag an ellipse (O)",
                "Lasso: trace an outline, it closes itself (L)",
            ],
            style={"button_width": "66px"},
            layout=W.Layout(width="auto"),
        )
        self.tool_buttons.add_class("dalle-tools")
        self.subtract = W.ToggleButton(
            value=False,
            description="Subtract",
            icon="minus",
            tooltip="Shapes and lasso remove from the mask instead of adding (-)",
            layout=W.Layout(width="auto"),
        )
        self.subtract.add_class("dalle-subtract")
        self.size_slider = W.IntSlider(
            value=int(brush_size),
            min=2,
            max=512,
            step=2,
            description="Size",
            continuous_update=False,
            layout=W.Layout(width="210px"),
            style={"description_width": "34px"},
            tooltip="Brush diameter in image pixels ([ and ])",
        )
        self.size_slider.add_class("dalle-brush-size")
        self.size_slider.observe(lambda _c: self._update_label(), "value")
        self.tool_buttons.observe(lambda _c: self._update_label(), "value")

        self.undo_button = self.button("Undo", "Undo (Ctrl+Z)", self.undo, "dalle-undo", icon="undo")
        self.redo_button = self.button("Redo", "Redo (Ctrl+Shift+Z)", self.redo, "dalle-redo", icon="repeat")
        self.clear_button = self.button("Clear", "Clear the mask", self.clear, "dalle-clear")
        self.invert_button = self.button(
            "Invert", "Swap kept and regenerated areas (I)", self.invert, "dalle-invert"
        )
        self.amount = W.BoundedIntText(
            value=8,
            min=1,
            max=256,
            layout=W.Layout(width="60px"),
            tooltip="Pixels to grow or shrink by",
            description="px",
            style={"description_width": "0px"},
        )
        self.amount.add_class("dalle-amount")
        self.grow_button = self.button("Grow", "Grow the mask by the given pixels", self.grow, "dalle-grow")
        self.shrink_button = self.button(
            "Shrink", "Shrink the mask by the given pixels", self.shrink, "dalle-shrink"
        )
        self.feather_slider = W.IntSlider(
            value=0,
            min=0,
            max=64,
            description="Feather",
            continuous_update=False,
            layout=W.Layout(width="210px"),
            style={"description_width": "50px"},
            tooltip="Soften the seam when a candidate is accepted (px)",
        )
        self.feather_slider.add_class("dalle-feather")
        self.show_sent = W.ToggleButton(
            value=False,
            description="Show what will be sent",
            tooltip="The RGBA mask exactly as the API receives it: transparent (checkered) = regenerate",
            layout=W.Layout(width="auto"),
        )
        self.show_sent.add_class("dalle-show-sent")
        self.show_sent.observe(lambda _c: self._draw_mask_layer(), "value")
        self.feather_slider.observe(lambda _c: self._draw_mask_layer(), "value")

        self.zoom_out_button = self.button(
            "Zoom out",
            "Smaller view",
            lambda: self.set_zoom(zoom_step(self.zoom, -1)),
            "dalle-zoom-out",
            icon="search-minus",
            compact=True,
        )
        self.zoom_fit_button = self.button(
            "Fit", "Fit the image to the width of the output", lambda: self.set_zoom(1.0), "dalle-zoom-fit"
        )
        self.zoom_in_button = self.button(
            "Zoom in",
            "Larger view (Ctrl+wheel over the canvas zooms at the pointer; middle-drag or Pan moves)",
            lambda: self.set_zoom(zoom_step(self.zoom, 1)),
            "dalle-zoom-in",
            icon="search-plus",
            compact=True,
        )
        self.pan_button = W.ToggleButton(
            value=False,
            description="Pan",
            icon="arrows",
            tooltip="Pan: drag the zoomed image instead of painting (H); the middle button always pans",
            layout=W.Layout(width="auto"),
        )
        self.pan_button.add_class("dalle-pan")
        self.pan_button.observe(lambda ch: setattr(self.panzoom, "pan", bool(ch["new"])), "value")
        self.info = W.HTML(layout=W.Layout(margin="0 0 0 4px"))
        self.info.add_class("dalle-info-line")
        self.hint = W.HTML(layout=W.Layout(margin="0 0 0 4px"))
        self.hint.add_class("dalle-mask-hint")

        self.prompt = W.Textarea(
            value=prompt,
            placeholder="Describe the whole image, including the new part",
            tooltip="Prompt: describe the whole image, including the new part",
            layout=W.Layout(width="calc(100% - 6px)", height="64px"),
        )
        self.prompt.add_class("dalle-prompt")
        # the sizes and n of the model the client will use (a lazily made default client: dall-e-2's)
        spec = lookup(getattr(self._client, "model", None) or DEFAULT_MODEL, warn=False)
        # a given client's model is known now: more references than it takes are refused here
        self.references_strip = ReferenceStrip(
            self._references,
            spec=spec if self._client is not None else None,
            fix=f"MaskEditor(..., client={type(self._client).__name__}(model={{model!r}}))",
        )
        h, w = self.doc.shape
        own = f"{w}x{h}"
        self.n_box = W.BoundedIntText(
            value=int(n),
            min=1,
            max=spec.max_n,
            description="n",
            tooltip="Candidates per Generate",
            layout=W.Layout(width="100px"),
            style={"description_width": "16px"},
        )
        self.n_box.add_class("dalle-n")
        # the photo's own size comes first (and is the default) when the model's rule takes it
        sizes = spec.size_choices((w, h))
        offered = [value for _label, value in sizes]
        self.size_dd = W.Dropdown(
            options=sizes,
            value=size or (own if own in offered else spec.default_size),
            tooltip="Size of the images to generate",
            layout=W.Layout(width="150px" if len(sizes) > len(spec.sizes) else "120px"),  # room for "(photo)"
        )
        self.size_dd.add_class("dalle-size")
        self._spec = spec
        self.counter = PromptCounter(self.prompt, spec.max_prompt_chars)
        self.framing_buttons = W.ToggleButtons(
            options=[("Window", "window"), ("Pad", "pad"), ("Crop", "crop")],
            value=framing,
            tooltips=[
                "Send a model-sized window around the mask; the result keeps your photo's size",
                "Send the whole photo padded to a square (scaled to the size); the result keeps its size",
                "Send the photo's centre square; outside it nothing changes",
            ],
            style={"button_width": "74px"},
            layout=W.Layout(width="auto"),
        )
        self.framing_buttons.add_class("dalle-framing")
        self.plan = W.HTML(layout=W.Layout(margin="0 0 0 4px"))
        self.plan.add_class("dalle-plan")
        self.framing_row = W.HBox(
            [W.HTML("<span style='margin:0 4px 0 2px'>Photo</span>"), self.framing_buttons],
            layout=W.Layout(flex_flow="row wrap", align_items="center"),
        )
        self.framing_buttons.observe(lambda _c: self._draw_mask_layer(), "value")
        self.size_dd.observe(lambda _c: self._draw_mask_layer(), "value")
        self._build_model_controls(spec)
        self.generate_button = self.button(
            "Generate",
            "Send image, mask and prompt: new candidates every time",
            self.generate,
            "dalle-generate",
            icon="magic",
            style="primary",
        )
        self.cancel_button = self.button(
            "Cancel", "Stop the request in flight", self.cancel, "dalle-cancel", icon="stop"
        )
        self.cancel_button.disabled = True
        self.progress = W.HTML(layout=W.Layout(min_width="120px"))
        self.progress.add_class("dalle-progress")

        # staging area: a toolbar acting on the selected candidate, then one row per run
        self.staging_view = StagingView(self)
        view = self.staging_view
        self.prev_button, self.next_button = view.prev_button, view.next_button
        self.before_after = view.before_after
        self.accept_selected, self.discard_selected = view.accept_selected, view.discard_selected
        self.discard_all_button = view.discard_all_button
        self.staging_title, self.staging_bar, self.staging_box = view.title, view.bar, view.box

        wrap = W.Layout(flex_flow="row wrap", align_items="center")
        side = W.VBox(
            [
                W.HBox([self.tool_buttons], layout=wrap),
                W.HBox([self.subtract, self.size_slider], layout=wrap),
                W.HBox(
                    [self.undo_button, self.redo_button, self.clear_button, self.invert_button], layout=wrap
                ),
                W.HBox([self.grow_button, self.shrink_button, self.amount], layout=wrap),
                W.HBox([self.feather_slider, self.show_sent], layout=wrap),
                self.prompt,
                self.counter,
                self.references_strip,
                W.HBox(
                    [self.n_box, W.HTML("<span style='margin:0 4px 0 10px'>Size</span>"), self.size_dd],
                    layout=wrap,
                ),
                self.framing_row,
                self.plan,
                self.model_controls,
                W.HBox([self.generate_button, self.cancel_button, self.progress], layout=wrap),
                self.status,
            ],
            layout=W.Layout(flex="1 1 350px", min_width="350px", max_width="560px", margin="0 0 0 8px"),
        )
        side.add_class("dalle-side")
        view_bar = W.HBox(
            [self.zoom_out_button, self.zoom_fit_button, self.zoom_in_button, self.pan_button, self.info],
            layout=wrap,
        )
        self.canvas_col = canvas_col = W.VBox(
            [self.frame, view_bar, self.hint], layout=W.Layout(flex="4 1 360px", min_width="240px")
        )
        main = W.HBox([canvas_col, side], layout=W.Layout(flex_flow="row wrap", align_items="flex-start"))
        self._zoom.column = canvas_col
        self._zoom.fit_layout()
        self.children = (self._theme, self.keyguard, self.panzoom, main, self.staging_bar, self.staging_box)
        self.add_class("dalle-mask-editor")
        self.add_class(self._uid)
        self._render_staging()

    def _build_model_controls(self, spec: Any) -> None:
        """Quality, background, output format and streamed previews, where the model offers a choice
        (the shared row of :mod:`._model_controls`; formats a canvas can take: png, jpeg, webp)."""
        self.model_controls = ModelControls(
            spec,
            formats=("png", "jpeg", "webp"),
            stream_tip="Show rough previews in the staging area while the images are made",
        )
        self.quality_dd = self.model_controls.quality_dd
        self.background_dd = self.model_controls.background_dd
        self.format_dd = self.model_controls.format_dd
        self.stream_box = self.model_controls.stream_box
        #: previews of the images in flight, by index (shown in their run's pending cards)
        self.previews: dict[int, Image.Image] = {}
        #: ``(type, index)`` of each streamed event shown, in order (previews, then finals)
        self.stream_log: list[tuple[str, int]] = []

    def request_options(self) -> dict[str, Any]:
        """The model fields the controls set (unset ones left out), and ``stream``/``partial_images``."""
        return self.model_controls.options()

    def _canvas_label(self) -> str:
        h, w = self.doc.shape
        tool = self.tool_buttons.value if hasattr(self, "tool_buttons") else "brush"
        return (
            f"Mask canvas, {w}×{h} image, tool {tool}"
            ": paint with the mouse; keys B E R O L tools, [ ] size, H pan, I invert, Ctrl+Z undo, "
            "Left/Right candidates, Enter accept, Esc or Tab to leave"
        )

    def _update_label(self) -> None:
        if hasattr(self, "keyguard"):
            self.keyguard.label = self._canvas_label()

    # ---------------------------------------------------------- properties
    @property
    def image(self) -> np.ndarray:
        """The current base image, uint8 ``(H, W, 3|4)`` (a copy)."""
        return self.doc.image

    @property
    def mask(self) -> np.ndarray:
        """The mask, bool ``(H, W)``, True = regenerate (a copy). Settable; setting is one undo step."""
        return self.doc.mask

    @mask.setter
    def mask(self, value: Any) -> None:
        self.doc.set_mask(value)

    @property
    def strokes(self) -> tuple[Stroke, ...]:
        """Every change so far, oldest first."""
        return self.doc.strokes

    @property
    def tool(self) -> MaskTool:
        return cast(MaskTool, str(self.tool_buttons.value))  # the buttons offer MASK_TOOLS only

    @tool.setter
    def tool(self, value: MaskTool) -> None:
        if value not in TOOLS:
            raise ValueError(f"tool must be one of {', '.join(TOOLS)}; got {value!r}")
        self.tool_buttons.value = value

    @property
    def framing(self) -> FramingMode:
        """How a photo the model cannot take at its own size is sent: window, pad or crop."""
        return cast(FramingMode, str(self.framing_buttons.value))  # the buttons offer FRAMING_MODES only

    @framing.setter
    def framing(self, value: FramingMode) -> None:
        if value not in FRAMING_MODES:
            raise ValueError(f"framing must be one of {', '.join(FRAMING_MODES)}; got {value!r}")
        self.framing_buttons.value = value

    @property
    def send_window(self) -> Window | None:
        """The window of the photo that Generate will send (None: the image goes as it is).

        The client's own rule (:func:`dalle_widgets.client._window.planned_window`) for the
        current mask, size and :attr:`framing`; it is outlined on the canvas.
        """
        h, w = self.doc.shape
        box = masks.bbox(self.doc.mask_view)
        return planned_window(self._spec, (w, h), box, size=str(self.size_dd.value), framing=self.framing)

    def send_plan(self) -> str:
        """One line saying what Generate will send and what size the result has."""
        h, w = self.doc.shape
        window = self.send_window
        if window is not None:
            text = describe_window(window, self.framing)
            if self.framing == "window" and not self.doc.mask_view.any():
                text = (
                    f"Paint where to regenerate: a {window.request_size} window around it is sent; "
                    f"the result keeps {w}x{h}"
                )
            outside = masked_outside(self.doc.mask_view, window) if self.framing == "crop" else 0
            if outside:
                text += f". {outside} masked pixels lie outside the centre square: use Window or Pad"
            return text[0].upper() + text[1:]
        size, own = str(self.size_dd.value), f"{w}x{h}"
        sends = f"Sends your {own} image as it is; "
        if size == own:
            return sends + f"the result keeps {own}"
        if "x" not in size:
            return sends + f"the model picks the result's size ({size})"
        keep = f" (pick {own} to keep it)" if own in dict(self.size_dd.options).values() else ""
        return sends + f"the result is {size}: Accept makes the base {size}{keep}"

    @property
    def brush_size(self) -> int:
        return int(self.size_slider.value)

    @brush_size.setter
    def brush_size(self, value: int) -> None:
        self.size_slider.value = int(min(max(value, self.size_slider.min), self.size_slider.max))

    @property
    def can_undo(self) -> bool:
        return self.doc.can_undo

    @property
    def can_redo(self) -> bool:
        return self.doc.can_redo

    @property
    def staging(self) -> list[Any]:
        """The staged candidate images in display order (newest run first); a new list."""
        return self.staging_area.images()

    def on_change(self, callback: Callable[[MaskEditor], None], remove: bool = False) -> None:
        """Call ``callback(editor)`` after every change of the mask (or base image)."""
        if remove:
            self._change_callbacks.remove(callback)
        else:
            self._change_callbacks.append(callback)

    # ------------------------------------------------------------ document
    def _doc_changed(self, image_changed: bool) -> None:
        if image_changed:
            self._set_viewport()
            self._redraw_all()
            self._render_staging()  # stale marks follow the base
            self._update_label()
        else:
            drawn = getattr(self, "_drawn_layer", None)
            self._draw_mask_layer(previous=drawn[0] if drawn is not None else None)
        self._static_changed()  # the saved picture shows the edits
        for cb in list(self._change_callbacks):
            try:
                cb(self)
            except Exception:  # noqa: BLE001 - user callbacks must not break painting
                logger.exception("MaskEditor on_change callback failed")

    def undo(self) -> bool:
        """Undo the last change (stroke, button or ``.mask = ...``); False if nothing to undo."""
        return self.doc.undo()

    def redo(self) -> bool:
        """Redo the last undone change; False if nothing to redo."""
        return self.doc.redo()

    def paint(
        self, points: Sequence[tuple[float, float]], size: float | None = None, *, erase: bool = False
    ) -> None:
        """Paint (or erase) a stroke through ``points`` (image coordinates), one undo step."""
        self.doc.paint(points, float(size if size is not None else self.brush_size), erase=erase)

    def add_rectangle(self, box: tuple[float, float, float, float], *, erase: bool = False) -> None:
        """Add (or subtract) the box ``(x0, y0, x1, y1)`` in image coordinates, one undo step."""
        self.doc.add_shape("rectangle", box, erase=erase)

    def add_ellipse(self, box: tuple[float, float, float, float], *, erase: bool = False) -> None:
        """Add (or subtract) the ellipse inscribed in ``box``, one undo step."""
        self.doc.add_shape("ellipse", box, erase=erase)

    def add_lasso(self, points: Sequence[tuple[float, float]], *, erase: bool = False) -> None:
        """Add (or subtract) the polygon through ``points`` (image coordinates), one undo step."""
        self.doc.add_lasso(points, erase=erase)

    def clear(self) -> None:
        """Empty the mask (one undo step)."""
        self.doc.clear()

    def invert(self) -> None:
        """Swap the regenerated and kept areas (one undo step)."""
        self.doc.invert()

    def grow(self, px: int | None = None) -> None:
        """Grow the mask by ``px`` pixels (default: the amount box), one undo step."""
        self.doc.grow(int(px if px is not None else self.amount.value))

    def shrink(self, px: int | None = None) -> None:
        """Shrink the mask by ``px`` pixels (default: the amount box), one undo step."""
        self.doc.shrink(int(px if px is not None else self.amount.value))

    def sent_mask_rgba(self) -> np.ndarray:
        """The mask exactly as the API will receive it: the image as RGBA, alpha 0 where regenerated."""
        return self.doc.sent_mask_rgba()

    # ------------------------------------------------------- mouse handlers
    def handle_mouse_down(self, x: float, y: float) -> None:
        """Start a gesture at canvas position ``(x, y)`` (what the canvas's mouse-down calls)."""
        self.events_handled += 1
        self._left = self._early_enter = None
        if self._previewing is not None:
            self.end_preview()
        ix, iy = self._viewport.to_image(x, y)
        self._drag = {
            "tool": self.tool,
            "erase": self.tool == "eraser" or (self.tool in SHAPE_TOOLS and bool(self.subtract.value)),
            "points": [(ix, iy)],
            "display": [(float(x), float(y))],
            "breaks": [],
            "amend": False,
        }
        self._draw_preview()

    def handle_mouse_move(self, x: float, y: float) -> None:
        """Extend the gesture (or move the brush cursor): draws only the preview layer."""
        self.events_handled += 1
        if self._drag is None:
            if self._left is not None:  # back on the canvas before the late re-entry event: keep it
                self._left.setdefault("moves", []).append((float(x), float(y)))
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
            if len(drag["display"]) - 1 in drag["breaks"]:
                return  # the first point after coming back: no segment across the outside
            self._draw_preview_segment(drag["display"][-2], drag["display"][-1])
            return
        else:
            return
        self._draw_preview()

    def handle_mouse_up(self, x: float, y: float) -> None:
        """Finish the gesture: rasterise it at full resolution into the mask (one undo step)."""
        self.events_handled += 1
        if self._drag is None:
            if self._left is not None:
                # The re-entry event travels on another channel and can come after this
                # release: it finishes the continued gesture then, with the moves kept meanwhile.
                self._left["up"] = (float(x), float(y))
            return
        self._left = None
        self.handle_mouse_move(x, y)
        drag, self._drag = self._drag, None
        self._finish(drag)

    def handle_mouse_out(self, x: float, y: float) -> None:
        """Leaving the canvas commits the gesture so far; coming back with the button held continues it."""
        if self._drag is None:
            with hold():
                self.canvas[2].clear()
            return
        drag = self._drag
        early, self._early_enter = self._early_enter, None
        self.handle_mouse_up(x, y)
        if self.doc.strokes:
            self._left = {"drag": drag, "stroke": self.doc.strokes[-1]}
            if early is not None:
                self.handle_mouse_enter(early[0], early[1], 1)

    def handle_mouse_enter(self, x: float, y: float, buttons: int) -> None:
        """The pointer came back onto the canvas; with the main button held, the gesture goes on.

        The gesture committed when the pointer left is replaced by the longer one (still
        one undo step). Called by the canvas's ``mouseenter`` event (``buttons`` as in the DOM).
        """
        if self._drag is not None:
            # the canvas's own "mouse out" (another channel) can arrive after this event:
            # keep the re-entry until the gesture has been left
            self._early_enter = (float(x), float(y)) if int(buttons) & 1 else None
            return
        left, self._left = self._left, None
        if not (int(buttons) & 1) or left is None:
            return
        if not self.doc.strokes or self.doc.strokes[-1] is not left["stroke"]:
            return  # something else changed the mask meanwhile: start afresh on the next press
        drag = left["drag"]
        ix, iy = self._viewport.to_image(x, y)
        if drag["tool"] in ("brush", "eraser"):
            drag["breaks"].append(len(drag["points"]))
        drag["points"].append((ix, iy))
        drag["display"].append((float(x), float(y)))
        drag["amend"] = True
        self._drag = drag
        self._draw_preview()
        for mx, my in left.get("moves", ()):
            self.handle_mouse_move(mx, my)
        if "up" in left:
            self.handle_mouse_up(*left["up"])

    def _on_enter_event(self, event: dict[str, Any]) -> None:
        width = float(event.get("boundingRectWidth") or 0) or 1.0
        height = float(event.get("boundingRectHeight") or 0) or 1.0
        x = float(event.get("relativeX", 0)) * self.canvas.width / width
        y = float(event.get("relativeY", 0)) * self.canvas.height / height
        self.handle_mouse_enter(x, y, int(event.get("buttons") or 0))

    def _finish(self, drag: dict[str, Any]) -> None:
        tool, pts, erase, amend = drag["tool"], drag["points"], drag["erase"], drag["amend"]
        with hold():
            self.canvas[2].clear()
            if tool in ("brush", "eraser"):
                self.doc.paint(pts, float(self.brush_size), erase=erase, breaks=drag["breaks"], amend=amend)
            elif tool == "lasso":
                if not self.doc.add_lasso(pts, erase=erase, amend=amend) and amend:
                    self.doc.undo()
            elif len(pts) >= 2:
                (x0, y0), (x1, y1) = pts[0], pts[-1]
                self.doc.add_shape(tool, (x0, y0, x1, y1), erase=erase, amend=amend)

    def _on_canvas_key(self, key: str, shift_key: bool, ctrl_key: bool, meta_key: bool) -> None:
        self.guard(
            self.handle_key, {"key": key, "shiftKey": shift_key, "ctrlKey": ctrl_key, "metaKey": meta_key}
        )

    def handle_key(self, event: dict[str, Any]) -> None:
        """Keyboard shortcuts on the focused canvas.

        ``[``/``]`` size, B/E/R/O/L tools, ``-`` subtract, H pan, I invert, Ctrl+Z/Y undo/redo;
        in the staging area Left/Right preview the previous/next candidate, Space flips
        before/after, Enter accepts and Delete discards it. Tab, Shift+Tab and Esc leave the
        canvas (handled in the browser, they never get here).
        """
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
        elif key.lower() in TOOL_KEYS:
            self.tool = TOOL_KEYS[key.lower()]
        elif key == "-":
            self.subtract.value = not self.subtract.value
        elif key.lower() == "h":
            self.pan_button.value = not self.pan_button.value
        elif key.lower() == "i":
            self.invert()
        elif key in ("ArrowRight", "ArrowDown"):
            self.cycle(1)
        elif key in ("ArrowLeft", "ArrowUp"):
            self.cycle(-1)
        elif key == " " and self._previewing is not None:
            self.before_after.value = not self.before_after.value
        elif key == "Enter" and self.selected is not None:
            self.accept_selection()
        elif key in ("Delete", "Backspace") and self.selected is not None:
            self.discard_selection()

    # ------------------------------------------------------------ drawing
    @property
    def zoom(self) -> float:
        """How many times larger than fitted the canvas is shown (1 = fitted to the output)."""
        return self._zoom.zoom

    @property
    def _viewport(self) -> Viewport:
        return self._zoom.viewport

    def set_zoom(self, zoom: float) -> None:
        """Show the canvas ``zoom`` times larger than fitted (1 = fit, up to 8); scroll or drag to pan.

        The canvas keeps at most the image's own pixels: past 1:1 the browser enlarges them.
        In the browser, Ctrl/Cmd+wheel over the canvas zooms at the pointer.
        """
        self._zoom.set(zoom=zoom)
        self._redraw_all()
        z = self._zoom.zoom
        self.zoom_fit_button.description = "Fit" if z == 1.0 else f"Fit ({z:g}×)"

    def _set_viewport(self) -> None:
        """Follow a new base image's shape (Accept, undo of an Accept) at the same zoom."""
        self._zoom.set(shape=self.doc.shape)

    def _display_array(self, image: np.ndarray | None = None) -> np.ndarray:
        dh, dw = self._viewport.display
        im = imaging.to_pil(self.doc.image_view if image is None else image)
        if im.size != (dw, dh):
            im = im.resize((dw, dh), Image.Resampling.LANCZOS)
        return rgba(np.asarray(im.convert("RGBA")))

    def _redraw_all(self) -> None:
        with hold():
            self._draw_image_layer()
            self._draw_mask_layer()
            self.canvas[2].clear()

    def _shown_image(self) -> np.ndarray | None:
        """The candidate being previewed (None: the base image)."""
        if self._previewing is None or self._show_before:
            return None
        cands = self.staging_area.candidates()
        if not 0 <= self._previewing < len(cands):
            return None
        return coerce_image(cands[self._previewing].image)

    def _draw_image_layer(self) -> None:
        with hold():
            layer = self.canvas[0]
            layer.clear()
            layer.put_image_data(self._display_array(self._shown_image()), 0, 0)

    def _draw_mask_layer(self, previous: np.ndarray | None = None) -> None:
        """Draw the mask layer: all of it, or (``previous``: the mask before a change) the dirty part.

        After a change of the mask only the canvas boxes it can alter are redrawn (the
        change's box, the outline's strips and the old outline's when the window moved), each with the
        same pixels a full redraw gives (:mod:`dalle_widgets.mask_layer`); anything else
        (zoom, feather, framing, a preview) redraws the whole layer.
        """
        dh, dw = self._viewport.display
        mask = self.doc.mask_view
        outline = self._outline_geometry(self._outlined_window() if self._previewing is None else None)
        boxes = self._dirty_boxes(previous, mask, outline)
        with hold():
            layer = self.canvas[1]
            if boxes is not None:
                for x0, y0, x1, y1 in boxes:
                    # the browser draws the part over what is there (it composites): clear it first
                    layer.clear_rect(x0, y0, x1 - x0, y1 - y0)
                    part = self._overlay(mask, (x0, y0, x1, y1))
                    if part[..., 3].any():
                        layer.put_image_data(part, x0, y0)
                if outline is not None:  # its strips were cleared above: drawn once, as in a full redraw
                    self._draw_window_outline(layer, outline)
            else:
                layer.clear()
                if self._previewing is not None:
                    pass  # a candidate is shown as it is, without the mask over it
                elif self.show_sent.value:
                    # exactly what is sent: the image with alpha 0 (checkered) where regenerated
                    small = masks.resize(mask, (dh, dw)) if mask.shape != (dh, dw) else mask
                    board = imaging.checkerboard((dh, dw), cell=12)
                    shown = self._display_array().copy()
                    shown[small] = np.dstack([board, np.full((dh, dw), 255, np.uint8)])[small]
                    layer.put_image_data(shown, 0, 0)
                elif mask.any():
                    layer.put_image_data(self._overlay(mask), 0, 0)
                if outline is not None:
                    self._draw_window_outline(layer, outline)
        self._drawn_layer = (mask, outline, (dh, dw), self._previewing, bool(self.show_sent.value))
        #: the canvas boxes the last redraw of the mask layer covered (None: all of it)
        self.mask_layer_boxes = boxes
        self._update_info()

    def _overlay(self, mask: np.ndarray, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
        return mask_layer.overlay(
            mask, self._viewport.display, MASK_COLOR, feather=int(self.feather_slider.value), box=box
        )

    def _dirty_boxes(
        self, previous: np.ndarray | None, mask: np.ndarray, outline: _Outline | None
    ) -> list[tuple[int, int, int, int]] | None:
        """The canvas boxes a mask change made dirty, or None when the whole layer must be drawn."""
        drawn = getattr(self, "_drawn_layer", None)
        display = self._viewport.display
        if (
            previous is None
            or drawn is None
            or drawn[0] is not previous
            or drawn[2:] != (display, None, False)
            or self._previewing is not None
            or self.show_sent.value
        ):
            return None
        reach = int(self.feather_slider.value) / 2 + 1
        changed = mask_layer.changed_box(previous, mask)
        dirty = mask_layer.dirty_box(changed, self.doc.shape, display, reach=reach)
        boxes = [dirty] if dirty is not None else []
        # the outline's strips (and the old outline's, when it moved) are cleared and drawn again
        # whole: an outline drawn over itself, or clipped, would not have a full redraw's pixels
        for shown in (drawn[1], outline) if outline != drawn[1] else (outline,):
            if shown is not None:
                boxes.extend(mask_layer.outline_boxes(shown[0], shown[1], display))
        area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in boxes)
        return boxes if area * 3 < display[0] * display[1] else None

    def _outlined_window(self) -> Window | None:
        """The window the canvas outlines (None: none to show): the one Generate sends, once
        there is one (a Window framing waits for a mask). The saved picture shows the same."""
        if not hasattr(self, "framing_buttons"):
            return None
        window = self.send_window
        if window is None or (self.framing == "window" and not self.doc.mask_view.any()):
            return None
        return window

    def _outline_geometry(self, window: Window | None) -> _Outline | None:
        """Where the outline of ``window`` goes on the canvas: its rectangle, label box and label."""
        if window is None:
            return None
        rect = mask_layer.outline_rect(window.box, self.doc.shape, self._viewport.display)
        label = f"sent: {window.request_size}"
        lx, ly = rect[0] + 4, rect[1] + 15
        return rect, (lx - 3, ly - 12, lx + 3 + 8 * len(label), ly + 4), label

    def _draw_window_outline(self, layer: Any, outline: _Outline) -> None:
        """Outline (dashed) the window Generate will send, with its request size, on ``layer``."""
        (dx0, dy0, dx1, dy1), (bx0, by0, bx1, by1), label = outline
        layer.line_width = 2
        layer.set_line_dash([8, 5])
        layer.stroke_style = "rgba(0,0,0,0.7)"
        layer.stroke_rect(dx0 + 1, dy0 + 1, dx1 - dx0, dy1 - dy0)
        layer.stroke_style = WINDOW_COLOR
        layer.stroke_rect(dx0, dy0, dx1 - dx0, dy1 - dy0)
        layer.set_line_dash([])
        layer.font = "12px sans-serif"
        layer.fill_style = "rgba(0,0,0,0.6)"
        layer.fill_rect(bx0, by0, bx1 - bx0, by1 - by0)
        layer.fill_style = WINDOW_COLOR
        layer.fill_text(label, bx0 + 3, by0 + 12)

    def _draw_cursor(self, x: float, y: float) -> None:
        layer = self.canvas[2]
        with hold():
            layer.clear()
            if self.tool in ("brush", "eraser"):
                layer.stroke_style = "rgba(255,255,255,0.9)"
                layer.line_width = 1.5
                layer.stroke_circle(float(x), float(y), self._viewport.length_to_display(self.brush_size) / 2)

    def _brush_preview_style(self, tool: MaskTool) -> tuple[str, float]:
        color = MASK_COLOR if tool == "brush" else ERASE_COLOR
        width = self._viewport.length_to_display(self.brush_size)
        return f"rgba({color[0]},{color[1]},{color[2]},0.55)", width

    def _draw_preview_segment(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        """Add one segment to the gesture's preview: a message of constant size, however long the stroke.

        For the brush the segment's area is first cut out of the layer, then painted: where it
        overlaps the stroke so far (its round joint) the colour is replaced rather than blended
        twice, so the whole stroke keeps one even translucency, as a redraw would. For the
        lasso it is one more piece of the outline.
        """
        drag = self._drag or {"tool": "brush", "erase": False}
        layer = self.canvas[2]
        if drag["tool"] == "lasso":
            with hold():
                layer.line_width = 2
                layer.stroke_style = "rgba(64,160,255,0.95)" if drag["erase"] else "rgba(255,255,255,0.95)"
                layer.stroke_line(start[0], start[1], end[0], end[1])
            return
        style, width = self._brush_preview_style(drag["tool"])
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
                cuts = [0, *drag["breaks"], len(pts)]
                for a, b in zip(cuts[:-1], cuts[1:], strict=True):
                    piece = pts[a:b]
                    if len(piece) == 1:
                        layer.fill_circle(piece[0][0], piece[0][1], width / 2)
                    elif piece:
                        layer.line_width = width
                        layer.line_cap = "round"
                        layer.line_join = "round"
                        layer.stroke_lines(np.asarray(piece, dtype=np.float32))
            elif drag["tool"] == "lasso":
                layer.line_width = 2
                layer.stroke_style = "rgba(64,160,255,0.95)" if drag["erase"] else "rgba(255,255,255,0.95)"
                if len(pts) >= 2:
                    layer.stroke_lines(np.asarray(pts, dtype=np.float32))
            elif len(pts) >= 2:
                (x0, y0), (x1, y1) = pts[0], pts[-1]
                color = ERASE_COLOR if drag["erase"] else MASK_COLOR
                layer.stroke_style = "rgba(255,255,255,0.95)"
                layer.fill_style = f"rgba({color[0]},{color[1]},{color[2]},0.35)"
                layer.line_width = 2
                bx, by, bw, bh = min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)
                if drag["tool"] == "rectangle":
                    layer.fill_rect(bx, by, bw, bh)
                    layer.stroke_rect(bx, by, bw, bh)
                else:
                    layer.begin_path()
                    layer.ellipse(
                        bx + bw / 2, by + bh / 2, max(bw / 2, 0.1), max(bh / 2, 0.1), 0, 0, 2 * np.pi
                    )
                    layer.fill()
                    layer.stroke()

    def _update_info(self) -> None:
        m = self.doc.mask_view
        h, w = m.shape
        cov = self.doc.coverage
        box = masks.bbox(m)
        where = f", box {box}" if box else ""
        n = len(self.doc.strokes)
        self.info.value = (
            f"<span class='dalle-muted' style='font-size:12px'>{w}×{h} image · mask {cov:.1%} "
            f"to regenerate{where} · {n} change{'' if n == 1 else 's'}</span>"
        )
        if hasattr(self, "plan"):
            h, w = self.doc.shape
            needs_window = planned_window(self._spec, (w, h), None, size=str(self.size_dd.value)) is not None
            self.framing_row.layout.display = "" if needs_window else "none"
            plan = self.send_plan()
            warn = "outside the centre square" in plan or "Accept makes the base" in plan
            self.plan.value = (
                f"<div class='{'dalle-hint' if warn else 'dalle-muted'}' "
                f"style='font-size:12px;line-height:1.4;margin:2px 0'>{escape(plan)}</div>"
            )
        hint = self.doc.hint()
        self.hint.value = (
            f"<span class='dalle-hint' style='font-size:12px'>{escape(hint)}</span>" if hint else ""
        )
        if hasattr(self, "undo_button"):
            self.undo_button.disabled = not self.doc.can_undo
            self.redo_button.disabled = not self.doc.can_redo

    # ----------------------------------------------------------- generation
    def generate(self) -> Any:
        """Send image, mask and prompt as an edit (async task); candidates go to the staging area.

        Every call asks for new images (the request cache is refreshed, not replayed).
        Returns the task's future, or None when the input was refused (the reason is in
        the status line). Bad input is refused here, before anything is sent.
        """
        prompt = self.prompt.value.strip()
        if not prompt:
            self.show_error("Write a prompt first: describe the whole image, including the new part.")
            return None
        if not self.doc.mask_view.any():
            self.show_error(self.doc.hint())
            return None
        if self._tasks.running:
            self.show_error("A request is already running: wait for it or press Cancel.")
            return None
        window = self.send_window
        if window is not None and self.framing == "crop" and masked_outside(self.doc.mask_view, window):
            self.show_error(
                f"{masked_outside(self.doc.mask_view, window)} masked pixels lie outside the centre square "
                "that Crop sends and would never change: choose Window or Pad, or paint inside the outline."
            )
            return None
        image: Any = self.doc.image
        mask = self.doc.mask
        n, size = int(self.n_box.value), str(self.size_dd.value)
        options = self.request_options()
        if window is not None and self.framing != "window" and not len(self.references_strip):
            options["framing"] = self.framing
        if len(self.references_strip):  # the base image first: the mask applies to it
            image = [image, *self.references_strip.images]
            problem = self._check_references(image, prompt=prompt, mask=mask, n=n, size=size, **options)
            if problem:
                self.show_error(problem)
                return None
        run = self.staging_area.start(
            "edit", prompt=prompt, size=size, n=n, base_revision=self.doc.base_revision
        )
        return self.start_task(
            lambda: self._run(run, image, prompt=prompt, mask=mask, n=n, size=size, **options)
        )

    @property
    def references(self) -> list[Any]:
        """The reference images sent after the base image with each edit (a new list)."""
        return self.references_strip.images

    def add_reference(self, image: Any) -> None:
        """Send ``image`` with each edit as one more reference (checked before it is added)."""
        self.references_strip.add(image)

    def _check_references(self, images: list[Any], **request: Any) -> str | None:
        """Why the edit with references cannot be sent, or None: the client's own checks, run
        before anything is sent (count, formats, bytes, the mask against the base image)."""
        client = _client.resolve(self._client)
        try:
            self.references_strip.check(lookup(getattr(client, "model", None) or DEFAULT_MODEL, warn=False))
            client.prepare("edit", image=images, **request)
        except (ValueError, DalleWidgetsError) as exc:
            line = error_line(exc)
            if "image[" in line:
                line += " (image[0] is the base image, image[1] on the references in order)"
            return line
        return None

    def more_like(self, index: int) -> Any:
        """Ask for new variations of staged candidate ``index``; they join the staging area."""
        cand = self._candidate(index)
        if self._tasks.running:
            self.show_error("A request is already running: wait for it or press Cancel.")
            return None
        n, size = int(self.n_box.value), str(self.size_dd.value)
        run = self.staging_area.start("vary", prompt="", size=size, n=n, base_revision=cand.run.base_revision)
        return self.start_task(lambda: self._run(run, cand.image, n=n, size=size))

    async def _run(self, run: Run, image: Any, **kwargs: Any) -> Any:
        import asyncio

        self._render_staging()
        client = _client.resolve(self._client)
        t0 = time.monotonic()
        label = "Generating" if run.op == "edit" else "Varying"
        if kwargs.pop("stream", False):
            # each preview shows in its card; a new answer every time (the cache is refreshed)
            coro = _client.stream(
                client, run.op, image, on_event=lambda e: self._on_event(run, e), cache="refresh", **kwargs
            )
        else:
            coro = _client.call(client, run.op, image, cache="refresh", **kwargs)
        call = asyncio.ensure_future(coro)
        try:
            while not call.done():
                self.progress.value = (
                    f"<span class='dalle-spinner dalle-muted'>{label} "
                    f"{kwargs.get('n', 1)}… {time.monotonic() - t0:.1f} s</span>"
                )
                await asyncio.wait({call}, timeout=0.25)
            result = call.result()
        except BaseException as exc:
            self.staging_area.fail(run, str(exc))
            self._render_staging()
            raise
        finally:
            if not call.done():
                call.cancel()
            self.previews.clear()
        self.last_result = result
        new = self.staging_area.fill(
            run,
            list(result),
            cost_usd=getattr(result, "cost_usd", None),
            offline=bool(getattr(client, "is_offline", False)),
        )
        self._render_staging()
        dupes = len(result) - new
        note = f" · {dupes} duplicate{'s' if dupes != 1 else ''} dropped" if dupes else ""
        self.progress.value = (
            f"<span class='dalle-muted'>✓ {new} in {time.monotonic() - t0:.1f} s{note}</span>"
        )
        self.set_status("")
        return result

    def _on_event(self, run: Run, event: Any) -> None:
        """A streamed event: a preview fills its pending card; a final image (stored already)
        replaces the preview and can be accepted at once."""
        self.stream_log.append((event.type, event.index))
        if event.type == "partial":
            self.previews[event.index] = event.image
            self.show_preview(run, event.index, event.image)
        else:
            self.previews.pop(event.index, None)
            self.staging_area.arrive(run, event.index, event.result)
            self._render_staging()

    def show_preview(self, run: Run, index: int, image: Any) -> None:
        """Show a streaming preview ``image`` in pending card ``index`` of ``run`` (replaced when final).

        For a client that streams partial images: call it as each preview arrives.
        """
        self.staging_area.show_preview(run, index, image)
        self._render_staging()

    def _on_cancelled(self) -> None:
        self.progress.value = "Cancelled"

    def _on_busy(self, busy: bool) -> None:
        self.generate_button.disabled = busy
        self.cancel_button.disabled = not busy
        if busy:
            self.set_status("")

    # --------------------------------------------------------- staging area
    def _candidate(self, index: int) -> Candidate:
        cands = self.staging_area.candidates()
        if not 0 <= index < len(cands):
            raise IndexError(f"{len(cands)} candidates are staged; index {index} is out of range")
        return cands[index]

    def stage(self, images: Any, *, prompt: str = "", op: str = "edit") -> int:
        """Stage ``images`` as one run made from the current base; return how many were new."""
        imgs = list(images) if not isinstance(images, np.ndarray | Image.Image) else [images]
        run = self.staging_area.start(
            op, prompt=prompt, size=str(self.size_dd.value), n=len(imgs), base_revision=self.doc.base_revision
        )
        new = self.staging_area.fill(run, imgs)
        self._render_staging()
        return new

    def is_stale(self, index: int) -> bool:
        """True when candidate ``index`` was made from an earlier base image."""
        return self.staging_area.stale(self._candidate(index), self.doc.base_revision)

    def preview(self, index: int | None, *, select: bool = True) -> None:
        """Show candidate ``index`` full size on the canvas (None: back to the base image and mask).

        ``select=False`` previews without selecting (what hovering a card does).
        """
        if index is None:
            self.end_preview()
            return
        self._candidate(index)
        if select:
            self.selected = index
        self._previewing = index
        self._show_before = False
        if self.before_after.value:
            self.before_after.value = False
        self._redraw_all()
        self._mark_cards()

    def end_preview(self) -> None:
        """Stop previewing: the base image and the mask come back (the selection stays)."""
        self._previewing = None
        self._show_before = False
        if self.before_after.value:
            self.before_after.value = False
        self._redraw_all()
        self._mark_cards()

    def show_before(self, before: bool) -> None:
        """Show the base image (True) or the previewed candidate (False) on the canvas."""
        self._show_before = before
        self.before_after.description = "After" if before else "Before"
        if self._previewing is not None:
            self._draw_image_layer()

    def cycle(self, step: int) -> int | None:
        """Preview the next (``step`` 1) or previous (-1) candidate, wrapping; return its index."""
        n = len(self.staging_area.candidates())
        if not n:
            return None
        start = self.selected if self.selected is not None else (-1 if step > 0 else 0)
        self.preview((start + step) % n)
        return self.selected

    def accept(self, index: int) -> None:
        """Make staged candidate ``index`` the new base image; the mask clears (undo brings both back)."""
        cand = self._candidate(index)
        stale = self.staging_area.stale(cand, self.doc.base_revision)
        old = self.doc.image
        new = cand.image if stale else self.doc.blend(cand.image, int(self.feather_slider.value))
        new = self._load_base(new)
        if new.shape[:2] != old.shape[:2]:
            (h0, w0), (h1, w1) = old.shape[:2], new.shape[:2]
            self.set_status(f"The base image is now {w1}×{h1} (it was {w0}×{h0}).", hint=True)
        self.history.append(old)
        self.staging_area.remove(index)
        self._previewing = None
        self.selected = None
        self.doc.replace_image(new)
        self._render_staging()

    def discard(self, index: int) -> None:
        """Drop staged candidate ``index``."""
        self.staging_area.remove(index)
        if self._previewing is not None:
            self._previewing = None
            self._redraw_all()
        n = len(self.staging_area.candidates())
        self.selected = None if not n else min(index, n - 1) if self.selected is not None else None
        self._render_staging()

    def discard_all(self) -> int:
        """Drop every staged candidate; return how many."""
        n = self.staging_area.clear()
        self.selected = None
        if self._previewing is not None:
            self._previewing = None
            self._redraw_all()
        self._render_staging()
        return n

    def accept_selection(self) -> None:
        """Accept the selected candidate (the toolbar's Accept, the Enter key)."""
        if self.selected is None:
            raise ValueError("no candidate is selected: click one (or press Right) first")
        self.accept(self.selected)

    def discard_selection(self) -> None:
        """Discard the selected candidate (the toolbar's Discard, the Delete key)."""
        if self.selected is None:
            raise ValueError("no candidate is selected: click one (or press Right) first")
        self.discard(self.selected)

    @property
    def previewing(self) -> int | None:
        """The index of the candidate shown on the canvas, or None (the base image)."""
        return self._previewing

    @property
    def _cards(self) -> list[W.VBox]:
        return self.staging_view.cards

    def _render_staging(self) -> None:
        self.staging_view.render()

    def _mark_cards(self) -> None:
        self.staging_view.mark()

    # -------------------------------------------------------- static repr
    def _snapshot(self) -> Image.Image:
        """The saved picture: the image with the mask over it and, as on the canvas, the window
        Generate sends outlined (drawn at the picture's own scale, so it stays crisp)."""
        picture = imaging.thumbnail(
            masks.preview(self.doc.image_view[..., :3], self.doc.mask_view, color=MASK_COLOR),
            self._snapshot_px,
        )
        window = self._outlined_window()
        return outline_window(picture, window) if window is not None else picture

    def _summary(self) -> str:
        h, w = self.doc.shape
        return f"MaskEditor({w}x{h} image, mask {self.doc.coverage:.1%}, {len(self.staging)} staged)"
