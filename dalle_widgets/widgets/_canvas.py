"""Display <-> image coordinates and small canvas drawing helpers for the widgets.

The editors draw on an ipycanvas ``MultiCanvas`` sized to the *display* (for
example 512 px for a 1024 px image), so the browser receives a quarter of the
pixels; every mouse position is mapped back to full-resolution image
coordinates here, at the edge, and masks are rasterised at full resolution by
:mod:`dalle_widgets.masks`. Nothing in this module knows about HTTP or masks'
algorithms: it is geometry and drawing glue.

Coordinates follow the project convention: points ``(x, y)``, boxes
``(x0, y0, x1, y1)`` with ``x1``/``y1`` exclusive, shapes ``(H, W)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["Viewport", "hold", "overlay_rgba", "rgba"]


@dataclass(frozen=True)
class Viewport:
    """How an image of ``shape`` is shown on a canvas of ``display`` pixels.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)`` of the full-resolution image.
    display_px : int
        The longest side on screen, in CSS (= canvas) pixels.

    Examples
    --------
    >>> vp = Viewport((1024, 1024), 512)
    >>> vp.display
    (512, 512)
    >>> vp.to_image(100, 50)
    (200.0, 100.0)
    >>> vp.to_display(200, 100)
    (100.0, 50.0)
    """

    shape: tuple[int, int]
    display_px: int

    def __post_init__(self) -> None:
        h, w = self.shape
        if h <= 0 or w <= 0:
            raise ValueError(f"image shape must be positive, got {self.shape}")
        if self.display_px <= 0:
            raise ValueError(f"display_px must be a positive number of pixels, got {self.display_px}")

    @property
    def scale(self) -> float:
        """Display pixels per image pixel."""
        return self.display_px / max(self.shape)

    @property
    def display(self) -> tuple[int, int]:
        """``(H, W)`` of the canvas: the image shape times :attr:`scale`, at least 1 px each."""
        h, w = self.shape
        return max(1, round(h * self.scale)), max(1, round(w * self.scale))

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        """Map a canvas position to image coordinates, clipped to the image."""
        h, w = self.shape
        dh, dw = self.display
        ix = float(x) * w / dw
        iy = float(y) * h / dh
        return min(max(ix, 0.0), float(w)), min(max(iy, 0.0), float(h))

    def to_display(self, x: float, y: float) -> tuple[float, float]:
        """Map image coordinates to a canvas position."""
        h, w = self.shape
        dh, dw = self.display
        return float(x) * dw / w, float(y) * dh / h

    def length_to_display(self, length: float) -> float:
        """Convert a length (brush size, margin) from image to display pixels."""
        return float(length) * self.display[1] / self.shape[1]


def rgba(array: np.ndarray) -> np.ndarray:
    """Return ``array`` as contiguous RGBA uint8 (H, W, 4).

    ipycanvas sends 3-channel arrays as JPEG q75 (blurry mask edges) and truncates
    floats, so every array drawn on a canvas goes through here first.

    Examples
    --------
    >>> rgba(np.zeros((2, 3, 3), np.uint8)).shape
    (2, 3, 4)
    """
    a = np.asarray(array)
    if a.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image array, got dtype {a.dtype}")
    if a.ndim == 2:
        a = np.dstack([a, a, a])
    if a.shape[2] == 3:
        a = np.dstack([a, np.full(a.shape[:2], 255, np.uint8)])
    return np.ascontiguousarray(a)


def overlay_rgba(mask: np.ndarray, color: tuple[int, int, int], alpha: int = 128) -> np.ndarray:
    """A translucent colour layer where ``mask`` is True, transparent elsewhere.

    Examples
    --------
    >>> m = np.array([[True, False]])
    >>> overlay_rgba(m, (255, 0, 0))[..., 3].tolist()
    [[128, 0]]
    """
    m = np.asarray(mask, bool)
    out = np.zeros((*m.shape, 4), np.uint8)
    out[m] = (*color, alpha)
    return out


@contextlib.contextmanager
def hold() -> Iterator[None]:
    """Batch canvas commands into one message, like ``ipycanvas.hold_canvas``, but exception-safe.

    ``hold_canvas`` has no ``try/finally``: a draw error would leave every canvas
    in the process caching forever. This one always flushes and restores, and nests.
    """
    # ipycanvas keeps its batching switch private: hold_canvas is the only public way to set it.
    from ipycanvas.canvas import _CANVAS_MANAGER

    previous = _CANVAS_MANAGER._caching  # noqa: SLF001
    _CANVAS_MANAGER._caching = True  # noqa: SLF001
    try:
        yield
    finally:
        if not previous:
            try:
                _CANVAS_MANAGER.flush()
            finally:
                _CANVAS_MANAGER._caching = False  # noqa: SLF001
