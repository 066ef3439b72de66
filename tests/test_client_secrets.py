"""The API key never leaks: not in a repr, an error, a log record, the cache, or image metadata."""

from __future__ import annotations

import logging
import pickle

import pytest

from dalle_widgets import errors
from dalle_widgets.client import ImagesClient
from tests.fixtures.fake_openai import FAKE_KEY, Answer, error, html_page

SECRET_PART = "FAKEKEY-0123456789abcdefSECRET"


def _all_files_text(root) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_repr_says_set_not_the_key(twin) -> None:
    client = twin()
    text = repr(client.client)
    assert "api_key=<set>" in text and SECRET_PART not in text
    assert SECRET_PART not in repr(client.client._settings)
    prepared = client.prepare("generate", "a fox")
    assert SECRET_PART not in repr(prepared) + prepared.describe()


def test_key_absent_from_debug_logs_of_every_logger(twin, fake_openai, caplog, isolated_env) -> None:
    """At DEBUG, with httpx's and httpcore's own loggers on, through success, retry and failure."""
    fake_openai.queue(error(500, "boom"))
    client = twin()
    with caplog.at_level(logging.DEBUG):
        for name in ("httpx", "httpcore", "dalle_widgets"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        client.generate("a fox", n=2, size="256x256")
        client.generate("a fox", n=1, size="256x256", response_format="url")
        fake_openai.queue(error(401, f"Incorrect API key provided: {FAKE_KEY}", code="invalid_api_key"))
        with pytest.raises(errors.AuthenticationError):
            client.generate("a cat", size="256x256")
    assert caplog.records, "the loggers did log"
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    for record in caplog.records:
        assert SECRET_PART not in record.getMessage(), record.name
        assert SECRET_PART not in repr(record.args)
    assert SECRET_PART not in caplog.text


def test_key_echoed_by_the_server_is_redacted_from_errors(twin, fake_openai) -> None:
    fake_openai.queue(
        error(
            401, f"Incorrect API key provided: {FAKE_KEY}. You can find yours at ...", code="invalid_api_key"
        )
    )
    with pytest.raises(errors.AuthenticationError) as info:
        twin().generate("a fox", size="256x256")
    err = info.value
    assert SECRET_PART not in str(err) and SECRET_PART not in repr(err.args)
    assert SECRET_PART not in repr(err.body)
    assert SECRET_PART not in repr(pickle.loads(pickle.dumps(err)).args)


def test_key_echoed_in_a_plain_text_body_is_redacted(twin, fake_openai) -> None:
    fake_openai.queue(
        Answer(400, body=f"bad header Authorization: Bearer {FAKE_KEY}".encode(), content_type="text/plain")
    )
    with pytest.raises(errors.APIError) as info:
        twin().generate("a fox", size="256x256")
    assert SECRET_PART not in str(info.value) and SECRET_PART not in repr(info.value.body)


def test_key_never_in_store_or_cache_files(twin, fake_openai, isolated_env) -> None:
    client = twin()
    result = client.generate("a fox", n=2, size="256x256")
    client.generate("a fox", n=2, size="256x256")  # cache replay
    client.vary(result[0], n=1)
    files = list(isolated_env.rglob("*"))
    assert any(p.suffix == ".json" for p in files) and any(p.suffix == ".png" for p in files)
    assert SECRET_PART.encode() not in _all_files_text(isolated_env)
    assert "Bearer" not in str(result[0].info)


def test_credentials_go_only_to_the_api_host(twin, fake_openai, fake_cdn) -> None:
    fake_openai.url_host = fake_cdn
    result = twin().generate("a fox", n=2, size="256x256", response_format="url")
    assert len(result) == 2
    downloads = [r for r in fake_cdn.requests if r.path.startswith("/files/")]
    assert len(downloads) == 2
    for r in downloads:
        assert "authorization" not in r.headers
        assert "openai-organization" not in r.headers
    assert fake_openai.last.headers["authorization"] == f"Bearer {FAKE_KEY}"


def test_credential_query_strings_are_redacted_in_errors(twin, fake_openai, fake_cdn) -> None:
    url = f"{fake_cdn.origin}/files/expired.png?st=2026&se=2026&sig=SAS-SIGNATURE-XYZ"
    fake_openai.queue(Answer(json={"created": 1, "data": [{"url": url}]}))
    fake_cdn.stop()  # nothing listens there any more: a connection error quoting the URL
    try:
        with pytest.raises(errors.APIConnectionError) as info:
            twin(max_retries=0).generate("a fox", size="256x256", response_format="url")
    finally:
        fake_cdn.start(int(url.split(":")[2].split("/")[0]))
    assert "SAS-SIGNATURE-XYZ" not in str(info.value)
    assert "sig=***" in str(info.value)


def test_html_error_pages_quote_no_key(twin, fake_openai) -> None:
    fake_openai.queue(html_page(403, f"Forbidden for {FAKE_KEY}"))
    with pytest.raises(errors.PermissionDeniedError) as info:
        twin().generate("a fox", size="256x256")
    assert SECRET_PART not in str(info.value)


def test_engine_token_is_not_shown_either(fake_openai) -> None:
    client = ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url)
    assert SECRET_PART not in repr(client) + str(vars(client))
    client.close()
