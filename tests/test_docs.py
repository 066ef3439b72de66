"""The documentation site and the notebooks, as a newcomer meets them.

- the site builds with warnings as errors, and its API reference documents every
  public name of every module present in this checkout;
- the mask pictures are drawn from ``dalle_widgets.masks`` and show what it does;
- nothing in the docs or the notebooks tells anyone to type a key into a cell;
- the saved notebooks stay small, carry no error output, and each has its guide page.
"""

from __future__ import annotations

import builtins
import doctest
import importlib
import json
import re
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import dalle_widgets

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
sys.path.insert(0, str(DOCS))
sys.path.insert(0, str(DOCS / "_scripts"))

import conf  # noqa: E402  (docs/conf.py: which pages need which modules)


def _inventory(path: Path) -> set[str]:
    """Object names (``py:function dalle_widgets.masks.grow`` ...) from a Sphinx objects.inv."""
    data = path.read_bytes()
    body = data.split(b"\n", 4)[4]
    names = set()
    for line in zlib.decompress(body).decode().splitlines():
        name, role = line.split(" ", 2)[:2]
        names.add(f"{role} {name}")
    return names


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-E", "-b", "html", str(DOCS), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, f"sphinx-build -W failed:\n{proc.stdout}\n{proc.stderr}"
    return out


@pytest.mark.slow
def test_site_builds_and_documents_every_public_name(built_site: Path) -> None:
    documented = _inventory(built_site / "objects.inv")
    missing = []
    for name, module in dalle_widgets._EXPORTS.items():
        short = module.rsplit(".", 1)[-1]
        if not conf.module_present(short):
            continue
        if not any(entry.endswith(f" {module}.{name}") for entry in documented):
            missing.append(f"{module}.{name}")
    for short in ("masks", "imaging", "outpaint", "errors", "models", "pricing", "store"):
        if not conf.module_present(short):
            continue
        module = importlib.import_module(f"dalle_widgets.{short}")
        for name in getattr(module, "__all__", []):
            if not callable(getattr(module, name)):
                continue  # autodoc documents module data only when it has a #: doc comment
            if not any(entry.endswith(f" {module.__name__}.{name}") for entry in documented):
                missing.append(f"{module.__name__}.{name}")
    assert not missing, f"public names missing from the API reference: {missing}"


@pytest.mark.slow
@pytest.mark.skipif(not conf.module_present("masks"), reason="dalle_widgets.masks is not in this checkout")
def test_mask_functions_render_parameters_and_returns(built_site: Path) -> None:
    """napoleon turns each numpydoc section into a field list, and no parameter type links elsewhere.

    Sphinx cross-references every word of a parameter's type and, failing an exact match,
    links any object whose name ends with it ("shape" -> ``OutpaintCanvas.shape``): the
    types of the masks page are written so that none of their words does.
    """
    from dalle_widgets import masks

    html = (built_site / "api" / "masks.html").read_text()
    for name in masks.__all__:
        start = html.index(f'id="dalle_widgets.masks.{name}"')
        end = html.find('<dl class="py function">', start)
        block = html[start : end if end != -1 else len(html)]
        fields = re.findall(r'<dt class="field-\w+">(\w[\w ]*)<span class="colon">', block)
        assert fields[:2] == ["Parameters", "Returns"], f"{name}: {fields}"
        # "<strong>name</strong> (type) – description" (a list item each, or one paragraph)
        entries = re.findall(r"<p><strong>[\w*]+</strong> \((.*?)</p>", block, flags=re.S)
        assert entries, f"{name}: no typed parameters rendered"
        types = [entry.split(") – ")[0] for entry in entries]
        linked = [t for t in types if "reference internal" in t]
        assert not linked, f"{name}: a parameter type links elsewhere: {linked}"


@pytest.mark.slow
def test_pages_of_present_modules_are_real(built_site: Path) -> None:
    """A page is only ever a 'not part of this checkout' note when its module is really absent."""
    for docname, needed in conf.PAGE_NEEDS.items():
        html = (built_site / f"{docname}.html").read_text()
        placeholder = "not part of this checkout yet" in html
        assert placeholder == (not all(conf.module_present(m) for m in needed)), docname


@pytest.mark.skipif(not conf.module_present("masks"), reason="dalle_widgets.masks is not in this checkout")
def test_mask_pictures_show_what_masks_does(tmp_path: Path) -> None:
    import mask_figures

    from dalle_widgets import masks

    paths = mask_figures.main(tmp_path)
    assert sorted(p.stem for p in paths) == ["mask-forms", "mask-inputs", "mask-shapes", "mask-transforms"]
    for path in paths:
        with Image.open(path) as img:
            assert img.size == (
                4 * (mask_figures.SIZE + mask_figures.PAD) + mask_figures.PAD,
                mask_figures.SIZE + 2 * mask_figures.PAD + mask_figures.LABEL_H,
            )
    # The fourth panel of mask-forms is to_rgba over a checkerboard: the kept pixels are the image's own.
    sheet = np.asarray(Image.open(tmp_path / "mask-forms.png").convert("RGB"))
    image = mask_figures.sample_image()
    x0 = mask_figures.PAD + 3 * (mask_figures.SIZE + mask_figures.PAD)
    panel = sheet[mask_figures.PAD : mask_figures.PAD + mask_figures.SIZE, x0 : x0 + mask_figures.SIZE]
    kept = ~masks.from_image(masks.to_rgba(image, _figure_mask(image)))
    np.testing.assert_array_equal(panel[kept], image[kept])


