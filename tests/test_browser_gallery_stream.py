"""The Gallery's streamed Generate in a real browser: a preview tile shows before the final image.

JupyterLab + Chromium + the offline engine (gpt-image-2, streamed partial images) in the
kernel. A MutationObserver records, in the page, every change of the gallery's grid, so
even a preview that is replaced quickly is seen.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

pytestmark = pytest.mark.browser

GALLERY = ".dalle-gallery"


def test_streamed_generate_shows_a_preview_tile_before_the_final_image(lab_page) -> None:
    page = lab_page.page
    lab_page.open("stream_gallery")
    gallery = page.locator(GALLERY).first
    gallery.wait_for()
    stream_box = page.locator(f"{GALLERY} .dalle-stream input").first
    stream_box.wait_for()
    assert stream_box.is_checked()
    assert page.locator(f"{GALLERY} .dalle-quality").first.is_visible()  # the model's controls
    counter = page.locator(f"{GALLERY} .dalle-prompt-counter").first
    assert "24 / 32,000 characters" in counter.inner_text()
    lab_page.shot("before", gallery)
    # every change of the grid (children, classes, pictures) records how many previews and tiles it shows
    page.evaluate(
        """() => {
            window.__grid = [];
            const grid = document.querySelector('.dalle-gallery .dalle-gallery-grid');
            const look = () => {
                const state = [grid.querySelectorAll('.dalle-preview img').length,
                               grid.querySelectorAll('.dalle-tile img').length];
                const last = window.__grid[window.__grid.length - 1];
                if (!last || last[0] !== state[0] || last[1] !== state[1]) window.__grid.push(state);
            };
            look();
            new MutationObserver(look).observe(
                grid, {childList: true, subtree: true, attributes: true, attributeFilter: ['class', 'src']}
            );
        }"""
    )
    page.locator(f"{GALLERY} .dalle-gallery-generate").first.click()
    # The observer above sees every preview, however briefly it is shown; a wait for the
    # preview itself could miss it on a busy machine, so wait for the final tile only.
    try:
        page.locator(f"{GALLERY} .dalle-preview").first.wait_for(state="attached", timeout=30_000)
        lab_page.shot("preview", gallery)
    except PlaywrightTimeoutError:
        pass  # already replaced by the final image: the record below still has it
    page.locator(f"{GALLERY} .dalle-tile").nth(1).wait_for(timeout=180_000)
    lab_page.wait_for("gallery.running", lambda running: not running)
    page.get_by_text("1 new image").first.wait_for()
    lab_page.shot("final", gallery)
    seen = page.evaluate("window.__grid")  # [(previews shown, tiles shown), ...] in order
    assert seen[0] == [0, 1], seen
    first_preview = next(i for i, (previews, _tiles) in enumerate(seen) if previews)
    first_final = next(i for i, (_previews, tiles) in enumerate(seen) if tiles == 2)
    assert first_preview < first_final, seen
    assert page.locator(f"{GALLERY} .dalle-preview").count() == 0  # replaced by the final image
    log = lab_page.eval("gallery.stream_log")
    assert log[0][0] == "partial" and [k for k, _ in log][-1] == "completed"
    assert lab_page.eval("gallery.images[1].path.is_file()") is True
