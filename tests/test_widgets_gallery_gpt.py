"""The Gallery's Generate bar and model controls, through the real client (no browser).

The bar (prompt, character counter, n, the model's quality / background / format /
stream controls, Generate, Cancel) follows the model table; Generate and Vary send what
the controls say; a streamed Generate shows preview tiles that the stored finals replace;
Save keeps the delivered format and shows a link JupyterLab opens.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dalle_widgets.client import AsyncImagesClient, ImagesClient
from dalle_widgets.results import GeneratedImage
from dalle_widgets.widgets import Gallery
from tests.fixtures.fake_openai import FAKE_KEY

OFFLINE = "http://127.0.0.1:9/v1"  # never reached: these galleries send nothing


def _base(size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return np.dstack([xx * 4 % 256, yy * 4 % 256, np.full_like(xx, 128)]).astype(np.uint8)


def test_the_bar_follows_the_model_table() -> None:
    dall_e = Gallery([_base()], client=ImagesClient(api_key="sk-x", base_url=OFFLINE))
    controls = dall_e.model_controls
    hidden = [controls.quality_dd, controls.background_dd, controls.format_dd, controls.stream_box]
    assert all(c.layout.display == "none" for c in hidden) and dall_e.request_options() == {}
    assert dall_e.counter.limit == 1000 and dall_e.n_box.max == 10
    flare = Gallery(
        [_base()],
        client=ImagesClient(api_key="sk-x", base_url=OFFLINE, model="gpt-image-2.6-flare"),
    )
    assert flare.model_controls.quality_dd.options == (
        "default",
        "low",
        "medium",
        "high",
        "xhigh",
        "max",
        "auto",
    )
    assert {"gif", "svg"} <= set(flare.model_controls.format_dd.options)  # the gallery shows both
    flare.model_controls.quality_dd.value = "high"
    flare.model_controls.background_dd.value = "transparent"
    assert flare.request_options() == {"quality": "high", "background": "transparent"}
    assert flare.counter.limit == 32000
    assert flare.model_controls.streams
    flare.model_controls.format_dd.value = "gif"
    assert not flare.model_controls.streams  # an animated GIF never streams
    # a lineage row has no bar of its own
    assert Gallery([_base()], lineage_of="0").bar.layout.display == "none"


def test_the_model_of_the_images_when_no_client_is_given() -> None:
    made = GeneratedImage(_png_bytes(), info={"model": "gpt-image-2", "prompt": "a fox"})
    g = Gallery([made])
    assert g.model == "gpt-image-2" and g._model_kwargs() == {"model": "gpt-image-2"}
    assert g.model_controls.quality_dd.layout.display == "" and g.prompt.value == "a fox"
    # an explicit client's model wins over the provenance, and is not sent again
    client = ImagesClient(api_key="sk-x", base_url=OFFLINE)
    assert Gallery([made], client=client).model == "dall-e-2"
    assert Gallery([made], client=client)._model_kwargs() == {}


def _png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_base()).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("cls", [AsyncImagesClient, ImagesClient])
def test_streamed_generate_adds_previews_then_the_stored_finals(fake_openai, cls) -> None:
    client = cls(api_key=FAKE_KEY, base_url=fake_openai.base_url, model="gpt-image-2")
    g = Gallery([_base()], client=client, thumb_px=64, prompt="a red balloon")
    g.n_box.value = 2
    g.model_controls.quality_dd.value = "low"
    assert g.generate() is not None
    result = g.wait(60)
    assert g.error is None, g.status.value
    sent = fake_openai.last
    assert sent.path == "/v1/images/generations"
    body = sent.json
    assert (
        body["stream"] is True and body["quality"] == "low" and body["n"] == 2 and body["partial_images"] == 2
    )
    kinds = [kind for kind, _ in g.stream_log]
    assert kinds.index("partial") < kinds.index("completed") and kinds.count("completed") == 2
    assert g.previews == {} and len(g.images) == 3 and g.images[1:] == list(result)
    assert all("dalle-preview" not in tile._dom_classes for tile in g.grid.children)
    assert all(im.path.is_file() for im in result) and "2 new images" in g.status.value


def test_generate_without_previews_sends_the_chosen_format(offline_engine) -> None:
    client = AsyncImagesClient(
        api_key=offline_engine.token, base_url=offline_engine.base_url, model="gpt-image-2"
    )
    g = Gallery([], client=client, thumb_px=64, prompt="a sticker of a fox")
    g.n_box.value = 1
    g.model_controls.stream_box.value = False
    g.model_controls.format_dd.value = "webp"
    g.model_controls.background_dd.value = "transparent"
    g.generate()
    result = g.wait(120)
    assert g.error is None, g.status.value
    assert g.stream_log == [] and result[0].path.suffix == ".webp" and result[0].image.mode == "RGBA"
    assert g.images == [result[0]]
    thumb = Image.open(io.BytesIO(g.grid.children[0].children[0].value))
    assert np.asarray(thumb.convert("RGBA"))[..., 3].min() == 255  # over a checkerboard


def test_vary_sends_the_controls(fake_openai) -> None:
    client = ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url, model="gpt-image-2")
    g = Gallery([_base()], client=client, thumb_px=64, vary_n=1)
    g.model_controls.quality_dd.value = "high"
    g.model_controls.stream_box.value = False
    g.vary(0)
    g.wait(60)
    assert g.error is None, g.status.value
    form = fake_openai.last.form
    assert fake_openai.last.path == "/v1/images/edits" and form["quality"] == "high" and "stream" not in form
    assert g.lineage[0][0].stream_log == []  # previews off: the row comes when the images are done


def test_an_over_long_prompt_is_counted_and_refused_before_sending(fake_openai) -> None:
    client = ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url)  # dall-e-2: 1,000 characters
    g = Gallery([_base()], client=client, thumb_px=64)
    g.prompt.value = "x" * 1005
    assert g.counter.over and "5 over the limit" in g.counter.value and "dalle-error" in g.counter.value
    g.generate_button.click()
    g.wait(30)
    assert "1005 characters" in g.status.value and "at most 1000" in g.status.value
    assert fake_openai.api_requests() == []  # nothing sent, nothing paid
    g.prompt.value = "a fox"
    assert not g.counter.over and "5 / 1,000 characters" in g.counter.value
    g.prompt.value = "  "
    g.generate_button.click()
    assert "prompt is empty" in g.status.value


def test_save_shows_a_link_and_keeps_the_delivered_format(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    buf = io.BytesIO()
    Image.fromarray(_base()).convert("RGBA").save(buf, "WEBP")
    webp = GeneratedImage(buf.getvalue(), info={"prompt": "a fox", "model": "gpt-image-2"})
    g = Gallery([webp, _base()], thumb_px=64)
    path = g.save(0)
    assert path == tmp_path / "dalle-images" / "a-fox-0.webp" and path.read_bytes() == webp.png
    assert json.loads(Path(f"{path}.json").read_text())["prompt"] == "a fox"  # provenance in a sidecar
    (link,) = g.file_link.outputs
    assert "href='dalle-images/a-fox-0.webp'" in link["data"]["text/html"]
    assert "dalle-file-link" in link["data"]["text/html"] and "Saved #0" in g.status.value
    elsewhere = g.save(1, tmp_path.parent / f"{tmp_path.name}-outside.png")
    assert elsewhere.is_file() and g.file_link.outputs == ()  # out of JupyterLab's reach: no link
