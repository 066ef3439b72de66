"""%dalle / %%dalle in a real InteractiveShell, against the fake OpenAI service and the offline engine."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dalle_widgets.client import ImageResult
from tests.fixtures.fake_openai import FAKE_KEY, FakeOpenAI, error
from tests.fixtures.magic import CellRun, Shell


@pytest.fixture
def fake(ipshell: Shell, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    """The magic pointed at the fake OpenAI service, with its key in the environment."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    ipshell.run(f"%config DalleMagics.base_url = {fake_openai.base_url!r}")
    return fake_openai


def assert_one_line_error(run: CellRun, message: str) -> None:
    """The cell failed with exactly ``UsageError: message`` and no traceback from the package."""
    from IPython.core.error import UsageError

    assert isinstance(run.error, UsageError), run.printed
    assert type(run.error).__name__ == "DalleUsageError"  # published as the cell's error: nbval stops
    assert str(run.error) == message
    assert run.printed.strip() == f"UsageError: {message}"
    assert "Traceback" not in run.printed
    assert "dalle_widgets/" not in run.printed and "dalle_widgets\\" not in run.printed
    assert FAKE_KEY not in run.printed


def shown_results(run: CellRun) -> int:
    """How many times the cell displayed an image result (as a Gallery, or as the ImageResult itself)."""
    return sum(t.startswith(("Gallery(", "<ImageResult")) for t in run.texts())


# --- generate ----------------------------------------------------------------------------------------


def test_generate_returns_result_shows_once_and_sets_underscore(ipshell: Shell, fake: FakeOpenAI) -> None:
    run = ipshell.run("%dalle a watercolor fox -n 4 --size 512x512")
    assert run.error is None, run.printed
    result = ipshell.ns["_"]
    assert isinstance(result, ImageResult) and len(result) == 4
    assert [im.image.size for im in result] == [(512, 512)] * 4
    sent = fake.last.json
    assert (sent["prompt"], sent["n"], sent["size"], sent["model"]) == (
        "a watercolor fox",
        4,
        "512x512",
        "dall-e-2",
    )
    assert shown_results(run) == 1, run.texts()  # shown once: not again as Out[n]
    assert any("4 images · dall-e-2 512x512 · $0.072" in t for t in run.texts()), run.texts()


def test_assignment_form_shows_and_binds(ipshell: Shell, fake: FakeOpenAI) -> None:
    run = ipshell.run("r = %dalle a red fox --size 256x256")
    assert run.error is None, run.printed
    assert isinstance(ipshell.ns["r"], ImageResult)
    assert shown_results(run) == 1, run.texts()
    later = ipshell.run("r")  # displaying it again later works normally
    assert later.error is None
    assert later.outputs or "ImageResult" in later.stdout


def test_cell_magic_takes_the_body_and_interpolates(ipshell: Shell, fake: FakeOpenAI) -> None:
    ipshell.run("colour = 'teal'; count = 2")
    run = ipshell.run("%%dalle -n {count} --size 256x256\na {colour} fox\nin {{braces}}, {count * 3} trees")
    assert run.error is None, run.printed
    assert fake.last.json["prompt"] == "a teal fox in {braces}, 6 trees"  # wrapped lines join
    assert fake.last.json["n"] == 2
    run = ipshell.run("%%dalle --size 256x256 a poster:\n  first line\n\n  second paragraph\n")
    assert run.error is None, run.printed
    assert fake.last.json["prompt"] == "a poster: first line\nsecond paragraph"  # a blank line is a break


def test_line_interpolation_and_quotes(ipshell: Shell, fake: FakeOpenAI) -> None:
    ipshell.run("subject = \"a fox's den\"; styles = ['ink', 'wash']")
    run = ipshell.run("%dalle {subject}, {' and '.join(styles)} -- --size is literal here --size 256x256")
    assert run.error is None, run.printed
    assert fake.last.json["prompt"] == "a fox's den, ink and wash --size is literal here --size 256x256"


def test_interpolation_inside_a_function_sees_locals(ipshell: Shell, fake: FakeOpenAI) -> None:
    run = ipshell.run(
        "def make(thing):\n"
        "    return get_ipython().run_line_magic('dalle', '{thing} --size 256x256 --no-show')\n"
        "res = make('a lighthouse')"
    )
    assert run.error is None, run.printed
    assert fake.last.json["prompt"] == "a lighthouse"


