"""A streamed generation in a real browser: a preview shows before the final image.

JupyterLab + Chromium + the offline engine (gpt-image-2, streamed partial images) in the
kernel. A MutationObserver records, in the page, every card added to the editor's
staging strip, so even a preview that is replaced quickly is seen.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

EDITOR = ".dalle-mask-editor"


def test_streamed_generate_shows_a_preview_before_the_final_image(lab_page) -> None:
    page = lab_page.page
    lab_page.open("stream_editor")
    editor = page.locator(EDITOR).first
    editor.wait_for()
    page.locator(f"{EDITOR} .dalle-stream input").first.wait_for()
    assert page.locator(f"{EDITOR} .dalle-stream input").first.is_checked()
    # every change of the strip (children or classes) records how many previews and finals it shows
    page.evaluate(
        """() => {
            window.__staged = [];
            const strip = document.querySelector('.dalle-mask-editor .dalle-staging');
            const look = () => {
                const state = [strip.querySelectorAll('.dalle-preview img').length,
                               strip.querySelectorAll('.dalle-candidate img').length];
                const last = window.__staged[window.__staged.length - 1];
                if (!last || last[0] !== state[0] || last[1] !== state[1]) window.__staged.push(state);
            };
            new MutationObserver(look).observe(
                strip, {childList: true, subtree: true, attributes: true, attributeFilter: ['class', 'src']}
            );
        }"""
    )
    page.locator(f"{EDITOR} .dalle-generate").first.click()
    page.locator(f"{EDITOR} .dalle-candidate").first.wait_for(timeout=120_000)
    lab_page.shot("final", editor)
    staged = page.evaluate("window.__staged")  # [(previews shown, finals shown), ...] in order
    first_preview = next(i for i, (previews, _finals) in enumerate(staged) if previews)
    first_final = next(i for i, (_previews, finals) in enumerate(staged) if finals)
    assert first_preview < first_final, staged
    assert page.locator(f"{EDITOR} .dalle-preview").count() == 0  # replaced by the final image
    log = lab_page.eval("editor.stream_log")
    assert [k for k, _ in log][-1] == "completed" and log[0][0] == "partial"
    assert lab_page.eval("editor.staging[0].path.is_file()") is True
