"""How the core's values show in a notebook: results as a Gallery, batches as cards and a progress bar.

The core (:mod:`dalle_widgets.results`, :mod:`dalle_widgets.batching`) draws nothing
and imports no widget. :func:`dalle_widgets.attach_display` registers :func:`show` with
IPython's display formatter by type *name* (the package does so when it is imported in
an IPython shell, and ``%load_ext dalle_widgets`` on its shell), so this module and the
widgets load on the first display, not before.

In a running Jupyter kernel (where widgets can render) an
:class:`~dalle_widgets.results.ImageResult` appears as a :class:`~.gallery.Gallery`
(whose mimebundle also carries a small PNG for saved notebooks); anywhere else
(terminal IPython) it falls back to the result's own static PNG/HTML forms.
"""

from __future__ import annotations

import html
import logging
from typing import Any

__all__ = ["display_batch", "display_progress", "display_result", "result_title", "show"]

logger = logging.getLogger("dalle_widgets")


def result_title(result: Any) -> str:
    """A one-line HTML heading for a result: prompt, count, size, model, cost.

    Examples
    --------
    >>> class R(list):
    ...     prompt, size, model, cost_usd, cached = "a fox", "512x512", "dall-e-2", 0.036, False
    >>> result_title(R([1, 2]))
    "<span class='dalle-muted'><b>a fox</b> · 2 × 512x512 · dall-e-2 · $0.036</span>"
    """
    parts = []
    if getattr(result, "prompt", None):
        parts.append(f"<b>{html.escape(str(result.prompt))}</b>")
    parts.append(f"{len(result)} × {html.escape(str(getattr(result, 'size', None) or '?'))}")
    if getattr(result, "model", None):
        parts.append(html.escape(str(result.model)))
    cost = getattr(result, "cost_usd", None)
    if cost is not None:
        parts.append(f"${cost:.3f}")
    if getattr(result, "cached", False):
        parts.append("replayed from cache")
    return f"<span class='dalle-muted'>{' · '.join(parts)}</span>"


def _in_kernel() -> bool:
    from IPython import get_ipython

    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def display_result(result: Any) -> None:
    """Display ``result`` as a Gallery in a live kernel, else as its static PNG/HTML."""
    from IPython.display import display

    if _in_kernel() and len(result):
        try:
            from .gallery import Gallery

            display(Gallery(result, title=result_title(result)))
            return
        except Exception:  # noqa: BLE001 - never fail to show paid images
            logger.warning("could not build a gallery for %r; showing thumbnails", result, exc_info=True)
    bundle: dict[str, Any] = {"text/plain": repr(result)}
    png = result._repr_png_()
    if png:
        bundle["image/png"] = png
        bundle["text/html"] = result._repr_html_()
    display(bundle, raw=True)


def display_batch(result: Any) -> None:
    """Display a :class:`~dalle_widgets.batching.BatchResult` as its summary and one card per prompt."""
    from IPython.display import display

    from .batch_view import batch_view

    display(batch_view(result))


def display_progress(progress: Any) -> None:
    """Display a :class:`~dalle_widgets.batching.BatchProgress` as a bar that follows it."""
    from IPython.display import display

    from .batch_view import progress_bar

    display(progress_bar(progress))


def show(obj: Any) -> None:
    """The printer :func:`dalle_widgets.attach_display` registers: pick the view for ``obj``."""
    from ..batching import BatchProgress, BatchResult

    if isinstance(obj, BatchResult):
        display_batch(obj)
    elif isinstance(obj, BatchProgress):
        display_progress(obj)
    else:
        display_result(obj)
