"""Image backends: the protocol the engine's server calls, and the registry of backends.

A backend turns validated requests into pixels. It knows nothing about HTTP: it gets
numpy arrays and a seed and returns numpy arrays, so a model-based backend can plug in
later without touching the server. Backends are found by name in the entry-point group
``dalle_widgets.backends``; the built-in ``classical`` backend is always available, even
when the package is not installed (running from a source checkout).

>>> backend = get_backend("classical")
>>> backend.name
'classical'
>>> "classical" in available_backends()
True
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "DEFAULT_BACKEND",
    "ImageBackend",
    "PreviewCallback",
    "Size",
    "available_backends",
    "backend_factory",
    "check_options",
    "get_backend",
    "seeds_for",
]

logger = logging.getLogger("dalle_widgets")

DEFAULT_BACKEND = "classical"
ENTRY_POINT_GROUP = "dalle_widgets.backends"
_BUILTIN = {
    "classical": "dalle_widgets.engine.backends.classical:ClassicalBackend",
    # Registered by entry point too; listed here so a source checkout finds it. Importing
    # it costs nothing: torch loads only when the first image is asked for.
    "diffusers": "dalle_widgets.engine.backends.diffusers:DiffusersBackend",
}


#: ``(width, height)`` of the images a backend returns, as Pillow's ``Image.size``.
Size = tuple[int, int]


class PreviewCallback(Protocol):
    """Called by a backend with an intermediate image while it works (for streamed previews).

    ``index`` is the image of the request (``0 .. n-1``), ``step`` counts this image's
    previews from 1 to ``total``, and ``image`` is a ``uint8`` array ``(h, w, 3)`` of
    the output's aspect ratio, at any resolution (the engine scales it to the requested
    size). The callback returns quickly; it runs in the backend's worker thread.
    """

    def __call__(self, index: int, step: int, total: int, image: np.ndarray) -> None: ...


@runtime_checkable
class ImageBackend(Protocol):
    """What the engine needs from a backend.

    Every method returns ``n`` images as ``uint8`` arrays of shape ``(height, width, 3)``
    for ``size=(width, height)``. With the same arguments and ``seed`` the output must
    be identical; image ``i`` of a request must differ from image ``j``. ``seed`` is
    never None when the server calls.

    ``on_preview``, when given, is called with intermediate images as the work
    progresses (see :class:`PreviewCallback`); the engine streams some of them to the
    client as ``partial_image`` events. A backend with nothing intermediate to show
    may ignore it. Backends see numpy arrays and seeds only, never HTTP.
    """

    name: str

    def generate(
        self, prompt: str, *, size: Size, n: int, seed: int, on_preview: PreviewCallback | None = None
    ) -> list[np.ndarray]:
        """Text to image."""
        ...

    def edit(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        prompt: str,
        *,
        size: Size,
        n: int,
        seed: int,
        references: Sequence[np.ndarray] = (),
        on_preview: PreviewCallback | None = None,
    ) -> list[np.ndarray]:
        """Regenerate ``image`` (uint8 (H, W, 3)) where ``mask`` (bool (H, W)) is True.

        Pixels where the mask is False must come back unchanged (up to resampling to
        ``size`` and a few pixels of seam feathering). ``references`` are further input
        images (uint8 (h, w, 3), any size; GPT image models take up to 15 besides the
        first): their content or style must visibly guide the result.
        """
        ...

    def vary(
        self, image: np.ndarray, *, size: Size, n: int, seed: int, on_preview: PreviewCallback | None = None
    ) -> list[np.ndarray]:
        """Images recognisably derived from ``image``."""
        ...


def seeds_for(seed: int, n: int) -> list[int]:
    """Per-image seeds of one request: ``seed, seed + 1, ...`` (wrapping at 2**63).

    Backends give image ``i`` of a request the seed ``seeds_for(seed, n)[i]``, so the
    images of one request differ and each is reproducible on its own.

    >>> seeds_for(7, 3)
    [7, 8, 9]
    """
    return [(seed + i) % 2**63 for i in range(n)]


def _load(target: str) -> type:
    module, _, attr = target.partition(":")
    mod = __import__(module, fromlist=[attr])
    return getattr(mod, attr)


def available_backends() -> dict[str, str]:
    """Backend names mapped to their ``module:Class`` target (entry points plus the built-in)."""
    found = dict(_BUILTIN)
    try:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            found.setdefault(ep.name, ep.value)
    except Exception:  # noqa: BLE001 - a broken distribution must not break the engine
        logger.debug("could not read entry points for %s", ENTRY_POINT_GROUP, exc_info=True)
    return found


def get_backend(backend: str | ImageBackend | None = None, **options: Any) -> ImageBackend:
    """Return a backend instance: by name, the default when None, or ``backend`` itself.

    ``options`` go to the backend's constructor (for ``diffusers``: ``recipe``,
    ``low_memory``, ``max_queue``); they are also how a deployment that builds its
    backend elsewhere (a Ray Serve replica) passes them on without knowing the backend.

    Raises
    ------
    ValueError
        For an unknown name, listing the names that exist, or options the backend does
        not take.
    """
    if backend is None:
        backend = DEFAULT_BACKEND
    if not isinstance(backend, str):
        if options:
            raise ValueError(
                f"backend options {', '.join(sorted(options))} apply to a backend given by name, "
                "not to an instance"
            )
        return backend
    factory = backend_factory(backend)
    check_options(backend, factory, options)
    try:
        return factory(**options)
    except TypeError as exc:
        if not options:
            raise
        raise ValueError(
            f"the {backend!r} engine backend does not take {', '.join(sorted(options))} ({exc})"
        ) from None


def check_options(name: str, factory: Any, options: dict[str, Any]) -> None:
    """Raise ValueError, naming the backend and what it takes, if ``factory`` cannot take ``options``.

    Checks the signature only, without building the backend, so a deployment can refuse
    a typo before it starts replicas that would each load a model.

    >>> check_options("classical", get_backend("classical").__class__, {"steps": 4})
    Traceback (most recent call last):
    ...
    ValueError: the 'classical' engine backend does not take steps (it takes no options)
    """
    if not options:
        return
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # pragma: no cover - a builtin factory: let it decide
        return
    try:
        signature.bind(**options)
    except TypeError:
        kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        takes = [p.name for p in signature.parameters.values() if p.kind in kinds]
        raise ValueError(
            f"the {name!r} engine backend does not take {', '.join(sorted(options))} "
            f"({'it takes ' + ', '.join(takes) if takes else 'it takes no options'})"
        ) from None


def backend_factory(name: str) -> Any:
    """The class (or factory) registered under ``name``, not instantiated.

    Raises
    ------
    ValueError
        For an unknown name, listing the names that exist.
    """
    targets = available_backends()
    if name not in targets:
        raise ValueError(
            f"unknown engine backend {name!r}: available backends are {', '.join(sorted(targets))} "
            f"(register more in the entry-point group {ENTRY_POINT_GROUP!r})"
        )
    return _load(targets[name])
