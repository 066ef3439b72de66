"""Confinement of file names read from a manifest to the folder that holds it.

A mood board's ``board.json`` names its images (``images/<id>.png``). The manifest is
a file anyone can edit or share, so a name is untrusted input: ``../elsewhere/x.png``,
an absolute path, or a symbolic link inside the folder that points out of it would
make the board read, embed in an HTML export, or delete a file that is not its own.
:func:`confine` resolves a name against the folder (following links) and refuses
anything that does not stay inside; it is pure path arithmetic plus ``resolve()``,
with no reading of the file itself.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> confine(root, "images/a.png") == root / "images" / "a.png"
True
>>> confine(root, "../x.png")
Traceback (most recent call last):
...
dalle_widgets._paths.OutsideFolderError: '../x.png' points outside the folder
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["OUTPUT_DIR_ENV", "OutsideFolderError", "confine", "free_path", "output_dir", "relative_link"]

#: Names the folder where Save and board exports go (default ``./dalle-images``).
OUTPUT_DIR_ENV = "DALLE_WIDGETS_OUTPUT_DIR"


class OutsideFolderError(ValueError):
    """A file name that resolves to a place outside the folder it must stay in."""


def confine(root: str | os.PathLike[str], name: str | os.PathLike[str]) -> Path:
    """``root / name`` if it resolves inside ``root``, as ``root`` joined with the relative part.

    Parameters
    ----------
    root : str or Path
        The folder (need not exist).
    name : str or Path
        A name read from a manifest: relative (``images/a.png``), or absolute but inside
        ``root``. Symbolic links are followed before the check.

    Returns
    -------
    Path
        ``root`` joined with the name's part relative to ``root`` (so an absolute name inside
        the folder comes back relative to it, and ``path.relative_to(root)`` always works).

    Raises
    ------
    OutsideFolderError
        The name is empty, contains a NUL byte, or resolves outside ``root`` (``..``, an
        absolute path elsewhere, a link pointing out, the folder itself).
    """
    text = os.fspath(name)
    if not text or "\x00" in text:
        raise OutsideFolderError(f"{text!r} is not a file name")
    base = Path(root)
    real_base = base.resolve()
    candidate = base / text.replace("\\", "/") if not Path(text).is_absolute() else Path(text)
    try:
        inside = candidate.resolve().relative_to(real_base)
    except (ValueError, OSError, RuntimeError):  # elsewhere, unresolvable, or a link loop
        raise OutsideFolderError(f"{text!r} points outside the folder") from None
    if not inside.parts:
        raise OutsideFolderError(f"{text!r} is the folder itself, not a file in it")
    return base.joinpath(*PurePosixPath(inside.as_posix()).parts)


def output_dir(env: Any = None) -> Path:
    """Where Save and board exports write: ``$DALLE_WIDGETS_OUTPUT_DIR``, else ``./dalle-images``.

    A Jupyter kernel runs in its notebook's folder, so the default is a folder beside
    the notebook, in reach of JupyterLab's file browser (the store under
    ``$DALLE_WIDGETS_HOME`` is not). A relative setting is taken from the working folder.

    >>> output_dir({"DALLE_WIDGETS_OUTPUT_DIR": "/tmp/out"}).as_posix()
    '/tmp/out'
    >>> output_dir({}) == Path.cwd() / "dalle-images"
    True
    """
    environ = os.environ if env is None else env
    setting = str(environ.get(OUTPUT_DIR_ENV) or "").strip()
    folder = Path(setting).expanduser() if setting else Path("dalle-images")
    return folder if folder.is_absolute() else Path.cwd() / folder


def relative_link(path: str | os.PathLike[str], start: str | os.PathLike[str] | None = None) -> str | None:
    """``path`` relative to ``start`` (default: the working folder) as a URL path, or None outside it.

    JupyterLab resolves a relative link in an output against the notebook's folder (the
    kernel's working folder) and opens the file in a new tab when it is clicked.

    >>> relative_link(Path.cwd() / "dalle-images" / "a b.png")
    'dalle-images/a%20b.png'
    >>> relative_link("/elsewhere/x.png", "/home") is None
    True
    """
    from urllib.parse import quote

    base = Path(start) if start is not None else Path.cwd()
    try:
        rel = Path(path).resolve().relative_to(base.resolve())
    except (ValueError, OSError):
        return None
    return quote(rel.as_posix())


def free_path(folder: str | os.PathLike[str], text: str, suffix: str = ".png") -> Path:
    """The first unused ``<slug>-<k><suffix>`` in ``folder``, the slug made from ``text``.

    The slug keeps ASCII letters and digits (lowercased, at most 40), other runs become one
    ``-``; an empty slug becomes ``image``. A save never overwrites an earlier one.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> free_path(folder, "A fox, at dawn!").name
    'a-fox-at-dawn-0.png'
    >>> _ = (folder / "a-fox-at-dawn-0.png").write_bytes(b"")
    >>> free_path(folder, "A fox, at dawn!").name
    'a-fox-at-dawn-1.png'
    >>> free_path(folder, "✨", ".webp").name
    'image-0.webp'
    """
    stem = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:40].strip("-") or "image"
    base = Path(folder)
    k = 0
    while (base / f"{stem}-{k}{suffix}").exists():
        k += 1
    return base / f"{stem}-{k}{suffix}"
