"""Zoom and pan for an editor's canvas: its size for a zoom, and the gestures in the browser.

The canvas shows the image fitted to the output (zoom 1) or ``zoom`` times larger
inside a scrolling frame. Two parts:

- :class:`CanvasZoom` (Python) decides the canvas's *pixels* (a :class:`~._canvas.Viewport`;
  never more than the image's own pixels, nor :data:`MAX_CANVAS_PX`) and its *CSS box*
  (``zoom`` times the fitted size: past the image's own pixels the browser enlarges
  them), so a large photo zooms to 1:1 and a small one can still be magnified;
- :class:`PanZoom`, a tiny anywidget module (no build step) attached to the canvas's
  frame, for what only the browser can do: **Ctrl/Cmd + wheel** (or a trackpad pinch)
  asks for the next zoom step and keeps the point under the pointer in place; a
  **middle-button drag**, or a left drag while the editor's Pan switch is on, scrolls
  the frame (the strokes never see it). A plain wheel scrolls the frame or the
  notebook as anywhere: ipycanvas's own wheel handler (which cancels every wheel
  event over a canvas, and reports neither the pointer's position nor the modifier
  keys) never sees the events. When the zoom changes by a button, the centre of
  the view stays in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import ipywidgets as W
import traitlets

from ._canvas import Viewport

__all__ = ["MAX_CANVAS_PX", "ZOOMS", "CanvasZoom", "PanZoom", "canvas_px", "zoom_step"]

#: The zoom steps of the buttons and the wheel (1 = fitted to the output).
ZOOMS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
#: The most canvas pixels along a side (browsers slow down and the messages grow past it).
MAX_CANVAS_PX = 4096


def zoom_step(zoom: float, direction: int) -> float:
    """The next zoom step above (``direction`` > 0) or below ``zoom``; ``zoom`` itself at the ends.

    >>> zoom_step(1.0, 1), zoom_step(1.2, 1), zoom_step(1.5, -1), zoom_step(8.0, 1)
    (1.5, 1.5, 1.0, 8.0)
    """
    if direction > 0:
        return next((z for z in ZOOMS if z > zoom + 1e-9), zoom)
    return next((z for z in reversed(ZOOMS) if z < zoom - 1e-9), zoom)


def canvas_px(shape: tuple[int, int], display_px: int, zoom: float) -> int:
    """The canvas's longest side in pixels for ``zoom``: the zoomed size, at most the image's own.

    >>> canvas_px((1500, 2400), 512, 2.0), canvas_px((1500, 2400), 512, 8.0), canvas_px((64, 64), 256, 4.0)
    (1024, 2400, 256)
    """
    own = max(int(max(shape)), int(display_px))
    return max(1, min(round(display_px * zoom), MAX_CANVAS_PX, own))


class CanvasZoom:
    """The pixels and CSS box of ``canvas`` showing an image of ``shape`` at a zoom.

    Parameters
    ----------
    canvas : ipycanvas.MultiCanvas
        Its ``width``/``height`` and ``layout`` are set here, nowhere else.
    shape : (H, W)
        The image's shape.
    display_px : int
        The fitted canvas's longest side (zoom 1).
    """

    def __init__(self, canvas: Any, shape: tuple[int, int], display_px: int) -> None:
        self.canvas = canvas
        self.display_px = int(display_px)
        self.zoom = 1.0
        self.shape = (int(shape[0]), int(shape[1]))
        self.viewport = Viewport(self.shape, self.display_px)
        self.column: W.Box | None = None  # the box around the canvas, as wide as it at zoom 1

    @property
    def fitted(self) -> tuple[int, int]:
        """``(H, W)`` of the canvas's CSS box at zoom 1 (before it shrinks to a narrow output)."""
        return Viewport(self.shape, self.display_px).display

    def set(self, zoom: float | None = None, shape: tuple[int, int] | None = None) -> None:
        """Show ``shape`` (default: the same image) at ``zoom`` (default: the same zoom)."""
        if zoom is not None:
            z = float(zoom)
            if not ZOOMS[0] <= z <= ZOOMS[-1]:
                raise ValueError(f"zoom must be between {ZOOMS[0]:g} and {ZOOMS[-1]:g}; got {zoom!r}")
            self.zoom = z
        if shape is not None:
            self.shape = (int(shape[0]), int(shape[1]))
        self.viewport = Viewport(self.shape, canvas_px(self.shape, self.display_px, self.zoom))
        dh, dw = self.viewport.display
        if (self.canvas.width, self.canvas.height) != (dw, dh):
            self.canvas.width, self.canvas.height = dw, dh
        self.fit_layout()

    def fit_layout(self) -> None:
        """CSS box of the canvas: shrink to the output's width at zoom 1, ``zoom`` x fitted when zoomed."""
        fh, fw = self.fitted
        lay = self.canvas.layout
        if self.zoom <= 1.0:
            # its own size, but no wider than the output and no taller than 68% of the window
            # (the width follows from the height limit, so the image keeps its proportions)
            lay.width, lay.height = f"min({fw}px, calc(68vh * {fw / fh:.4f}))", "auto"
            lay.max_width, lay.max_height = "100%", "none"
            if self.column is not None:
                self.column.layout.max_width = f"{fw + 4}px"  # as wide as the canvas, at most
        else:
            lay.width, lay.height = f"{round(fw * self.zoom)}px", f"{round(fh * self.zoom)}px"
            lay.max_width, lay.max_height = "none", "none"
            if self.column is not None:
                self.column.layout.max_width = "100%"


