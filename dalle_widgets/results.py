"""The value types every layer passes around: :class:`ImageResult`, a sequence of :class:`GeneratedImage`.

The client returns them, the store reads them back from disk, the outpaint driver and
the batches collect them, the widgets show them. They sit at the bottom of the package
(they import only :mod:`~dalle_widgets.imaging` and the PNG helpers), so any layer can
use them without importing the client or the widgets.

A :class:`GeneratedImage` keeps the PNG bytes the store wrote and decodes them lazily:
a result of ten 1024 px images costs nothing until someone looks at the pixels.
Both classes show themselves as small thumbnails (``_repr_png_`` and ``_repr_html_``),
never as full-size base64, so saved notebooks stay small. In a notebook the widgets
layer shows an :class:`ImageResult` as a live Gallery instead.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np
from PIL import Image

from . import _formats, _png, imaging

__all__ = ["GeneratedImage", "ImageEvent", "ImageResult"]

THUMB_PX = 128
#: An SVG larger than this is not inlined in HTML (its labelled stand-in is shown instead).
MAX_INLINE_SVG_BYTES = 300_000
#: CSS that draws a checkerboard behind an ``<img>``: transparent parts of an SVG show over it.
CHECKER_CSS = (
    "background-color:#fff;background-image:linear-gradient(45deg,#ccc 25%,transparent 25%),"
    "linear-gradient(-45deg,#ccc 25%,transparent 25%),linear-gradient(45deg,transparent 75%,#ccc 75%),"
    "linear-gradient(-45deg,transparent 75%,#ccc 75%);background-size:16px 16px;"
    "background-position:0 0,0 8px,8px -8px,-8px 0"
)


class GeneratedImage:
    """One image an endpoint returned, as stored on disk, with its provenance.

    Attributes
    ----------
    image : PIL.Image.Image
        The pixels, RGB or RGBA as received (decoded on first access).
    path : Path or None
        Where the store wrote the PNG.
    info : dict
        Provenance: operation, model, prompt, revised_prompt, size, n_index, parent
        hashes, mask hash, endpoint host (never the key), request id, created time, seed.
    png : bytes
        The PNG file content, provenance chunk included.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("RGB", (4, 2), "red").save(buf, "PNG")
    >>> im = GeneratedImage(buf.getvalue(), info={"prompt": "red"})
    >>> im.size, im.to_numpy().shape, im.prompt
    ((4, 2), (2, 4, 3), 'red')
    """

    __slots__ = ("_hash", "_image", "info", "path", "png")

    def __init__(self, png: bytes, *, info: dict[str, Any] | None = None, path: Path | None = None) -> None:
        self.png = png
        self.info: dict[str, Any] = dict(info or {})
        self.path = Path(path) if path is not None else None
        self._image: Image.Image | None = None
        self._hash: str | None = None

    @property
    def image(self) -> Image.Image:
        """The pixels (an animated GIF's first frame). An SVG has none: ValueError says so."""
        if self._image is None:
            # RGB or RGBA, like every image the package hands out (palette and grey PNGs converted)
            self._image = imaging.to_pil(self.png)
        return self._image

    @property
    def format(self) -> str:
        """The file's format as delivered: ``png``, ``jpeg``, ``webp``, ``gif`` or ``svg``."""
        return _formats.sniff(self.png) or "png"

    @property
    def is_vector(self) -> bool:
        """True for an SVG: shown by the browser as it is, no pixels here."""
        return self.format == "svg"

    @property
    def is_animated(self) -> bool:
        """True for an animated GIF (or WebP): shown animated, ``.image`` is its first frame."""
        return self.format in ("gif", "webp") and imaging.is_animated(self.png)

    @property
    def image_hash(self) -> str:
        """Content hash of the pixels (see :func:`dalle_widgets.imaging.image_hash`); of the file's
        bytes for an SVG, which has no pixels.

        A child's ``info["parent_hashes"]`` holds its parent's ``image_hash``: that is the
        lineage link, and it holds even when the parent was passed on as a numpy array.
        """
        if self._hash is None:
            if self.is_vector:
                self._hash = hashlib.sha256(self.png).hexdigest()[:16]
            else:
                self._hash = imaging.image_hash(self.image)
        return self._hash

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels (an SVG's declared size, else the size it was asked at)."""
        if self.is_vector:
            declared = imaging.svg_size(self.png)
            if declared is not None:
                return declared
            w, _, h = str(self.info.get("size") or "").partition("x")
            return (int(w), int(h)) if w.isdigit() and h.isdigit() else (1024, 1024)
        return self.image.size

    @property
    def prompt(self) -> str | None:
        return self.info.get("prompt")

    def to_numpy(self) -> np.ndarray:
        """The pixels as a uint8 array, shape ``(H, W, 3)`` or ``(H, W, 4)`` (a new array)."""
        return np.array(self.image)

    def save(self, path: str | Path) -> Path:
        """Copy the PNG (with provenance) to ``path`` (atomically); return it."""
        return _png.write_atomic(path, self.png)

    def thumbnail(self, px: int = THUMB_PX) -> Image.Image:
        """A still thumbnail, at most ``px`` a side: an animated image's first frame, a labelled
        stand-in for an SVG (:func:`~dalle_widgets.imaging.vector_placeholder`)."""
        if self.is_vector:
            return imaging.vector_placeholder(self.size, px)
        return imaging.thumbnail(self.image, px)

    def html_thumbnail(self, px: int = THUMB_PX) -> str | None:
        """An ``<img>`` showing an SVG or an animated image as delivered (None for other images).

        The SVG goes in an ``<img>`` (a data URL), never inline, so nothing in it runs; an
        animated image is a reduced animated GIF. Transparent parts show over a checkerboard.
        """
        if self.is_vector:
            data, mime = self.png, "image/svg+xml"
            if len(data) > MAX_INLINE_SVG_BYTES:
                return None
        elif self.is_animated:
            gif = imaging.animated_thumbnail(self.png, px)
            if gif is None:
                return None
            data, mime = gif, "image/gif"
        else:
            return None
        w, h = self.size
        src = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        return (
            f'<img src="{src}" alt="{self.format} image {w}x{h}" '
            f'style="max-width:{px}px;max-height:{px}px;{CHECKER_CSS}"/>'
        )

    def _repr_png_(self) -> bytes:
        return _png.encode(self.thumbnail(256))

    def _repr_html_(self) -> str | None:
        return self.html_thumbnail(256)  # None (the PNG shows) unless SVG or animated

    def __repr__(self) -> str:
        w, h = self.size
        op = self.info.get("operation", "image")
        model = self.info.get("model", "?")
        where = f", path={str(self.path)!r}" if self.path else ""
        kind = "SVG" if self.is_vector else self.image.mode
        return f"<GeneratedImage {w}x{h} {kind} {op} by {model}{where}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GeneratedImage):
            return NotImplemented
        return self.png == other.png

    def __hash__(self) -> int:
        # bytes cache their hash, so this is cheap after the first call; usable in sets and dict keys
        return hash(self.png)


class ImageResult(Sequence[GeneratedImage]):
    """The images one request produced, in order, plus what the request was.

    Attributes
    ----------
    images : list of GeneratedImage
    prompt : str or None
    operation : str
        ``generate``, ``edit`` or ``vary``.
    model, size : str
    cost_usd : float or None
        What this call cost: n x the model's price for ``size``; 0.0 for a cache replay or
        the offline engine; None when the price is unknown.
    cached : bool
        True when the images were replayed from the request cache (nothing was sent).
    request_id : str or None
        The endpoint's ``x-request-id``.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("RGB", (4, 4), "blue").save(buf, "PNG")
    >>> result = ImageResult([GeneratedImage(buf.getvalue())], operation="generate", model="dall-e-2",
    ...                      size="256x256", cost_usd=0.016)
    >>> result
    <ImageResult 1 x 256x256 generate by dall-e-2, cost $0.016>
    >>> len(result), result[0].size
    (1, (4, 4))
    """

    def __init__(
        self,
        images: Sequence[GeneratedImage],
        *,
        operation: str,
        model: str,
        prompt: str | None = None,
        size: str | None = None,
        cost_usd: float | None = None,
        cached: bool = False,
        request_id: str | None = None,
    ) -> None:
        self.images = list(images)
        self.operation = operation
        self.model = model
        self.prompt = prompt
        self.size = size
        self.cost_usd = cost_usd
        self.cached = cached
        self.request_id = request_id

    @overload
    def __getitem__(self, index: int) -> GeneratedImage: ...
    @overload
    def __getitem__(self, index: slice) -> list[GeneratedImage]: ...
    def __getitem__(self, index: int | slice) -> GeneratedImage | list[GeneratedImage]:
        return self.images[index]

    def __len__(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator[GeneratedImage]:
        return iter(self.images)

    @property
    def paths(self) -> list[Path | None]:
        return [im.path for im in self.images]

    def __repr__(self) -> str:
        cost = "unknown" if self.cost_usd is None else f"${self.cost_usd:.3f}"
        extra = ", cached" if self.cached else ""
        return (
            f"<ImageResult {len(self)} x {self.size or '?'} {self.operation} by {self.model}, "
            f"cost {cost}{extra}>"
        )

    def contact_sheet(self, px: int = THUMB_PX) -> Image.Image:
        """The thumbnails side by side (at most 5 per row) as one PIL image (an SVG as a labelled
        stand-in, an animated image as its first frame)."""
        return imaging.contact_sheet(
            [im.thumbnail(px) for im in self.images], cols=min(5, len(self.images)), cell_px=px, gap=4
        )

    def _repr_png_(self) -> bytes | None:
        if not self.images:
            return None
        return _png.encode(self.contact_sheet())

    def _repr_html_(self) -> str:
        tiles = []
        for i, im in enumerate(self.images):
            w, h = im.size
            img = im.html_thumbnail(THUMB_PX)
            if img is None:
                data = base64.b64encode(_png.encode(im.thumbnail(THUMB_PX))).decode("ascii")
                img = (
                    f'<img src="data:image/png;base64,{data}" alt="image {i}" '
                    f'style="max-width:{THUMB_PX}px;max-height:{THUMB_PX}px"/>'
                )
            tiles.append(
                f'<figure style="margin:4px;display:inline-block;text-align:center">{img}'
                f'<figcaption style="font-size:11px">#{i} {w}x{h}</figcaption></figure>'
            )
        title = html.escape(repr(self))
        return f'<div class="dalle-widgets-result" title="{title}">{"".join(tiles)}</div>'


class ImageEvent:
    """One event of a streamed request: a preview on the way, or a finished image.

    Attributes
    ----------
    type : str
        ``"partial"`` (a preview, never stored) or ``"completed"`` (the final image).
    image : PIL.Image.Image
        The preview, or the final image's pixels (decoded on first access).
    data : bytes or None
        A preview's file bytes as received (PNG, JPEG or WebP), for callers that forward them.
    index : int
        Which image of the request (0 to n - 1) the event belongs to.
    partial_index : int or None
        For a preview, its number (0-based) among the previews of this image.
    result : GeneratedImage or None
        For a completed event, the image as stored, with its provenance.
    usage : dict or None
        For a completed event, the ``usage`` block the endpoint sent (tokens).

    Examples
    --------
    >>> from PIL import Image
    >>> event = ImageEvent("partial", Image.new("RGB", (4, 4)), index=0, partial_index=1)
    >>> event
    <ImageEvent partial 4x4 image 0 preview 1>
    """

    __slots__ = ("_image", "data", "index", "partial_index", "result", "type", "usage")

    def __init__(
        self,
        type: str,  # noqa: A002 - the wire's own name
        image: Image.Image | None = None,
        *,
        index: int = 0,
        partial_index: int | None = None,
        result: GeneratedImage | None = None,
        usage: dict[str, Any] | None = None,
        data: bytes | None = None,
    ) -> None:
        if type not in ("partial", "completed"):
            raise ValueError(f"type={type!r}: an image event is 'partial' or 'completed'")
        if image is None and result is None and data is None:
            raise ValueError("an image event needs an image, its bytes or a result")
        self.type = type
        self._image = image
        self.data = data
        self.index = index
        self.partial_index = partial_index
        self.result = result
        self.usage = usage

    @property
    def image(self) -> Image.Image:
        if self._image is None:
            if self.result is not None:
                self._image = self.result.image
            else:
                try:
                    self._image = imaging.to_pil(self.data, name="preview")
                except ValueError as exc:
                    raise ValueError(f"preview {self.partial_index} of image {self.index}: {exc}") from None
        return self._image

    def __repr__(self) -> str:
        w, h = self.image.size
        what = f"preview {self.partial_index}" if self.type == "partial" else "final"
        if self.type == "partial" and self.partial_index is None:
            what = "preview"
        return f"<ImageEvent {self.type} {w}x{h} image {self.index} {what}>"
