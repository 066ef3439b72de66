"""Showing what the magic made, exactly once.

The magic displays its result itself (so ``r = %dalle ...`` shows the gallery too)
*and* returns it (so ``_`` holds it). Left alone, IPython would then show the
returned value a second time as ``Out[n]``. :class:`ShownOnce` registers a printer
for the types the magic shows: an object the magic displayed during the current
cell is skipped by the display hook; any other display of it goes to the printer
that was there before (the widgets' view, see :func:`dalle_widgets.attach_display`),
or to the object's own display methods.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

__all__ = ["ShownOnce", "Text"]


class Text:
    """Plain text that displays as preformatted HTML in notebooks and as itself in terminals."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:
        printer.text(self.text)

    def _repr_html_(self) -> str:
        return f"<pre style='margin:0'>{html.escape(self.text)}</pre>"


class ShownOnce:
    """Tracks the objects the magic displayed in the current cell, so ``Out[n]`` does not repeat them."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._shown: dict[int, Any] = {}
        self._previous: dict[type, Callable[[Any], Any] | None] = {}  # the printer each type had before
        shell.events.register("post_run_cell", self.forget)

    def close(self) -> None:
        """Unregister every printer and the event hook."""
        formatter = self.shell.display_formatter.ipython_display_formatter
        for typ, previous in self._previous.items():
            formatter.pop(typ, None)
            if previous is not None:
                formatter.for_type(typ, previous)
        self._previous.clear()
        try:
            self.shell.events.unregister("post_run_cell", self.forget)
        except ValueError:
            pass

    def forget(self, *_args: Any) -> None:
        """Drop the record at the end of each cell (``post_run_cell`` passes the cell's result)."""
        self._shown.clear()

    def show(self, obj: Any, *, returned: Any = None) -> None:
        """Display ``obj`` now; remember ``returned`` so the display hook does not show it again."""
        from IPython.display import display

        display(obj)
        if returned is not None:
            self.mark(returned)

    def mark(self, obj: Any) -> None:
        """Remember ``obj`` as shown (``--no-show`` uses this to keep ``Out[n]`` quiet too)."""
        typ = type(obj)
        if typ not in self._previous:
            formatter = self.shell.display_formatter.ipython_display_formatter
            self._previous[typ] = formatter.for_type(typ, self._print)
        self._shown[id(obj)] = obj

    def _print(self, obj: Any) -> None:
        if self._shown.get(id(obj)) is obj and self._is_displayhook():
            return
        previous = self._previous.get(type(obj))
        if previous is not None:
            previous(obj)
            return
        formatter = self.shell.display_formatter
        typ = type(obj)
        saved = formatter.ipython_display_formatter.pop(typ, None)
        try:
            if callable(getattr(obj, "_ipython_display_", None)):
                obj._ipython_display_()
            else:
                data, metadata = formatter.format(obj)
                if data:
                    from IPython.display import publish_display_data

                    publish_display_data(data, metadata)
        finally:
            if saved is not None:
                formatter.ipython_display_formatter.for_type(typ, saved)

    def _is_displayhook(self) -> bool:
        """Whether the current display request comes from the display hook (``Out[n]``)."""
        import sys
        import types

        hook = self.shell.displayhook
        frame: types.FrameType | None = sys._getframe(2)  # noqa: SLF001 - CPython's documented frame access
        for _ in range(20):
            if frame is None:
                return False
            if frame.f_locals.get("self") is hook:
                return True
            frame = frame.f_back
        return False
