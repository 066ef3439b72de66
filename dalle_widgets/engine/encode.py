"""Encode the engine's images: the requested format, a real alpha channel, the engine's label.

Every image carries who made it (``Software`` and a JSON ``dalle_widgets_engine``
record in PNG text chunks, the same JSON as a JPEG comment or a WebP XMP packet), so
nobody mistakes an offline image for a model's. Pure functions of arrays to bytes.

>>> data = encode(np.zeros((8, 8, 4), np.uint8), "webp", compression=None, meta={"a": 1})
>>> Image.open(io.BytesIO(data)).mode
'RGBA'
"""

from __future__ import annotations

import io
import json
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image

from .. import _png
from .._version import __version__
from . import validation as v
from .animate import animate, encode_gif
from .cutout import with_alpha

__all__ = ["ENGINE_NAME", "MIME_TYPES", "encode", "finish", "resize_to", "wants_transparency"]

ENGINE_NAME = "dalle-widgets offline engine"
MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}
#: Pillow quality for JPEG and WebP when ``output_compression`` is not given.
DEFAULT_QUALITY = 90


def wants_transparency(req: v.ImageRequest) -> bool:
    """``background="transparent"``, or ``auto`` with a prompt asking for it, in a format with alpha."""
    gpt = getattr(req, "gpt", None)
    if gpt is None or gpt.output_format not in ("png", "webp"):
        return False
    if gpt.background == "transparent":
        return True
    prompt = getattr(req, "prompt", "").lower()
    return gpt.background == "auto" and ("transparent background" in prompt or "no background" in prompt)


def finish(image: np.ndarray, req: v.ImageRequest) -> np.ndarray:
    """The backend's RGB image as it will be sent: RGBA with the background cut out when asked."""
    return with_alpha(image) if wants_transparency(req) else image


def resize_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` scaled to ``size`` (width, height), or itself when it has that size already."""
    if image.shape[1::-1] == tuple(size):
        return image
    return np.asarray(
        Image.fromarray(np.ascontiguousarray(image)).resize((size[0], size[1]), Image.Resampling.BILINEAR)
    )


def encode(
    image: np.ndarray,
    fmt: str,
    *,
    compression: int | None,
    meta: dict[str, Any],
    animation: tuple[int, int] | None = None,
) -> bytes:
    """``image`` (uint8 (H, W, 3) or (H, W, 4)) as ``png``/``jpeg``/``webp`` bytes labelled with ``meta``.

    ``compression`` is OpenAI's ``output_compression`` (0-100, higher keeps more
    quality), used as the JPEG/WebP quality; PNG is always lossless. ``gif`` needs
    ``animation=(frames, milliseconds per frame)`` (see :mod:`.animate`).
    """
    record = json.dumps(meta, sort_keys=True)
    software = f"{ENGINE_NAME} {__version__}"
    img = Image.fromarray(np.ascontiguousarray(image))
    buf = io.BytesIO()
    if fmt == "png":
        return _png.encode(img, text={"Software": software, "dalle_widgets_engine": record})
    if fmt == "gif":
        frames, frame_ms = animation or (9, 200)
        seed = int(meta.get("request_seed", 0)) + int(meta.get("index", 0))
        return encode_gif(animate(image, frames, seed=seed), frame_ms, comment=f"{software}: {record}")
    if fmt == "jpeg":
        quality = DEFAULT_QUALITY if compression is None else max(1, min(compression, 95))
        img.convert("RGB").save(buf, "JPEG", quality=quality, comment=f"{software}: {record}".encode())
    elif fmt == "webp":
        quality = DEFAULT_QUALITY if compression is None else compression
        tag = "dalle_widgets_engine"
        xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><{tag}>{escape(record)}</{tag}></x:xmpmeta>'
        img.save(buf, "WEBP", quality=quality, method=4, xmp=xmp.encode())
    else:
        raise ValueError(f"cannot encode {fmt!r}: use png, jpeg, webp or gif")
    return buf.getvalue()
