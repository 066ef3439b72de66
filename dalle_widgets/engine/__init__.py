"""The offline engine: an OpenAI-compatible image server that needs no key.

``create_app()`` builds the ASGI app, ``start_background()`` runs it on a free
loopback port in a daemon thread (what the client does when no API key is set), and
``dalle-widgets serve`` runs it from the command line. Backends live in
:mod:`dalle_widgets.engine.backends`; the default is classical image processing
(procedural pictures, content-aware fill, re-framed variations), CPU-fast, no weights.

Names are imported lazily so that ``import dalle_widgets.engine`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["BackgroundEngine", "create_app", "get_backend", "start_background", "stop_background"]

_EXPORTS = {
    "create_app": "dalle_widgets.engine.app",
    "BackgroundEngine": "dalle_widgets.engine.background",
    "start_background": "dalle_widgets.engine.background",
    "stop_background": "dalle_widgets.engine.background",
    "get_backend": "dalle_widgets.engine.backends",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dalle_widgets.engine' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
