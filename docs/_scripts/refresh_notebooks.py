"""Re-execute the demo notebooks offline and keep only outputs that render without a kernel.

Usage: ``.venv/bin/python docs/_scripts/refresh_notebooks.py [--no-execute] [notebooks/NN-name.ipynb ...]``
(default: every notebook in ``notebooks/``).

Each notebook is executed in place with no key (the offline engine), without widget state or
timings. Then the live-widget part of every output (``application/vnd.jupyter.widget-view+json``)
is dropped, keeping the widget's static ``image/png`` snapshot and its ``text/plain`` line: a saved
widget view whose model is gone shows "Error displaying widget: model not found" in JupyterLab,
while the snapshot reads well there, on GitHub and on nbviewer. Running the cell brings the live
widget back. A picture shown as a cell's result (a PIL image) comes as both PNG and JPEG:
only the smaller of the two is kept, which halves what the notebooks weigh in git.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PROVIDER_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "OPENAI_API_VERSION",
)


def execute(path: Path) -> None:
    """Run ``path`` top to bottom in place on the offline engine."""
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_ENV}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--inplace",
            "--ExecutePreprocessor.store_widget_state=False",
            "--ExecutePreprocessor.record_timing=False",
            str(path),
        ],
        check=True,
        env=env,
        cwd=path.parent,
    )


def _is_static_twin(output: dict) -> bool:
    """The output a widget displays after its live view: a picture marked ``dalle-static``."""
    html = output.get("data", {}).get("text/html", "")
    return "dalle-static" in ("".join(html) if isinstance(html, list) else str(html))


def strip_widget_views(nb: nbformat.NotebookNode) -> int:
    """Drop live-widget views that have a static fallback; return how many were dropped.

    The fallback is in the same output (an ``image/png`` beside the view), or, as the
    widgets display it now, the next output of the cell (the static twin): then the
    live output goes as a whole and the twin stays.
    """
    dropped = 0
    for cell in nb.cells:
        outputs = cell.get("outputs", [])
        kept = []
        for k, output in enumerate(outputs):
            data = output.get("data", {})
            if WIDGET_VIEW in data and ("image/png" in data or "text/html" in data):
                del data[WIDGET_VIEW]
                dropped += 1
            elif WIDGET_VIEW in data and k + 1 < len(outputs) and _is_static_twin(outputs[k + 1]):
                dropped += 1
                continue
            kept.append(output)
        if "outputs" in cell:
            cell["outputs"] = kept
    nb.metadata.pop("widgets", None)
    return dropped


def keep_one_picture(nb: nbformat.NotebookNode) -> int:
    """Keep only the smaller of ``image/png`` and ``image/jpeg`` where an output has both.

    IPython stores a PIL image's PNG and JPEG forms side by side; every front end shows one.
    Returns how many bytes of base64 were dropped.
    """
    dropped = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data and "image/jpeg" in data:
                sizes = {mime: len("".join(data[mime])) for mime in ("image/png", "image/jpeg")}
                larger = max(sizes, key=lambda mime: sizes[mime])
                dropped += sizes[larger]
                del data[larger]
    return dropped


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--no-execute", action="store_true", help="only strip the widget views")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        if not args.no_execute:
            execute(path)
        nb = nbformat.read(path, as_version=4)
        dropped = strip_widget_views(nb)
        doubles = keep_one_picture(nb)
        nbformat.write(nb, path)
        sys.stdout.write(
            f"{path.name}: {dropped} widget views replaced by their static pictures, "
            f"{doubles / 1e3:.0f} KB of second copies of pictures dropped, "
            f"{path.stat().st_size / 1e3:.0f} KB\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
