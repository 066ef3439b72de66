"""The three DALL-E 2 operations on Kandinsky 2.2's unCLIP pipelines (torch side).

* generate: the prior maps the prompt to a CLIP image embedding, the decoder draws it;
* edit (inpainting and outpainting): the prior embeds the prompt, the inpaint decoder
  repaints the dilated mask, the original pixels are pasted back outside the requested
  mask (:mod:`.compose`); reference images, if any, are mixed into the embedding;
* vary: the CLIP image embedding of the input itself, decoded again: DALL-E 2's own
  variation method, no text involved.

Every image ``i`` of a request runs on its own CPU ``torch.Generator`` seeded with
``seed + i`` (the prior and the decoder alike), so the same request and seed give the
same pixels on the same device, and the ``n`` images of a request differ. Each renders
at the recipe's native size and is resampled to the request's.

Two hooks report progress after every denoising step: ``on_progress`` (every stage,
with a lazily computed preview; see :mod:`..progress`) and the engine's ``on_preview``
(decoder steps, with the preview image). Whatever either raises stops the generation
at that step and reaches the caller unchanged: that is how a request is cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image

from .. import seeds_for
from ..errors import BackendError
from ..progress import Progress, ProgressCallback
from .compose import inpaint_mask, paste_back, render_size, resample, resample_mask, to_u8
from .previews import latents_to_rgb
from .runtime import Runtime, explain

__all__ = ["edit", "generate", "image_embedding", "vary"]

Finish = Callable[[np.ndarray], np.ndarray]
PreviewHook = Callable[[int, int, int, np.ndarray], None]
#: Weight of the prompt's embedding against the mean of the reference images' in an edit.
REFERENCE_WEIGHT = 0.5


class _Stopped(Exception):
    """Carries an exception raised by a progress hook through the pipeline, untranslated."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