def test_config_traits_are_defaults(ipshell: Shell, fake: FakeOpenAI) -> None:
    ipshell.run("%config DalleMagics.size = '256'")
    ipshell.run("%config DalleMagics.n = 3")
    run = ipshell.run("%dalle a heron --seed 5")
    assert run.error is None, run.printed
    sent = fake.last.json
    assert (sent["size"], sent["n"], sent["seed"]) == ("256x256", 3, 5)
    ipshell.run("%config DalleMagics.n = 0")  # refused by the trait's validator (logged by %config)
    assert ipshell.magics.n == 3


def test_dry_run_sends_nothing_and_shows_the_request(ipshell: Shell, fake: FakeOpenAI) -> None:
    run = ipshell.run("%dalle a watercolor fox -n 4 --size 512x512 --dry-run")
    assert run.error is None, run.printed
    assert fake.api_requests() == []
    text = "\n".join(run.texts())
    assert "dry run: nothing sent" in text
    assert f"POST {fake.base_url}/images/generations" in text
    assert "price: 4 x 512x512 with dall-e-2 at $0.018 = $0.072" in text
    assert FAKE_KEY not in text


def test_cache_replay_sends_nothing_and_fresh_sends(ipshell: Shell, fake: FakeOpenAI) -> None:
    ipshell.run("%dalle a blue boat --size 256x256 -n 2")
    assert len(fake.api_requests()) == 1
    again = ipshell.run("%dalle a blue boat --size 256x256 -n 2")
    assert again.error is None
    assert len(fake.api_requests()) == 1
    assert any("replayed from the request cache" in t for t in again.texts())
    assert ipshell.ns["_"].cached
    ipshell.run("%dalle a blue boat --size 256x256 -n 2 --fresh")
    assert len(fake.api_requests()) == 2


def test_budget_refuses_before_sending(ipshell: Shell, fake: FakeOpenAI) -> None:
    ipshell.run("%config DalleMagics.budget_usd = 0.1")
    ok = ipshell.run("%dalle a fox -n 4 --size 1024x1024")  # $0.08
    assert ok.error is None, ok.printed
    assert len(fake.api_requests()) == 1
    run = ipshell.run("%dalle a second fox -n 2 --size 1024x1024")  # $0.04 more would pass $0.10
    assert_one_line_error(
        run,
        "refused before sending: this request costs $0.04 (2 x 1024x1024 with dall-e-2 at $0.02 = $0.04); "
        "with $0.08 spent this session it would pass the budget of $0.10: raise it with "
        "%config DalleMagics.budget_usd = ..., or ask for fewer or smaller images",
    )
    assert len(fake.api_requests()) == 1
    assert ipshell.run("%dalle a second fox -n 1 --size 256x256").error is None  # $0.016 still fits


def test_budget_refuses_unknown_prices(ipshell: Shell, fake: FakeOpenAI) -> None:
    ipshell.run("%config DalleMagics.budget_usd = 5")
    run = ipshell.run("%dalle a fox --model acme-painter-9 --size 512x512")
    assert_one_line_error(
        run,
        "refused before sending: the price of 1 x 512x512 with acme-painter-9 is unknown, so the budget "
        "of $5.00 cannot be checked: raise it with %config DalleMagics.budget_usd = ..., or ask for fewer "
        "or smaller images",
    )
    assert fake.api_requests() == []


def test_no_show_returns_quietly(ipshell: Shell, fake: FakeOpenAI) -> None:
    run = ipshell.run("%dalle a quiet fox --size 256x256 --no-show")
    assert run.error is None
    assert run.outputs == [] and "Gallery" not in run.stdout
    assert isinstance(ipshell.ns["_"], ImageResult)


def test_out_copies_images_with_provenance(ipshell: Shell, fake: FakeOpenAI, tmp_path: Path) -> None:
    run = ipshell.run(f"%dalle A Red Fox! -n 2 --size 256x256 --out {tmp_path / 'picks'}")
    assert run.error is None, run.printed
    files = sorted(p.name for p in (tmp_path / "picks").iterdir())
    assert files == ["a-red-fox-1.png", "a-red-fox-2.png"]
    from dalle_widgets.store import open_image

    assert open_image(tmp_path / "picks" / "a-red-fox-1.png").info["prompt"] == "A Red Fox!"


