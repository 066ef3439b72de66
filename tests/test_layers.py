"""Lower never imports higher: the layer map of docs/development.md, enforced on every import.

The map is read from the page itself (the ``text`` block of its "Layers" section),
so the page and the rule cannot drift apart. Every import statement under
``dalle_widgets/`` counts: at module level, inside a function, under
``TYPE_CHECKING``. A module may import its own layer and the layers below it.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "development.md"
PACKAGE = "dalle_widgets"
#: ``dalle_widgets/__init__.py`` only re-exports, lazily, from every layer: it sits above the map.
TOP = 6

# Imports that point up a layer and are allowed for now: (importing module, imported module) -> why.
# An entry that no longer occurs fails test_known_exceptions_still_occur: delete it in the change
# that removes the import.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}


def layer_map(page: Path = PAGE) -> dict[str, int]:
    """``{top-level module or package: layer}`` from the page's layer table."""
    text = page.read_text()
    section = re.search(r"^## Layers.*?^```text\n(.*?)^```", text, flags=re.S | re.M)
    assert section, f"{page.name} has no ```text block in a '## Layers' section"
    layers: dict[str, int] = {}
    for line in section.group(1).splitlines():
        row = re.fullmatch(r"\s*(\d)\s+\S.*?\s{2,}(\S.*)", line)
        assert row, f"{page.name}: a layer row reads 'N  what it does  a · b/ · c'; got {line!r}"
        for name in row.group(2).split("·"):
            layers[name.strip().rstrip("/")] = int(row.group(1))
    return layers


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(root: Path, name: str) -> bool:
    rel = root.joinpath(*name.split("."))
    return rel.with_suffix(".py").is_file() or (rel / "__init__.py").is_file()


