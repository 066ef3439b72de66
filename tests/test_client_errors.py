"""How the client reports what went wrong: every error of the tree, from a real socket."""

from __future__ import annotations

import base64

import pytest

from dalle_widgets import errors
from tests.fixtures.fake_openai import Answer, error, html_page


@pytest.mark.parametrize(
    "answer, exc, fragment",
    [
        (error(400, "'size' is wrong", param="size"), errors.APIError, "'size' is wrong"),
        (
            error(401, "Incorrect API key provided.", code="invalid_api_key"),
            errors.AuthenticationError,
            "Check OPENAI_API_KEY",
        ),
        (
            error(403, "Project does not have access", code="unsupported_country_region_territory"),
            errors.PermissionDeniedError,
            "does not have access",
        ),
        (error(404, "Not here", code="unknown_url"), errors.NotFoundError, "usually ends in /v1"),
        (
            error(
                404,
                "The model `dall-e-2` does not exist or you do not have access to it.",
                code="model_not_found",
            ),
            errors.ModelNotFoundError,
            "was shut down by OpenAI on 2026-05-12",
        ),
        (
            error(
                429, "You exceeded your current quota", code="insufficient_quota", type="insufficient_quota"
            ),
            errors.QuotaExceededError,
            "billing limit",
        ),
        (
            error(
                400,
                "Your request was rejected as a result of our safety system.",
                code="content_policy_violation",
            ),
            errors.ContentPolicyError,
            "safety system",
        ),
        (
            error(400, "blocked", code="moderation_blocked", type="image_generation_user_error"),
            errors.ContentPolicyError,
            "blocked",
        ),
        (error(422, "unprocessable"), errors.APIError, "unprocessable"),
    ],
)
def test_status_errors_map_to_the_tree(twin, fake_openai, answer, exc, fragment) -> None:
    client = twin()
    fake_openai.queue(answer)
    with pytest.raises(exc) as info:
        client.generate("a fox", size="256x256")
    err = info.value
    assert fragment in str(err)
    assert err.status_code == answer.status
    assert err.code == answer.json["error"]["code"]
    assert err.request_id and err.request_id.startswith("req_")
    assert f"HTTP {answer.status}" in str(err)
    assert len(fake_openai.api_requests()) == 1, "4xx errors are never retried"
    assert client.sleeps == []


def test_model_not_found_names_every_alternative(twin, fake_openai) -> None:
    fake_openai.queue(error(404, "The model `dall-e-2` does not exist", code="model_not_found"))
    with pytest.raises(errors.ModelNotFoundError) as info:
        twin().generate("a fox")
    text = str(info.value)
    for alternative in ("gpt-image-2", "OPENAI_BASE_URL", "offline engine", "DALLE_WIDGETS_OFFLINE"):
        assert alternative in text


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": None, "type": "server_error", "param": None, "code": None}},
        {"error": {}},
        {"error": "just a string"},
        {"detail": "fastapi style"},
    ],
)
def test_lenient_about_odd_error_envelopes(twin, fake_openai, body) -> None:
    fake_openai.queue(Answer(400, json=body))
    with pytest.raises(errors.APIError) as info:
        twin().generate("a fox", size="256x256")
    assert info.value.status_code == 400 and str(info.value)


def test_plain_text_429_from_a_proxy(twin, fake_openai) -> None:
    fake_openai.queue(*[Answer(429, body=b"error code: 1015", content_type="text/plain")] * 3)
    client = twin()
    with pytest.raises(errors.RateLimitError) as info:
        client.generate("a fox", size="256x256")
    assert "error code: 1015" in str(info.value)
    assert len(client.sleeps) == 2


def test_html_error_page_is_named(twin, fake_openai) -> None:
    fake_openai.queue(*[html_page(502, "502 Bad Gateway")] * 3)
    with pytest.raises(errors.ServerError) as info:
        twin().generate("a fox", size="256x256")
    assert "HTML page" in str(info.value) and "502 Bad Gateway" in str(info.value)


def test_html_page_with_200_is_an_invalid_response(twin, fake_openai) -> None:
    fake_openai.queue(html_page(200))
    with pytest.raises(errors.InvalidResponseError, match=r"HTML page \(title 'Welcome to nginx!'\)"):
        twin().generate("a fox", size="256x256")
    assert len(fake_openai.api_requests()) == 1, "a 200 may have been billed: never retried"


def test_truncated_json_body(twin, fake_openai) -> None:
    fake_openai.queue(Answer(body=b'{"created": 1, "data": [{"b64_json": "iVBORw0KGgo'))
    with pytest.raises(errors.InvalidResponseError, match="truncated body that is not valid JSON"):
        twin().generate("a fox", size="256x256")


def test_connection_closed_mid_body_is_truncated_and_retried(twin, fake_openai) -> None:
    fake_openai.queue(*[Answer(truncate_to=40)] * 3)
    client = twin()
    with pytest.raises(errors.InvalidResponseError, match="truncated"):
        client.generate("a fox", size="256x256")
    assert len(fake_openai.api_requests()) == 3 and len(client.sleeps) == 2


def test_truncated_then_complete_succeeds(twin, fake_openai) -> None:
    fake_openai.queue(Answer(truncate_to=40))
    result = twin().generate("a fox", size="256x256")
    assert len(result) == 1 and len(fake_openai.api_requests()) == 2


