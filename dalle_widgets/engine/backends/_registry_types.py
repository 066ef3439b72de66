"""Helpers every backend may use."""

from __future__ import annotations

__all__ = ["seeds_for"]


def seeds_for(seed: int, n: int) -> list[int]:
    """Per-image seeds of one request: ``seed, seed + 1, ...`` (wrapping at 2**63).

    >>> seeds_for(7, 3)
    [7, 8, 9]
    """
    return [(seed + i) % 2**63 for i in range(n)]
