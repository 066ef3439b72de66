"""What the client sends: fields, headers, URLs, configuration, and what it returns."""

from __future__ import annotations

import base64
import datetime as dt
import io

import numpy as np
import pytest
from PIL import Image

from dalle_widgets import errors
from dalle_widgets.client import ImageResult, ImagesClient
from dalle_widgets.store import open_image
from tests.fixtures.fake_openai import FAKE_KEY, Answer


def test_generate_sends_json_and_returns_stored_images(twin, fake_openai, isolated_env) -> None:
    client = twin()
    result = client.generate("a watercolor fox", n=3, size="512x512", user="u-1", seed=7)
    assert isinstance(result, ImageResult) and len(result) == 3
    sent = fake_openai.last
    assert sent.method == "POST" and sent.path == "/v1/images/generations"
    assert sent.headers["content-type"] == "application/json"
    assert sent.json == {
        "model": "dall-e-2",
        "prompt": "a watercolor fox",
        "n": 3,
        "size": "512x512",
        "response_format": "b64_json",
        "user": "u-1",
        "seed": 7,
    }
    assert sent.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert sent.headers["user-agent"].startswith("dalle-widgets/")
    for i, im in enumerate(result):
        assert im.image.size == (512, 512) and im.image.mode == "RGB"
        assert im.to_numpy().shape == (512, 512, 3)
        assert im.path is not None and im.path.is_file() and isinstance(im.path, type(im.path))
        assert str(isolated_env) in str(im.path)
        assert im.info["n_index"] == i and im.info["prompt"] == "a watercolor fox"
        assert im.info["request_id"] == result.request_id and result.request_id.startswith("req_")
        assert im.info["endpoint"] == f"127.0.0.1:{fake_openai.port}"
        assert im.info["seed"] == 7 and im.info["operation"] == "generate"
        # what is on disk is what was returned, provenance included
        back = open_image(im.path)
        assert back.info == im.info
        assert np.array_equal(back.to_numpy(), im.to_numpy())
    assert result.cost_usd == pytest.approx(3 * 0.018)
    assert result.prompt == "a watercolor fox" and result.size == "512x512" and not result.cached


def test_unset_optional_fields_are_not_sent(twin, fake_openai) -> None:
    twin().generate("a fox")
    assert fake_openai.last.json == {
        "model": "dall-e-2",
        "prompt": "a fox",
        "n": 1,
        "size": "1024x1024",
        "response_format": "b64_json",
    }


def test_gpt_image_models_never_get_response_format(twin, fake_openai) -> None:
    twin(model="gpt-image-1").generate("a fox", size="1536x1024")
    assert "response_format" not in fake_openai.last.json
    assert fake_openai.last.json["model"] == "gpt-image-1"


def test_url_responses_are_downloaded(twin, fake_openai) -> None:
    result = twin().generate("a fox", n=2, size="256x256", response_format="url")
    downloads = [r for r in fake_openai.requests if r.path.startswith("/files/")]
    assert len(downloads) == 2
    assert [im.image.size for im in result] == [(256, 256)] * 2
    assert result[0].info["response_format"] == "url"


@pytest.mark.parametrize("base", ["{origin}/v1", "{origin}/v1/", " {origin}/v1// "])
def test_base_url_joining(twin, fake_openai, base) -> None:
    client = twin(base_url=base.format(origin=fake_openai.origin))
    assert client.base_url == f"{fake_openai.origin}/v1"
    client.generate("x", size="256x256")
    assert fake_openai.last.path == "/v1/images/generations"


def test_environment_configuration(monkeypatch, fake_openai) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_ORG_ID", "org-123")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_456")
    monkeypatch.setenv("DALLE_WIDGETS_MODEL", "openai/dall-e-2")
    with ImagesClient() as client:
        assert client.model == "openai/dall-e-2" and not client.is_offline
        client.generate("x", size="256x256")
    sent = fake_openai.last
    assert sent.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert sent.headers["openai-organization"] == "org-123"
    assert sent.headers["openai-project"] == "proj_456"
    assert sent.json["model"] == "openai/dall-e-2"


def test_org_and_project_headers_absent_when_unset(twin, fake_openai) -> None:
    twin().generate("x", size="256x256")
    assert "openai-organization" not in fake_openai.last.headers
    assert "openai-project" not in fake_openai.last.headers


def test_key_without_base_url_targets_openai() -> None:
    with ImagesClient(api_key=FAKE_KEY) as client:
        assert client.base_url == "https://api.openai.com/v1"
        assert client.prepare("generate", "x").url == "https://api.openai.com/v1/images/generations"


def test_base_url_without_key_is_allowed_and_sends_no_auth(fake_openai) -> None:
    fake_openai.api_key = None
    try:
        with ImagesClient(base_url=fake_openai.base_url) as client:
            assert repr(client).endswith("api_key=<not set>)")
            client.generate("x", size="256x256")
        assert "authorization" not in fake_openai.last.headers
    finally:
        fake_openai.api_key = FAKE_KEY


