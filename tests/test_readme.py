"""The README's promises: two set-up commands first, and a tour whose code runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fixtures.magic import Shell

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.S | re.M)


def test_readme_starts_with_exactly_two_setup_commands() -> None:
    first_block = README.split("```bash\n", 1)[1].split("```", 1)[0]
    assert README.index("```bash") < 40, "the set-up commands come first"
    commands = [line.split("#", 1)[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["bash scripts/lab.sh", "bash scripts/test.sh"]
    for command in commands:
        assert (ROOT / command.split()[1]).is_file()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "README.md" in ci and "scripts/test.sh" not in ci, ".ci/run reads the command, never copies it"


def test_tour_magic_lines_run_offline(ipshell: Shell) -> None:
    load, generate, dry_run = code_blocks("python")[0].splitlines()
    assert ipshell.run(load).error is None
    run = ipshell.run(generate.split("#", 1)[0])
    assert run.error is None, run.printed
    result = ipshell.ns["_"]
    assert len(result) == 4 and result[0].image.size == (512, 512)
    run = ipshell.run(dry_run.split("#", 1)[0])
    assert run.error is None, run.printed
    shown = run.printed + "".join(run.texts())
    assert "dall-e-2" in shown and "$0.0" in shown, shown


def test_tour_python_block_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code_blocks("python")[1], "README.md", "exec"), namespace)  # noqa: S102 - our own README
    fox, edited, variations = namespace["fox"], namespace["edited"], namespace["variations"]
    assert Path(fox.path).is_file()
    assert edited[0].info["operation"] == "edit" and len(variations) == 3
    assert (tmp_path / "my-board").is_dir()


def test_every_demo_notebook_is_in_the_readme_table() -> None:
    listed = set(re.findall(r"^\| \[`([\w-]+)`\]\(notebooks/\1\.ipynb\) \|", README, re.M))
    shipped = {path.stem for path in (ROOT / "notebooks").glob("*.ipynb")}
    assert shipped <= listed, f"notebooks missing from the README's table: {sorted(shipped - listed)}"
