"""Sphinx configuration for the dalle-widgets documentation.

Built by the test command with warnings as errors::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Pages are Markdown (MyST). The API reference is generated from the package's
numpydoc docstrings (autodoc + napoleon). The pictures on the mask conventions
page are drawn at build time by ``docs/_scripts/mask_figures.py`` from
``dalle_widgets.masks`` itself, so they can never drift from the code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_scripts"))

# Importing the package must never reach a provider while the docs build.
for _name in (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "OPENAI_API_VERSION",
):
    os.environ.pop(_name, None)

from dalle_widgets import __version__  # noqa: E402

project = "dalle-widgets"
author = "dalle-widgets developers"
copyright = "2026, dalle-widgets developers"  # noqa: A001 - Sphinx's name
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_scripts", "Thumbs.db", ".DS_Store", "README.md"]
templates_path: list[str] = []

myst_enable_extensions = ["colon_fence", "deflist", "fieldlist", "attrs_inline"]
myst_heading_anchors = 3

# numpydoc-style docstrings, rendered by napoleon.
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_typehints_description_target = "documented"
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
autoclass_content = "both"
# Type words of numpydoc parameter lists ("image : path, bytes or PIL.Image") become cross-references,
# and a word such as "path" or "box" matches attributes of several classes. Those ambiguity warnings
# say nothing about the docs; unresolvable references are not reported anyway (nitpicky is off).
suppress_warnings = ["ref.python"]

html_theme = "alabaster"
html_title = f"dalle-widgets {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "description": "Generate, inpaint, outpaint and vary images in Jupyter, online or fully offline.",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "240px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}

# ---------------------------------------------------------------------------
# Pages that depend on a module of the package.
#
# The package is built in parts that land one after another. A page that documents
# a module which is not in this checkout at all is replaced by a short note, so the
# docs of a partial checkout still build with -W. A module that *exists* but fails
# to import is a real error: autodoc reports it and the -W build fails.
# ---------------------------------------------------------------------------
PAGE_NEEDS: dict[str, tuple[str, ...]] = {
    "api/masks": ("masks",),
    "api/imaging": ("imaging",),
    "api/outpaint": ("outpaint",),
    "api/client": ("client",),
    "api/results": ("results",),
    "api/store": ("store",),
    "api/engine": ("engine",),
    "api/widgets": ("widgets",),
    "api/magics": ("magics", "batching"),
    "api/pricing": ("pricing",),
    "masks": ("masks",),
}


def module_present(name: str) -> bool:
    """Whether ``dalle_widgets.<name>`` exists in this checkout (as a module or a package)."""
    base = ROOT / "dalle_widgets"
    return (base / f"{name}.py").is_file() or (base / name / "__init__.py").is_file()


def _missing(docname: str) -> list[str]:
    return [m for m in PAGE_NEEDS.get(docname, ()) if not module_present(m)]


def _placeholder_if_missing(app, docname: str, source: list[str]) -> None:  # noqa: ANN001
    missing = _missing(docname)
    if not missing:
        return
    title = source[0].splitlines()[0] if source[0].strip() else f"# {docname}"
    names = ", ".join(f"`dalle_widgets.{m}`" for m in missing)
    source[0] = (
        f"{title}\n\n:::{{note}}\nThis page documents {names}, which is not part of this checkout yet.\n:::\n"
    )


def _draw_mask_figures(app) -> None:  # noqa: ANN001
    out = DOCS / "_generated"
    out.mkdir(exist_ok=True)
    if not module_present("masks"):
        return
    import mask_figures

    mask_figures.main(out)


def _init_signature(app, what, name, obj, options, signature, return_annotation):  # noqa: ANN001, ANN202
    """Show a widget's real constructor signature instead of traitlets' ``(*args, **kwargs)``."""
    if what != "class" or signature != "(*args, **kwargs)":
        return None
    import inspect

    try:
        sig = inspect.signature(obj.__init__)
    except (TypeError, ValueError):
        return None
    # annotations are strings here (``from __future__ import annotations``): the docstring has the types
    params = [p.replace(annotation=inspect.Parameter.empty) for n, p in sig.parameters.items() if n != "self"]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty)), None


def setup(app):  # noqa: ANN001, ANN201
    app.connect("builder-inited", _draw_mask_figures)
    app.connect("autodoc-process-signature", _init_signature)
    app.connect("source-read", _placeholder_if_missing)
    return {"parallel_read_safe": True}
