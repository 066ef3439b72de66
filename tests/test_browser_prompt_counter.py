"""The MaskEditor's prompt counter in JupyterLab + Chromium: shown under the prompt, red past the limit.

(The OutpaintEditor's counter is checked in ``test_browser_outpaint.py``'s layout test.)
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fixtures.lab import LabPage

pytestmark = pytest.mark.browser

EDITOR = ".dalle-mask-editor"


def _rgb(css: str) -> list[int]:
    return [int(float(v)) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]


def test_mask_editor_counter_shows_under_the_prompt_and_turns_red_over_the_limit(lab_page: LabPage) -> None:
    page = lab_page.page
    page.set_viewport_size({"width": 1280, "height": 800})
    lab_page.open("editor_ux")
    editor = page.locator(EDITOR).first
    editor.locator(".dalle-mask-canvas").first.wait_for()
    editor.evaluate("(e) => e.scrollIntoView({block: 'start'})")
    prompt = editor.locator(".dalle-prompt textarea").first
    counter = editor.locator(".dalle-prompt-counter").first
    expect(counter).to_have_text("10 / 1,000 characters")  # "a red boat", dall-e-2's limit
    pbox, cbox = prompt.bounding_box(), counter.bounding_box()
    assert 0 <= cbox["y"] - (pbox["y"] + pbox["height"]) < 12 and abs(cbox["x"] - pbox["x"]) < 12, (
        pbox,
        cbox,
    )
    muted = _rgb(counter.locator(".dalle-muted").first.evaluate("(e) => getComputedStyle(e).color"))
    lab_page.shot("counter", editor)

    prompt.fill("a red boat on a calm harbour " * 40)  # 1,160 characters
    expect(counter).to_contain_text("1,160 / 1,000 characters: 160 over the limit, shorten the prompt")
    red = _rgb(counter.locator(".dalle-error").first.evaluate("(e) => getComputedStyle(e).color"))
    # the theme's error red (light theme: dark red; dark theme: a lighter one), not the muted grey
    assert red[0] > 150 and red[0] > red[1] + 80 and red[0] > red[2] + 80 and red != muted, red
    assert lab_page.wait_for("editor.counter.over") is True
    lab_page.shot("counter-over", editor)
    assert not lab_page.page_errors, lab_page.page_errors