def _figure_mask(image: np.ndarray) -> np.ndarray:
    from dalle_widgets import masks

    shape = image.shape[:2]
    sky = masks.subtract(masks.rectangle(shape, (0, 0, 256, 140)), masks.ellipse(shape, (164, 30, 220, 86)))
    return masks.union(sky, masks.rectangle(shape, (60, 110, 146, 206)))


_PAGES_WITH_EXAMPLES = sorted(
    p for p in DOCS.rglob("*.md") if "_build" not in p.parts and ">>> " in p.read_text()
)


@pytest.mark.parametrize("page", _PAGES_WITH_EXAMPLES, ids=[p.name for p in _PAGES_WITH_EXAMPLES])
def test_examples_in_pages_run(page: Path) -> None:
    """The ``>>>`` examples of a docs page (its ``pycon`` blocks) run as doctests, like the docstrings'."""
    blocks = re.findall(r"^```pycon\n(.*?)^```", page.read_text(), flags=re.S | re.M)
    assert blocks, f"{page.name} has '>>> ' outside a pycon block"
    test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    # doctest shows values through sys.__displayhook__, which leaves ``builtins._`` behind;
    # IPython then never sets ``_`` in later shells of this process (the magic tests read it).
    had_underscore, saved = hasattr(builtins, "_"), getattr(builtins, "_", None)
    try:
        runner.run(test)
    finally:
        if had_underscore:
            builtins._ = saved
        elif hasattr(builtins, "_"):
            del builtins._
    results = runner.summarize(verbose=False)
    assert results.attempted > 0
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed in {page.name}"


# Patterns that would have a user type or paste a key into a cell or a command line kept in a notebook.
_KEY_IN_CELL = [
    re.compile(r"api_key\s*=\s*[\"']sk-"),
    re.compile(r"OPENAI_API_KEY[\"']\]\s*=\s*[\"']"),
    re.compile(r"%env\s+OPENAI_API_KEY\s*=?\s*\S"),
    re.compile(r"os\.environ\[[\"']OPENAI_API_KEY[\"']\]\s*="),
    re.compile(r"\bsk-[A-Za-z0-9]{8,}"),
]


def _doc_sources() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts) + [ROOT / "binder" / "README.md"]


def test_docs_never_put_a_key_in_a_cell() -> None:
    for path in _doc_sources():
        text = path.read_text()
        for pattern in _KEY_IN_CELL:
            assert not pattern.search(text), f"{path.relative_to(ROOT)} matches {pattern.pattern}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_small_clean_and_keyless(path: Path) -> None:
    assert path.stat().st_size < 1_000_000, f"{path.name} is {path.stat().st_size} bytes; keep it under 1 MB"
    nb = json.loads(path.read_text())
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        for pattern in _KEY_IN_CELL:
            assert not pattern.search(source), f"{path.name}: a cell matches {pattern.pattern}"
        for output in cell.get("outputs", []):
            expected = "raises-exception" in cell.get("metadata", {}).get("tags", [])
            assert output.get("output_type") != "error" or expected, f"{path.name}: saved error output"
            text = json.dumps(output)
            assert not re.search(r"\bsk-[A-Za-z0-9]{8,}", text)
            assert "Traceback (most recent call last)" not in text, f"{path.name}: a traceback was saved"
            # a saved live-widget view has no model until the cell runs again: JupyterLab would show
            # "Error displaying widget: model not found" instead of the static picture beside it
            assert "application/vnd.jupyter.widget-view+json" not in output.get("data", {}), (
                f"{path.name}: a saved widget view; run docs/_scripts/refresh_notebooks.py"
            )
            # a picture is saved once (IPython stores a PIL image as PNG and as JPEG; the script keeps one)
            assert not {"image/png", "image/jpeg"} <= set(output.get("data", {})), (
                f"{path.name}: a picture saved as PNG and JPEG; run docs/_scripts/refresh_notebooks.py"
            )


def test_every_notebook_has_its_guide_page() -> None:
    guide = (DOCS / "guide" / "index.md").read_text()
    assert [p.name for p in NOTEBOOKS] == [
        "01-quickstart.ipynb",
        "02-inpainting.ipynb",
        "03-outpainting.ipynb",
        "04-variations-and-mood-board.ipynb",
        "05-endpoints.ipynb",
        "06-gpt-image.ipynb",
    ]
    for path in NOTEBOOKS:
        assert f"`{path.name}`" in guide, f"docs/guide/index.md does not mention {path.name}"


def test_quickstart_points_to_every_other_notebook() -> None:
    nb = json.loads((ROOT / "notebooks" / "01-quickstart.ipynb").read_text())
    last = "".join(nb["cells"][-1]["source"])
    assert last.startswith("## Next"), "the quickstart ends with its 'Next' list"
    for path in NOTEBOOKS[1:]:
        assert f"`{path.name}`" in last, f"the quickstart's 'Next' list does not name {path.name}"