def test_models_lists_ids(twin) -> None:
    ids = twin().models()
    assert ids == ["dall-e-2", "gpt-image-2", "gpt-image-1.5"]
    assert ids.shutdown_dates == {
        "dall-e-2": None,
        "gpt-image-2": None,
        "gpt-image-1.5": dt.date(2026, 12, 1),
    }


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"base_url": "ftp://host/v1"}, "is not an http(s) URL"),
        ({"base_url": "http://user:pw@host/v1"}, "must not contain credentials"),
        ({"protocol": "grpc"}, "protocol='grpc' is not supported"),
        ({"max_retries": -1}, "max_retries=-1"),
        ({"cache": "sometimes"}, "cache='sometimes' is not a cache mode"),
        ({"timeout": -1}, "timeout=-1: pass a number of seconds > 0"),
        ({"timeout": "fast"}, "timeout='fast'"),
    ],
)
def test_bad_configuration_is_refused(kwargs, message) -> None:
    kwargs.setdefault("api_key", FAKE_KEY)
    kwargs.setdefault("base_url", "http://127.0.0.1:9/v1")
    with pytest.raises(errors.ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ImagesClient(**kwargs)


def test_revised_prompt_is_kept(twin, fake_openai) -> None:
    png = fake_openai.image_png(256, 256, "x")
    fake_openai.queue(
        Answer(
            json={
                "created": 1,
                "data": [
                    {
                        "b64_json": base64.b64encode(png).decode(),
                        "revised_prompt": "a fox, watercolor, detailed",
                    }
                ],
            }
        )
    )
    result = twin().generate("a fox", size="256x256")
    assert result[0].info["revised_prompt"] == "a fox, watercolor, detailed"


def test_jpeg_answers_are_stored_as_delivered(twin, fake_openai) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(buf, format="JPEG")
    fake_openai.queue(
        Answer(json={"created": 1, "data": [{"b64_json": base64.b64encode(buf.getvalue()).decode()}]})
    )
    result = twin(model="gpt-image-1").generate("a field")
    stored = result[0].path.read_bytes()
    assert result[0].path.suffix == ".jpg" and stored[:3] == b"\xff\xd8\xff"
    assert stored.endswith(buf.getvalue()[-200:])  # the image data byte for byte
    assert open_image(result[0].path).info["model"] == "gpt-image-1"
    assert result[0].info["size"] == "64x64" and result[0].info["requested_size"] == "1024x1024"


def test_result_reprs_are_small_thumbnails(twin) -> None:
    result = twin().generate("a fox", n=3, size="1024x1024")
    png = result._repr_png_()
    sheet = Image.open(io.BytesIO(png))
    assert max(sheet.size) <= 5 * 128 + 64 and png[:4] == b"\x89PNG"
    html = result._repr_html_()
    assert html.count("<img ") == 3 and len(html) < 60_000
    assert "3 x 1024x1024 generate by dall-e-2" in repr(result)
    assert result[0]._repr_png_()[:4] == b"\x89PNG"
    assert "GeneratedImage 1024x1024 RGB generate by dall-e-2" in repr(result[0])


def test_context_manager_closes_owned_client(fake_openai) -> None:
    with ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url) as client:
        client.generate("x", size="256x256")
    assert client._http.is_closed


def test_given_http_client_is_used_and_left_open(fake_openai) -> None:
    import httpx

    seen = []
    http = httpx.Client(event_hooks={"request": [lambda r: seen.append(r.url.path)]})
    with ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url, http_client=http) as client:
        client.generate("x", size="256x256")
    assert seen == ["/v1/images/generations"] and not http.is_closed
    http.close()


def test_one_sync_client_shared_by_ten_threads(fake_openai) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url) as client:
        with ThreadPoolExecutor(10) as pool:
            results = list(pool.map(lambda i: client.generate(f"fox {i}", size="256x256"), range(30)))
    paths = {r[0].path for r in results}
    assert len(paths) == 30 and all(p.is_file() for p in paths)
    assert sorted(r[0].info["prompt"] for r in results) == sorted(f"fox {i}" for i in range(30))


def test_async_client_at_concurrency_ten(fake_openai) -> None:
    import asyncio

    from dalle_widgets.client import AsyncImagesClient

    async def main():
        async with AsyncImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url) as client:
            return await asyncio.gather(*(client.generate(f"cat {i}", size="256x256") for i in range(30)))

    results = asyncio.run(main())
    assert len({r[0].path for r in results}) == 30
    assert len(fake_openai.api_requests()) == 30


def test_generated_images_are_hashable_and_compare_by_content(twin) -> None:
    result = twin().generate("a fox", n=2, size="256x256")
    again = twin().generate("a fox", n=2, size="256x256")  # a cache replay: same files
    assert result[0] == again[0] and len({*result, *again}) <= 2
