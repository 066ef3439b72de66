"""Animated GIF output on the 2.6 models, end to end: checked, sent, billed and stored.

The GIF limits are the model table's ``gif_size`` block (measured by third parties, not
published by OpenAI); the client applies them before sending and the offline engine
identically. Against the fake OpenAI (what is sent, what is refused before sending) and
the real offline engine (the GIF itself), sync and async.
"""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image

from dalle_widgets import errors
from dalle_widgets.client import AsyncImagesClient, ImagesClient
from dalle_widgets.models import lookup

FLARE = "gpt-image-2.6-flare"


def _frames(data: bytes) -> tuple[Image.Image, list[np.ndarray]]:
    gif = Image.open(io.BytesIO(data))
    frames = []
    for i in range(gif.n_frames):
        gif.seek(i)
        frames.append(np.asarray(gif.convert("RGB")).astype(int))
    gif.seek(0)
    return gif, frames


def test_a_gif_is_sent_with_its_frames_and_stored_as_delivered(twin, fake_openai) -> None:
    client = twin(model=FLARE)
    result = client.generate(
        "a spinning top", output_format="gif", frame_count=6, frame_duration_ms=120, size="512x512"
    )
    assert fake_openai.last.json == {
        "model": FLARE,
        "prompt": "a spinning top",
        "n": 1,
        "size": "512x512",
        "output_format": "gif",
        "frame_count": 6,
        "frame_duration_ms": 120,
    }
    gif = result[0]
    assert gif.format == "gif" and gif.is_animated and gif.path.suffix == ".gif"
    on_disk, frames = _frames(gif.path.read_bytes())
    assert on_disk.n_frames == 6 and on_disk.info["duration"] == 120 and on_disk.size == (512, 512)


def test_no_size_sends_the_largest_frame_for_the_frame_count(twin, fake_openai) -> None:
    client = twin(model=FLARE)
    client.generate("a spinning top", output_format="gif", frame_count=12)
    assert fake_openai.last.json["size"] == "816x816" and fake_openai.last.json["frame_count"] == 12
    client.generate("a spinning top", output_format="gif", cache="off")  # the API's default: 9 frames
    assert fake_openai.last.json["size"] == "960x960" and "frame_count" not in fake_openai.last.json


@pytest.mark.parametrize(
    ("model", "kwargs", "words"),
    [
        ("gpt-image-2", {"size": "512x512"}, ["output_format='gif'", "gpt-image-2", FLARE]),
        (FLARE, {"frame_count": 6, "size": "1024x1024"}, ["1024x1024", "6 frames", FLARE, "'960x960'"]),
        (FLARE, {"frame_count": 16, "size": "1280x720"}, ["1280x720", "16 frames", "'912x512'"]),
        (FLARE, {"frame_count": 4, "size": "256x256"}, ["256x256", "too small", "384x384"]),
        (FLARE, {"frame_count": 17}, ["frame_count=17", "2 to 16", FLARE]),
        (FLARE, {"frame_count": True}, ["frame_count=True"]),
        (FLARE, {"frame_duration_ms": 10}, ["frame_duration_ms=10", "20"]),
        (FLARE, {"size": "500x500"}, ["multiples of 16"]),
        (FLARE, {"stream": True}, ["stream=True", "gif"]),
        (FLARE, {"output_compression": 50}, ["output_compression"]),
    ],
)
def test_bad_gif_requests_are_refused_before_sending(twin, fake_openai, model, kwargs, words) -> None:
    client = twin(model=model)
    with pytest.raises(errors.InvalidRequestError) as info:
        client.generate("a spinning top", output_format="gif", **kwargs)
    for word in words:
        assert word in str(info.value)
    assert fake_openai.api_requests() == []


