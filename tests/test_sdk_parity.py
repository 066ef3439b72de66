"""Our client against the official ``openai`` SDK (item 9): the same call sends the same request.

Each case makes one call with the SDK and the same call with :class:`ImagesClient`, both
to the fake OpenAI service, and compares what the server received: the route, JSON field
names and values, or the multipart fields, file part names (``image`` / repeated
``image[]`` / ``mask``) and content types. Then the SDK and our twins read the fake's and
the engine's answers, streams included.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import numpy as np
import pytest
from openai import OpenAI
from PIL import Image

from dalle_widgets.client import AsyncImagesClient, ImagesClient
from tests.fixtures.fake_openai import FAKE_KEY, FakeOpenAI, Recorded


def _file(fmt: str, w: int = 64, h: int = 48, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


def _mask_png(w: int = 64, h: int = 48) -> bytes:
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[8:40, 8:56, 3] = 0  # alpha 0 = edit here
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    return buf.getvalue()


def _wire(req: Recorded) -> dict[str, Any]:
    """What matters of a request: route, encoding, fields, file parts (name and content type)."""
    ctype = req.headers.get("content-type", "").split(";")[0]
    if ctype == "application/json":
        return {"path": req.path, "type": ctype, "fields": req.json, "files": []}
    return {
        "path": req.path,
        "type": ctype,
        "fields": req.form,
        "files": [(name, content_type) for name, _filename, content_type, _data in req.file_parts],
        # input images go byte for byte in both; the mask is ours to re-encode (from a bool mask)
        "bytes": [data for name, *_, data in req.file_parts if name != "mask"],
    }


PNG_A, JPEG_B, WEBP_C = _file("PNG"), _file("JPEG", seed=1), _file("WEBP", seed=2)
MASK = _mask_png()

# (SDK call, our call): both given the client; the same request in each library's own words
CASES = {
    "generate with every field": (
        lambda sdk: sdk.images.generate(
            model="gpt-image-2",
            prompt="a glass fox",
            n=2,
            size="1536x864",
            quality="high",
            background="transparent",
            output_format="webp",
            output_compression=80,
            moderation="low",
        ),
        lambda ours: ours.generate(
            "a glass fox",
            n=2,
            size="1536x864",
            quality="high",
            background="transparent",
            output_format="webp",
            output_compression=80,
            moderation="low",
            cache="off",
        ),
    ),
    "animated GIF on 2.6": (
        lambda sdk: sdk.images.generate(
            model="gpt-image-2.6-flare",
            prompt="a spinning top",
            n=1,
            size="512x512",
            output_format="gif",
            frame_count=6,
            frame_duration_ms=120,
        ),
        lambda ours: ours.generate(
            "a spinning top",
            model="gpt-image-2.6-flare",
            size="512x512",
            output_format="gif",
            frame_count=6,
            frame_duration_ms=120,
            cache="off",
        ),
    ),
    "edit with one image and a mask": (
        lambda sdk: sdk.images.edit(
            model="gpt-image-2",
            image=("image.png", PNG_A, "image/png"),
            mask=("mask.png", MASK, "image/png"),
            prompt="a red hat",
            n=1,
            size="1024x1024",
        ),
        lambda ours: ours.edit(PNG_A, "a red hat", mask=MASK, size="1024x1024", cache="off"),
    ),
    "edit with a list of images": (
        lambda sdk: sdk.images.edit(
            model="gpt-image-2",
            image=[
                ("a.png", PNG_A, "image/png"),
                ("b.jpg", JPEG_B, "image/jpeg"),
                ("c.webp", WEBP_C, "image/webp"),
            ],
            prompt="merge them",
            n=1,
            size="1024x1024",
            quality="low",
        ),
        lambda ours: ours.edit(
            [PNG_A, JPEG_B, WEBP_C], "merge them", size="1024x1024", quality="low", cache="off"
        ),
    ),
    "streamed generate": (
        lambda sdk: list(
            sdk.images.generate(
                model="gpt-image-2",
                prompt="a lighthouse",
                n=1,
                size="1024x1024",
                stream=True,
                partial_images=2,
            )
        ),
        lambda ours: list(ours.generate("a lighthouse", stream=True, partial_images=2, cache="off")),
    ),
    "streamed edit": (
        lambda sdk: list(
            sdk.images.edit(
                model="gpt-image-2",
                image=("image.png", PNG_A, "image/png"),
                prompt="night",
                n=1,
                size="1024x1024",
                stream=True,
                partial_images=1,
            )
        ),
        lambda ours: list(
            ours.edit(PNG_A, "night", size="1024x1024", stream=True, partial_images=1, cache="off")
        ),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_our_request_is_the_sdks(fake_openai: FakeOpenAI, tmp_path, case: str) -> None:
    sdk_call, our_call = CASES[case]
    sdk = OpenAI(api_key=FAKE_KEY, base_url=fake_openai.base_url, max_retries=0)
    sdk_call(sdk)
    theirs = _wire(fake_openai.last)
    with ImagesClient(
        api_key=FAKE_KEY, base_url=fake_openai.base_url, model="gpt-image-2", store=tmp_path
    ) as ours:
        our_call(ours)
    mine = _wire(fake_openai.last)
    assert mine == theirs


def test_the_sdk_reads_the_fakes_stream_and_list_edit(fake_openai: FakeOpenAI) -> None:
    sdk = OpenAI(api_key=FAKE_KEY, base_url=fake_openai.base_url, max_retries=0)
    events = list(sdk.images.generate(model="gpt-image-2", prompt="a fox", stream=True, partial_images=2))
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert events[-1].usage.output_tokens > 0
    answer = sdk.images.edit(
        model="gpt-image-2",
        image=[("a.png", PNG_A, "image/png"), ("b.jpg", JPEG_B, "image/jpeg")],
        prompt="x",
    )
    assert answer.usage.input_tokens_details.image_tokens > 0 and len(answer.data) == 1


# --- our twins on the engine -------------------------------------------------------------------------


def test_our_sync_client_on_the_engine(offline_engine, tmp_path) -> None:
    with ImagesClient(
        api_key=offline_engine.token, base_url=offline_engine.base_url, model="gpt-image-2", store=tmp_path
    ) as client:
        stream = client.generate(
            "a calm lake at dusk", size="1024x1024", quality="low", stream=True, partial_images=2
        )
        kinds = [e.type for e in stream]
        assert kinds[-1] == "completed" and 1 <= kinds.count("partial") <= 2
        assert stream.result[0].info["usage"]["output_tokens"] > 0
        edited = client.edit(
            [_file("PNG", 256, 256), _file("JPEG", 128, 128, seed=3)], "blend", size="1024x1024"
        )
        assert edited[0].size == (1024, 1024) and len(edited[0].info["parent_hashes"]) == 2
        clear = client.generate(
            "a sticker of a fox", background="transparent", output_format="webp", quality="low"
        )
        assert clear[0].path.suffix == ".webp" and clear[0].image.mode == "RGBA"


def test_our_async_client_on_the_engine(offline_engine, tmp_path) -> None:
    async def main() -> tuple[list[str], Any]:
        async with AsyncImagesClient(
            api_key=offline_engine.token,
            base_url=offline_engine.base_url,
            model="gpt-image-2",
            store=tmp_path,
        ) as client:
            hole = np.zeros((512, 512), bool)
            hole[200:320, 180:340] = True
            stream = await client.edit(
                _file("PNG", 512, 512), "snow", mask=hole, size="1024x1024", stream=True, partial_images=2
            )
            kinds = [event.type async for event in stream]
            return kinds, stream.result

    kinds, result = asyncio.run(main())
    assert kinds[-1] == "completed" and kinds.count("partial") >= 1
    assert result[0].path.is_file() and result.operation == "edit"
