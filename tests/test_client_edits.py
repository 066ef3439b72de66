"""Edits and variations: every accepted input form, the wire files, lineage, and refusals."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from dalle_widgets import errors, models
from dalle_widgets.client import ImagesClient
from dalle_widgets.store import image_hash
from tests.fixtures.fake_openai import FAKE_KEY


def _rgb(h=64, w=64, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.fixture
def client(fake_openai):
    with ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url) as c:
        yield c


def _as(kind: str, arr: np.ndarray, tmp_path):
    png = io.BytesIO()
    Image.fromarray(arr).save(png, format="PNG")
    if kind == "path":
        p = tmp_path / "in.png"
        p.write_bytes(png.getvalue())
        return p
    if kind == "str":
        p = tmp_path / "in.png"
        p.write_bytes(png.getvalue())
        return str(p)
    if kind == "bytes":
        return png.getvalue()
    if kind == "file":
        png.seek(0)
        return png
    if kind == "pil":
        return Image.fromarray(arr)
    if kind == "uint8":
        return arr
    if kind == "float":
        return arr.astype(np.float64) / 255.0
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["path", "str", "bytes", "file", "pil", "uint8", "float"])
def test_vary_accepts_every_input_form(twin, fake_openai, tmp_path, kind) -> None:
    arr = _rgb()
    result = twin().vary(_as(kind, arr, tmp_path), n=2, size="256x256")
    assert len(result) == 2 and result[0].image.size == (256, 256)
    sent = fake_openai.last
    assert sent.path == "/v1/images/variations"
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert sent.form == {"model": "dall-e-2", "n": "2", "size": "256x256", "response_format": "b64_json"}
    filename, ctype, data = sent.files["image"]
    assert (filename, ctype) == ("image.png", "image/png")
    wire = _decode(data)
    assert wire.shape == (64, 64, 4) and (wire[..., 3] == 255).all()
    assert np.array_equal(wire[..., :3], arr)
    assert result[0].info["parent_hashes"] == [image_hash(Image.fromarray(arr))] == [result[0].info["parent"]]


def test_edit_with_a_bool_mask(twin, fake_openai) -> None:
    arr = _rgb(128, 128)
    mask = np.zeros((128, 128), bool)
    mask[32:96, 40:80] = True
    result = twin().edit(arr, "a red balloon", mask=mask, n=1)
    sent = fake_openai.last
    assert sent.path == "/v1/images/edits"
    # 128 px is not a dall-e-2 size, so the model's default size is asked for
    assert sent.form == {
        "model": "dall-e-2",
        "prompt": "a red balloon",
        "n": "1",
        "size": "1024x1024",
        "response_format": "b64_json",
    }
    image = _decode(sent.files["image"][2])
    wire_mask = _decode(sent.files["mask"][2])
    assert sent.files["mask"][:2] == ("mask.png", "image/png")
    assert image.shape == (128, 128, 4) and np.array_equal(image[..., :3], arr)
    assert wire_mask.shape == (128, 128, 4)
    assert np.array_equal(wire_mask[..., 3] == 0, mask), "alpha 0 exactly where the mask is True"
    assert len(sent.files["mask"][2]) < 2000
    info = result[0].info
    assert info["mask_hash"] and info["prompt"] == "a red balloon" and info["operation"] == "edit"


def test_edit_size_defaults_to_the_image_size(twin, fake_openai) -> None:
    mask = np.ones((512, 512), bool)
    twin().edit(np.zeros((512, 512, 3), np.uint8), "sky", mask=mask)
    assert fake_openai.last.form["size"] == "512x512"


def test_edit_with_an_rgba_mask_image_and_a_mask_path(twin, fake_openai, tmp_path) -> None:
    arr = _rgb(64, 64)
    rgba = np.full((64, 64, 4), 255, np.uint8)
    rgba[:10, :, 3] = 0
    path = tmp_path / "mask.png"
    Image.fromarray(rgba).save(path)
    client = twin()
    for mask in (rgba, Image.fromarray(rgba), path):
        client.edit(arr, "clouds", mask=mask, size="256x256", cache="off")
        wire = _decode(fake_openai.last.files["mask"][2])
        assert np.array_equal(wire[..., 3] == 0, rgba[..., 3] == 0)


def test_edit_without_mask_uses_transparency(twin, fake_openai) -> None:
    rgba = np.full((64, 64, 4), 200, np.uint8)
    rgba[20:40, 20:40, 3] = 0
    twin().edit(rgba, "a window", size="256x256")
    sent = fake_openai.last
    assert "mask" not in sent.files
    assert np.array_equal(_decode(sent.files["image"][2])[..., 3], rgba[..., 3])


def test_lineage_links_a_variation_to_its_parent(twin, fake_openai) -> None:
    client = twin()
    parent = client.generate("a fox", size="256x256")[0]
    child = client.vary(parent, size="256x256")[0]
    assert child.info["parent_hashes"] == [parent.image_hash]
    assert child.info["parent_path"] == child.info["parent"] == str(parent.path)
    grandchild = client.vary(child.path, size="256x256")[0]
    assert grandchild.info["parent_hashes"] == [child.image_hash]


def test_gpt_image_edits_take_non_square_images_without_mask(twin, fake_openai) -> None:
    twin(model="gpt-image-1").edit(_rgb(48, 64), "make it night")
    sent = fake_openai.last
    assert sent.form["model"] == "gpt-image-1" and "response_format" not in sent.form
    assert _decode(sent.files["image"][2]).shape[:2] == (48, 64)  # RGB stays RGB: GPT models take any PNG


# --- refusals: before anything is sent -----------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda c: c.vary(_rgb(30, 40)),
            "image is 40x30; dall-e-2 variations need a square image: use "
            "dalle_widgets.imaging.fit_square(image, mode='pad'|'crop')",
        ),
        (
            lambda c: c.edit(_rgb(1024, 1024), "x", mask=np.ones((512, 512), bool)),
            "mask is 512x512 but image is 1024x1024",
        ),
        (lambda c: c.edit(_rgb(), "x", mask=np.zeros((64, 64), bool)), "mask selects no pixels"),
        (lambda c: c.edit(_rgb(), "x"), "image has no transparent pixels and no mask was given"),
        (lambda c: c.edit(_rgb(), "x", mask=np.ones((64, 64, 2), bool)), "a bool mask must be 2-D"),
        (  # edit() takes no threshold: the fix names the call that does
            lambda c: c.edit(_rgb(), "x", mask=np.full((64, 64), 0.7)),
            'the mask is a float array: pass threshold=... (e.g. 0.5) to say which values mean "generate". '
            "edit() takes neither: read it with dalle_widgets.masks.from_image(mask, threshold=...",
        ),
        (
            lambda c: c.edit(_rgb(), "x", mask=np.full((64, 64, 3), 90, np.uint8)),
            "the mask has no transparency and is not strictly black and white",
        ),
        (lambda c: c.generate("x" * 1203), "prompt is 1203 characters; dall-e-2 accepts at most 1000"),
        (lambda c: c.generate("  "), "prompt is empty"),
        (lambda c: c.generate("x", n=12), "n=12: dall-e-2 makes 1 to 10 images per request"),
        (lambda c: c.generate("x", n=0), "n=0: dall-e-2 makes 1 to 10"),
        (lambda c: c.generate("x", n=True), "n=True"),
        (
            lambda c: c.generate("x", size="800x800"),
            "size '800x800' is not supported by dall-e-2; use 256x256, 512x512 or 1024x1024",
        ),
        (lambda c: c.generate("x", size="256×256"), "size '256×256' is not supported"),
        (lambda c: c.vary(_rgb(), model="dall-e-3"), "dall-e-3 has no variations endpoint"),
        (
            lambda c: c.generate("x", model="gpt-image-1", response_format="url"),
            "response_format='url' is not supported by gpt-image-1",
        ),
        (
            lambda c: c.generate("x", model="gpt-image-1", size="512x512"),
            "size '512x512' is not supported by gpt-image-1; use 1024x1024, 1536x1024, 1024x1536 or auto",
        ),
        (lambda c: c.generate("x", response_format="png"), "response_format='png': use 'url' or 'b64_json'"),
        (lambda c: c.generate("x", seed="7"), "seed='7': pass an integer"),
        (lambda c: c.generate("x", cache="maybe"), "cache='maybe' is not a cache mode"),
        (lambda c: c.vary("/no/such/file.png"), "no file at '/no/such/file.png'"),
        (lambda c: c.vary(b"not an image"), "could not be decoded as an image"),
        (lambda c: c.vary(np.zeros((4, 4, 2), np.uint8)), "image"),
        (lambda c: c.generate("x", model="acme/painter", size="big"), "size 'big' is not WIDTHxHEIGHT"),
    ],
)
def test_bad_input_is_refused_before_sending(client, fake_openai, call, message) -> None:
    with pytest.raises(errors.InvalidRequestError) as info:
        call(client)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)
    assert fake_openai.requests == []


def test_exactly_1000_characters_is_fine(client) -> None:
    assert client.prepare("generate", "x" * 1000).prompt == "x" * 1000


def test_upload_limit_is_enforced(client, fake_openai, monkeypatch) -> None:
    small = dataclasses.replace(models.MODELS["dall-e-2"], max_upload_bytes=5_000)
    monkeypatch.setitem(models.MODELS, "dall-e-2", small)
    with pytest.raises(errors.InvalidRequestError, match="over the 5,000 byte limit"):
        client.vary(_rgb(64, 64))
    assert fake_openai.requests == []


def test_unknown_models_get_generic_checks_and_a_warning(client, fake_openai, caplog) -> None:
    with caplog.at_level("WARNING", logger="dalle_widgets"):
        prepared = client.prepare("generate", "x", model="acme/painter-9", size="640x480")
    assert prepared.size == "640x480" and prepared.cost_usd is None
    assert "painter-9" in caplog.text
    assert "cost: unknown" in prepared.describe()
    assert client.prepare("generate", "x", model="acme/painter-9").size is None


def test_prepare_describes_an_edit(client) -> None:
    mask = np.zeros((256, 256), bool)
    mask[:50] = True
    prepared = client.prepare("edit", "a boat", np.zeros((256, 256, 3), np.uint8), mask=mask, n=3)
    assert prepared.files["image"][0] == "image.png" and prepared.files["image"][2] == (256, 256)
    assert prepared.files["mask"][0] == "mask.png"
    assert prepared.cost_usd == pytest.approx(3 * 0.016)
    text = prepared.describe()
    assert "POST" in text and "/v1/images/edits" in text and "mask: mask.png 256x256 PNG" in text
    assert "3 x $0.016 = $0.048" in text
    assert not any(isinstance(v, bytes) for v in prepared.fields.values()), "no file bytes in fields"


def test_unknown_model_warns_once_per_client(client, caplog) -> None:
    with caplog.at_level("WARNING", logger="dalle_widgets"):
        for _ in range(3):
            client.prepare("generate", "x", model="acme/painter-10", size="64x64")
    assert caplog.text.count("painter-10") == 1
