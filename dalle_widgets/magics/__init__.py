"""The ``%dalle`` / ``%%dalle`` IPython magic.

Load it with ``%load_ext dalle_widgets`` (or ``%load_ext dalle_widgets.magics``)::

    %dalle a watercolor fox -n 4 --size 512x512
    r = %dalle a {colour} fox --seed 7
    %dalle vary r[0] -n 3
    %dalle edit photo --mask mask a red hat
    %dalle batch prompts -n 2 --dry-run
    %dalle --help

See :class:`DalleMagics` for the configurable defaults (``%config DalleMagics``).
"""

from __future__ import annotations

from typing import Any

from .._notebook import attach_display
from ._core import DalleMagics, DalleUsageError, EffectiveConfig, ModelList

__all__ = [
    "DalleMagics",
    "DalleUsageError",
    "EffectiveConfig",
    "ModelList",
    "load_ipython_extension",
    "unload_ipython_extension",
]

_LOADED: dict[int, DalleMagics] = {}


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%dalle`` / ``%%dalle`` on ``ipython`` (called by ``%load_ext dalle_widgets``)."""
    if id(ipython) in _LOADED:
        return
    attach_display(ipython)  # results, batches and progress show as widgets in this shell
    magics = DalleMagics(shell=ipython)
    ipython.register_magics(magics)
    _LOADED[id(ipython)] = magics


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magic and close the clients it created (``%unload_ext dalle_widgets``)."""
    magics = _LOADED.pop(id(ipython), None)
    if magics is None:
        return
    magics.close()
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("dalle", None)
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)
