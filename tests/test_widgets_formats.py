"""SVG and animated GIF results, as delivered, in tiles, galleries and results (no browser).

gpt-image-2.6 answers SVG (the fake OpenAI, standing in for the remote service: the offline
engine renders no SVG) and animated GIF (the offline engine). The browser draws both
natively: a tile sends the SVG as it is and a GIF as a reduced animation; stills (contact
sheets, the snapshot a saved notebook keeps) use the first frame or a labelled stand-in.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dalle_widgets import imaging
from dalle_widgets.client import ImagesClient
from dalle_widgets.store import open_image
from dalle_widgets.widgets import Gallery
from tests.fixtures.fake_openai import FAKE_KEY


@pytest.fixture
def flare(fake_openai):
    client = ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url, model="gpt-image-2.6-flare")
    yield client
    client.close()


def _snapshot(g: Gallery) -> np.ndarray:
    png = g._repr_mimebundle_()["image/png"]
    raw = base64.b64decode(png) if isinstance(png, str) else png
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))


def test_an_svg_is_shown_as_delivered_and_kept_as_it_came(flare, fake_openai, tmp_path: Path) -> None:
    result = flare.generate("a fox logo", output_format="svg", size="1024x1024")
    svg = result[0]
    assert svg.format == "svg" and svg.is_vector and svg.path.suffix == ".svg"
    assert svg.path.read_bytes() == svg.png and svg.size == (1024, 1024)
    assert open_image(svg.path).info["prompt"] == "a fox logo"  # provenance in its sidecar
    assert "1024x1024 SVG generate" in repr(svg)
    with pytest.raises(ValueError, match=r"is an SVG \(vector\) image: it has no pixels"):
        _ = svg.image
    g = Gallery(result, client=flare, thumb_px=128, save_dir=tmp_path)
    tile = g.grid.children[0].children[0]
    assert tile.format == "svg+xml" and tile.value == svg.png  # the browser draws it
    assert "dalle-checker" in tile._dom_classes  # transparent parts over a checkerboard
    # the saved notebook's still: a labelled stand-in, not a blank or a failure
    assert (_snapshot(g) == (236, 238, 242)).all(axis=-1).sum() > 1000
    html = result._repr_html_()
    assert "data:image/svg+xml;base64," in html and "<svg" not in html  # in an <img>, never inline
    assert svg._repr_html_().startswith("<img") and result._repr_png_()[:4] == b"\x89PNG"
    sent = len(fake_openai.api_requests())
    g.vary(0)
    g.wait(30)
    assert "SVG (vector) image" in g.status.value and len(fake_openai.api_requests()) == sent
    saved = g.save(0)
    assert saved.suffix == ".svg" and saved.read_bytes() == svg.png
    assert json.loads(Path(f"{saved}.json").read_text())["output_format"] == "svg"


def test_two_different_svgs_are_two_tiles(flare) -> None:
    a = flare.generate("a fox", output_format="svg", size="1024x1024")
    b = flare.generate("an owl", output_format="svg", size="1024x1024")
    assert a[0].image_hash != b[0].image_hash
    g = Gallery(a, client=flare)
    assert g._new_images(list(b)) == list(b) and g._new_images(list(a)) == []


def test_an_animated_gif_tile_keeps_its_frames(offline_engine) -> None:
    client = ImagesClient(
        api_key=offline_engine.token, base_url=offline_engine.base_url, model="gpt-image-2.6-flare"
    )
    result = client.generate("a fox", output_format="gif", size="816x816")
    client.close()
    gif = result[0]
    assert gif.format == "gif" and gif.is_animated and gif.path.suffix == ".gif"
    g = Gallery(result, thumb_px=160)
    tile = g.grid.children[0].children[0]
    assert tile.format == "gif"
    thumb = Image.open(io.BytesIO(tile.value))
    original = Image.open(io.BytesIO(gif.png))
    assert thumb.n_frames == original.n_frames > 1 and max(thumb.size) <= 160
    assert thumb.info["duration"] == original.info["duration"] and len(tile.value) < len(gif.png)
    assert _snapshot(g).shape[0] > 0 and gif.thumbnail(64).size == (64, 64)  # the first frame
    assert "data:image/gif;base64," in result._repr_html_()


def test_animated_thumbnails_show_transparency_over_a_checkerboard() -> None:
    frames = []
    for shift in (0, 6):
        rgba = np.zeros((48, 48, 4), np.uint8)
        rgba[12:36, 12 + shift : 30 + shift] = (200, 30, 30, 255)
        frames.append(Image.fromarray(rgba, "RGBA"))
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=90, loop=0, disposal=2)
    thumb = Image.open(io.BytesIO(imaging.animated_thumbnail(buf.getvalue(), 48)))
    assert thumb.n_frames == 2 and thumb.info.get("loop") == 0
    corner = np.asarray(thumb.convert("RGB"))[:8, :8]
    assert set(np.unique(corner[..., 0]).tolist()) <= {204, 255} and corner.std() > 0  # a checkerboard
    single = io.BytesIO()
    frames[0].save(single, "GIF")
    assert (
        not imaging.is_animated(single.getvalue())
        and imaging.animated_thumbnail(single.getvalue(), 48) is None
    )


def test_svg_sizes_and_the_clear_error_for_pixels() -> None:
    assert imaging.svg_size(b'<?xml version="1.0"?>\n<svg width="300px" height="200px"/>') == (300, 200)
    assert imaging.svg_size(b'<svg viewBox="0,0,1536,1024"/>') == (1536, 1024)
    assert imaging.svg_size(b"<svg width='100%' height='100%'/>") is None
    assert imaging.svg_size(b"not an svg") is None
    with pytest.raises(ValueError, match=r"mask \(\d+ bytes\) is an SVG \(vector\) image"):
        imaging.to_pil(b"<svg xmlns='http://www.w3.org/2000/svg' width='4' height='4'/>", name="mask")
    card = imaging.vector_placeholder((1000, 500), 100, "SVG")
    assert card.size == (100, 50)
