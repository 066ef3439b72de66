"""The GPT image request fields, checked against the model table before anything is sent.

``quality``, ``background``, ``output_format``, ``output_compression``, ``moderation``,
``input_fidelity``, ``complexity``, ``stream``, ``partial_images``, ``frame_count`` and
``frame_duration_ms``: which values a
model takes is data in :mod:`dalle_widgets.models` (an empty list there means "never
send the field"); the rules between fields (transparent needs an alpha channel,
compression needs jpeg or webp, GIF does not stream...) live here. Every refusal names
the value, the model and the fix, and is raised before anything is sent or billed.

>>> from dalle_widgets.models import lookup
>>> check_fields(lookup("gpt-image-2"), "generate", quality="high", background="transparent")
{'quality': 'high', 'background': 'transparent'}
>>> check_fields(lookup("gpt-image-2"), "generate", background="transparent", output_format="jpeg")
Traceback (most recent call last):
...
dalle_widgets.errors.InvalidRequestError: background='transparent' needs output_format='png' or 'webp' \
(jpeg has no alpha channel); got output_format='jpeg' for gpt-image-2
"""

from __future__ import annotations

from typing import Any

from .._types import Operation
from ..errors import InvalidRequestError
from ..models import ModelSpec, live_models, lookup

__all__ = ["FIELDS", "check_fields", "check_gif", "who_takes"]

#: The request fields this module checks, in the order they are sent.
FIELDS = (
    "quality",
    "background",
    "output_format",
    "output_compression",
    "moderation",
    "input_fidelity",
    "complexity",
    "stream",
    "partial_images",
    "frame_count",
    "frame_duration_ms",
)
#: Which :class:`~dalle_widgets.models.ModelSpec` attribute lists a field's values.
_VALUES = {
    "quality": "qualities",
    "background": "backgrounds",
    "output_format": "output_formats",
    "moderation": "moderation",
    "input_fidelity": "input_fidelity",
    "complexity": "complexities",
}
_ALPHA_FORMATS = ("png", "webp")
_COMPRESSED_FORMATS = ("jpeg", "webp")


def _join(values: tuple[str, ...] | list[str]) -> str:
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def who_takes(field: str, value: Any) -> list[str]:
    """The live models of the table whose ``field`` accepts ``value`` (for hints in errors).

    >>> who_takes("quality", "xhigh")[:2]
    ['gpt-image-2.6-flare', 'gpt-image-2.6-sunburst']
    """
    attr = _VALUES[field]
    return [name for name in live_models() if value in getattr(lookup(name), attr)]


def _check_choice(spec: ModelSpec, field: str, value: Any) -> str:
    values: tuple[str, ...] = getattr(spec, _VALUES[field])
    if not isinstance(value, str):
        raise InvalidRequestError(
            f"{field}={value!r}: pass a string" + (f" ({_join(values)} for {spec.name})" if values else ""),
            param=field,
        )
    if value in values:
        return value
    others = [m for m in who_takes(field, value) if m != spec.name]
    elsewhere = f"; {', '.join(others[:4])} take {field}={value!r}" if others else ""
    if not values:
        raise InvalidRequestError(
            f"{field}={value!r}: {spec.name} takes no {field} field: leave it unset{elsewhere} "
            f"(or register the model with {_VALUES[field]}=[...] in dalle_widgets.models)",
            param=field,
        )
    raise InvalidRequestError(
        f"{field}={value!r} is not accepted by {spec.name}; use {_join(values)}{elsewhere}", param=field
    )


