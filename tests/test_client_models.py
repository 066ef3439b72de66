"""The client and the model table: default model per endpoint, lifecycle, Azure, the current errors."""

from __future__ import annotations

import datetime as dt
import logging

import httpx
import pytest

from dalle_widgets import errors, models
from dalle_widgets.client import ImagesClient
from tests.fixtures.fake_openai import (
    FAKE_KEY,
    error,
    moderation_blocked,
    retired,
    verification_required,
)

OPENAI = "https://api.openai.com/v1"


@pytest.fixture
def clean_registry():
    saved = (dict(models.MODELS), dict(models._REGISTERED), dict(models._REGISTERED_RAW))
    yield
    for target, before in zip(
        (models.MODELS, models._REGISTERED, models._REGISTERED_RAW), saved, strict=True
    ):
        target.clear()
        target.update(before)


# --- default model per endpoint ------------------------------------------------------------------


def test_the_default_model_depends_on_the_endpoint(fake_openai, monkeypatch) -> None:
    with ImagesClient(api_key=FAKE_KEY, base_url=OPENAI) as openai:
        assert (openai.model, openai.endpoint_kind) == ("gpt-image-2", "openai")
        assert openai.prepare("generate", "a fox").model == "gpt-image-2"
    with ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url) as other:
        assert (other.model, other.endpoint_kind) == ("dall-e-2", "compatible")
    with ImagesClient(
        api_key=FAKE_KEY, azure_endpoint=fake_openai.origin, api_version="2025-04-01-preview"
    ) as az:
        assert (az.model, az.endpoint_kind) == ("gpt-image-2", "azure")
    monkeypatch.setenv("DALLE_WIDGETS_MODEL", "gpt-image-2.5-flare")
    with ImagesClient(api_key=FAKE_KEY, base_url=OPENAI) as chosen:
        assert chosen.model == "gpt-image-2.5-flare"


def test_a_users_table_changes_the_default(isolated_env) -> None:
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "models.toml").write_text('[endpoints]\nopenai = "gpt-image-2.6-flare"\n')
    with ImagesClient(api_key=FAKE_KEY, base_url=OPENAI) as client:
        assert client.model == "gpt-image-2.6-flare"


# --- lifecycle -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "date", "instead"),
    [
        ("dall-e-2", "2026-05-12", "gpt-image-2"),
        ("gpt-image-1", "2026-10-23", "gpt-image-2.5-sunburst or gpt-image-2.5-flare"),
        ("gpt-image-1.5-2025-12-16", "2026-12-01", "gpt-image-2.6-flare or gpt-image-2.6-sunburst"),
    ],
)
def test_openai_refuses_a_shut_down_model_before_sending(model, date, instead) -> None:
    with ImagesClient(api_key=FAKE_KEY, base_url=OPENAI, max_retries=0) as client:
        with pytest.raises(errors.ModelNotFoundError) as info:
            client.prepare("generate", "a fox", model=model)
    text = str(info.value)
    assert f"was shut down by OpenAI on {date}" in text and f"use {instead}" in text
    assert "offline engine" in text and FAKE_KEY not in text


def test_other_endpoints_keep_serving_retired_models(twin, fake_openai) -> None:
    result = twin().generate("a fox", model="dall-e-2", size="256x256")
    assert len(result) == 1 and fake_openai.last.params["model"] == "dall-e-2"


def test_the_endpoints_shutdown_date_is_read_and_warned_about(twin, fake_openai, caplog) -> None:
    caplog.set_level(logging.WARNING, "dalle_widgets")
    client = twin()
    assert client.models().shutdown_dates["gpt-image-1.5"] == dt.date(2026, 12, 1)
    client.generate("a fox", model="gpt-image-1.5", size="1024x1024")  # the endpoint still answers
    assert "gpt-image-1.5 was shut down on 2026-12-01; use gpt-image-2.6-flare" in caplog.text


@pytest.mark.usefixtures("clean_registry")
def test_a_model_near_its_shutdown_is_warned_about(caplog) -> None:
    caplog.set_level(logging.WARNING, "dalle_widgets")
    soon = dt.date.today() + dt.timedelta(days=12)
    models.register("gpt-image-soon", like="gpt-image-2", shutdown_date=soon, replacements=["gpt-image-2"])
    with ImagesClient(api_key=FAKE_KEY, base_url=OPENAI) as client:
        client.prepare("generate", "a fox", model="gpt-image-soon")
    assert f"gpt-image-soon shuts down on {soon.isoformat()} (in 12 days); use gpt-image-2" in caplog.text


# --- GPT image models against the fake ----------------------------------------------------------


def test_the_fake_refuses_response_format_for_gpt_image_models(fake_openai) -> None:
    answer = httpx.post(
        fake_openai.base_url + "/images/generations",
        json={"model": "gpt-image-2", "prompt": "a fox", "response_format": "url"},
        headers={"Authorization": f"Bearer {FAKE_KEY}"},
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "error": {
            "message": "Unknown parameter: 'response_format'.",
            "type": "invalid_request_error",
            "param": "response_format",
            "code": "unknown_parameter",
        }
    }


def test_an_unknown_gpt_image_id_follows_the_family(twin, fake_openai) -> None:
    result = twin().generate("a fox", model="gpt-image-9", size="1536x864")
    sent = fake_openai.last.params
    assert "response_format" not in sent and sent["size"] == "1536x864"
    assert result[0].size == (1536, 864)


def test_unknown_parameter_names_the_parameter_and_the_model(twin, fake_openai) -> None:
    fake_openai.queue(error(400, "Unknown parameter: 'response_format'.", code="unknown_parameter"))
    with pytest.raises(errors.APIError) as info:
        twin().generate("a fox", model="relay-image-x")
    text = str(info.value)
    assert "does not accept the parameter 'response_format' for relay-image-x" in text
    assert "register('relay-image-x', family='gpt-image')" in text


