"""torch side of the backend: device and dtype, loading each role on first use, clear errors.

Everything here imports torch and diffusers, so it is imported only when the backend
first runs. Roles load lazily (a generation never loads the inpaint decoder or the 1.8B
CLIP image encoder), each with its own pipeline class (``KandinskyV22PriorPipeline``,
``KandinskyV22Pipeline``, ``KandinskyV22InpaintPipeline``): the Auto pipelines would
ask for the combined Kandinsky pipeline on a bare decoder directory.

Failures become one :class:`~dalle_widgets.engine.backends.errors.BackendError` that
names the fix: weights not downloaded (and the hub offline), a directory that is not a
saved pipeline, no disk space for the download, out of memory, a device torch lacks.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import BackendError, BackendUnavailable, OutOfResources
from .previews import calibration_image, fit_linear_preview
from .recipe import Location, Recipe

__all__ = ["Runtime", "explain", "pick_device", "pick_dtype"]

logger = logging.getLogger("dalle_widgets")

#: Which role each operation needs (for --low-memory on a CPU: everything else is let go).
OPERATION_ROLES = {
    "generate": ("prior", "decoder"),
    "edit": ("prior", "inpaint"),
    "vary": ("image_encoder", "decoder"),
}
_PIPELINES = {
    "prior": "KandinskyV22PriorPipeline",
    "decoder": "KandinskyV22Pipeline",
    "inpaint": "KandinskyV22InpaintPipeline",
}


def _dtype_keyword(library: str) -> str:
    """``dtype`` where the library prefers it (it deprecates ``torch_dtype``), else ``torch_dtype``."""
    if library == "diffusers":
        import diffusers.utils.deprecation_utils as deprecation

        return "dtype" if hasattr(deprecation, "_resolve_dtype") else "torch_dtype"
    from importlib.metadata import version

    from packaging.version import Version

    return "dtype" if Version(version("transformers")) >= Version("4.56.0") else "torch_dtype"


def pick_device(wanted: str) -> str:
    """``auto`` is cuda, then mps, then cpu; an explicit device torch lacks is an error naming the fix."""
    import torch

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if wanted == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if wanted.startswith("cuda") and not cuda:
        raise BackendUnavailable(
            f"the model recipe asks for device {wanted!r}, but this torch ({torch.__version__}) sees no CUDA "
            f'GPU; set device = "auto" or "cpu" in the recipe, or install a CUDA build of torch'
        )
    if wanted == "mps" and not mps:
        raise BackendUnavailable(
            "the model recipe asks for device 'mps', but Apple's Metal backend is not available here; "
            'set device = "auto" or "cpu" in the recipe'
        )
    return wanted


def pick_dtype(wanted: str, device: str) -> Any:
    """``auto`` is float16 on a GPU and float32 on the CPU; float16 on the CPU is refused."""
    import torch

    if wanted == "auto":
        return torch.float32 if device == "cpu" else torch.float16
    if wanted == "float16" and device == "cpu":
        raise BackendUnavailable(
            'dtype = "float16" does not run on the CPU (several operations have no half-precision CPU '
            'kernel); use "bfloat16" (half the memory) or "float32" in the model recipe'
        )
    return getattr(torch, wanted)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in seen:
        seen.append(e)
        e = e.__cause__ or e.__context__
    return seen


def _hf_cache() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except Exception:  # noqa: BLE001 - only for the message
        return os.path.expanduser("~/.cache/huggingface/hub")


def explain(exc: BaseException, *, what: str, device: str = "cpu", dtype: str = "float32") -> BackendError:
    """Turn an exception from torch, diffusers or the hub into one :class:`BackendError` naming the fix.

    ``what`` says what was being done ("loading the decoder from ...", "running the
    decoder at 768x768"). Unknown failures keep their type and message (no traceback).
    """
    chain = _chain(exc)
    names = {type(e).__name__ for e in chain}
    text = " | ".join(str(e) for e in chain)
    low = text.lower()
    for e in chain:
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            cache = _hf_cache()
            try:
                free = shutil.disk_usage(cache if os.path.exists(cache) else os.path.expanduser("~")).free
                free_text = f"{free / 1e9:.1f} GB free"
            except OSError:
                free_text = "free space unknown"
            return OutOfResources(
                f"no space left on the device while {what} (Hugging Face cache {cache}, {free_text}). "
                "Kandinsky 2.2 needs about 12.4 GB at fp16: free some space, or set HF_HOME to a larger "
                "disk, or download the weights elsewhere and point the recipe's roles at those directories."
            )
    if names & {"OutOfMemoryError", "MemoryError"} or any(
        s in low
        for s in ("out of memory", "can't allocate memory", "defaultcpuallocator", "mps backend out of")
    ):
        return OutOfResources(
            f"out of memory on {device} ({dtype}) while {what}. Try: --low-memory (roles are offloaded "
            f"or let go between operations), a smaller native_size in the recipe, fewer images per request "
            f'(n), or dtype = "bfloat16" on a CPU / "float16" on a GPU.'
        )
    if (
        names & {"LocalEntryNotFoundError", "OfflineModeIsEnabled"}
        or "offline" in low
        or ("cannot find the requested files" in low)
    ):
        return BackendUnavailable(
            f"the weights are not on this machine while {what}, and the Hugging Face hub cannot be reached "
            f"(HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', '') or 'unset'}). Download them once online "
            f"(`huggingface-cli download <repo id>`, about 12.4 GB for Kandinsky 2.2), or point the recipe's "
            f"roles at local directories (--recipe FILE)."
        )
    if names & {"RepositoryNotFoundError", "GatedRepoError", "RevisionNotFoundError"} or "404" in low:
        return BackendUnavailable(
            f"the hub repository was not found while {what} (it may have been renamed, made private or "
            f"deleted). Point the recipe's role at another repository or a local copy (--recipe FILE)."
        )
    if "model_index.json" in low or "no file named" in low or "does not appear to have" in low:
        return BackendUnavailable(
            f"not a saved diffusers pipeline while {what}: the directory must hold model_index.json and "
            f"one folder per component, as the pipeline's save_pretrained writes them."
        )
    if isinstance(exc, ImportError):
        return BackendUnavailable(
            f"a library is missing while {what} ({exc}); install the extra: pip install "
            f"'dalle-widgets[models]' (after the torch build for your hardware)"
        )
    return BackendError(f"{type(exc).__name__} while {what}: {str(exc).strip().splitlines()[0][:300]}")


class Runtime:
    """The loaded roles of one recipe on one device, each loaded on first use (thread-safe).

    Parameters
    ----------
    recipe : Recipe
    low_memory : bool
        On a GPU: model CPU offload (each model moves to the GPU only while it runs). On
        a CPU: roles the current operation does not use are let go before it loads more.
    """

    def __init__(self, recipe: Recipe, *, low_memory: bool = False) -> None:
        import torch

        self.recipe = recipe
        self.low_memory = low_memory
        self.device = pick_device(recipe.device)
        self.dtype = pick_dtype(recipe.dtype, self.device)
        self.dtype_name = str(self.dtype).removeprefix("torch.")
        self._roles: dict[str, Any] = {}
        self._previews: dict[str, np.ndarray] = {}
        self._lock = threading.RLock()
        self._torch = torch

    # -- loading ---------------------------------------------------------------------
    def _from_pretrained(
        self, loader: Callable[..., Any], loc: Location, *, library: str, **kwargs: Any
    ) -> Any:
        if loc.subfolder:
            kwargs["subfolder"] = loc.subfolder
        if not loc.hub:
            kwargs["local_files_only"] = True
        kwargs[_dtype_keyword(library)] = self.dtype
        return loader(loc.source, **kwargs)

    def _load(self, role: str) -> Any:
        import diffusers
        import transformers

        diffusers.utils.logging.disable_progress_bar()
        transformers.utils.logging.disable_progress_bar()
        r = self.recipe
        if role == "image_encoder":
            from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

            loc = r.image_encoder
            model = self._from_pretrained(
                CLIPVisionModelWithProjection.from_pretrained, loc, library="transformers"
            )
            proc_loc = Location(loc.source, loc.hub, subfolder="image_processor" if loc.subfolder else None)
            kwargs: dict[str, Any] = {"subfolder": proc_loc.subfolder} if proc_loc.subfolder else {}
            if not loc.hub:
                kwargs["local_files_only"] = True
            processor = CLIPImageProcessor.from_pretrained(loc.source, **kwargs)
            model = model.to(self.device).eval()
            return model, processor
        loc = getattr(r, role)
        cls = getattr(diffusers, _PIPELINES[role])
        # The prior's CLIP image encoder (1.8B parameters) serves only variations: a
        # generation's negative embedding is the prior's own for the empty prompt.
        extra = {"image_encoder": None} if role == "prior" else {}
        pipe = self._from_pretrained(cls.from_pretrained, loc, library="diffusers", **extra)
        pipe.set_progress_bar_config(disable=True)
        if self.low_memory and self.device != "cpu":
            pipe.enable_model_cpu_offload(device=self.device)
        else:
            pipe.to(self.device)
        return pipe

    def role(self, role: str, operation: str | None = None) -> Any:
        """The loaded pipeline (or ``(model, processor)`` for ``image_encoder``), loading it if needed."""
        with self._lock:
            if role in self._roles:
                return self._roles[role]
            if self.low_memory and self.device == "cpu" and operation is not None:
                keep = OPERATION_ROLES[operation]
                for other in [k for k in self._roles if k not in keep]:
                    logger.info("diffusers backend: letting go of the %s to load the %s", other, role)
                    del self._roles[other]
                import gc

                gc.collect()
            loc = getattr(self.recipe, role)
            what = f"loading the {role} from {loc}"
            logger.info("diffusers backend: %s on %s (%s)", what, self.device, self.dtype_name)
            try:
                loaded = self._load(role)
            except BackendError:
                raise
            except Exception as exc:  # noqa: BLE001 - translated into one clear error
                raise explain(exc, what=what, device=self.device, dtype=self.dtype_name) from None
            self._roles[role] = loaded
            return loaded

    @property
    def loaded(self) -> tuple[str, ...]:
        """The roles in memory now."""
        return tuple(self._roles)

    # -- previews --------------------------------------------------------------------
    def preview_map(self, role: str, pipe: Any) -> np.ndarray:
        """The fitted latent-to-RGB map of a decoder role (fitted once, ~one MoVQ encode)."""
        with self._lock:
            if role not in self._previews:
                torch = self._torch
                img = calibration_image(256)
                x = torch.from_numpy(img).permute(2, 0, 1)[None] * 2.0 - 1.0
                movq = pipe.movq
                with torch.no_grad():
                    lat = movq.encode(x.to(movq.device, movq.dtype))["latents"]
                self._previews[role] = fit_linear_preview(lat[0].float().cpu().numpy(), img)
            return self._previews[role]
