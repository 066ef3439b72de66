"""A character counter under a prompt box, against the model's prompt limit.

The limit is the model table's ``max_prompt_chars`` (1,000 for ``dall-e-2``, 32,000 for
the GPT image models; none for an unknown model of a generic endpoint). The counter
only informs: the client refuses an over-long prompt before sending, with the same
numbers, and the widget shows that error in its status line.

>>> import ipywidgets as W
>>> box = W.Textarea(value="a fox")
>>> counter = PromptCounter(box, limit=10)
>>> counter.count, counter.over
(5, False)
>>> box.value = "a watercolor fox"
>>> counter.over, count_line(16, 10)
(True, '16 / 10 characters: 6 over the limit, shorten the prompt')
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

__all__ = ["PromptCounter", "count_line"]


def count_line(chars: int, limit: int | None) -> str:
    """The counter's text for ``chars`` characters against ``limit`` (None: no known limit).

    >>> count_line(42, 1000), count_line(7, None)
    ('42 / 1,000 characters', '7 characters')
    """
    if not limit:
        return f"{chars:,} character{'' if chars == 1 else 's'}"
    line = f"{chars:,} / {limit:,} characters"
    if chars > limit:
        line += f": {chars - limit:,} over the limit, shorten the prompt"
    return line


class PromptCounter(W.HTML):
    """Counts the characters of ``prompt`` (a Text or Textarea) as they are typed.

    Parameters
    ----------
    prompt : ipywidgets.Text or ipywidgets.Textarea
        The prompt box to follow.
    limit : int, optional
        The model's prompt limit in characters (``ModelSpec.max_prompt_chars``).
    """

    def __init__(self, prompt: W.Text | W.Textarea, limit: int | None = None) -> None:
        super().__init__(layout=W.Layout(margin="0 0 0 4px"))
        self.add_class("dalle-prompt-counter")
        self._prompt = prompt
        self._limit = limit
        prompt.observe(self._update, "value")
        self._update()

    @property
    def limit(self) -> int | None:
        """The limit counted against (set it when the model changes)."""
        return self._limit

    @limit.setter
    def limit(self, value: int | None) -> None:
        self._limit = value
        self._update()

    @property
    def count(self) -> int:
        """Characters in the prompt box now."""
        return len(self._prompt.value or "")

    @property
    def over(self) -> bool:
        """Whether the prompt is longer than the limit."""
        return bool(self._limit) and self.count > (self._limit or 0)

    def _update(self, _change: Any = None) -> None:
        cls = "dalle-error" if self.over else "dalle-muted"
        self.value = (
            # a block with its own line height: a wrapped line does not take the widget's 28 px
            f"<div class='{cls}' style='font-size:11px;line-height:1.4'>"
            f"{html.escape(count_line(self.count, self._limit))}</div>"
        )