def test_moderation_blocked_names_the_categories(twin, fake_openai) -> None:
    fake_openai.queue(moderation_blocked("sexual", "violence"))
    with pytest.raises(errors.ContentPolicyError) as info:
        twin().generate("a fox", model="gpt-image-2")
    text = str(info.value)
    assert "Categories: sexual, violence. The generated image was blocked." in text
    assert "moderation='low'" in text and info.value.code == "moderation_blocked"


def test_an_image_user_error_is_not_a_policy_error(twin, fake_openai) -> None:
    fake_openai.queue(
        error(
            400,
            "Invalid image file or mode for image 1, please check your image file.",
            code="invalid_image_file",
            type="image_generation_user_error",
        )
    )
    with pytest.raises(errors.APIError) as info:
        twin().generate("a fox", model="gpt-image-2")
    assert not isinstance(info.value, errors.ContentPolicyError)
    assert "could not read the image" in str(info.value) and "png, jpeg, webp" in str(info.value)


def test_unsupported_mimetype_says_what_to_send(twin, fake_openai) -> None:
    fake_openai.queue(
        error(
            400,
            "Invalid file 'image': unsupported mimetype ('application/octet-stream').",
            code="unsupported_file_mimetype",
            param="image",
        )
    )
    with pytest.raises(errors.APIError, match="image/png, image/jpeg or image/webp"):
        twin().generate("a fox", model="gpt-image-2")


def test_verification_gives_the_link_and_the_delay(twin, fake_openai) -> None:
    fake_openai.queue(verification_required("gpt-image-2"))
    with pytest.raises(errors.PermissionDeniedError) as info:
        twin().generate("a fox", model="gpt-image-2")
    text = str(info.value)
    assert "https://platform.openai.com/settings/organization/general" in text
    assert "up to 15 minutes" in text and "to use gpt-image-2" in text


def test_a_retired_models_not_found_names_the_date_and_replacements(twin, fake_openai) -> None:
    fake_openai.queue(retired("gpt-image-1"))
    with pytest.raises(errors.ModelNotFoundError) as info:
        twin().generate("a fox", model="gpt-image-1")
    text = str(info.value)
    assert "shut down by OpenAI on 2026-10-23" in text and "gpt-image-2.5-sunburst" in text


def test_a_live_models_not_found_points_at_the_list(twin, fake_openai) -> None:
    fake_openai.queue(retired("gpt-image-2"))
    with pytest.raises(errors.ModelNotFoundError, match=r"was not found .* client.models\(\)"):
        twin().generate("a fox", model="gpt-image-2")


# --- Azure OpenAI -----------------------------------------------------------------------------


def test_azure_sends_to_the_deployment_with_an_api_key_header(twin, fake_openai) -> None:
    client = twin(base_url=None, azure_endpoint=fake_openai.origin + "/", api_version="2025-04-01-preview")
    result = client.generate("a fox", model="my-gpt-image", size="1024x1024")
    sent = fake_openai.last
    assert sent.path == "/openai/deployments/my-gpt-image/images/generations"
    assert sent.query == {"api-version": ["2025-04-01-preview"]}
    assert sent.headers["api-key"] == FAKE_KEY and "authorization" not in sent.headers
    assert len(result) == 1 and "azure=True" in repr(client.client) and FAKE_KEY not in repr(client.client)


def test_azures_v1_api_takes_the_deployment_in_the_body(twin, fake_openai) -> None:
    client = twin(base_url=None, azure_endpoint=fake_openai.origin + "/openai/v1")
    client.generate("a fox", model="my-gpt-image", size="1024x1024")
    sent = fake_openai.last
    assert (sent.path, sent.query, sent.params["model"]) == (
        "/openai/v1/images/generations",
        {},
        "my-gpt-image",
    )
    assert sent.headers["api-key"] == FAKE_KEY and "authorization" not in sent.headers


def test_azure_reads_the_sdks_environment(monkeypatch, fake_openai) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake_openai.origin)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OPENAI_API_VERSION", "2025-04-01-preview")
    with ImagesClient() as client:
        ids = client.models()
        client.generate("a fox", model="gpt-image-2")
    assert "gpt-image-2" in ids
    assert fake_openai.last.path == "/openai/deployments/gpt-image-2/images/generations"
    assert fake_openai.last.headers["api-key"] == FAKE_KEY


def test_azure_needs_a_version_and_a_key(monkeypatch, fake_openai) -> None:
    with pytest.raises(errors.ConfigurationError, match="OPENAI_API_VERSION"):
        ImagesClient(api_key=FAKE_KEY, azure_endpoint=fake_openai.origin)
    with pytest.raises(errors.ConfigurationError, match="AZURE_OPENAI_API_KEY"):
        ImagesClient(azure_endpoint=fake_openai.origin, api_version="2025-04-01-preview")
    with pytest.raises(errors.ConfigurationError, match="not both"):
        ImagesClient(base_url=fake_openai.base_url, azure_endpoint=fake_openai.origin)


# --- aggregators over chat --------------------------------------------------------------------


def test_chat_passes_image_config(twin, fake_openai) -> None:
    client = twin(protocol="chat")
    client.generate(
        "a fox",
        model="google/gemini-image",
        size="1536x1024",
        extra_body={"image_config": {"image_size": "2K"}},
    )
    body = fake_openai.last.json
    assert body["image_config"] == {"aspect_ratio": "3:2", "image_size": "2K"}
    with pytest.raises(errors.InvalidRequestError, match="image_config="):
        client.prepare("generate", "a fox", model="google/gemini-image", extra_body={"image_config": "16:9"})
