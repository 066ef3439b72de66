"""``OutpaintEditor``: extend an image past its borders, see the frame plan, fill it frame by frame.

Margins per side (slider and number, linked in the browser) or a target canvas
size with an anchor define an :class:`~dalle_widgets.outpaint.OutpaintCanvas`;
the canvas view shows the original with the new area checkered and the frame
plan from :func:`dalle_widgets.outpaint.plan` drawn as numbered boxes *before*
anything is sent (each frame is one paid request). Fill runs
:func:`dalle_widgets.outpaint.arun` as an asyncio task on the kernel's loop: each
finished frame updates the preview and the progress bar (a model that streams
shows rough previews of each frame first); Cancel stops after the frame in flight
and keeps every frame already filled (Fill again resumes from what is left). Fill
after a finished fill re-rolls: the whole new area is asked for afresh.

The result is stored (the status line names its file) before it is shown; Save
copies it into the folder beside the notebook with a link, Pin adds it to the mood
board, and "Edit further" opens a :class:`~.mask_editor.MaskEditor` on it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from pathlib import Path
from typing import Any, cast

import ipywidgets as W
import numpy as np
from ipycanvas import MultiCanvas
from PIL import Image

from .. import imaging, outpaint
from .._types import AnyImageClient, SyncImageClient
from ..models import DEFAULT_MODEL, lookup
from . import _client
from ._canvas import Viewport, hold, rgba
from ._file_link import FileLink
from ._keyguard import KeyGuard
from ._model_controls import ModelControls
from ._prompt_counter import PromptCounter
from ._save import save_png
from ._shell import WidgetShell
from ._static import StaticFallbackMixin

__all__ = ["OutpaintEditor"]

logger = logging.getLogger("dalle_widgets")

SIDES = ("left", "top", "right", "bottom")
ANCHORS = ("center", "top-left", "top", "top-right", "left", "right", "bottom-left", "bottom", "bottom-right")
PLAN_COLOR = "rgba(255,64,64,0.95)"
DONE_COLOR = "rgba(40,170,80,0.95)"
#: The margin sliders move in steps of this many px (the number boxes take any value).
MARGIN_STEP = 64
#: Output formats a frame can come back in and still be blended into the canvas.
CANVAS_FORMATS = ("png", "jpeg", "webp")


class OutpaintEditor(WidgetShell, StaticFallbackMixin, W.VBox):
    """Set outpaint margins (or a target size), review the frame plan, and fill the new area.

    Parameters
    ----------
    image : path, bytes, PIL.Image, numpy array or GeneratedImage
        The original; its pixels are never changed.
    client : ImagesClient or AsyncImagesClient, optional
        Who fills the frames. Default: the shared async client (offline engine without a key).
    display_px : int
        Longest side of the canvas view on screen.
    frame : int
        Largest frame side (1024 for dall-e-2).
    prompt : str
        Initial prompt (describe the whole extended picture).
    max_margin : int
        The largest margin per side, in px.
    feather : float
        Width of the seam cross-fade between frames, in px.

    Attributes
    ----------
    result : OutpaintResult or None
        The last fill (``result.path``: where the composite is stored).
    results : list of OutpaintResult
        The fills of the current canvas, oldest first (each one stored; a margin change
        starts a new list). :meth:`show_result` shows one of them.

    Examples
    --------
    >>> import numpy as np
    >>> ed = OutpaintEditor(np.zeros((1024, 1024, 3), np.uint8), display_px=256)
    >>> ed.set_margins(left=512, right=512)
    >>> ed.canvas_state.size, len(ed.plan)
    ((2048, 1024), 2)
    """

    def __init__(
        self,
        image: Any,
        *,
        client: AnyImageClient | None = None,
        display_px: int = 640,
        frame: int = 1024,
        prompt: str = "",
        max_margin: int = 3072,
        feather: float = 32,
    ) -> None:
        super().__init__()
        self._client = client
        self.display_px = int(display_px)
        self.frame = int(frame)
        self.feather = float(feather)
        self._original = imaging.to_array(getattr(image, "image", image), "RGBA")
        self.canvas_state: outpaint.OutpaintCanvas = outpaint.extend(self._original)
        self.plan: list[tuple[int, int, int, int]] = []
        self.result: Any = None
        self.results: list[Any] = []
        self.frames_done: list[Any] = []
        #: the MaskEditor opened by :meth:`edit_result`, if any
        self.editor: Any = None
        #: the file the last :meth:`save` wrote, if any
        self.last_saved: Path | None = None
        self._margins = dict.fromkeys(SIDES, 0)
        self._syncing = False
        #: the frame index of each streamed preview drawn, in order
        self.preview_log: list[int] = []
        self._previews_shown = 0  # previews of the frame in flight
        self._current: tuple[int, int, int, int] | None = None
        self._init_shell()
        self._build_ui(prompt, int(max_margin))
        self._rebuild()

    # ------------------------------------------------------------------ UI
    def _build_ui(self, prompt: str, max_margin: int) -> None:
        self.max_margin = max_margin
        self.sliders: dict[str, W.IntSlider] = {}
        self.numbers: dict[str, W.IntText] = {}
        rows = []
        for side in SIDES:
            s = W.IntSlider(
                value=0,
                min=0,
                max=max_margin,
                step=MARGIN_STEP,
                description=side.capitalize(),
                continuous_update=False,
                readout=False,
                tooltip=f"{side.capitalize()} margin, in steps of {MARGIN_STEP} px (type any value)",
                layout=W.Layout(width="190px"),
                style={"description_width": "50px"},
            )
            # an unbounded box: a typed value out of range is refused with a message, not clamped
            t = W.IntText(
                value=0,
                description="px",
                tooltip=f"{side.capitalize()} margin in pixels, 0 to {max_margin}",
                layout=W.Layout(width="100px"),
                style={"description_width": "20px"},
            )
            s.add_class(f"dalle-margin-{side}")
            t.add_class(f"dalle-margin-{side}-value")
            s.observe(functools.partial(self._on_margin_control, side), "value")
            t.observe(functools.partial(self._on_margin_control, side), "value")
            self.sliders[side], self.numbers[side] = s, t
            rows.append(W.HBox([s, t]))
        self.target = W.Text(
            placeholder="e.g. 2048x1024",
            tooltip="Target canvas size, e.g. 2048x1024",
            layout=W.Layout(width="140px"),
        )
        self.target.add_class("dalle-target-size")
        self.anchor = W.Dropdown(
            options=ANCHORS,
            value="center",
            tooltip="Anchor: where the original sits on the larger canvas",
            layout=W.Layout(width="130px"),
        )
        self.apply_target = self.button(
            "Apply size",
            "Grow the canvas to the target size around the anchor",
            lambda: self.set_target(self.target.value, self.anchor.value),
            "dalle-apply-target",
        )
        margins = W.VBox(
            [
                W.HTML("<b>Margins</b> (px)"),
                *rows,
                W.HBox(
                    [
                        W.HTML("<span style='margin:0 4px'>Target</span>"),
                        self.target,
                        W.HTML("<span style='margin:0 4px'>at</span>"),
                        self.anchor,
                        self.apply_target,
                    ],
                    layout=W.Layout(align_items="center", flex_flow="row wrap"),
                ),
            ]
        )

        self.view = MultiCanvas(3, width=1, height=1)
        self.view.layout.max_width = "100%"
        self.view.add_class("dalle-outpaint-canvas")
        self.view[0].on_client_ready(self._draw_canvas)
        self.view[1].on_client_ready(self._draw_plan)
        # the canvas takes the focus like any ipycanvas: Tab/Shift+Tab/Esc must still leave it
        self._uid = f"dalle-op-{id(self):x}"
        self.view_frame = W.Box([self.view], layout=W.Layout(max_width="100%"))
        self.view_frame.add_class("dalle-canvas-frame")
        self.keyguard = KeyGuard(
            scope=self._uid,
            frame="dalle-canvas-frame",
            label="Outpaint canvas: the original, the new area checkered and the numbered frame plan",
        )
        self.info = W.HTML()
        self.plan_toggle = W.ToggleButton(
            value=True,
            description="Frame plan",
            icon="th",
            tooltip="Show or hide the numbered frame plan over the canvas",
            layout=W.Layout(width="auto"),
        )
        self.plan_toggle.add_class("dalle-plan-toggle")
        self.plan_toggle.observe(lambda _c: self._guard(self._draw_plan), "value")
        self.prompt = W.Textarea(
            value=prompt,
            placeholder="Describe the whole extended picture",
            tooltip="Prompt: describe the whole extended picture",
            layout=W.Layout(width="calc(100% - 6px)", height="52px"),
        )
        self.prompt.add_class("dalle-prompt")
        spec = lookup(getattr(self._client, "model", None) or DEFAULT_MODEL, warn=False)
        # each frame's request carries the whole prompt: the model's limit applies to it as typed
        self.counter = PromptCounter(self.prompt, spec.max_prompt_chars)
        self.generate_button = self.button(
            "Fill",
            "Fill the new area frame by frame",
            self.generate,
            "dalle-generate",
            icon="magic",
            style="primary",
        )
        self.cancel_button = self.button(
            "Cancel",
            "Stop after the frame in flight; finished frames are kept",
            self.cancel,
            "dalle-cancel",
            icon="stop",
        )
        self.cancel_button.disabled = True
        self.progress = W.IntProgress(
            value=0,
            min=0,
            max=1,
            description="Frames",
            layout=W.Layout(width="220px"),
            style={"description_width": "50px"},
        )
        self.progress.add_class("dalle-progress")
        self.progress_label = W.HTML()
        self.progress_label.add_class("dalle-progress-label")
        gen = W.HBox(
            [self.generate_button, self.cancel_button, self.progress, self.progress_label],
            layout=W.Layout(align_items="center", flex_flow="row wrap"),
        )
        self.model_controls = ModelControls(
            spec,
            formats=CANVAS_FORMATS,
            stream_tip="Show rough previews of each frame on the canvas while it is made",
        )
        # the composite is one opaque picture: a transparent frame would lose its alpha when blended
        bg = self.model_controls.background_dd
        bg.options = [o for o in bg.options if o != "transparent"]
        if len(bg.options) <= 2:
            bg.layout.display = "none"
        self.model_controls.quality_dd.observe(lambda _c: self._update_info(), "value")
        self.save_button = self.button(
            "Save",
            "Copy the result into the folder beside the notebook (with a link to open it)",
            self.save,
            "dalle-save",
            icon="download",
        )
        self.pin_button = self.button(
            "Pin", "Pin the result to the mood board", self.pin, "dalle-pin", icon="thumb-tack"
        )
        self.edit_button = self.button(
            "Edit further",
            "Open the result in a MaskEditor below: paint a mask and regenerate a part of it",
            self.edit_result,
            "dalle-edit-result",
            icon="paint-brush",
        )
        self.prev_button = self.button(
            "Previous fill",
            "Show the fill before this one (Save, Pin and Edit further act on the one shown)",
            lambda: self.show_result(self._shown() - 1),
            "dalle-prev-result",
            icon="chevron-left",
            compact=True,
        )
        self.next_button = self.button(
            "Next fill",
            "Show the fill after this one (Save, Pin and Edit further act on the one shown)",
            lambda: self.show_result(self._shown() + 1),
            "dalle-next-result",
            icon="chevron-right",
            compact=True,
        )
        self.result_label = W.HTML(layout=W.Layout(margin="0 6px"))
        self.result_label.add_class("dalle-result-label")
        self.file_link = FileLink()
        self.result_bar = W.HBox(
            [
                self.prev_button,
                self.result_label,
                self.next_button,
                self.save_button,
                self.pin_button,
                self.edit_button,
                self.file_link,
            ],
            layout=W.Layout(align_items="center", flex_flow="row wrap"),
        )
        self.result_bar.add_class("dalle-result-bar")
        self.detail = W.VBox()
        view_bar = W.HBox(
            [self.info, self.plan_toggle], layout=W.Layout(align_items="center", flex_flow="row wrap")
        )
        # two columns side by side (the canvas; the controls and Fill), the controls wrapping under
        # the canvas when the output is narrow: at 1280x800 the canvas and Fill are on screen together
        self.canvas_col = W.VBox(
            [self.view_frame, view_bar], layout=W.Layout(flex="4 1 360px", min_width="240px")
        )
        self.canvas_col.add_class("dalle-canvas-col")
        self.side = W.VBox(
            [margins, self.prompt, self.counter, self.model_controls, gen, self.result_bar, self.status],
            layout=W.Layout(flex="1 1 340px", min_width="300px", max_width="560px", margin="0 0 0 8px"),
        )
        self.side.add_class("dalle-side")
        main = W.HBox(
            [self.canvas_col, self.side], layout=W.Layout(flex_flow="row wrap", align_items="flex-start")
        )
        self.children = (self._theme, self.keyguard, main, self.detail)
        self.add_class("dalle-outpaint-editor")
        self.add_class(self._uid)

    # -------------------------------------------------------------- margins
    @property
    def margins(self) -> dict[str, int]:
        """Current margins in px: ``{"left": .., "top": .., "right": .., "bottom": ..}``."""
        return dict(self._margins)

    def set_margins(
        self,
        left: int | None = None,
        top: int | None = None,
        right: int | None = None,
        bottom: int | None = None,
    ) -> None:
        """Set some margins (px, any whole number from 0 to ``max_margin``) at once; the canvas and
        the plan follow (one rebuild)."""
        values = {"left": left, "top": top, "right": right, "bottom": bottom}
        for side, v in values.items():
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0):
                raise ValueError(f"{side} margin must be a whole number of pixels >= 0; got {v!r}")
            if v is not None and v > self.max_margin:
                raise ValueError(
                    f"{side} margin {v} is above the maximum {self.max_margin} px; "
                    "pass max_margin= to the editor for larger canvases"
                )
        if self._tasks.running:
            raise RuntimeError("a fill is running: cancel it before changing the margins")
        self._margins.update({side: int(v) for side, v in values.items() if v is not None})
        self._sync_margin_controls()
        self._rebuild()

    def _sync_margin_controls(self) -> None:
        """Show :attr:`margins` in the sliders and the number boxes (without reacting to it)."""
        self._syncing = True
        try:
            for side in SIDES:
                self.sliders[side].value = self._margins[side]
                self.numbers[side].value = self._margins[side]
        finally:
            self._syncing = False

    def _on_margin_control(self, side: str, change: dict[str, Any]) -> None:
        """A slider moved or a number was typed: set that margin, or say why not and show the old one."""
        if self._syncing or change["new"] == self._margins[side]:
            return
        try:
            self.set_margins(**{side: change["new"]})
        except Exception as exc:  # noqa: BLE001 - one line in the status; the controls show the margin kept
            self._sync_margin_controls()
            self.show_error(f"{exc}; kept {self._margins[side]} px")

    def set_target(self, size: Any, anchor: str = "center") -> None:
        """Grow the canvas to ``size`` (``"WxH"``, ``(w, h)`` or an int) with the original at ``anchor``."""
        if isinstance(size, str) and not size.strip():
            raise ValueError("type a target size such as 2048x1024")
        c = outpaint.extend_to(self._original, size, anchor=anchor)
        x0, y0, x1, y1 = c.box
        w, h = c.size
        self.set_margins(left=x0, top=y0, right=w - x1, bottom=h - y1)

    def _rebuild(self) -> None:
        if self._tasks.running:
            raise RuntimeError("a fill is running: cancel it before changing the margins")
        m = self.margins
        self.canvas_state = outpaint.extend(self._original, **m)
        self.plan = outpaint.plan(self.canvas_state, frame=self.frame) if self.canvas_state.mask.any() else []
        self.result = None
        self.results = []  # fills of another canvas: still on disk, no longer shown here
        self.frames_done = []
        self._update_result_bar()
        self._current = None
        self._viewport = Viewport(self.canvas_state.shape, self.display_px)
        dh, dw = self._viewport.display
        if (self.view.width, self.view.height) != (dw, dh):
            self.view.width, self.view.height = dw, dh
        # its own size, shrunk to the output's width (and 70% of the window's height) when larger
        self.view.layout.width = f"min({dw}px, calc(70vh * {dw / dh:.4f}))"
        self.view.layout.height = "auto"
        self.view.layout.max_width = "100%"
        self.target.value = "{}x{}".format(*self.canvas_state.size)  # the box shows the canvas as it is
        self.progress.max = max(1, len(self.plan))
        self.progress.value = 0
        self.progress_label.value = ""
        self._redraw()

    # --------------------------------------------------------------- drawing
    def _display_image(self) -> np.ndarray:
        """The canvas at display size, the new area checkered."""
        dh, dw = self._viewport.display
        pil = self.canvas_state.to_pil()
        if pil.size != (dw, dh):
            pil = pil.resize((dw, dh), Image.Resampling.BILINEAR)
        return rgba(np.asarray(imaging.on_checkerboard(pil, cell=10)))

    def _redraw(self) -> None:
        with hold():
            self._draw_canvas()
            self._draw_plan()
        self._update_info()

    def _draw_canvas(self) -> None:
        with hold():
            self.view[0].clear()
            self.view[0].put_image_data(self._display_image(), 0, 0)

    def _draw_plan(self) -> None:
        layer = self.view[1]
        done = {tuple(f.box) for f in self.frames_done}
        with hold():
            layer.clear()
            if not self.plan_toggle.value:  # hidden: the picture alone
                return
            # the original's outline
            x0, y0, x1, y1 = self.canvas_state.box
            (a, b), (c, d) = self._viewport.to_display(x0, y0), self._viewport.to_display(x1, y1)
            layer.set_line_dash([6, 4])
            layer.stroke_style = "rgba(255,255,255,0.9)"
            layer.line_width = 1.5
            layer.stroke_rect(a, b, c - a, d - b)
            layer.set_line_dash([])
            layer.font = "bold 15px sans-serif"
            for i, box in enumerate(self.plan):
                a, b = self._viewport.to_display(box[0], box[1])
                c, d = self._viewport.to_display(box[2], box[3])
                color = DONE_COLOR if tuple(box) in done else PLAN_COLOR
                layer.stroke_style = color
                layer.line_width = 3 if box == self._current else 2
                inset = 1 + (i % 3) * 2  # overlapping frames stay distinguishable
                layer.stroke_rect(a + inset, b + inset, c - a - 2 * inset, d - b - 2 * inset)
                layer.fill_style = "rgba(0,0,0,0.6)"
                layer.fill_rect(a + inset + 2, b + inset + 2, 22, 20)
                layer.fill_style = "white"
                layer.fill_text(str(i + 1), a + inset + 7, b + inset + 18)

    def _update_info(self) -> None:
        c = self.canvas_state
        w, h = c.size
        left = float(c.mask.mean())
        n = len(self.plan)
        price = ""
        try:
            from ..pricing import estimate, format_usd

            model = getattr(self._client, "model", None) or DEFAULT_MODEL
            req = outpaint.request_size(self.plan, model)
            quality = self.model_controls.quality_dd.value
            est = estimate(  # the one pricing path, as the magic's --dry-run
                model,
                f"{req}x{req}",
                1,
                quality=None if quality == "default" else quality,
                operation="edit",
                input_sizes=[(req, req)],
                prompt_chars=len(self.prompt.value),
                requests=n,
                offline=bool(getattr(self._client, "is_offline", False)),
            )
            if n and est.offline:
                price = " · free on the offline engine"
            elif n and est.usd is not None:
                price = f" · up to {format_usd(est.usd)} ({n} × {req}px at {model} prices)"
        except Exception:  # noqa: BLE001 - the price is a hint only
            pass
        plan = (
            f"{n} frame{'s' if n != 1 else ''} of up to {self.frame} px{price}"
            if n
            else "nothing to fill yet: set margins or a target size"
        )
        # two short lines rather than one that wraps mid-word at the widget's 28 px line height
        self.info.value = (
            f"<div class='dalle-muted' style='font-size:12px;line-height:1.5'>canvas {w}×{h} · "
            f"original at {c.box} · {left:.0%} to generate<br>{plan}</div>"
        )

    # ------------------------------------------------------------ generation
    def generate(self) -> Any:
        """Fill the new area frame by frame (async task); returns the task's future, or None if refused.

        After a finished fill, this re-rolls: the whole new area is asked for afresh (new
        requests, never the request cache), and the previous result stays on disk.
        """
        prompt = self.prompt.value.strip()
        if not prompt:
            self._show_error("Write a prompt first: describe the whole extended picture.")
            return None
        if not self.plan:
            self._show_error("Nothing to fill: set a margin (or a target size) larger than the image first.")
            return None
        if self._tasks.running:
            self._show_error("A fill is already running: wait for it or press Cancel.")
            return None
        if self.canvas_state.done:  # a finished fill: start over from the original for new pixels
            self.canvas_state = outpaint.extend(self._original, **self._margins)
            self.frames_done = []
            self.progress.value = 0
            self._redraw()
        options = {**self.model_controls.options()}
        stream = bool(options.pop("stream", False))
        options.pop("partial_images", None)
        return self.start_task(lambda: self._fill(prompt, options, stream))

    async def _fill(self, prompt: str, fields: dict[str, Any], stream: bool) -> Any:
        client = _client.resolve(self._client)
        canvas = self.canvas_state
        frames = outpaint.pending(canvas, self.plan)
        t0 = time.monotonic()
        self._previews_shown = 0
        self.progress_label.value = f"frame 1 of {len(self.plan)}…"
        if frames:
            self._current = frames[0]
            self._draw_plan()

        def on_progress(_done: int, _total: int, new_canvas: Any, record: Any) -> None:
            self.canvas_state = new_canvas
            self.frames_done.append(record)
            nxt = next(iter(outpaint.pending(new_canvas, self.plan)), None)
            self._current = nxt
            self._previews_shown = 0
            self.progress.value = len(self.frames_done)
            label = f"{len(self.frames_done)} of {len(self.plan)} frames · {time.monotonic() - t0:.1f} s"
            self.progress_label.value = label + (" · next…" if nxt else "")
            self._redraw()

        options: dict[str, Any] = {
            "frame": self.frame,
            "frames": frames,
            "feather": self.feather,
            "on_progress": on_progress,
            "cache": "refresh",  # every press of Fill asks for new pixels
            **fields,  # quality, background, output_format: passed to every frame's edit
        }
        if stream and self.streams(client):
            options["on_preview"] = self._show_preview
        try:
            if _client.is_async(client):
                result = await outpaint.arun(client, canvas, prompt, **options)
            else:  # a sync client: run the blocking driver in a worker thread
                sync = cast(SyncImageClient, client)
                result = await asyncio.to_thread(outpaint.run, sync, canvas, prompt, **options)
        except outpaint.OutpaintIncomplete as exc:  # the frames filled are stored: keep them at hand
            self._keep(exc.result)
            raise
        self._keep(result)
        self._current = None
        self._redraw()
        self.progress_label.value = f"✓ filled in {time.monotonic() - t0:.1f} s"
        self.set_status(self._result_line(result))
        return result

    def _keep(self, result: Any) -> None:
        self.result = result
        self.results.append(result)
        self.canvas_state = result.canvas

    def _result_line(self, result: Any) -> str:
        """One line on the result: its size (and that it is the original's plus the margins) and its file."""
        w, h = result.canvas.size
        oh, ow = self._original.shape[:2]
        where = f"stored at {result.path}" if result.path else "not stored (the client has no store)"
        grown = f" (the {ow}×{oh} original with its margins)" if (w, h) != (ow, oh) else ""
        state = "Filled" if result.complete else f"Partly filled ({len(result.frames)} frames)"
        return f"✓ {state}: {w}×{h}{grown}, {where}"

    @staticmethod
    def streams(client: AnyImageClient) -> bool:
        """Whether fills through ``client`` can stream previews (its model streams, images protocol)."""
        model = getattr(client, "model", None)
        if not model or getattr(client, "protocol", "images") != "images":
            return False
        return lookup(model, warn=False).streaming

    def _show_preview(self, index: int, box: tuple[int, ...], image: Image.Image) -> None:
        """Draw a streamed preview of frame ``index`` into its box on the canvas (replaced by the
        blended frame when it is done)."""
        self.preview_log.append(index)
        self._previews_shown += 1
        self.progress_label.value = f"frame {index + 1} of {len(self.plan)} · preview {self._previews_shown}…"
        x0, y0, x1, y1 = box
        (a, b), (c, d) = self._viewport.to_display(x0, y0), self._viewport.to_display(x1, y1)
        w, h = max(1, round(c - a)), max(1, round(d - b))
        shown = imaging.on_checkerboard(image).resize((w, h), Image.Resampling.BILINEAR).convert("RGBA")
        with hold():
            self.view[0].put_image_data(rgba(np.asarray(shown)), round(a), round(b))

    # --------------------------------------------------------------- result
    def _need_result(self, what: str) -> Any:
        if self.result is None:
            raise RuntimeError(f"Nothing to {what} yet: press Fill first.")
        return self.result

    @staticmethod
    def _stored(result: Any) -> Any:
        """The result as stored (a GeneratedImage with its provenance), or its image when not stored."""
        if result.path and Path(result.path).is_file():
            from ..store import open_image

            return open_image(result.path)
        return result.image

    def show_result(self, index: int) -> Any:
        """Show fill ``index`` of :attr:`results` (its canvas and its file); Save, Pin and Edit
        further then act on it. Returns it."""
        if self._tasks.running:
            raise RuntimeError("a fill is running: wait for it or press Cancel first")
        n = len(self.results)
        if isinstance(index, bool) or not isinstance(index, int) or not -n <= index < n:
            raise IndexError(
                f"there {'is' if n == 1 else 'are'} {n} fill{'s' if n != 1 else ''}; got {index!r}"
            )
        result = self.results[index]
        self.result = result
        self.canvas_state = result.canvas
        self.frames_done = list(result.frames)
        self._current = None
        self._redraw()
        self._update_result_bar()
        self.set_status(self._result_line(result))
        return result

    def _shown(self) -> int:
        """The index in :attr:`results` of the fill shown, or -1 (by identity: results hold arrays)."""
        return next((i for i, r in enumerate(self.results) if r is self.result), -1)

    def _update_result_bar(self, busy: bool = False) -> None:
        for b in (self.save_button, self.pin_button, self.edit_button):
            b.disabled = busy or self.result is None
        n, k = len(self.results), self._shown()
        self.prev_button.disabled = busy or k <= 0
        self.next_button.disabled = busy or k < 0 or k >= n - 1
        self.result_label.value = f"<span class='dalle-muted'>fill {k + 1} of {n}</span>" if k >= 0 else ""
        for w in (self.prev_button, self.result_label, self.next_button):
            w.layout.display = "" if n > 1 else "none"
        # after a finished fill the same button re-rolls: say so
        again = self.canvas_state.done and self.result is not None
        self.generate_button.description = "Fill again" if again else "Fill"
        self.generate_button.tooltip = (
            "Re-roll: new pixels for the whole new area (the last result stays on disk)"
            if again
            else "Fill the new area frame by frame"
        )

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Copy the result (its stored PNG, provenance included) to ``path`` or a new file in the
        folder beside the notebook (``$DALLE_WIDGETS_OUTPUT_DIR``); show a link; return the path."""
        result = self._need_result("save")
        target = save_png(result.image, self.prompt.value or "outpaint", stored=result.path, path=path)
        w, h = result.canvas.size
        self.last_saved = target
        self.set_status(f"Saved the {w}×{h} result to {target}")
        self.file_link.show(target)
        return target

    def pin(self, board: Any | None = None, caption: str | None = None) -> Any:
        """Pin the result to ``board`` (default: the current mood board); return the board item."""
        from .board import current_board

        result = self._need_result("pin")
        board = board or current_board()
        item = board.pin(
            self._stored(result), caption=caption if caption is not None else self.prompt.value.strip()
        )
        self.set_status(f"Pinned the result to the board at {board.path}")
        return item

    def edit_result(self) -> Any:
        """Open a :class:`~.mask_editor.MaskEditor` on the result below the canvas; return it."""
        from .mask_editor import MaskEditor

        result = self._need_result("edit")
        self.editor = MaskEditor(
            self._stored(result),
            client=self._client,
            prompt=self.prompt.value,
            display_px=min(self.display_px, 640),
        )
        close = self.button(
            "Close editor", "Close the editor", self._close_editor, "dalle-close-editor", icon="times"
        )
        w, h = result.canvas.size
        head = W.HBox(
            [W.HTML(f"<b>Editing the {w}×{h} result</b>"), close],
            layout=W.Layout(align_items="center", justify_content="space-between", margin="8px 0 4px 0"),
        )
        self.detail.children = (head, self.editor)
        self.set_status(f"Editing the result in the MaskEditor below (from {result.path or 'memory'})")
        return self.editor

    def _close_editor(self) -> None:
        self.detail.children = ()
        self.editor = None

    @property
    def image(self) -> Image.Image:
        """The current composite: RGB once complete, RGBA with the unfilled area transparent before."""
        img = self.canvas_state.to_pil()
        return img.convert("RGB") if self.canvas_state.done else img

    # --------------------------------------------------------------- status
    def _on_busy(self, busy: bool) -> None:
        self.generate_button.disabled = busy
        self.cancel_button.disabled = not busy
        for w in (*self.sliders.values(), *self.numbers.values(), self.apply_target):
            w.disabled = busy
        for w in self.model_controls.children:
            w.disabled = busy
        self._update_result_bar(busy)
        if busy:
            self.status.value = ""
            return
        self._current = None
        try:
            self._draw_plan()
        except Exception:  # noqa: BLE001
            logger.debug("redraw after fill failed", exc_info=True)

    def _on_cancelled(self) -> None:
        n = len(self.frames_done)
        self.progress_label.value = f"Cancelled · {n} frame{'s' if n != 1 else ''} kept"

    def _show_error(self, line: str) -> None:
        self.show_error(line)

    # ----------------------------------------------------------- static repr
    def _snapshot(self) -> Image.Image:
        return outpaint.draw_plan(self.canvas_state, self.plan if self.plan_toggle.value else [])

    def _summary(self) -> str:
        w, h = self.canvas_state.size
        return (
            f"OutpaintEditor({w}x{h} canvas, {len(self.plan)} frames, "
            f"{float(self.canvas_state.mask.mean()):.0%} to generate)"
        )
