"""%dalle in JupyterLab in headless Chromium: one gallery per call, one error line, one batch view."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(lab_page: Any) -> Any:
    """JupyterLab in Chromium (tests/fixtures/lab.py)."""
    return lab_page


# What the magic itself shows: not stderr, not the one-time offline notice (an information line),
# not the static twin each widget leaves under its live view for saved notebooks.
OUTPUT = (
    ".jp-OutputArea-output:not([data-mime-type='application/vnd.jupyter.stderr'])"
    ":not(:has(.dalle-static)):not(:has(.dalle-notice))"
)
CELLS = [
    "%load_ext dalle_widgets",
    "%dalle a watercolor fox in the snow -n 4 --size 256x256 --seed 3",
    "r = %dalle a lighthouse at dusk --size 256x256 --no-show\n"
    "%dalle a lighthouse at dusk --size 256x256 --dry-run",
    "prompts = [f'a {c} kite over the sea' for c in ('red', 'yellow', 'blue')]\n"
    "b = %dalle batch prompts --size 256x256",
    "%dalle a fox --size 800x800",  # last: an error stops Run All, as it should
]


def test_magic_in_jupyterlab(page: Any) -> None:
    page.open("magic", extra_cells=CELLS)
    cells = page.page.locator(".jp-NotebookPanel .jp-CodeCell")

    page.shot("generate", cells.nth(2))
    # (the first call may also show the client's one-time "using the offline engine" notice on stderr)
    generate = cells.nth(2).locator(OUTPUT)
    assert generate.count() == 2  # the summary line and the gallery; no Out[n] repeat
    assert "4 images · dall-e-2 256x256 · offline engine (free)" in generate.nth(0).inner_text()
    assert generate.nth(1).locator("img").count() >= 4

    dry = cells.nth(3).locator(OUTPUT)
    assert dry.count() == 1
    assert "dry run: nothing sent" in dry.inner_text()

    batch = cells.nth(4).locator(OUTPUT)
    assert batch.count() == 2  # one progress bar, one grouped result
    assert "3 of 3 prompts done" in batch.nth(1).inner_text()
    page.shot("batch", cells.nth(4))

    error = cells.nth(5).locator(".jp-OutputArea-output")
    assert error.count() == 1
    text = error.inner_text().strip()
    assert text == (
        "UsageError: size '800x800' is not supported by dall-e-2; use 256x256, 512x512 or 1024x1024"
    )
    page.shot("error", cells.nth(5))
    assert page.eval("len(b.succeeded)") == 3
    assert not page.page_errors
