"""One pricing path: the estimate on every request, the cost from ``usage``, the ledger and budget."""

from __future__ import annotations

import numpy as np
import pytest

from dalle_widgets import pricing
from dalle_widgets.client import ImagesClient
from tests.fixtures.fake_openai import FAKE_KEY, FakeOpenAI

OPENAI = "https://api.openai.com/v1"


def test_gpt_image_2_per_image_prices_by_quality() -> None:
    usd = [pricing.estimate("gpt-image-2", "1024x1024", 1, quality=q).usd for q in ("low", "medium", "high")]
    assert usd == [0.006, 0.053, 0.211]
    auto = pricing.estimate("gpt-image-2", "1024x1024", 2)
    assert auto.usd == 0.422 and "quality auto priced as high" in auto.detail


def test_sizes_without_a_published_price_are_priced_by_tokens() -> None:
    est = pricing.estimate("gpt-image-2", "2048x1152", 1, quality="low")
    assert est.method == "tokens" and est.usd == pytest.approx(200 * 2.25 * 30 / 1e6, abs=1e-6)
    assert "~450 image tokens at $30/M" in est.detail
    bigger = pricing.estimate("gpt-image-2", "2048x1152", 1, quality="high").usd
    assert bigger > est.usd
    edit = pricing.estimate(
        "gpt-image-2", "1024x1024", 1, quality="low", operation="edit", input_sizes=[(1024, 1024)] * 3
    )
    assert edit.usd == pytest.approx(0.006 + 3 * 3050 * 8 / 1e6) and edit.method == "per-image+tokens"


def test_unknown_prices_stay_unknown() -> None:
    assert pricing.estimate("gpt-image-2.5-flare", "1024x1024", 1, quality="max").usd is None
    assert (
        pricing.estimate("acme/painter", "512x512", 1)
        .describe()
        .endswith("price unknown (no price in the table)")
    )
    assert pricing.estimate("acme/painter", "512x512", 1, offline=True).usd == 0.0


def test_cost_from_usage_uses_the_models_rates() -> None:
    usage = {
        "input_tokens": 3060,
        "output_tokens": 1767,
        "input_tokens_details": {"text_tokens": 10, "image_tokens": 3050},
        "output_tokens_details": {"image_tokens": 1767, "text_tokens": 0},
    }
    assert pricing.cost_from_usage("gpt-image-2", usage) == pytest.approx(
        (10 * 5 + 3050 * 8 + 1767 * 30) / 1e6
    )
    assert pricing.cost_from_usage("gpt-image-1", usage) == pytest.approx(
        (10 * 5 + 3050 * 10 + 1767 * 40) / 1e6
    )
    streamed = {"input_tokens": 10, "output_tokens": 100, "input_tokens_details": {"text_tokens": 10}}
    assert pricing.cost_from_usage("gpt-image-2", streamed) == pytest.approx((50 + 3000) / 1e6)
    assert (
        pricing.cost_from_usage("dall-e-2", usage) is None
        and pricing.cost_from_usage("gpt-image-2", None) is None
    )


def test_prepare_attaches_the_estimate(fake_openai: FakeOpenAI) -> None:
    with ImagesClient(api_key=FAKE_KEY, base_url=OPENAI) as client:
        prepared = client.prepare("generate", "a fox", n=2, extra_body={"quality": "medium"})
    assert prepared.estimate.usd == pytest.approx(2 * 0.053 + 2 * 5 / 1e6)
    assert prepared.cost_usd == prepared.estimate.usd
    assert "cost: about $0.106 (per-image price of 2026-04-21; + ~2 prompt tokens)" in prepared.describe()
    with ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url) as client:
        dalle = client.prepare("generate", "a fox", n=3, size="512x512")
    assert (dalle.estimate.usd, dalle.estimate.method) == (0.054, "per-image")
    assert "cost: 3 x $0.018 = $0.054" in dalle.describe()


def test_the_cost_comes_from_usage_and_lands_in_result_and_provenance(twin, fake_openai) -> None:
    client = twin()
    prepared = client.prepare("generate", "a red fox", model="gpt-image-2", size="1024x1024")
    result = client.send(prepared)
    usage = fake_openai.usage("a red fox", 1, 1024 * 1024, "medium", 0)  # auto is answered as medium
    expected = pricing.cost_from_usage("gpt-image-2", usage)
    assert result.cost_usd == expected and expected < prepared.estimate.usd  # the estimate is an upper bound
    info = result[0].info
    assert (info["cost_usd"], info["cost_basis"], info["usage"]) == (expected, "usage", usage)
    from dalle_widgets.store import open_image

    assert open_image(result[0].path).info["cost_usd"] == expected  # on disk with the image
    again = client.generate("a red fox", model="gpt-image-2", size="1024x1024")
    assert again.cached and again.cost_usd == 0.0


def test_an_edit_pays_for_its_input_images(twin, fake_openai) -> None:
    image = np.zeros((1024, 1024, 3), np.uint8)
    client = twin()
    prepared = client.prepare("edit", "a hat", image, model="gpt-image-2", extra_body={"quality": "low"})
    assert prepared.estimate.usd == pytest.approx(0.006 + 3050 * 8 / 1e6 + 2 * 5 / 1e6)
    result = client.send(prepared)
    assert result[0].info["usage"]["input_tokens_details"]["image_tokens"] == 3050
    assert result.cost_usd == pytest.approx((1 * 5 + 3050 * 8 + 200 * 30) / 1e6)


