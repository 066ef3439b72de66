"""The default backend: classical image processing, CPU-fast, no weights.

* generate: a procedural poster from the prompt's words (:mod:`.procedural`);
* edit: push-pull smooth fill plus texture from patch synthesis (:mod:`.inpaint`);
* vary: projective re-framing plus colour jitter (:mod:`.reframe`).

Every output is deterministic in its arguments and seed; image ``i`` of a request
uses ``seed + i`` so the n images of one request differ.
"""

from __future__ import annotations

import numpy as np

from .. import seeds_for
from ._ops import resize_u8, to_float, to_u8
from .inpaint import fill, push_pull
from .procedural import generate
from .reframe import vary

__all__ = ["ClassicalBackend"]


class ClassicalBackend:
    """The built-in backend (see the module docstring).

    >>> b = ClassicalBackend()
    >>> [im.shape for im in b.generate("a calm lake", size=64, n=2, seed=3)]
    [(64, 64, 3), (64, 64, 3)]
    """

    name = "classical"

    def generate(self, prompt: str, *, size: int, n: int, seed: int) -> list[np.ndarray]:
        return [generate(prompt, size=size, seed=s) for s in seeds_for(seed, n)]

    def edit(
        self, image: np.ndarray, mask: np.ndarray, prompt: str, *, size: int, n: int, seed: int
    ) -> list[np.ndarray]:
        img = np.asarray(image, np.uint8)[:, :, :3]
        m = np.asarray(mask, bool)
        if img.shape[:2] != (size, size) and m.shape == img.shape[:2] and m.any() and not m.all():
            # Fill the hole smoothly before resizing, or the resampling kernel would drag
            # the hole's (black) pixels into the known ones along its edge, and the fill
            # would continue that dark seam.
            img = to_u8(push_pull(to_float(img), ~m))
        img = resize_u8(img, size)
        if m.shape != (size, size):
            from PIL import Image

            m = (
                np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((size, size), Image.NEAREST))
                > 127
            )
        if m.all():
            # Nothing to continue from: the edit becomes a generation from the prompt.
            return self.generate(prompt, size=size, n=n, seed=seed)
        return [fill(img, m, seed=s) for s in seeds_for(seed, n)]

    def vary(self, image: np.ndarray, *, size: int, n: int, seed: int) -> list[np.ndarray]:
        return [vary(np.asarray(image, np.uint8)[:, :, :3], size=size, seed=seed, index=i) for i in range(n)]

    def __repr__(self) -> str:
        return "ClassicalBackend()"
