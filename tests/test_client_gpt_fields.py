"""The GPT image request fields, multi-image edits and variations as edits, sync and async, on the fake.

What is sent is read at the server (JSON body or multipart parts); what is refused is
refused before anything reaches it.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dalle_widgets import errors
from dalle_widgets.client import VARY_PROMPT


def _rgb(h=64, w=64, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _file(fmt: str, w: int = 48, h: int = 32, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_rgb(h, w, seed)).save(buf, format=fmt)
    return buf.getvalue()


def test_every_field_is_sent_as_json_on_generate(twin, fake_openai) -> None:
    client = twin(model="gpt-image-2")
    result = client.generate(
        "a glass fox",
        size="1536x864",
        quality="high",
        background="transparent",
        output_format="webp",
        output_compression=80,
        moderation="low",
    )
    sent = fake_openai.last.json
    assert sent == {
        "model": "gpt-image-2",
        "prompt": "a glass fox",
        "n": 1,
        "size": "1536x864",
        "quality": "high",
        "background": "transparent",
        "output_format": "webp",
        "output_compression": 80,
        "moderation": "low",
    }
    info = result[0].info
    assert (info["quality"], info["background"], info["output_format"]) == ("high", "transparent", "webp")


def test_complexity_and_xhigh_go_to_the_2_6_models_only(twin, fake_openai) -> None:
    client = twin(model="gpt-image-2.6-flare")
    client.generate("a glass fox", quality="xhigh", complexity="low")
    assert fake_openai.last.json["complexity"] == "low" and fake_openai.last.json["quality"] == "xhigh"
    with pytest.raises(errors.InvalidRequestError) as info:
        client.generate("a glass fox", model="gpt-image-2", complexity="low")
    message = str(info.value)
    assert "complexity='low'" in message and "gpt-image-2 takes no complexity" in message
    assert "gpt-image-2.6-flare" in message  # who does take it
    with pytest.raises(
        errors.InvalidRequestError, match=r"quality='xhigh' is not accepted by gpt-image-2; use"
    ):
        client.generate("a glass fox", model="gpt-image-2", quality="xhigh")
    assert len(fake_openai.api_requests()) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"background": "transparent", "output_format": "jpeg"},
            "background='transparent' needs output_format='png' or 'webp' (jpeg has no alpha channel); "
            "got output_format='jpeg' for gpt-image-2",
        ),
        (
            {"quality": "ultra"},
            "quality='ultra' is not accepted by gpt-image-2; use 'low', 'medium', 'high' or",
        ),
        ({"output_format": "gif"}, "output_format='gif' is not accepted by gpt-image-2"),
        ({"output_compression": 50}, "output_compression=50 applies to jpeg and webp only"),
        ({"output_compression": 101, "output_format": "jpeg"}, "output_compression=101: pass an integer"),
        ({"moderation": "off"}, "moderation='off' is not accepted by gpt-image-2; use 'auto' or 'low'"),
        ({"partial_images": 2}, "partial_images=2 needs stream=True"),
        ({"stream": True, "partial_images": 4}, "partial_images=4: gpt-image-2 sends 0 to 3 previews"),
        ({"stream": "yes"}, "stream='yes': pass True or False"),
        ({"size": "1000x1000"}, "size '1000x1000' is not supported by gpt-image-2: 1000x1000: both sides"),
        ({"size": "3840x3840"}, "the nearest valid size is '2880x2880'"),
        ({"size": "3840x960"}, "aspect ratio must be between 1:3 and 3:1"),
        ({"size": "512x512"}, "at least 655,360 are needed; the nearest valid size is '816x816'"),
    ],
)
def test_bad_fields_are_refused_before_sending(twin, fake_openai, kwargs, message) -> None:
    client = twin(model="gpt-image-2")
    with pytest.raises(errors.InvalidRequestError) as info:
        client.generate("a fox", **kwargs)
    assert message in str(info.value)
    assert fake_openai.api_requests() == []
    assert list(client.store) == []  # nothing stored, nothing billed


def test_dall_e_2_refuses_the_gpt_fields(twin, fake_openai) -> None:
    client = twin(model="dall-e-2")
    with pytest.raises(
        errors.InvalidRequestError, match="background='transparent': dall-e-2 takes no background field"
    ):
        client.generate("a fox", background="transparent")
    with pytest.raises(errors.InvalidRequestError, match="stream=True: dall-e-2 does not stream"):
        client.generate("a fox", stream=True)
    client.generate("a fox", size="256x256", output_format="png")  # its only format: accepted, not sent
    assert "output_format" not in fake_openai.last.json
    assert fake_openai.last.json["response_format"] == "b64_json"


def test_input_fidelity_only_where_the_model_takes_it(twin, fake_openai) -> None:
    client = twin()
    with pytest.raises(errors.InvalidRequestError, match="gpt-image-2 takes no input_fidelity field"):
        client.edit(_rgb(), "night", model="gpt-image-2", input_fidelity="high")
    with pytest.raises(errors.InvalidRequestError, match="input_fidelity='high' applies to edits"):
        client.prepare("generate", "night", model="gpt-image-1.5", input_fidelity="high")
    client.edit(_rgb(), "night", model="gpt-image-1.5", input_fidelity="high")
    assert fake_openai.last.form["input_fidelity"] == "high"


def test_one_image_goes_as_image_with_its_own_type(twin, fake_openai) -> None:
    jpeg = _file("JPEG")
    twin(model="gpt-image-2").edit(jpeg, "night")
    parts = fake_openai.last.file_parts
    assert [(name, filename, ctype) for name, filename, ctype, _ in parts] == [
        ("image", "image.jpg", "image/jpeg")
    ]
    assert parts[0][3] == jpeg  # byte for byte, not re-encoded


def test_several_images_go_as_repeated_image_brackets(twin, fake_openai, tmp_path) -> None:
    webp = tmp_path / "ref.webp"
    webp.write_bytes(_file("WEBP", seed=2))
    mask = np.zeros((32, 48), bool)
    mask[8:24, 8:40] = True
    result = twin(model="gpt-image-2").edit(
        [_file("PNG"), _file("JPEG", seed=1), webp, _rgb(20, 30)], "merge", mask=mask
    )
    parts = fake_openai.last.file_parts
    assert [(name, filename, ctype) for name, filename, ctype, _ in parts] == [
        ("image[]", "image-0.png", "image/png"),
        ("image[]", "image-1.jpg", "image/jpeg"),
        ("image[]", "image-2.webp", "image/webp"),
        ("image[]", "image-3.png", "image/png"),
        ("mask", "mask.png", "image/png"),
    ]
    assert len(result[0].info["parent_hashes"]) == 4


def test_multi_image_refusals(twin, fake_openai) -> None:
    client = twin(model="gpt-image-2")
    with pytest.raises(
        errors.InvalidRequestError, match="17 images: gpt-image-2 takes at most 16 input images"
    ):
        client.edit([_rgb()] * 17, "x")
    with pytest.raises(
        errors.InvalidRequestError, match=r"mask is 64x64 but the first image \(the one a mask"
    ):
        client.edit([_rgb(32, 48), _rgb()], "x", mask=np.ones((64, 64), bool))
    with pytest.raises(errors.InvalidRequestError, match="image=\\[\\]: edit needs at least one image"):
        client.edit([], "x")
    with pytest.raises(
        errors.InvalidRequestError,
        match="dall-e-2 takes at most 1 input image per edit: pass one image, or use a model whose "
        "edits take 2, e.g. model='gpt-image-2'",
    ):
        client.edit([_rgb(), _rgb()], "x", model="dall-e-2")
    assert fake_openai.api_requests() == []


def test_the_fake_refuses_what_openai_refuses(fake_openai) -> None:
    """The fake's own checks, so the tests above would catch a wrong encoding."""
    import httpx

    from tests.fixtures.fake_openai import FAKE_KEY

    files = [("image", ("a.bin", _file("PNG"), "application/octet-stream"))]
    answer = httpx.post(
        f"{fake_openai.base_url}/images/edits",
        data={"model": "gpt-image-2", "prompt": "x"},
        files=files,
        headers={"Authorization": f"Bearer {FAKE_KEY}"},
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "unsupported_file_mimetype"


def test_vary_on_a_gpt_model_is_an_edit_of_the_whole_image(twin, fake_openai) -> None:
    client = twin(model="gpt-image-2")
    parent = client.generate("a red fox")[0]
    prepared = client.prepare("vary", image=parent)
    assert prepared.url.endswith("/images/edits") and prepared.operation == "vary"
    assert "sent as an edit" in prepared.describe()
    result = client.vary(parent, n=2)
    sent = fake_openai.last
    assert sent.path == "/v1/images/edits" and "mask" not in sent.files
    assert sent.form["prompt"].startswith(VARY_PROMPT) and sent.form["prompt"].endswith("a red fox")
    assert result.operation == "vary"
    assert [im.info["operation"] for im in result] == ["vary", "vary"]
    assert result[0].info["sent_as"] == "edit" and result[0].info["parent_hashes"] == [parent.image_hash]


def test_dall_e_2_keeps_the_variations_endpoint(twin, fake_openai) -> None:
    twin(model="dall-e-2").vary(_rgb())
    assert fake_openai.last.path == "/v1/images/variations"


@pytest.mark.parametrize(
    ("fmt", "suffix", "embedded"), [("jpeg", ".jpg", True), ("webp", ".webp", False), ("png", ".png", True)]
)
def test_formats_are_stored_as_delivered_with_provenance(twin, fake_openai, fmt, suffix, embedded) -> None:
    from dalle_widgets.store import open_image, sidecar_of

    client = twin(model="gpt-image-2")
    image = client.generate("a fox", output_format=fmt)[0]
    assert image.path.suffix == suffix and sidecar_of(image.path).exists() is not embedded
    back = open_image(image.path)
    assert back.info["output_format"] == fmt and back.info["prompt"] == "a fox"
    assert back.image.size == (1024, 1024) and list(client.store) == [image.path]


def test_a_transparent_background_arrives_with_its_alpha(twin, fake_openai) -> None:
    from dalle_widgets.store import open_image

    image = twin(model="gpt-image-2").generate("a sticker", background="transparent", output_format="webp")[0]
    back = open_image(image.path)
    assert back.image.mode == "RGBA"
    alpha = np.asarray(back.image)[..., 3]
    assert alpha[0, 0] == 0 and alpha[512, 512] == 255