def test_frames_without_gif_and_gif_edits_are_refused(twin, fake_openai) -> None:
    client = twin(model=FLARE)
    with pytest.raises(errors.InvalidRequestError, match="frame_count=6 applies to animated GIFs only"):
        client.generate("a spinning top", frame_count=6)
    picture = np.zeros((512, 512, 3), np.uint8)
    with pytest.raises(errors.InvalidRequestError, match="unverified") as info:
        client.edit(picture, "make it spin", output_format="gif")
    assert "generate()" in str(info.value)
    assert fake_openai.api_requests() == []


def test_a_gif_is_priced_as_its_sprite_sheet(twin) -> None:
    client = twin(model=FLARE)
    rates = lookup(FLARE).prices
    per_1024 = rates.output_tokens["high"] * rates.tokens.image_out / 1e6
    for frames, cells in ((2, 8), (6, 8), (9, 9), (10, 12), (16, 16)):
        prepared = client.prepare(
            "generate",
            "x",
            model=FLARE,
            quality="high",
            output_format="gif",
            frame_count=frames,
            size="512x512",
        )
        assert prepared.estimate.usd == pytest.approx(per_1024 * cells / 4, abs=1e-4)
        assert f"sheet of {cells}" in prepared.estimate.detail
    still = client.prepare("generate", "x", model=FLARE, quality="high", size="1024x1024")
    assert still.estimate.usd == pytest.approx(per_1024, abs=1e-4)


# --- the real offline engine ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_the_engine_makes_the_gif_the_client_asked_for(offline_engine, tmp_path, kind) -> None:
    kwargs = dict(api_key=offline_engine.token, base_url=offline_engine.base_url, model=FLARE, store=tmp_path)
    call = dict(output_format="gif", frame_count=6, frame_duration_ms=120, size="512x512", quality="low")
    if kind == "sync":
        with ImagesClient(**kwargs) as client:
            result = client.generate("a lighthouse in a storm", **call)
    else:

        async def main():
            async with AsyncImagesClient(**kwargs) as client:
                return await client.generate("a lighthouse in a storm", **call)

        import asyncio

        result = asyncio.run(main())
    gif, frames = _frames(result[0].path.read_bytes())
    assert gif.n_frames == 6 and gif.info["duration"] == 120 and gif.size == (512, 512)
    assert np.abs(frames[3] - frames[0]).mean() > 2  # it moves
    usage = result[0].info["usage"]
    assert usage["output_tokens"] == round(lookup(FLARE).prices.output_tokens["low"] * 8 / 4)  # 8 cells
    assert result.cost_usd == pytest.approx(
        (usage["input_tokens"] * 5 + usage["output_tokens"] * 30) / 1e6, rel=1e-6
    )


def test_the_engine_applies_the_clients_gif_rule(offline_engine) -> None:
    headers = {"Authorization": f"Bearer {offline_engine.token}"}
    rule = lookup(FLARE).gif_rule
    with httpx.Client(base_url=offline_engine.base_url, headers=headers, timeout=120) as http:

        def answer(**fields):
            body = {"model": FLARE, "prompt": "x", "output_format": "gif", "quality": "low", **fields}
            return http.post("/images/generations", json=body)

        for frames, size in ((6, "1024x1024"), (12, "960x960"), (16, "1280x720"), (4, "256x256")):
            problem = rule.problem(size, frames)
            assert problem is not None
            refused = answer(frame_count=frames, size=size)
            assert refused.status_code == 400 and problem in refused.json()["error"]["message"]
            assert rule.largest(frames, size) in refused.json()["error"]["message"]
        assert answer(frame_count=2, size="512x512").status_code == 200  # refused by the old still-image rule
        png = io.BytesIO()
        Image.new("RGB", (512, 512)).save(png, "PNG")
        edit = http.post(
            "/images/edits",
            data={"model": FLARE, "prompt": "x", "output_format": "gif"},
            files={"image": ("a.png", png.getvalue(), "image/png")},
        )
        assert edit.status_code == 400 and edit.json()["error"]["param"] == "output_format"
