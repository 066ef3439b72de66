"""GIF output from the widgets: the shared model controls offer a frame count with GIF only,
and the gallery's Generate sends it, through the real client and the offline engine."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from dalle_widgets.client import AsyncImagesClient
from dalle_widgets.models import lookup
from dalle_widgets.results import GeneratedImage
from dalle_widgets.widgets import Gallery
from dalle_widgets.widgets._model_controls import ModelControls

FLARE = "gpt-image-2.6-flare"


def test_the_frame_count_shows_with_gif_only() -> None:
    row = ModelControls(lookup(FLARE, warn=False))
    assert row.frames_box.layout.display == "none" and "frame_count" not in row.options()
    row.format_dd.value = "gif"
    row.frames_box.value = 4
    assert row.frames_box.layout.display == "" and row.options() == {"output_format": "gif", "frame_count": 4}
    assert row.stream_box.disabled and not row.streams
    assert (row.frames_box.min, row.frames_box.max) == (2, 16)
    row.format_dd.value = "png"
    assert row.frames_box.layout.display == "none" and "frame_count" not in row.options()
    assert not row.stream_box.disabled and row.streams
    still = ModelControls(lookup("gpt-image-2", warn=False))
    assert "gif" not in still.format_dd.options and still.frames_box.layout.display == "none"


def test_the_gallery_generates_a_gif_of_the_chosen_frames(offline_engine, tmp_path) -> None:
    client = AsyncImagesClient(
        api_key=offline_engine.token, base_url=offline_engine.base_url, model=FLARE, store=tmp_path
    )
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 120, 200)).save(buf, "PNG")
    # a gallery of 1024x1024 stills: that size is no GIF frame, so the client picks the frame size
    still = GeneratedImage(buf.getvalue(), info={"model": FLARE, "size": "1024x1024", "prompt": "a kite"})
    g = Gallery([still], client=client, thumb_px=64, prompt="a kite in the wind")
    g.n_box.value = 1
    g.model_controls.quality_dd.value = "low"
    g.model_controls.format_dd.value = "gif"
    g.model_controls.frames_box.value = 4
    g.generate()
    result = g.wait(180)
    assert g.error is None, g.status.value
    gif = Image.open(result[0].path)
    assert result[0].format == "gif" and gif.n_frames == 4 and gif.size == (960, 960)
    assert g.images[-1] == result[0] and np.asarray(gif.convert("RGB")).std() > 0
