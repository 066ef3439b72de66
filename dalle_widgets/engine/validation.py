"""Validate image requests exactly as the engine's default model (``dall-e-2``) demands.

Requests for a GPT image model (``model="gpt-image-..."``) are handed to
:mod:`.gpt_image`, which applies those models' rules and returns the same records.

Pure functions from raw fields (a JSON object or multipart form values) to small
frozen request records, raising :class:`~dalle_widgets.engine._errors.EngineError`
with OpenAI's wording and a ``param`` for every rule the API documents. The limits
come from :mod:`dalle_widgets.models`, the same table the client checks against, so
a request the engine accepts is one OpenAI would accept for ``dall-e-2``.

Policy for fields OpenAI documents but ``dall-e-2`` does not use (``style``,
``background``, ``output_format``, ``stream``...): refused with a 400 naming the
field (strict). Fields nobody documents get OpenAI's "Unrecognized request
argument supplied" 400. ``quality`` is accepted only as ``"standard"``. The engine's
one extension is ``seed`` (an integer): same request and seed, same pixels.

>>> req = parse_generate({"prompt": "a red fox", "n": 2, "size": "256x256"})
>>> req.n, req.size, req.response_format, req.model
(2, (256, 256), 'url', 'dall-e-2')
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from PIL import Image

from .. import _png
from .._types import Operation
from ..models import DEFAULT_MODEL, family_of, lookup, strip_provider
from ._errors import EngineError

if TYPE_CHECKING:
    from .gpt_image import GptOptions

__all__ = [
    "CHAT_PROMPT_CHARS",
    "EditRequest",
    "GenerateRequest",
    "ImageRequest",
    "MAX_INPUT_PIXELS",
    "MAX_REQUEST_PIXELS",
    "Upload",
    "VaryRequest",
    "alpha_of",
    "check_declared_pixels",
    "check_selects",
    "declared_pixels",
    "decode_image",
    "decode_png",
    "is_gpt_image",
    "parse_chat",
    "parse_edit",
    "parse_generate",
    "parse_json",
    "parse_vary",
    "rgb_of",
]

SPEC = lookup(DEFAULT_MODEL)
#: Largest input image accepted, in pixels (4096 x 4096). Checked from the PNG header,
#: before any pixel is decoded, so a small "bomb" file cannot exhaust memory.
MAX_INPUT_PIXELS = 4096 * 4096
#: Most pixels all the images of one request may declare together (an image and its mask at
#: the per-image limit; sixteen 2048x1024 references): what one slot of the engine decodes.
MAX_REQUEST_PIXELS = 2 * MAX_INPUT_PIXELS
SEED_MAX = 2**63 - 1
#: Deepest nesting of arrays and objects a JSON body may have (requests need about 6).
MAX_JSON_DEPTH = 32
#: Longest integer text accepted anywhere (a 64-bit seed has 19 digits).
MAX_INT_DIGITS = 20
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")

_COMMON = {"model", "n", "size", "response_format", "user", "seed"}
GENERATE_FIELDS = _COMMON | {"prompt", "quality"}
EDIT_FIELDS = _COMMON | {"prompt", "image", "mask"}
VARY_FIELDS = set(_COMMON)
#: Fields OpenAI documents for other image models only.
OTHER_MODEL_FIELDS = {
    "style": "dall-e-3",
    "background": "GPT image models",
    "moderation": "GPT image models",
    "output_format": "GPT image models",
    "output_compression": "GPT image models",
    "stream": "GPT image models",
    "partial_images": "GPT image models",
    "input_fidelity": "GPT image models",
    "quality": "GPT image models",
}


@dataclass(frozen=True)
class GenerateRequest:
    """A validated ``POST /v1/images/generations``; ``size`` is ``(width, height)``.

    ``gpt`` carries the GPT image models' fields (None for dall-e-2).
    """

    operation: ClassVar[str] = "generate"

    prompt: str
    n: int
    size: tuple[int, int]
    response_format: str
    model: str
    seed: int | None
    user: str | None = None
    gpt: GptOptions | None = None


@dataclass(frozen=True)
class EditRequest:
    """A validated ``POST /v1/images/edits``: ``image`` RGB uint8, ``mask`` bool, True = regenerate.

    ``references`` are the further input images of a GPT image model's edit (RGB uint8).
    """

    operation: ClassVar[str] = "edit"

    prompt: str
    image: np.ndarray
    mask: np.ndarray
    n: int
    size: tuple[int, int]
    response_format: str
    model: str
    seed: int | None
    user: str | None = None
    gpt: GptOptions | None = None
    references: tuple[np.ndarray, ...] = ()


@dataclass(frozen=True)
class VaryRequest:
    """A validated ``POST /v1/images/variations``: ``image`` RGB uint8."""

    operation: ClassVar[str] = "vary"

    image: np.ndarray
    n: int
    size: tuple[int, int]
    response_format: str
    model: str
    seed: int | None
    user: str | None = None


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart form, as sent."""

    filename: str | None
    content_type: str | None
    data: bytes


