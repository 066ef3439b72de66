"""Where the package meets IPython: the widgets' views of the core's values, attached by type name.

The core draws nothing and imports no widget. In an IPython shell (a Jupyter
kernel), :func:`attach_display` registers one printer per core type with the
shell's display formatter, by module and class name, so nothing is imported until
such a value is displayed; then :func:`dalle_widgets.widgets._display.show` picks
the view (a result as a Gallery, a batch as cards, batch progress as a bar).
"""

from __future__ import annotations

import html
import sys
from typing import TYPE_CHECKING, Any

from . import _notices

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

__all__ = ["attach_display", "show_notice"]

# The core's types the widgets show, by name so that registering them imports nothing.
SHOWN = (
    ("dalle_widgets.results", "ImageResult"),
    ("dalle_widgets.batching", "BatchResult"),
    ("dalle_widgets.batching", "BatchProgress"),
)


def attach_display(shell: InteractiveShell | None = None) -> None:
    """Let the widgets show results, batches and batch progress in ``shell`` (default: the running one).

    Registers a printer for :class:`~dalle_widgets.results.ImageResult`,
    :class:`~dalle_widgets.batching.BatchResult` and :class:`~dalle_widgets.batching.BatchProgress`
    with the shell's ``ipython_display_formatter``, by module and class name: nothing is
    imported until such a value is displayed. The package calls it when imported in an
    IPython shell, and ``%load_ext dalle_widgets`` on its shell; calling it again is
    harmless. Outside IPython it does nothing.
    """
    if shell is None:
        ipython = sys.modules.get("IPython")
        shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or shell.display_formatter is None:
        return
    formatter = shell.display_formatter.ipython_display_formatter
    for module, name in SHOWN:
        formatter.for_type_by_name(module, name, _show_with_widgets)
    if getattr(shell, "kernel", None) is not None:  # a notebook: notices as information lines
        _notices.set_handler(show_notice)


def show_notice(text: str) -> None:
    """Show ``text`` as an information line in the notebook (display data, not red stderr)."""
    from IPython.display import display

    body = html.escape(text)
    display(
        {
            "text/plain": f"ℹ {text}",
            "text/html": f"<div class='dalle-notice' role='note' style='opacity:0.85'>ℹ {body}</div>",
        },
        raw=True,
    )


def _show_with_widgets(obj: Any) -> None:
    from .widgets._display import show

    show(obj)
