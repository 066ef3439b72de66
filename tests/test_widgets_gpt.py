"""Widgets on a GPT image model through the real client and the offline engine (no browser).

The editor's model controls come from the model table; a streamed Generate shows
previews in the staging strip and replaces them with the stored final images; the
gallery's Vary and the board's "vary all" work on a model without a variations endpoint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dalle_widgets.client import AsyncImagesClient, ImagesClient
from dalle_widgets.widgets import Gallery, MaskEditor, MoodBoard


@pytest.fixture(params=["async", "sync"])
def gpt_client(request, offline_engine):
    cls = AsyncImagesClient if request.param == "async" else ImagesClient
    client = cls(api_key=offline_engine.token, base_url=offline_engine.base_url, model="gpt-image-2")
    yield client
    if request.param == "sync":
        client.close()


def _base(size: int = 256) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return np.dstack([xx % 256, yy % 256, np.full_like(xx, 128)]).astype(np.uint8)


def test_controls_follow_the_model_table() -> None:
    dall_e = MaskEditor(_base(), client=ImagesClient(api_key="sk-x", base_url="http://127.0.0.1:9/v1"))
    hidden = [dall_e.quality_dd, dall_e.background_dd, dall_e.format_dd, dall_e.stream_box]
    assert all(c.layout.display == "none" for c in hidden) and dall_e.request_options() == {}
    gpt = MaskEditor(
        _base(),
        client=ImagesClient(api_key="sk-x", base_url="http://127.0.0.1:9/v1", model="gpt-image-2.6-flare"),
    )
    assert gpt.quality_dd.options == ("default", "low", "medium", "high", "xhigh", "max", "auto")
    assert gpt.format_dd.options == ("default", "png", "jpeg", "webp")
    gpt.quality_dd.value, gpt.background_dd.value = "high", "transparent"
    assert gpt.request_options() == {
        "quality": "high",
        "background": "transparent",
        "stream": True,
        "partial_images": 2,
    }


def test_streamed_generate_shows_previews_then_the_finals(gpt_client) -> None:
    ed = MaskEditor(_base(), client=gpt_client, display_px=128, prompt="a red balloon", n=1, size="1024x1024")
    ed.add_rectangle((64, 64, 192, 192))
    ed.quality_dd.value = "low"
    assert ed.generate() is not None
    result = ed._tasks.wait(120)
    assert ed.error is None, ed.status.value
    kinds = [kind for kind, _index in ed.stream_log]
    assert (
        kinds[-1] == "completed" and "partial" in kinds and kinds.index("partial") < kinds.index("completed")
    )
    assert ed.previews == {} and len(ed.staging) == 1 and ed.staging[0] is result[0]
    (run,) = ed.staging_box.children  # one run, its cards in a row under its label
    classes = [c._dom_classes for c in run.children[1].children]
    assert classes == [
        ("dalle-card", "dalle-candidate")
    ]  # the preview card is gone, the final took its place
    assert result[0].path.is_file() and result[0].info["quality"] == "low"


def test_transparent_candidates_show_over_a_checkerboard(offline_engine) -> None:
    client = AsyncImagesClient(
        api_key=offline_engine.token, base_url=offline_engine.base_url, model="gpt-image-2"
    )
    ed = MaskEditor(
        _base(), client=client, display_px=128, prompt="a sticker of a fox", n=1, size="1024x1024"
    )
    ed.add_rectangle((0, 0, 256, 256))
    ed.background_dd.value, ed.format_dd.value, ed.stream_box.value = "transparent", "webp", False
    ed.generate()
    result = ed._tasks.wait(120)
    assert result[0].image.mode == "RGBA" and result[0].path.suffix == ".webp"
    import io

    thumb = Image.open(io.BytesIO(ed._cards[0].children[0].value))
    rgba = np.asarray(thumb.convert("RGBA"))
    assert rgba[..., 3].min() == 255  # drawn over a checkerboard, no transparency sent to the browser
    # A thumbnail pixel well inside a clear region (a clear 7x7 neighbourhood once the alpha is
    # shrunk to the thumbnail's size, wider than a Lanczos kernel): no image colour bleeds into it.
    alpha = Image.fromarray(np.asarray(result[0].image)[..., 3]).resize(thumb.size, Image.Resampling.BOX)
    clear, k = np.asarray(alpha) == 0, 3
    h, w = clear.shape
    inside = np.ones((h - 2 * k, w - 2 * k), bool)
    for dy in range(-k, k + 1):
        for dx in range(-k, k + 1):
            inside &= clear[k + dy : h - k + dy, k + dx : w - k + dx]
    assert inside.any(), "the transparent result has no clear region"
    y, x = np.argwhere(inside)[0] + k
    r, g, b, _ = rgba[y, x]
    assert r == g == b and r in (204, 255), (r, g, b)  # a checkerboard square where the image is clear


def test_gallery_vary_and_board_vary_all_on_a_gpt_model(gpt_client, tmp_path: Path) -> None:
    g = Gallery([_base()], client=gpt_client, thumb_px=64, vary_n=1)
    g.vary(0)
    g._tasks.wait(120)
    assert g.error is None, g.status.value
    child = g.lineage[0][0]
    assert child.images[0].info["operation"] == "vary" and child.images[0].info["sent_as"] == "edit"
    assert child.stream_log[-1][0] == "completed"  # streamed (the engine sends no preview of a whole edit)
    board = MoodBoard(tmp_path, client=gpt_client)
    board.pin(_base(), caption="a")
    board.vary_button.click()
    board._tasks.wait(120)
    assert board._tasks.last_error is None, board.status.value
    varied = board.variations_box.children[0].images[0]
    assert varied.info["operation"] == "vary" and varied.info["sent_as"] == "edit"


def test_outpaint_frames_show_streamed_previews(gpt_client) -> None:
    from dalle_widgets.widgets import OutpaintEditor

    ed = OutpaintEditor(_base(512), client=gpt_client, display_px=256)
    ed.prompt.value = "a wide landscape"
    ed.set_margins(right=512)
    assert len(ed.plan) >= 1 and ed.streams(gpt_client)
    ed.generate()
    result = ed._tasks.wait(300)
    assert ed.error is None, ed.status.value
    assert result.complete and ed.image.size == (1024, 512)
    assert ed.preview_log and set(ed.preview_log) <= set(range(len(ed.plan)))  # previews of each frame
    assert all(f.path is None or Path(f.path).is_file() for f in ed.frames_done)


@pytest.mark.parametrize("cls", [AsyncImagesClient, ImagesClient])
def test_gallery_vary_tiles_show_previews_then_the_finals(fake_openai, cls) -> None:
    from tests.fixtures.fake_openai import FAKE_KEY

    client = cls(api_key=FAKE_KEY, base_url=fake_openai.base_url, model="gpt-image-2")
    g = Gallery([_base()], client=client, thumb_px=64, vary_n=2)
    g.vary(0)
    g._tasks.wait(60)
    assert g.error is None, g.status.value
    child = g.lineage[0][0]
    assert child.stream_log == [("partial", 0), ("partial", 0), ("completed", 0)] * 1 + [
        ("partial", 1),
        ("partial", 1),
        ("completed", 1),
    ]
    assert fake_openai.last.form["stream"] == "true" and fake_openai.last.path == "/v1/images/edits"
    assert child.previews == {} and len(child.images) == 2
    assert all("dalle-preview" not in tile._dom_classes for tile in child.grid.children)