def test_without_usage_the_estimate_is_the_cost(twin) -> None:
    result = twin().generate("a fox", n=2, size="256x256")
    assert result.cost_usd == 0.032 and result[0].info["cost_basis"] == "estimate (per-image)"
    assert result[0].info["cost_usd"] == 0.016


def test_an_aggregators_usage_cost_is_taken_as_given(twin, fake_openai) -> None:
    import base64

    from tests.fixtures.fake_openai import Answer

    png = base64.b64encode(fake_openai.image_png(64, 64, "fox")).decode("ascii")
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + png}}
    message = {"role": "assistant", "content": "", "images": [image]}
    usage = {"prompt_tokens": 10, "completion_tokens": 1290, "cost": 0.0387}
    fake_openai.queue(Answer(json={"choices": [{"index": 0, "message": message}], "usage": usage}))
    result = twin(protocol="chat").generate("a fox", model="google/gemini-image")
    assert result.cost_usd == 0.0387 and result[0].info["cost_basis"] == "usage.cost"


def test_the_ledger_refuses_past_the_budget() -> None:
    ledger = pricing.Ledger(budget_usd=0.25)
    est = pricing.estimate("gpt-image-2", "1024x1024", 1)
    assert ledger.refusal(est) is None
    ledger.record(0.1)
    reason = ledger.refusal(est)
    assert reason is not None and "this request costs $0.211" in reason and "$0.10 spent" in reason


# --- through the magic ------------------------------------------------------------------------


@pytest.fixture
def magic(ipshell, fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    ipshell.run(f"%config DalleMagics.base_url = {fake_openai.base_url!r}")
    return ipshell


def test_the_magic_prices_dry_runs_refusals_and_the_ledger_from_one_path(magic, fake_openai) -> None:
    run = magic.run("%dalle a fox --model gpt-image-2 -n 2 --dry-run")
    assert run.error is None
    prepared = magic.ns["_"]
    shown = "\n".join(run.texts())
    assert f"price: {prepared.estimate.describe()}" in shown
    assert "about $0.422 (quality auto priced as high" in shown
    magic.run("%config DalleMagics.budget_usd = 0.3")
    run = magic.run("%dalle a fox --model gpt-image-2 -n 2")
    assert "refused before sending: this request costs $0.422" in str(run.error)
    assert fake_openai.api_requests() == []
    run = magic.run("r = %dalle a fox --model gpt-image-2 --no-show")
    assert run.error is None
    result = magic.ns["r"]
    assert result[0].info["cost_basis"] == "usage"
    assert magic.magics.ledger.spent_usd == result.cost_usd < 0.211


def test_the_batch_plan_sums_each_prompts_estimate(magic, fake_openai) -> None:
    magic.ns["ps"] = ["a fox", "a much longer prompt about a fox in the snow at dusk"]
    run = magic.run("plan = %dalle batch ps --model gpt-image-2 --dry-run")
    assert run.error is None
    plan = magic.ns["plan"]
    estimates = [item.prepared.estimate.usd for item in plan.items]
    assert plan.cost_usd == pytest.approx(sum(estimates)) and estimates[0] < estimates[1]


def test_the_outpaint_editor_shows_the_same_estimate(fake_openai) -> None:
    from dalle_widgets.widgets import OutpaintEditor

    with ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url) as client:
        editor = OutpaintEditor(np.zeros((512, 512, 3), np.uint8), client=client, display_px=128)
        editor.set_margins(left=256, right=768)
        # 1536x512: two 1024x512 frames, each sent in a 1024 square (three 512 squares cost more)
        assert editor.plan == [(512, 0, 1536, 512), (0, 0, 1024, 512)]
        expected = pricing.estimate("dall-e-2", "1024x1024", 1, operation="edit", requests=2)
    assert f"up to {pricing.format_usd(expected.usd)} (2 × 1024px at dall-e-2 prices)" in editor.info.value
    assert fake_openai.api_requests() == []


def test_the_offline_engine_is_free_on_the_same_path(offline_engine) -> None:
    with ImagesClient(api_key=offline_engine.token, base_url=offline_engine.base_url) as client:
        assert client.endpoint_kind == "compatible" and client.model == "dall-e-2"
    with ImagesClient() as offline:  # no key, no base URL: the background engine
        prepared = offline.prepare("generate", "a fox", n=2, size="256x256")
        assert (offline.endpoint_kind, prepared.estimate.method, prepared.cost_usd) == (
            "offline",
            "offline",
            0.0,
        )
        result = offline.send(prepared)
    assert result.cost_usd == 0.0 and result[0].info["cost_basis"] == "offline engine"


def test_the_mask_editor_offers_its_clients_model(fake_openai) -> None:
    from dalle_widgets.widgets import MaskEditor

    with ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url, model="gpt-image-2") as client:
        editor = MaskEditor(np.zeros((1024, 1024, 3), np.uint8), client=client, display_px=128)
    assert "256x256" not in editor.size_dd.options and editor.size_dd.value == "1024x1024"
