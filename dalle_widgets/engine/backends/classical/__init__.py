"""The default backend: classical image processing, CPU-fast, no weights.

* generate: a procedural poster from the prompt's words (:mod:`.procedural`);
* edit: push-pull smooth fill plus texture from patch synthesis (:mod:`.inpaint`);
  further input images (GPT image models' ``image[]``) lend the result their colours;
* vary: projective re-framing plus colour jitter (:mod:`.reframe`).

Every output is deterministic in its arguments and seed; image ``i`` of a request
uses ``seed + i`` so the n images of one request differ. Sizes of any aspect are
painted at a bounded working resolution (:data:`GENERATE_WORK_SIDE`,
:data:`EDIT_WORK_PIXELS`) and scaled up, so a 3840x2160 request costs about what a
1536 px one does. Previews (``on_preview``) are the finished picture seen coarse to
fine (:mod:`.previews`): painting is fast, so each image is made first and its
:data:`~.previews.PREVIEW_STAGES` previews derived from it, an edit's only inside the
edited area; the last preview is close to the final image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

from .. import PreviewCallback, Size, seeds_for
from ._ops import cover, crop_to_aspect, match_colours, resize, to_float, to_u8
from .inpaint import fill, push_pull
from .previews import PREVIEW_STAGES, coarse_to_fine
from .procedural import caption, paint
from .reframe import vary

__all__ = ["EDIT_WORK_PIXELS", "GENERATE_WORK_SIDE", "ClassicalBackend"]

#: Longest side a poster is painted at; larger outputs are cropped and scaled up from it.
GENERATE_WORK_SIDE = 1536
#: Most pixels an edit is filled at; larger edits are filled smaller and the fill scaled up
#: (the pixels outside the mask stay the input's, at full resolution).
EDIT_WORK_PIXELS = 1024 * 1024
#: Inputs larger than this are shrunk to the working size with the hole left out of the
#: average (cheaper than smoothing the hole at full resolution first; same purpose).
LARGE_INPUT_PIXELS = 4 * EDIT_WORK_PIXELS
#: How far further input images pull the edited area's colours toward theirs (0..1).
REFERENCE_STRENGTH = 0.65
#: How far an edit with nothing masked moves the whole image toward the prompt's colours.
RESTYLE_STRENGTH = 0.5


def _resize(image: np.ndarray, size: Size, resample: int = Image.Resampling.LANCZOS) -> np.ndarray:
    if image.shape[1::-1] == tuple(size):
        return image
    return np.asarray(Image.fromarray(image).resize((size[0], size[1]), resample))


def _fit(image: np.ndarray, mask: np.ndarray, size: Size) -> tuple[np.ndarray, np.ndarray]:
    """Crop ``image`` and ``mask`` alike to the aspect of ``size``, then resize both to it."""
    if image.shape[1::-1] == tuple(size):
        return image, mask
    both = crop_to_aspect(np.dstack([image, mask.astype(np.uint8) * 255]), size)
    img = _resize(np.ascontiguousarray(both[:, :, :3]), size)
    m = _resize(np.ascontiguousarray(both[:, :, 3]), size, Image.Resampling.NEAREST) > 127
    return img, m


def _shrink_known(image: np.ndarray, mask: np.ndarray, size: Size) -> tuple[np.ndarray, np.ndarray]:
    """Crop to the aspect of ``size`` and shrink, averaging known pixels only (no dark seam)."""
    both = crop_to_aspect(np.dstack([image, (~mask).astype(np.uint8)]), size)
    known = both[:, :, 3].astype(np.float32)
    shape = (size[1], size[0])
    weight = resize(known, shape, resample=Image.Resampling.BOX)
    total = resize(both[:, :, :3].astype(np.float32) * known[..., None], shape, resample=Image.Resampling.BOX)
    small = to_u8(total / np.maximum(weight, 1e-6)[..., None])
    small_mask = _resize(np.ascontiguousarray(both[:, :, 3] * 255), size, Image.Resampling.NEAREST) < 128
    return small, small_mask


def _work_size(size: Size, pixels: int) -> Size:
    w, h = size
    scale = min(1.0, math.sqrt(pixels / (w * h)))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _pixels_of(images: Sequence[np.ndarray]) -> np.ndarray:
    """A sample of the pixels of ``images`` (each reduced to at most 64 px a side)."""
    out = []
    for im in images:
        small = Image.fromarray(np.asarray(im, np.uint8)[:, :, :3])
        small.thumbnail((64, 64))
        out.append(np.asarray(small).reshape(-1, 3))
    return np.concatenate(out)


def _guided(image: np.ndarray, where: np.ndarray, references: Sequence[np.ndarray]) -> np.ndarray:
    """Let further input images colour the edited area (unchanged when there are none)."""
    if not len(references):
        return image
    return match_colours(image, _pixels_of(references), where, REFERENCE_STRENGTH)


def _previewed(
    images: list[np.ndarray], where: np.ndarray, seed: int, on_preview: PreviewCallback | None, work: Size
) -> list[np.ndarray]:
    """Show each finished image's previews (coarse to fine inside ``where``), then hand them back.

    Previews are made at the working size (the engine sends them at most 1024 px a side):
    a 4K edit's previews cost what a 1024 px one's do.
    """
    if on_preview is None:
        return images
    region = where if where.shape[::-1] == tuple(work) else _resize(where.astype(np.uint8) * 255, work) > 127
    for i, (image, s) in enumerate(zip(images, seeds_for(seed, len(images)), strict=True)):
        shown = _resize(image, work)
        for step in range(1, PREVIEW_STAGES + 1):
            on_preview(
                i, step, PREVIEW_STAGES, coarse_to_fine(shown, step, PREVIEW_STAGES, seed=s, where=region)
            )
    return images


class ClassicalBackend:
    """The built-in backend (see the module docstring).

    >>> b = ClassicalBackend()
    >>> [im.shape for im in b.generate("a calm lake", size=(96, 64), n=2, seed=3)]
    [(64, 96, 3), (64, 96, 3)]
    """

    name = "classical"

    def generate(
        self, prompt: str, *, size: Size, n: int, seed: int, on_preview: PreviewCallback | None = None
    ) -> list[np.ndarray]:
        w, h = size
        side = min(max(w, h), GENERATE_WORK_SIDE)
        work = (max(1, round(w * side / max(w, h))), max(1, round(h * side / max(w, h))))
        images = []
        for i, s in enumerate(seeds_for(seed, n)):
            painted = paint(prompt, size=side, seed=s)
            if on_preview is not None:  # the picture coarse to fine, each with the engine's label
                shown = cover(painted, work)
                for step in range(1, PREVIEW_STAGES + 1):
                    preview = coarse_to_fine(shown, step, PREVIEW_STAGES, seed=s)
                    on_preview(i, step, PREVIEW_STAGES, caption(preview, prompt))
            images.append(caption(cover(painted, size), prompt))
        return images

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
        img = np.asarray(image, np.uint8)[:, :, :3]
        m = np.asarray(mask, bool)
        work = _work_size(size, EDIT_WORK_PIXELS)
        partial = m.shape == img.shape[:2] and m.any() and not m.all()
        if partial and m.size > LARGE_INPUT_PIXELS:
            small, small_m = _shrink_known(img, m, work)
        else:
            if img.shape[1::-1] != work and partial:
                # Fill the hole smoothly before resizing, or the resampling kernel would drag
                # the hole's (black) pixels into the known ones along its edge, and the fill
                # would continue that dark seam.
                img = to_u8(push_pull(to_float(img), ~m))
            small, small_m = _fit(img, m, work)
        if small_m.all():
            # Nothing to continue from: the edit becomes a generation from the prompt.
            made = self.generate(prompt, size=size, n=n, seed=seed)
            everywhere = np.ones(made[0].shape[:2], bool)
            guided = [_guided(im, everywhere, references) for im in made]
            return _previewed(guided, everywhere, seed, on_preview, work)
        full, full_m = (small, small_m) if work == tuple(size) else _fit(img, m, size)
        out = []
        for s in seeds_for(seed, n):
            filled = fill(small, small_m, seed=s)
            if work != tuple(size):
                filled = np.where(full_m[..., None], _resize(filled, size), full)
            if full_m.any():
                out.append(_guided(filled, full_m, references))
            else:  # nothing masked (GPT image models): the whole image follows the references or prompt
                everywhere = np.ones(full_m.shape, bool)
                colours = _pixels_of(references) if len(references) else paint(prompt, size=64, seed=s)
                out.append(match_colours(filled, colours.reshape(-1, 3), everywhere, RESTYLE_STRENGTH))
        edited = full_m if full_m.any() else np.ones(full_m.shape, bool)
        return _previewed(out, edited, seed, on_preview, work)

    def vary(
        self,
        image: np.ndarray,
        *,
        size: Size,
        n: int,
        seed: int,
        on_preview: PreviewCallback | None = None,  # noqa: ARG002
    ) -> list[np.ndarray]:
        # The Backend protocol passes ``on_preview``; variations are one step here: no previews.
        side = max(size)
        src = np.asarray(image, np.uint8)[:, :, :3]
        return [cover(vary(src, size=side, seed=seed, index=i), size) for i in range(n)]

    def __repr__(self) -> str:
        return "ClassicalBackend()"