def test_chat_protocol(ipshell: Shell, fake: FakeOpenAI) -> None:
    run = ipshell.run("%dalle a chat fox --protocol chat --model openai/dall-e-2 --size 256x256")
    assert run.error is None, run.printed
    assert fake.last.path == "/v1/chat/completions"
    assert fake.last.json["model"] == "openai/dall-e-2"


# --- vary, edit, outpaint, board, models, config --------------------------------------------------------


def test_vary_and_edit_from_variables(ipshell: Shell, fake: FakeOpenAI) -> None:
    ipshell.run("r = %dalle a cat --size 256x256 --no-show")
    run = ipshell.run("v = %dalle vary r[0] -n 2 --size 256x256")
    assert run.error is None, run.printed
    assert fake.last.path == "/v1/images/variations"
    assert fake.last.form["n"] == "2"
    ipshell.ns["m"] = np.zeros((256, 256), bool)
    ipshell.ns["m"][64:192, 64:192] = True
    run = ipshell.run("e = %dalle edit r[0] --mask m a red hat --size 256x256")
    assert run.error is None, run.printed
    assert fake.last.path == "/v1/images/edits"
    assert fake.last.form["prompt"] == "a red hat"
    assert set(fake.last.files) >= {"image", "mask"}


def test_edit_from_a_path(ipshell: Shell, fake: FakeOpenAI, tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (256, 256), "green").save(tmp_path / "photo.png")
    mask = np.zeros((256, 256), bool)
    mask[:128] = True
    ipshell.ns["mask"] = mask
    run = ipshell.run(f"%dalle edit {tmp_path / 'photo.png'} --mask mask a cloud --size 256x256 --no-show")
    assert run.error is None, run.printed
    assert fake.last.path == "/v1/images/edits"


def test_edit_without_mask_opens_the_mask_editor(ipshell: Shell, fake: FakeOpenAI) -> None:
    ipshell.run("r = %dalle a cat --size 256x256 --no-show")
    run = ipshell.run("ed = %dalle edit r[0] a hat")
    assert run.error is None, run.printed
    editor = ipshell.ns["ed"]
    assert type(editor).__name__ == "MaskEditor"
    assert len(fake.api_requests()) == 1  # opening the editor sends nothing


def test_models_and_config_never_show_the_key(ipshell: Shell, fake: FakeOpenAI) -> None:
    run = ipshell.run("%dalle models")
    assert run.error is None
    models = ipshell.ns["_"]
    assert list(models) == ["dall-e-2", "gpt-image-2", "gpt-image-1.5"]
    assert re.search(
        r"dall-e-2 +generate, edit, vary · 256x256 512x512 1024x1024 · \$0.016-\$0.02/image · "
        r"OpenAI shut it down 2026-05-12: use gpt-image-2\n",
        run.stdout,
    )
    assert re.search(
        r"gpt-image-2 +generate, edit · .* any WxH within its size rule · \$0.006-\$0.211/image\n", run.stdout
    )
    assert "gpt-image-1.5  generate, edit" in run.stdout
    assert "shut down 2026-12-01 (this endpoint's date): use gpt-image-2.6-flare" in run.stdout
    run = ipshell.run("%dalle config")
    assert run.error is None
    cfg = ipshell.ns["_"]
    assert cfg["endpoint"] == fake.base_url and cfg["engine"] == "remote (compatible)"
    assert cfg["key"] == "set (OPENAI_API_KEY)"
    assert FAKE_KEY not in run.printed and FAKE_KEY not in repr(cfg)


def test_help(ipshell: Shell) -> None:
    run = ipshell.run("%dalle --help")
    assert run.error is None
    text = "\n".join(run.texts())
    assert "usage: %dalle [generate] PROMPT... [options]" in text
    assert "--dry-run" in text and "batch" in text
    assert "usage: %dalle edit IMAGE" in "\n".join(ipshell.run("%dalle edit --help").texts())
    assert "--concurrency K" in "\n".join(ipshell.run("%dalle help batch").texts())
    assert "%dalle vary IMAGE" in (ipshell.magics.dalle.__doc__ or "")


# --- the offline engine -------------------------------------------------------------------------------


