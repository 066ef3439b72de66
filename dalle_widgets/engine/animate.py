"""Animated GIF output (the 2.6 models' ``output_format="gif"``): frames from one picture.

The engine's backends make still images, so an animation is a slow camera move over
one: a push-in toward a point near the centre and back out (ping-pong, so the loop
has no jump), with an ease-in-out. Pure numpy and Pillow.

>>> frames = animate(np.zeros((32, 48, 3), np.uint8), 5, seed=1)
>>> len(frames), frames[0].shape
(5, (32, 48, 3))
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

__all__ = ["ZOOM", "animate", "encode_gif"]

#: How far the camera pushes in at the middle of the loop (1.15 = 15 %).
ZOOM = 1.15


def animate(image: np.ndarray, frames: int, *, seed: int = 0) -> list[np.ndarray]:
    """``frames`` views of ``image`` (uint8 (H, W, 3|4)), each the same size, looping smoothly.

    Frame 0 is the whole picture; the middle frame is zoomed in by :data:`ZOOM`
    toward a point chosen by ``seed``.
    """
    h, w = image.shape[:2]
    rng = np.random.default_rng(seed)
    cx, cy = w * (0.5 + 0.15 * rng.uniform(-1, 1)), h * (0.5 + 0.15 * rng.uniform(-1, 1))
    src = Image.fromarray(np.ascontiguousarray(image))
    out = []
    for i in range(frames):
        t = 1 - abs(1 - 2 * i / frames)  # 0 -> 1 -> 0 over the loop
        zoom = 1 + (ZOOM - 1) * (0.5 - 0.5 * np.cos(np.pi * t))
        bw, bh = w / zoom, h / zoom
        x0 = min(max(cx - bw / 2, 0), w - bw)
        y0 = min(max(cy - bh / 2, 0), h - bh)
        view = src.resize((w, h), Image.Resampling.BICUBIC, box=(x0, y0, x0 + bw, y0 + bh))
        out.append(np.asarray(view))
    return out


def encode_gif(frames: list[np.ndarray], frame_ms: int, *, comment: str = "") -> bytes:
    """An endlessly looping GIF of ``frames`` (uint8 RGB), each shown ``frame_ms`` milliseconds."""
    images = [Image.fromarray(f[:, :, :3]).quantize(256, method=Image.Quantize.MEDIANCUT) for f in frames]
    buf = io.BytesIO()
    images[0].save(
        buf, "GIF", save_all=True, append_images=images[1:], duration=frame_ms, loop=0, comment=comment
    )
    return buf.getvalue()
