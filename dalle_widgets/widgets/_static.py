"""A static twin beside each widget's live view, so a saved notebook shows a picture, never an error.

JupyterLab 4 and Notebook 7 (ipywidgets 8) always prefer the widget view
(``application/vnd.jupyter.widget-view+json``) of an output over its other forms
when the notebook is trusted, and a notebook the user saved is: reopened with a new
kernel, the model is gone and the view reads "Error displaying widget: model not
found"; an ``image/png`` in the same output is never used. So a displayed widget
makes **two** outputs (:meth:`StaticFallbackMixin._ipython_display_`):

1. the live view (widget view and a one-line ``text/plain``), its root marked with the
   class ``dalle-live``;
2. its static twin: a small PNG snapshot (palette-quantised, well under 100 kB) as
   ``image/png`` and as ``text/html`` with a caption, shown under a ``display_id``
   so the widget can replace it with its latest state (:meth:`refresh_static`).

The twin's HTML carries a small stylesheet (CSS ``:has()``): while the live view is
there and connected, the twin is hidden; when it is not (reopened without a kernel,
or the kernel restarted: ipywidgets marks the view ``jupyter-widgets-disconnected``),
the live output is hidden and the twin shows the last picture with "run the cell
again for the live widget". GitHub, nbviewer and nbconvert show the twin's picture.

``_repr_mimebundle_`` still carries ``image/png`` and the short ``text/plain`` for
callers that ask for one bundle.
"""

from __future__ import annotations

import base64
import html
import logging
import weakref
from typing import Any

import numpy as np
from PIL import Image

from .. import _png
from ..boards import placeholder

__all__ = [
    "STATIC_CSS",
    "WIDGET_VIEW",
    "StaticFallbackMixin",
    "placeholder",
    "png_bytes",
    "small_png",
    "static_html",
]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

#: Shows the static twin only when its live widget is not there (or its kernel is gone),
#: and hides the live output then ("Error displaying widget" or a disconnected view).
STATIC_CSS = """<style>
.jp-OutputArea-child:has(.dalle-live:not(.jupyter-widgets-disconnected))
  + .jp-OutputArea-child:has(.dalle-static) { display: none; }
.jp-OutputArea-child:has(+ .jp-OutputArea-child .dalle-static):not(
  :has(.dalle-live:not(.jupyter-widgets-disconnected))) { display: none; }
</style>"""

#: The twin's own looks, inline: JupyterLab strips ``<style>`` from the outputs of a notebook it
#: does not trust (a shipped demo notebook, one downloaded from GitHub), but keeps ``style=``.
FIGURE_STYLE = "margin:0"
CAPTION_STYLE = "font-size:12px;opacity:0.8;margin-top:2px"

logger = logging.getLogger("dalle_widgets")

SNAPSHOT_PX = 320


def png_bytes(image: Image.Image, *, max_bytes: int | None = None) -> bytes:
    """Encode ``image`` as PNG; if larger than ``max_bytes``, as a 256-colour palette PNG.

    Examples
    --------
    >>> data = png_bytes(Image.new("RGB", (8, 8), "red"))
    >>> data[:4] == b"\\x89PNG"
    True
    """
    # zlib level 6, not ``optimize=True`` (level 9 plus filter trials): on a 256 px photo-like
    # thumbnail that costs 0.2-0.3 s for 5-7 % fewer bytes, i.e. seconds per gallery of ten.
    data = _png.encode(image, level=6)
    if max_bytes is not None and len(data) > max_bytes:
        rgb = image.convert("RGBA") if "A" in image.getbands() else image.convert("RGB")
        method = Image.Quantize.FASTOCTREE
        quant = rgb.quantize(colors=256, method=method, dither=Image.Dither.NONE)
        small = _png.encode(quant, level=6)
        if len(small) < len(data):
            data = small
    return data


def small_png(image: Image.Image | np.ndarray, px: int = SNAPSHOT_PX) -> bytes:
    """A PNG no larger than ``px`` on its longest side (palette-quantised above 60 kB)."""
    from .. import imaging

    thumb = imaging.thumbnail(image, px)
    return png_bytes(thumb, max_bytes=60_000)


def static_html(png: bytes, summary: str) -> str:
    """The twin's HTML: the snapshot and a caption saying how to get the live widget back."""
    b64 = base64.b64encode(png).decode("ascii")
    text = html.escape(summary)
    return (
        f"{STATIC_CSS}<figure class='dalle-static' style='{FIGURE_STYLE}'>"
        f"<img src='data:image/png;base64,{b64}' alt='{html.escape(summary, quote=True)}'>"
        f"<figcaption style='{CAPTION_STYLE}'>Static picture of {text}: its kernel is gone. "
        "Run the cell again for the live widget.</figcaption></figure>"
    )


