"""``dalle-widgets serve`` as a real process, and the in-process background engine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from dalle_widgets.engine import background

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.mark.timeout(120)
def test_serve_prints_how_to_connect_and_speaks_openai() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dalle_widgets", "serve", "--port", "0", "--token", "tok-123"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    )
    try:
        banner = []
        for line in proc.stdout:
            banner.append(line)
            if "Ctrl+C" in line:
                break
        text = "".join(banner)
        base_url = re.search(r"export OPENAI_BASE_URL=(\S+)", text).group(1)
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        assert "OPENAI_API_KEY=tok-123" in text and "curl" in text and "OpenAI(" in text
        sdk = OpenAI(base_url=base_url, api_key="tok-123", max_retries=0)
        result = sdk.images.generate(
            model="dall-e-2", prompt="a lake", size="256x256", response_format="b64_json"
        )
        assert len(result.data) == 1
        assert httpx.get(base_url + "/models").status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_cli_errors() -> None:
    run = [sys.executable, "-m", "dalle_widgets"]
    bad = subprocess.run([*run, "frobnicate"], capture_output=True, text=True, env=_env())
    assert bad.returncode == 2 and "unknown command" in bad.stderr
    nope = subprocess.run(
        [*run, "serve", "--backend", "nope", "--port", "0"], capture_output=True, text=True, env=_env()
    )
    assert nope.returncode == 2 and "unknown engine backend 'nope'" in nope.stderr
    helped = subprocess.run([*run, "serve", "--help"], capture_output=True, text=True, env=_env())
    assert helped.returncode == 0 and "--token" in helped.stdout


def test_start_background_is_idempotent_and_restartable() -> None:
    background.stop_background()
    first = background.start_background(token="abc-token-1")
    try:
        assert background.start_background() is first
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", first.base_url)
        assert first.token == "abc-token-1"
        assert "abc-token-1" not in repr(first)
        r = httpx.get(first.base_url + "/models", headers={"Authorization": "Bearer abc-token-1"})
        assert r.json()["data"][0]["id"] == "dall-e-2"
    finally:
        background.stop_background()
    assert not first.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(first.url + "/health", timeout=5)
    second = background.start_background()
    try:
        assert second is not first and second.token and len(second.token) >= 24
        assert httpx.get(second.url + "/health").status_code == 200
    finally:
        background.stop_background()


def test_private_engine_refuses_a_busy_port(offline_engine) -> None:
    from dalle_widgets.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="could not bind"):
        background.BackgroundEngine.start(port=offline_engine.port)
