"""``protocol="chat"``: image models behind an aggregator's ``/chat/completions``."""

from __future__ import annotations

import base64

import pytest

from dalle_widgets import errors
from dalle_widgets.client._protocols import parse_chat_body
from tests.fixtures.fake_openai import Answer


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def test_generate_over_chat_sends_the_briefs_body(twin, fake_openai) -> None:
    client = twin(protocol="chat", model="openai/dall-e-2")
    result = client.generate("a watercolor fox", size="256x256")
    sent = fake_openai.last
    assert sent.path == "/v1/chat/completions"
    assert sent.json == {
        "model": "openai/dall-e-2",
        "messages": [{"role": "user", "content": "a watercolor fox"}],
        "modalities": ["image", "text"],
    }
    assert len(result) == 1 and result[0].image.size == (256, 256)
    assert result[0].info["protocol"] == "chat"
    assert result[0].info["revised_prompt"] == "Here is your image."
    assert result.cost_usd == pytest.approx(0.016)


def test_n_and_seed_are_sent_over_chat(twin, fake_openai) -> None:
    twin(protocol="chat").generate("a fox", n=2, seed=5, size="256x256")
    assert fake_openai.last.json["n"] == 2 and fake_openai.last.json["seed"] == 5


def test_vary_over_chat_sends_the_image_as_a_data_url(twin, fake_openai) -> None:
    import numpy as np

    client = twin(protocol="chat")
    client.vary(np.full((64, 64, 3), 120, np.uint8), size="256x256")
    content = fake_openai.last.json["messages"][0]["content"]
    assert content[0]["type"] == "text" and "variation" in content[0]["text"]
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")
    prepared = client.prepare("vary", None, np.full((64, 64, 3), 120, np.uint8), size="256x256")
    assert "data:" not in str(prepared.fields) and "<image.png 64x64" in str(prepared.fields)


def test_http_image_links_are_downloaded(twin, fake_openai, fake_cdn) -> None:
    url = fake_cdn.add_file(fake_openai.image_png(256, 256, "x"))
    fake_openai.queue(
        Answer(
            json={
                "choices": [
                    {"message": {"role": "assistant", "content": "", "images": [{"image_url": {"url": url}}]}}
                ]
            }
        )
    )
    result = twin(protocol="chat").generate("a fox", size="256x256")
    assert result[0].image.size == (256, 256)
    assert "authorization" not in fake_cdn.requests[-1].headers


@pytest.mark.parametrize(
    "content",
    [
        "Here you go: ![fox]({url})",
        "{url}",
        "Done. Image at {url} enjoy",
        [{"type": "text", "text": "here"}, {"type": "image_url", "image_url": {"url": "{url}"}}],
    ],
)
def test_images_in_message_content_are_a_fallback(twin, fake_openai, fake_cdn, content) -> None:
    url = fake_cdn.add_file(fake_openai.image_png(256, 256, "y"))
    if isinstance(content, str):
        content = content.format(url=url)
    else:
        content = [{**p, "image_url": {"url": url}} if "image_url" in p else p for p in content]
    fake_openai.queue(Answer(json={"choices": [{"message": {"role": "assistant", "content": content}}]}))
    result = twin(protocol="chat").generate("a fox", size="256x256")
    assert len(result) == 1


def test_data_url_in_content(twin, fake_openai) -> None:
    png = fake_openai.image_png(128, 128, "z")
    fake_openai.queue(Answer(json={"choices": [{"message": {"content": f"Sure! {_data_url(png)}"}}]}))
    assert twin(protocol="chat").generate("a fox", size="256x256")[0].image.size == (128, 128)


def test_200_without_an_image_quotes_the_text(twin, fake_openai) -> None:
    text = "I'm sorry, I can only produce text descriptions of images. " * 5
    fake_openai.queue(Answer(json={"choices": [{"message": {"role": "assistant", "content": text}}]}))
    with pytest.raises(errors.InvalidResponseError) as info:
        twin(protocol="chat").generate("a fox", size="256x256")
    assert "no image" in str(info.value) and "I'm sorry, I can only produce text" in str(info.value)
    assert len(str(info.value)) < 500


@pytest.mark.parametrize(
    "payload, match",
    [
        ({"choices": []}, "no image and no text"),
        ({"object": "x"}, "without 'choices'"),
        ({"error": {"message": "upstream failed"}}, "upstream failed"),
    ],
)
def test_odd_chat_bodies(payload, match) -> None:
    with pytest.raises(errors.InvalidResponseError, match=match):
        parse_chat_body(payload, "host")


def test_several_choices_each_with_images() -> None:
    url = "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode()
    payload = {
        "choices": [
            {"message": {"images": [{"image_url": {"url": url}}]}},
            {"message": {"images": [{"image_url": url}]}},
        ]
    }
    assert [r.data for r in parse_chat_body(payload, "h")] == [b"\x89PNG", b"\x89PNG"]
