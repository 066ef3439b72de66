"""dalle_widgets.batch and %dalle batch: bounded concurrency, failures summarised, resume via the cache."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from dalle_widgets import batching
from dalle_widgets.batching import batch, coerce_prompts
from dalle_widgets.errors import ContentPolicyError, InvalidRequestError
from tests.fixtures.fake_openai import FAKE_KEY, Answer, FakeOpenAI, Recorded, error
from tests.fixtures.magic import Shell

PROMPTS = [f"a {c} fox, poster {i}" for i, c in enumerate("red orange yellow green teal blue".split() * 2)]
PROMPTS[7] = "a forbidden fox"


@pytest.fixture
def fake(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    """The fake service refusing any prompt that says 'forbidden', and counting requests in flight."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    normal = fake_openai.default_answer
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def answer(req: Recorded) -> Answer:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        try:
            time.sleep(0.05)  # long enough for concurrent requests to overlap
            if "forbidden" in str(req.params.get("prompt", "")):
                return error(
                    400, "Your request was rejected by our safety system.", code="content_policy_violation"
                )
            return normal(req)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(fake_openai, "default_answer", answer)
    fake_openai.in_flight = state  # type: ignore[attr-defined]
    return fake_openai


def test_twelve_prompts_one_failing_then_resume(fake: FakeOpenAI) -> None:
    seen: list[int] = []
    result = batch(
        PROMPTS,
        n=2,
        size="256x256",
        concurrency=4,
        progress=False,
        on_progress=lambda item: seen.append(item.index),
    )
    assert len(result) == 12 and sorted(seen) == list(range(12))
    assert [item.index for item in result.failed] == [7]
    assert isinstance(result.failed[0].error, ContentPolicyError)
    assert len(result.succeeded) == 11 and len(result.images) == 22
    assert result.cost_usd == pytest.approx(11 * 2 * 0.016)
    assert [item.prompt for item in result] == PROMPTS  # input order, whatever the finishing order
    assert len(fake.api_requests()) == 12
    assert 1 < fake.in_flight["peak"] <= 4  # type: ignore[attr-defined]
    summary = result.summary()
    assert summary.splitlines()[0] == "11 of 12 prompts done (22 images), 1 failed; cost $0.352"
    assert "failed [7] 'a forbidden fox': ContentPolicyError: Your request was rejected" in summary

    again = batch(PROMPTS, n=2, size="256x256", concurrency=4, progress=False)
    assert len(fake.api_requests()) == 13  # only the failed prompt was sent again
    assert fake.last.json["prompt"] == "a forbidden fox"
    assert sum(item.cached for item in again) == 11
    assert again.cost_usd == 0.0
    assert "11 replayed from the cache, 1 failed" in again.summary()


def test_concurrency_is_bounded(fake: FakeOpenAI) -> None:
    batch(PROMPTS[:6], size="256x256", concurrency=2, progress=False)
    assert fake.in_flight["peak"] == 2  # type: ignore[attr-defined]


def test_budget_refuses_the_whole_batch_before_sending(fake: FakeOpenAI) -> None:
    with pytest.raises(InvalidRequestError) as info:
        batch(PROMPTS, size="256x256", budget_usd=0.1, progress=False)
    assert str(info.value) == (
        "the batch costs $0.192 (12 requests), more than the budget of $0.10: use fewer prompts, "
        "a smaller -n or --size"
    )
    assert fake.api_requests() == []


def test_invalid_options_for_every_prompt_raise_before_sending(fake: FakeOpenAI) -> None:
    with pytest.raises(InvalidRequestError, match="size '800x800' is not supported by dall-e-2"):
        batch(PROMPTS, size="800x800", progress=False)
    assert fake.api_requests() == []