def imports(root: Path, path: Path) -> Iterator[tuple[int, str]]:
    """``(line, imported module)`` for every import of the package in one file, however nested."""
    module = _module_name(root, path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + [node.module or ""]).rstrip(".")
            else:
                base = node.module or ""
            # ``from . import masks`` imports the module ``masks``; ``from .x import name`` imports ``x``.
            targets = [
                f"{base}.{alias.name}" if _is_module(root, f"{base}.{alias.name}") else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                yield node.lineno, target


def layer_of(module: str, layers: dict[str, int]) -> int | None:
    parts = module.split(".")
    if len(parts) == 1:
        return TOP
    return layers.get(parts[1])


def upward_imports(root: Path, layers: dict[str, int]) -> list[tuple[str, str, str]]:
    """``(where, importer, imported)`` for every import that points to a higher layer."""
    found = []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        importer = _module_name(root, path)
        own = layer_of(importer, layers)
        for line, target in imports(root, path):
            theirs = layer_of(target, layers)
            if own is not None and theirs is not None and theirs > own:
                where = f"{path.relative_to(root)}:{line}"
                found.append((where, importer, target))
    return found


def _describe(found: list[tuple[str, str, str]], layers: dict[str, int]) -> str:
    return "\n".join(
        f"  {where}: {importer} (layer {layer_of(importer, layers)}) imports "
        f"{target} (layer {layer_of(target, layers)})"
        for where, importer, target in found
    )


def test_every_module_is_on_the_map() -> None:
    layers = layer_map()
    names = {p.name if p.is_dir() else p.stem for p in (ROOT / PACKAGE).iterdir()}
    modules = {n for n in names if _is_module(ROOT, f"{PACKAGE}.{n}") and n != "__init__"}
    missing = sorted(modules - set(layers))
    assert not missing, (
        f"dalle_widgets modules in no layer: {missing}. Add each to the table under "
        "'Layers' in docs/development.md, in the lowest layer that can hold it."
    )


def test_lower_never_imports_higher() -> None:
    layers = layer_map()
    found = [f for f in upward_imports(ROOT, layers) if (f[1], f[2]) not in KNOWN_EXCEPTIONS]
    assert not found, (
        "imports that point to a higher layer (docs/development.md, 'Layers'); move the code "
        "down, or pass what it needs in from above (a callback, a Protocol):\n" + _describe(found, layers)
    )


def test_known_exceptions_still_occur() -> None:
    occurring = {(importer, target) for _, importer, target in upward_imports(ROOT, layer_map())}
    stale = sorted(set(KNOWN_EXCEPTIONS) - occurring)
    assert not stale, f"these exceptions no longer occur; delete them from KNOWN_EXCEPTIONS: {stale}"


@pytest.mark.parametrize(
    "source",
    [
        "from .. import widgets\n",
        "def f():\n    from ..client import Client\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import dalle_widgets.store\n",
        "import dalle_widgets.engine.app as app\n",
    ],
    ids=["relative", "in-a-function", "type-checking", "absolute"],
)
def test_the_scan_sees_every_kind_of_import(tmp_path: Path, source: str) -> None:
    """A fake package: one upward import of each kind is reported with its file and line."""
    for package in ("dalle_widgets", "dalle_widgets/masks", "dalle_widgets/client", "dalle_widgets/widgets"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for module in ("store", "engine/__init__", "engine/app"):
        (tmp_path / "dalle_widgets" / module).parent.mkdir(exist_ok=True)
        (tmp_path / "dalle_widgets" / f"{module}.py").write_text("")
    # allowed: the same package, a lower layer
    (tmp_path / "dalle_widgets/masks/_ok.py").write_text("from . import _x\nfrom ..errors import E\n")
    (tmp_path / "dalle_widgets/masks/_bad.py").write_text(source)
    layers = {"masks": 1, "errors": 1, "store": 2, "client": 3, "engine": 3, "widgets": 5}
    found = upward_imports(tmp_path, layers)
    assert len(found) == 1, found
    where, importer, target = found[0]
    assert where == f"dalle_widgets/masks/_bad.py:{source.count(chr(10))}"
    assert importer == "dalle_widgets.masks._bad"
    assert target.split(".")[1] in {"widgets", "client", "store", "engine"}


def test_the_map_has_five_layers_from_the_bottom_up() -> None:
    layers = layer_map()
    assert sorted(set(layers.values())) == [1, 2, 3, 4, 5]
    assert layers["masks"] == 1 and layers["store"] == 2 and layers["client"] == 3
    assert layers["batching"] == 4 and layers["widgets"] == 5


def test_store_and_client_do_not_import_each_other() -> None:
    """The store (2) knows nothing of the client (3), not even lazily: no cycle between them."""
    store = ROOT / PACKAGE / "store.py"
    assert [t for _, t in imports(ROOT, store) if t.startswith(f"{PACKAGE}.client")] == []


_FRESH = """
import sys
{before}
import dalle_widgets.store, dalle_widgets.client, dalle_widgets.batching, dalle_widgets.outpaint
print(sorted(m for m in ("ipywidgets", "ipycanvas", "dalle_widgets.widgets") if m in sys.modules))
{after}
"""
_SHELL = "from IPython.core.interactiveshell import InteractiveShell\nshell = InteractiveShell.instance()"
_DISPLAY = """
deferred = shell.display_formatter.ipython_display_formatter.deferred_printers
assert ("dalle_widgets.results", "ImageResult") in deferred, deferred
from PIL import Image
from dalle_widgets import _png
from dalle_widgets.results import GeneratedImage, ImageResult
png = _png.encode(Image.new("RGB", (8, 8)))
shell.display_formatter.format(ImageResult([GeneratedImage(png)], operation="generate", model="m"))
print("dalle_widgets.widgets._display" in sys.modules)
"""


@pytest.mark.parametrize(("before", "after"), [("", ""), (_SHELL, _DISPLAY)], ids=["python", "ipython"])
def test_the_core_loads_without_the_widgets(before: str, after: str) -> None:
    """In a fresh interpreter, plain or with an IPython shell, the core imports no widget code.

    In the shell, the widgets' view of a result is registered by name and loads on its first display.
    """
    code = textwrap.dedent(_FRESH.format(before=before, after=after))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "[]", out.stdout
    if after:  # displayed (the terminal shows the result's repr), through the widgets' view
        shown = ["<ImageResult 1 x ? generate by m, cost unknown>", "True"]
        assert lines[-2:] == shown, out.stdout + out.stderr
