"""Static twins in a notebook executed headless (nbclient, as nbconvert and the refresh script run it):
the saved picture is each widget's state when the notebook ended, not its first display."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from tests.fixtures import PROVIDER_ENV


def test_twin_saved_by_a_headless_run_shows_the_latest_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbclient = pytest.importorskip("nbclient")
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DALLE_WIDGETS_HOME", str(tmp_path / "home"))
    repo = str(Path(__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p))
    cells = [
        "import numpy as np\nfrom dalle_widgets import MoodBoard",
        f"board = MoodBoard({str(tmp_path / 'b')!r})\nboard",
        "board.pin(np.zeros((8, 8, 3), np.uint8), caption='a')\n"
        "board.pin(np.full((8, 8, 3), 255, np.uint8), caption='b')",
        "len(board)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute(cwd=str(tmp_path))
    (twin,) = [o for o in nb.cells[1].outputs if "dalle-static" in o.get("data", {}).get("text/html", "")]
    assert "2 items" in twin["data"]["text/plain"], twin["data"]["text/plain"]


def test_the_twin_keeps_its_looks_where_style_tags_are_stripped() -> None:
    """JupyterLab sanitizes an untrusted notebook's HTML outputs (a shipped demo notebook, one
    from GitHub): ``<style>`` goes, ``style=`` stays. The picture must not shift by the
    browser's 40 px figure margin there."""
    import re

    from PIL import Image

    from dalle_widgets.widgets._static import png_bytes, static_html

    twin = static_html(png_bytes(Image.new("RGB", (4, 4))), "x")
    page = re.sub(r"<style>.*?</style>", "", twin, flags=re.S)
    assert re.search(r"<figure class='dalle-static' style='[^']*\bmargin:0\b", page), page[:300]
    assert re.search(r"<figcaption style='[^']*font-size:12px", page)
