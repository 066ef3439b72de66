"""What each image model can do, when it stops, and what it costs: the one table.

The table is data, ``dalle_widgets/data/models.toml``, shipped with the package: each
model's family, lifecycle (status, shutdown date, snapshot ids, replacements),
capabilities (operations, size rule, quality, background, output formats, streaming,
input images, ``input_fidelity``, ``complexity``, upload and prompt limits) and prices
(token rates, per-image prices, each with its date and source). The client validates
requests against it, the offline engine enforces the same rules, and
:mod:`dalle_widgets.pricing` prices every request from it.

A model the table does not list follows its family: any ``gpt-image-*`` gets the GPT
image rules (no ``response_format``, base64 only, the flexible size rule), any
``dall-e-*`` the dall-e rules, anything else generic checks. Add or override models
without touching the package: a file with the same layout at
``$DALLE_WIDGETS_HOME/models.toml``, or :func:`register`.

>>> spec = lookup("openai/dall-e-2")
>>> spec.name, spec.sizes[0], spec.max_n, spec.shutdown_date
('dall-e-2', '256x256', 10, datetime.date(2026, 5, 12))
>>> spec.price("512x512")
0.018
>>> lookup("gpt-image-2").price("1024x1024", "high")
0.211
>>> lookup("gpt-image-2-2026-04-21").name             # a snapshot id finds its model
'gpt-image-2'
>>> future = lookup("gpt-image-7")                      # not in the table: GPT image rules
>>> future.family, future.response_formats, future.size_rule.kind, future.known
('gpt-image', ('b64_json',), 'flexible', False)
>>> default_model("openai"), default_model("offline")
('gpt-image-2', 'dall-e-2')
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
import math
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from importlib import resources
from pathlib import Path
from typing import Any

from ._png import MAX_UPLOAD_BYTES
from ._types import OPERATIONS, Operation
from .errors import ConfigurationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "DEFAULT_MODEL",
    "ENDPOINT_KINDS",
    "GifRule",
    "MODELS",
    "ModelSpec",
    "Operation",
    "Prices",
    "SizeRule",
    "TokenRates",
    "default_model",
    "family_of",
    "find",
    "lifecycle_warning",
    "live_models",
    "live_replacements",
    "lookup",
    "models_taking_images",
    "register",
    "strip_provider",
    "user_file",
]

logger = logging.getLogger("dalle_widgets")

#: The kinds of endpoint that have a default model in the table's ``[endpoints]``.
ENDPOINT_KINDS = ("openai", "azure", "compatible", "offline")
#: Days before a shutdown date from which choosing the model logs a warning.
WARN_DAYS = 30
USER_FILE_NAME = "models.toml"


# --- value types ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeRule:
    """Which ``size`` values a model takes.

    ``kind`` is ``fixed`` (only ``sizes``), ``flexible`` (any ``WIDTHxHEIGHT`` with both sides
    multiples of ``multiple_of``, the longest side at most ``max_edge``, the aspect at most
    ``max_aspect``:1 and ``min_pixels`` to ``max_pixels`` pixels, plus ``auto`` if allowed), or
    ``any`` (any ``WIDTHxHEIGHT`` or ``auto``: the endpoint decides).

    >>> rule = lookup("gpt-image-2").size_rule
    >>> rule.problem("1536x864") is None, rule.problem("auto") is None
    (True, True)
    >>> rule.problem("3840x3840")
    '3840x3840 has 14,745,600 pixels; at most 8,294,400 are allowed'
    """

    kind: str = "any"
    sizes: tuple[str, ...] = ()
    multiple_of: int = 1
    max_edge: int | None = None
    max_aspect: float | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None
    experimental_above_pixels: int | None = None
    auto: bool = True

    def problem(self, size: str) -> str | None:
        """Why ``size`` is not accepted (one clause, no model name), or None when it is."""
        if self.kind == "fixed":
            return None if size in self.sizes else f"{size} is not one of {', '.join(self.sizes)}"
        if size == "auto":
            return None if self.auto else "auto is not accepted"
        wh = parse_size(size)
        if wh is None:
            return f"{size!r} is not WIDTHxHEIGHT (e.g. '1024x1024') or 'auto'"
        if self.kind == "any":
            return None
        w, h = wh
        if w % self.multiple_of or h % self.multiple_of:
            return f"{size}: both sides must be multiples of {self.multiple_of}"
        if self.max_edge is not None and max(w, h) > self.max_edge:
            return f"{size}: the longest side may be at most {self.max_edge}"
        if self.max_aspect is not None and max(w, h) > self.max_aspect * min(w, h):
            return f"{size}: the aspect ratio must be between 1:{self.max_aspect:g} and {self.max_aspect:g}:1"
        if self.max_pixels is not None and w * h > self.max_pixels:
            return f"{size} has {w * h:,} pixels; at most {self.max_pixels:,} are allowed"
        if self.min_pixels is not None and w * h < self.min_pixels:
            return f"{size} has {w * h:,} pixels; at least {self.min_pixels:,} are needed"
        return None

    def allows(self, size: str) -> bool:
        """Whether ``size`` is accepted."""
        return self.problem(size) is None

    def nearest(self, size: str) -> str | None:
        """The accepted ``WxH`` closest to ``size`` (aspect first, then area), for error messages.

        None when ``size`` is not ``WxH`` at all, or the rule has no fixed size to offer.

        >>> rule = lookup("gpt-image-2").size_rule
        >>> rule.nearest("1000x1000"), rule.nearest("3840x3840"), rule.nearest("4000x1000")
        ('1008x1008', '2880x2880', '3456x1152')
        >>> lookup("dall-e-2").size_rule.nearest("500x500")
        '512x512'
        """
        wh = parse_size(size)
        if wh is None:
            return None
        w0, h0 = wh

        def distance(w: int, h: int) -> float:  # keeping the aspect matters more than the area
            return 3 * abs(math.log((w / h) / (w0 / h0))) + abs(math.log((w * h) / (w0 * h0)))

        if self.kind != "flexible":
            fixed = [s for s in (parse_size(s) for s in self.sizes) if s is not None]
            best = min(fixed, key=lambda s: distance(*s), default=None)
            return f"{best[0]}x{best[1]}" if best else (size if self.kind == "any" else None)
        aspect = w0 / h0
        if self.max_aspect is not None:
            aspect = min(max(aspect, 1 / self.max_aspect), self.max_aspect)
        area = float(w0 * h0)
        if self.min_pixels is not None:
            area = max(area, self.min_pixels)
        if self.max_pixels is not None:
            area = min(area, self.max_pixels)
        h = math.sqrt(area / aspect)
        w = aspect * h
        if self.max_edge is not None and max(w, h) > self.max_edge:
            w, h = w * self.max_edge / max(w, h), h * self.max_edge / max(w, h)
        m = self.multiple_of
        found: tuple[float, str] | None = None
        for cw in range(max(1, int(w // m) - 3), int(w // m) + 5):
            for ch in range(max(1, int(h // m) - 3), int(h // m) + 5):
                candidate = f"{cw * m}x{ch * m}"
                if self.allows(candidate):
                    d = distance(cw * m, ch * m)
                    if found is None or d < found[0]:
                        found = (d, candidate)
        return found[1] if found else None


@dataclass(frozen=True)
class GifRule:
    """Which frame sizes, counts and durations an animated GIF takes (``output_format="gif"``).

    The frames travel as one sprite sheet of ``cells(frames)`` cells that must fit
    ``sheet_max_pixels``; each frame has at most ``frame_cap(frames)`` squared pixels
    (the caps were measured on square frames), at least ``min_frame_pixels``, sides that
    are multiples of ``multiple_of`` and an aspect within ``max_aspect``:1. OpenAI
    publishes none of these figures: the table's ``gif_size`` block says where they were
    measured. The client and the offline engine both check GIF requests with this rule.

    >>> rule = lookup("gpt-image-2.6-flare").gif_rule
    >>> rule.problem("512x512", 6) is None, rule.problem("1280x720", 9) is None
    (True, True)
    >>> rule.problem("1024x1024", 6)
    '1024x1024 is too large for 6 frames: each frame may have at most 960x960 pixels'
    >>> rule.largest(12), rule.largest(16, "1280x720"), rule.cells(6)
    ('816x816', '912x512', 8)
    """

    frames: tuple[int, int] = (2, 16)
    frame_steps: tuple[tuple[int, int], ...] = ((8, 960), (9, 960), (12, 816), (16, 720))
    sheet_max_pixels: int = 8_294_400
    min_frame_pixels: int = 147_456
    multiple_of: int = 16
    max_aspect: float = 3.0
    default_frames: int = 9
    default_frame_ms: int = 200
    min_frame_ms: int = 20
    max_frame_ms: int = 655_350
    operations: tuple[str, ...] = ("generate",)
    source: str = ""

    def frames_problem(self, frames: Any) -> str | None:
        """Why ``frames`` is not a valid ``frame_count`` (one clause), or None."""
        low, high = self.frames
        if isinstance(frames, bool) or not isinstance(frames, int) or not low <= frames <= high:
            return f"frame_count={frames!r}: a GIF has {low} to {high} frames"
        return None

    def duration_problem(self, ms: Any) -> str | None:
        """Why ``ms`` is not a valid ``frame_duration_ms`` (one clause), or None."""
        if (
            isinstance(ms, bool)
            or not isinstance(ms, int)
            or not self.min_frame_ms <= ms <= self.max_frame_ms
        ):
            return (
                f"frame_duration_ms={ms!r}: give whole milliseconds from {self.min_frame_ms} to "
                f"{self.max_frame_ms:,} (rounded to 10 ms)"
            )
        return None

    def _step(self, frames: int) -> tuple[int, int]:
        return next((s for s in self.frame_steps if frames <= s[0]), self.frame_steps[-1])

    def cells(self, frames: int) -> int:
        """How many frames the sprite sheet holds (and is billed for) when ``frames`` are asked."""
        return max(frames, self._step(frames)[0])

    def frame_cap(self, frames: int) -> int:
        """The side of the largest square frame for ``frames`` frames."""
        return self._step(frames)[1]

    def max_frame_pixels(self, frames: int) -> int:
        """The most pixels one frame may have when the GIF has ``frames`` frames."""
        return min(self.frame_cap(frames) ** 2, self.sheet_max_pixels // self.cells(frames))

    def problem(self, size: str, frames: int) -> str | None:
        """Why frames of ``size`` do not fit a GIF of ``frames`` frames (one clause), or None."""
        wh = parse_size(size)
        if wh is None:
            return f"{size!r} is not WIDTHxHEIGHT (a GIF's frame size, e.g. '512x512')"
        w, h = wh
        if w % self.multiple_of or h % self.multiple_of:
            return f"{size}: both sides must be multiples of {self.multiple_of}"
        if max(w, h) > self.max_aspect * min(w, h):
            return f"{size}: the aspect ratio must be between 1:{self.max_aspect:g} and {self.max_aspect:g}:1"
        most = self.max_frame_pixels(frames)
        if w * h > most:
            cap = self.frame_cap(frames)
            return (
                f"{size} is too large for {frames} frames: each frame may have at most {cap}x{cap} pixels"
                + ("" if most == cap * cap else f" ({most:,} pixels)")
            )
        if w * h < self.min_frame_pixels:
            least = self.min_frame_pixels
            return f"{size} is too small: a GIF frame has at least {least:,} pixels (e.g. 384x384)"
        return None

    def largest(self, frames: int, like: str = "1x1") -> str:
        """The largest valid frame for ``frames`` frames with the aspect of ``like`` (square by default)."""
        wh = parse_size(like) or (1, 1)
        aspect = min(max(wh[0] / wh[1], 1 / self.max_aspect), self.max_aspect)
        m = self.multiple_of
        most = self.max_frame_pixels(frames)
        best: tuple[float, int, str] | None = None
        h0 = math.sqrt(most / aspect)
        for ch in range(max(1, int(h0 // m) - 4), int(h0 // m) + 2):
            cw = max(1, int(aspect * ch * m // m))
            for w in (cw * m, cw * m + m):
                h = ch * m
                size = f"{w}x{h}"
                if self.problem(size, frames) is None:
                    key = (abs(math.log((w / h) / aspect)), -(w * h), size)
                    if best is None or key < best:
                        best = key
        return best[2] if best else f"{self.frame_cap(frames)}x{self.frame_cap(frames)}"


@dataclass(frozen=True)
class TokenRates:
    """USD per 1 million tokens, with the date and source of the figures."""

    text_in: float
    image_in: float
    image_out: float
    text_in_cached: float | None = None
    image_in_cached: float | None = None
    text_out: float | None = None
    date: dt.date | None = None
    source: str = ""


@dataclass(frozen=True)
class Prices:
    """What a model costs.

    Attributes
    ----------
    per_image : dict
        ``{quality: {size: usd}}`` per output image, where published.
    per_image_date, per_image_source :
        When and where the per-image figures were read.
    tokens : TokenRates or None
        Token rates, for models billed by tokens (and for costs read from ``usage``).
    output_tokens : dict
        Image output tokens of one 1024x1024 image by quality (estimates scale them by area).
    input_image_tokens : int or None
        Tokens of one 1024x1024 input image on an edit (scaled by area).
    """

    per_image: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    per_image_date: dt.date | None = None
    per_image_source: str = ""
    tokens: TokenRates | None = None
    output_tokens: Mapping[str, int] = field(default_factory=dict)
    input_image_tokens: int | None = None


@dataclass(frozen=True)
class ModelSpec:
    """Capabilities, lifecycle and prices of one image model (a row of the table).

    Attributes
    ----------
    name : str
        The model id, without any provider prefix (a snapshot id maps to its model).
    family : str
        ``dall-e``, ``gpt-image`` or ``generic``: the rules an unlisted id follows.
    status : str
        ``active``, ``deprecated`` (shutdown announced) or ``shutdown``.
    shutdown_date, released : datetime.date or None
    snapshots : tuple of str
        Dated ids that are this model (``gpt-image-2-2026-04-21``).
    replacements : tuple of str
        What the provider recommends instead (see :func:`live_replacements`).
    sizes : tuple of str
        Fixed sizes, or for a flexible rule the presets widgets offer.
    size_rule : SizeRule
    default_size : str or None
        Sent when the caller gives no size; None lets the endpoint decide.
    operations : frozenset of str
        Which of ``generate``, ``edit``, ``vary`` the model offers.
    max_n : int
    max_prompt_chars : int or None
    square_inputs : bool
        Edits and variations need a square input image (dall-e).
    response_formats : tuple of str
        ``url`` and/or ``b64_json``; GPT image models take neither field and answer base64.
    qualities, backgrounds, output_formats, moderation, input_fidelity, complexities : tuple of str
        The values each request field takes; empty means: never send the field.
    default_quality, default_complexity : str or None
    backgrounds_preview : tuple of str
        Background values the provider calls a preview.
    output_compression, streaming : bool
    max_partial_images, max_input_images : int
    gif_frames : tuple of int
        ``(min, max)`` frames for GIF output, empty when there is none.
    gif_rule : GifRule or None
        Frame sizes, counts and durations of GIF output (None without GIF output).
    upload_formats : tuple of str
    max_upload_bytes, max_mask_bytes : int
    prices : Prices
    lifecycle_source : str
    known : bool
        False for an id the table does not list (its family's rules apply).
    """

    name: str
    sizes: tuple[str, ...] = ()
    default_size: str | None = None
    operations: frozenset[str] = frozenset(OPERATIONS)
    max_n: int = 10
    max_prompt_chars: int | None = None
    square_inputs: bool = False
    response_formats: tuple[str, ...] = ("url", "b64_json")
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    known: bool = True
    family: str = "generic"
    status: str = "active"
    released: dt.date | None = None
    shutdown_date: dt.date | None = None
    snapshots: tuple[str, ...] = ()
    replacements: tuple[str, ...] = ()
    lifecycle_source: str = ""
    size_rule: SizeRule = field(default_factory=SizeRule)
    qualities: tuple[str, ...] = ()
    default_quality: str | None = None
    backgrounds: tuple[str, ...] = ()
    backgrounds_preview: tuple[str, ...] = ()
    output_formats: tuple[str, ...] = ()
    output_compression: bool = False
    moderation: tuple[str, ...] = ()
    streaming: bool = False
    max_partial_images: int = 0
    max_input_images: int = 1
    upload_formats: tuple[str, ...] = ("png",)
    max_mask_bytes: int = MAX_UPLOAD_BYTES
    input_fidelity: tuple[str, ...] = ()
    complexities: tuple[str, ...] = ()
    default_complexity: str | None = None
    gif_frames: tuple[int, ...] = ()
    gif_rule: GifRule | None = None
    prices: Prices = field(default_factory=Prices)

    def supports(self, operation: Operation) -> bool:
        """Whether the model offers ``operation`` (``generate``, ``edit`` or ``vary``)."""
        return operation in self.operations

    def price(self, size: str, quality: str | None = None) -> float | None:
        """Published price in USD of one output image at ``size`` and ``quality``; None if none.

        ``quality`` None means the model's default quality. Never guessed: token-priced
        estimates live in :mod:`dalle_widgets.pricing`.
        """
        table = self.prices.per_image.get(quality or self.default_quality or "", {})
        return table.get(size)

    @property
    def prices_usd(self) -> dict[str, float]:
        """Per-image prices by size at the default quality (empty when not published)."""
        return dict(self.prices.per_image.get(self.default_quality or "", {}))

    def size_pixels(self, size: str) -> tuple[int, int] | None:
        """``(width, height)`` for a ``"WxH"`` size, or None for ``"auto"``."""
        return parse_size(size)

    def size_choices(self, photo_size: tuple[int, int]) -> tuple[tuple[str, str], ...]:
        """``(label, size)`` pairs a size picker offers for a ``(width, height)`` photo.

        The model's presets (``sizes``), with the photo's own size first, labelled
        ``"WxH (photo)"``, when the size rule takes it and no preset is it: a picker that
        defaults to it keeps the photo's size (nothing resized on Accept).

        >>> lookup("gpt-image-2").size_choices((1536, 864))[:2]
        (('1536x864 (photo)', '1536x864'), ('1024x1024', '1024x1024'))
        >>> lookup("dall-e-2").size_choices((1536, 864))[0]
        ('256x256', '256x256')
        """
        presets = tuple((s, s) for s in self.sizes)
        own = f"{photo_size[0]}x{photo_size[1]}"
        if own in self.sizes or not self.size_rule.allows(own):
            return presets
        return ((f"{own} (photo)", own), *presets)

    def is_shut_down(self, today: dt.date | None = None) -> bool:
        """True once the shutdown date has been reached (or the status says so without a date)."""
        if self.shutdown_date is not None:
            return (today or dt.date.today()) >= self.shutdown_date
        return self.status == "shutdown"


def parse_size(size: str) -> tuple[int, int] | None:
    """``(width, height)`` of ``"WxH"``; None for ``auto`` or anything else.

    >>> parse_size("1536x864"), parse_size("auto"), parse_size("big")
    ((1536, 864), None, None)
    """
    parts = size.split("x") if isinstance(size, str) else []
    if len(parts) == 2 and all(p.isdigit() and int(p) > 0 for p in parts):
        return int(parts[0]), int(parts[1])
    return None


# --- reading the table ----------------------------------------------------------------------------

_TUPLE_FIELDS = {
    f.name
    for f in dataclass_fields(ModelSpec)
    if f.type in ("tuple[str, ...]", "tuple[int, ...]", "frozenset[str]")
}
_SPEC_KEYS = {f.name for f in dataclass_fields(ModelSpec)} - {
    "name",
    "known",
    "prices",
    "size_rule",
    "gif_rule",
}
_TABLE_KEYS = {"family", "size_rule", "flexible_size", "gif_size", "tokens", "per_image", "output_tokens"}
_PRICE_KEYS = {"input_image_tokens"}
_FAMILY_ONLY = {"match"}
_SIZE_RULE_KEYS = {f.name for f in dataclass_fields(SizeRule)} - {"kind", "sizes"}
_GIF_RULE_KEYS = {f.name for f in dataclass_fields(GifRule)} - {"frames"}
_TOKEN_KEYS = {f.name for f in dataclass_fields(TokenRates)}


class _TableError(ConfigurationError):
    pass


def _as_date(value: Any, where: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise _TableError(f"{where}: {value!r} is not a date; write it as YYYY-MM-DD")


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``; sub-tables merge key by key."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _check_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise _TableError(
            f"{where}: {', '.join(repr(k) for k in unknown)} "
            f"{'is not a field' if len(unknown) == 1 else 'are not fields'} of the model table; "
            f"fields are {', '.join(sorted(allowed))}"
        )


def _build_spec(name: str, raw: Mapping[str, Any], where: str, *, known: bool = True) -> ModelSpec:
    """A :class:`ModelSpec` from a merged raw entry (family defaults already applied)."""
    _check_keys(raw, _SPEC_KEYS | _TABLE_KEYS | _PRICE_KEYS | _FAMILY_ONLY, where)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _SPEC_KEYS:
            continue
        if key in ("released", "shutdown_date"):
            kwargs[key] = _as_date(value, f"{where} {key}")
        elif key == "operations":
            bad = [op for op in value if op not in OPERATIONS]
            if bad:
                raise _TableError(f"{where} operations: {bad} are not among {', '.join(OPERATIONS)}")
            kwargs[key] = frozenset(value)
        elif key in _TUPLE_FIELDS:
            if isinstance(value, str) or not isinstance(value, Iterable):
                raise _TableError(f"{where} {key}: give a list, e.g. {key} = [...], not {value!r}")
            kwargs[key] = tuple(value)
        elif key in ("max_prompt_chars",):
            kwargs[key] = int(value) or None
        elif key in ("default_size", "default_quality", "default_complexity"):
            kwargs[key] = str(value) or None
        else:
            kwargs[key] = value
    if kwargs.get("status", "active") not in ("active", "deprecated", "shutdown"):
        raise _TableError(f"{where} status: {kwargs['status']!r}; use active, deprecated or shutdown")
    rule_kind = raw.get("size_rule", "any")
    if rule_kind not in ("fixed", "flexible", "any"):
        raise _TableError(f"{where} size_rule: {rule_kind!r}; use fixed, flexible or any")
    flexible = dict(raw.get("flexible_size", {})) if rule_kind == "flexible" else {}
    _check_keys(flexible, _SIZE_RULE_KEYS, f"{where} flexible_size")
    kwargs["size_rule"] = SizeRule(kind=rule_kind, sizes=tuple(raw.get("sizes", ())), **flexible)
    kwargs["gif_rule"] = _build_gif_rule(raw, kwargs.get("gif_frames", ()), where)
    kwargs["prices"] = _build_prices(raw, where)
    return ModelSpec(name=name, known=known, **kwargs)


def _build_gif_rule(raw: Mapping[str, Any], frames: tuple[int, ...], where: str) -> GifRule | None:
    """The GIF rule of a model with ``gif_frames``; None for a model without GIF output."""
    if not frames:
        return None
    if len(frames) != 2 or not all(isinstance(f, int) and f >= 1 for f in frames) or frames[0] > frames[1]:
        raise _TableError(f"{where} gif_frames: give [fewest, most] frames, e.g. [2, 16], not {list(frames)}")
    block = dict(raw.get("gif_size", {}))
    _check_keys(block, _GIF_RULE_KEYS, f"{where} gif_size")
    if "frame_steps" in block:
        steps = block["frame_steps"]
        if not steps or not all(isinstance(s, list) and len(s) == 2 for s in steps):
            raise _TableError(f"{where} gif_size.frame_steps: give [[up to N frames, cap px], ...]")
        block["frame_steps"] = tuple((int(n), int(cap)) for n, cap in sorted(steps))
    if "operations" in block:
        block["operations"] = tuple(block["operations"])
    return GifRule(frames=(int(frames[0]), int(frames[1])), **block)


def _build_prices(raw: Mapping[str, Any], where: str) -> Prices:
    tokens = None
    if "tokens" in raw:
        rates = dict(raw["tokens"])
        _check_keys(rates, _TOKEN_KEYS, f"{where} tokens")
        rates["date"] = _as_date(rates.get("date"), f"{where} tokens date")
        try:
            tokens = TokenRates(**rates)
        except TypeError as exc:
            raise _TableError(f"{where} tokens: {exc} (text_in, image_in and image_out are needed)") from None
    per_image: dict[str, dict[str, float]] = {}
    block = dict(raw.get("per_image", {}))
    date = _as_date(block.pop("date", None), f"{where} per_image date")
    source = str(block.pop("source", ""))
    for quality, by_size in block.items():
        if not isinstance(by_size, Mapping):
            raise _TableError(f"{where} per_image.{quality}: give {{size = usd, ...}}, not {by_size!r}")
        per_image[quality] = {str(s): float(p) for s, p in by_size.items()}
    output_tokens = {str(q): int(t) for q, t in dict(raw.get("output_tokens", {})).items()}
    image_in = raw.get("input_image_tokens")
    return Prices(
        per_image=per_image,
        per_image_date=date,
        per_image_source=source,
        tokens=tokens,
        output_tokens=output_tokens,
        input_image_tokens=int(image_in) if image_in is not None else None,
    )


@dataclass
class _Table:
    """One parsed layer set: families, raw model entries, endpoint defaults."""

    families: dict[str, dict[str, Any]]
    models: dict[str, dict[str, Any]]
    endpoints: dict[str, str]
    source: str

    def family_of(self, model: str) -> str:
        base = strip_provider(model)
        for name, fam in self.families.items():
            if name != "generic" and any(fnmatch.fnmatchcase(base, p) for p in fam.get("match", ())):
                return name
        return "generic"

    def merged(self, name: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        family = raw.get("family") or self.family_of(name)
        if family not in self.families:
            raise _TableError(
                f"{self.source} [models.{name}] family: {family!r} is not a family; use "
                + ", ".join(sorted(self.families))
            )
        base = {k: v for k, v in self.families[family].items() if k != "match"}
        return _merge({**base, "family": family}, raw)

    def spec(self, name: str) -> ModelSpec:
        return _build_spec(name, self.merged(name, self.models[name]), f"{self.source} [models.{name}]")

    def fallback(self, model: str) -> ModelSpec:
        base = strip_provider(model)
        family = self.family_of(base)
        raw = {k: v for k, v in self.families[family].items() if k != "match"}
        return _build_spec(base, {**raw, "family": family}, f"{self.source} [families.{family}]", known=False)


def _parse(data: Mapping[str, Any], source: str) -> _Table:
    _check_keys(data, {"schema", "updated", "endpoints", "families", "models"}, source)
    endpoints = {str(k): str(v) for k, v in dict(data.get("endpoints", {})).items()}
    bad = sorted(set(endpoints) - set(ENDPOINT_KINDS))
    if bad:
        raise _TableError(
            f"{source} [endpoints]: {bad} are not endpoint kinds; use {', '.join(ENDPOINT_KINDS)}"
        )
    return _Table(
        families={str(k): dict(v) for k, v in dict(data.get("families", {})).items()},
        models={str(k): dict(v) for k, v in dict(data.get("models", {})).items()},
        endpoints=endpoints,
        source=source,
    )


def _load_shipped() -> _Table:
    text = resources.files("dalle_widgets").joinpath("data").joinpath("models.toml").read_text("utf-8")
    return _parse(tomllib.loads(text), "dalle_widgets/data/models.toml")


def user_file() -> Path:
    """Where a user's own models live: ``$DALLE_WIDGETS_HOME/models.toml``."""
    home = os.environ.get("DALLE_WIDGETS_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".dalle_widgets") / USER_FILE_NAME


_SHIPPED = _load_shipped()
#: The shipped table (and models added with :func:`register`), by model id.
MODELS: dict[str, ModelSpec] = {name: _SHIPPED.spec(name) for name in _SHIPPED.models}
_REGISTERED: dict[str, ModelSpec] = {}
_REGISTERED_RAW: dict[str, dict[str, Any]] = {}
#: The default model of compatible endpoints and the offline engine (see :func:`default_model`).
DEFAULT_MODEL = _SHIPPED.endpoints.get("offline", "dall-e-2")
_lock = threading.Lock()
_user_cache: dict[str, Any] = {"key": None, "table": None, "specs": {}}


def _user_layer() -> tuple[_Table, dict[str, ModelSpec]]:
    """The shipped table with the user's file merged in (re-read when the file changes)."""
    path = user_file()
    try:
        stat = path.stat()
        key: Any = (str(path), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None
    with _lock:
        if _user_cache["key"] == key and _user_cache["table"] is not None:
            return _user_cache["table"], _user_cache["specs"]
    if key is None:
        table, specs = _SHIPPED, {}
    else:
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"{path}: cannot read the model table ({exc})") from None
        own = _parse(data, str(path))
        table = _Table(
            families={
                k: _merge(_SHIPPED.families.get(k, {}), v)
                for k, v in {**_SHIPPED.families, **own.families}.items()
            },
            models={**_SHIPPED.models},
            endpoints={**_SHIPPED.endpoints, **own.endpoints},
            source=str(path),
        )
        for name, raw in own.models.items():
            table.models[name] = _merge(_SHIPPED.models.get(name, {}), raw)
        # every entry again when the user changed a family's rules, else only the user's own entries
        names = table.models if own.families else own.models
        specs = {name: table.spec(name) for name in names}
    with _lock:
        _user_cache.update(key=key, table=table, specs=specs)
    return table, specs


def _all_specs() -> dict[str, ModelSpec]:
    _table, user = _user_layer()
    return {**MODELS, **user, **_REGISTERED}


def _canonical(base: str, specs: Mapping[str, ModelSpec]) -> str:
    if base in specs:
        return base
    for name, spec in specs.items():
        if base in spec.snapshots:
            return name
    return base


def strip_provider(model: str) -> str:
    """Drop an aggregator's provider prefix: ``"openai/dall-e-2"`` -> ``"dall-e-2"``.

    >>> strip_provider("openai/dall-e-2")
    'dall-e-2'
    >>> strip_provider("dall-e-2")
    'dall-e-2'
    """
    return model.rsplit("/", 1)[-1]


def family_of(model: str) -> str:
    """The family whose rules ``model`` follows: ``dall-e``, ``gpt-image`` or ``generic``.

    >>> family_of("openai/gpt-image-9"), family_of("dall-e-4"), family_of("flux-pro")
    ('gpt-image', 'dall-e', 'generic')
    """
    spec = _all_specs().get(_canonical(strip_provider(model), _all_specs()))
    if spec is not None:
        return spec.family
    return _user_layer()[0].family_of(model)


def lookup(model: str, *, warn: bool = True) -> ModelSpec:
    """Return the :class:`ModelSpec` for ``model``.

    Provider prefixes (``openai/dall-e-2``) and snapshot ids (``gpt-image-2-2026-04-21``)
    map to the same entry. Precedence: :func:`register`, then the user's
    ``$DALLE_WIDGETS_HOME/models.toml``, then the shipped table. An id none of them lists
    gets its family's rules (``known`` is False) and a logged warning (unless ``warn`` is
    False); it is never refused for being unknown. Raises
    :class:`~dalle_widgets.errors.ConfigurationError` when the user's file cannot be read,
    naming the file and the field.
    """
    spec = find(model)
    if spec is not None:
        return spec
    spec = _user_layer()[0].fallback(strip_provider(model))
    if warn:
        rules = (
            "generic checks apply" if spec.family == "generic" else f"the {spec.family} family's rules apply"
        )
        logger.warning("model %r is not in dalle_widgets' table: %s", model, rules)
    return spec


def find(model: str) -> ModelSpec | None:
    """The table's entry for ``model`` (prefixes and snapshot ids resolved), or None: no fallback.

    >>> find("openai/gpt-image-2-2026-04-21").name, find("flux-pro") is None
    ('gpt-image-2', True)
    """
    base = strip_provider(model)
    _table, user = _user_layer()
    if base in _REGISTERED:
        return _REGISTERED[base]
    name = _canonical(base, {**MODELS, **user, **_REGISTERED})
    return _REGISTERED.get(name) or user.get(name) or MODELS.get(name)


def register(name: str, *, like: str | None = None, **fields: Any) -> ModelSpec:
    """Add or override a model for this process, in the table's own vocabulary.

    Parameters
    ----------
    name : str
        The model id (a deployment name, an aggregator's id...).
    like : str, optional
        Start from this model's entry (its family's rules otherwise, or the current entry
        when ``name`` is already known).
    **fields
        Any field of the table: ``sizes=[...]``, ``max_n=4``, ``shutdown_date="2027-03-01"``,
        ``replacements=[...]``, ``tokens={...}``, ``per_image={"standard": {"1024x1024": 0.02}}``...

    Returns
    -------
    ModelSpec
        The new entry. A bad field raises ConfigurationError naming it.

    Examples
    --------
    >>> spec = register("acme-painter", like="dall-e-2", sizes=["512x512"], default_size="512x512")
    >>> lookup("acme/acme-painter").sizes, lookup("acme-painter").supports("vary")
    (('512x512',), True)
    """
    base = strip_provider(name)
    table, user = _user_layer()
    specs = {**MODELS, **user, **_REGISTERED}

    def raw_entry(model: str) -> dict[str, Any]:
        return dict(_REGISTERED_RAW.get(model) or table.models.get(model, {}))

    if like is not None:
        start_name = _canonical(strip_provider(like), specs)
        if start_name not in specs:
            raise ConfigurationError(f"register({name!r}, like={like!r}): {like!r} is not in the model table")
        start = raw_entry(start_name)
    else:
        start = raw_entry(base)
    raw = _merge(start, fields)
    spec = _build_spec(base, table.merged(base, raw), f"register({name!r})")
    with _lock:
        _REGISTERED[base] = spec
        _REGISTERED_RAW[base] = raw
        MODELS[base] = spec
    return spec


def default_model(endpoint: str) -> str:
    """The default model of a kind of endpoint (``openai``, ``azure``, ``compatible``, ``offline``).

    Read from the table's ``[endpoints]`` (a user's file may change it).
    """
    if endpoint not in ENDPOINT_KINDS:
        raise ValueError(f"endpoint {endpoint!r} is not one of {', '.join(ENDPOINT_KINDS)}")
    return _user_layer()[0].endpoints.get(endpoint, DEFAULT_MODEL)


def live_models(today: dt.date | None = None, family: str | None = None) -> list[str]:
    """Ids of the models not shut down on ``today``, newest release first.

    >>> live_models(dt.date(2026, 12, 5))[:2]
    ['gpt-image-2.6-flare', 'gpt-image-2.6-sunburst']
    """
    specs = [
        s
        for s in _all_specs().values()
        if not s.is_shut_down(today) and (family is None or s.family == family)
    ]
    specs.sort(key=lambda s: (-(s.released or dt.date.min).toordinal(), s.name))
    return [s.name for s in specs]


def live_replacements(model: str, today: dt.date | None = None) -> list[str]:
    """The live models to use instead of ``model``, following replacement chains.

    A retired model's listed replacement may itself be retired (gpt-image-1 -> 2.5 -> ...):
    the chain is followed to live models; failing that, the live models of its family.

    >>> live_replacements("dall-e-2", dt.date(2026, 12, 5))
    ['gpt-image-2']
    """
    specs = _all_specs()
    seen: set[str] = set()
    found: list[str] = []
    queue = list(lookup(model).replacements) if _canonical(strip_provider(model), specs) in specs else []
    while queue:
        name = _canonical(queue.pop(0), specs)
        if name in seen or name not in specs:
            continue
        seen.add(name)
        spec = specs[name]
        if spec.is_shut_down(today):
            queue.extend(spec.replacements)
        else:
            found.append(name)
    if not found:
        found = live_models(today, family=family_of(model))[:3]
    return found


def models_taking_images(count: int, today: dt.date | None = None) -> list[str]:
    """Ids of the live models whose edits take ``count`` input images or more.

    The model OpenAI's endpoint uses by default comes first (when it qualifies), then
    the others, newest release first. What a message names when a model cannot take
    several images (dall-e-2 takes one).

    >>> models_taking_images(3, dt.date(2026, 12, 5))[:2]
    ['gpt-image-2', 'gpt-image-2.6-flare']
    >>> models_taking_images(17, dt.date(2026, 12, 5))
    []
    """
    specs = _all_specs()
    found = [
        name
        for name in live_models(today)
        if specs[name].supports("edit") and specs[name].max_input_images >= count
    ]
    first = default_model("openai")
    if first in found:
        found.remove(first)
        found.insert(0, first)
    return found


def lifecycle_warning(
    model: str, today: dt.date | None = None, endpoint_shutdown: dt.date | None = None
) -> str | None:
    """A sentence when ``model`` is shut down or within :data:`WARN_DAYS` of it, else None.

    ``endpoint_shutdown`` is a date the endpoint itself reported (``GET /models``); the
    earlier of it and the table's date counts.

    >>> lifecycle_warning("gpt-image-1", dt.date(2026, 12, 5))
    'gpt-image-1 was shut down on 2026-10-23; use gpt-image-2.5-sunburst or gpt-image-2.5-flare'
    >>> lifecycle_warning("gpt-image-2", dt.date(2026, 12, 5)) is None
    True
    """
    today = today or dt.date.today()
    spec = lookup(model, warn=False) if strip_provider(model) else None
    if spec is None:
        return None
    dates = [d for d in (spec.shutdown_date, endpoint_shutdown) if d is not None]
    when = min(dates) if dates else None
    instead = live_replacements(model, today)
    use = f"; use {' or '.join(instead)}" if instead else ""
    if when is None:
        return f"{spec.name} has been shut down{use}" if spec.status == "shutdown" else None
    if today >= when:
        return f"{spec.name} was shut down on {when.isoformat()}{use}"
    days = (when - today).days
    if days <= WARN_DAYS:
        return f"{spec.name} shuts down on {when.isoformat()} (in {days} day{'s' if days != 1 else ''}){use}"
    return None
