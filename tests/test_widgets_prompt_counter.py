"""The prompt character counter in the MaskEditor, against the model's limit (no browser).

The Gallery's and the OutpaintEditor's counters are tested with their widgets
(``test_widgets_gallery_gpt.py``, ``test_outpaint_editor.py``); the browser check that it
shows and turns red is ``test_browser_prompt_counter.py``.
"""

from __future__ import annotations

import numpy as np

from dalle_widgets.client import AsyncImagesClient, ImagesClient
from dalle_widgets.widgets import MaskEditor
from tests.fixtures.fake_openai import FAKE_KEY


def _base(size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return np.dstack([xx * 4 % 256, yy * 4 % 256, np.full_like(xx, 128)]).astype(np.uint8)


def test_mask_editor_counts_against_the_model_limit_and_refuses_unsent(fake_openai) -> None:
    client = ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url)  # dall-e-2: 1,000 characters
    ed = MaskEditor(_base(256), client=client, prompt="a red boat", size="256x256", display_px=64)
    boxes = [w for w in _walk(ed) if ed.prompt in getattr(w, "children", ())]
    assert boxes and ed.counter in boxes[0].children  # shown with the prompt
    kids = list(boxes[0].children)
    assert kids.index(ed.counter) == kids.index(ed.prompt) + 1  # right under it
    assert ed.counter.limit == 1000 and "10 / 1,000 characters" in ed.counter.value
    ed.add_rectangle((0, 0, 128, 128))
    ed.prompt.value = "y" * 1012
    assert ed.counter.over and "12 over the limit" in ed.counter.value and "dalle-error" in ed.counter.value
    ed.generate_button.click()
    ed.wait(60)
    assert "1012 characters" in ed.status.value and "at most 1000" in ed.status.value
    assert fake_openai.api_requests() == []  # nothing sent, nothing paid
    ed.prompt.value = "a red boat"
    assert not ed.counter.over and "dalle-muted" in ed.counter.value
    gpt = MaskEditor(
        _base(),
        client=AsyncImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url, model="gpt-image-2"),
    )
    assert gpt.counter.limit == 32000


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)