class _Hooks:
    """Counts the steps of a whole request and calls the hooks after each."""

    def __init__(
        self,
        rt: Runtime,
        operation: str,
        n: int,
        per_image: int,
        on_progress: ProgressCallback | None,
        on_preview: PreviewHook | None,
    ) -> None:
        self.rt, self.operation, self.n, self.total = rt, operation, n, n * per_image
        self.done = 0
        self.on_progress, self.on_preview = on_progress, on_preview

    def step_end(self, *, image: int, stage: str, steps: int, finish: Finish | None = None, role: str = ""):
        """A ``callback_on_step_end`` for one pipeline call (``finish`` makes decoder previews)."""

        def on_step_end(pipe: Any, i: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            self.done += 1
            preview = None
            if finish is not None:
                latents = kwargs["latents"]

                def preview() -> np.ndarray:
                    coef = self.rt.preview_map(role, pipe)
                    lat = latents[0].detach().float().cpu().numpy()
                    return finish(latents_to_rgb(lat, coef, scale=pipe.movq_scale_factor))

            try:
                if self.on_progress is not None:
                    self.on_progress(
                        Progress(
                            operation=self.operation,
                            image=image,
                            n=self.n,
                            stage=stage,
                            step=i + 1,
                            steps=steps,
                            done=self.done,
                            total=self.total,
                            _preview=preview,
                        )
                    )
                if self.on_preview is not None and preview is not None:
                    self.on_preview(image, i + 1, steps, preview())
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller as it was
                raise _Stopped(exc) from None
            return kwargs

        return on_step_end


def _generator(seed: int) -> Any:
    import torch

    # A CPU generator: the same noise on every device, so a seed means the same start.
    return torch.Generator("cpu").manual_seed(seed)


def _run(rt: Runtime, what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except _Stopped as stop:
        raise stop.original from None
    except BackendError:
        raise
    except Exception as exc:  # noqa: BLE001 - one clear error, never a torch traceback
        raise explain(exc, what=what, device=rt.device, dtype=rt.dtype_name) from None


def _embed_prompt(
    rt: Runtime, hooks: _Hooks, prompt: str, seed: int, steps: int, image: int
) -> tuple[Any, Any]:
    """``(image embedding, negative embedding)`` of the prompt from the prior."""
    prior = rt.role("prior", hooks.operation)
    out = _run(
        rt,
        "running the prior",
        lambda: prior(
            prompt,
            negative_prompt="",
            num_inference_steps=steps,
            guidance_scale=rt.recipe.prior_guidance,
            generator=_generator(seed),
            output_type="pt",
            callback_on_step_end=hooks.step_end(image=image, stage="prior", steps=steps),
        ),
    )
    return out.image_embeds, out.negative_image_embeds


def _decode(
    rt: Runtime,
    hooks: _Hooks,
    role: str,
    embeds: tuple[Any, Any],
    *,
    seed: int,
    index: int,
    steps: int,
    width: int,
    height: int,
    finish: Finish,
    **inputs: Any,
) -> np.ndarray:
    """One decoder call (``role`` is ``decoder`` or ``inpaint``); the finished uint8 image."""
    pipe = rt.role(role, hooks.operation)
    result = _run(
        rt,
        f"running the {'inpaint decoder' if role == 'inpaint' else 'decoder'} at {width}x{height}",
        lambda: pipe(
            image_embeds=embeds[0],
            negative_image_embeds=embeds[1],
            height=height,
            width=width,
            num_inference_steps=steps,
            guidance_scale=rt.recipe.guidance,
            generator=_generator(seed),
            output_type="np",
            callback_on_step_end=hooks.step_end(
                image=index, stage="decoder", steps=steps, finish=finish, role=role
            ),
            **inputs,
        ),
    )
    return finish(to_u8(result.images[0]))


def _sizes(size: int | tuple[int, int], native: int) -> tuple[tuple[int, int], tuple[int, int]]:
    out = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    return out, render_size(out, native)


def generate(
    rt: Runtime,
    prompt: str,
    *,
    size: int | tuple[int, int],
    n: int,
    seed: int,
    quality: str | None = None,
    on_progress: ProgressCallback | None = None,
    on_preview: PreviewHook | None = None,
) -> list[np.ndarray]:
    """Text to ``n`` images: prior, then decoder, per image."""
    prior_steps, steps = rt.recipe.steps_for(quality)
    out, (width, height) = _sizes(size, rt.recipe.native_size)
    hooks = _Hooks(rt, "generate", n, prior_steps + steps, on_progress, on_preview)

    def finish(u8: np.ndarray) -> np.ndarray:
        return resample(u8, out)

    images = []
    for i, s in enumerate(seeds_for(seed, n)):
        embeds = _embed_prompt(rt, hooks, prompt, s, prior_steps, i)
        images.append(
            _decode(
                rt,
                hooks,
                "decoder",
                embeds,
                seed=s,
                index=i,
                steps=steps,
                width=width,
                height=height,
                finish=finish,
            )
        )
    return images


def edit(
    rt: Runtime,
    image: np.ndarray,
    mask: np.ndarray,
    prompt: str,
    *,
    size: int | tuple[int, int],
    n: int,
    seed: int,
    quality: str | None = None,
    references: Sequence[np.ndarray] = (),
    on_progress: ProgressCallback | None = None,
    on_preview: PreviewHook | None = None,
) -> list[np.ndarray]:
    """Repaint ``mask`` (bool, True = edit) of ``image`` from ``prompt``; keep the rest.

    ``references`` (further images) pull the result towards their look: their CLIP
    image embeddings, averaged, are mixed with the prompt's (Kandinsky's own
    interpolation of images and prompts).
    """
    prior_steps, steps = rt.recipe.steps_for(quality)
    out, (width, height) = _sizes(size, rt.recipe.native_size)
    rgb = np.asarray(image, np.uint8)[:, :, :3]
    original = resample(rgb, out)
    keep_mask = resample_mask(mask, out)
    model_image = Image.fromarray(resample(rgb, (width, height)))
    model_mask = inpaint_mask(mask, (width, height))
    reference = None
    if len(references):
        embs = [image_embedding(rt, np.asarray(r, np.uint8)[:, :, :3])[0] for r in references]
        reference = sum(embs) / len(embs)

    def finish(u8: np.ndarray) -> np.ndarray:
        return paste_back(resample(u8, out), original, keep_mask)

    hooks = _Hooks(rt, "edit", n, prior_steps + steps, on_progress, on_preview)
    images = []
    for i, s in enumerate(seeds_for(seed, n)):
        emb, negative = _embed_prompt(rt, hooks, prompt, s, prior_steps, i)
        if reference is not None:
            emb = REFERENCE_WEIGHT * emb + (1.0 - REFERENCE_WEIGHT) * reference.to(emb.device, emb.dtype)
        images.append(
            _decode(
                rt,
                hooks,
                "inpaint",
                (emb, negative),
                seed=s,
                index=i,
                steps=steps,
                width=width,
                height=height,
                finish=finish,
                image=model_image,
                mask_image=model_mask,
            )
        )
    return images


def image_embedding(rt: Runtime, image: np.ndarray, operation: str | None = None) -> tuple[Any, Any]:
    """``(embedding of image, embedding of an all-zero image)`` from the CLIP image encoder."""
    import torch

    model, processor = rt.role("image_encoder", operation)

    def run() -> tuple[Any, Any]:
        pixels = processor(images=Image.fromarray(image), return_tensors="pt").pixel_values
        side = model.config.image_size
        zeros = torch.zeros(1, 3, side, side)
        with torch.no_grad():
            emb = model(pixels.to(rt.device, model.dtype)).image_embeds
            zero = model(zeros.to(rt.device, model.dtype)).image_embeds
        return emb, zero

    return _run(rt, "embedding the image with CLIP", run)


def vary(
    rt: Runtime,
    image: np.ndarray,
    *,
    size: int | tuple[int, int],
    n: int,
    seed: int,
    quality: str | None = None,
    on_progress: ProgressCallback | None = None,
    on_preview: PreviewHook | None = None,
) -> list[np.ndarray]:
    """``n`` decodes of the input's CLIP image embedding, each with its own seed."""
    _, steps = rt.recipe.steps_for(quality)
    out, (width, height) = _sizes(size, rt.recipe.native_size)
    embeds = image_embedding(rt, np.asarray(image, np.uint8)[:, :, :3], "vary")
    hooks = _Hooks(rt, "vary", n, steps, on_progress, on_preview)

    def finish(u8: np.ndarray) -> np.ndarray:
        return resample(u8, out)

    return [
        _decode(
            rt,
            hooks,
            "decoder",
            embeds,
            seed=s,
            index=i,
            steps=steps,
            width=width,
            height=height,
            finish=finish,
        )
        for i, s in enumerate(seeds_for(seed, n))
    ]
