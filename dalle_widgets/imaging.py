"""Images in, images out: coercion, squaring, PNG encoding, thumbnails, contact sheets.

Everything the rest of the package needs to turn "whatever the user handed us"
into what the Images API reads (a square PNG under 4 MB), and to show results
compactly. Pure Pillow/numpy: no widget, HTTP or IPython import.

Accepted image inputs (everywhere an ``image`` is taken): a path (``str`` or
:class:`os.PathLike`), PNG/JPEG/... ``bytes``, a binary file object, a
:class:`PIL.Image.Image`, a numpy array (``uint8`` or float in [0, 1], shaped
``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``), or any object with a PIL ``.image``
attribute (a ``GeneratedImage``).

Coordinates follow the package convention: points ``(x, y)``, boxes
``(x0, y0, x1, y1)`` with ``x1``/``y1`` exclusive, array shapes ``(H, W)``.

>>> import numpy as np
>>> img = to_pil(np.zeros((300, 400, 3), np.uint8))
>>> img.size, img.mode
((400, 300), 'RGB')
>>> square, box = fit_square(img, size=256)
>>> square.size, box
((256, 256), (0, -50, 400, 350))
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from . import _formats, _png
from ._png import MAX_UPLOAD_BYTES

__all__ = [
    "MAX_UPLOAD_BYTES",
    "animated_thumbnail",
    "checkerboard",
    "contact_sheet",
    "encode_png",
    "fit_square",
    "has_alpha",
    "image_hash",
    "is_animated",
    "on_checkerboard",
    "svg_size",
    "thumbnail",
    "to_array",
    "to_pil",
    "unfit_square",
    "vector_placeholder",
]

logger = logging.getLogger("dalle_widgets")

_ACCEPTED = "a path, bytes, a file object, a PIL image or a numpy array (H, W[, 3|4])"
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_MAX_DECODE_PIXELS = 8192 * 8192


def _describe_value(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    text = repr(x)
    return text if len(text) <= 60 else f"a {type(x).__name__}"


def has_alpha(image: Image.Image) -> bool:
    """Whether a PIL image carries an alpha channel (or palette transparency).

    >>> has_alpha(Image.new("RGBA", (2, 2))), has_alpha(Image.new("RGB", (2, 2)))
    (True, False)
    """
    return image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)


def _array_to_pil(arr: np.ndarray, name: str) -> Image.Image:
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ValueError(
            f"{name} must be shaped (H, W), (H, W, 3) or (H, W, 4); got shape {arr.shape}. "
            "Pass one image, grey or RGB or RGBA, with channels last."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}): pass an image at least 1x1 px.")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite values: replace them (np.nan_to_num) first.")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"{name} is a float array with values in [{lo:g}, {hi:g}]; float images must lie in [0, 1]. "
                "Divide by 255 (or pass a uint8 array)."
            )
        arr = np.round(arr * 255.0).astype(np.uint8)
    elif arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.integer) and arr.size and 0 <= arr.min() and arr.max() <= 255:
            arr = arr.astype(np.uint8)
        else:
            raise ValueError(
                f"{name} has dtype {arr.dtype}; pass uint8 values 0-255 or floats in [0, 1] "
                "(e.g. arr.astype(np.uint8))."
            )
    mode = {2: "L", 3: "RGB", 4: "RGBA"}[arr.shape[2] if arr.ndim == 3 else 2]
    return Image.fromarray(np.ascontiguousarray(arr), mode)


def _open(data: Any, name: str, origin: str) -> Image.Image:
    try:
        with Image.open(data) as opened:
            if opened.width * opened.height > _MAX_DECODE_PIXELS:
                raise ValueError(
                    f"{name} ({origin}) is {opened.width}x{opened.height} px, over the "
                    f"{_MAX_DECODE_PIXELS} px limit: downscale it first."
                )
            opened.load()
            if opened.mode == "P":
                return opened.convert("RGBA" if has_alpha(opened) else "RGB")
            return opened.copy()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as exc:
        if _is_svg(data):
            raise ValueError(
                f"{name} ({origin}) is an SVG (vector) image: it has no pixels to work on here. It shows "
                "in the browser as it is; to edit, vary or pin it, rasterise it first (e.g. with cairosvg) "
                "and pass the PNG."
            ) from None
        raise ValueError(
            f"{name} ({origin}) could not be decoded as an image ({exc.__class__.__name__}: {exc}); "
            "pass a PNG, JPEG or WebP file."
        ) from None


def _is_svg(data: Any) -> bool:
    """Whether ``data`` (a path, or a file object: rewound) holds an SVG document."""
    try:
        if isinstance(data, (str, os.PathLike)):
            with open(data, "rb") as f:
                return _formats.sniff(f.read(4096)) == "svg"
        data.seek(0)
        return _formats.sniff(data.read(4096)) == "svg"
    except (AttributeError, OSError, ValueError):
        return False


def _coerce(x: Any, name: str) -> Image.Image:
    if isinstance(x, Image.Image):
        x.load()
        return x
    if isinstance(x, np.ndarray):
        return _array_to_pil(x, name)
    if isinstance(x, (str, os.PathLike)):
        path = Path(x).expanduser()
        if not path.is_file():
            raise ValueError(f"{name}: no file at {str(path)!r}; pass the path of an existing image file.")
        return _open(path, name, f"file {str(path)!r}")
    if isinstance(x, (bytes, bytearray, memoryview)):
        if len(x) == 0:
            raise ValueError(f"{name} is empty bytes; pass the encoded image (e.g. PNG file contents).")
        return _open(io.BytesIO(bytes(x)), name, f"{len(x)} bytes")
    if hasattr(x, "read"):
        return _open(x, name, "file object")
    inner = getattr(x, "image", None)
    if isinstance(inner, Image.Image):
        return _coerce(inner, name)
    raise ValueError(f"{name} must be {_ACCEPTED}; got {_describe_value(x)}.")


def to_pil(x: Any, mode: str | None = None, *, name: str = "image") -> Image.Image:
    """Turn any accepted image input into a loaded PIL image.

    Parameters
    ----------
    x : path, bytes, file object, PIL image, numpy array or GeneratedImage
        The image. Float arrays must lie in [0, 1]; NaN is refused.
    mode : str, optional
        Pillow mode to convert to. By default the result is ``"RGBA"`` when the
        input has transparency (alpha channel or palette transparency) and
        ``"RGB"`` otherwise, so callers only ever see those two.
    name : str
        The argument name used in error messages (``"mask"``, ``"image"``...).

    Returns
    -------
    PIL.Image.Image
        A fully loaded image (no open file handle). A PIL input that needs no
        conversion is returned as is, not copied.

    Raises
    ------
    ValueError
        For an unsupported type, a missing file, undecodable bytes, a wrong
        array shape or dtype, NaN, or float values outside [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> to_pil(np.full((2, 3), 0.5)).mode
    'RGB'
    >>> to_pil(np.zeros((2, 3, 4), np.uint8)).size
    (3, 2)
    >>> to_pil("missing.png")
    Traceback (most recent call last):
    ...
    ValueError: image: no file at 'missing.png'; pass the path of an existing image file.
    """
    img = _coerce(x, name)
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        img = _high_depth_to_8bit(img, name)
    target = mode or ("RGBA" if has_alpha(img) else "RGB")
    if img.mode != target:
        img = img.convert(target)
    return img


def _high_depth_to_8bit(img: Image.Image, name: str) -> Image.Image:
    """16-bit and 32-bit grey images scaled to 8 bits (Pillow's own conversion clips them)."""
    arr = np.asarray(img)
    if img.mode == "F":
        return _array_to_pil(arr.astype(np.float64), name)
    if img.mode.startswith("I;16") or int(arr.max(initial=0)) > 255:
        if int(arr.min(initial=0)) < 0 or int(arr.max(initial=0)) > 65535:
            raise ValueError(
                f"{name} is a 32-bit integer image with values outside 0-65535; convert it to 8 bits first."
            )
        return Image.fromarray((arr.astype(np.uint32) >> 8).astype(np.uint8), "L")
    return Image.fromarray(arr.astype(np.uint8), "L")


def to_array(x: Any, mode: str | None = None, *, name: str = "image") -> np.ndarray:
    """Turn any accepted image input into a ``uint8`` array ``(H, W, 3)`` or ``(H, W, 4)``.

    Same inputs and mode rule as :func:`to_pil`; the result is a new, writable array.

    Examples
    --------
    >>> import numpy as np
    >>> a = to_array(np.ones((4, 5)))
    >>> a.shape, a.dtype, int(a.max())
    ((4, 5, 3), dtype('uint8'), 255)
    >>> to_array(np.zeros((4, 5, 2)))
    Traceback (most recent call last):
    ...
    ValueError: image must be shaped (H, W), (H, W, 3) or (H, W, 4); got shape (4, 5, 2). Pass one image, \
grey or RGB or RGBA, with channels last.
    """
    return np.array(to_pil(x, mode, name=name))


def _check_int(value: Any, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def fit_square(
    image: Any,
    size: int | None = None,
    mode: str = "pad",
    *,
    fill: tuple[int, ...] | None = None,
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """Make an image square (the Images API only takes square inputs).

    Parameters
    ----------
    image : any accepted image input
    size : int, optional
        Side of the result in px. Default: the longer side for ``"pad"`` and
        ``"resize"``, the shorter side for ``"crop"`` (no resampling).
    mode : {"pad", "crop", "resize"}
        ``"pad"`` centres the image on a square canvas; ``"crop"`` keeps the
        centred square; ``"resize"`` stretches (changes the aspect ratio).
    fill : tuple, optional
        Colour of the padding. Default: fully transparent (the result is RGBA),
        which is exactly what an edit reads as "generate here".

    Returns
    -------
    square : PIL.Image.Image
        The ``size`` x ``size`` image.
    box : tuple of int
        The box ``(x0, y0, x1, y1)`` **in the original image's pixel
        coordinates** that the square covers. It extends past the image for
        ``"pad"`` (negative ``x0`` or ``y0``), lies inside it for ``"crop"``
        and equals ``(0, 0, W, H)`` for ``"resize"``. Use :func:`unfit_square`
        to map a square result back onto the original's frame.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((100, 200, 3), np.uint8)
    >>> sq, box = fit_square(img)
    >>> sq.size, sq.mode, box
    ((200, 200), 'RGBA', (0, -50, 200, 150))
    >>> fit_square(img, mode="crop")[1]
    (50, 0, 150, 100)
    >>> fit_square(img, 64, mode="resize")[0].size
    (64, 64)
    """
    img = to_pil(image)
    if mode not in ("pad", "crop", "resize"):
        raise ValueError(f"mode must be 'pad', 'crop' or 'resize'; got {mode!r}.")
    if size is not None:
        size = _check_int(size, "size")
    w, h = img.size
    if mode == "resize":
        box = (0, 0, w, h)
        side = size or max(w, h)
        out = img if (w, h) == (side, side) else img.resize((side, side), Image.Resampling.LANCZOS)
        return out, box
    if mode == "crop":
        s = min(w, h)
        x0, y0 = (w - s) // 2, (h - s) // 2
        box = (x0, y0, x0 + s, y0 + s)
        out = img.crop(box)
    else:
        s = max(w, h)
        x0, y0 = (w - s) // 2, (h - s) // 2
        box = (x0, y0, x0 + s, y0 + s)
        if fill is None:
            out = Image.new("RGBA", (s, s), (0, 0, 0, 0))
            out.paste(img.convert("RGBA"), (-x0, -y0))
        else:
            out = Image.new(img.mode, (s, s), tuple(fill))
            out.paste(img, (-x0, -y0))
    if size is not None and size != s:
        out = out.resize((size, size), Image.Resampling.LANCZOS)
    return out, box


def unfit_square(square: Any, box: Sequence[int], original_size: tuple[int, int]) -> Image.Image:
    """Map a square image (e.g. a generated result) back onto the original's frame.

    The inverse of :func:`fit_square`: scales ``square`` to the box's size and
    cuts out the ``original_size`` (``(width, height)``) window.

    Examples
    --------
    >>> import numpy as np
    >>> img = to_pil(np.random.default_rng(0).integers(0, 255, (60, 90, 3), dtype=np.uint8))
    >>> sq, box = fit_square(img)
    >>> back = unfit_square(sq, box, img.size)
    >>> back.size, bool((to_array(back, "RGB") == to_array(img)).all())
    ((90, 60), True)
    """
    sq = to_pil(square, name="square")
    x0, y0, x1, y1 = (int(v) for v in box)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box must have x1 > x0 and y1 > y0; got {tuple(box)}.")
    w, h = (_check_int(v, "original_size") for v in original_size)
    if sq.size != (x1 - x0, y1 - y0):
        sq = sq.resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS)
    return sq.crop((-x0, -y0, -x0 + w, -y0 + h))


def encode_png(
    image: Any,
    max_bytes: int | None = MAX_UPLOAD_BYTES,
    *,
    levels: Sequence[int] = (1, 6, 9),
) -> bytes:
    """Encode an image as PNG, under ``max_bytes`` if at all possible without shrinking it.

    Tries the zlib ``levels`` in order (fast first) and returns the first
    encoding that fits. PNG bytes that already fit are returned unchanged. If
    even the strongest level is too big it raises, saying by how much; it never
    downsizes or alters the user's pixels behind their back.

    Parameters
    ----------
    image : any accepted image input
    max_bytes : int or None
        Strict upper bound on the result's length (the API needs < 4 MB).
        None disables the check (one encode at the first level).
    levels : sequence of int
        zlib compression levels to try, 0-9.

    Returns
    -------
    bytes
        A PNG file.

    Raises
    ------
    ValueError
        When no level gets under ``max_bytes``.

    Examples
    --------
    >>> import numpy as np
    >>> data = encode_png(np.zeros((8, 8, 4), np.uint8))
    >>> data[:8] == b"\\x89PNG\\r\\n\\x1a\\n", len(data) < 200
    (True, True)
    >>> noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> encode_png(noise, max_bytes=1000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: image is 64x64 px and its PNG is at least 12,... bytes, 11,... over the 1,000 byte limit. \
Downsize it first (e.g. fit_square(image, size=512)) or simplify it; it was not shrunk automatically.
    """
    if max_bytes is not None:
        max_bytes = _check_int(max_bytes, "max_bytes")
    if not levels:
        raise ValueError("levels must name at least one zlib level (0-9).")
    if isinstance(image, (bytes, bytearray, memoryview)) and _png.is_png(image):
        if max_bytes is None or len(image) < max_bytes:
            to_pil(image)  # validate that it decodes
            return bytes(image)
    img = to_pil(image)
    smallest = None
    for level in levels:
        if not 0 <= int(level) <= 9:
            raise ValueError(f"levels must be zlib levels 0-9; got {level!r}.")
        data = _png.encode(img, level=int(level), optimize=int(level) >= 9)
        if max_bytes is None or len(data) < max_bytes:
            return data
        smallest = len(data) if smallest is None else min(smallest, len(data))
        logger.debug("encode_png: level %d gives %d bytes (limit %d)", level, len(data), max_bytes)
    assert smallest is not None and max_bytes is not None
    raise ValueError(
        f"image is {img.width}x{img.height} px and its PNG is at least {smallest:,} bytes, "
        f"{smallest - max_bytes + 1:,} over the {max_bytes:,} byte limit. Downsize it first "
        "(e.g. fit_square(image, size=512)) or simplify it; it was not shrunk automatically."
    )


def image_hash(image: Image.Image) -> str:
    """A short content hash of an image's pixels (mode, size and raw bytes).

    Used for lineage: a variation records the hash of its parent, which equals the
    ``image_hash`` the store recorded for that parent when it was received.

    >>> image_hash(Image.new("RGB", (2, 2))) == image_hash(Image.new("RGB", (2, 2)))
    True
    """
    digest = hashlib.sha256()
    digest.update(f"{image.mode}:{image.size[0]}x{image.size[1]}:".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()[:16]


def thumbnail(image: Any, px: int) -> Image.Image:
    """A copy whose longer side is at most ``px``, aspect ratio kept, never upscaled.

    Examples
    --------
    >>> import numpy as np
    >>> thumbnail(np.zeros((100, 300, 3), np.uint8), 60).size
    (60, 20)
    >>> thumbnail(np.zeros((10, 10, 3), np.uint8), 60).size
    (10, 10)
    """
    px = _check_int(px, "px")
    img = to_pil(image).copy()
    img.thumbnail((px, px), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return img


def checkerboard(shape: tuple[int, int], cell: int = 16, colors: tuple[int, int] = (204, 255)) -> np.ndarray:
    """A grey/white checkerboard ``uint8 (H, W, 3)``: the usual backdrop for transparency.

    Examples
    --------
    >>> cb = checkerboard((4, 6), cell=2)
    >>> cb.shape, cb[0, 0, 0], cb[0, 2, 0], cb[2, 2, 0]
    ((4, 6, 3), np.uint8(204), np.uint8(255), np.uint8(204))
    """
    if len(tuple(shape)) != 2:
        raise ValueError(f"shape must be (H, W); got {tuple(shape)!r}.")
    h, w = (_check_int(v, "shape") for v in shape)
    cell = _check_int(cell, "cell")
    yy = (np.arange(h) // cell)[:, None]
    xx = (np.arange(w) // cell)[None, :]
    board = np.where((yy + xx) % 2 == 0, np.uint8(colors[0]), np.uint8(colors[1]))
    return np.repeat(board[:, :, None], 3, axis=2)


def on_checkerboard(image: Any, cell: int | None = None) -> Image.Image:
    """An RGB picture of ``image`` for display: transparent parts shown over a checkerboard.

    Opaque images come back as RGB unchanged. ``cell`` defaults to 1/16 of the
    shorter side (at least 4 px).

    >>> import numpy as np
    >>> rgba = np.zeros((32, 32, 4), np.uint8)
    >>> sorted(set(np.asarray(on_checkerboard(rgba, cell=8))[..., 0].ravel().tolist()))
    [204, 255]
    """
    img = to_pil(image)
    if not has_alpha(img):
        return img.convert("RGB")
    rgba = img.convert("RGBA")
    cell = cell if cell is not None else max(4, min(rgba.size) // 16)
    back = Image.fromarray(checkerboard((rgba.height, rgba.width), cell=cell), "RGB")
    back.paste(rgba, (0, 0), rgba)
    return back


#: Size in pixels of the captions under a contact sheet's images.
CAPTION_PX = 13


def caption_font(size: int = CAPTION_PX) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The font captions are drawn in: Noto Sans (Latin, Greek, Cyrillic, Vietnamese; OFL-1.1).

    It ships with the package's ``fontpkg-noto-sans`` dependency, so a caption such as
    "Ελιά · Берёза · Phở" shows its letters instead of empty boxes. Without it (a broken
    install) Pillow's default font is used and a warning says why.
    """
    try:
        import fontpkg_noto_sans

        return ImageFont.truetype(str(fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf"), size)
    except (ImportError, OSError) as exc:
        logger.warning("caption font Noto Sans not found (%s): captions use Pillow's default font", exc)
        return ImageFont.load_default(size)


def contact_sheet(
    images: Sequence[Any],
    cols: int | None = None,
    captions: Sequence[str] | None = None,
    *,
    cell_px: int = 256,
    gap: int = 8,
    background: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """Lay images out on one RGB sheet, in rows of ``cols``, with optional captions.

    Each image is scaled to fit a ``cell_px`` square (never upscaled) and
    centred in its cell; transparency is shown over a checkerboard.

    Parameters
    ----------
    images : sequence of accepted image inputs
    cols : int, optional
        Images per row; default ``ceil(sqrt(len(images)))``.
    captions : sequence of str, optional
        One caption per image, drawn under it (cut to fit the cell).

    Examples
    --------
    >>> import numpy as np
    >>> tiles = [np.full((32, 32, 3), v, np.uint8) for v in (0, 80, 160)]
    >>> contact_sheet(tiles, cell_px=32, gap=4).size
    (76, 76)
    >>> contact_sheet(tiles, cols=3, cell_px=32, gap=4, captions=["a", "b", "c"]).size[0]
    112
    """
    items = list(images)
    if not items:
        raise ValueError("images is empty: pass at least one image.")
    if cols is None:
        cols = math.ceil(math.sqrt(len(items)))
    cols = _check_int(cols, "cols")
    cols = min(cols, len(items))
    cell_px = _check_int(cell_px, "cell_px")
    gap = _check_int(gap, "gap", minimum=0)
    if captions is not None:
        captions = [str(c) for c in captions]
        if len(captions) != len(items):
            raise ValueError(f"captions has {len(captions)} entries but there are {len(items)} images.")
    thumbs = [
        on_checkerboard(thumbnail(to_pil(x, name=f"images[{i}]"), cell_px)) for i, x in enumerate(items)
    ]
    font = caption_font()
    caption_h = 0
    if captions is not None:
        caption_h = max(12, int(font.getbbox("Ag")[3]) + 6)
    rows = math.ceil(len(items) / cols)
    width = cols * cell_px + (cols + 1) * gap
    height = rows * (cell_px + caption_h) + (rows + 1) * gap
    sheet = Image.new("RGB", (width, height), tuple(background))
    draw = ImageDraw.Draw(sheet)
    for i, th in enumerate(thumbs):
        r, c = divmod(i, cols)
        x0 = gap + c * (cell_px + gap)
        y0 = gap + r * (cell_px + caption_h + gap)
        sheet.paste(th, (x0 + (cell_px - th.width) // 2, y0 + (cell_px - th.height) // 2))
        if captions is not None:
            text = captions[i]
            while text and draw.textlength(text, font=font) > cell_px:
                text = text[:-2] + "…" if len(text) > 1 else ""
            draw.text((x0, y0 + cell_px + 3), text, fill=(40, 40, 40), font=font)
    return sheet


# ----------------------------------------------------------------------------- other formats
_SVG_LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(px)?\s*$")
_SVG_ROOT = re.compile(rb"<svg\b[^>]*>", re.IGNORECASE | re.DOTALL)


def svg_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` an SVG document declares (its ``width``/``height`` in px, else its
    ``viewBox``), or None when it declares neither (or the bytes are no SVG).

    >>> svg_size(b'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"></svg>')
    (640, 480)
    >>> svg_size(b"<svg viewBox='0 0 1024 1536'><rect/></svg>"), svg_size(b"<svg width='50%'/>")
    ((1024, 1536), None)
    """
    root = _SVG_ROOT.search(bytes(data[:65536]))
    if root is None:
        return None
    tag = root.group(0).decode("utf-8", "replace")

    def attr(key: str) -> str | None:
        m = re.search(rf"\s{key}\s*=\s*([\"'])(.*?)\1", tag)
        return m.group(2) if m else None

    w, h = attr("width"), attr("height")
    mw, mh = (_SVG_LENGTH.match(w) if w else None), (_SVG_LENGTH.match(h) if h else None)
    if mw and mh and float(mw.group(1)) >= 1 and float(mh.group(1)) >= 1:
        return round(float(mw.group(1))), round(float(mh.group(1)))
    box = attr("viewBox")
    if box:
        parts = re.split(r"[\s,]+", box.strip())
        try:
            vw, vh = float(parts[2]), float(parts[3])
        except (IndexError, ValueError):
            return None
        if vw >= 1 and vh >= 1:
            return round(vw), round(vh)
    return None


def vector_placeholder(size: tuple[int, int], px: int, label: str = "SVG") -> Image.Image:
    """A still stand-in for an image that has no pixels here (an SVG), for contact sheets and
    saved snapshots: a light card of the image's aspect ratio, at most ``px`` a side, that
    says what it is (``label``) and its size. The browser shows the real SVG.

    >>> vector_placeholder((2048, 1024), 128).size
    (128, 64)
    """
    px = _check_int(px, "px")
    w, h = (max(1, int(v)) for v in size)
    scale = min(1.0, px / max(w, h))
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    card = Image.new("RGB", (tw, th), (236, 238, 242))
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, tw - 1, th - 1), outline=(150, 156, 168), width=max(1, min(tw, th) // 64))
    draw.line((0, 0, tw - 1, th - 1), fill=(205, 209, 216))
    draw.line((0, th - 1, tw - 1, 0), fill=(205, 209, 216))
    font = caption_font(max(9, min(tw, th) // 8))
    text = f"{label}\n{w}x{h}"
    box = draw.multiline_textbbox((0, 0), text, font=font, align="center")
    x = (tw - (box[2] - box[0])) // 2
    y = (th - (box[3] - box[1])) // 2
    draw.multiline_text((x, y), text, fill=(40, 44, 52), font=font, align="center")
    return card


def is_animated(data: bytes) -> bool:
    """Whether ``data`` is an image file with more than one frame (an animated GIF or WebP).

    >>> buf = io.BytesIO()
    >>> red = Image.new("RGB", (4, 4), "red")
    >>> Image.new("RGB", (4, 4)).save(buf, "GIF", save_all=True, append_images=[red])
    >>> is_animated(buf.getvalue()), is_animated(encode_png(Image.new("RGB", (4, 4))))
    (True, False)
    """
    try:
        with Image.open(io.BytesIO(bytes(data))) as im:
            return bool(getattr(im, "is_animated", False)) and getattr(im, "n_frames", 1) > 1
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        return False


def animated_thumbnail(data: bytes, px: int, *, max_bytes: int = 400_000) -> bytes | None:
    """An animated GIF of ``data`` (an animated GIF or WebP) whose longer side is at most ``px``:
    every frame, its timing and looping kept, transparent parts over a checkerboard.

    Tried at ``px``, then smaller, until the file is under ``max_bytes``; None when even a
    small one is not (or ``data`` is not animated): show a still thumbnail then.

    >>> frames = [Image.new("RGB", (64, 32), c) for c in ("red", "blue", "green")]
    >>> buf = io.BytesIO()
    >>> frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=120, loop=0)
    >>> thumb = Image.open(io.BytesIO(animated_thumbnail(buf.getvalue(), 16)))
    >>> thumb.size, thumb.n_frames, thumb.info["duration"]
    ((16, 8), 3, 120)
    """
    px = _check_int(px, "px")
    try:
        with Image.open(io.BytesIO(bytes(data))) as im:
            if not getattr(im, "is_animated", False):
                return None
            frames, durations = [], []
            for k in range(im.n_frames):
                im.seek(k)
                frames.append(im.convert("RGBA"))
                durations.append(int(im.info.get("duration") or 100))
            loop = im.info.get("loop", 0)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        return None
    side = px
    while side >= min(48, px):
        stills = [on_checkerboard(thumbnail(f, side)) for f in frames]
        buf = io.BytesIO()
        stills[0].save(
            buf, "GIF", save_all=True, append_images=stills[1:], duration=durations, loop=loop, optimize=True
        )
        if buf.tell() <= max_bytes:
            return buf.getvalue()
        side = side * 3 // 4
    return None
