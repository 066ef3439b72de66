"""Step progress a backend reports while it works, with an optional cheap preview.

A slow backend (a diffusion model on a CPU takes minutes per image) calls
``on_progress(Progress(...))`` after every step. The engine turns that into streamed
partial images, and cancels a generation by raising from the callback (for example
:class:`~dalle_widgets.engine.backends.errors.GenerationCancelled` once the client has
gone): the backend stops at that step and lets the exception through.

>>> p = Progress(operation="generate", image=1, n=2, stage="decoder", step=3, steps=10, done=18, total=30)
>>> round(p.fraction, 2), p.preview() is None
(0.6, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Progress", "ProgressCallback"]


@dataclass(frozen=True)
class Progress:
    """One finished step of one image of a request.

    Attributes
    ----------
    operation : str
        ``generate``, ``edit`` or ``vary``.
    image, n : int
        Which image of the request (0-based) and how many there are.
    stage : str
        The model part that ran the step (``prior``, ``decoder``...).
    step, steps : int
        The step just finished (1-based) and the steps of this stage.
    done, total : int
        Steps finished and steps in all for the whole request (all images, all stages).
    """

    operation: str
    image: int
    n: int
    stage: str
    step: int
    steps: int
    done: int
    total: int
    _preview: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def fraction(self) -> float:
        """Share of the request's work done, in [0, 1]."""
        return self.done / self.total if self.total else 1.0

    def preview(self) -> np.ndarray | None:
        """A rough uint8 (H, W, 3) picture of image ``image`` at the request's size, or None.

        Computed only when asked (a fitted linear map of the latents, not the full
        decoder), so reporting progress costs nothing when nobody looks.
        """
        return self._preview() if self._preview is not None else None


#: What a backend calls after each step; raising stops the generation.
ProgressCallback = Callable[[Progress], None]
