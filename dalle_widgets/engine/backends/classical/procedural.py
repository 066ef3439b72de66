"""Procedural text-to-image: a deliberate-looking poster from the prompt's words.

No model, no weights: the prompt picks a palette (colour and mood words), a scene
(sky, sun or moon, stars, mountains, sea, forest, city, dunes, snow) or, when no
scene word is present, an abstract composition; fractal noise gives texture. Same
prompt, size and seed give the same pixels. A caption band at the bottom says the
image comes from the offline engine, so nobody mistakes it for a model's output.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import cast

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ._ops import resize, to_u8

__all__ = ["CAPTION", "caption", "generate", "paint", "palette_for", "stage_count"]

CAPTION = "offline engine"

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (200, 40, 40),
    "crimson": (170, 20, 50),
    "orange": (240, 130, 30),
    "yellow": (245, 210, 60),
    "gold": (215, 170, 50),
    "golden": (215, 170, 50),
    "green": (50, 150, 60),
    "emerald": (20, 140, 90),
    "lime": (150, 210, 60),
    "teal": (20, 130, 130),
    "cyan": (40, 200, 220),
    "turquoise": (60, 200, 190),
    "blue": (40, 80, 200),
    "navy": (20, 30, 90),
    "azure": (60, 140, 230),
    "purple": (120, 50, 160),
    "violet": (140, 80, 200),
    "lavender": (180, 160, 220),
    "magenta": (200, 40, 160),
    "pink": (240, 150, 180),
    "brown": (120, 80, 40),
    "beige": (220, 200, 160),
    "white": (240, 240, 235),
    "black": (20, 20, 25),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "silver": (190, 195, 200),
    "indigo": (60, 40, 130),
    "amber": (230, 150, 20),
    "coral": (240, 120, 100),
}
MOODS: dict[str, list[tuple[int, int, int]]] = {
    "sunset": [(250, 110, 60), (200, 60, 90), (60, 40, 90)],
    "sunrise": [(250, 180, 120), (240, 130, 150), (120, 150, 210)],
    "dawn": [(250, 190, 150), (200, 160, 200), (110, 140, 200)],
    "night": [(10, 15, 40), (30, 40, 90), (200, 210, 240)],
    "forest": [(30, 90, 40), (80, 140, 60), (160, 190, 120)],
    "ocean": [(20, 70, 140), (40, 140, 190), (200, 230, 240)],
    "sea": [(20, 70, 140), (40, 140, 190), (200, 230, 240)],
    "lake": [(40, 100, 150), (90, 160, 190), (210, 230, 235)],
    "desert": [(230, 180, 110), (200, 120, 60), (250, 220, 170)],
    "snow": [(235, 240, 250), (170, 190, 220), (90, 110, 150)],
    "winter": [(230, 235, 245), (150, 170, 200), (70, 90, 130)],
    "fire": [(250, 200, 60), (230, 90, 20), (90, 20, 10)],
    "autumn": [(200, 100, 30), (170, 60, 30), (230, 170, 60)],
    "spring": [(170, 220, 120), (250, 200, 220), (120, 180, 230)],
    "space": [(5, 5, 20), (60, 30, 110), (220, 200, 255)],
    "storm": [(60, 65, 80), (110, 115, 130), (200, 200, 210)],
    "calm": [(170, 200, 220), (220, 230, 230), (120, 160, 190)],
    "dark": [(15, 15, 25), (50, 45, 70), (120, 100, 130)],
    "moody": [(40, 45, 70), (90, 80, 110), (170, 150, 160)],
    "happy": [(250, 210, 80), (250, 140, 120), (120, 200, 230)],
    "watercolor": [(150, 190, 220), (230, 180, 190), (240, 230, 200)],
    "pastel": [(250, 200, 210), (200, 230, 210), (210, 210, 250)],
    "neon": [(250, 40, 180), (40, 240, 250), (20, 10, 40)],
}
SCENES = {
    "sun": {"sun", "sunset", "sunrise", "dawn", "dusk", "sunny", "summer"},
    "moon": {"moon", "night", "midnight", "moonlit", "lunar"},
    "stars": {"star", "stars", "starry", "night", "space", "galaxy", "cosmic", "nebula"},
    "mountains": {
        "mountain",
        "mountains",
        "hills",
        "hill",
        "peak",
        "peaks",
        "alps",
        "valley",
        "landscape",
        "snowy",
        "snow",
    },
    "sea": {"sea", "ocean", "lake", "beach", "water", "river", "waves", "coast", "harbor", "bay"},
    "forest": {"forest", "trees", "tree", "woods", "pine", "jungle", "park"},
    "city": {"city", "skyline", "town", "buildings", "street", "urban", "downtown", "metropolis"},
    "dunes": {"desert", "dunes", "dune", "sand", "sahara"},
}


def _words(prompt: str) -> list[str]:
    return re.findall(r"[a-z]+", prompt.lower())


def _seed_for(prompt: str, seed: int) -> int:
    digest = hashlib.sha256(f"{prompt.strip().lower()}\x00{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def palette_for(prompt: str, rng: np.random.Generator) -> np.ndarray:
    """Up to five RGB colours from the prompt's colour and mood words, padded from ``rng``.

    >>> pal = palette_for("a red sunset", np.random.default_rng(0))
    >>> pal.shape, tuple(int(v) for v in pal[0])
    ((5, 3), (200, 40, 40))
    """
    cols: list[tuple[int, int, int]] = []
    for word in _words(prompt):
        if word in COLOURS:
            cols.append(COLOURS[word])
        if word in MOODS:
            cols.extend(MOODS[word])
    while len(cols) < 5:
        hue = rng.random()
        sat, val = 0.35 + 0.5 * rng.random(), 0.35 + 0.6 * rng.random()
        cols.append(_hsv(hue, sat, val))
    return np.array(cols[:5], np.float32)


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    pixel = (
        Image.new("HSV", (1, 1), (int(h * 255), int(s * 255), int(v * 255))).convert("RGB").getpixel((0, 0))
    )
    rgb = cast("tuple[int, int, int]", pixel)  # an RGB image's pixel is a 3-tuple
    return (int(rgb[0]), int(rgb[1]), int(rgb[2]))


def fbm(shape: tuple[int, int], rng: np.random.Generator, *, octaves: int = 5, base: int = 4) -> np.ndarray:
    """Fractal value noise in [0, 1], shape (H, W): octaves of upsampled random grids."""
    h, w = shape
    total = np.zeros(shape, np.float32)
    amp, norm = 1.0, 0.0
    for o in range(octaves):
        cells = base * 2**o
        grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
        total += amp * resize(grid, (h, w), resample=Image.Resampling.BICUBIC)
        norm += amp
        amp *= 0.5
    total /= norm
    lo, hi = total.min(), total.max()
    return (total - lo) / max(hi - lo, 1e-6)


def _ridge(width: int, rng: np.random.Generator, *, rough: float) -> np.ndarray:
    """A 1-D fractal profile in [0, 1] along x (a mountain ridge or a skyline envelope)."""
    prof = np.zeros(width, np.float32)
    amp = 1.0
    for o in range(6):
        pts = rng.random(3 * 2**o + 2).astype(np.float32)
        prof += amp * np.interp(np.linspace(0, len(pts) - 1, width), np.arange(len(pts)), pts)
        amp *= rough
    prof -= prof.min()
    return prof / max(prof.max(), 1e-6)


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return a + (b - a) * t[..., None]


def _scene(words: set[str]) -> set[str]:
    return {name for name, keys in SCENES.items() if words & keys}


#: The scene layers painted after the sky, in order; each finished group is one stage.
_LAND, _FRONT = ("mountains", "dunes"), ("sea", "city", "forest")

Stage = Callable[[np.ndarray], None]


def stage_count(prompt: str) -> int:
    """How many intermediate stages :func:`paint` shows ``on_stage`` for ``prompt``.

    >>> stage_count("a calm lake under mountains"), stage_count("joy")
    (3, 2)
    """
    scene = _scene(set(_words(prompt)))
    if not scene:
        return 2
    return 1 + any(k in scene for k in _LAND) + any(k in scene for k in _FRONT)


def _paint(prompt: str, size: int, rng: np.random.Generator, on_stage: Stage | None = None) -> np.ndarray:
    words = set(_words(prompt))
    pal = palette_for(prompt, rng)
    scene = _scene(words)
    yy = np.linspace(0, 1, size, dtype=np.float32)[:, None] * np.ones((1, size), np.float32)
    xx = yy.T
    noise = fbm((size, size), rng)
    if not scene:
        return _abstract(pal, noise, size, rng, on_stage)
    night = bool(words & {"night", "midnight", "space", "dark", "galaxy", "starry"})
    top, bottom = (pal[0] * 0.35, pal[1] * 0.8) if night else (pal[2] * 0.6 + 80, pal[0])
    img = _lerp(np.asarray(top), np.asarray(bottom), yy**1.3)
    img += (noise[..., None] - 0.5) * 30
    horizon = 0.62 + 0.08 * (rng.random() - 0.5)
    if "stars" in scene:
        n_stars = int(size * size / 900)
        sy = (rng.random(n_stars) ** 1.5 * horizon * size).astype(int)
        sx = rng.integers(0, size, n_stars)
        bright = 150 + 105 * rng.random(n_stars)
        img[sy, sx] = np.maximum(img[sy, sx], bright[:, None])
    if "sun" in scene or "moon" in scene:
        cx, cy = size * (0.3 + 0.4 * rng.random()), size * horizon * (0.45 + 0.3 * rng.random())
        r = np.hypot(xx * size - cx, yy * size - cy)
        rad = size * (0.05 + 0.04 * rng.random())
        disc_col = np.array(
            [245, 245, 225] if "moon" in scene and "sun" not in scene else [255, 235, 170], np.float32
        )
        glow = np.exp(-np.maximum(r - rad, 0) / (size * 0.12))[..., None]
        img = img * (1 - 0.5 * glow) + disc_col * 0.5 * glow
        img[r < rad] = disc_col
    if on_stage is not None:
        on_stage(img)
    if "mountains" in scene:
        for k, depth in enumerate((0.0, 0.5)):
            ridge = _ridge(size, rng, rough=0.55)
            line = horizon * size - (0.12 + 0.14 * (1 - depth)) * size * ridge - k * 0.03 * size
            rock = np.array([70, 78, 100], np.float32) if night else np.array([95, 105, 120], np.float32)
            col = (0.6 * rock + 0.4 * pal[(3 + k) % 5]) * (0.55 + 0.6 * depth) + 25 * depth
            below = yy * size > line[None, :]
            shade = (0.85 + 0.3 * noise)[..., None]
            snow = words & {"snow", "snowy", "winter", "alps"}
            peak = col * shade
            if snow:
                cap = (yy * size < line[None, :] + 0.05 * size) & below
                peak = np.where(cap[..., None], np.float32(235) * shade, peak)
            img = np.where(below[..., None], peak, img)
    if "dunes" in scene:
        for k in range(3):
            ridge = _ridge(size, rng, rough=0.35)
            line = (horizon + 0.1 * k) * size - 0.08 * size * ridge
            below = yy * size > line[None, :]
            col = pal[(1 + k) % 5] * (0.7 + 0.12 * k)
            img = np.where(below[..., None], col * (0.85 + 0.25 * noise)[..., None], img)
    if on_stage is not None and any(k in scene for k in _LAND):
        on_stage(img)
    if "sea" in scene:
        sea = yy > horizon + 0.02
        waves = 0.5 + 0.5 * np.sin(np.clip(yy - horizon, 0, None) ** 0.6 * 140 + 6 * noise + xx * 3)
        col = _lerp(
            pal[1] * 0.6 + np.array([0, 30, 60], np.float32),
            pal[0] * 0.5 + np.array([0, 20, 50], np.float32),
            np.clip((yy - horizon) * 2.5, 0, 1),
        )
        col = col * (0.85 + 0.2 * waves)[..., None]
        img = np.where(sea[..., None], col, img)
    if "city" in scene:
        img = _city(img, size, horizon, pal, rng, night)
    if "forest" in scene:
        img = _forest(img, size, horizon, pal, rng)
    if on_stage is not None and any(k in scene for k in _FRONT):
        on_stage(img)
    return img


def _city(
    img: np.ndarray, size: int, horizon: float, pal: np.ndarray, rng: np.random.Generator, night: bool
) -> np.ndarray:
    canvas = Image.fromarray(to_u8(img))
    draw = ImageDraw.Draw(canvas)
    base_y = int((horizon + 0.05) * size)
    x = 0
    dark = tuple(int(c) for c in pal[4] * 0.3)
    while x < size:
        bw = int(size * (0.04 + 0.06 * rng.random()))
        bh = int(size * (0.1 + 0.35 * rng.random()))
        draw.rectangle([x, base_y - bh, x + bw, size], fill=dark)
        if night or rng.random() < 0.5:
            for wy in range(base_y - bh + 6, base_y, max(6, size // 60)):
                for wx in range(x + 4, x + bw - 4, max(6, size // 70)):
                    if rng.random() < 0.35:
                        draw.rectangle(
                            [wx, wy, wx + size // 200 + 1, wy + size // 160 + 1], fill=(250, 220, 130)
                        )
        x += bw + int(size * 0.01 * rng.random())
    return np.asarray(canvas, np.float32)


def _forest(
    img: np.ndarray, size: int, horizon: float, pal: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    canvas = Image.fromarray(to_u8(img))
    draw = ImageDraw.Draw(canvas)
    green = np.array([40, 100, 50], np.float32) * 0.5 + pal[3] * 0.25
    rows = sorted(rng.random(45) * 0.12 + horizon - 0.02)
    for y_frac in rows:
        x = rng.random() * size
        h = size * (0.08 + 0.12 * rng.random()) * (0.6 + 2.5 * (y_frac - horizon + 0.05))
        w = h * 0.38
        y = y_frac * size
        shade = 0.6 + 0.6 * rng.random()
        col = tuple(int(c) for c in np.clip(green * shade, 0, 255))
        draw.polygon([(x, y - h), (x - w / 2, y), (x + w / 2, y)], fill=col)
        draw.rectangle([x - w * 0.06, y, x + w * 0.06, y + h * 0.12], fill=(60, 40, 25))
    return np.asarray(canvas, np.float32)


def _abstract(
    pal: np.ndarray, noise: np.ndarray, size: int, rng: np.random.Generator, on_stage: Stage | None = None
) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.random() * np.pi
    t = np.clip((np.cos(angle) * xx + np.sin(angle) * yy + 0.2) / 1.4, 0, 1)
    img = _lerp(pal[0] * 0.9, pal[1], t) + (noise[..., None] - 0.5) * 40
    if on_stage is not None:
        on_stage(img)
    canvas = Image.fromarray(to_u8(img)).convert("RGBA")
    shapes = int(rng.integers(5, 11))
    for i in range(shapes):
        if on_stage is not None and i == shapes // 2:
            on_stage(np.asarray(canvas.convert("RGB"), np.float32))
        layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        col = tuple(int(c) for c in pal[int(rng.integers(2, 5))]) + (int(90 + 110 * rng.random()),)
        cx, cy, r = rng.random() * size, rng.random() * size, size * (0.06 + 0.2 * rng.random())
        if rng.random() < 0.6:
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=col)
        else:
            draw.rectangle([cx - r, cy - r * 0.6, cx + r, cy + r * 0.6], fill=col)
        canvas = Image.alpha_composite(canvas, layer)
    return np.asarray(canvas.convert("RGB"), np.float32)


def caption(image: np.ndarray, prompt: str) -> np.ndarray:
    """Darken a band at the bottom of ``image`` (uint8 (H, W, 3)) and write the engine's label in it."""
    height, width = image.shape[:2]
    band = max(12, min(height, width) // 28)
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    region = np.asarray(canvas)[height - band :].astype(np.float32) * 0.35
    canvas.paste(Image.fromarray(to_u8(region)), (0, height - band))
    font = ImageFont.load_default(size=max(8, int(band * 0.62)))
    one_line = " ".join(prompt.split())  # a %%dalle cell body has newlines; the caption is one line
    text = f"{CAPTION} (synthetic, no model): {one_line}"
    max_w = width - band
    while draw.textlength(text, font=font) > max_w and len(text) > 10:
        text = text[:-2]
    if not text.endswith(one_line):
        text = text.rstrip() + "…"
    draw.text((band // 2, height - band / 2), text, fill=(235, 235, 235), font=font, anchor="lm")
    return np.asarray(canvas)


def generate(prompt: str, *, size: int, seed: int) -> np.ndarray:
    """Paint one ``size`` x ``size`` RGB uint8 image for ``prompt`` with ``seed``.

    >>> a = generate("a red sunset over the ocean", size=64, seed=1)
    >>> b = generate("a red sunset over the ocean", size=64, seed=1)
    >>> c = generate("a red sunset over the ocean", size=64, seed=2)
    >>> a.shape, bool((a == b).all()), bool((a != c).any())
    ((64, 64, 3), True, True)
    """
    return caption(paint(prompt, size=size, seed=seed), prompt)


def paint(prompt: str, *, size: int, seed: int, on_stage: Stage | None = None) -> np.ndarray:
    """The picture of :func:`generate` before its caption; ``on_stage`` sees each layer group.

    ``on_stage`` is called :func:`stage_count` times with the float32 (size, size, 3)
    picture as it stands after the sky, the land and the foreground (or, for an
    abstract picture, after the gradient and half of its shapes).
    """
    rng = np.random.default_rng(_seed_for(prompt, seed))
    img = to_u8(_paint(prompt, size, rng, on_stage))
    if img.std() < 8:  # never uniform: add structure
        img = to_u8(img.astype(np.float32) + (fbm((size, size), rng)[..., None] - 0.5) * 60)
    return img
