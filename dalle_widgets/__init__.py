"""dalle-widgets: a DALL-E 2 style image workflow in Jupyter.

Generate, inpaint (edit a masked region), outpaint (extend past the borders) and
vary images from widgets, a ``%dalle`` magic or plain Python, against OpenAI, any
OpenAI-compatible endpoint, or the built-in offline engine.

Public names are imported lazily, so ``import dalle_widgets`` stays cheap and a
plain-Python user never pays for the widget or server stacks.

Imported in an IPython shell, the package also hands the display of results,
batches and batch progress to the widgets (:func:`attach_display`, by type name:
the widgets load on the first display, and the core modules never import them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._notebook import attach_display as attach_display
from ._version import __version__ as __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "ImagesClient": "dalle_widgets.client",
    "AsyncImagesClient": "dalle_widgets.client",
    "ImageResult": "dalle_widgets.results",
    "GeneratedImage": "dalle_widgets.results",
    "ImageEvent": "dalle_widgets.results",
    "open_image": "dalle_widgets.store",
    "Store": "dalle_widgets.store",
    "MaskEditor": "dalle_widgets.widgets",
    "OutpaintEditor": "dalle_widgets.widgets",
    "Gallery": "dalle_widgets.widgets",
    "MoodBoard": "dalle_widgets.widgets",
    "batch": "dalle_widgets.batching",
    "load_ipython_extension": "dalle_widgets.magics",
    "unload_ipython_extension": "dalle_widgets.magics",
}
_SUBMODULES = {
    "masks",
    "imaging",
    "outpaint",
    "errors",
    "models",
    "results",
    "store",
    "client",
    "engine",
    "widgets",
    "magics",
}

__all__ = sorted([*_EXPORTS, *_SUBMODULES, "__version__", "attach_display"])

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import errors, imaging, masks, models, outpaint  # noqa: F401


attach_display()


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"dalle_widgets.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'dalle_widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