#: Any validated request: what the engine runs, whichever route or protocol it came by.
ImageRequest = GenerateRequest | EditRequest | VaryRequest


def is_gpt_image(model: Any) -> bool:
    """Whether ``model`` names a GPT image model (listed in the table or by family).

    >>> is_gpt_image("openai/gpt-image-2"), is_gpt_image("dall-e-2"), is_gpt_image(None)
    (True, False, False)
    """
    return isinstance(model, str) and family_of(strip_provider(model)) == "gpt-image"


def _bad(message: str, param: str | None, code: str | None = "invalid_value") -> EngineError:
    return EngineError(400, message, param=param, code=code)


def _invalid_json(why: str) -> EngineError:
    return EngineError(
        400,
        f"We could not parse the JSON body of your request ({why}). The body must be a JSON object.",
        code="invalid_json",
    )


def parse_json(body: bytes) -> Any:
    """The JSON value of a request body, or a 400 ``invalid_json`` saying what is wrong with it.

    Besides syntax, refused: text that is not UTF-8 (or UTF-16/32), nesting deeper than
    :data:`MAX_JSON_DEPTH`, integers too long for Python to convert (over 4300 digits), and
    lone UTF-16 surrogates (``"\\ud800"``) in any key or string, which no UTF-8 text can
    hold and which would otherwise fail much later, when the prompt is written into an
    image's metadata or a field name into an error message.

    >>> parse_json(b'{"prompt": "a fox", "n": 2}')
    {'prompt': 'a fox', 'n': 2}
    >>> parse_json(b'{"prompt": "\\\\ud800"}')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dalle_widgets.engine._errors.EngineError: ... (a lone UTF-16 surrogate (\\ud800) in 'prompt': ...
    """
    try:
        value = json.loads(body)
    except RecursionError:
        return _raise(_invalid_json(f"it is nested more than {MAX_JSON_DEPTH} levels deep"))
    except UnicodeDecodeError as exc:
        return _raise(_invalid_json(f"it is not UTF-8 text: {exc.reason} at byte {exc.start}"))
    except json.JSONDecodeError as exc:
        return _raise(_invalid_json(f"{exc.msg}: line {exc.lineno} column {exc.colno} (char {exc.pos})"))
    except ValueError as exc:  # an integer of thousands of digits (sys.set_int_max_str_digits)
        return _raise(_invalid_json(str(exc).split(";")[0]))
    _check_tree(value, surrogates=_SURROGATE_ESCAPE.search(body) is not None)
    return value


def _raise(exc: EngineError) -> Any:
    raise exc from None


