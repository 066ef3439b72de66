"""The model table: shipped data, lifecycle, family fallback, the user's file and ``register``."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from dalle_widgets import models
from dalle_widgets.errors import ConfigurationError

TODAY = dt.date(2026, 12, 5)


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Undo :func:`models.register` calls made by a test."""
    saved = (dict(models.MODELS), dict(models._REGISTERED), dict(models._REGISTERED_RAW))
    yield
    for target, before in zip(
        (models.MODELS, models._REGISTERED, models._REGISTERED_RAW), saved, strict=True
    ):
        target.clear()
        target.update(before)


def test_the_shipped_table_knows_the_live_and_the_retired_models() -> None:
    assert models.live_models(TODAY) == [
        "gpt-image-2.6-flare",
        "gpt-image-2.6-sunburst",
        "gpt-image-2.5-flare",
        "gpt-image-2.5-sunburst",
        "gpt-image-2",
    ]
    retired = {
        "dall-e-2": "2026-05-12",
        "dall-e-3": "2026-05-12",
        "gpt-image-1": "2026-10-23",
        "gpt-image-1-mini": "2026-12-01",
        "gpt-image-1.5": "2026-12-01",
        "chatgpt-image-latest": "2026-12-01",
    }
    for name, date in retired.items():
        spec = models.lookup(name)
        assert spec.status == "shutdown" and spec.shutdown_date == dt.date.fromisoformat(date), name
        assert spec.is_shut_down(TODAY) and spec.lifecycle_source
    assert models.lookup("gpt-image-1.5-2025-12-16").name == "gpt-image-1.5"
    assert models.lookup("gpt-image-2.5-flare-2026-09-08").name == "gpt-image-2.5-flare"


def test_capabilities_follow_the_reference_matrix() -> None:
    two = models.lookup("gpt-image-2")
    assert two.response_formats == ("b64_json",) and not two.supports("vary")
    assert two.qualities == ("low", "medium", "high", "auto") and two.input_fidelity == ()
    assert two.backgrounds_preview == ("transparent",) and two.max_input_images == 16
    assert two.max_upload_bytes == 50_000_000 and two.max_prompt_chars == 32000 and two.streaming
    assert two.size_rule.allows("1536x864") and two.size_rule.allows("2880x2880")
    assert "multiples of 16" in two.size_rule.problem("1000x1000")
    assert "1:3" in two.size_rule.problem("3840x1024")
    assert "at least 655,360" in two.size_rule.problem("512x512")
    flare = models.lookup("gpt-image-2.5-flare")
    assert "xhigh" in flare.qualities and flare.complexities == ()
    six = models.lookup("gpt-image-2.6-sunburst")
    assert {"gif", "svg"} <= set(six.output_formats) and six.complexities == ("low", "medium", "high")
    assert six.default_complexity == "high" and six.gif_frames == (2, 16)
    assert models.lookup("gpt-image-1-mini").input_fidelity == ("low",)
    assert models.lookup("gpt-image-1").size_rule.kind == "fixed"
    dalle = models.lookup("dall-e-2")
    assert dalle.square_inputs and dalle.response_formats == ("url", "b64_json") and dalle.supports("vary")


def test_prices_carry_their_date_and_source() -> None:
    two = models.lookup("gpt-image-2")
    assert [two.price("1024x1024", q) for q in ("low", "medium", "high")] == [0.006, 0.053, 0.211]
    assert two.prices.tokens.image_out == 30.0 and two.prices.tokens.date == dt.date(2026, 4, 21)
    assert two.prices.per_image_source and two.prices.tokens.source
    assert two.price("1024x1024") is None  # quality auto has no published price
    assert models.lookup("dall-e-2").prices_usd == {"256x256": 0.016, "512x512": 0.018, "1024x1024": 0.02}
    for name in models.MODELS:
        prices = models.lookup(name).prices
        assert prices.per_image == {} or prices.per_image_source, name
        assert prices.tokens is None or prices.tokens.source, name


def test_unknown_ids_follow_their_family(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "dalle_widgets")
    future = models.lookup("openai/gpt-image-7")
    assert (future.known, future.family, future.response_formats) == (False, "gpt-image", ("b64_json",))
    assert future.size_rule.kind == "flexible" and future.default_size == "1024x1024"
    assert "gpt-image family's rules" in caplog.text
    assert models.lookup("dall-e-4").size_rule.sizes == ("256x256", "512x512", "1024x1024")
    generic = models.lookup("acme/painter-9")
    assert (generic.family, generic.size_rule.kind, generic.default_size) == ("generic", "any", None)
    assert generic.response_formats == ("url", "b64_json")


