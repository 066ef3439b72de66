"""Re-make the docs' widget screenshots from the current widgets, in JupyterLab and headless Chromium.

Usage: ``.venv/bin/python docs/_scripts/screenshots.py [gallery] [mask-editor] [outpaint-plan]``
(default: all three), from the repository root.

Each scene is a small notebook run on the offline engine (no key, fixed seeds) in the browser
tests' JupyterLab harness (``tests/fixtures/lab.py``: a private JupyterLab on 127.0.0.1, Debian's
Chromium through Playwright, no network). The widget is driven to the state the docs describe,
screenshotted as an element, and written to ``docs/_static/screenshots/<name>.png`` as a palette
PNG (a few tens of KB instead of a few hundred). Look at the files after running it: the captions
in ``docs/index.md``, ``docs/guide/*.md`` and ``README.md`` describe what is on them.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fixtures.lab import LabPage, chromium, new_context, notebook_from_py, running_lab  # noqa: E402

OUT = ROOT / "docs" / "_static" / "screenshots"
#: Palette size of the written PNGs: widgets are flat colours; the pictures in them dither well.
COLOURS = 192

GALLERY = """
# %%
from dalle_widgets.client import default_client
from dalle_widgets.widgets import Gallery
from dalle_widgets.widgets._display import result_title

result = default_client().generate("a watercolor fox in a forest", n=4, size="512x512", seed=7)
g = Gallery(result, title=result_title(result), columns=4, thumb_px=200)  # as a result shows itself
g
"""

MASK_EDITOR = """
# %%
from dalle_widgets.client import default_client
from dalle_widgets.widgets import MaskEditor

base = default_client().generate("a harbour with boats at dawn", size="512x512", seed=5)[0]
editor = MaskEditor(base, prompt="a red boat", n=2, size="512x512", display_px=512)
editor.paint([(150, 400), (230, 420), (330, 415), (400, 400)], size=56)
editor
"""

OUTPAINT = """
# %%
from dalle_widgets.client import default_client
from dalle_widgets.widgets import OutpaintEditor

base = default_client().generate("a harbour town at dusk", size="512x512", seed=5)[0]
ed = OutpaintEditor(base, display_px=768, prompt="a harbour town at dusk, wide panorama")
ed.set_margins(left=256, right=768)
ed
"""


def _gallery(lab: LabPage) -> Any:
    """Four tiles, the Generate bar, tile #0's provenance open and its variations beneath."""
    page = lab.page
    gallery = page.locator(".dalle-gallery").first
    gallery.wait_for()
    lab.eval("g.vary(0)")
    lab.wait_for("len(g.lineage.get(0, [])) and len(g.lineage[0][0].images) == 3", timeout=300)
    gallery.locator(".dalle-info").first.click()
    gallery.locator(".dalle-provenance", has_text="prompt").first.wait_for()
    page.locator(".dalle-gallery .dalle-gallery .dalle-tile img").nth(2).wait_for()
    return gallery


def _mask_editor(lab: LabPage) -> Any:
    """A brush stroke over the image (the mask tinted), two runs of two candidates in the staging area."""
    page = lab.page
    editor = page.locator(".dalle-mask-editor").first
    editor.locator(".dalle-mask-canvas").first.wait_for()
    for want in (2, 4):
        lab.eval("editor.generate()")
        lab.wait_for(f"len(editor.staging) == {want} and not editor._tasks.running", timeout=300)
    return editor


def _outpaint(lab: LabPage) -> Any:
    """Margins set, the new area checkered, the frame plan numbered, the price before anything is sent."""
    editor = lab.page.locator(".dalle-outpaint-editor").first
    canvas = editor.locator(".dalle-outpaint-canvas").first
    canvas.wait_for()
    deadline = time.monotonic() + 60
    while (box := canvas.bounding_box()) and box["width"] < 2.9 * box["height"]:
        if time.monotonic() > deadline:
            raise TimeoutError("the outpaint canvas never took the 3:1 shape")
        time.sleep(0.2)
    return editor


SCENES: dict[str, tuple[str, Callable[[LabPage], Any]]] = {
    "gallery": (GALLERY, _gallery),
    "mask-editor": (MASK_EDITOR, _mask_editor),
    "outpaint-plan": (OUTPAINT, _outpaint),
}


def optimise(png: bytes) -> bytes:
    """The screenshot as a palette PNG (``COLOURS`` colours, Floyd-Steinberg), maximally compressed."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    palette = image.quantize(COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    out = io.BytesIO()
    palette.save(out, "PNG", optimize=True)
    return out.getvalue()


def shoot(lab: LabPage, name: str) -> Path:
    """Run scene ``name`` in a fresh notebook, bring the widget to its state, write its PNG."""
    source, drive = SCENES[name]
    lab.name = f"docs-{name}-{int(time.time())}.ipynb"
    (lab.server.root / lab.name).write_text(json.dumps(notebook_from_py(source), indent=1))
    lab.goto()
    # the file browser folded away: the notebook (and the widget) get the window's width
    lab.page.evaluate("() => { const s = window.jupyterapp.shell; if (!s.leftCollapsed) s.collapseLeft(); }")
    lab.run_all()
    widget = drive(lab)
    lab.page.mouse.move(2, 2)  # no hover state in the picture
    time.sleep(1.0)  # the canvas's last draw commands reach the page
    widget.evaluate("(e) => e.scrollIntoView({block: 'start', inline: 'nearest'})")
    path = OUT / f"{name}.png"
    path.write_bytes(optimise(widget.screenshot()))
    return path


def main(names: list[str]) -> int:
    from playwright import sync_api

    unknown = [n for n in names if n not in SCENES]
    if unknown:
        sys.stderr.write(f"unknown scene(s) {unknown}; choose from {sorted(SCENES)}\n")
        return 2
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_lab(Path(tmp)) as server,
        chromium(sync_api) as browser,
    ):
        for name in names or list(SCENES):
            context = new_context(browser)
            page = context.new_page()
            lab = LabPage(page, server, f"docs-{name}")
            try:
                path = shoot(lab, name)
            except Exception:
                page.screenshot(path=str(Path(tmp).parent / f"docs-{name}-failed.png"))
                raise
            finally:
                context.close()
                # like the lab_page fixture: the next scene starts from an empty workspace, no kernels
                for saved in (server.runtime.parent / "workspaces").glob("*"):
                    saved.unlink(missing_ok=True)
                for session in server.api("/api/sessions"):
                    server.api(f"/api/sessions/{session['id']}", method="DELETE")
            size = Image.open(path).size
            kb = path.stat().st_size / 1024
            sys.stdout.write(f"{path.relative_to(ROOT)}: {size[0]}x{size[1]}, {kb:.0f} KB\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