def _check_tree(value: Any, *, surrogates: bool) -> None:
    """Refuse nesting past :data:`MAX_JSON_DEPTH` and (if ``surrogates``) lone surrogates, iteratively."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "body")]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, str):
            if surrogates and not _encodable(item):
                bad = next(c for c in item if 0xD800 <= ord(c) <= 0xDFFF)
                raise _invalid_json(
                    f"a lone UTF-16 surrogate ({ascii(bad)[1:-1]}) in {where}: text must be valid Unicode"
                )
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_JSON_DEPTH:
            raise _invalid_json(f"it is nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(item, dict):
            for key, sub in item.items():
                if surrogates and not _encodable(key):
                    stack.append((key, depth, "a field name"))
                    continue
                stack.append((sub, depth + 1, repr(key) if depth == 1 else f"{where}.{key}"[:80]))
        else:
            stack.extend((sub, depth + 1, where) for sub in item)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_fields(fields: Mapping[str, Any], allowed: set[str]) -> None:
    """Refuse unknown fields and fields of other models, naming the field."""
    for name in fields:
        if name in allowed:
            continue
        if name in OTHER_MODEL_FIELDS:
            raise _bad(
                f"'{name}' is only supported for {OTHER_MODEL_FIELDS[name]}, not for dall-e-2; "
                f"remove '{name}' from the request.",
                name,
                "unsupported_parameter",
            )
        raise _bad(
            f"Unrecognized request argument supplied: {name}. This endpoint accepts "
            f"{', '.join(sorted(allowed))}.",
            name,
            "unknown_parameter",
        )


def parse_model(value: Any, operation: str) -> str:
    """``None`` means ``dall-e-2``; provider prefixes are accepted; anything else is 404."""
    if value is None or value == "":
        return DEFAULT_MODEL
    if not isinstance(value, str):
        raise _bad(
            f"Invalid type for 'model': expected a string, but got {type(value).__name__}.",
            "model",
            "invalid_type",
        )
    if strip_provider(value) != DEFAULT_MODEL:
        if family_of(strip_provider(value)) == "gpt-image":
            where = "has no variations" if operation == "vary" else f"is not served on the {operation} route"
            raise _bad(
                f"{value} {where} on the offline engine: variations and the chat route are dall-e-2's "
                f"(send model='dall-e-2'); GPT image models use /v1/images/generations and /v1/images/edits.",
                "model",
            )
        raise EngineError(
            404,
            f"The model `{value}` does not exist on the offline engine; it serves `{DEFAULT_MODEL}` and the "
            f"GPT image models (gpt-image-*) (operation: {operation}).",
            param="model",
            code="model_not_found",
        )
    return DEFAULT_MODEL


def parse_int(value: Any, param: str, *, lo: int, hi: int, default: int | None) -> int | None:
    """An integer in ``[lo, hi]``; multipart sends it as text, JSON as a number."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or isinstance(value, float):
        raise _bad(
            f"Invalid type for '{param}': expected an integer, but got {value!r}.", param, "invalid_type"
        )
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("-").isdigit():
            raise _bad(
                f"Invalid type for '{param}': expected an integer, but got {value[:40]!r}.",
                param,
                "invalid_type",
            )
        if len(text.lstrip("-")) > MAX_INT_DIGITS:
            raise _bad(
                f"'{param}' has {len(text)} digits: it is out of range (at most {hi}).",
                param,
                "invalid_value",
            )
        value = int(text)
    if not isinstance(value, int):
        raise _bad(
            f"Invalid type for '{param}': expected an integer, but got {type(value).__name__}.",
            param,
            "invalid_type",
        )
    if value < lo:
        raise _bad(f"{value} is less than the minimum of {lo} - '{param}'", param)
    if value > hi:
        raise _bad(f"{value} is greater than the maximum of {hi} - '{param}'", param)
    return value


def parse_size(value: Any) -> int:
    """One of the model's square sizes; ``None`` means ``1024x1024``. Returns the side in pixels."""
    if value is None or value == "":
        value = SPEC.default_size
    if not isinstance(value, str) or value not in SPEC.sizes:
        allowed = ", ".join(repr(s) for s in SPEC.sizes)
        raise _bad(f"{value!r} is not one of [{allowed}] - 'size'", "size")
    return int(value.split("x")[0])


def parse_response_format(value: Any) -> str:
    if value is None or value == "":
        return "url"
    if value not in SPEC.response_formats:
        raise _bad(f"{value!r} is not one of ['url', 'b64_json'] - 'response_format'", "response_format")
    return str(value)


def parse_prompt(value: Any, *, limit: int | None = None) -> str:
    """A non-empty prompt of at most ``limit`` characters (default: the model's 1000)."""
    if value is None:
        raise _bad("'prompt' is a required property", "prompt", "missing_required_parameter")
    if not isinstance(value, str):
        raise _bad(
            f"Invalid type for 'prompt': expected a string, but got {type(value).__name__}.",
            "prompt",
            "invalid_type",
        )
    if not value.strip():
        raise _bad("'prompt' must not be empty: describe the image you want.", "prompt", "empty_string")
    limit = limit or SPEC.max_prompt_chars or 1000
    if len(value) > limit:
        raise _bad(
            f"'{value[:40]}...' is too long - 'prompt': {len(value)} characters, the maximum for dall-e-2 is "
            f"{limit}. Shorten the prompt.",
            "prompt",
            "string_above_max_length",
        )
    return value


