"""Saving an image for the person at the notebook: a new file in the folder beside the notebook.

Save and export go to the folder beside the notebook (:func:`dalle_widgets._paths.output_dir`,
``./dalle-images`` or ``$DALLE_WIDGETS_OUTPUT_DIR``), in reach of JupyterLab's file
browser; :class:`~._file_link.FileLink` then shows a link to it. One copy for every
widget that saves.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import _png
from .._paths import free_path, output_dir

__all__ = ["save_png"]


def save_png(
    image: Any,
    name: str,
    folder: str | os.PathLike[str] | None = None,
    *,
    stored: Any = None,
    path: str | os.PathLike[str] | None = None,
) -> Path:
    """Write ``image`` as a new PNG named after ``name`` in ``folder`` (default: the output folder).

    ``stored`` is the path of the same image in the store, when there is one: its bytes
    are copied as they are, provenance included. Nothing is overwritten, unless ``path``
    names the file to write instead. Returns the path written.

    >>> import tempfile
    >>> import numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> save_png(np.zeros((2, 2, 3), np.uint8), "A fox", folder).name
    'a-fox-0.png'
    """
    if path is not None:
        target = Path(path)
    else:
        target = free_path(Path(folder) if folder is not None else output_dir(), name)
    png = None
    if stored is not None and Path(stored).is_file():
        data = Path(stored).read_bytes()
        png = data if _png.is_png(data) else None
    if png is None:
        png = _png.as_png(getattr(image, "png", None) or getattr(image, "image", image))
    return _png.write_atomic(target, png)