def test_one_invalid_prompt_is_a_failure_not_a_stop(fake: FakeOpenAI) -> None:
    prompts = ["a short one", "x" * 1001, "another"]
    result = batch(prompts, size="256x256", progress=False)
    assert [item.index for item in result.failed] == [1]
    assert "1001 characters" in str(result.failed[0].error)
    assert len(fake.api_requests()) == 2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "one prompt",
            "'prompts' is one string: a batch needs a list of prompts, e.g. ['a red fox', 'a blue fox']",
        ),
        ([], "'prompts' is empty: a batch needs at least one prompt"),
        (["ok", 3], "prompt 1 of 'prompts' is a int (3), not text"),
        (["ok", "  "], "prompt 1 of 'prompts' is empty"),
        (5, "'prompts' is a int: a batch needs a list of prompt strings"),
    ],
)
def test_prompt_lists_are_checked(value: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        coerce_prompts(value)
    assert str(info.value) == message


def test_numpy_and_series_like_inputs() -> None:
    assert coerce_prompts(np.array(["a", "b"])) == ["a", "b"]

    class Series:  # the part of pandas.Series that matters
        def tolist(self) -> list[str]:
            return ["x", "y"]

    assert coerce_prompts(Series()) == ["x", "y"]


def test_batch_offline_with_no_key() -> None:
    result = batch(["a red kite", "a green kite"], size="256x256", progress=False)
    assert len(result.succeeded) == 2
    assert result.cost_usd == 0.0
    assert result.images[0].image.size == (256, 256)


def test_abatch_runs_in_an_existing_loop(fake: FakeOpenAI) -> None:
    import asyncio

    from dalle_widgets.client import AsyncImagesClient

    async def main() -> batching.BatchResult:
        async with AsyncImagesClient() as client:
            return await batching.abatch(PROMPTS[:3], size="256x256", client=client, concurrency=3)

    result = asyncio.run(main())
    assert len(result.succeeded) == 3


# --- %dalle batch ---------------------------------------------------------------------------------------


def test_magic_batch_shows_one_grouped_result_and_resumes(ipshell: Shell, fake: FakeOpenAI) -> None:
    ipshell.ns["prompts"] = PROMPTS
    run = ipshell.run("b = %dalle batch prompts -n 2 --size 256x256 --concurrency 3")
    assert run.error is None, run.printed
    result = ipshell.ns["b"]
    assert [item.index for item in result.failed] == [7]
    assert len(fake.api_requests()) == 12
    assert fake.in_flight["peak"] <= 3  # type: ignore[attr-defined]
    texts = run.texts()
    assert sum("IntProgress" in t for t in texts) == 1  # one progress bar
    assert sum(t.startswith("VBox") for t in texts) == 1  # one grouped result
    assert ipshell.magics.ledger.spent_usd == pytest.approx(0.352)

    again = ipshell.run("%dalle batch prompts -n 2 --size 256x256")
    assert again.error is None
    assert len(fake.api_requests()) == 13
    assert ipshell.magics.ledger.spent_usd == pytest.approx(0.352)  # replays are free


def test_magic_batch_dry_run_and_budget(ipshell: Shell, fake: FakeOpenAI) -> None:
    ipshell.ns["prompts"] = PROMPTS
    run = ipshell.run("%dalle batch prompts --size 512x512 --dry-run")
    assert run.error is None, run.printed
    text = "\n".join(run.texts())
    assert "12 requests (0 refused before sending); total $0.216" in text
    ipshell.run("%config DalleMagics.budget_usd = 0.2")
    refused = ipshell.run("%dalle batch prompts --size 512x512")
    assert str(refused.error) == (
        "refused before sending: this request costs $0.216 (12 x 512x512 with dall-e-2 at $0.018 = $0.216); "
        "with $0.00 spent this session it would pass the budget of $0.20: raise it with "
        "%config DalleMagics.budget_usd = ..., or ask for fewer or smaller images"
    )
    assert fake.api_requests() == []


def test_magic_batch_from_an_expression(ipshell: Shell, fake: FakeOpenAI) -> None:
    ipshell.ns["table"] = {"prompt": ["a kite", "a boat"]}
    run = ipshell.run("r = %dalle batch table['prompt'] --size 256x256 --no-show")
    assert run.error is None, run.printed
    assert len(ipshell.ns["r"].succeeded) == 2
    bad = ipshell.run("%dalle batch table")
    assert str(bad.error) == "'table' is a dict: a batch needs a list of prompt strings"
    assert bad.printed.strip() == "UsageError: 'table' is a dict: a batch needs a list of prompt strings"


def test_a_sync_client_is_twinned_and_shares_its_cache(fake: FakeOpenAI, tmp_path: Any) -> None:
    from dalle_widgets.client import ImagesClient

    with ImagesClient(store=tmp_path / "store") as client:
        client.generate("a kite", size="256x256")
        result = batch(["a kite", "a boat"], size="256x256", client=client, progress=False)
    assert [item.cached for item in result] == [True, False]  # same store: the first replays
    assert len(fake.api_requests()) == 2
    assert result.images[1].path.is_relative_to(tmp_path / "store")


def test_batch_refuses_a_client_it_cannot_use() -> None:
    with pytest.raises(InvalidRequestError, match=r"^client=42: pass an ImagesClient, an AsyncImagesClient"):
        batch(["a kite"], client=42, progress=False)
