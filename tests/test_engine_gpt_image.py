"""The engine's GPT image surface over real sockets: the official ``openai`` SDK and httpx.

Sizes, quality, backgrounds with a real alpha channel, jpeg/webp output, multi-image
edits whose further images show in the result, streamed partial images, ``usage``,
and ``response_format`` refused exactly as OpenAI refuses it.
"""

from __future__ import annotations

import base64
import io
import json

import httpx
import numpy as np
import openai
import pytest
from openai import OpenAI
from PIL import Image

from dalle_widgets.engine.backends.classical.previews import detail, distance
from dalle_widgets.engine.gpt_image import spec_for


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def decode(b64: str) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.load()
    return img


def picture(w: int = 1024, h: int = 1024) -> np.ndarray:
    """Grey ground with a darker band: a plain first image for edits."""
    img = np.full((h, w, 3), 140, np.uint8)
    img[h // 3 : h // 2] = 90
    return img


@pytest.fixture(scope="module")
def sdk(offline_engine) -> OpenAI:
    return OpenAI(api_key=offline_engine.token, base_url=offline_engine.base_url, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def http(offline_engine):
    headers = {"Authorization": f"Bearer {offline_engine.token}"}
    with httpx.Client(base_url=offline_engine.base_url, headers=headers, timeout=120) as client:
        yield client


def test_generate_flexible_size_with_usage_and_echo(sdk: OpenAI) -> None:
    r = sdk.images.generate(model="gpt-image-2", prompt="a calm lake at dusk", size="1536x864", quality="low")
    assert r.size == "1536x864" and r.quality == "low" and r.output_format == "png"
    assert r.background == "opaque"
    img = decode(r.data[0].b64_json)
    assert img.size == (1536, 864) and img.format == "PNG"
    assert r.data[0].url is None
    u = r.usage
    assert u.output_tokens > 0 and u.input_tokens_details.text_tokens > 0
    assert u.total_tokens == u.input_tokens + u.output_tokens
    high = sdk.images.generate(
        model="gpt-image-2", prompt="a calm lake at dusk", size="1536x864", quality="high"
    )
    assert high.usage.output_tokens > 10 * u.output_tokens  # tokens follow quality


def test_response_format_refused_exactly_as_openai(sdk: OpenAI, http: httpx.Client) -> None:
    r = http.post(
        "/images/generations", json={"model": "gpt-image-2", "prompt": "x", "response_format": "url"}
    )
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "message": "Unknown parameter: 'response_format'.",
            "type": "invalid_request_error",
            "param": "response_format",
            "code": "unknown_parameter",
        }
    }
    with pytest.raises(openai.BadRequestError) as info:
        sdk.images.generate(model="gpt-image-2.5-flare", prompt="x", response_format="b64_json")
    assert info.value.code == "unknown_parameter" and info.value.param == "response_format"


@pytest.mark.parametrize(
    ("size", "why"),
    [
        ("1000x1000", "multiples of 16"),
        ("3840x3840", "at most 8,294,400"),
        ("4800x1600", "longest side"),
        ("512x512", "at least 655,360"),
        ("3200x800", "aspect ratio"),
    ],
)
def test_bad_sizes_name_the_nearest_valid_size(http: httpx.Client, size: str, why: str) -> None:
    r = http.post("/images/generations", json={"model": "gpt-image-2", "prompt": "x", "size": size})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["param"] == "size" and why in error["message"]
    nearest = error["message"].split("nearest valid size is '")[1].split("'")[0]
    assert spec_for("gpt-image-2").size_rule.allows(nearest)
    ok = http.post("/images/generations", json={"model": "gpt-image-2", "prompt": "x", "size": nearest})
    assert ok.status_code == 200, ok.text


def test_quality_and_fields_follow_the_model(http: httpx.Client) -> None:
    def gen(**fields):
        return http.post("/images/generations", json={"prompt": "a red sunset", **fields})

    assert gen(model="gpt-image-2", quality="xhigh").json()["error"]["param"] == "quality"
    assert gen(model="gpt-image-2.5-flare", quality="xhigh").json()["quality"] == "xhigh"
    assert gen(model="gpt-image-2.6-sunburst-2026-11-04", quality="max", complexity="low").status_code == 200
    assert gen(model="gpt-image-2", complexity="low").json()["error"]["code"] == "unsupported_parameter"
    assert gen(model="gpt-image-2", moderation="strict").json()["error"]["param"] == "moderation"
    assert (
        gen(model="gpt-image-2", partial_images=4, stream=True).json()["error"]["param"] == "partial_images"
    )
    assert gen(model="gpt-image-2", style="vivid").json()["error"]["code"] == "unknown_parameter"
    assert gen(model="dall-e-2", quality="high").json()["error"]["param"] == "quality"  # dall-e-2 unchanged


