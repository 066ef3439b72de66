"""What each image model can do: the one table every other module consults.

The client validates requests against it, the offline engine enforces the same
rules, and the magic reads prices from it. Provider differences live here and
nowhere else.

>>> spec = lookup("openai/dall-e-2")
>>> spec.name, spec.sizes[0], spec.max_n
('dall-e-2', '256x256', 10)
>>> spec.price("512x512")
0.018
>>> lookup("gpt-image-1").supports("vary")
False
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

__all__ = ["DEFAULT_MODEL", "MODELS", "ModelSpec", "Operation", "lookup", "strip_provider"]

logger = logging.getLogger("dalle_widgets")

Operation = str  # one of "generate", "edit", "vary"
OPERATIONS = ("generate", "edit", "vary")

DEFAULT_MODEL = "dall-e-2"


@dataclass(frozen=True)
class ModelSpec:
    """Capabilities and limits of one image model.

    Attributes
    ----------
    name : str
        The canonical model name, without any provider prefix.
    sizes : tuple of str
        The sizes the model accepts, as ``"WxH"``.
    default_size : str
        The size used when the caller gives none.
    operations : frozenset of str
        Which of ``generate``, ``edit``, ``vary`` the model offers.
    max_n : int
        Most images per request.
    max_prompt_chars : int or None
        Longest prompt accepted; None when unknown.
    square_inputs : bool
        Edits and variations need a square input image.
    response_formats : tuple of str
        ``url`` and/or ``b64_json``; GPT image models only return base64.
    prices_usd : dict
        Price per output image by size; empty when not published per image.
    known : bool
        False for a model the table does not know (only generic checks apply).
    """

    name: str
    sizes: tuple[str, ...]
    default_size: str
    operations: frozenset[str]
    max_n: int = 10
    max_prompt_chars: int | None = 1000
    square_inputs: bool = True
    response_formats: tuple[str, ...] = ("url", "b64_json")
    prices_usd: dict[str, float] = field(default_factory=dict)
    max_upload_bytes: int = 4_000_000
    known: bool = True

    def supports(self, operation: Operation) -> bool:
        """Whether the model offers ``operation`` (``generate``, ``edit`` or ``vary``)."""
        return operation in self.operations

    def price(self, size: str) -> float | None:
        """Price in USD of one output image at ``size``; None when unknown (never guessed)."""
        return self.prices_usd.get(size)

    def size_pixels(self, size: str) -> tuple[int, int] | None:
        """``(width, height)`` for a ``"WxH"`` size, or None for ``"auto"``."""
        if size == "auto":
            return None
        w, h = size.split("x")
        return int(w), int(h)


_GPT_IMAGE_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")

MODELS: dict[str, ModelSpec] = {
    "dall-e-2": ModelSpec(
        name="dall-e-2",
        sizes=("256x256", "512x512", "1024x1024"),
        default_size="1024x1024",
        operations=frozenset({"generate", "edit", "vary"}),
        max_n=10,
        max_prompt_chars=1000,
        square_inputs=True,
        prices_usd={"256x256": 0.016, "512x512": 0.018, "1024x1024": 0.020},
    ),
    # GPT image models bill by tokens (quality and size dependent), so no per-image
    # price is given here: the magic shows "unknown" instead of guessing.
    **{
        name: ModelSpec(
            name=name,
            sizes=_GPT_IMAGE_SIZES,
            default_size="1024x1024",
            operations=frozenset({"generate", "edit"}),
            max_n=10,
            max_prompt_chars=32000,
            square_inputs=False,
            response_formats=("b64_json",),
            max_upload_bytes=50_000_000,
        )
        for name in ("gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5")
    },
}


def strip_provider(model: str) -> str:
    """Drop an aggregator's provider prefix: ``"openai/dall-e-2"`` -> ``"dall-e-2"``.

    >>> strip_provider("openai/dall-e-2")
    'dall-e-2'
    >>> strip_provider("dall-e-2")
    'dall-e-2'
    """
    return model.rsplit("/", 1)[-1]


def lookup(model: str) -> ModelSpec:
    """Return the :class:`ModelSpec` for ``model``.

    Provider prefixes (``openai/dall-e-2``) map to the same capabilities. An
    unknown model gets generic limits (any ``WxH`` size it is sent with, n 1-10,
    all operations) and a logged warning; it is never refused for being unknown.
    """
    base = strip_provider(model)
    spec = MODELS.get(base)
    if spec is not None:
        return spec
    logger.warning("model %r is not in dalle_widgets' table: only generic checks apply", model)
    return ModelSpec(
        name=model,
        sizes=(),
        default_size="1024x1024",
        operations=frozenset(OPERATIONS),
        max_n=10,
        max_prompt_chars=None,
        square_inputs=False,
        known=False,
    )
