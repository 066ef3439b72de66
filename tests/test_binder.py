"""The Binder environment, rebuilt from ``binder/`` the way Binder builds it.

Binder (repo2docker) does, for a repository with a ``binder/`` folder holding
``runtime.txt`` and ``requirements.txt``:

1. create one environment with the Python of ``runtime.txt`` and its base
   packages (JupyterLab 4, Notebook 7, ipywidgets 8, Jupyter Server 2);
2. copy the repository (a local reference such as ``.`` in requirements.txt
   makes it copy everything first) and, from the repository root, run
   ``pip install --no-cache-dir -r binder/requirements.txt``;
3. run ``binder/postBuild`` if there is one (ours installs JupyterLab defaults: no news prompt);
4. start JupyterLab, which opens ``notebooks/01-quickstart.ipynb`` from the
   launch URL.

The slow test does the same in a fresh virtual environment (pip stands in for
conda for the base packages, and pip's cache is allowed, to spare the network
on re-runs), then checks that the widget extensions are visible to JupyterLab
and executes the quickstart notebook in a kernel of that environment, with no
key, no ``PYTHONPATH`` and a fresh home, as a Binder visitor would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
QUICKSTART = "notebooks/01-quickstart.ipynb"

# What repo2docker's base environment installs (its environment.yml), before the repository is looked at.
BASE_PACKAGES = ["jupyterlab==4.*", "notebook==7.*", "ipywidgets==8.*", "jupyter_server==2.*"]
NETWORK_TROUBLE = re.compile(
    r"Failed to establish a new connection|Temporary failure in name resolution|"
    r"Network is unreachable|ConnectTimeoutError|No route to host"
)


def _runtime_version() -> str:
    text = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(3\.\d+)", text)
    assert match, f"binder/runtime.txt must read like 'python-3.11', not {text!r}"
    return match.group(1)


def test_binder_files_are_consistent() -> None:
    """Cheap checks: what Binder reads is there and points at the quickstart."""
    requirements = (BINDER / "requirements.txt").read_text().splitlines()
    lines = [line.split("#", 1)[0].strip() for line in requirements]
    lines = [line for line in lines if line]
    # The package itself must be installed from the repository root (Binder ignores pyproject.toml).
    assert any(line.startswith(".") for line in lines), lines
    assert not (ROOT / ".binder").exists(), "never have both binder/ and .binder/"

    version = _runtime_version()
    pyproject = (ROOT / "pyproject.toml").read_text()
    minimum = re.search(r'requires-python\s*=\s*">=(3\.\d+)"', pyproject)
    assert minimum and tuple(map(int, version.split("."))) >= tuple(map(int, minimum.group(1).split(".")))

    readme = (BINDER / "README.md").read_text()
    assert f"urlpath=lab/tree/{QUICKSTART}" in readme
    assert (ROOT / QUICKSTART).is_file()

    post_build = BINDER / "postBuild"
    if post_build.exists():
        assert post_build.read_text().startswith("#!"), "postBuild needs a shebang line"


def _copy_checkout(dest: Path) -> None:
    """The files a clone of this checkout would have (tracked, plus new files not ignored)."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def _clean_env(home: Path, venv: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "DALLE_WIDGETS_", "PYTHON", "VIRTUAL_ENV", "JUPYTER", "PIP_"))
    }
    env["HOME"] = str(home)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["NO_PROXY"] = "127.0.0.1,localhost"
    # Keep pip's cache where the developer's is, so a re-run does not download everything again.
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    return env


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        if cmd[1:3] == ["-m", "pip"] and NETWORK_TROUBLE.search(output):
            pytest.skip("the package registry is unreachable: cannot build the Binder environment")
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output[-4000:]}")
    return output


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_binder_environment_runs_the_quickstart(tmp_path: Path) -> None:
    version = _runtime_version()
    python = shutil.which(f"python{version}") or (
        sys.executable if f"{sys.version_info.major}.{sys.version_info.minor}" == version else None
    )
    if python is None:
        pytest.skip(f"binder/runtime.txt asks for Python {version}, which is not installed here")

    repo, venv, home = tmp_path / "repo", tmp_path / "env", tmp_path / "home"
    home.mkdir()
    _copy_checkout(repo)
    env = _clean_env(home, venv)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]

    # 1. Binder's base environment.
    _run([python, "-m", "venv", str(venv)], cwd=tmp_path, env=env, timeout=300)
    _run([*pip, "install", "-q", *BASE_PACKAGES], cwd=tmp_path, env=env, timeout=1200)
    # 2. The repository's requirements, from the repository root, exactly as Binder runs it
    #    (less --no-cache-dir, see the module docstring).
    _run([*pip, "install", "-q", "-r", "binder/requirements.txt"], cwd=repo, env=env, timeout=1200)
    # 3. postBuild, if any.
    post_build = repo / "binder" / "postBuild"
    if post_build.exists():
        post_build.chmod(0o755)
        _run(["./binder/postBuild"], cwd=repo, env=env, timeout=600)

        overrides = venv / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
        settings = json.loads(overrides.read_text())["@jupyterlab/apputils-extension:notification"]
        assert settings["fetchNews"] == "false"

    # The package comes from the environment, not from the checkout.
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import dalle_widgets; print(dalle_widgets.__file__)"],
        cwd=home,
        env=env,
        timeout=120,
    )
    assert str(venv) in where, where

    # 4. JupyterLab sees the widget front-ends (they ship inside the wheels: no build step).
    extensions = _run([str(venv / "bin" / "jupyter"), "labextension", "list"], cwd=home, env=env, timeout=120)
    extensions = re.sub(r"\x1b\[[0-9;]*m", "", extensions)  # drop colours
    for name in ("@jupyter-widgets/jupyterlab-manager", "ipycanvas", "ipyevents"):
        assert re.search(rf"{re.escape(name)}\S* v\S+ enabled", extensions), f"{name} missing:\n{extensions}"

    # The quickstart runs top to bottom in a kernel of that environment, from its own folder.
    out = tmp_path / "executed.ipynb"
    _run(
        [
            str(venv / "bin" / "jupyter"),
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--ExecutePreprocessor.timeout=600",
            "--ExecutePreprocessor.kernel_name=python3",
            "--output",
            str(out),
            Path(QUICKSTART).name,
        ],
        cwd=repo / "notebooks",
        env=env,
        timeout=1500,
    )
    executed = json.loads(out.read_text())
    texts = []
    for cell in executed["cells"]:
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", output
            # stream text, and display data: the offline notice is an information line (text/plain)
            for text in (output.get("text", ""), output.get("data", {}).get("text/plain", "")):
                texts.append(text if isinstance(text, str) else "".join(text))
    assert "offline engine" in "".join(texts)
    # Images were written to the visitor's store.
    assert list((home / ".dalle_widgets").rglob("*.png"))
