"""Splitting a magic line into words, and interpolating ``{expr}`` from the user's namespace.

Words split shell-style, with two changes that suit prompts:

* a quote groups words only at the start of a word (or right after ``=``), so
  ``a fox's den`` is three words and needs no quoting, and a closing quote must end
  the word, so ``'a fox's den'`` is one;
* ``{...}`` is kept whole, spaces and quotes included, so ``{", ".join(colours)}`` is
  one piece of a word. It is evaluated *after* the line is parsed, which means an
  interpolated value is always data: a value like ``"-n 9"`` never becomes an option.

``{{`` and ``}}`` stand for literal braces, as in :meth:`str.format` and IPython's
``!`` commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from IPython.core.error import UsageError

__all__ = ["interpolate", "split_words"]

_QUOTES = "'\""


def _scan_field(text: str, start: int) -> int:
    """Return the index just past the ``}`` closing the field opened at ``text[start]``."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c in _QUOTES:  # a Python string literal inside the expression
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c in "{[(":
            depth += 1
        elif c in "}])":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise UsageError(
        f"unmatched '{{' in {text[start:]!r}: close it with '}}', or write '{{{{' for a literal brace"
    )


def split_words(line: str) -> list[str]:
    """Split ``line`` into words, keeping ``{...}`` fields and ``{{``/``}}`` escapes verbatim.

    Examples
    --------
    >>> split_words('a fox\\'s den -n 2 --size=\\'512x512\\'')
    ['a', "fox's", 'den', '-n', '2', '--size=512x512']
    >>> split_words('"a red fox" {", ".join(x)} {{literal}}')
    ['a red fox', '{", ".join(x)}', '{{literal}}']
    """
    words: list[str] = []
    cur: list[str] = []
    has_word = False  # an empty quoted string "" is still a word
    quote: str | None = None
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if quote is None and c.isspace():
            if has_word:
                words.append("".join(cur))
                cur, has_word = [], False
            i += 1
            continue
        if line.startswith("{{", i) or line.startswith("}}", i):
            cur.append(line[i : i + 2])
            has_word = True
            i += 2
            continue
        if c == "{":
            end = _scan_field(line, i)
            cur.append(line[i:end])
            has_word = True
            i = end
            continue
        if c == "}":
            raise UsageError(f"single '}}' in {line!r}: write '}}}}' for a literal brace")
        if quote is None and c in _QUOTES and (not cur or cur[-1].endswith("=")):
            quote = c
            has_word = True
            i += 1
            continue
        if quote is not None and c == quote and (i + 1 == n or line[i + 1].isspace()):
            quote = None
            i += 1
            continue
        if quote == '"' and c == "\\" and i + 1 < n and line[i + 1] in '"\\':
            cur.append(line[i + 1])
            i += 2
            continue
        cur.append(c)
        has_word = True
        i += 1
    if quote is not None:
        raise UsageError(f"unclosed {quote} quote in {line!r}: close it, or put the prompt in a %%dalle cell")
    if has_word:
        words.append("".join(cur))
    return words


def interpolate(text: str, namespace: Mapping[str, Any]) -> str:
    """Replace each ``{expr}`` in ``text`` with ``str(eval(expr, namespace))``; ``{{`` is ``{``.

    Unlike IPython's own expansion, which leaves a field alone when it cannot
    evaluate it, an undefined name or a failing expression is a :class:`UsageError`
    naming the field, so a typo never reaches a paid prompt.

    Examples
    --------
    >>> interpolate("a {colour} fox, {n * 2} legs, {{braces}}", {"colour": "red", "n": 2})
    'a red fox, 4 legs, {braces}'
    """
    if "{" not in text and "}" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    globals_: dict[str, Any] | None = None
    while i < n:
        if text.startswith("{{", i) or text.startswith("}}", i):
            out.append(text[i])
            i += 2
            continue
        c = text[i]
        if c == "}":
            raise UsageError(f"single '}}' in {text!r}: write '}}}}' for a literal brace")
        if c != "{":
            out.append(c)
            i += 1
            continue
        end = _scan_field(text, i)
        expr = text[i + 1 : end - 1].strip()
        if not expr:
            raise UsageError(f"empty '{{}}' in {text!r}: put a name inside, or write '{{{{}}}}' for braces")
        if globals_ is None:
            globals_ = dict(namespace)
        try:
            value = eval(expr, globals_)  # noqa: S307 - same contract as IPython's {expr} expansion
        except NameError as exc:
            name = getattr(exc, "name", None) or expr
            raise UsageError(
                f"name '{name}' in {{{expr}}} is not defined: define it first, "
                f"or write {{{{{expr}}}}} for literal braces"
            ) from None
        except SyntaxError:
            raise UsageError(
                f"{{{expr}}} is not a Python expression: write {{{{{expr}}}}} for literal braces"
            ) from None
        except Exception as exc:
            raise UsageError(f"{{{expr}}} failed: {type(exc).__name__}: {exc}") from None
        out.append(str(value))
        i = end
    return "".join(out)
