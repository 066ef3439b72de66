"""Prices and budgets: what a request will cost before it is sent, and a session ledger.

Prices come from the model table (:mod:`dalle_widgets.models`); a model or size the
table has no price for is *unknown*, never guessed. The offline engine is free.
Everything here is pure: the magic and :func:`dalle_widgets.batch` call it before
sending anything, so a request that would pass the budget is refused unsent.

>>> est = estimate("dall-e-2", "512x512", 4)
>>> est.total_usd
0.072
>>> est.describe()
'4 x 512x512 with dall-e-2 at $0.018 = $0.072'
>>> estimate("gpt-image-1", "1024x1024", 2).describe()
'2 x 1024x1024 with gpt-image-1: price unknown'
>>> ledger = Ledger(budget_usd=0.10)
>>> ledger.record(0.072)
>>> ledger.refusal(est) is not None
True
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import lookup

__all__ = ["Estimate", "Ledger", "estimate", "format_usd"]


def format_usd(value: float | None) -> str:
    """Format a price in US dollars: cents always, a tenth of a cent when it matters.

    >>> format_usd(0.072), format_usd(2.0), format_usd(0.16), format_usd(None)
    ('$0.072', '$2.00', '$0.16', 'unknown')
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
    model, size : str
        What is asked for; ``size`` is the model's default when none was given.
    images : int
        Output images in total (``n`` times the number of requests).
    unit_usd : float or None
        Price of one image; None when the table has no price (never guessed).
    offline : bool
        True for the offline engine, which is free.
    """

    model: str
    size: str
    images: int
    unit_usd: float | None
    offline: bool = False

    @property
    def total_usd(self) -> float | None:
        """Total price in USD, or None when unknown."""
        if self.offline:
            return 0.0
        if self.unit_usd is None:
            return None
        return round(self.unit_usd * self.images, 6)

    @property
    def known(self) -> bool:
        """Whether the total is known."""
        return self.total_usd is not None

    def describe(self) -> str:
        """One human line: ``'4 x 512x512 with dall-e-2 at $0.018 = $0.072'``."""
        head = f"{self.images} x {self.size} with {self.model}"
        if self.offline:
            return f"{head} on the offline engine: free"
        if self.unit_usd is None:
            return f"{head}: price unknown"
        return f"{head} at {format_usd(self.unit_usd)} = {format_usd(self.total_usd)}"


def estimate(model: str, size: str | None, n: int, *, requests: int = 1, offline: bool = False) -> Estimate:
    """Price ``requests`` requests of ``n`` images at ``size`` with ``model``.

    Parameters
    ----------
    model : str
        A model name, provider prefixes allowed (``openai/dall-e-2``).
    size : str or None
        ``"WxH"``; None means the model's default size.
    n : int
        Images per request.
    requests : int, optional
        Identical requests (a batch of prompts, the frames of an outpaint).
    offline : bool, optional
        The offline engine: free whatever the model.

    Examples
    --------
    >>> estimate("openai/dall-e-2", None, 1).describe()
    '1 x 1024x1024 with openai/dall-e-2 at $0.02 = $0.02'
    >>> estimate("dall-e-2", "256x256", 2, requests=12).total_usd
    0.384
    """
    spec = lookup(model)
    size = size or spec.default_size
    return Estimate(model=model, size=size, images=n * requests, unit_usd=spec.price(size), offline=offline)


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
        total = est.total_usd
        if total is None:
            return (
                f"the price of {est.size} images from {est.model} is unknown, so the budget of "
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