def check_fields(
    spec: ModelSpec,
    operation: Operation,
    *,
    quality: Any = None,
    background: Any = None,
    output_format: Any = None,
    output_compression: Any = None,
    moderation: Any = None,
    input_fidelity: Any = None,
    complexity: Any = None,
    stream: Any = False,
    partial_images: Any = None,
    frame_count: Any = None,
    frame_duration_ms: Any = None,
    n: int = 1,
    has_mask: bool = False,
    input_images: int = 0,
) -> dict[str, Any]:
    """The fields to send for ``operation`` on ``spec``, checked; unset ones are left out.

    Raises
    ------
    InvalidRequestError
        Naming the value, the model and the fix, for a value the model does not take or a
        combination the API refuses (transparent with jpeg, compression without jpeg or
        webp, ``partial_images`` without ``stream``, GIF with a mask or a stream, SVG with
        several images or input images, ``input_fidelity`` on a generation, ``frame_count``
        or ``frame_duration_ms`` without GIF output). The GIF's own values are checked by
        :func:`check_gif`.
    """
    out: dict[str, Any] = {}
    if quality is not None:
        out["quality"] = _check_choice(spec, "quality", quality)
    if background is not None:
        out["background"] = _check_choice(spec, "background", background)
    fmt = None
    if output_format is not None:
        fmt = _check_choice(spec, "output_format", output_format)
        # a model whose only output is png takes no output_format field (dall-e)
        if spec.output_formats != ("png",):
            out["output_format"] = fmt
    if background == "transparent" and fmt is not None and fmt not in _ALPHA_FORMATS:
        raise InvalidRequestError(
            f"background='transparent' needs output_format='png' or 'webp' ({fmt} has no alpha channel); "
            f"got output_format={fmt!r} for {spec.name}",
            param="background",
        )
    if output_compression is not None:
        if (
            isinstance(output_compression, bool)
            or not isinstance(output_compression, int)
            or not 0 <= output_compression <= 100
        ):
            raise InvalidRequestError(
                f"output_compression={output_compression!r}: pass an integer from 0 to 100 (percent)",
                param="output_compression",
            )
        if not spec.output_compression:
            raise InvalidRequestError(
                f"output_compression={output_compression}: {spec.name} takes no output_compression; "
                "leave it unset",
                param="output_compression",
            )
        if fmt not in _COMPRESSED_FORMATS:
            raise InvalidRequestError(
                f"output_compression={output_compression} applies to jpeg and webp only, but output_format "
                f"is {fmt or 'png (the default)'!s} for {spec.name}: set output_format='jpeg' or 'webp', "
                "or drop output_compression",
                param="output_compression",
            )
        out["output_compression"] = output_compression
    if moderation is not None:
        out["moderation"] = _check_choice(spec, "moderation", moderation)
    if input_fidelity is not None:
        if operation != "edit":
            raise InvalidRequestError(
                f"input_fidelity={input_fidelity!r} applies to edits (input images) only; drop it from "
                f"{operation}",
                param="input_fidelity",
            )
        if not spec.input_fidelity and isinstance(input_fidelity, str):
            raise InvalidRequestError(
                f"input_fidelity={input_fidelity!r}: {spec.name} takes no input_fidelity field (it always "
                "processes input images at high fidelity): leave it unset",
                param="input_fidelity",
            )
        out["input_fidelity"] = _check_choice(spec, "input_fidelity", input_fidelity)
    if complexity is not None:
        out["complexity"] = _check_choice(spec, "complexity", complexity)
    if not isinstance(stream, bool):
        raise InvalidRequestError(f"stream={stream!r}: pass True or False", param="stream")
    if stream:
        if not spec.streaming:
            raise InvalidRequestError(
                f"stream=True: {spec.name} does not stream; drop stream=True "
                f"(GPT image models such as {', '.join(live_models(family='gpt-image')[:2])} do)",
                param="stream",
            )
        out["stream"] = True
    if partial_images is not None:
        if not stream:
            raise InvalidRequestError(
                f"partial_images={partial_images!r} needs stream=True (previews arrive as stream events)",
                param="partial_images",
            )
        top = spec.max_partial_images
        if (
            isinstance(partial_images, bool)
            or not isinstance(partial_images, int)
            or not 0 <= partial_images <= top
        ):
            raise InvalidRequestError(
                f"partial_images={partial_images!r}: {spec.name} sends 0 to {top} previews per image",
                param="partial_images",
            )
        out["partial_images"] = partial_images
    if fmt == "gif":
        for bad, why in (
            (stream, "stream=True"),
            (has_mask, "a mask"),
            (output_compression is not None, "output_compression"),
        ):
            if bad:
                raise InvalidRequestError(
                    f"output_format='gif' on {spec.name} does not support {why}: drop it, or use png/webp",
                    param="output_format",
                )
    for name, value in (("frame_count", frame_count), ("frame_duration_ms", frame_duration_ms)):
        if value is None:
            continue
        if fmt != "gif":
            raise InvalidRequestError(
                f"{name}={value!r} applies to animated GIFs only: add output_format='gif' "
                f"({_gif_models(spec)}), or drop {name}",
                param=name,
            )
        out[name] = value
    if fmt == "svg" and (n != 1 or operation != "generate" or input_images):
        raise InvalidRequestError(
            f"output_format='svg' on {spec.name} makes one image from a prompt only (n=1, generate, no "
            f"input images); got n={n} on {operation}",
            param="output_format",
        )
    return out