#: Widgets whose twin changed while no cell ran (a button click): refreshed after the next cell.
_stale: weakref.WeakSet[Any] = weakref.WeakSet()
#: Widgets with a debounced refresh scheduled: flushed when the cell ends, while it still owns the
#: output (a refresh sent after the cell's reply is dropped by nbclient/nbconvert, so a notebook
#: executed headless would keep each widget's first picture).
_pending: weakref.WeakSet[Any] = weakref.WeakSet()
_hooked = False


def _in_cell() -> bool:
    """True while the kernel executes a cell (a display update then reaches the notebook)."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        if kernel is None:
            return True  # no front end to miss the update
        return kernel.get_parent()["header"]["msg_type"] == "execute_request"
    except Exception:  # noqa: BLE001 - unknown: assume it reaches
        return True


def _refresh_stale(*_args: Any) -> None:
    """After a cell ran: bring up to date the twins of widgets changed by their buttons, and
    those changed by the cell itself whose debounced refresh has not fired yet."""
    for widget in {*_stale, *_pending}:
        _stale.discard(widget)
        _pending.discard(widget)
        widget.refresh_static()


def _hook_cells() -> None:
    """Refresh stale twins after every cell. JupyterLab applies a display update only when it
    comes with a cell's execution, not with a widget's button click (a comm message)."""
    global _hooked
    if _hooked:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.events.register("post_run_cell", _refresh_stale)
        _hooked = True


class StaticFallbackMixin:
    """Adds ``image/png`` and a short ``text/plain`` to an ipywidgets mimebundle.

    Subclasses implement ``_snapshot() -> PIL.Image`` and ``_summary() -> str``, and may
    raise ``_snapshot_px`` (the snapshot's longest side) when they show several pictures.
    """

    _snapshot_px = SNAPSHOT_PX

    def _snapshot(self) -> Image.Image | None:  # pragma: no cover - overridden
        return None

    def _summary(self) -> str:  # pragma: no cover - overridden
        return type(self).__name__

    def __repr__(self) -> str:
        return self._summary()

    _static_display_id: str | None = None

    def _static_png(self) -> bytes | None:
        try:
            snap = self._snapshot()
        except Exception:  # noqa: BLE001 - a fallback image must never break display
            logger.debug("static snapshot failed", exc_info=True)
            return None
        return small_png(snap, self._snapshot_px) if snap is not None else None

    def static_bundle(self) -> dict[str, Any]:
        """The static twin's mimebundle: ``image/png``, ``text/html`` (with a caption), ``text/plain``."""
        summary = self._summary()
        bundle: dict[str, Any] = {
            "text/plain": f"Static picture of {summary}: run the cell for the live widget"
        }
        png = self._static_png()
        if png is not None:
            bundle["image/png"] = base64.b64encode(png).decode("ascii")
            bundle["text/html"] = static_html(png, summary)
        return bundle

    def _ipython_display_(self) -> None:
        """Display the live view and, under it, its static twin (see the module's docstring)."""
        from IPython.display import display

        data = super()._repr_mimebundle_()  # type: ignore[misc]
        if not data or WIDGET_VIEW not in data:
            display(self.static_bundle(), raw=True)
            return
        self.add_class("dalle-live")  # type: ignore[attr-defined]
        display({WIDGET_VIEW: data[WIDGET_VIEW], "text/plain": self._summary()}, raw=True)
        if self._static_display_id is None:
            self._static_display_id = f"dalle-static-{self.model_id}"  # type: ignore[attr-defined]
        _hook_cells()
        display(self.static_bundle(), raw=True, display_id=self._static_display_id)

    def _static_changed(self, delay: float = 0.4) -> None:
        """Refresh the static twin soon: changes in quick succession (a drag, a batch) make one update.

        On the kernel's running loop the refresh waits ``delay`` seconds, or until the running cell
        ends if that is sooner (so the cell's own output gets it); without a loop it is immediate.
        """
        if self._static_display_id is None:
            return
        if not _in_cell():
            _stale.add(self)
        if self in _pending:
            return
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.refresh_static()
            return
        _pending.add(self)

        def fire() -> None:
            if self not in _pending:
                return  # flushed when its cell ended
            _pending.discard(self)
            self.refresh_static()

        loop.call_later(delay, fire)

    def refresh_static(self) -> bool:
        """Replace the static twin with the widget's current state; False if it was never displayed.

        JupyterLab applies the update when it comes with a cell's execution; a change made by a
        button click is applied after the next cell runs (any cell). Widgets call it after each change.
        """
        if self._static_display_id is None:
            return False
        from IPython.display import update_display

        try:
            update_display(self.static_bundle(), raw=True, display_id=self._static_display_id)
        except Exception:  # noqa: BLE001 - a stale picture is better than a failed action
            logger.debug("static twin update failed", exc_info=True)
            return False
        return True

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        if data is None:
            return None
        data["text/plain"] = self._summary()
        try:
            snap = self._snapshot()
        except Exception:  # noqa: BLE001 - a fallback image must never break display
            logger.debug("static snapshot failed", exc_info=True)
            snap = None
        if snap is not None:
            data["image/png"] = base64.b64encode(small_png(snap, self._snapshot_px)).decode("ascii")
        return data