def test_transparent_background_has_a_real_alpha_channel(sdk: OpenAI) -> None:
    for fmt in ("png", "webp"):
        r = sdk.images.generate(
            model="gpt-image-2",
            prompt="a yellow sun over mountains",
            background="transparent",
            output_format=fmt,
            extra_body={"seed": 2},
        )
        assert r.background == "transparent"
        img = decode(r.data[0].b64_json)
        assert img.format == fmt.upper() and img.mode == "RGBA"
        alpha = np.asarray(img)[:, :, 3]
        assert alpha[0, 0] == 0 and (alpha == 0).mean() > 0.05 and (alpha == 255).mean() > 0.05


def test_jpeg_and_webp_decode_and_compression_applies(sdk: OpenAI, http: httpx.Client) -> None:
    sizes = {}
    for fmt, compression in (("jpeg", 20), ("jpeg", 90), ("webp", 60)):
        r = sdk.images.generate(
            model="gpt-image-2",
            prompt="snowy mountains over a lake",
            output_format=fmt,
            output_compression=compression,
            extra_body={"seed": 3},
        )
        img = decode(r.data[0].b64_json)
        assert img.format == fmt.upper() and img.size == (1024, 1024) and r.output_format == fmt
        sizes[(fmt, compression)] = len(r.data[0].b64_json)
    assert sizes[("jpeg", 20)] < sizes[("jpeg", 90)]
    bad = http.post(
        "/images/generations",
        json={"model": "gpt-image-2", "prompt": "x", "background": "transparent", "output_format": "jpeg"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "background"
    bad = http.post(
        "/images/generations", json={"model": "gpt-image-2", "prompt": "x", "output_compression": 50}
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "output_compression"


def test_edit_with_a_list_of_images_follows_the_references(sdk: OpenAI) -> None:
    base = picture(1024, 640)  # the smallest GPT image size: edits are the engine's slow part
    mask = np.dstack([base, np.full((640, 1024), 255, np.uint8)])
    mask[500:580, 300:600, 3] = 0  # the area to edit

    def edit(colour: tuple[int, int, int]) -> np.ndarray:
        reference = np.zeros((256, 256, 3), np.uint8)
        reference[:] = colour
        reference[::8] = 255  # some spread, as a real picture has
        r = sdk.images.edit(
            model="gpt-image-2",
            image=[("base.png", png(base), "image/png"), ("ref.png", png(reference), "image/png")],
            mask=("mask.png", png(mask), "image/png"),
            prompt="paint this like the second picture",
            extra_body={"seed": 1},
        )
        assert r.usage.input_tokens_details.image_tokens > 0
        return np.asarray(decode(r.data[0].b64_json).convert("RGB")).astype(int)

    red, blue = edit((220, 30, 30)), edit((30, 30, 220))
    hole = (slice(500, 580), slice(300, 600))
    assert red[hole][..., 0].mean() > red[hole][..., 2].mean() + 40
    assert blue[hole][..., 2].mean() > blue[hole][..., 0].mean() + 40
    keep = (slice(0, 480), slice(None))
    assert np.array_equal(red[keep], base[keep]) and np.array_equal(blue[keep], base[keep])


def test_edit_without_mask_and_mime_and_fidelity_rules(sdk: OpenAI, http: httpx.Client) -> None:
    r = sdk.images.edit(
        model="gpt-image-2",
        image=("a.png", png(picture(1536, 1024)), "image/png"),
        prompt="make it a warm sunset",
        size="auto",
    )
    assert decode(r.data[0].b64_json).size == (1536, 1024) and r.size == "1536x1024"
    files = {"image": ("a.bin", png(picture()), "application/octet-stream")}
    bad = http.post("/images/edits", files=files, data={"model": "gpt-image-2", "prompt": "x"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "unsupported_file_mimetype"
    files = {"image": ("a.png", png(picture()), "image/png")}
    bad = http.post(
        "/images/edits", files=files, data={"model": "gpt-image-2", "prompt": "x", "input_fidelity": "high"}
    )
    assert bad.json()["error"]["param"] == "input_fidelity"
    ok = http.post(
        "/images/edits", files=files, data={"model": "gpt-image-1.5", "prompt": "x", "input_fidelity": "high"}
    )
    assert ok.status_code == 200, ok.text


def test_json_edit_with_data_urls(http: httpx.Client) -> None:
    url = "data:image/png;base64," + base64.b64encode(png(picture())).decode()
    r = http.post(
        "/images/edits",
        json={"model": "gpt-image-2", "prompt": "x", "images": [{"image_url": url}, {"image_url": url}]},
    )
    assert r.status_code == 200, r.text
    assert decode(r.json()["data"][0]["b64_json"]).size == (1024, 1024)


def test_streamed_generation_sends_progressive_partials(sdk: OpenAI) -> None:
    prompt, seed = "a calm lake under snowy mountains", 11
    stream = sdk.images.generate(
        model="gpt-image-2", prompt=prompt, stream=True, partial_images=3, extra_body={"seed": seed}
    )
    events = list(stream)
    kinds = [e.type for e in events]
    assert kinds[-1] == "image_generation.completed"
    partials = [e for e in events if e.type == "image_generation.partial_image"]
    assert [p.partial_image_index for p in partials] == [0, 1, 2]
    final = np.asarray(decode(events[-1].b64_json).convert("RGB"))
    steps = [np.asarray(decode(p.b64_json).convert("RGB")) for p in partials]
    assert all(s.shape == final.shape for s in steps)
    distances = [distance(s, final) for s in steps]
    # coarse to fine: closer at each step, the last close to the final image (measured ~16, ~8, ~1.6)
    assert distances == sorted(distances, reverse=True) and distances[0] > 10 and distances[-1] < 3, distances
    assert detail(steps[0]) < detail(steps[-1])
    assert events[-1].usage.output_tokens > 0
    plain = sdk.images.generate(model="gpt-image-2", prompt=prompt, extra_body={"seed": seed})
    assert np.array_equal(np.asarray(decode(plain.data[0].b64_json)).astype(int), final)


def test_streamed_edit(sdk: OpenAI) -> None:
    rgba = np.dstack([picture(1024, 640), np.full((640, 1024), 255, np.uint8)])
    rgba[300:380, 300:400, 3] = 0
    stream = sdk.images.edit(
        model="gpt-image-2.6-flare",
        image=[("a.png", png(rgba), "image/png"), ("b.png", png(picture(64, 64)), "image/png")],
        prompt="fill the hole",
        stream=True,
        partial_images=2,
        n=2,
    )
    kinds = [e.type for e in stream]
    assert kinds.count("image_edit.completed") == 2
    assert 2 <= kinds.count("image_edit.partial_image") <= 4


def test_dall_e_2_stays_the_default(sdk: OpenAI) -> None:
    r = sdk.images.generate(prompt="a red fox", size="256x256", response_format="b64_json")
    assert decode(r.data[0].b64_json).size == (256, 256) and r.usage is None


class _Failing:
    """A backend that shows one preview, then fails: the stream must end with an error event."""

    name = "failing"

    def generate(self, prompt, *, size, n, seed, on_preview=None):
        if on_preview is not None:
            on_preview(0, 1, 2, np.zeros((size[1], size[0], 3), np.uint8))
        raise RuntimeError("out of paint")


def test_a_failure_mid_stream_is_an_error_event() -> None:
    from starlette.testclient import TestClient

    from dalle_widgets.engine import create_app

    sdk_body = {"model": "gpt-image-2", "prompt": "x", "stream": True, "partial_images": 2}
    with TestClient(create_app(_Failing(), token="t")) as client:
        r = client.post("/v1/images/generations", json=sdk_body, headers={"Authorization": "Bearer t"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [line for line in r.text.splitlines() if line.startswith("event:")]
    assert events == ["event: image_generation.partial_image", "event: error"]
    data = [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]
    assert data[-1] == {
        "error": {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
            "param": None,
            "code": "server_error",
        }
    }


def test_gif_output_on_2_6(sdk: OpenAI, http: httpx.Client) -> None:
    r = sdk.images.generate(
        model="gpt-image-2.6-flare",
        prompt="a city skyline at night",
        output_format="gif",
        frame_count=4,
        frame_duration_ms=123,
        size="512x512",
    )
    gif = decode(r.data[0].b64_json)
    assert (
        gif.format == "GIF" and gif.size == (512, 512) and gif.n_frames == 4 and gif.info["duration"] == 120
    )
    frames = []
    for i in range(4):
        gif.seek(i)
        frames.append(np.asarray(gif.convert("RGB")).astype(int))
    assert np.abs(frames[2] - frames[0]).mean() > 5  # it moves
    sheet = sdk.images.generate(
        model="gpt-image-2.6-flare", prompt="a city skyline at night", size="2048x1024"
    )
    assert r.usage.output_tokens == sheet.usage.output_tokens  # billed as a sheet of 8 cells of 512x512

    def refused(**fields) -> dict:
        body = {"model": "gpt-image-2.6-sunburst", "prompt": "x", "output_format": "gif", **fields}
        answer = http.post("/images/generations", json=body)
        assert answer.status_code == 400
        return answer.json()["error"]

    assert (
        "largest valid frame of that shape for 9 frames is '960x960'" in refused(size="1024x1024")["message"]
    )
    assert refused(stream=True)["param"] == "stream"
    assert refused(frame_count=17)["param"] == "frame_count"
    assert refused(output_format="svg")["param"] == "output_format"
    no_gif = http.post(
        "/images/generations", json={"model": "gpt-image-2.5-flare", "prompt": "x", "output_format": "gif"}
    )
    assert no_gif.json()["error"]["param"] == "output_format"
