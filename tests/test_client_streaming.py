"""Streaming previews: ``stream=True`` returns events read from a real SSE stream, sync and async."""

from __future__ import annotations

import numpy as np
import pytest

from dalle_widgets import errors
from dalle_widgets.client import AsyncImageStream, ImageStream
from dalle_widgets.store import open_image
from tests.fixtures.fake_openai import Answer, stream_error


def drain(client, stream) -> list:
    """All the events of a stream, for either twin."""
    if client.is_async:
        assert isinstance(stream, AsyncImageStream)

        async def read() -> list:
            return [event async for event in stream]

        return client.loop.run_until_complete(read())
    assert isinstance(stream, ImageStream)
    return list(stream)


def test_previews_then_the_final_image_which_alone_is_stored(twin, fake_openai) -> None:
    client = twin(model="gpt-image-2")
    stream = client.generate("a lighthouse", stream=True, partial_images=2, quality="low")
    assert fake_openai.api_requests() == []  # nothing is sent before the stream is read
    events = drain(client, stream)
    assert [(e.type, e.index, e.partial_index) for e in events] == [
        ("partial", 0, 0),
        ("partial", 0, 1),
        ("completed", 0, None),
    ]
    sent = fake_openai.last.json
    assert sent["stream"] is True and sent["partial_images"] == 2 and sent["quality"] == "low"
    assert fake_openai.last.headers["accept"] == "text/event-stream"
    final = events[-1].result
    assert final.path is not None and list(client.store) == [final.path]  # previews never stored
    assert open_image(final.path).info["usage"]["output_tokens"] > 0
    assert final.info["streamed"] is True
    # previews differ from the final image (the fake fades them towards grey)
    assert not np.array_equal(np.asarray(events[0].image), np.asarray(events[-1].image))
    assert events[0].image.size == final.size == (1024, 1024)
    assert stream.result is not None and stream.result[0] == final and stream.result.operation == "generate"
    from dalle_widgets.pricing import cost_from_usage

    assert stream.result.cost_usd == cost_from_usage("gpt-image-2", events[-1].usage) > 0  # billed from usage
    assert final.info["cost_basis"] == "usage"


def test_edit_streams_image_edit_events_as_a_form_field(twin, fake_openai) -> None:
    client = twin(model="gpt-image-2")
    rgb = np.full((64, 96, 3), 200, np.uint8)
    events = drain(client, client.edit(rgb, "night", stream=True, partial_images=1, size="1024x1024"))
    assert [e.type for e in events] == ["partial", "completed"]
    form = fake_openai.last.form
    assert form["stream"] == "true" and form["partial_images"] == "1"
    assert events[-1].result.info["operation"] == "edit"


def test_several_images_each_complete_in_turn(twin, fake_openai) -> None:
    client = twin(model="gpt-image-2")
    events = drain(client, client.generate("a fox", n=2, stream=True, partial_images=1))
    assert [(e.type, e.index) for e in events] == [
        ("partial", 0),
        ("completed", 0),
        ("partial", 1),
        ("completed", 1),
    ]
    assert [im.info["n_index"] for im in (events[1].result, events[3].result)] == [0, 1]


def test_an_error_event_raises_from_the_error_tree(twin, fake_openai) -> None:
    client = twin(model="gpt-image-2")
    fake_openai.queue(stream_error())
    with pytest.raises(errors.ServerError, match="The server had an error"):
        drain(client, client.generate("a fox", stream=True))
    fake_openai.queue(
        stream_error(
            "Your request was rejected by the safety system.",
            code="moderation_blocked",
            type="image_generation_user_error",
        )
    )
    with pytest.raises(errors.ContentPolicyError):
        drain(client, client.generate("a fox", stream=True))
    assert list(client.store) == []


def test_a_cut_stream_says_so_and_keeps_what_finished(twin, fake_openai) -> None:
    client = twin(model="gpt-image-2")
    fake_openai.queue(Answer(cut_after=3))  # image 0: preview + final, image 1: preview, then cut
    with pytest.raises(errors.InvalidResponseError) as info:
        drain(client, client.generate("a fox", n=2, stream=True, partial_images=1, cache="off"))
    message = str(info.value)
    assert "the stream was cut after 1 of 2 image(s)" in message
    saved = list(client.store)
    assert len(saved) == 1 and str(saved[0]) in message


def test_an_http_error_before_the_stream_maps_as_usual(twin, fake_openai) -> None:
    from tests.fixtures.fake_openai import error

    client = twin(model="gpt-image-2", max_retries=1)
    fake_openai.queue(error(500, "boom"), error(401, "Incorrect API key provided.", code="invalid_api_key"))
    with pytest.raises(errors.AuthenticationError):
        drain(client, client.generate("a fox", stream=True))
    assert len(client.sleeps) == 1  # the 500 was retried, the 401 was not


def test_a_repeated_stream_replays_from_the_cache(twin, fake_openai) -> None:
    client = twin(model="gpt-image-2")
    first = drain(client, client.generate("a fox", stream=True, partial_images=2))
    again = drain(client, client.generate("a fox", stream=True, partial_images=1))
    assert [e.type for e in again] == ["completed"]
    assert again[0].result.path == first[-1].result.path
    assert len(fake_openai.api_requests()) == 1
    plain = client.generate("a fox")  # the same request unstreamed replays the same images
    assert plain.cached and plain[0].path == first[-1].result.path


def test_send_of_a_streamed_request_returns_the_result(twin, fake_openai) -> None:
    client = twin(model="gpt-image-2")
    prepared = client.prepare("generate", "a fox", stream=True, partial_images=1)
    assert "stream: yes, 1 preview(s) per image" in prepared.describe()
    result = client.send(prepared)
    assert len(result) == 1 and result[0].info["streamed"] is True


def test_a_server_that_ignores_stream_still_gives_the_images(twin, fake_openai) -> None:
    import base64

    client = twin(model="gpt-image-2")
    png = fake_openai.image_png(1024, 1024, "plain")
    fake_openai.queue(Answer(json={"created": 1, "data": [{"b64_json": base64.b64encode(png).decode()}]}))
    events = drain(client, client.generate("a fox", stream=True, partial_images=1))
    assert [e.type for e in events] == ["completed"] and events[0].result.path is not None
