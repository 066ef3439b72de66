"""``client.edit`` on a photo of any size: a window sized for the model, pasted back (real engine, HTTP)."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from PIL import Image

from dalle_widgets import masks
from dalle_widgets.client import AsyncImagesClient, ImagesClient


def _photo(w: int, h: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def client(offline_engine):
    with ImagesClient(api_key=offline_engine.token, base_url=offline_engine.base_url, cache="off") as c:
        yield c


def _pixels(image) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(image.png)).convert("RGB"))


@pytest.mark.parametrize(
    ("w", "h", "box", "window", "sent"),
    [
        (800, 600, (500, 40, 800, 240), [288, 0, 800, 512], "512x512"),
        (2400, 1500, (1000, 600, 1200, 800), [844, 444, 1356, 956], "512x512"),
    ],
)
def test_dalle2_edit_of_a_photo_returns_the_photo_size_and_leaves_the_rest(client, w, h, box, window, sent):
    photo = _photo(w, h)
    mask = masks.rectangle((h, w), box)
    prepared = client.prepare("edit", "a red balloon", photo, mask=mask, seed=3)
    assert prepared.size == sent and prepared.files["image"][2] == (512, 512)
    assert "window: box" in prepared.describe() and f"of the {w}x{h} photo" in prepared.describe()
    result = client.send(prepared)
    out = result[0]
    assert out.size == (w, h) and out.path.exists()
    assert out.info["window"] == {"box": window, "size": sent, "photo_size": f"{w}x{h}", "scale": 1.0}
    assert out.info["size"] == f"{w}x{h}" and out.info["requested_size"] == sent
    pixels = _pixels(out)
    x0, y0, x1, y1 = window
    outside = np.ones((h, w), bool)
    outside[max(0, y0) : y1, max(0, x0) : x1] = False
    assert (pixels[outside] == photo[outside]).all()
    assert (pixels[~masks.grow(mask, 20)] == photo[~masks.grow(mask, 20)]).all()
    assert not (pixels[mask] == photo[mask]).all()  # the engine painted the mask


def test_dalle2_edit_by_transparency_windows_the_transparent_area(client):
    photo = np.dstack([_photo(900, 500, 1), np.full((500, 900), 255, np.uint8)])
    photo[100:200, 300:420, 3] = 0
    out = client.edit(photo, "a window", seed=1)[0]
    assert out.size == (900, 500) and out.info["window"]["size"] == "256x256"
    got = np.asarray(Image.open(io.BytesIO(out.png)))
    assert got.shape == (500, 900, 3)  # the hole is filled: no transparency left, so RGB


def test_a_mask_larger_than_the_biggest_square_is_downscaled_into_it(client):
    photo = _photo(1500, 1100, 2)
    mask = masks.rectangle((1100, 1500), (100, 100, 1300, 1000))
    prepared = client.prepare("edit", "a lake", photo, mask=mask)
    assert prepared.size == "1024x1024" and prepared.framing.window.scale < 1
    out = client.send(prepared)[0]
    assert out.size == (1500, 1100) and out.info["window"]["scale"] < 1


def test_a_square_photo_the_model_takes_is_sent_whole(client):
    photo = _photo(256, 256)
    prepared = client.prepare("edit", "x", photo, mask=masks.rectangle((256, 256), (10, 10, 50, 50)))
    assert prepared.framing is None and prepared.files["image"][2] == (256, 256)


def test_gpt_image_edit_of_a_photo_goes_as_it_is(client):
    """GPT image models take any input size (the openai SDK sends it as is): no window."""
    photo = _photo(1000, 700, 4)
    mask = masks.rectangle((700, 1000), (100, 100, 300, 250))
    prepared = client.prepare("edit", "a boat", photo, mask=mask, model="gpt-image-2")
    assert prepared.framing is None


def test_another_photo_with_the_same_window_is_another_request(offline_engine, tmp_path):
    a, b = _photo(800, 600, 5), _photo(800, 600, 5)
    b[500:, 700:] = 0  # differs only far from the window
    mask = masks.rectangle((600, 800), (100, 100, 200, 200))
    with ImagesClient(api_key=offline_engine.token, base_url=offline_engine.base_url) as c:
        first = c.prepare("edit", "x", a, mask=mask)
        second = c.prepare("edit", "x", b, mask=mask)
    assert first.uploads[0].sha256 == second.uploads[0].sha256
    assert first.cache_key != second.cache_key


def test_async_client_pastes_back_too(offline_engine):
    async def main():
        async with AsyncImagesClient(
            api_key=offline_engine.token, base_url=offline_engine.base_url, cache="off"
        ) as c:
            return await c.edit(_photo(640, 480), "x", mask=masks.rectangle((480, 640), (0, 0, 64, 64)))

    out = asyncio.run(main())[0]
    assert out.size == (640, 480) and out.info["window"]["box"] == [0, 0, 256, 256]


def test_mask_editor_generates_at_the_photo_size_for_an_800x600_photo(offline_engine):
    from dalle_widgets.widgets import MaskEditor

    aclient = AsyncImagesClient(api_key=offline_engine.token, base_url=offline_engine.base_url)
    ed = MaskEditor(_photo(800, 600, 6), client=aclient, display_px=200, prompt="a kite", n=1, size="512x512")
    ed.add_rectangle((600, 100, 760, 260))
    assert ed.generate() is not None
    result = ed.wait(180)
    assert ed.error is None and result[0].size == (800, 600)
    assert result[0].info["window"]["size"] == "512x512"


@pytest.mark.parametrize(
    ("framing", "window", "scale"),
    [("pad", [0, -100, 800, 700], 0.64), ("crop", [100, 0, 700, 600], 0.8533)],
)
def test_pad_and_crop_framings_send_a_square_and_keep_the_photo_size(client, framing, window, scale):
    photo = _photo(800, 600, 4)
    mask = masks.rectangle((600, 800), (300, 200, 420, 320))
    prepared = client.prepare("edit", "a lamp", photo, mask=mask, size="512x512", framing=framing)
    assert prepared.files["image"][2] == (512, 512) and prepared.framing.window.box == tuple(window)
    out = client.send(prepared)[0]
    assert out.size == (800, 600) and out.info["window"]["box"] == window
    assert out.info["window"]["scale"] == scale
    far = ~masks.grow(mask, 40)
    assert (_pixels(out)[far] == photo[far]).all()


def test_crop_framing_refuses_a_mask_outside_the_centre_square_before_sending(client):
    from dalle_widgets.errors import InvalidRequestError

    photo = _photo(800, 600, 5)
    mask = masks.rectangle((600, 800), (20, 20, 90, 90))  # left of the centre square (100..700)
    with pytest.raises(InvalidRequestError, match=r"framing='crop'.*4900 masked pixels.*framing='window'"):
        client.edit(photo, "a lamp", mask=mask, framing="crop")
    with pytest.raises(InvalidRequestError, match="framing='centre'.*'window', 'pad', 'crop'"):
        client.edit(photo, "a lamp", mask=mask, framing="centre")


def test_planned_window_is_what_the_client_sends(client):
    from dalle_widgets.client._window import planned_window
    from dalle_widgets.models import lookup

    photo = _photo(2400, 1500, 7)
    mask = masks.rectangle((1500, 2400), (1000, 600, 1200, 800))
    spec = lookup("dall-e-2")
    for framing in ("window", "pad", "crop"):
        planned = planned_window(spec, (2400, 1500), masks.bbox(mask), size="1024x1024", framing=framing)
        sent = client.prepare("edit", "x", photo, mask=mask, size="1024x1024", framing=framing).framing
        assert planned == sent.window
    assert planned_window(spec, (512, 512), None, size="1024x1024") is None  # a square goes as it is
    assert planned_window(lookup("gpt-image-1"), (2400, 1500), (0, 0, 9, 9)) is None  # any size as is