def test_every_form_offline(ipshell: Shell, tmp_path: Path) -> None:
    assert ipshell.run("r = %dalle a watercolor fox -n 2 --size 256x256").error is None
    assert ipshell.ns["r"][0].info.get("engine") or True
    assert ipshell.run("v = %dalle vary r[0] --size 256x256").error is None
    ipshell.ns["m"] = np.zeros((256, 256), bool)
    ipshell.ns["m"][:, 128:] = True
    assert ipshell.run("e = %dalle edit r[0] --mask m a lake --size 256x256").error is None
    run = ipshell.run("o = %dalle outpaint r[0] --right 128 a wide valley")
    assert run.error is None, run.printed
    assert ipshell.ns["o"].image.size == (384, 256)
    dry = ipshell.run("%dalle outpaint r[0] --to 512x256 a wide valley --dry-run")
    assert dry.error is None, dry.printed
    assert "outpaint to 512x256" in "\n".join(dry.texts())
    plan = ipshell.ns["_"]
    # one 512x256 frame sent in a 512 square, not two 256 squares: one request
    assert (plan.canvas_size, plan.request_size, plan.estimate.total_usd) == ((512, 256), "512x512", 0.0)
    assert plan.frames == [(0, 0, 512, 256)]
    assert ipshell.run("%dalle models").error is None
    cfg = ipshell.run("%dalle config")
    assert "offline engine" in cfg.stdout and "not set" in cfg.stdout
    board = ipshell.run(f"b = %dalle board {tmp_path / 'board'}")
    assert board.error is None, board.printed
    assert type(ipshell.ns["b"]).__name__ == "MoodBoard"
    assert ipshell.run("%dalle board").error is None