def parse_user(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad("Invalid type for 'user': expected a string.", "user", "invalid_type")
    return value


def _square(side: int) -> tuple[int, int]:
    return side, side


def _single(fields: Mapping[str, Any]) -> None:
    """dall-e-2 takes one value per field: refuse a repeated field or an ``image[]`` array."""
    for name, value in fields.items():
        if isinstance(value, list):
            raise _bad(
                f"Invalid type for '{name}': expected one value, but got an array instead"
                + (" (dall-e-2 takes exactly one image)." if name == "image" else "."),
                name,
                "invalid_type",
            )


def _common(fields: Mapping[str, Any], operation: Operation) -> dict[str, Any]:
    return {
        "model": parse_model(fields.get("model"), operation),
        "n": parse_int(fields.get("n"), "n", lo=1, hi=SPEC.max_n, default=1),
        "size": _square(parse_size(fields.get("size"))),
        "response_format": parse_response_format(fields.get("response_format")),
        "seed": parse_int(fields.get("seed"), "seed", lo=0, hi=SEED_MAX, default=None),
        "user": parse_user(fields.get("user")),
    }


def parse_generate(body: Any) -> GenerateRequest:
    """Validate a generations JSON body.

    >>> parse_generate({"prompt": "x", "size": "800x600"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dalle_widgets.engine._errors.EngineError: '800x600' is not one of [...] - 'size'
    """
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.", None, "invalid_json")
    if is_gpt_image(body.get("model")):
        from . import gpt_image

        return gpt_image.parse_generate(body)
    quality = body.get("quality")
    check_fields(
        {k: v for k, v in body.items() if not (k == "quality" and quality in (None, "standard"))},
        GENERATE_FIELDS - {"quality"},
    )
    return GenerateRequest(prompt=parse_prompt(body.get("prompt")), **_common(body, "generate"))


def decode_png(data: bytes, param: str) -> Image.Image:
    """Open an uploaded PNG safely: magic bytes, size cap, header-only pixel count, then decode.

    Raises a 400 naming ``param`` for a non-PNG, a file of 4 MB or more, a decompression
    bomb (more than :data:`MAX_INPUT_PIXELS` pixels) and a truncated or corrupt file.
    """
    if not _png.is_png(data):
        raise _bad(
            f"Invalid file '{param}': uploaded image must be a PNG and less than 4 MB "
            f"(the file does not start with the PNG signature).",
            param,
            "invalid_image_format",
        )
    if len(data) >= SPEC.max_upload_bytes:
        raise _bad(
            f"Invalid file '{param}': uploaded image must be a PNG and less than 4 MB "
            f"(got {len(data):,} bytes).",
            param,
            "image_too_large",
        )
    if len(data) >= 24 and data[12:16] == b"IHDR":
        w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if w * h > MAX_INPUT_PIXELS:
            raise _bad(
                f"Invalid file '{param}': the PNG declares {w}x{h} pixels, more than the engine's limit of "
                f"{MAX_INPUT_PIXELS:,} (a decompression bomb?); send at most 1024x1024.",
                param,
                "image_too_large",
            )
    return _open(data, param, ("PNG",), "a valid PNG", "send at most 1024x1024")


def decode_image(data: bytes, param: str, *, formats: tuple[str, ...], max_bytes: int) -> Image.Image:
    """Open an upload in one of Pillow's ``formats`` (``PNG``, ``JPEG``, ``WEBP``) safely.

    The same guards as :func:`decode_png`: a size cap before anything else, the pixel
    count from the header before any pixel is decoded, a clear 400 for anything else.
    """
    names = ", ".join(f.lower() for f in formats)
    if len(data) >= max_bytes:
        raise _bad(
            f"Invalid file '{param}': uploaded images must be {names} files under "
            f"{max_bytes // 1_000_000} MB (got {len(data):,} bytes).",
            param,
            "image_too_large",
        )
    return _open(data, param, formats, f"a {names} image", "send a smaller image")


def declared_pixels(data: bytes) -> int:
    """The pixel count an image file declares in its header (0 when it has none Pillow reads).

    Nothing is decoded: PNG's IHDR is read directly, other formats through Pillow's lazy open.
    """
    if len(data) >= 24 and _png.is_png(data) and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big") * int.from_bytes(data[20:24], "big")
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size[0] * img.size[1]
    except Exception:  # noqa: BLE001 - not an image: decoding will say so with the right message
        return 0


def check_declared_pixels(uploads: list[tuple[bytes, str]]) -> None:
    """Refuse, before decoding anything, a request whose images declare more than :data:`MAX_REQUEST_PIXELS`.

    ``uploads`` are ``(data, param)`` pairs. Decoded, a pixel costs 7-8 bytes while it is
    converted (RGBA, then RGB and the mask), so this bounds what one request holds.
    """
    sizes = [(declared_pixels(data), param) for data, param in uploads]
    total = sum(n for n, _ in sizes)
    if total > MAX_REQUEST_PIXELS:
        biggest = max(sizes)[1]
        raise _bad(
            f"The {len(sizes)} images of this request declare {total:,} pixels together, more than the "
            f"engine decodes for one request ({MAX_REQUEST_PIXELS:,}); send fewer or smaller images "
            f"(the largest is '{biggest}').",
            biggest,
            "image_too_large",
        )


def _open(data: bytes, param: str, formats: tuple[str, ...], what: str, fix: str) -> Image.Image:
    if _png.is_png(data):
        # Pillow decodes a PNG whose pixel data stops early without a word (the missing
        # rows come out black): check every chunk and the inflated size first.
        try:
            _png.check(data, max_pixels=MAX_INPUT_PIXELS)
        except ValueError as exc:
            raise _bad(
                f"Invalid file '{param}': not {what} ({exc}); send the whole file.",
                param,
                "invalid_image_format" if formats == ("PNG",) else "invalid_image_file",
            ) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=list(formats))
            w, h = img.size
            if w * h > MAX_INPUT_PIXELS:
                raise _bad(
                    f"Invalid file '{param}': the image declares {w}x{h} pixels, more than the engine's "
                    f"limit of {MAX_INPUT_PIXELS:,}; {fix}.",
                    param,
                    "image_too_large",
                )
            img.load()
    except EngineError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bad(
            f"Invalid file '{param}': decompression bomb refused ({exc}).", param, "image_too_large"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the upload's fault
        raise _bad(
            f"Invalid file '{param}': not {what} ({type(exc).__name__}: {exc}).",
            param,
            "invalid_image_format" if formats == ("PNG",) else "invalid_image_file",
        ) from None
    return img


def _check_square(img: Image.Image, param: str) -> None:
    w, h = img.size
    if w != h:
        raise _bad(
            f"Invalid input image - expected an image with equal width and height, got {w}x{h} instead. "
            f"Pad or crop '{param}' to a square.",
            param,
            "invalid_image_dimensions",
        )


def alpha_of(img: Image.Image) -> np.ndarray | None:
    """The alpha channel of ``img`` as uint8 (H, W), or None when it has none."""
    if img.mode in ("RGBA", "LA"):  # the channel alone: a quarter of an RGBA copy
        return np.asarray(img.getchannel("A"))
    if img.mode == "PA" or (img.mode in ("P", "L", "RGB") and "transparency" in img.info):
        return np.asarray(img.convert("RGBA").getchannel("A"))
    return None


def rgb_of(img: Image.Image) -> np.ndarray:
    """``img`` as a contiguous RGB uint8 array (H, W, 3); 16-bit greys are scaled down."""
    if img.mode == "I;16" or img.mode == "I":
        img = img.point(lambda v: v / 256).convert("L")
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _file(fields: Mapping[str, Any], name: str) -> bytes | None:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        raise _bad(
            f"Invalid type for '{name}': expected a file, but got a string. Send '{name}' as a "
            f"multipart file part.",
            name,
            "invalid_type",
        )
    return value.data if isinstance(value, Upload) else bytes(value)


def parse_edit(fields: Mapping[str, Any]) -> EditRequest:
    """Validate an edits multipart form (files as :class:`Upload` or ``bytes``, text as ``str``).

    A repeated field arrives as a list (``image[]`` as ``image``); only GPT image models
    take several images.
    """
    if is_gpt_image(fields.get("model")):
        from . import gpt_image

        return gpt_image.parse_edit(fields)
    _single(fields)
    check_fields(fields, EDIT_FIELDS)
    common = _common(fields, "edit")
    prompt = parse_prompt(fields.get("prompt"))
    image_bytes = _file(fields, "image")
    if image_bytes is None:
        raise _bad("'image' is a required property", "image", "missing_required_parameter")
    img = decode_png(image_bytes, "image")
    _check_square(img, "image")
    mask_bytes = _file(fields, "mask")
    if mask_bytes is not None:
        mimg = decode_png(mask_bytes, "mask")
        if mimg.size != img.size:
            raise _bad(
                f"Invalid mask image - mask is {mimg.size[0]}x{mimg.size[1]} but image is "
                f"{img.size[0]}x{img.size[1]}; they must have the same dimensions.",
                "mask",
                "invalid_image_dimensions",
            )
        alpha = alpha_of(mimg)
        if alpha is None:
            raise _bad(
                f"Invalid mask image - format must be in ['RGBA', 'LA'], got {mimg.mode}: the mask's "
                f"transparent (alpha 0) pixels mark the area to edit.",
                "mask",
                "invalid_image_format",
            )
    else:
        alpha = alpha_of(img)
        if alpha is None:
            raise _bad(
                f"Invalid input image - format must be in ['RGBA', 'LA', 'L'] with transparency, got "
                f"{img.mode}. With no 'mask', the image's transparent pixels mark the area to edit: "
                f"send a mask or an image with an alpha channel.",
                "image",
                "invalid_image_format",
            )
    mask = alpha == 0
    check_selects(mask, "mask" if mask_bytes is not None else "image")
    return EditRequest(prompt=prompt, image=rgb_of(img), mask=mask, **common)


def check_selects(mask: np.ndarray, param: str) -> None:
    """Refuse an edit whose mask selects no pixel: it would come back unchanged and still be billed.

    OpenAI documents only that transparent (alpha 0) pixels mark the area to edit, not
    what a mask without one does; the engine refuses it with a 400 naming the fix.
    """
    if not mask.any():
        where = "the mask" if param == "mask" else "the image (used as the mask when none is sent)"
        raise _bad(
            f"Invalid {param} - {where} has no fully transparent (alpha 0) pixel, so the edit would "
            f"change nothing. Make the area to edit transparent (e.g. masks.to_rgba(mask)).",
            param,
            "empty_mask",
        )


def parse_vary(fields: Mapping[str, Any]) -> VaryRequest:
    """Validate a variations multipart form. ``prompt`` is refused: variations take none."""
    _single(fields)
    if "prompt" in fields:
        raise _bad(
            "Unrecognized request argument supplied: prompt. Variations take no prompt; use "
            "/v1/images/edits to change an image with a prompt.",
            "prompt",
            "unknown_parameter",
        )
    check_fields(fields, VARY_FIELDS | {"image"})
    common = _common(fields, "vary")
    image_bytes = _file(fields, "image")
    if image_bytes is None:
        raise _bad("'image' is a required property", "image", "missing_required_parameter")
    img = decode_png(image_bytes, "image")
    _check_square(img, "image")
    return VaryRequest(image=rgb_of(img), **common)


#: Chat messages carry an instruction around the prompt (see the client's chat protocol),
#: so the chat route allows longer text than the Images API's 1000 characters.
CHAT_PROMPT_CHARS = 4000
_DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,(.*)$", re.I | re.S)


def decode_data_url(url: Any, param: str) -> Image.Image:
    """Open a ``data:image/png;base64,...`` URL as :func:`decode_png` does; remote URLs are refused."""
    return decode_png(data_url_bytes(url, param).data, param)


def data_url_bytes(url: Any, param: str) -> Upload:
    """The bytes and media type of a base64 ``data:image/...`` URL; remote URLs are refused."""
    if not isinstance(url, str):
        raise _bad(
            f"Invalid '{param}': expected an image_url object with a 'url' string.", param, "invalid_type"
        )
    match = _DATA_URL.match(url)
    if not match:
        raise _bad(
            f"Invalid '{param}': the offline engine accepts images as data URLs "
            f"(data:image/png;base64,...) only; it never fetches remote URLs.",
            param,
            "invalid_image_url",
        )
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise _bad(
            f"Invalid '{param}': the data URL is not valid base64.", param, "invalid_image_url"
        ) from None
    return Upload(None, match.group(1).lower(), data)


def _chat_user_parts(messages: Any) -> tuple[list[str], list[Image.Image]]:
    """The text parts and decoded images of the last user message."""
    if not isinstance(messages, list) or not messages:
        raise _bad(
            "'messages' is a required property and must be a non-empty array.",
            "messages",
            "missing_required_parameter",
        )
    user = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not user:
        raise _bad("'messages' must contain a user message with the prompt.", "messages")
    content = user[-1].get("content")
    texts: list[str] = []
    images: list[Image.Image] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for i, part in enumerate(content):
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif part.get("type") == "image_url":
                ref = part.get("image_url")
                url = ref.get("url") if isinstance(ref, dict) else ref
                param = f"messages[-1].content[{i}].image_url"
                img = decode_data_url(url, param)
                _check_square(img, param)
                images.append(img)
    else:
        raise _bad(
            "The user message's 'content' must be a string or an array of parts.", "messages", "invalid_type"
        )
    if len(images) > 2:
        raise _bad("Send at most two images: the image and, optionally, its mask.", "messages")
    return texts, images


def parse_chat(body: Any) -> ImageRequest:
    """Read an image request out of a chat completion body, as the Images routes' records.

    The last user message carries the prompt (text parts) and, for edits and
    variations, the image and an optional mask as ``image_url`` data-URL parts. An
    image with transparent pixels (or a mask) makes an edit; an opaque image with no
    mask makes variations. Chat's many generation knobs (temperature...) are ignored.

    >>> req = parse_chat({"model": "openai/dall-e-2", "messages": [{"role": "user", "content": "a fox"}]})
    >>> type(req).__name__, req.prompt, req.size
    ('GenerateRequest', 'a fox', (1024, 1024))
    """
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.", None, "invalid_json")
    model = parse_model(body.get("model"), "chat")
    if body.get("stream"):
        raise _bad(
            "'stream' is not supported by the offline engine's image chat route.",
            "stream",
            "unsupported_parameter",
        )
    texts, images = _chat_user_parts(body.get("messages"))
    config = body.get("image_config")
    image_config: dict[str, Any] = config if isinstance(config, dict) else {}
    common: dict[str, Any] = {
        "model": model,
        "n": parse_int(body.get("n"), "n", lo=1, hi=SPEC.max_n, default=1),
        "size": _square(parse_size(body.get("size") or image_config.get("size"))),
        "response_format": "b64_json",
        "seed": parse_int(body.get("seed"), "seed", lo=0, hi=SEED_MAX, default=None),
    }
    prompt = "\n".join(t for t in texts if t.strip())
    if not images:
        return GenerateRequest(prompt=parse_prompt(prompt, limit=CHAT_PROMPT_CHARS), **common)
    img = images[0]
    if len(images) == 2:
        mimg = images[1]
        if mimg.size != img.size:
            raise _bad(
                f"Invalid mask image - mask is {mimg.size[0]}x{mimg.size[1]} but image is "
                f"{img.size[0]}x{img.size[1]}; they must have the same dimensions.",
                "mask",
                "invalid_image_dimensions",
            )
        alpha = alpha_of(mimg)
        if alpha is None:
            raise _bad(
                "Invalid mask image - it needs an alpha channel (alpha 0 = area to edit).",
                "mask",
                "invalid_image_format",
            )
        check_selects(alpha == 0, "mask")
    else:
        alpha = alpha_of(img)
    mask = alpha == 0 if alpha is not None else None
    if mask is not None and mask.any():
        return EditRequest(
            prompt=parse_prompt(prompt, limit=CHAT_PROMPT_CHARS), image=rgb_of(img), mask=mask, **common
        )
    return VaryRequest(image=rgb_of(img), **common)