def _gif_models(spec: ModelSpec) -> str:
    takers = who_takes("output_format", "gif")
    if spec.name in takers:
        return f"{spec.name} makes them"
    return f"{', '.join(takers[:2])} make them" if takers else "no model in the table makes them"


def check_gif(
    spec: ModelSpec,
    operation: Operation,
    size: Any,
    frame_count: Any = None,
    frame_duration_ms: Any = None,
) -> str:
    """The frame size to send for an animated GIF (``output_format="gif"``), checked.

    The rule is the model table's ``gif_size`` block (:class:`~dalle_widgets.models.GifRule`,
    limits measured by third parties), the one the offline engine applies too. ``size``
    None means the largest square frame for the frame count. Raises
    :class:`~dalle_widgets.errors.InvalidRequestError` naming the value, the model and the
    fix, e.g. the largest frame for that frame count.

    >>> from dalle_widgets.models import lookup
    >>> check_gif(lookup("gpt-image-2.6-flare"), "generate", "512x512", 6)
    '512x512'
    >>> check_gif(lookup("gpt-image-2.6-flare"), "generate", None, 12)
    '816x816'
    >>> check_gif(lookup("gpt-image-2.6-flare"), "generate", "1024x1024", 6)
    Traceback (most recent call last):
    ...
    dalle_widgets.errors.InvalidRequestError: size '1024x1024' does not fit a GIF on gpt-image-2.6-flare: \
1024x1024 is too large for 6 frames: each frame may have at most 960x960 pixels; the largest frame of that \
shape for 6 frames is '960x960'
    """
    _check_choice(spec, "output_format", "gif")  # names the models that make GIFs
    rule = spec.gif_rule
    if rule is None:
        raise InvalidRequestError(
            f"output_format='gif': {spec.name} lists gif but has no gif_frames in the model table; "
            "register it with gif_frames=[2, 16]",
            param="output_format",
        )
    if operation not in rule.operations:
        raise InvalidRequestError(
            f"output_format='gif' on {operation} is not offered for {spec.name}: whether the API makes "
            f"GIFs from input images is unverified (sources conflict). Make the GIF with generate(), or "
            f"send it anyway with extra_body={{'output_format': 'gif'}}",
            param="output_format",
        )
    frames = rule.default_frames if frame_count is None else frame_count
    problem = rule.frames_problem(frames)
    if problem is not None:
        raise InvalidRequestError(f"{problem} on {spec.name}", param="frame_count")
    if frame_duration_ms is not None:
        problem = rule.duration_problem(frame_duration_ms)
        if problem is not None:
            raise InvalidRequestError(f"{problem} on {spec.name}", param="frame_duration_ms")
    if size is None or size == "auto":
        return rule.largest(frames) if size is None else "auto"
    if not isinstance(size, str):
        raise InvalidRequestError(f"size={size!r}: pass a string such as '512x512'", param="size")
    problem = rule.problem(size, frames)
    if problem is None:
        return size
    shaped = rule.largest(frames, size)
    raise InvalidRequestError(
        f"size {size!r} does not fit a GIF on {spec.name}: {problem.removeprefix(f'{size}: ')}; the largest "
        f"frame of that shape for {frames} frames is {shaped!r}",
        param="size",
    )
