"""SVG and animated GIF tiles in a real browser: drawn as delivered, the GIF animates.

JupyterLab + Chromium; the SVG from the fake OpenAI service (standing in for
gpt-image-2.6), the animated GIF and a transparent WebP from the offline engine.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.browser

TILE = ".dalle-gallery .dalle-tile"


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def test_svg_and_animated_gif_tiles(lab_page) -> None:
    page = lab_page.page
    lab_page.open("formats_gallery")
    page.locator(TILE).nth(2).wait_for(timeout=120_000)
    thumbs = page.locator(f"{TILE} img.dalle-thumb")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.dalle-tile img.dalle-thumb')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    # the browser decoded each picture; the SVG keeps its own (vector) size
    sizes = thumbs.evaluate_all("imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")
    assert sizes[0] == [1024, 1024] and all(w > 0 for w, _ in sizes), sizes
    assert "dalle-checker" in (thumbs.nth(0).get_attribute("class") or "")
    lab_page.shot("gallery", page.locator(".dalle-gallery").first)
    svg = _pixels(thumbs.nth(0).screenshot())
    h, w, _ = svg.shape
    centre = svg[h // 2 - 4 : h // 2 + 4, w // 2 - 4 : w // 2 + 4].reshape(-1, 3).mean(axis=0)
    corner = svg[4:12, 4:12].reshape(-1, 3).mean(axis=0)
    assert np.abs(centre - corner).sum() > 60  # the circle on its background: the SVG was drawn
    # the GIF tile animates: its pictures differ over a second
    gif = thumbs.nth(1)
    shots = []
    for _ in range(6):
        shots.append(gif.screenshot())
        page.wait_for_timeout(170)
    assert len({s for s in shots}) >= 2, "the GIF tile shows one still frame"
    # the transparent WebP is over a checkerboard: grey and white squares where it is clear (where
    # that is depends on the sticker drawn, so look at the whole tile)
    sticker = _pixels(thumbs.nth(2).screenshot())
    assert {tuple(int(v) for v in p) for p in sticker.reshape(-1, 3)} >= {(204, 204, 204), (255, 255, 255)}


def test_save_on_a_tile_links_the_file_as_delivered(lab_page) -> None:
    page = lab_page.page
    lab_page.open("formats_gallery")
    page.locator(TILE).nth(2).wait_for(timeout=120_000)
    page.locator(f"{TILE} .dalle-save").first.click()  # the SVG tile
    link = page.locator(".dalle-gallery a.dalle-file-link").first
    link.wait_for()
    href = link.get_attribute("href") or ""
    assert "dalle-images/a-fox-logo-0.svg" in href, href  # beside the notebook, as delivered
    assert lab_page.eval("open('dalle-images/a-fox-logo-0.svg', 'rb').read() == svg[0].png") is True
    lab_page.shot("saved", page.locator(".dalle-gallery").first)
    link.click()  # JupyterLab opens the file in a tab of its own
    page.locator(".lm-TabBar-tab", has_text="a-fox-logo-0.svg").first.wait_for(timeout=30_000)
    lab_page.shot("opened")
