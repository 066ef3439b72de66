"""The one pricing path: what a request will cost before it is sent, what it cost after, and a ledger.

Before: :func:`estimate` prices a request from the model table (:mod:`dalle_widgets.models`):
the published per-image price for its size and quality where there is one, otherwise
tokens (image output tokens by quality, scaled by area; input image and prompt tokens)
times the model's token rates. ``quality="auto"`` is priced as ``high`` and ``size="auto"``
as the dearest preset: an upper bound, so a budget is never passed by surprise. A price
the table cannot give is *unknown*, never guessed. The offline engine is free.

After: :func:`cost_from_usage` turns the response's ``usage`` (text and image input
tokens, image output tokens) into dollars with the same rates. :class:`Ledger` adds up
what a session spent and refuses what would pass a budget.

:meth:`ImagesClient.prepare <dalle_widgets.client.ImagesClient.prepare>` attaches an
:class:`Estimate` to every request (``prepared.estimate``); the magic's ``--dry-run``,
the batch plan, the budget refusal and the editors all read it.

>>> est = estimate("dall-e-2", "512x512", 4)
>>> est.usd, est.method
(0.072, 'per-image')
>>> est.describe()
'4 x 512x512 with dall-e-2 at $0.018 = $0.072'
>>> estimate("gpt-image-2", "1024x1024", 1, quality="high").describe()
'1 x 1024x1024 high with gpt-image-2 at $0.211 = $0.211'
>>> cost_from_usage("gpt-image-2", {"input_tokens_details": {"text_tokens": 10, "image_tokens": 0},
...                                 "output_tokens": 1767})
0.05306
>>> ledger = Ledger(budget_usd=0.10)
>>> ledger.record(0.072)
>>> ledger.refusal(est) is not None
True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ._types import Operation
from .models import ModelSpec, lookup, parse_size

__all__ = ["Estimate", "Ledger", "cost_from_usage", "estimate", "format_usd"]

#: Characters per text token when estimating a prompt's input tokens.
CHARS_PER_TOKEN = 4
_AREA_1024 = 1024 * 1024


def format_usd(value: float | None) -> str:
    """Format a price in US dollars: cents always, a tenth of a cent when it matters.

    >>> format_usd(0.072), format_usd(2.0), format_usd(0.16), format_usd(None), format_usd(0.0531)
    ('$0.072', '$2.00', '$0.16', 'unknown', '$0.053')
    """
    if value is None:
        return "unknown"
    text = f"{value:.3f}"
    if text.endswith("0"):
        text = text[:-1]
    return "$" + text


@dataclass(frozen=True)
class Estimate:
    """The price of one request (or several identical ones) before it is sent.

    Attributes
    ----------
    usd : float or None
        The total in USD; None when the table cannot price it (never guessed).
    method : str
        How it was made: ``per-image`` (published prices), ``per-image+tokens`` (published
        output prices plus prompt and input-image tokens), ``tokens`` (token counts times
        rates), ``offline`` (free), or ``unknown``.
    detail : str
        One line saying what was priced and from which figures (and their source date).
    model, size, quality : str
        What is asked for (``size`` and ``quality`` after defaults).
    images : int
        Output images in total (``n`` times ``requests``).
    requests : int
    offline : bool
        True for the offline engine.
    """

    usd: float | None
    method: str
    detail: str
    model: str
    size: str | None
    quality: str | None
    images: int
    requests: int = 1
    offline: bool = False

    @property
    def total_usd(self) -> float | None:
        """The total in USD (the same as :attr:`usd`)."""
        return self.usd

    @property
    def unit_usd(self) -> float | None:
        """The price of one output image (inputs shared out), or None when unknown."""
        if self.usd is None or not self.images:
            return None
        return self.usd / self.images

    @property
    def known(self) -> bool:
        """Whether the total is known."""
        return self.usd is not None

    def times(self, requests: int) -> Estimate:
        """The same request sent ``requests`` times (a batch of prompts, the frames of an outpaint)."""
        per = self.requests or 1
        usd = None if self.usd is None else round(self.usd / per * requests, 6)
        return replace(self, usd=usd, images=self.images // per * requests, requests=requests)

    def describe(self) -> str:
        """One human line: ``'4 x 512x512 with dall-e-2 at $0.018 = $0.072'``."""
        what = " ".join(p for p in (self.size or "default size", self.quality) if p and p != "standard")
        head = f"{self.images} x {what} with {self.model}"
        if self.offline:
            return f"{head} on the offline engine: free"
        if self.usd is None:
            return f"{head}: price unknown ({self.detail})" if self.detail else f"{head}: price unknown"
        if self.method == "per-image" and self.unit_usd is not None:
            assumed = [p for p in self.detail.split("; ") if "priced as" in p]
            note = f" ({'; '.join(assumed)})" if assumed else ""
            return f"{head} at {format_usd(self.unit_usd)} = {format_usd(self.usd)}{note}"
        return f"{head}: about {format_usd(self.usd)} ({self.detail})"


def _scale(size: str | None) -> float:
    wh = parse_size(size or "")
    return (wh[0] * wh[1]) / _AREA_1024 if wh else 1.0


def _priced_quality(spec: ModelSpec, quality: str | None) -> tuple[str | None, str]:
    """The quality whose figures price the request, and a note when it differs from the one asked."""
    if quality == "auto":
        if "high" in spec.prices.output_tokens or "high" in spec.prices.per_image:
            return "high", "quality auto priced as high"
        return None, ""
    return quality, ""


def _per_image(spec: ModelSpec, quality: str | None, size: str) -> tuple[float | None, str]:
    """A published per-image price; ``size="auto"`` takes the dearest published size."""
    table = spec.prices.per_image.get(quality or "", {})
    if size == "auto":
        if not table:
            return None, ""
        dearest = max(table, key=lambda s: table[s])
        return table[dearest], f"size auto priced as {dearest}"
    return table.get(size), ""


def _token_output(spec: ModelSpec, quality: str | None, size: str) -> tuple[float | None, str]:
    """Image output tokens for one image at ``size``, from the 1024x1024 figure scaled by area."""
    per_1024 = spec.prices.output_tokens.get(quality or "")
    if per_1024 is None:
        return None, ""
    if size == "auto":
        presets = [s for s in spec.sizes if parse_size(s)] or ["1024x1024"]
        largest = max(presets, key=_scale)
        return per_1024 * _scale(largest), f"size auto priced as {largest}"
    return per_1024 * _scale(size), ""


def estimate(
    model: str,
    size: str | None = None,
    n: int = 1,
    *,
    quality: str | None = None,
    operation: Operation = "generate",
    input_sizes: Iterable[tuple[int, int]] = (),
    prompt_chars: int = 0,
    requests: int = 1,
    offline: bool = False,
    spec: ModelSpec | None = None,
    frames: int | None = None,
) -> Estimate:
    """Price ``requests`` identical requests of ``n`` images with ``model``.

    Parameters
    ----------
    model : str
        A model id, provider prefixes allowed (``openai/dall-e-2``).
    size : str or None
        ``"WxH"`` or ``"auto"``; None means the model's default size.
    n : int
        Images per request.
    quality : str or None
        None means the model's default quality (``auto`` for GPT image models).
    operation : str
        ``generate``, ``edit`` or ``vary``; edits of GPT image models also pay for input images.
    input_sizes : iterable of (width, height)
        The images uploaded with the request (edits, variations).
    prompt_chars : int
        Length of the prompt (GPT image models bill text input tokens).
    requests : int
        Identical requests (a batch of prompts, the frames of an outpaint).
    offline : bool
        The offline engine: free whatever the model.
    spec : ModelSpec, optional
        The table's entry for ``model`` when the caller has it already.
    frames : int, optional
        An animated GIF of this many frames of ``size``: it is billed as one image the
        size of its sprite sheet, whose cells come in steps (2 to 8 frames pay for 8;
        see :meth:`~dalle_widgets.models.GifRule.cells`).

    Examples
    --------
    >>> estimate("openai/dall-e-2", None, 1).describe()
    '1 x 1024x1024 with openai/dall-e-2 at $0.02 = $0.02'
    >>> estimate("dall-e-2", "256x256", 2, requests=12).usd
    0.384
    >>> est = estimate("gpt-image-2", "1536x864", 1, quality="medium", operation="edit",
    ...                input_sizes=[(1024, 1024)], prompt_chars=40)
    >>> est.method, est.usd
    ('tokens', 0.091541)
    >>> gif = estimate("gpt-image-2.6-flare", "512x512", 1, quality="high", frames=6)
    >>> gif.usd, gif.detail
    (0.42144, 'GIF of 6 frames billed as a sheet of 8; ~14,048 image tokens at $30/M')
    >>> estimate("gpt-image-2.5-flare", "1024x1024", 1, quality="xhigh").describe()
    '1 x 1024x1024 xhigh with gpt-image-2.5-flare: price unknown (no price for quality xhigh)'
    """
    spec = spec or lookup(model, warn=False)
    size = size or spec.default_size
    asked = quality or spec.default_quality
    images = n * requests
    common: dict[str, Any] = dict(model=model, size=size, quality=asked, images=images, requests=requests)
    if offline:
        return Estimate(0.0, "offline", "the offline engine is free", offline=True, **common)
    if size is None:
        return Estimate(None, "unknown", "no size given and the model has no default", **common)
    q, q_note = _priced_quality(spec, asked)
    notes = [q_note] if q_note else []
    cells = 1
    if frames and spec.gif_rule is not None:
        cells = spec.gif_rule.cells(frames)
        if size == "auto":
            size = spec.gif_rule.largest(frames)
            notes.append(f"size auto priced as {size}")
        notes.append(f"GIF of {frames} frames billed as a sheet of {cells}")
    # published per-image prices are for still images; a GIF is priced by its sheet's tokens
    unit, size_note = _per_image(spec, q, size) if cells == 1 else (None, "")
    rates = spec.prices.tokens
    method = "per-image"
    if unit is not None:
        source = spec.prices.per_image_date
        notes.append(size_note)
        notes.append(f"per-image price{f' of {source.isoformat()}' if source else ''}")
    else:
        tokens, size_note = _token_output(spec, q, size)
        if tokens is None or rates is None:
            priced = spec.prices.per_image or spec.prices.output_tokens
            why = f"no price for quality {asked}" if asked and priced else "no price in the table"
            return Estimate(None, "unknown", why, **common)
        method = "tokens"
        tokens *= cells
        unit = tokens * rates.image_out / 1e6
        notes.append(size_note)
        notes.append(f"~{round(tokens):,} image tokens at ${rates.image_out:g}/M")
    per_request = unit * n
    if spec.family == "gpt-image" and rates is not None:
        text_tokens = math.ceil(prompt_chars / CHARS_PER_TOKEN)
        if text_tokens:
            per_request += text_tokens * rates.text_in / 1e6
            notes.append(f"+ ~{text_tokens:,} prompt tokens")
        inputs = list(input_sizes) if operation != "generate" else []
        if inputs and spec.prices.input_image_tokens is not None:
            in_tokens = sum(spec.prices.input_image_tokens * w * h / _AREA_1024 for w, h in inputs)
            per_request += in_tokens * rates.image_in / 1e6
            s = "s" if len(inputs) != 1 else ""
            notes.append(f"+ {len(inputs)} input image{s} (~{round(in_tokens):,} tokens)")
        elif inputs:
            notes.append("input images not priced (no figure in the table)")
        if method == "per-image" and per_request > unit * n:
            method = "per-image+tokens"
    usd = round(per_request * requests, 6)
    detail = "; ".join(p for p in notes if p)
    return Estimate(usd, method, detail, **common)


def cost_from_usage(model: str, usage: Mapping[str, Any] | None) -> float | None:
    """USD for a response's ``usage`` block at ``model``'s token rates; None when it cannot be told.

    ``output_tokens_details`` splits image and text output when present; otherwise every
    output token is an image token (the streaming ``completed`` event has no details).
    There is no cached-token field in the Images ``usage``, so the non-cached rates apply:
    an upper bound.
    """
    if not isinstance(usage, Mapping):
        return None
    rates = lookup(model, warn=False).prices.tokens
    if rates is None:
        return None

    def count(obj: Any, key: str) -> int:
        value = obj.get(key) if isinstance(obj, Mapping) else None
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0

    inputs = usage.get("input_tokens_details")
    outputs = usage.get("output_tokens_details")
    text_in = count(inputs, "text_tokens")
    image_in = count(inputs, "image_tokens")
    if not isinstance(inputs, Mapping):
        text_in = count(usage, "input_tokens")
    if isinstance(outputs, Mapping):
        image_out, text_out = count(outputs, "image_tokens"), count(outputs, "text_tokens")
    else:
        image_out, text_out = count(usage, "output_tokens"), 0
    usd = (
        text_in * rates.text_in
        + image_in * rates.image_in
        + image_out * rates.image_out
        + text_out * (rates.text_out if rates.text_out is not None else rates.text_in)
    ) / 1e6
    return round(usd, 6)


class Ledger:
    """What a session has spent, and an optional budget it must not pass.

    ``refusal(estimate)`` says why a request may not be sent (or returns None);
    ``record(cost)`` adds what a finished request cost. Unknown costs are counted
    separately, so the total never pretends to know them.

    >>> ledger = Ledger(budget_usd=2.0)
    >>> ledger.record(0.08); ledger.record(None)
    >>> ledger.describe()
    '$0.08 spent this session (+ 1 request of unknown price), budget $2.00'
    """

    def __init__(self, budget_usd: float | None = None) -> None:
        self.budget_usd = budget_usd
        self.spent_usd = 0.0
        self.requests = 0
        self.unknown = 0

    def record(self, cost_usd: float | None) -> None:
        """Add the cost of one finished request (None when its price is unknown)."""
        self.requests += 1
        if cost_usd is None:
            self.unknown += 1
        else:
            self.spent_usd = round(self.spent_usd + cost_usd, 6)

    def refusal(self, est: Estimate, *, hint: str = "") -> str | None:
        """Return why ``est`` may not be sent under the budget, or None if it may.

        A request of unknown price is refused while a budget is set: the budget
        cannot be checked without guessing.
        """
        if self.budget_usd is None or est.offline:
            return None
        hint = f": {hint}" if hint else ""
        total = est.usd
        if total is None:
            return (
                f"the price of {est.describe().split(': price unknown')[0]} is unknown, so the budget of "
                f"{format_usd(self.budget_usd)} cannot be checked{hint}"
            )
        if self.spent_usd + total > self.budget_usd + 1e-9:
            return (
                f"this request costs {format_usd(total)} ({est.describe()}); with "
                f"{format_usd(self.spent_usd)} spent this session it would pass the budget of "
                f"{format_usd(self.budget_usd)}{hint}"
            )
        return None

    def describe(self) -> str:
        """One line: spent so far, unknown-price requests, the budget."""
        text = f"{format_usd(self.spent_usd)} spent this session"
        if self.unknown:
            s = "s" if self.unknown != 1 else ""
            text += f" (+ {self.unknown} request{s} of unknown price)"
        if self.budget_usd is not None:
            text += f", budget {format_usd(self.budget_usd)}"
        return text
