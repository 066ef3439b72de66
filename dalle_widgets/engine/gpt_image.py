"""The GPT image models' request surface, validated as OpenAI validates it.

Rules come from the model table (:func:`dalle_widgets.models.lookup`): a listed
model's own row, a dated snapshot its model's row, any other ``gpt-image-*`` id the
family's rules. This module turns a JSON body or a multipart form into the same
frozen records as the dall-e-2 routes (:mod:`.validation`), with a
:class:`GptOptions` attached, and computes the ``usage`` block of the answer.

What differs from dall-e-2, as OpenAI documents it: no ``response_format`` (400
``unknown_parameter``, the body OpenAI sends); the flexible size rule (both sides
multiples of 16, aspect 1:3 to 3:1, longest side at most 3840, 655,360 to 8,294,400
pixels, or ``auto``), refused with the nearest valid size named; ``quality``,
``background`` (``transparent`` needs png or webp), ``output_format``,
``output_compression``, ``moderation``, ``stream`` with ``partial_images`` 0-3,
``input_fidelity`` and ``complexity`` only where the model takes them; edits take
1 to 16 png, jpeg or webp images (``image`` or repeated ``image[]``).

>>> req = parse_generate({"model": "gpt-image-2", "prompt": "a fox", "size": "1536x864"})
>>> req.size, req.gpt.quality, req.gpt.output_format
((1536, 864), 'auto', 'png')
>>> nearest_size(spec_for("gpt-image-2"), 1000, 1000)
'992x992'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from .._types import Operation
from ..models import ModelSpec, find, lookup, parse_size, strip_provider
from . import validation as v
from ._errors import EngineError

__all__ = [
    "GptOptions",
    "nearest_size",
    "parse_edit",
    "parse_edit_json",
    "parse_generate",
    "spec_for",
    "usage_for",
]

_SNAPSHOT = re.compile(r"^(.*)-\d{4}-\d{2}-\d{2}$")
#: Fields every GPT image request may carry; the model's row decides which values.
_GENERATE_FIELDS = {
    "model",
    "prompt",
    "n",
    "size",
    "quality",
    "background",
    "output_format",
    "output_compression",
    "moderation",
    "stream",
    "partial_images",
    "user",
    "safety_identifier",
    "seed",
    "complexity",
}
#: Fields of the models with GIF output (2.6).
_GIF_FIELDS = {"frame_count", "frame_duration_ms"}
#: 2.6's SVG and markup fields: valid there, but the engine does not render SVG or read markup.
_NOT_RENDERED = {"svg", "markup"}
_EDIT_FIELDS = _GENERATE_FIELDS | {"image", "mask", "input_fidelity"}
#: Output formats the engine encodes (2.6's svg is refused with a clear message).
ENGINE_FORMATS = ("png", "jpeg", "webp", "gif")
_MIME = {"image/png": "PNG", "image/jpeg": "JPEG", "image/jpg": "JPEG", "image/webp": "WEBP"}
#: Image output tokens per 1024x1024 when the table gives none for a quality (relative to high).
_QUALITY_SCALE = {"low": 0.03, "medium": 0.25, "high": 1.0, "xhigh": 1.5, "max": 2.0}
_TOKENS_PER_PARTIAL = 100


@dataclass(frozen=True)
class GptOptions:
    """The GPT image fields of a validated request (absent on dall-e-2 requests).

    ``model`` is the id as requested (a snapshot stays a snapshot), without any
    provider prefix; ``quality``, ``background`` and ``output_format`` are the values
    sent or their defaults (``auto``, ``auto``, ``png``).
    """

    model: str
    quality: str = "auto"
    background: str = "auto"
    output_format: str = "png"
    output_compression: int | None = None
    moderation: str = "auto"
    stream: bool = False
    partial_images: int = 0
    input_fidelity: str | None = None
    complexity: str | None = None
    frame_count: int | None = None
    frame_duration_ms: int | None = None

    @property
    def resolved_quality(self) -> str:
        """``auto`` answers as ``high`` (what the engine renders and bills)."""
        return "high" if self.quality == "auto" else self.quality


def spec_for(model: str) -> ModelSpec:
    """The table row for ``model``: its own, its dated snapshot's model's, or its family's.

    The server never logs about an unlisted id (the client already warns its user).

    >>> spec_for("gpt-image-2.6-flare-2026-11-04").qualities[-2:]
    ('max', 'auto')
    """
    base = strip_provider(model)
    match = _SNAPSHOT.match(base)
    if find(base) is None and match and find(match.group(1)) is not None:
        return lookup(match.group(1))
    return lookup(base, warn=False)


def _bad(message: str, param: str | None, code: str = "invalid_value") -> EngineError:
    return EngineError(400, message, param=param, code=code)


def _unknown(name: str) -> EngineError:
    """OpenAI's answer to a field a GPT image model does not take (``response_format`` included)."""
    return EngineError(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


def _choice(fields: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str, model: str) -> str:
    value = fields.get(name)
    if value is None or value == "":
        return default
    if not allowed:
        raise _unsupported(name, model)
    if value not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        raise _bad(f"Invalid value {value!r} for '{name}' on {model}: use one of {listed}.", name)
    return str(value)


def _unsupported(name: str, model: str) -> EngineError:
    return _bad(
        f"'{name}' is not supported by {model}; remove '{name}' from the request.",
        name,
        "unsupported_parameter",
    )


def _flag(value: Any, name: str) -> bool:
    if value is None or value == "" or value is False:
        return False
    if value is True or (isinstance(value, str) and value.lower() == "true"):
        return True
    if isinstance(value, str) and value.lower() == "false":
        return False
    raise _bad(f"Invalid type for '{name}': expected a boolean, but got {value!r}.", name, "invalid_type")


def nearest_size(spec: ModelSpec, width: int, height: int) -> str:
    """The valid size of ``spec`` closest to ``width`` x ``height`` (aspect first, then area).

    >>> nearest_size(spec_for("gpt-image-2"), 4000, 1000)
    '3472x1168'
    >>> nearest_size(spec_for("gpt-image-1"), 1800, 1000)
    '1536x1024'
    """
    rule = spec.size_rule
    if rule.kind == "fixed":
        fixed = [s for s in rule.sizes if parse_size(s)] or ["1024x1024"]
        aspect = math.log(max(width, 1) / max(height, 1))

        def distance(s: str) -> tuple[float, float]:
            w, h = parse_size(s) or (1, 1)
            return abs(math.log(w / h) - aspect), abs(w * h - width * height)

        return min(fixed, key=distance)
    step = rule.multiple_of or 1
    ratio = min(max(width / max(height, 1), 1 / (rule.max_aspect or 1e9)), rule.max_aspect or 1e9)
    pixels = float(width * height)
    if rule.max_pixels:
        pixels = min(pixels, rule.max_pixels)
    if rule.min_pixels:
        pixels = max(pixels, rule.min_pixels)
    w, h = math.sqrt(pixels * ratio), math.sqrt(pixels / ratio)
    if rule.max_edge and max(w, h) > rule.max_edge:
        scale = rule.max_edge / max(w, h)
        w, h = w * scale, h * scale
    w, h = max(step, round(w / step) * step), max(step, round(h / step) * step)
    for _ in range(64):  # nudge by one step until every limit holds
        problem = rule.problem(f"{w}x{h}")
        if problem is None:
            return f"{w}x{h}"
        big = (rule.max_pixels and w * h > rule.max_pixels) or (rule.max_edge and max(w, h) > rule.max_edge)
        if big:
            w, h = (w - step, h) if w >= h else (w, h - step)
        else:
            w, h = (w + step, h) if w <= h else (w, h + step)
    return "1024x1024"


def _size(value: Any, spec: ModelSpec, model: str, auto: tuple[int, int]) -> tuple[int, int]:
    """``(width, height)`` of a valid ``size``; ``auto`` (or none) becomes ``auto``'s nearest valid size."""
    if value is None or value == "" or value == "auto":
        if value == "auto" and spec.size_rule.problem("auto") is not None:
            raise _bad(f"'auto' is not a valid size for {model}; give WIDTHxHEIGHT.", "size")
        w, h = auto
        valid = f"{w}x{h}" if spec.size_rule.allows(f"{w}x{h}") else nearest_size(spec, w, h)
        return parse_size(valid) or (1024, 1024)
    if not isinstance(value, str):
        raise _bad(f"Invalid type for 'size': expected a string, but got {type(value).__name__}.", "size")
    problem = spec.size_rule.problem(value)
    if problem is None:
        return parse_size(value) or (1024, 1024)
    problem = problem.removeprefix(f"{value}: ")
    wh = parse_size(value)
    hint = (
        f" The nearest valid size is '{nearest_size(spec, *wh)}'" if wh else " For example '1024x1024'"
    ) + " (or use 'auto')."
    raise _bad(f"Invalid size '{value}' for {model}: {problem}.{hint}", "size")


def _output_format(fields: Mapping[str, Any], spec: ModelSpec, model: str) -> str:
    output_format = _choice(fields, "output_format", spec.output_formats, "png", model)
    if output_format not in ENGINE_FORMATS:
        raise _bad(
            f"output_format {output_format!r} is valid for {model}, but the offline engine renders only "
            f"{', '.join(f for f in ENGINE_FORMATS if f in spec.output_formats)}; ask for one of those.",
            "output_format",
        )
    return output_format


def _gif_size(value: Any, spec: ModelSpec, model: str, frames: int) -> tuple[int, int]:
    """A GIF's frame size by the table's GIF rule, as the client checks it; ``auto``: the largest square."""
    rule = spec.gif_rule
    assert rule is not None
    if value in (None, "", "auto"):
        return parse_size(rule.largest(frames)) or (512, 512)
    if not isinstance(value, str):
        raise _bad(f"Invalid type for 'size': expected a string, but got {type(value).__name__}.", "size")
    problem = rule.problem(value, frames)
    if problem is None:
        return parse_size(value) or (512, 512)
    fix = rule.largest(frames, value) if parse_size(value) else rule.largest(frames)
    raise _bad(
        f"Invalid size '{value}' for a GIF from {model}: {problem.removeprefix(f'{value}: ')}. "
        f"The largest valid frame of that shape for {frames} frames is '{fix}'.",
        "size",
    )


def _options(fields: Mapping[str, Any], spec: ModelSpec, model: str, operation: Operation) -> GptOptions:
    output_format = _output_format(fields, spec, model)
    background = _choice(fields, "background", spec.backgrounds, "auto", model)
    if background == "transparent" and output_format not in ("png", "webp"):
        raise _bad(
            f"background 'transparent' needs output_format 'png' or 'webp', not {output_format!r}.",
            "background",
        )
    compression = v.parse_int(
        fields.get("output_compression"), "output_compression", lo=0, hi=100, default=None
    )
    if compression is not None and output_format in ("png", "gif"):
        raise _bad(
            "output_compression applies only to output_format 'jpeg' or 'webp'; remove it or change "
            "the format.",
            "output_compression",
        )
    stream = _flag(fields.get("stream"), "stream")
    partial = v.parse_int(
        fields.get("partial_images"), "partial_images", lo=0, hi=spec.max_partial_images, default=0
    )
    if stream and not spec.streaming:
        raise _unsupported("stream", model)
    fidelity = None
    if operation == "edit":
        fidelity = _choice(fields, "input_fidelity", spec.input_fidelity, "", model) or None
    complexity = _choice(fields, "complexity", spec.complexities, "", model) or None
    frames = duration = None
    if output_format == "gif":
        if stream or partial:
            raise _bad(
                "GIF output cannot be streamed: remove 'stream' and 'partial_images', or ask for png.",
                "stream" if stream else "partial_images",
            )
        rule = spec.gif_rule
        assert rule is not None  # only models with a GIF rule list gif among their formats
        if operation not in rule.operations:
            raise _bad(
                f"GIF output on {operation}s is not offered for {model} (unverified: OpenAI's edit "
                "reference lists frame_count, another provider's schema says generation only); make the "
                "GIF with /v1/images/generations.",
                "output_format",
            )
        frames = v.parse_int(
            fields.get("frame_count"),
            "frame_count",
            lo=rule.frames[0],
            hi=rule.frames[1],
            default=rule.default_frames,
        )
        duration = v.parse_int(
            fields.get("frame_duration_ms"),
            "frame_duration_ms",
            lo=rule.min_frame_ms,
            hi=rule.max_frame_ms,
            default=rule.default_frame_ms,
        )
        duration = int(round((duration or rule.default_frame_ms) / 10) * 10)
    else:
        for name in _GIF_FIELDS & set(fields):
            raise _bad(f"'{name}' applies only to output_format 'gif'; remove it or ask for a GIF.", name)
    return GptOptions(
        model=model,
        quality=_choice(fields, "quality", spec.qualities, "auto", model),
        background=background,
        output_format=output_format,
        output_compression=compression,
        moderation=_choice(fields, "moderation", spec.moderation, "auto", model),
        stream=stream,
        partial_images=partial or 0,
        input_fidelity=fidelity,
        complexity=complexity,
        frame_count=frames,
        frame_duration_ms=duration,
    )


def _check_fields(fields: Mapping[str, Any], allowed: set[str]) -> None:
    if "response_format" in fields:
        raise _unknown("response_format")
    spec = spec_for(str(fields["model"]))
    if spec.gif_frames:
        allowed = allowed | _GIF_FIELDS
    for name in fields:
        if name in _NOT_RENDERED and spec.gif_frames:
            raise _bad(
                f"'{name}' is valid for {spec.name}, but the offline engine renders no SVG and reads no "
                f"markup; remove '{name}'.",
                name,
                "unsupported_parameter",
            )
        if name not in allowed:
            raise _unknown(name)


def _common(fields: Mapping[str, Any], operation: Operation, auto: tuple[int, int]) -> dict[str, Any]:
    model = strip_provider(str(fields["model"]))
    spec = spec_for(model)
    if not spec.supports(operation):
        raise _bad(f"{model} does not support {operation}; use /v1/images/edits or generations.", "model")
    prompt = fields.get("prompt")
    if isinstance(prompt, str) and spec.max_prompt_chars and len(prompt) > spec.max_prompt_chars:
        raise _bad(
            f"'prompt' is too long for {model}: {len(prompt)} characters, the maximum is "
            f"{spec.max_prompt_chars}. Shorten the prompt.",
            "prompt",
            "string_above_max_length",
        )
    options = _options(fields, spec, model, operation)
    if options.frame_count:
        size = _gif_size(fields.get("size"), spec, model, options.frame_count)
    else:
        size = _size(fields.get("size"), spec, model, auto)
    return {
        "prompt": v.parse_prompt(prompt, limit=spec.max_prompt_chars or None),
        "model": model,
        "n": v.parse_int(fields.get("n"), "n", lo=1, hi=spec.max_n, default=1),
        "size": size,
        "response_format": "b64_json",
        "seed": v.parse_int(fields.get("seed"), "seed", lo=0, hi=v.SEED_MAX, default=None),
        "user": v.parse_user(fields.get("user") or fields.get("safety_identifier")),
        "gpt": options,
    }


def parse_generate(body: Mapping[str, Any]) -> v.GenerateRequest:
    """Validate a generations JSON body for a GPT image model."""
    _check_fields(body, _GENERATE_FIELDS)
    return v.GenerateRequest(**_common(body, "generate", (1024, 1024)))


def _decode(item: Any, param: str, spec: ModelSpec) -> Image.Image:
    """Open one uploaded image: png, jpeg or webp, under the model's upload limit."""
    if isinstance(item, str):
        raise _bad(
            f"Invalid type for '{param}': expected a file, but got a string. Send it as a multipart "
            f"file part.",
            param,
            "invalid_type",
        )
    data, ctype = (item.data, item.content_type) if isinstance(item, v.Upload) else (bytes(item), None)
    if ctype is not None and ctype.split(";")[0].strip().lower() not in _MIME:
        raise _bad(
            f"Invalid file '{param}': unsupported mimetype ('{ctype}'). Supported file formats are "
            f"'image/jpeg', 'image/png', and 'image/webp'.",
            param,
            "unsupported_file_mimetype",
        )
    formats = tuple(f.upper().replace("JPG", "JPEG") for f in spec.upload_formats)
    return v.decode_image(data, param, formats=formats, max_bytes=spec.max_upload_bytes)


def _data_of(item: Any) -> bytes:
    return item.data if isinstance(item, v.Upload) else item if isinstance(item, bytes) else b""


def parse_edit(fields: Mapping[str, Any]) -> v.EditRequest:
    """Validate an edits form (or JSON body) for a GPT image model.

    ``image`` is one upload or a list of 1 to 16 (``image[]``); the mask, if any,
    applies to the first image and must match its size. Without a mask, the first
    image's transparent pixels are the area to edit; with neither, the whole image.
    """
    _check_fields(fields, _EDIT_FIELDS)
    model = strip_provider(str(fields["model"]))
    spec = spec_for(model)
    raw = fields.get("image")
    if raw is None:
        raise _bad("'image' is a required property", "image", "missing_required_parameter")
    items = list(raw) if isinstance(raw, list) else [raw]
    if not 1 <= len(items) <= spec.max_input_images:
        raise _bad(f"{len(items)} images sent; {model} takes 1 to {spec.max_input_images} images.", "image")
    names = ["image"] if len(items) == 1 else [f"image[{i}]" for i in range(len(items))]
    mask_item = fields.get("mask")
    uploads = [*zip(items, names, strict=True), *([(mask_item, "mask")] if mask_item is not None else [])]
    v.check_declared_pixels([(_data_of(item), name) for item, name in uploads])
    first = _decode(items[0], names[0], spec)
    # Each further image becomes RGB right after decoding: one decoded image at a time.
    references = tuple(
        v.rgb_of(_decode(item, name, spec)) for item, name in zip(items[1:], names[1:], strict=True)
    )
    if mask_item is not None:
        mask_img = _decode(mask_item, "mask", spec)
        if mask_img.size != first.size:
            raise _bad(
                f"Invalid mask image - mask is {mask_img.size[0]}x{mask_img.size[1]} but the first image is "
                f"{first.size[0]}x{first.size[1]}; they must have the same dimensions.",
                "mask",
                "invalid_image_dimensions",
            )
        alpha = v.alpha_of(mask_img)
        if alpha is None:
            raise _bad(
                "Invalid mask image - it needs an alpha channel: its transparent (alpha 0) pixels mark "
                "the area to edit.",
                "mask",
                "invalid_image_format",
            )
        mask = alpha == 0
        v.check_selects(mask, "mask")
    else:
        alpha = v.alpha_of(first)
        mask = alpha == 0 if alpha is not None else np.zeros(first.size[::-1], bool)
    common = _common(fields, "edit", first.size)
    return v.EditRequest(
        image=v.rgb_of(first),
        mask=mask,
        references=references,
        **common,
    )


def _json_ref(ref: Any, param: str) -> v.Upload:
    if not isinstance(ref, dict) or not isinstance(ref.get("image_url"), str):
        if isinstance(ref, dict) and "file_id" in ref:
            raise _bad(
                f"'{param}.file_id' is not available offline: the engine has no Files API. Send the image "
                f"as {{'image_url': 'data:image/png;base64,...'}}.",
                param,
            )
        raise _bad(
            f"Invalid '{param}': expected {{'image_url': 'data:image/...;base64,...'}}.",
            param,
            "invalid_type",
        )
    return v.data_url_bytes(ref["image_url"], param)


def parse_edit_json(body: Mapping[str, Any]) -> v.EditRequest:
    """Validate the JSON form of an edit: ``images`` (1 to 16 ``{"image_url": data URL}``), ``mask``."""
    fields = {k: val for k, val in body.items() if k not in ("images", "mask")}
    refs = body.get("images")
    if not isinstance(refs, list) or not refs:
        raise _bad(
            "'images' is a required property: a non-empty array of image references.",
            "images",
            "missing_required_parameter",
        )
    fields["image"] = [_json_ref(ref, f"images[{i}]") for i, ref in enumerate(refs)]
    if len(refs) == 1:
        fields["image"] = fields["image"][0]
    if body.get("mask") is not None:
        fields["mask"] = _json_ref(body["mask"], "mask")
    return parse_edit(fields)


def _area(size: tuple[int, int]) -> float:
    return size[0] * size[1] / (1024 * 1024)


def usage_for(req: v.GenerateRequest | v.EditRequest, *, images: int | None = None) -> dict[str, Any]:
    """A plausible ``usage`` block: tokens as OpenAI counts them, from the table's figures.

    Text tokens are about one per four characters of the prompt; each input image
    costs the model's ``input_image_tokens`` per 1024x1024 (edits always read inputs
    at high fidelity on 2.x); each output image the model's output tokens for its
    quality, scaled by area, plus about 100 per partial image.
    """
    assert req.gpt is not None
    spec = spec_for(req.gpt.model)
    count = req.n if images is None else images
    quality = req.gpt.resolved_quality
    table = spec.prices.output_tokens
    high = table.get("high", 7024)
    per_image = table.get(quality) or round(high * _QUALITY_SCALE.get(quality, 1.0))
    frames = req.gpt.frame_count
    cells = spec.gif_rule.cells(frames) if frames and spec.gif_rule else 1
    sheet = _area(req.size) * cells  # a GIF is billed as its sprite sheet (2 to 8 frames as 8 cells)
    output = count * (round(per_image * sheet) + _TOKENS_PER_PARTIAL * req.gpt.partial_images)
    text = max(1, math.ceil(len(req.prompt) / 4))
    image_in = 0
    if isinstance(req, v.EditRequest):
        per_input = spec.prices.input_image_tokens or 3050
        inputs = [req.image, *req.references]
        image_in = sum(round(per_input * _area((im.shape[1], im.shape[0]))) for im in inputs)
    return {
        "total_tokens": text + image_in + output,
        "input_tokens": text + image_in,
        "output_tokens": output,
        "input_tokens_details": {"text_tokens": text, "image_tokens": image_in},
        "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
    }
