"""``OutpaintEditor``: extend an image past its borders, see the frame plan, fill it frame by frame.

Margins per side (slider and number, linked in the browser) or a target canvas
size with an anchor define an :class:`~dalle_widgets.outpaint.OutpaintCanvas`;
the canvas view shows the original with the new area checkered and the frame
plan from :func:`dalle_widgets.outpaint.plan` drawn as numbered boxes *before*
anything is sent (each frame is one paid request). Generate runs
:func:`dalle_widgets.outpaint.arun` as an asyncio task on the kernel's loop: each
finished frame updates the preview and the progress bar; Cancel stops after the
frame in flight and keeps every frame already filled (Generate again resumes
from what is left).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

import ipywidgets as W
import numpy as np
from ipycanvas import MultiCanvas
from PIL import Image

from .. import imaging, outpaint
from .._types import AnyImageClient, SyncImageClient
from ..models import lookup
from . import _client
from ._canvas import Viewport, hold, rgba
from ._keyguard import KeyGuard
from ._shell import WidgetShell
from ._static import StaticFallbackMixin

__all__ = ["OutpaintEditor"]

logger = logging.getLogger("dalle_widgets")

SIDES = ("left", "top", "right", "bottom")
ANCHORS = ("center", "top-left", "top", "top-right", "left", "right", "bottom-left", "bottom", "bottom-right")
PLAN_COLOR = "rgba(255,64,64,0.95)"
DONE_COLOR = "rgba(40,170,80,0.95)"


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
        self.frames_done: list[Any] = []
        #: the frame index of each streamed preview drawn, in order
        self.preview_log: list[int] = []
        self._current: tuple[int, int, int, int] | None = None
        self._init_shell()
        self._build_ui(prompt, int(max_margin))
        self._rebuild()

    # ------------------------------------------------------------------ UI
    def _build_ui(self, prompt: str, max_margin: int) -> None:
        self.sliders: dict[str, W.IntSlider] = {}
        self.numbers: dict[str, W.BoundedIntText] = {}
        rows = []
        for side in SIDES:
            s = W.IntSlider(
                value=0,
                min=0,
                max=max_margin,
                step=16,
                description=side.capitalize(),
                continuous_update=False,
                readout=False,
                tooltip=f"{side.capitalize()} margin in pixels",
                layout=W.Layout(width="260px"),
                style={"description_width": "50px"},
            )
            t = W.BoundedIntText(
                value=0,
                min=0,
                max=max_margin,
                description="px",
                tooltip=f"{side.capitalize()} margin in pixels",
                layout=W.Layout(width="104px"),
                style={"description_width": "20px"},
            )
            s.add_class(f"dalle-margin-{side}")
            t.add_class(f"dalle-margin-{side}-value")
            W.link((s, "value"), (t, "value"))
            s.observe(self._on_margin, "value")
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
        self.prompt = W.Textarea(
            value=prompt,
            placeholder="Describe the whole extended picture",
            tooltip="Prompt: describe the whole extended picture",
            layout=W.Layout(width="420px", max_width="100%", height="52px"),
        )
        self.prompt.add_class("dalle-prompt")
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
        gen = W.HBox(
            [self.prompt, self.generate_button, self.cancel_button, self.progress, self.progress_label],
            layout=W.Layout(align_items="center", flex_flow="row wrap"),
        )
        self.children = (self._theme, self.keyguard, margins, self.view_frame, self.info, gen, self.status)
        self.add_class("dalle-outpaint-editor")
        self.add_class(self._uid)

    # -------------------------------------------------------------- margins
    @property
    def margins(self) -> dict[str, int]:
        """Current margins in px: ``{"left": .., "top": .., "right": .., "bottom": ..}``."""
        return {side: int(self.sliders[side].value) for side in SIDES}

    def set_margins(
        self,
        left: int | None = None,
        top: int | None = None,
        right: int | None = None,
        bottom: int | None = None,
    ) -> None:
        """Set some margins (px) at once; the canvas and the plan follow (one rebuild)."""
        values = {"left": left, "top": top, "right": right, "bottom": bottom}
        for side, v in values.items():
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0):
                raise ValueError(f"{side} margin must be a whole number of pixels >= 0; got {v!r}")
            if v is not None and v > self.sliders[side].max:
                raise ValueError(
                    f"{side} margin {v} is above the maximum {self.sliders[side].max} px; "
                    "pass max_margin= to the editor for larger canvases"
                )
        self._batch = True
        try:
            for side, v in values.items():
                if v is not None:
                    self.sliders[side].value = int(v)
        finally:
            self._batch = False
        self._rebuild()

    def set_target(self, size: Any, anchor: str = "center") -> None:
        """Grow the canvas to ``size`` (``"WxH"``, ``(w, h)`` or an int) with the original at ``anchor``."""
        if isinstance(size, str) and not size.strip():
            raise ValueError("type a target size such as 2048x1024")
        c = outpaint.extend_to(self._original, size, anchor=anchor)
        x0, y0, x1, y1 = c.box
        w, h = c.size
        self.set_margins(left=x0, top=y0, right=w - x1, bottom=h - y1)

    def _on_margin(self, _change: dict[str, Any]) -> None:
        if not getattr(self, "_batch", False):
            self._guard(self._rebuild)

    def _rebuild(self) -> None:
        if self._tasks.running:
            raise RuntimeError("a fill is running: cancel it before changing the margins")
        m = self.margins
        self.canvas_state = outpaint.extend(self._original, **m)
        self.plan = outpaint.plan(self.canvas_state, frame=self.frame) if self.canvas_state.mask.any() else []
        self.result = None
        self.frames_done = []
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
        c = self.canvas_state
        dh, dw = self._viewport.display
        pil = c.to_pil()
        if pil.size != (dw, dh):
            pil = pil.resize((dw, dh), Image.Resampling.BILINEAR)
        shown = np.asarray(pil).copy()
        board = imaging.checkerboard((dh, dw), cell=10)
        alpha = shown[..., 3:4].astype(np.float32) / 255.0
        shown[..., :3] = (shown[..., :3] * alpha + board * (1 - alpha)).round().astype(np.uint8)
        shown[..., 3] = 255
        return rgba(shown)

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
            from .. import outpaint
            from ..models import DEFAULT_MODEL
            from ..pricing import estimate, format_usd

            model = getattr(self._client, "model", None) or DEFAULT_MODEL
            req = outpaint.request_size(self.plan, model)
            est = estimate(  # the one pricing path, as the magic's --dry-run
                model,
                f"{req}x{req}",
                1,
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
        """Fill the new area frame by frame (async task); returns the task's future, or None if refused."""
        prompt = self.prompt.value.strip()
        if not prompt:
            self._show_error("Write a prompt first: describe the whole extended picture.")
            return None
        if not self.canvas_state.mask.any():
            self._show_error("Nothing to fill: set a margin (or a target size) larger than the image first.")
            return None
        return self.start_task(
            lambda: self._fill(prompt), busy="A fill is already running: wait for it or press Cancel."
        )

    async def _fill(self, prompt: str) -> Any:
        client = _client.resolve(self._client)
        canvas = self.canvas_state
        frames = [b for b in self.plan if canvas.mask[b[1] : b[3], b[0] : b[2]].any()]
        t0 = time.monotonic()
        self.progress_label.value = f"frame 1 of {len(self.plan)}…"
        if frames:
            self._current = frames[0]
            self._draw_plan()

        def on_progress(_done: int, _total: int, new_canvas: Any, record: Any) -> None:
            self.canvas_state = new_canvas
            self.frames_done.append(record)
            nxt = next((b for b in self.plan if new_canvas.mask[b[1] : b[3], b[0] : b[2]].any()), None)
            self._current = nxt
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
        }
        if self.streams(client):
            options["on_preview"] = self._show_preview
        if _client.is_async(client):
            result = await outpaint.arun(client, canvas, prompt, **options)
        else:  # a sync client: run the blocking driver in a worker thread
            sync = cast(SyncImageClient, client)
            result = await asyncio.to_thread(outpaint.run, sync, canvas, prompt, **options)
        self.result = result
        self.canvas_state = result.canvas
        self._current = None
        self._redraw()
        self.progress_label.value = f"✓ filled in {time.monotonic() - t0:.1f} s"
        return result

    @staticmethod
    def streams(client: AnyImageClient) -> bool:
        """Whether fills through ``client`` stream previews (its model streams, images protocol)."""
        model = getattr(client, "model", None)
        if not model or getattr(client, "protocol", "images") != "images":
            return False
        return lookup(model, warn=False).streaming

    def _show_preview(self, index: int, box: tuple[int, ...], image: Image.Image) -> None:
        """Draw a streamed preview of frame ``index`` into its box on the canvas (replaced by the
        blended frame when it is done)."""
        self.preview_log.append(index)
        x0, y0, x1, y1 = box
        (a, b), (c, d) = self._viewport.to_display(x0, y0), self._viewport.to_display(x1, y1)
        w, h = max(1, round(c - a)), max(1, round(d - b))
        shown = imaging.on_checkerboard(image).resize((w, h), Image.Resampling.BILINEAR).convert("RGBA")
        with hold():
            self.view[0].put_image_data(rgba(np.asarray(shown)), round(a), round(b))

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
        return outpaint.draw_plan(self.canvas_state, self.plan)

    def _summary(self) -> str:
        w, h = self.canvas_state.size
        return (
            f"OutpaintEditor({w}x{h} canvas, {len(self.plan)} frames, "
            f"{float(self.canvas_state.mask.mean()):.0%} to generate)"
        )
