"""Hostile answers to the client, sync and async twins alike: nothing paid for is lost, nothing
outside the error tree escapes, nothing grows without bound, nothing runs past its deadline.

Every server is on 127.0.0.1 (the fault-injecting fake of tests/fixtures/fake_openai.py); every
probe is small and bounded in time (the slow ones stop dripping after a few seconds).
"""

from __future__ import annotations

import base64
import json
import tracemalloc
from pathlib import Path

import pytest

from dalle_widgets import errors
from dalle_widgets.store import open_image
from tests.fixtures.fake_openai import Answer
from tests.fixtures.hostile import gzip_bomb, nested_json, png_bomb, truncated_pixels


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _good(fake, key: str = "g") -> dict[str, str]:
    return {"b64_json": _b64(fake.image_png(256, 256, key))}


def _stored(home: Path) -> list[Path]:
    return sorted((home / "images").rglob("*.png")) if (home / "images").is_dir() else []


# --- every image on its own; the good ones stored, the bad ones reported together -------------------


def _bad_items(fake) -> dict[str, dict[str, str]]:
    loop = Answer(302, body=b"", content_type="text/plain")
    loop_url = fake.add_file(loop)
    loop.headers["Location"] = loop_url
    return {
        "redirect loop": {"url": loop_url},
        "bad port": {"url": "http://127.0.0.1:99999999/x.png"},
        "tab in host": {"url": "http://127.0.0.1\t/x.png"},
        "png bomb": {"b64_json": _b64(png_bomb())},
        "truncated pixels": {"b64_json": _b64(truncated_pixels(fake.image_png(256, 256, "t")))},
        "gzip bomb download": {
            "url": fake.add_file(Answer(body=gzip_bomb(), headers={"Content-Encoding": "gzip"}))
        },
    }


@pytest.mark.parametrize(
    "bad", ["redirect loop", "bad port", "tab in host", "png bomb", "truncated pixels", "gzip bomb download"]
)
def test_one_bad_image_is_reported_with_the_good_ones_stored(twin, fake_openai, isolated_env, bad) -> None:
    item = _bad_items(fake_openai)[bad]
    fake_openai.queue(
        Answer(json={"created": 1, "data": [_good(fake_openai, "a"), item, _good(fake_openai, "b")]})
    )
    with pytest.raises(errors.PartialResultError) as info:
        twin(max_retries=0).generate("a fox", n=3, size="256x256")
    err = info.value
    assert [im.info["n_index"] for im in err.result] == [0, 2]
    assert all(im.path is not None and im.path.is_file() for im in err.result)
    assert [i for i, _ in err.failures] == [1]
    assert isinstance(err.failures[0][1], errors.DalleWidgetsError)
    assert len(_stored(isolated_env)) == 2
    assert "2 of 3 images of this answer were stored" in str(err)


def test_every_bad_kind_together_in_one_error(twin, fake_openai, isolated_env) -> None:
    bad = list(_bad_items(fake_openai).values())
    fake_openai.queue(Answer(json={"created": 1, "data": [_good(fake_openai), *bad]}))
    with pytest.raises(errors.PartialResultError) as info:
        twin(max_retries=0).generate("a fox", n=7, size="256x256")
    assert len(info.value.result) == 1 and len(info.value.failures) == 6
    assert "and 1 more" in str(info.value)
    assert len(_stored(isolated_env)) == 1


def test_a_truncated_png_alone_is_refused_not_stored(twin, fake_openai, isolated_env) -> None:
    cut = truncated_pixels(fake_openai.image_png(256, 256, "t"))
    fake_openai.queue(Answer(json={"created": 1, "data": [{"b64_json": _b64(cut)}]}))
    with pytest.raises(errors.InvalidResponseError, match="pixel data stops early"):
        twin().generate("a fox", size="256x256")
    assert _stored(isolated_env) == []


# --- nothing outside the error tree, whatever the answer --------------------------------------------


def _hostile_answers(fake) -> list[Answer]:
    png = fake.image_png(256, 256, "x")
    return [
        Answer(body=nested_json(), content_type="application/json"),
        Answer(body=b'{"data": [' + b"[" * 50_000 + b"]" * 50_000 + b"]}"),
        Answer(json={"data": [{"b64_json": _b64(png_bomb())}]}),
        Answer(json={"data": [{"b64_json": _b64(b"GIF89a" + b"\x00" * 40)}]}),
        Answer(json={"data": [{"b64_json": _b64(b"\xff\xd8\xff\xe0" + b"\x00" * 100)}]}),  # a JPEG cut short
        Answer(json={"data": [{"url": "ftp://127.0.0.1/x.png"}]}),
        Answer(json={"data": [{"url": "http://[::1/x.png"}]}),
        Answer(json={"data": [{"url": "http://127.0.0.1:0/x.png"}]}),
        Answer(json={"data": [{"b64_json": 12}, None, {"url": None}]}),
        Answer(json={"data": {"b64_json": "x"}}),
        Answer(json=[1, 2, 3]),
        Answer(body=b'{"data": [{"b64_json": "' + b"\xff\xfe" * 10 + b'"}]}'),
        Answer(body=gzip_bomb(), headers={"Content-Encoding": "gzip"}),
        Answer(body=b"\x1f\x8b\x08\x00garbage", headers={"Content-Encoding": "gzip"}),
        Answer(
            body=json.dumps({"data": [{"b64_json": _b64(png)}]}).encode(), headers={"Content-Encoding": "br"}
        ),
        Answer(500, body=nested_json(), content_type="application/json"),
        Answer(400, body=gzip_bomb(), headers={"Content-Encoding": "gzip"}),
    ]


