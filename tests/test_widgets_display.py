"""The core draws nothing; the widgets show its values through IPython's display formatter.

An ImageResult shows as a Gallery in a live kernel and as static thumbnails elsewhere;
a BatchResult as its summary and one card per prompt; a BatchProgress as a bar.
(tests/test_layers.py checks that the core loads without the widgets.)
"""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

import dalle_widgets
from dalle_widgets.batching import BatchItem, BatchProgress, BatchResult
from dalle_widgets.client import ImagesClient
from dalle_widgets.results import ImageResult
from dalle_widgets.widgets import Gallery, _display
from dalle_widgets.widgets.batch_view import progress_bar


@pytest.fixture
def result(offline_engine):
    with ImagesClient(api_key=offline_engine.token, base_url=offline_engine.base_url) as client:
        yield client.generate("a watercolor fox", n=3, size="256x256", seed=1)


@pytest.fixture
def shell() -> InteractiveShell:
    shell = InteractiveShell.instance()
    dalle_widgets.attach_display(shell)
    return shell


def _capture(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    shown: list[tuple[Any, dict[str, Any]]] = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append((obj, kw)))
    return shown


def test_the_core_types_carry_no_display_hook() -> None:
    for cls in (ImageResult, BatchResult, BatchProgress):
        assert not hasattr(cls, "_ipython_display_"), cls


def test_result_is_a_gallery_in_a_kernel(result, shell, monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _capture(monkeypatch)
    monkeypatch.setattr(_display, "_in_kernel", lambda: True)
    assert shell.display_formatter.format(result) == ({}, {})  # the widgets' printer took it
    ((obj, _kw),) = shown
    assert isinstance(obj, Gallery) and len(obj.images) == 3
    assert "a watercolor fox" in obj.header.value and "3 × 256x256" in obj.header.value
    assert obj.images[0] is result[0]  # the tiles keep the GeneratedImage (provenance, path)


def test_result_is_static_outside_a_kernel(result, shell, monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _capture(monkeypatch)
    shell.display_formatter.format(result)
    ((obj, kw),) = shown
    assert kw == {"raw": True} and set(obj) == {"text/plain", "image/png", "text/html"}
    assert obj["text/plain"].startswith("<ImageResult 3 x 256x256 generate")


def test_a_batch_shows_as_cards_of_galleries(result, shell, monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _capture(monkeypatch)
    items = [
        BatchItem(index=0, prompt="a watercolor fox", result=result, cost_usd=0.0),
        BatchItem(index=1, prompt="a forbidden fox", error=ValueError("refused")),
    ]
    shell.display_formatter.format(BatchResult(items))
    ((view, _kw),) = shown
    summary, grid = view.children
    assert summary.value.startswith("<pre style='margin:0'>1 of 2 prompts done (3 images), 1 failed")
    ((head, gallery),) = (card.children for card in grid.children)  # one card: the failed prompt has none
    assert "a watercolor fox" in head.value and isinstance(gallery, Gallery) and len(gallery.images) == 3


def test_progress_bar_follows_the_tally() -> None:
    tally = BatchProgress(2)
    bar, label = progress_bar(tally).children
    assert (bar.value, bar.max, label.value) == (0, 2, "0/2 done · $0.00")
    tally(BatchItem(index=0, prompt="a", result=[object()], cost_usd=0.016))
    assert (bar.value, bar.bar_style, label.value) == (1, "", "1/2 done · $0.016")
    tally(BatchItem(index=1, prompt="b", error=ValueError("no")))
    assert (bar.value, bar.bar_style, label.value) == (2, "warning", "2/2 done, 1 failed · $0.016")
