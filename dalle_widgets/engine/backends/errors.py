"""Errors a backend raises on purpose, each naming the fix, and how the engine answers them.

A backend knows nothing of HTTP, but some of its failures are the caller's to act on:
the backend is busy (try again later), the generation was cancelled, the machine ran
out of memory or disk, the weights or the optional extra are missing. Each is a
:class:`BackendError` carrying the HTTP ``status`` and OpenAI-style ``code`` the engine
answers with, and a message that says what to do, never a traceback from torch::

    BackendError                     503 backend_error
     +-- BackendUnavailable          503 backend_unavailable   (also a ConfigurationError)
     |    +-- RecipeError            503 invalid_recipe        bad recipe file or value
     +-- OutOfResources              503 insufficient_resources out of memory, out of disk
     +-- BackendBusy                 429 engine_busy           queue full; ``retry_after`` seconds
     +-- GenerationCancelled         499 cancelled             the client went away
"""

from __future__ import annotations

from ...errors import ConfigurationError, DalleWidgetsError

__all__ = [
    "BackendBusy",
    "BackendError",
    "BackendUnavailable",
    "GenerationCancelled",
    "OutOfResources",
    "RecipeError",
]


class BackendError(DalleWidgetsError):
    """A backend could not make the images; the message names the fix."""

    status = 503
    code = "backend_error"


class BackendUnavailable(BackendError, ConfigurationError):
    """The backend cannot run here: a missing extra, missing weights, an unusable device."""

    code = "backend_unavailable"


class RecipeError(BackendUnavailable):
    """A model recipe file (or one of its values) is invalid."""

    code = "invalid_recipe"


class OutOfResources(BackendError):
    """The machine ran out of memory or disk space while loading or running a model."""

    code = "insufficient_resources"


class BackendBusy(BackendError):
    """Every slot and queue place is taken; try again in ``retry_after`` seconds."""

    status = 429
    code = "engine_busy"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class GenerationCancelled(BackendError):
    """The generation was stopped at a step boundary because its client went away."""

    status = 499
    code = "cancelled"
