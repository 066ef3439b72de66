"""Notices for the person at the keyboard (not warnings): where they are shown is up to the face.

The client says once per process that it uses the offline engine because no key is
set. That is information, not a problem: in a notebook it should not appear as red
stderr text. The lower layers call :func:`notice`; a face (``dalle_widgets._notebook``
in an IPython shell) installs a handler with :func:`set_handler` that shows it as an
information line. Without a handler the notice is logged as a warning, so scripts and
logs still see it.

>>> seen = []
>>> previous = set_handler(seen.append)
>>> notice("using the offline engine")
>>> seen
['using the offline engine']
>>> _ = set_handler(previous)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

__all__ = ["notice", "set_handler"]

logger = logging.getLogger("dalle_widgets")

_handler: Callable[[str], None] | None = None


def set_handler(handler: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """Show notices with ``handler(text)`` from now on (None: log them); return the previous handler."""
    global _handler
    previous, _handler = _handler, handler
    return previous


def notice(text: str) -> None:
    """Tell the user ``text``: through the installed handler, else as a logged warning."""
    handler = _handler
    if handler is not None:
        try:
            handler(text)
            logger.info("%s", text)
            return
        except Exception:  # noqa: BLE001 - a display problem must not hide the notice
            logger.debug("notice handler failed", exc_info=True)
    logger.warning("%s", text)
