"""OutpaintEditor without a browser: fills that iterate, the result's Save/Pin/Edit, the margins, the
model controls. Fills go over HTTP to the offline engine on 127.0.0.1 (or the fake OpenAI service,
where what was sent is the question); the widget's buttons call the same methods tested here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dalle_widgets import _png
from dalle_widgets.client import AsyncImagesClient, ImagesClient
from dalle_widgets.widgets import MaskEditor, MoodBoard, OutpaintEditor


@pytest.fixture
def aclient(offline_engine) -> AsyncImagesClient:
    return AsyncImagesClient(api_key=offline_engine.token, base_url=offline_engine.base_url)


def _photo(h: int, w: int) -> np.ndarray:
    # textured, so fills with different seeds differ (a flat image fills the same way every time)
    yy, xx = np.mgrid[0:h, 0:w]
    noise = np.random.default_rng(h * w).integers(0, 64, (h, w))
    return np.dstack([(xx + noise) % 256, (yy + noise) % 256, np.full_like(xx, 128)]).astype(np.uint8)


def _filled(client, photo: np.ndarray, **margins: int) -> OutpaintEditor:
    ed = OutpaintEditor(photo, client=client, display_px=128, prompt="a wide meadow")
    ed.set_margins(**margins)
    assert ed.generate() is not None
    ed.wait(300)
    assert ed.error is None, ed.status.value
    return ed


def test_fill_again_rerolls_with_fresh_pixels(aclient, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    photo = _photo(256, 256)
    ed = _filled(aclient, photo, right=128)
    first = ed.result
    assert first.complete and ed.canvas_state.done
    assert ed.generate_button.description == "Fill again" and "Re-roll" in ed.generate_button.tooltip
    assert ed.generate() is not None, ed.status.value  # not "Nothing to fill"
    assert "Nothing to fill" not in ed.status.value
    second = ed.wait(300)
    assert ed.error is None and second.complete and ed.results == [first, second]
    # new requests, new pixels, a new file; the first result is still on disk
    assert second.path != first.path and Path(first.path).is_file() and Path(second.path).is_file()
    new_area = (slice(None), slice(256, 384))
    assert not np.array_equal(first.to_numpy()[new_area], second.to_numpy()[new_area])
    np.testing.assert_array_equal(second.to_numpy()[:, :256], photo)  # the original stays as it was
    assert [f.path for f in first.frames] != [f.path for f in second.frames]
    # both fills can be looked at again; Save then takes the one shown
    assert "fill 2 of 2" in ed.result_label.value and ed.next_button.disabled
    ed.prev_button.click()
    assert ed.result is first and "fill 1 of 2" in ed.result_label.value and ed.prev_button.disabled
    assert str(first.path) in ed.status.value
    np.testing.assert_array_equal(np.asarray(ed.image), first.to_numpy())
    assert ed.save().read_bytes() == Path(first.path).read_bytes()
    ed.next_button.click()
    assert ed.result is second and ed.canvas_state is second.canvas
    ed.set_margins(right=64)  # another canvas: its own fills
    assert ed.results == [] and ed.result_label.layout.display == "none"


def test_result_names_its_file_and_saves_pins_and_edits(aclient, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the notebook's folder
    monkeypatch.delenv("DALLE_WIDGETS_OUTPUT_DIR", raising=False)
    ed = OutpaintEditor(_photo(256, 256), client=aclient, display_px=128, prompt="a wide meadow")
    ed.set_margins(left=64, right=64)
    assert ed.save_button.disabled and ed.pin_button.disabled and ed.edit_button.disabled
    with pytest.raises(RuntimeError, match="press Fill first"):
        ed.save()
    ed.save_button.click()  # the button says the same in the status line
    assert "press Fill first" in ed.status.value

    ed.generate()
    result = ed.wait(300)
    assert ed.error is None, ed.status.value
    assert str(result.path) in ed.status.value and Path(result.path).is_file()  # on disk, and where
    assert "384×256" in ed.status.value and "256×256 original" in ed.status.value
    assert not (ed.save_button.disabled or ed.pin_button.disabled or ed.edit_button.disabled)

    saved = ed.save()
    assert saved.parent == tmp_path / "dalle-images" and saved.name == "a-wide-meadow-0.png"
    assert saved.read_bytes() == Path(result.path).read_bytes()  # provenance kept
    assert _png.read_info(saved.read_bytes())["operation"] == "outpaint"
    assert "dalle-images/a-wide-meadow-0.png" in ed.file_link.outputs[0]["data"]["text/html"]
    assert str(saved) in ed.status.value
    ed.save_button.click()  # a second save never overwrites the first
    assert (tmp_path / "dalle-images" / "a-wide-meadow-1.png").is_file()
    monkeypatch.setenv("DALLE_WIDGETS_OUTPUT_DIR", str(tmp_path / "exports"))
    assert ed.save().parent == tmp_path / "exports"

    board = MoodBoard(tmp_path / "board")
    item = ed.pin(board)
    assert item.caption == "a wide meadow" and item.info["operation"] == "outpaint"
    assert len(board.items) == 1 and "Pinned" in ed.status.value

    editor = ed.edit_result()
    assert isinstance(editor, MaskEditor) and editor in ed.detail.children
    assert editor.image.shape[:2] == (256, 384)  # the result at its own size
    np.testing.assert_array_equal(editor.image[..., :3], result.to_numpy()[..., :3])
    editor.add_rectangle((300, 32, 384, 128))  # and it edits: a part of the new area, regenerated
    editor.generate()
    editor.wait(120)
    assert editor.error is None, editor.status.value
    assert editor.staging and editor.staging[0].image.size == (384, 256)
    ed.detail.children[0].children[1].click()  # Close editor
    assert ed.detail.children == () and ed.editor is None


def test_margins_snap_on_the_slider_and_take_any_typed_value() -> None:
    ed = OutpaintEditor(_photo(64, 64), display_px=64, max_margin=1024)
    assert all(s.step == 64 for s in ed.sliders.values())
    ed.numbers["left"].value = 100  # typed: not a multiple of the step, taken as it is
    assert ed.margins["left"] == 100 and ed.sliders["left"].value == 100
    assert ed.canvas_state.size == (164, 64) and ed.plan
    ed.sliders["top"].value = 128  # dragged: the box follows
    assert ed.numbers["top"].value == 128 and ed.margins["top"] == 128
    ed.numbers["right"].value = -5
    assert "right margin must be a whole number of pixels &gt;= 0; got -5; kept 0 px" in ed.status.value
    assert ed.margins["right"] == 0 and ed.numbers["right"].value == 0  # the box shows what is kept
    ed.numbers["bottom"].value = 5000
    assert "above the maximum 1024 px" in ed.status.value and ed.numbers["bottom"].value == 0
    assert ed.margins == {"left": 100, "top": 128, "right": 0, "bottom": 0}


def test_the_frame_plan_can_be_hidden(monkeypatch) -> None:
    ed = OutpaintEditor(_photo(64, 64), display_px=64)
    ed.set_margins(right=64)
    drawn: list[tuple] = []
    monkeypatch.setattr(ed.view[1], "stroke_rect", lambda *a: drawn.append(a))
    ed.plan_toggle.value = False
    assert drawn == [] and not _has_red(ed._snapshot())
    ed.plan_toggle.value = True
    assert len(drawn) == 1 + len(ed.plan) and _has_red(ed._snapshot())  # the outline and each frame


def _has_red(img) -> bool:
    a = np.asarray(img.convert("RGB")).astype(int)
    return bool(((a[..., 0] > 200) & (a[..., 1] < 120) & (a[..., 2] < 120)).any())


def test_model_controls_follow_the_model_and_reach_every_frame(fake_openai) -> None:
    from tests.fixtures.fake_openai import FAKE_KEY

    dall_e = OutpaintEditor(
        _photo(64, 64), client=ImagesClient(api_key="sk-x", base_url="http://127.0.0.1:9/v1")
    )
    assert all(c.layout.display == "none" for c in dall_e.model_controls.children)
    client = AsyncImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url, model="gpt-image-2")
    ed = OutpaintEditor(_photo(512, 512), client=client, display_px=128, prompt="a wide meadow")
    # the composite is one opaque picture: no transparent background offered
    assert "transparent" not in ed.model_controls.background_dd.options
    assert ed.model_controls.format_dd.options == ("default", "png", "jpeg", "webp")
    ed.set_margins(right=512)
    ed.model_controls.quality_dd.value = "high"
    high = ed.info.value
    ed.model_controls.quality_dd.value, ed.model_controls.format_dd.value = "low", "webp"
    assert "gpt-image-2 prices" in high and ed.info.value != high  # the price follows the quality
    ed.model_controls.stream_box.value = False
    ed.generate()
    result = ed.wait(120)
    assert ed.error is None, ed.status.value
    edits = [r for r in fake_openai.api_requests() if r.path == "/v1/images/edits"]
    assert len(edits) == len(result.frames) >= 1
    for req in edits:
        assert req.form["quality"] == "low" and req.form["output_format"] == "webp"
        assert "stream" not in req.form  # the box is unticked: no previews asked for
    assert result.complete and result.image.size == (1024, 512)


@pytest.mark.parametrize("shape", [(600, 800)])
def test_a_photo_of_any_shape_fills_at_its_own_size(aclient, shape) -> None:
    h, w = shape
    photo = _photo(h, w)
    ed = _filled(aclient, photo, left=64, bottom=128)
    result = ed.result
    assert result.complete and result.image.size == (w + 64, h + 128) == ed.canvas_state.size
    np.testing.assert_array_equal(result.to_numpy()[:h, 64:], photo)
    assert f"{w + 64}×{h + 128} (the {w}×{h} original with its margins)" in ed.status.value


def test_prompt_counter_follows_the_model_limit_and_a_long_prompt_is_refused_unsent(fake_openai) -> None:
    from tests.fixtures.fake_openai import FAKE_KEY

    client = ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url)  # dall-e-2: 1,000 characters
    ed = OutpaintEditor(_photo(256, 256), client=client, display_px=64, prompt="a wide meadow")
    assert ed.counter in ed.side.children and ed.counter.limit == 1000
    assert "13 / 1,000 characters" in ed.counter.value and not ed.counter.over
    ed.set_margins(right=128)
    ed.prompt.value = "x" * 1003
    assert ed.counter.over and "3 over the limit" in ed.counter.value and "dalle-error" in ed.counter.value
    ed.generate_button.click()
    ed.wait(60)
    assert "1003 characters" in ed.status.value and "at most 1000" in ed.status.value
    assert fake_openai.api_requests() == []  # refused before any frame is sent or paid
    gpt_client = AsyncImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url, model="gpt-image-2")
    gpt = OutpaintEditor(_photo(64, 64), client=gpt_client)
    assert gpt.counter.limit == 32000 and not gpt.counter.over
