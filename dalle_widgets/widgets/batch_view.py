"""How a batch looks in a notebook: a progress bar that follows the tally, then one card per prompt.

:mod:`dalle_widgets.batching` runs the requests and reports through plain callbacks;
this module is the view. :func:`progress_bar` draws a
:class:`~dalle_widgets.batching.BatchProgress` and watches it; :func:`batch_view` shows
a :class:`~dalle_widgets.batching.BatchResult` as its summary and one
:class:`~.gallery.Gallery` card per prompt, so the tiles keep their vary / edit / pin /
save actions.
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..batching import BatchProgress, BatchResult
from .gallery import Gallery

__all__ = ["batch_view", "progress_bar"]


def progress_bar(progress: BatchProgress) -> W.HBox:
    """An ipywidgets bar and label that follow ``progress`` (green when done, amber if a prompt failed)."""
    bar = W.IntProgress(value=progress.done, min=0, max=progress.total, description="batch")
    label = W.HTML(progress.text())

    def follow(tally: BatchProgress) -> None:
        bar.value = tally.done
        label.value = tally.text()
        if tally.finished:
            bar.bar_style = "warning" if tally.failed else "success"

    progress.watch(follow)
    return W.HBox([bar, label])


def batch_view(result: BatchResult, *, thumb_px: int = 256) -> W.VBox:
    """One widget: the summary, then one card per successful prompt (its text above its images), wrapping."""
    cards = []
    for item in result.items:
        if not item.ok:
            continue
        label = f"<b>[{item.index}]</b> {html.escape(item.prompt)}"
        if item.cached:
            label += " <i>(replayed from the cache)</i>"
        width = f"{thumb_px * max(1, len(item.result)) + 8}px"
        head = W.HTML(label, layout=W.Layout(max_width=width))
        gallery = Gallery(
            item.result, client=result.client, thumb_px=thumb_px, columns=max(1, len(item.result))
        )
        cards.append(W.VBox([head, gallery], layout=W.Layout(margin="0 16px 16px 0")))
    summary = W.HTML(f"<pre style='margin:0'>{html.escape(result.summary())}</pre>")
    grid = W.HBox(cards, layout=W.Layout(flex_flow="row wrap", align_items="flex-start"))
    return W.VBox([summary, grid])