def test_no_answer_escapes_the_error_tree(twin, fake_openai) -> None:
    answers = _hostile_answers(fake_openai)
    client = twin(max_retries=0)
    for k, answer in enumerate(answers):
        fake_openai.queue(answer)
        try:
            client.generate(f"probe {k}", size="256x256", cache="off")
        except errors.DalleWidgetsError:
            pass
        # anything else (RecursionError, httpx.InvalidURL, DecompressionBombError...) fails the test


def test_a_gzip_bomb_is_refused_without_being_held(twin, fake_openai) -> None:
    fake_openai.queue(Answer(body=gzip_bomb(), headers={"Content-Encoding": "gzip"}))
    client = twin(max_retries=0)
    tracemalloc.start()
    try:
        with pytest.raises(errors.InvalidResponseError, match="larger than"):
            client.generate("a fox", size="256x256")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000_000, f"the client held {peak:,} bytes for a 200 KB answer"


# --- limits on what a server can make the client store ----------------------------------------------


def test_a_thousand_images_for_n_1_store_one(twin, fake_openai, isolated_env, caplog) -> None:
    fake_openai.queue(Answer(json={"created": 1, "data": [_good(fake_openai)] * 1000}))
    result = twin().generate("a fox", size="256x256")
    assert len(result) == 1 and len(_stored(isolated_env)) == 1
    assert "received 1000: keeping the first 1" in caplog.text


def test_a_huge_revised_prompt_leaves_the_stored_image_readable(twin, fake_openai) -> None:
    """12 million characters that JSON escapes to six bytes each: 72 MB of text chunk, unreadable."""
    item = {**_good(fake_openai), "revised_prompt": "\u00e9" * 12_000_000}
    body = json.dumps({"created": 1, "data": [item]}, ensure_ascii=False).encode()  # 24 MB of UTF-8
    fake_openai.queue(Answer(body=body))
    result = twin().generate("a fox", size="1024x1024")
    again = open_image(result[0].path)
    assert again.image.size == (256, 256)
    revised = again.info["revised_prompt"]
    assert revised.startswith("\u00e9" * 100) and "more characters dropped" in revised
    assert len(revised) < 40_000


# --- a total deadline per request -----------------------------------------------------------------


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_drip_fed_answer_stops_at_the_timeout(twin, fake_openai, headers_too) -> None:
    """One byte every 20 ms for up to 6 s: each read is quick, the whole answer is not."""
    body = json.dumps({"created": 1, "data": [_good(fake_openai)]}).encode()
    fake_openai.queue(Answer(body=body, drip=0.02, drip_headers=headers_too, drip_for=6.0))
    with pytest.raises(errors.APITimeoutError, match="1 s for the whole request"):
        twin(timeout=1.0, max_retries=0).generate("a fox", size="256x256")


def test_a_drip_fed_download_stops_at_the_timeout(twin, fake_openai) -> None:
    slow = Answer(
        body=fake_openai.image_png(256, 256, "s"), content_type="image/png", drip=0.02, drip_for=6.0
    )
    fake_openai.queue(Answer(json={"created": 1, "data": [{"url": fake_openai.add_file(slow)}]}))
    with pytest.raises(errors.APITimeoutError, match="image 0 download"):
        twin(timeout=1.0, max_retries=0).generate("a fox", size="256x256", response_format="url")


# --- event streams: the same limits ---------------------------------------------------------------


def _drain(client, stream) -> list:
    if client.is_async:

        async def read() -> list:
            return [event async for event in stream]

        return client.loop.run_until_complete(read())
    return list(stream)


def test_a_slow_event_stream_stops_at_the_timeout(twin, fake_openai) -> None:
    """Each event arrives in time (0.4 s apart); the stream as a whole does not (timeout 1 s)."""
    client = twin(model="gpt-image-2", timeout=1.0, max_retries=0)
    fake_openai.queue(Answer(event_delay=0.4))
    with pytest.raises(errors.InvalidResponseError, match="the stream was cut"):
        _drain(client, client.generate("a fox", stream=True, partial_images=3, size="1024x1024", cache="off"))


def test_an_endless_event_stream_is_cut_at_its_size_limit(twin, fake_openai) -> None:
    from tests.fixtures.fake_openai import sse

    filler = sse("keepalive", {"type": "keepalive", "pad": "x" * 1_000_000})
    fake_openai.queue(Answer(events=[filler] * 80))  # 80 MB of events that are not images
    client = twin(model="gpt-image-2", max_retries=0)
    with pytest.raises(errors.InvalidResponseError, match="larger than"):
        _drain(client, client.generate("a fox", stream=True, size="1024x1024", cache="off"))
