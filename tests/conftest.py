"""Shared test set-up.

Fixtures live in ``tests/fixtures/<topic>.py`` (one module per topic: the fake
OpenAI server, the offline engine server, the JupyterLab + browser harness...) and
are loaded here as plugins, so each topic owns its own file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fixtures import PROVIDER_ENV

pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}"
    for p in (Path(__file__).parent / "fixtures").glob("*.py")
    if not p.name.startswith("_")
)

# ``browser_notebooks/*.py`` are the sources of notebooks the browser tests open in a kernel;
# ``--doctest-modules`` must not import them here (they set up a kernel's environment).
collect_ignore = ["browser_notebooks"]


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every test gets its own store directory and never sees a real key or endpoint."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "dalle-home"
    monkeypatch.setenv("DALLE_WIDGETS_HOME", str(home))
    return home


def pytest_report_header(config: pytest.Config) -> str:
    return f"dalle-widgets tests; DALLE_WIDGETS_HOME per test; cwd {os.getcwd()}"
