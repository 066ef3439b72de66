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
from pathlib import Path, PurePosixPath

__all__ = ["OutsideFolderError", "confine"]


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
