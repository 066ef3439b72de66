"""Multi-image edits from the mask editor: reference images go with the edit, through the real
client to the offline engine (GPT image surface) or to the fake OpenAI service; bad references
are refused before anything is sent."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from dalle_widgets import models
from dalle_widgets.client import AsyncImagesClient, ImagesClient
from dalle_widgets.widgets import MaskEditor
from tests.fixtures.fake_openai import FAKE_KEY, FakeOpenAI


def _grey(size: int = 256) -> np.ndarray:
    return np.full((size, size, 3), 128, np.uint8)


def _solid(rgb: tuple[int, int, int], size: int = 64) -> np.ndarray:
    return np.tile(np.array(rgb, np.uint8), (size, size, 1))


def _jpeg(rgb: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_solid(rgb)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Undo :func:`models.register` calls made by a test."""
    saved = (dict(models.MODELS), dict(models._REGISTERED), dict(models._REGISTERED_RAW))
    yield
    for target, before in zip(
        (models.MODELS, models._REGISTERED, models._REGISTERED_RAW), saved, strict=True
    ):
        target.clear()
        target.update(before)


def _edit(ed: MaskEditor) -> object:
    ed.add_rectangle((64, 64, 192, 192))
    assert ed.generate() is not None, ed.status.value
    result = ed.wait(120)
    assert ed.error is None, ed.status.value
    return result


def _redness(result: object) -> float:
    """How much redder than green the repainted square is, on average."""
    arr = np.asarray(result[0].image.convert("RGB").resize((256, 256)), float)  # type: ignore[index]
    square = arr[80:176, 80:176]
    return float((square[..., 0] - square[..., 1]).mean())


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_references_go_with_the_edit_and_steer_it(offline_engine, kind: str) -> None:
    cls = AsyncImagesClient if kind == "async" else ImagesClient
    client = cls(api_key=offline_engine.token, base_url=offline_engine.base_url, model="gpt-image-2")
    common = {"client": client, "display_px": 128, "prompt": "a bowl of fruit", "n": 1, "size": "1024x1024"}
    plain = _edit(MaskEditor(_grey(), **common))
    red = _solid((230, 20, 20))
    ed = MaskEditor(_grey(), references=[red, _jpeg((200, 30, 30))], **common)
    assert len(ed.references_strip.row.children) == 2  # two thumbnails, each with a remove button
    result = _edit(ed)
    info = result[0].info  # type: ignore[index]
    assert len(info["parent_hashes"]) == 3  # the base image, then the two references
    assert info["operation"] == "edit" and info["usage"]["input_tokens_details"]["image_tokens"] > 0
    assert result[0].path.is_file()  # type: ignore[index]
    # the offline engine pulls the repainted area towards the references' colours
    assert _redness(result) > _redness(plain) + 20
    if kind == "sync":
        client.close()


def test_the_sent_parts_follow_the_strip(fake_openai: FakeOpenAI) -> None:
    client = ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url, model="gpt-image-2")
    ed = MaskEditor(
        _grey(), client=client, references=[_jpeg((0, 0, 255)), _solid((0, 255, 0))], prompt="x", n=1
    )
    ed.references_strip.row.children[0].children[1].click()  # the first reference's remove button
    assert len(ed.references) == 1
    ed.add_reference(_solid((255, 255, 0)))
    _edit(ed)
    parts = [(name, filename, ctype) for name, filename, ctype, _ in fake_openai.last.file_parts]
    assert parts == [
        ("image[]", "image-0.png", "image/png"),
        ("image[]", "image-1.png", "image/png"),
        ("image[]", "image-2.png", "image/png"),
        ("mask", "mask.png", "image/png"),
    ]
    ed.references_strip.remove(0)
    ed.references_strip.remove(0)
    _edit(ed)  # no references left: a plain one-image edit again
    assert [name for name, *_ in fake_openai.last.file_parts] == ["image", "mask"]
    client.close()


def test_a_model_that_takes_one_image_is_refused_naming_one_that_takes_several() -> None:
    client = ImagesClient(api_key="sk-x", base_url="http://127.0.0.1:9/v1", model="dall-e-2")
    with pytest.raises(ValueError) as caught:
        MaskEditor(_grey(), client=client, references=[_solid((1, 2, 3))])
    assert str(caught.value) == (
        "1 reference image and the base image make 2 inputs; dall-e-2 takes 1 per edit: remove the "
        "references, or use a model whose edits take 2, e.g. "
        "MaskEditor(..., client=ImagesClient(model='gpt-image-2'))"
    )
    gpt = ImagesClient(api_key="sk-x", base_url="http://127.0.0.1:9/v1", model="gpt-image-2")
    with pytest.raises(ValueError, match="16 reference images and the base image make 17 inputs; "):
        MaskEditor(_grey(), client=gpt, references=[_solid((1, 2, 3))] * 16)
    ed = MaskEditor(_grey(), client=gpt, references=[_solid((1, 2, 3))] * 15)
    with pytest.raises(ValueError, match="gpt-image-2 takes 16 per edit: keep at most 15"):
        ed.add_reference(_solid((4, 5, 6)))
    assert len(ed.references) == 15


def test_bad_references_are_refused_with_their_index() -> None:
    with pytest.raises(ValueError, match=r"references\[1\].*not an image|references\[1\]"):
        MaskEditor(_grey(), references=[_solid((1, 2, 3)), b"not an image at all"])
    with pytest.raises(TypeError, match="wrap one image in a list, e.g. references=\\[logo\\]"):
        MaskEditor(_grey(), references=_solid((1, 2, 3)))  # type: ignore[arg-type]


def test_the_clients_checks_run_before_sending(fake_openai: FakeOpenAI, clean_registry) -> None:
    """Bytes and formats the model refuses: one line in the status, the strip's index named,
    nothing sent, nothing staged."""
    models.register("small-uploads", like="gpt-image-2", max_upload_bytes=2_000)
    client = AsyncImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url, model="small-uploads")
    noisy = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, format="JPEG", quality=95)
    ed = MaskEditor(_grey(64), client=client, references=[buf.getvalue()], prompt="x", n=1)
    ed.add_rectangle((0, 0, 32, 32))
    assert ed.generate() is None
    status = ed.status.value
    assert "image[1] is a" in status and "small-uploads takes files under" in status
    assert "image[0] is the base image, image[1] on the references in order" in status
    assert fake_openai.api_requests() == [] and ed.staging == []
