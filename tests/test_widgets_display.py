"""An ImageResult shows itself as a Gallery in a live kernel, as static thumbnails elsewhere."""

from __future__ import annotations

from typing import Any

import pytest

from dalle_widgets.client import ImagesClient
from dalle_widgets.widgets import Gallery, _display


@pytest.fixture
def result(offline_engine):
    with ImagesClient(api_key=offline_engine.token, base_url=offline_engine.base_url) as client:
        yield client.generate("a watercolor fox", n=3, size="256x256", seed=1)


def _capture(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    shown: list[tuple[Any, dict[str, Any]]] = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append((obj, kw)))
    return shown


def test_result_is_a_gallery_in_a_kernel(result, monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _capture(monkeypatch)
    monkeypatch.setattr(_display, "_in_kernel", lambda: True)
    result._ipython_display_()
    ((obj, _kw),) = shown
    assert isinstance(obj, Gallery) and len(obj.images) == 3
    assert "a watercolor fox" in obj.header.value and "3 × 256x256" in obj.header.value
    assert obj.images[0] is result[0]  # the tiles keep the GeneratedImage (provenance, path)


def test_result_is_static_outside_a_kernel(result, monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _capture(monkeypatch)
    result._ipython_display_()
    ((obj, kw),) = shown
    assert kw == {"raw": True} and set(obj) == {"text/plain", "image/png", "text/html"}
    assert obj["text/plain"].startswith("<ImageResult 3 x 256x256 generate")