_ESM = r"""
function render({ model, el }) {
  el.style.display = "none";
  let frame = null, tries = 0, last = null, anchor = null, anchorTimer = null, pan = null, lastWheel = 0;
  const layer = () => frame && frame.querySelector("canvas");
  const offset = (r, f) => ({ x: r.left - f.left + frame.scrollLeft, y: r.top - f.top + frame.scrollTop });
  const onWheel = (e) => {
    if (!e.target || e.target.tagName !== "CANVAS") return;
    // ipycanvas cancels every wheel event over a canvas: keep it from seeing any, so a plain
    // wheel scrolls the frame or the notebook as anywhere else
    e.stopPropagation();
    if (!(e.ctrlKey || e.metaKey)) return;
    e.preventDefault();  // no browser zoom
    const now = performance.now();
    if (now - lastWheel < 120 || !e.deltaY) return;
    lastWheel = now;
    const r = layer().getBoundingClientRect(), f = frame.getBoundingClientRect();
    anchor = { fx: (e.clientX - r.left) / r.width, fy: (e.clientY - r.top) / r.height,
               px: e.clientX - f.left, py: e.clientY - f.top };
    // kept while the canvas settles (its pixels and its CSS box change in turn), then dropped
    clearTimeout(anchorTimer);
    anchorTimer = setTimeout(() => { anchor = null; }, 1500);
    model.send({ event: "zoom", direction: e.deltaY < 0 ? 1 : -1 });
  };
  const onResize = () => {
    const c = layer();
    if (!c) return;
    const r = c.getBoundingClientRect(), f = frame.getBoundingClientRect();
    if (!r.width || !r.height) return;
    let a = anchor;
    if (!a && last) {  // a button changed the zoom: keep the centre of the view in place
      const o = offset(r, f), cx = frame.clientWidth / 2, cy = frame.clientHeight / 2;
      a = { fx: (frame.scrollLeft + cx - o.x) / last.width, fy: (frame.scrollTop + cy - o.y) / last.height,
            px: cx, py: cy };
    }
    if (a && last && (last.width !== r.width || last.height !== r.height)) {
      const o = offset(r, f);
      frame.scrollLeft = o.x + a.fx * r.width - a.px;
      frame.scrollTop = o.y + a.fy * r.height - a.py;
    }
    last = { width: r.width, height: r.height };
  };
  const wantsPan = (e) => e.button === 1 || (e.button === 0 && model.get("pan"));
  const onDown = (e) => {
    if (!e.target || e.target.tagName !== "CANVAS" || !wantsPan(e)) return;
    e.preventDefault();      // no autoscroll or paste on the middle button
    e.stopPropagation();     // the canvas never sees it: no stroke
    pan = { x: e.clientX, y: e.clientY, left: frame.scrollLeft, top: frame.scrollTop };
    frame.style.cursor = "grabbing";
    window.addEventListener("mousemove", onMove, true);
    window.addEventListener("mouseup", onUp, true);
  };
  const onMove = (e) => {
    if (!pan) return;
    e.preventDefault();
    e.stopPropagation();
    frame.scrollLeft = pan.left - (e.clientX - pan.x);
    frame.scrollTop = pan.top - (e.clientY - pan.y);
  };
  const onUp = (e) => {
    if (!pan) return;
    e.stopPropagation();
    pan = null;
    window.removeEventListener("mousemove", onMove, true);
    window.removeEventListener("mouseup", onUp, true);
    cursor();
    model.set("pans", model.get("pans") + 1);
    model.save_changes();
  };
  const onAux = (e) => { if (e.button === 1) e.preventDefault(); };
  const cursor = () => { if (frame) frame.style.cursor = model.get("pan") ? "grab" : ""; };
  let observer = null;
  const attach = () => {
    const root = el.closest("." + model.get("scope"));
    frame = root && root.querySelector("." + model.get("frame"));
    if (!frame || !layer()) {
      if (tries++ < 200) { setTimeout(attach, 50); }
      return;
    }
    frame.addEventListener("wheel", onWheel, { capture: true, passive: false });
    frame.addEventListener("mousedown", onDown, true);
    frame.addEventListener("auxclick", onAux, true);
    observer = new ResizeObserver(onResize);
    observer.observe(layer());
    onResize();
    cursor();
  };
  model.on("change:pan", cursor);
  attach();
  return () => {
    if (observer) observer.disconnect();
    if (frame) {
      frame.removeEventListener("wheel", onWheel, { capture: true });
      frame.removeEventListener("mousedown", onDown, true);
      frame.removeEventListener("auxclick", onAux, true);
    }
    window.removeEventListener("mousemove", onMove, true);
    window.removeEventListener("mouseup", onUp, true);
  };
}
export default { render };
"""


class PanZoom(anywidget.AnyWidget):
    """Invisible helper: Ctrl/Cmd+wheel zoom and drag-pan for the canvas in ``frame`` inside ``scope``.

    Parameters
    ----------
    scope : str
        A class on the widget both this helper and the canvas live in (unique per widget).
    frame : str
        A class on the scrolling box that holds the canvas.
    """

    _esm = _ESM
    scope = traitlets.Unicode("").tag(sync=True)
    frame = traitlets.Unicode("").tag(sync=True)
    #: While True a left drag on the canvas pans instead of painting (the middle button always pans).
    pan = traitlets.Bool(False).tag(sync=True)
    #: How many pan gestures ended (the browser counts; tests read it).
    pans = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._zoom_callbacks: list[Callable[[int], None]] = []
        #: How many wheel zoom requests arrived from the browser.
        self.wheel_zooms = 0
        self.on_msg(self._on_custom_msg)

    def on_zoom(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(direction)`` (+1 in, -1 out) for each Ctrl/Cmd+wheel step."""
        self._zoom_callbacks.append(callback)

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("event") != "zoom":
            return
        direction = 1 if int(content.get("direction") or 0) > 0 else -1
        self.wheel_zooms += 1
        for cb in list(self._zoom_callbacks):
            cb(direction)