def test_bad_base64(twin, fake_openai) -> None:
    fake_openai.queue(Answer(json={"created": 1, "data": [{"b64_json": "not base64 at all!!"}]}))
    with pytest.raises(errors.InvalidResponseError, match=r"data\[0\].b64_json is not valid base64"):
        twin().generate("a fox", size="256x256")


def test_not_an_image(twin, fake_openai) -> None:
    fake_openai.queue(
        Answer(json={"created": 1, "data": [{"b64_json": base64.b64encode(b"hello").decode()}]})
    )
    with pytest.raises(errors.InvalidResponseError, match="image 0 is not a valid image"):
        twin().generate("a fox", size="256x256")


def test_truncated_png(twin, fake_openai) -> None:
    png = fake_openai.image_png(256, 256, "t")[:-40]
    fake_openai.queue(Answer(json={"created": 1, "data": [{"b64_json": base64.b64encode(png).decode()}]}))
    with pytest.raises(errors.InvalidResponseError, match="not a valid image"):
        twin().generate("a fox", size="256x256")


@pytest.mark.parametrize(
    "body, match",
    [
        ({"created": 1, "data": []}, "no images"),
        ({"created": 1}, "no images"),
        ({"created": 1, "data": [{"foo": 1}]}, "neither 'b64_json' nor 'url'"),
        ([1, 2], "not an object"),
    ],
)
def test_no_images(twin, fake_openai, body, match) -> None:
    fake_openai.queue(Answer(json=body))
    with pytest.raises(errors.InvalidResponseError, match=match):
        twin().generate("a fox", size="256x256")


def test_slow_answer_times_out(twin, fake_openai) -> None:
    fake_openai.queue(*[Answer(delay=1.0)] * 3)
    client = twin(timeout=0.2, max_retries=1)
    with pytest.raises(errors.APITimeoutError, match="no answer within the timeout"):
        client.generate("a fox", size="256x256")
    assert isinstance(errors.APITimeoutError("x"), errors.APIConnectionError)
    assert len(client.sleeps) == 1


def test_nothing_listening_is_a_connection_error(twin) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = twin(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)
    with pytest.raises(errors.APIConnectionError, match="could not reach") as info:
        client.generate("a fox", size="256x256")
    assert not isinstance(info.value, errors.APITimeoutError)
    assert len(client.sleeps) == 1


def test_expired_image_url(twin, fake_openai) -> None:
    fake_openai.queue(
        Answer(json={"created": 1, "data": [{"url": f"{fake_openai.origin}/files/gone.png?sig=X"}]})
    )
    with pytest.raises(errors.PermissionDeniedError) as info:
        twin().generate("a fox", size="256x256", response_format="url")
    assert "image 0 download" in str(info.value)


def test_one_bad_image_does_not_cost_the_good_ones(twin, fake_openai, isolated_env) -> None:
    good = base64.b64encode(fake_openai.image_png(256, 256, "g")).decode()
    fake_openai.queue(
        Answer(json={"created": 1, "data": [{"b64_json": good}, {"b64_json": "%%%"}, {"b64_json": good}]})
    )
    with pytest.raises(errors.PartialResultError) as info:
        twin().generate("a fox", n=3, size="256x256")
    assert "data[1].b64_json is not valid base64" in str(info.value)
    assert "2 of 3 images of this answer were stored" in str(info.value)
    assert len(list((isolated_env / "images").rglob("*.png"))) == 2
    assert [im.info["n_index"] for im in info.value.result] == [0, 2]
    assert [i for i, _ in info.value.failures] == [1]


# --- one error mapping for both send loops --------------------------------------------------------------


def test_the_send_loops_leave_error_mapping_and_retries_to_the_base() -> None:
    """The twins differ only in how they wait; what an httpx failure means and when to retry: the base's."""
    import ast
    import inspect

    from dalle_widgets.client import _async, _sync

    mapping = {"APITimeoutError", "APIConnectionError", "InvalidResponseError", "TimeoutException"}
    mapping |= {"retry_wait", "redact"}
    for twin in (_sync, _async):
        tree = ast.parse(inspect.getsource(twin))
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        used |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        used |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        assert used & mapping == set(), f"{twin.__name__} maps errors itself"


def test_transport_errors_are_mapped_once_with_the_key_redacted() -> None:
    import httpx

    from dalle_widgets.client import ImagesClient

    key = "sk-test-transport-0123456789"
    with ImagesClient(api_key=key, base_url="http://127.0.0.1:9/v1") as client:
        url = "http://127.0.0.1:9/v1/images/generations"
        timeout = client._transport_error(httpx.ReadTimeout("timed out"), url, "generate")
        assert isinstance(timeout, errors.APITimeoutError)
        assert str(timeout).startswith("generate: no answer within the timeout (ReadTimeout)")
        cut = httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        assert isinstance(client._transport_error(cut, url, "generate"), errors.InvalidResponseError)
        refused = client._transport_error(httpx.ConnectError(f"refused for {key}"), url, "generate")
        assert type(refused) is errors.APIConnectionError and key not in str(refused)
        assert str(refused).startswith("generate: could not reach http://127.0.0.1:9/v1/images/generations")
