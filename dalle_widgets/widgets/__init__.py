"""Notebook widgets: the mask editor, the outpaint editor, the gallery and the mood board.

Widgets hold view state only; masks, imaging, outpainting, the client and the
store do the work. Names are imported on first use. The views of the core's values
(a result as a Gallery, a batch as cards and a progress bar) are attached to IPython's
display system by :func:`dalle_widgets.attach_display`; the core never imports this package.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MaskEditor": "mask_editor",
    "MaskDocument": "mask_document",
    "Stroke": "mask_document",
    "OutpaintEditor": "outpaint_editor",
    "Gallery": "gallery",
    "MoodBoard": "board",
    "BoardItem": "board",
    "current_board": "board",
    "batch_view": "batch_view",
    "progress_bar": "batch_view",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
