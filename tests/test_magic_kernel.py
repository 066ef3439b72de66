"""%dalle through a real Jupyter kernel: what the front end receives, batches on the kernel's running loop,
and an interrupted batch resuming without paying twice."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

from tests.fixtures.fake_openai import FAKE_KEY, Answer, FakeOpenAI, Recorded

pytestmark = pytest.mark.slow


class Kernel:
    """A python3 kernel started with ``env``; ``run(code)`` returns the reply and the iopub messages."""

    def __init__(self, env: dict[str, str]) -> None:
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env, extra_arguments=["--HistoryManager.enabled=False"])
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, *, timeout: float = 120) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        msgs: list[dict[str, Any]] = []
        reply = self.kc.execute_interactive(code, output_hook=msgs.append, timeout=timeout, allow_stdin=False)
        return reply["content"], msgs

    def value(self, expr: str) -> str:
        reply, msgs = self.run(f"print(repr({expr}))")
        assert reply["status"] == "ok", msgs
        return "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream").strip()

    def stop(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DALLE_WIDGETS_"))}
    env["DALLE_WIDGETS_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parents[1]), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def offline_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    kernel = Kernel(_env(tmp_path_factory.mktemp("kernel-home"), DALLE_WIDGETS_OFFLINE="1"))
    reply, msgs = kernel.run("%load_ext dalle_widgets")
    assert reply["status"] == "ok", msgs
    try:
        yield kernel
    finally:
        kernel.stop()


def _kinds(msgs: list[dict[str, Any]]) -> list[str]:
    return [m["msg_type"] for m in msgs if m["msg_type"] not in ("status", "execute_input")]


def _result_displays(msgs: list[dict[str, Any]]) -> int:
    """Displays of an image result: a Gallery widget or the ImageResult itself."""
    count = 0
    for m in msgs:
        if m["msg_type"] in ("display_data", "execute_result"):
            text = m["content"]["data"].get("text/plain", "")
            if text.startswith(("Gallery(", "<ImageResult")):
                count += 1
    return count


def test_bare_magic_displays_once_and_sets_underscore(offline_kernel: Kernel) -> None:
    reply, msgs = offline_kernel.run("%dalle a watercolor fox -n 2 --size 256x256")
    assert reply["status"] == "ok", msgs
    assert _result_displays(msgs) == 1, msgs
    assert "execute_result" not in _kinds(msgs)  # not shown a second time as Out[n]
    assert offline_kernel.value("type(_).__name__") == "'ImageResult'"
    assert offline_kernel.value("len(_)") == "2"


def test_assignment_displays_once(offline_kernel: Kernel) -> None:
    reply, msgs = offline_kernel.run("r = %dalle a red kite --size 256x256")
    assert reply["status"] == "ok", msgs
    assert _result_displays(msgs) == 1
    assert offline_kernel.value("r[0].image.size") == "(256, 256)"
    reply, msgs = offline_kernel.run("r")  # shown normally when asked for later
    assert _result_displays(msgs) == 1


def test_status_line_becomes_the_summary(offline_kernel: Kernel) -> None:
    reply, msgs = offline_kernel.run("%dalle a status fox --size 256x256")
    first = next(m for m in msgs if m["msg_type"] == "display_data")
    assert first["content"]["data"]["text/plain"].startswith("generating 1 x 256x256 with dall-e-2")
    update = next(m for m in msgs if m["msg_type"] == "update_display_data")
    assert update["content"]["transient"]["display_id"] == first["content"]["transient"]["display_id"]
    assert "offline engine (free)" in update["content"]["data"]["text/plain"]


def test_usage_error_is_one_line_without_package_frames(offline_kernel: Kernel) -> None:
    reply, msgs = offline_kernel.run("%dalle a fox --size 800x800")
    assert reply["status"] == "error"
    message = "size '800x800' is not supported by dall-e-2; use 256x256, 512x512 or 1024x1024"
    errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
    assert len(errors) == 1  # published as the cell's error, so nbval and papermill stop
    assert errors[0]["evalue"] == message
    assert errors[0]["traceback"] == [f"UsageError: {message}"]
    assert not [m for m in msgs if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"]
    everything = repr(msgs) + repr(reply)
    assert "dalle_widgets/" not in everything and "Traceback" not in everything


def test_batch_runs_inside_the_kernel_loop(offline_kernel: Kernel) -> None:
    reply, msgs = offline_kernel.run(
        "prompts = [f'a {c} boat' for c in ('red', 'green', 'blue', 'white')]\n"
        "b = %dalle batch prompts --size 256x256 --concurrency 2"
    )
    assert reply["status"] == "ok", msgs
    texts = [m["content"]["data"].get("text/plain", "") for m in msgs if m["msg_type"] == "display_data"]
    assert sum(t.startswith("HBox(children=(IntProgress") for t in texts) == 1
    assert sum(t.startswith("VBox(") for t in texts) == 1
    assert offline_kernel.value("(len(b.succeeded), len(b.failed), len(b.images))") == "(4, 0, 4)"
    assert "execute_result" not in _kinds(msgs)


def test_every_form_in_the_kernel(offline_kernel: Kernel, tmp_path: Path) -> None:
    code = (
        "r = %dalle a fox in snow --size 256x256 --no-show\n"
        "import numpy as np\n"
        "m = np.zeros((256, 256), bool); m[64:192, 64:192] = True\n"
        "v = %dalle vary r[0] --size 256x256\n"
        "e = %dalle edit r[0] --mask m a red scarf --size 256x256\n"
        "o = %dalle outpaint r[0] --left 64 --right 64 a snowy forest\n"
        "ms = %dalle models\n"
        "cfg = %dalle config\n"
        "d = %dalle --dry-run a fox -n 3 --size 512x512\n"
    )
    reply, msgs = offline_kernel.run(code)
    assert reply["status"] == "ok", msgs
    assert offline_kernel.value("(len(v), len(e), o.image.size, o.complete)") == "(1, 1, (384, 256), True)"
    assert offline_kernel.value("'dall-e-2' in ms") == "True"
    assert offline_kernel.value("cfg['key']") == "'not set'"
    assert offline_kernel.value("(d.n, d.size, d.cost_usd)") == "(3, '512x512', 0.0)"


def test_editors_and_board_in_the_kernel(offline_kernel: Kernel, tmp_path: Path) -> None:
    reply, msgs = offline_kernel.run(
        "r = %dalle a fox in snow --size 256x256 --no-show\n"
        "ed = %dalle edit r[0]\n"
        "oe = %dalle outpaint r[0]\n"
        f"bd = %dalle board {tmp_path / 'board'}\n"
    )
    assert reply["status"] == "ok", msgs
    assert offline_kernel.value("(type(ed).__name__, type(oe).__name__, type(bd).__name__)") == (
        "('MaskEditor', 'OutpaintEditor', 'MoodBoard')"
    )


# --- an interrupted batch resumes without paying twice ---------------------------------------------


@pytest.fixture
def slow_fake(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    """Answers take 0.4 s; ``slow_fake.on_request(count)`` is called as each API request arrives."""
    normal = fake_openai.default_answer
    lock = threading.Lock()
    seen = {"count": 0}
    fake_openai.on_request = lambda count: None  # type: ignore[attr-defined]

    def slow(req: Recorded) -> Answer:
        with lock:
            seen["count"] += 1
            count = seen["count"]
        fake_openai.on_request(count)  # type: ignore[attr-defined]
        time.sleep(0.4)
        return normal(req)

    monkeypatch.setattr(fake_openai, "default_answer", slow)
    return fake_openai


def test_interrupted_batch_resumes_from_the_cache(slow_fake: FakeOpenAI, tmp_path: Path) -> None:
    kernel = Kernel(_env(tmp_path, OPENAI_API_KEY=FAKE_KEY, OPENAI_BASE_URL=slow_fake.base_url))
    try:
        kernel.run("%load_ext dalle_widgets\nprompts = [f'poster {i}' for i in range(10)]")

        def interrupt_at_fifth(count: int) -> None:
            # with 2 in flight, the 5th request starts only after the first 3 have finished and been stored
            if count == 5:
                threading.Timer(0.1, kernel.km.interrupt_kernel).start()

        slow_fake.on_request = interrupt_at_fifth  # type: ignore[attr-defined]
        reply, msgs = kernel.run("b = %dalle batch prompts --size 256x256 --concurrency 2")
        assert reply["status"] == "error" and reply["ename"] == "DalleUsageError", msgs
        (err,) = [m["content"] for m in msgs if m["msg_type"] == "error"]
        assert (
            err["evalue"].startswith("batch interrupted after ") and "run it again to resume" in err["evalue"]
        )
        first = len(slow_fake.api_requests())
        assert 5 <= first < 10

        slow_fake.on_request = lambda count: None  # type: ignore[attr-defined]
        reply, msgs = kernel.run("b = %dalle batch prompts --size 256x256 --concurrency 2")
        assert reply["status"] == "ok", msgs
        replayed = int(kernel.value("sum(item.cached for item in b)"))
        assert replayed >= 3
        resent = len(slow_fake.api_requests()) - first
        assert resent == 10 - replayed  # only what had not finished is sent again
        assert kernel.value("len(b.succeeded)") == "10"
    finally:
        kernel.stop()


def _shown(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["content"]["data"] for m in msgs if m["msg_type"] in ("display_data", "execute_result")]


def test_plain_python_results_show_as_widgets_without_the_extension(tmp_path: Path) -> None:
    """No %load_ext, no widget import: importing the package in a kernel hands the display of a
    result, a batch and its progress to the widgets, which load only when something is shown."""
    kernel = Kernel(_env(tmp_path, DALLE_WIDGETS_OFFLINE="1"))
    try:
        reply, msgs = kernel.run(
            "import sys\n"
            "from dalle_widgets import ImagesClient, batch\n"
            "r = ImagesClient().generate('a kite', n=2, size='256x256', seed=1)\n"
            "loaded_before = 'dalle_widgets.widgets' in sys.modules"
        )
        assert reply["status"] == "ok", msgs
        # no key: the offline engine is announced as an information line, not as red stderr
        assert not [m for m in msgs if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"], msgs
        (note,) = [d for d in _shown(msgs) if "offline engine" in d["text/plain"]]
        assert note["text/plain"].startswith(
            "ℹ No OPENAI_API_KEY set: using the offline engine at http://127.0.0.1:"
        )
        assert "role='note'" in note["text/html"]
        assert kernel.value("loaded_before") == "False"
        reply, msgs = kernel.run("r")
        assert reply["status"] == "ok", msgs
        shown, twin = _shown(msgs)  # the live view, then its static twin for the saved notebook
        assert twin["text/plain"].startswith("Static picture of Gallery(") and "image/png" in twin
        assert shown["text/plain"].startswith("Gallery(")
        assert "application/vnd.jupyter.widget-view+json" in shown
        reply, msgs = kernel.run("b = batch(['a red kite', 'a blue kite'], size='256x256')\nb")
        assert reply["status"] == "ok", msgs
        bar, cards = (data["text/plain"] for data in _shown(msgs))
        assert bar.startswith("HBox(children=(IntProgress(") and cards.startswith("VBox(")
    finally:
        kernel.stop()