# --- every error is one line --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (
            "%dalle a fox --colour red",
            "%dalle: unknown option --colour (see %dalle --help; "
            "put -- before a prompt that starts with a dash)",
        ),
        (
            "%dalle -n 2",
            "%dalle: missing prompt: write it after %dalle (e.g. %dalle a watercolor fox -n 4) "
            "or use a %%dalle cell",
        ),
        (
            "%dalle a fox --size 800x800",
            "size '800x800' is not supported by dall-e-2; use 256x256, 512x512 or 1024x1024",
        ),
        ("%dalle a fox -n 12", "n=12: dall-e-2 makes 1 to 10 images per request"),
        (
            "%dalle a {undefined_name} fox",
            "name 'undefined_name' in {undefined_name} is not defined: define it first, or write "
            "{{undefined_name}} for literal braces",
        ),
        (
            "%dalle vary no_such_image",
            "image 'no_such_image' not found: no variable named 'no_such_image' and no file 'no_such_image' "
            "in {cwd}",
        ),
        ("%dalle vary missing/photo.png", "file not found: 'missing/photo.png' (looked in {cwd})"),
        (
            "%dalle batch not_defined",
            "%dalle batch: 'not_defined' is not defined: define a list of prompts "
            "first, e.g. not_defined = ['a red fox', 'a blue fox']",
        ),
        ("%dalle a fox -n many", "-n must be a whole number, got 'many'"),
        ("%dalle a fox --protocol rest", "--protocol must be 'images' or 'chat', got 'rest'"),
        (
            "%dalle vary r --model dall-e-3",
            "dall-e-3 has no variations endpoint (dall-e-2 and the GPT image models make variations)",
        ),
        ("%dalle edit r --dry-run", "%dalle edit --dry-run needs a complete request: give --mask"),
    ],
)
def test_error_lines(
    ipshell: Shell, fake: FakeOpenAI, cell: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    from PIL import Image

    ipshell.ns["r"] = Image.new("RGB", (256, 256), "red")
    run = ipshell.run(cell)
    assert_one_line_error(run, message.replace("{cwd}", str(tmp_path)))
    assert fake.api_requests() == []


def test_api_errors_are_one_line(ipshell: Shell, fake: FakeOpenAI) -> None:
    fake.queue(error(400, "Your request was rejected by our safety system.", code="content_policy_violation"))
    run = ipshell.run("%dalle a forbidden thing --size 256x256")
    request_id = fake.last.headers.get("x-request-id") or re.search(r"request id (\S+)\)", str(run.error))[1]
    assert_one_line_error(
        run,
        "ContentPolicyError: Your request was rejected by our safety system. Rephrase the prompt or "
        "change the input images; GPT image models also take moderation='low' for less strict filtering. "
        f"(HTTP 400, code content_policy_violation, request id {request_id})",
    )


def test_wrong_key_is_one_line_without_the_key(
    ipshell: Shell, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-0123456789abcdef")
    run = ipshell.run("%dalle a fox --size 256x256")
    assert run.error is not None
    assert run.printed.startswith("UsageError: AuthenticationError: ")
    assert "sk-wrong-0123456789abcdef" not in run.printed
    assert "Traceback" not in run.printed


def test_no_key_and_engine_unavailable_is_one_line(tmp_path: Path) -> None:
    """A fresh process where the offline engine cannot start (uvicorn missing)."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["uvicorn"] = None  # the engine's server cannot be imported
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "dalle_widgets")
        result = shell.run_cell("%dalle a fox --size 256x256")
        print("ERROR-TYPE", type(result.error_in_exec).__name__)
        """
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OPENAI_")}
    env["DALLE_WIDGETS_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "ERROR-TYPE DalleUsageError" in out.stdout, out.stdout + out.stderr
    lines = [ln for ln in (out.stdout + out.stderr).splitlines() if ln.startswith("UsageError")]
    assert len(lines) == 1
    assert lines[0].startswith(
        "UsageError: No API key and no endpoint configured, and the offline engine could not start "
    )
    assert "Set OPENAI_API_KEY (or pass api_key=...)" in lines[0]
    assert "Traceback" not in out.stdout + out.stderr


def test_multi_paragraph_cell_prompt_offline(ipshell: Shell) -> None:
    run = ipshell.run("%%dalle --size 256x256\na poster: first paragraph\n\nsecond paragraph")
    assert run.error is None, run.printed
    assert ipshell.ns["_"].prompt == "a poster: first paragraph\nsecond paragraph"


def test_explicit_display_of_a_returned_result_still_shows(ipshell: Shell, fake: FakeOpenAI) -> None:
    run = ipshell.run("r = %dalle a shy fox --size 256x256 --no-show\ndisplay(r)")
    assert run.error is None, run.printed
    assert shown_results(run) == 1  # only the Out[n] repeat is suppressed, never an explicit display()
    quiet = ipshell.run("%dalle a bold fox --size 256x256 --no-show")
    assert shown_results(quiet) == 0 and isinstance(ipshell.ns["_"], ImageResult)
    later = ipshell.run("display(_)")
    assert shown_results(later) == 1


def test_outpaint_without_margins_opens_the_outpaint_editor(ipshell: Shell, fake: FakeOpenAI) -> None:
    ipshell.run("r = %dalle a cat --size 256x256 --no-show")
    run = ipshell.run("oe = %dalle outpaint r[0]")
    assert run.error is None, run.printed
    assert type(ipshell.ns["oe"]).__name__ == "OutpaintEditor"
    assert len(fake.api_requests()) == 1


def test_defaults_come_from_the_environment(
    ipshell: Shell, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from dalle_widgets.magics import DalleMagics

    monkeypatch.setenv("DALLE_WIDGETS_SIZE", "512")
    monkeypatch.setenv("DALLE_WIDGETS_BUDGET_USD", "0.5")
    monkeypatch.setenv("DALLE_WIDGETS_PROTOCOL", "chat")
    monkeypatch.setenv("DALLE_WIDGETS_MODEL", "openai/dall-e-2")
    magics = DalleMagics()
    assert (magics.size, magics.budget_usd, magics.protocol, magics.model) == (
        "512x512",
        0.5,
        "chat",
        "openai/dall-e-2",
    )
    monkeypatch.setenv("DALLE_WIDGETS_BUDGET_USD", "lots")
    monkeypatch.setenv("DALLE_WIDGETS_PROTOCOL", "rest")
    monkeypatch.setenv("DALLE_WIDGETS_SIZE", "big")
    with caplog.at_level("WARNING", logger="dalle_widgets"):
        magics = DalleMagics()
    assert magics.budget_usd is None and magics.protocol == "images" and magics.size is None
    assert "ignoring DALLE_WIDGETS_BUDGET_USD='lots'" in caplog.text
    assert "ignoring DALLE_WIDGETS_PROTOCOL='rest'" in caplog.text
    assert "ignoring DALLE_WIDGETS_SIZE='big'" in caplog.text


def test_show_trait_off_returns_quietly(ipshell: Shell, fake: FakeOpenAI) -> None:
    ipshell.run("%config DalleMagics.show = False")
    run = ipshell.run("%dalle a hidden fox --size 256x256")
    assert run.error is None
    assert run.outputs == []
    assert isinstance(ipshell.ns["_"], ImageResult)
