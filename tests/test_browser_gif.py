"""The gallery's GIF controls in a real browser: Format GIF shows a Frames box, Generate makes the GIF.

JupyterLab + Chromium + the offline engine (gpt-image-2.6-flare) in the kernel.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

GALLERY = ".dalle-gallery"


def test_choosing_gif_shows_frames_and_generate_makes_that_many(lab_page) -> None:
    page = lab_page.page
    lab_page.open("gif_gallery")
    gallery = page.locator(GALLERY).first
    gallery.wait_for()
    frames = page.locator(f"{GALLERY} .dalle-frames").first
    assert not frames.is_visible()  # png by default: no frame count
    page.locator(f"{GALLERY} .dalle-format select").first.select_option("gif")
    frames.wait_for(state="visible")
    assert lab_page.eval("gallery.model_controls.streams") is False  # a GIF never streams
    box = frames.locator("input").first
    box.fill("4")
    box.press("Enter")
    lab_page.wait_for("gallery.model_controls.frames_box.value", lambda v: v == 4)
    lab_page.shot("gif-chosen", gallery)
    page.locator(f"{GALLERY} .dalle-gallery-generate").first.click()
    page.locator(f"{GALLERY} .dalle-tile").nth(1).wait_for(timeout=180_000)
    lab_page.wait_for("gallery.running", lambda running: not running)
    lab_page.shot("gif-made", gallery)
    assert lab_page.eval("gallery.error") is None
    assert lab_page.eval("(gallery.images[1].format, gallery.images[1].is_animated)") == ("gif", True)
    assert lab_page.eval("__import__('PIL.Image').Image.open(gallery.images[1].path).n_frames") == 4
    assert (
        lab_page.eval("client.prepare('generate', 'x', output_format='gif', frame_count=4).size") == "960x960"
    )
