"""The shell the four widgets share: status line, error guard, buttons, task runner, ``wait()``.

Each widget (mask editor, outpaint editor, gallery, mood board) used to carry its
own copy of these; :class:`WidgetShell` is the one copy. A widget mixes it in,
calls :meth:`WidgetShell._init_shell` once, builds its buttons with
:meth:`WidgetShell.button` (label, tooltip and an accessible name always; a
failure in the action becomes one line in the status, never a traceback), and
starts network work with :meth:`WidgetShell.start_task` (an asyncio task on the
kernel's loop, see :mod:`._tasks`). :meth:`WidgetShell.wait` lets a script or a
test block until that work is done.

Colours come from JupyterLab's theme variables (``--jp-*``) through the small
stylesheet :data:`THEME_CSS`, shown once per widget, so the widgets read well in
the light and the dark theme alike.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import ipywidgets as W

from ._tasks import TaskRunner, error_line

__all__ = ["THEME_CSS", "WidgetShell", "escape"]

logger = logging.getLogger("dalle_widgets")

#: One stylesheet for every widget: theme colours only (no fixed greys), text at >= 4.5:1.
#: JupyterLab marks the dark themes with ``data-jp-theme-light="false"`` on <body>; there the
#: brighter error red of the palette keeps its contrast on the dark background.
THEME_CSS = """
<style>
.dalle-widget { color: var(--jp-ui-font-color1); }
.dalle-widget .dalle-muted, .dalle-widget .dalle-muted * { color: var(--jp-ui-font-color1); opacity: 0.87; }
.dalle-widget .dalle-error { color: var(--jp-error-color1); font-weight: 600; }
body[data-jp-theme-light='false'] .dalle-widget .dalle-error { color: var(--jp-error-color2); }
.dalle-widget .dalle-hint { color: var(--jp-ui-font-color1); font-style: italic; }
.dalle-widget .dalle-card {
  border: 1px solid var(--jp-border-color2); border-radius: 4px; background: var(--jp-layout-color1);
}
.dalle-widget .dalle-card.dalle-selected,
.dalle-widget .dalle-tile.dalle-selected { outline: 3px solid var(--jp-brand-color1); }
.dalle-widget .dalle-board-item.dalle-selected { outline-offset: -3px; }
.dalle-widget .dalle-card.dalle-stale { opacity: 0.75; border-style: dashed; }
.dalle-widget .dalle-badge {
  font-size: 11px; padding: 0 4px; border-radius: 3px;
  background: var(--jp-layout-color2); color: var(--jp-ui-font-color1);
}
.dalle-widget .dalle-run-label { font-size: 12px; color: var(--jp-ui-font-color1); }
.dalle-widget canvas:focus-visible, .dalle-widget .dalle-canvas-frame:focus-within {
  outline: 2px solid var(--jp-brand-color1);
}
.dalle-widget .dalle-canvas-frame { max-width: 100%; overflow: auto; }
.dalle-widget .dalle-canvas-frame canvas { max-width: none; }
.dalle-widget img.dalle-checker, .dalle-widget .dalle-checker img {
  background-color: #fff;
  background-image: linear-gradient(45deg, #ccc 25%, transparent 25%),
    linear-gradient(-45deg, #ccc 25%, transparent 25%),
    linear-gradient(45deg, transparent 75%, #ccc 75%), linear-gradient(-45deg, transparent 75%, #ccc 75%);
  background-size: 16px 16px; background-position: 0 0, 0 8px, 8px -8px, -8px 0;
}
</style>
"""


def escape(text: str) -> str:
    """HTML-escape ``text`` for a status line (quotes kept as they are)."""
    return html.escape(str(text), quote=False)


class WidgetShell:
    """Status line, error guard, button factory and task runner for a composite widget.

    Mix in before the ipywidgets box class and call :meth:`_init_shell` in ``__init__``
    before building buttons. Subclasses may override :meth:`_on_busy` (enable/disable
    their controls) and :meth:`_on_cancelled`.
    """

    status: W.HTML
    _tasks: TaskRunner

    def _init_shell(self) -> None:
        self.status = W.HTML(layout=W.Layout(margin="0 0 0 4px", min_height="20px"))
        self.status.add_class("dalle-status")
        self._theme = W.HTML(THEME_CSS, layout=W.Layout(display="none"))
        self._tasks = TaskRunner(
            on_start=lambda: self._on_busy(True),
            on_finish=lambda: self._on_busy(False),
            on_error=self.show_error,
            on_cancel=self._on_cancelled,
        )
        self.add_class("dalle-widget")  # type: ignore[attr-defined]

    # ------------------------------------------------------------ buttons
    def button(
        self,
        label: str,
        tip: str,
        action: Callable[[], Any],
        cls: str = "",
        *,
        icon: str = "",
        compact: bool = False,
        style: str = "",
        width: str = "auto",
    ) -> W.Button:
        """A button whose click runs ``action`` under :meth:`guard`.

        ``compact`` shows only the icon; the label then leads the tooltip, which is also
        the button's accessible name (screen readers read an empty button's ``title``).
        """
        b = W.Button(
            description="" if compact else label,
            tooltip=f"{label}: {tip}" if compact else tip,
            icon=icon,
            button_style=style,
            layout=W.Layout(width=width),
        )
        if cls:
            b.add_class(cls)
        b.on_click(lambda _b: self.guard(action))
        return b

    # ------------------------------------------------------------ status
    def guard(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)``; a failure becomes one line in the status (never a traceback)."""
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the widget stays usable
            self.show_error(error_line(exc))
            return None

    # the name the widgets used before the shell; kept for their callers
    _guard = guard

    def set_status(self, text: str, *, error: bool = False, hint: bool = False) -> None:
        """Show one line of plain ``text`` under the widget ("" clears it)."""
        if not text:
            self.status.value = ""
            return
        changed = getattr(self, "_static_changed", None)
        if changed is not None:  # a status line follows every change worth a new saved picture
            changed()
        cls = "dalle-error" if error else "dalle-hint" if hint else "dalle-muted"
        mark = "⚠ " if error else ""
        role = " role='alert'" if error else ""
        self.status.value = f"<span class='{cls}'{role}>{mark}{escape(text)}</span>"

    def show_error(self, line: str) -> None:
        """Show ``line`` as an error in the status line."""
        self.set_status(line, error=True)

    @property
    def error(self) -> str | None:
        """The last task's error line, or None."""
        return self._tasks.last_error

    # ------------------------------------------------------------- tasks
    @property
    def running(self) -> bool:
        """True while a request is in flight."""
        return self._tasks.running

    def start_task(self, factory: Callable[[], Awaitable[Any]], *, busy: str = "") -> Any:
        """Start ``factory()`` as the widget's task; refuse (status line, None) if one is running."""
        if self._tasks.running:
            self.show_error(busy or "A request is already running: wait for it or press Cancel.")
            return None
        return self._tasks.start(factory)

    def cancel(self) -> bool:
        """Cancel the request in flight (what was finished stays; the widget stays usable)."""
        return self._tasks.cancel()

    def wait(self, timeout: float | None = 120) -> Any:
        """Block until the widget's current task ends; return its result (None if cancelled or failed).

        For scripts and tests outside a running event loop (in a kernel, the task runs on
        the kernel's own loop and the cell returns at once: use ``await widget.join()``).
        """
        return self._tasks.wait(timeout)

    async def join(self) -> Any:
        """Await the widget's current task from the loop it runs on; return its result."""
        return await self._tasks.join()

    # ------------------------------------------------------------ hooks
    def _on_busy(self, busy: bool) -> None:
        """Enable or disable controls while a task runs (override)."""

    def _on_cancelled(self) -> None:
        self.set_status("Cancelled")