def test_replacements_follow_chains_to_live_models() -> None:
    assert models.live_replacements("gpt-image-1", TODAY) == ["gpt-image-2.5-sunburst", "gpt-image-2.5-flare"]
    assert models.live_replacements("gpt-image-1.5", TODAY) == [
        "gpt-image-2.6-flare",
        "gpt-image-2.6-sunburst",
    ]
    assert models.lifecycle_warning("gpt-image-2", TODAY) is None
    assert "was shut down on 2026-05-12; use gpt-image-2" in models.lifecycle_warning("dall-e-2", TODAY)


def test_endpoint_defaults() -> None:
    assert [models.default_model(k) for k in models.ENDPOINT_KINDS] == [
        "gpt-image-2",
        "gpt-image-2",
        "dall-e-2",
        "dall-e-2",
    ]
    with pytest.raises(ValueError, match="not one of"):
        models.default_model("moon")


def test_a_users_file_adds_and_overrides_models(isolated_env: Path) -> None:
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "models.toml").write_text(
        """
[endpoints]
openai = "gpt-image-2.5-flare"

[models.gpt-image-2]
shutdown_date = 2026-12-20
status = "deprecated"
replacements = ["gpt-image-2.6-flare"]

[models.my-deployment]
family = "gpt-image"
max_n = 4
[models.my-deployment.per_image]
date = 2026-12-01
source = "our contract"
high = { "1024x1024" = 0.1 }
""",
        encoding="utf-8",
    )
    assert models.default_model("openai") == "gpt-image-2.5-flare"
    two = models.lookup("gpt-image-2")
    assert two.shutdown_date == dt.date(2026, 12, 20) and two.qualities[0] == "low"  # the rest kept
    assert "shuts down on 2026-12-20 (in 15 days); use gpt-image-2.6-flare" in models.lifecycle_warning(
        "gpt-image-2", TODAY
    )
    assert models.lookup("gpt-image-1").max_n == 10
    mine = models.lookup("my-deployment")
    assert mine.known and mine.max_n == 4 and mine.price("1024x1024", "high") == 0.1
    assert mine.response_formats == ("b64_json",)


def test_a_users_family_rules_reach_every_model_of_the_family(isolated_env: Path) -> None:
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "models.toml").write_text("[families.gpt-image]\nmax_n = 4\n", encoding="utf-8")
    assert models.lookup("gpt-image-2").max_n == 4 and models.lookup("gpt-image-8").max_n == 4
    assert models.lookup("gpt-image-2").max_prompt_chars == 32000 and models.lookup("dall-e-2").max_n == 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[models.x]\nszes = ['1x1']\n", r"models.toml \[models.x\]: 'szes' is not a field"),
        ("[models.x]\nshutdown_date = 'soon'\n", "'soon' is not a date; write it as YYYY-MM-DD"),
        ("[models.x]\nsizes = '512x512'\n", "sizes: give a list"),
        ("[models.x]\nfamily = 'flux'\n", "'flux' is not a family"),
        ("[models.x\n", "cannot read the model table"),
    ],
)
def test_a_bad_users_file_is_named_with_the_field(isolated_env: Path, text: str, expected: str) -> None:
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "models.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=expected):
        models.lookup("x")


@pytest.mark.usefixtures("clean_registry")
def test_register_adds_a_model_without_code() -> None:
    soon = dt.date.today() + dt.timedelta(days=10)
    spec = models.register("acme/painter", like="gpt-image-2", shutdown_date=soon.isoformat(), max_n=2)
    assert spec is models.lookup("painter") and spec.max_n == 2 and spec.family == "gpt-image"
    assert spec.price("1024x1024", "high") == 0.211
    assert "(in 10 days)" in models.lifecycle_warning("painter")
    again = models.register("painter", max_n=3)  # a second call edits the registered entry
    assert again.max_n == 3 and again.shutdown_date == soon
    with pytest.raises(ConfigurationError, match="'sizez' is not a field"):
        models.register("painter", sizez=["1x1"])
    with pytest.raises(ConfigurationError, match="'nope' is not in the model table"):
        models.register("other", like="nope")


def test_size_choices_put_the_photos_own_size_first_when_the_rule_takes_it() -> None:
    gpt = models.lookup("gpt-image-2")
    assert gpt.size_choices((1536, 864)) == (
        ("1536x864 (photo)", "1536x864"),
        *((s, s) for s in gpt.sizes),
    )
    presets = tuple((s, s) for s in gpt.sizes)
    assert gpt.size_choices((1024, 1024)) == presets  # already a preset: not offered twice
    assert gpt.size_choices((1000, 1000)) == presets  # not multiples of 16: the rule refuses it
    assert gpt.size_choices((3000, 600)) == presets  # 5:1 is past the 3:1 aspect limit
    dalle2 = models.lookup("dall-e-2")
    assert dalle2.size_choices((1536, 864)) == tuple((s, s) for s in dalle2.sizes)
    assert dalle2.size_choices((512, 512)) == tuple((s, s) for s in dalle2.sizes)
