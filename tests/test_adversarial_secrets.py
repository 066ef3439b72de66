"""The key never leaves the client: not in a message, a server-supplied field, a log record, a
chained library error, nor in the local variables a verbose traceback prints (``%xmode Verbose``
in a real IPython shell, and in a notebook executed by a real kernel and saved).

The key here does not look like an ``sk-`` key, so only the client's own knowledge of it can
redact it: a generic pattern would not.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import pytest

from dalle_widgets import errors
from tests.fixtures.fake_openai import Answer, error

KEY = "tok-LEAKME-0123456789abcdefXYZ"
PART = "LEAKME-0123456789abcdef"


def _envelope_200() -> Answer:
    return Answer(json={"error": {"message": f"Invalid key {KEY} for this project", "code": KEY}})


def _all_text(err: BaseException) -> str:
    """Everything an error exposes: str, repr, args, every attribute, its chain."""
    parts = []
    seen = 0
    while err is not None and seen < 10:
        parts += [str(err), repr(err), repr(err.args), repr(vars(err))]
        err = err.__cause__ or err.__context__
        seen += 1
    return "\n".join(parts)


def test_a_200_error_envelope_quoting_the_key_is_redacted(twin, fake_openai) -> None:
    fake_openai.queue(_envelope_200())
    with pytest.raises(errors.InvalidResponseError) as info:
        twin(api_key=KEY).generate("a fox", size="256x256")
    assert PART not in _all_text(info.value)


@pytest.mark.parametrize("status", [400, 401, 429, 500])
def test_every_server_field_of_an_error_is_redacted(twin, fake_openai, status) -> None:
    answer = error(status, f"bad {KEY}", code=KEY, type=f"type {KEY}", param=f"param {KEY}")
    answer.headers["x-request-id"] = f"req-{KEY}"
    answer.json["error"]["extra"] = {"nested": [{"deeper": KEY}]}
    fake_openai.queue(*[answer] * 3)
    with pytest.raises(errors.APIError) as info:
        twin(api_key=KEY, max_retries=0).generate("a fox", size="256x256")
    err = info.value
    assert PART not in _all_text(err)
    assert PART not in str((err.code, err.type, err.param, err.request_id, err.body))


def test_retry_logs_quote_no_server_supplied_key(twin, fake_openai, caplog) -> None:
    fake_openai.queue(error(500, "boom", code=KEY), _envelope_200())
    with caplog.at_level(logging.DEBUG, logger="dalle_widgets"), pytest.raises(errors.DalleWidgetsError):
        twin(api_key=KEY, max_retries=1).generate("a fox", size="256x256")
    assert "retry 1 of 1" in caplog.text and PART not in caplog.text


def test_a_chained_library_error_keeps_no_frames(twin) -> None:
    """httpx's frames hold the request's raw headers in their locals: they are dropped."""
    client = twin(api_key=KEY, base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(errors.APIConnectionError) as info:
        client.generate("a fox", size="256x256")
    cause = info.value.__cause__
    assert cause is not None and cause.__traceback__ is None
    assert PART not in _all_text(info.value)


def test_the_client_holds_the_key_only_in_forms_that_print_as_stars(twin) -> None:
    client = twin(api_key=KEY).client
    shown = repr(client._settings.api_key) + repr(client._headers()) + repr(vars(client._settings))
    assert PART not in shown and "***" in shown


# --- real shells: what a verbose traceback prints ----------------------------------------------------

_CELLS = """\
%xmode Verbose
from dalle_widgets.client import AsyncImagesClient, ImagesClient
client = ImagesClient(max_retries=0)
client.generate("a fox", size="256x256")
client.generate("a cat", size="256x256")
ImagesClient(base_url="http://127.0.0.1:9/v1", max_retries=0).generate("a cow", size="256x256")
import asyncio
asyncio.run(AsyncImagesClient(max_retries=0).generate("a dog", size="256x256"))
print("END-OF-SESSION")
"""


def _queue_hostile(fake) -> None:
    fake.queue(
        _envelope_200(), error(401, f"Incorrect API key provided: {KEY}", code=KEY), error(500, KEY, code=KEY)
    )


def _env(fake, home) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI"))}
    env.update(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=fake.base_url, DALLE_WIDGETS_HOME=str(home))
    return env


def test_xmode_verbose_in_a_real_ipython_shell_prints_no_key(fake_openai, tmp_path) -> None:
    _queue_hostile(fake_openai)
    proc = subprocess.run(
        [sys.executable, "-m", "IPython", "--simple-prompt", "--no-banner", "--colors=nocolor", "--quick"],
        input=_CELLS,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(fake_openai, tmp_path),
        cwd=tmp_path,
    )
    out = proc.stdout + proc.stderr
    assert "END-OF-SESSION" in out, out[-3000:]
    for name in ("InvalidResponseError", "AuthenticationError", "APIConnectionError", "ServerError"):
        assert name in out, f"{name} was not raised:\n{out[-3000:]}"
    assert "kwargs = " in out or "self = " in out, "the traceback did not print locals"
    assert PART not in out, out[max(0, out.find(PART) - 1500) : out.find(PART) + 200]


def test_xmode_verbose_in_a_saved_notebook_shows_no_key(fake_openai, tmp_path, monkeypatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    _queue_hostile(fake_openai)
    for name, value in _env(fake_openai, tmp_path).items():
        monkeypatch.setenv(name, value)
    cells = [line for line in _CELLS.splitlines() if line]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3").execute(
        cwd=str(tmp_path)
    )
    path = tmp_path / "leak.ipynb"
    nbformat.write(nb, path)
    saved = path.read_text()
    assert saved.count('"output_type": "error"') >= 4, textwrap.shorten(saved, 3000)
    assert "kwargs" in saved or "self" in saved
    assert PART not in saved
