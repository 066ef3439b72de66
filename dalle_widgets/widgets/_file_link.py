"""A link under a widget that opens a file it wrote (a save, an export) in JupyterLab.

The link is relative to the kernel's working folder, which is the notebook's: JupyterLab
resolves it against the notebook and opens the file in a new tab. A file outside that
folder gets no link (JupyterLab cannot reach it); the status line still names its path.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import ipywidgets as W

from .._paths import relative_link

__all__ = ["FileLink"]


class FileLink(W.Output):
    """An output area holding one ``<a class="dalle-file-link">`` to the last file shown."""

    outputs: tuple[dict[str, Any], ...]  # the Output trait, as notebook output dicts

    def __init__(self) -> None:
        super().__init__(layout=W.Layout(margin="0 0 0 4px"))
        self.add_class("dalle-file-link-box")

    def show(self, path: str | os.PathLike[str]) -> str | None:
        """Link to ``path`` (replacing the previous link); return the link, or None outside reach."""
        path = Path(path)
        link = relative_link(path)
        if link is None:
            self.outputs = ()
            return None
        name = html.escape(path.name)
        anchor = (
            f"<a class='dalle-file-link' href='{html.escape(link, quote=True)}' "
            f"title='Open {name} in JupyterLab'>open {name}</a>"
        )
        output: dict[str, Any] = {
            "output_type": "display_data",
            "data": {"text/html": anchor, "text/plain": link},
            "metadata": {},
        }
        self.outputs = (output,)
        return link

    def clear(self) -> None:
        """Remove the link."""
        self.outputs = ()
