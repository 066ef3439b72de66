"""Retries: what is retried, how long it waits, and that it is bounded and logged."""

from __future__ import annotations

import email.utils
import time

import numpy as np
import pytest

from dalle_widgets import errors
from dalle_widgets.client._responses import backoff_delay, retry_after_seconds, retry_wait
from tests.fixtures.fake_openai import error


def test_429_with_retry_after_is_honoured_exactly(twin, fake_openai, caplog) -> None:
    fake_openai.queue(
        error(
            429,
            "Rate limit reached for images per minute",
            code="rate_limit_exceeded",
            headers={"retry-after": "2"},
        )
    )
    client = twin()
    with caplog.at_level("WARNING", logger="dalle_widgets"):
        result = client.generate("a fox", size="256x256")
    assert len(result) == 1
    assert client.sleeps == [2.0]
    assert len(fake_openai.api_requests()) == 2
    assert "HTTP 429 rate_limit_exceeded" in caplog.text and "retry 1 of 2 in 2.00 s" in caplog.text


def test_retry_after_ms_wins(twin, fake_openai) -> None:
    fake_openai.queue(error(429, "slow down", headers={"retry-after-ms": "150", "retry-after": "9"}))
    client = twin()
    client.generate("a fox", size="256x256")
    assert client.sleeps == [0.15]


def test_retry_after_http_date(twin, fake_openai) -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    fake_openai.queue(error(503, "overloaded", code="server_is_overloaded", headers={"retry-after": when}))
    client = twin()
    client.generate("a fox", size="256x256")
    assert len(client.sleeps) == 1 and 2.0 < client.sleeps[0] <= 5.0


def test_500_then_success(twin, fake_openai) -> None:
    fake_openai.queue(error(500, "The server had an error", type="server_error"))
    client = twin()
    result = client.generate("a fox", size="256x256")
    assert len(result) == 1 and len(client.sleeps) == 1
    assert 0.375 <= client.sleeps[0] <= 0.5


def test_gives_up_after_max_retries(twin, fake_openai) -> None:
    fake_openai.queue(*[error(500, "still broken", type="server_error")] * 5)
    client = twin(max_retries=3)
    with pytest.raises(errors.ServerError, match="still broken"):
        client.generate("a fox", size="256x256")
    assert len(fake_openai.api_requests()) == 4
    assert len(client.sleeps) == 3
    assert (
        0.375 <= client.sleeps[0] <= 0.5 and 0.75 <= client.sleeps[1] <= 1.0 and 1.5 <= client.sleeps[2] <= 2
    )


def test_max_retries_zero_sends_once(twin, fake_openai) -> None:
    fake_openai.queue(error(503, "busy"))
    client = twin(max_retries=0)
    with pytest.raises(errors.ServerError):
        client.generate("a fox", size="256x256")
    assert len(fake_openai.api_requests()) == 1 and client.sleeps == []


@pytest.mark.parametrize("status", [408, 409])
def test_408_and_409_are_retried(twin, fake_openai, status) -> None:
    fake_openai.queue(error(status, "try again"))
    client = twin()
    assert len(client.generate("a fox", size="256x256")) == 1
    assert len(client.sleeps) == 1


def test_quota_is_never_retried(twin, fake_openai) -> None:
    fake_openai.queue(
        error(429, "You exceeded your current quota", code="insufficient_quota", headers={"retry-after": "1"})
    )
    client = twin()
    with pytest.raises(errors.QuotaExceededError):
        client.generate("a fox", size="256x256")
    assert client.sleeps == [] and len(fake_openai.api_requests()) == 1


def test_a_long_retry_after_fails_at_once_with_the_wait(twin, fake_openai) -> None:
    fake_openai.queue(
        error(429, "Rate limit reached", code="rate_limit_exceeded", headers={"retry-after": "3600"})
    )
    client = twin()
    with pytest.raises(errors.RateLimitError) as info:
        client.generate("a fox", size="256x256")
    assert "asks to wait 3600 s" in str(info.value)
    assert info.value.retry_after == 3600.0
    assert client.sleeps == [] and len(fake_openai.api_requests()) == 1


def test_retried_multipart_upload_resends_every_byte(twin, fake_openai) -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    fake_openai.queue(error(500, "flaky"))
    client = twin()
    client.vary(image, n=1)
    first, second = fake_openai.api_requests()
    assert first.files["image"] == second.files["image"]
    assert len(second.files["image"][2]) > 100_000
    assert first.form == second.form


def test_retry_logs_never_claim_success_twice(twin, fake_openai, caplog) -> None:
    fake_openai.queue(error(502, "bad gateway"), error(502, "bad gateway"))
    client = twin()
    with caplog.at_level("WARNING", logger="dalle_widgets"):
        client.generate("a fox", size="256x256")
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert [r.getMessage().split("retry ")[1][:6] for r in retries] == ["1 of 2", "2 of 2"]


# --- the decision table, pure --------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-3"}, None),
        ({"retry-after-ms": "nan", "retry-after": "4"}, 4.0),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers, expected) -> None:
    assert retry_after_seconds(headers) == expected


def test_backoff_is_capped_and_jittered() -> None:
    assert [backoff_delay(k, rand=lambda: 0.0) for k in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff_delay(0, rand=lambda: 1.0) == 0.375


@pytest.mark.parametrize(
    "error_, retry",
    [
        (errors.ServerError("x", status_code=500), True),
        (errors.ServerError("x", status_code=503), True),
        (errors.RateLimitError("x", status_code=429), True),
        (errors.QuotaExceededError("x", status_code=429, code="insufficient_quota"), False),
        (errors.APIError("x", status_code=400), False),
        (errors.AuthenticationError("x", status_code=401), False),
        (errors.NotFoundError("x", status_code=404), False),
        (errors.APIError("x", status_code=422), False),
        (errors.APIError("x", status_code=409), True),
        (errors.APIConnectionError("x"), True),
        (errors.APITimeoutError("x"), True),
        (errors.InvalidRequestError("x"), False),
    ],
)
def test_retry_table(error_, retry) -> None:
    wait, reason = retry_wait(error_, 0, 2, {})
    assert (wait is not None) == retry, reason
    assert retry_wait(error_, 2, 2, {})[0] is None
