"""The three DALL-E 2 operations on Kandinsky 2.2's unCLIP pipelines (torch side).

* generate: the prior maps the prompt to a CLIP image embedding, the decoder draws it;
* edit (inpainting and outpainting): the prior embeds the prompt, the inpaint decoder
  repaints the dilated mask, the original pixels are pasted back outside the requested
  mask (:mod:`.compose`);
* vary: the CLIP image embedding of the input itself, decoded again: DALL-E 2's own
  variation method, no text involved.

Every image ``i`` of a request runs on its own CPU ``torch.Generator`` seeded with
``seed + i`` (the prior and the decoder alike), so the same request and seed give the
same pixels on the same device, and the ``n`` images of a request differ. Each renders
at the recipe's native size and is resampled to the request's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from .. import seeds_for
from ..errors import BackendError
from ..progress import Progress, ProgressCallback
from .compose import inpaint_mask, paste_back, render_size, resample, resample_mask, to_u8
from .previews import latents_to_rgb
from .runtime import Runtime, explain

__all__ = ["edit", "generate", "vary"]

Finish = Callable[[np.ndarray], np.ndarray]


class _Steps:
    """Counts steps over a whole request and calls ``on_progress`` for each."""

    def __init__(self, operation: str, n: int, per_image: int, on_progress: ProgressCallback | None) -> None:
        self.operation, self.n, self.total = operation, n, n * per_image
        self.done = 0
        self.on_progress = on_progress

    def callback(
        self,
        rt: Runtime,
        *,
        image: int,
        stage: str,
        steps: int,
        finish: Finish | None = None,
        pipe_role: str | None = None,
    ) -> Callable[..., dict[str, Any]]:
        def on_step_end(pipe: Any, i: int, t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            self.done += 1
            if self.on_progress is not None:
                preview = None
                if finish is not None and pipe_role is not None:
                    latents = kwargs["latents"]

                    def preview() -> np.ndarray:
                        coef = rt.preview_map(pipe_role, pipe)
                        lat = latents[0].detach().float().cpu().numpy()
                        return finish(latents_to_rgb(lat, coef, scale=pipe.movq_scale_factor))

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
            return kwargs

        return on_step_end


def _generator(seed: int) -> Any:
    import torch

    # A CPU generator: the same noise on every device, so a seed means the same start.
    return torch.Generator("cpu").manual_seed(seed)


def _run(rt: Runtime, what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except BackendError:
        raise
    except Exception as exc:  # noqa: BLE001 - one clear error, never a torch traceback
        raise explain(exc, what=what, device=rt.device, dtype=rt.dtype_name) from None


def _embed_prompt(rt: Runtime, prompt: str, seed: int, steps: int, counter: _Steps, image: int, op: str):
    prior = rt.role("prior", op)
    return _run(
        rt,
        "running the prior",
        lambda: prior(
            prompt,
            negative_prompt="",
            num_inference_steps=steps,
            guidance_scale=rt.recipe.prior_guidance,
            generator=_generator(seed),
            output_type="pt",
            callback_on_step_end=counter.callback(rt, image=image, stage="prior", steps=steps),
        ),
    )


def _finisher(out_size: tuple[int, int]) -> Finish:
    return lambda u8: resample(u8, out_size)


def generate(
    rt: Runtime,
    prompt: str,
    *,
    size: int | tuple[int, int],
    n: int,
    seed: int,
    quality: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[np.ndarray]:
    """Text to ``n`` images: prior, then decoder, per image."""
    prior_steps, steps = rt.recipe.steps_for(quality)
    out_size = (size, size) if isinstance(size, int) else size
    width, height = render_size(size, rt.recipe.native_size)
    counter = _Steps("generate", n, prior_steps + steps, on_progress)
    finish = _finisher(out_size)
    images = []
    for i, s in enumerate(seeds_for(seed, n)):
        emb = _embed_prompt(rt, prompt, s, prior_steps, counter, i, "generate")
        decoder = rt.role("decoder", "generate")
        result = _run(
            rt,
            f"running the decoder at {width}x{height}",
            lambda emb=emb, s=s, i=i, decoder=decoder: decoder(
                image_embeds=emb.image_embeds,
                negative_image_embeds=emb.negative_image_embeds,
                height=height,
                width=width,
                num_inference_steps=steps,
                guidance_scale=rt.recipe.guidance,
                generator=_generator(s),
                output_type="np",
                callback_on_step_end=counter.callback(
                    rt, image=i, stage="decoder", steps=steps, finish=finish, pipe_role="decoder"
                ),
            ),
        )
        images.append(finish(to_u8(result.images[0])))
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
    on_progress: ProgressCallback | None = None,
) -> list[np.ndarray]:
    """Repaint ``mask`` (bool, True = edit) of ``image`` from ``prompt``; keep the rest."""
    prior_steps, steps = rt.recipe.steps_for(quality)
    out_size = (size, size) if isinstance(size, int) else size
    width, height = render_size(size, rt.recipe.native_size)
    rgb = np.asarray(image, np.uint8)[:, :, :3]
    original = resample(rgb, out_size)
    keep_mask = resample_mask(mask, out_size)
    model_image = Image.fromarray(resample(rgb, (width, height)))
    model_mask = inpaint_mask(mask, (width, height))

    def finish(u8: np.ndarray) -> np.ndarray:
        return paste_back(resample(u8, out_size), original, keep_mask)

    counter = _Steps("edit", n, prior_steps + steps, on_progress)
    images = []
    for i, s in enumerate(seeds_for(seed, n)):
        emb = _embed_prompt(rt, prompt, s, prior_steps, counter, i, "edit")
        inpaint = rt.role("inpaint", "edit")
        result = _run(
            rt,
            f"running the inpaint decoder at {width}x{height}",
            lambda emb=emb, s=s, i=i, inpaint=inpaint: inpaint(
                image=model_image,
                mask_image=model_mask,
                image_embeds=emb.image_embeds,
                negative_image_embeds=emb.negative_image_embeds,
                height=height,
                width=width,
                num_inference_steps=steps,
                guidance_scale=rt.recipe.guidance,
                generator=_generator(s),
                output_type="np",
                callback_on_step_end=counter.callback(
                    rt, image=i, stage="decoder", steps=steps, finish=finish, pipe_role="inpaint"
                ),
            ),
        )
        images.append(finish(to_u8(result.images[0])))
    return images


def image_embedding(rt: Runtime, image: np.ndarray) -> tuple[Any, Any]:
    """``(embedding of image, embedding of an all-zero image)`` from the CLIP image encoder."""
    import torch

    model, processor = rt.role("image_encoder", "vary")

    def run() -> tuple[Any, Any]:
        pixels = processor(images=Image.fromarray(image), return_tensors="pt").pixel_values
        size = model.config.image_size
        zeros = torch.zeros(1, 3, size, size)
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
) -> list[np.ndarray]:
    """``n`` decodes of the input's CLIP image embedding, each with its own seed."""
    _, steps = rt.recipe.steps_for(quality)
    out_size = (size, size) if isinstance(size, int) else size
    width, height = render_size(size, rt.recipe.native_size)
    emb, zero = image_embedding(rt, np.asarray(image, np.uint8)[:, :, :3])
    counter = _Steps("vary", n, steps, on_progress)
    finish = _finisher(out_size)
    decoder = rt.role("decoder", "vary")
    images = []
    for i, s in enumerate(seeds_for(seed, n)):
        result = _run(
            rt,
            f"running the decoder at {width}x{height}",
            lambda s=s, i=i: decoder(
                image_embeds=emb,
                negative_image_embeds=zero,
                height=height,
                width=width,
                num_inference_steps=steps,
                guidance_scale=rt.recipe.guidance,
                generator=_generator(s),
                output_type="np",
                callback_on_step_end=counter.callback(
                    rt, image=i, stage="decoder", steps=steps, finish=finish, pipe_role="decoder"
                ),
            ),
        )
        images.append(finish(to_u8(result.images[0])))
    return images
