"""Draw the pictures of the mask conventions page from ``dalle_widgets.masks`` itself.

Run by ``docs/conf.py`` at the start of every build (so the pictures always show
what the code does), or by hand::

    python docs/_scripts/mask_figures.py docs/_generated

Each figure is a small PNG; nothing here is shipped with the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dalle_widgets import masks

SIZE = 256  # every panel is SIZE x SIZE
PAD = 8
LABEL_H = 22


def sample_image(size: int = SIZE) -> np.ndarray:
    """A small, recognisable RGB test picture: sky gradient, sun, hills, a house."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    img = np.empty((size, size, 3), np.float32)
    img[..., 0] = 0.35 + 0.45 * yy
    img[..., 1] = 0.55 + 0.30 * yy
    img[..., 2] = 0.95 - 0.25 * yy
    hills = yy > 0.62 + 0.08 * np.sin(xx * 6.0)
    img[hills] = (0.30, 0.55, 0.25)
    sun = (xx - 0.75) ** 2 + (yy - 0.22) ** 2 < 0.09**2
    img[sun] = (1.0, 0.85, 0.3)
    out = (img * 255).astype(np.uint8)
    pil = Image.fromarray(out)
    draw = ImageDraw.Draw(pil)
    s = size / 256
    draw.rectangle([70 * s, 150 * s, 130 * s, 200 * s], fill=(200, 80, 60))
    draw.polygon([(62 * s, 152 * s), (100 * s, 118 * s), (138 * s, 152 * s)], fill=(120, 40, 40))
    return np.asarray(pil)


def checkerboard(shape: tuple[int, int], cell: int = 16) -> np.ndarray:
    """Grey checkerboard, the usual picture of transparency."""
    yy, xx = np.indices(shape)
    light = ((yy // cell + xx // cell) % 2).astype(bool)
    out = np.where(light[..., None], 204, 153).astype(np.uint8)
    return np.repeat(out, 3, axis=2)


def over_checkerboard(rgba: np.ndarray) -> np.ndarray:
    """Composite an RGBA uint8 image over a checkerboard, as viewers show transparency."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255
    board = checkerboard(rgba.shape[:2]).astype(np.float32)
    return (rgba[..., :3] * alpha + board * (1 - alpha)).round().astype(np.uint8)


def bool_picture(mask: np.ndarray) -> np.ndarray:
    """White where True (generate), black where False (keep)."""
    return np.repeat((mask.astype(np.uint8) * 255)[..., None], 3, axis=2)


def float_picture(values: np.ndarray) -> np.ndarray:
    return np.repeat((np.clip(values, 0, 1) * 255).round().astype(np.uint8)[..., None], 3, axis=2)


def strip(panels: list[tuple[str, np.ndarray]]) -> Image.Image:
    """Panels side by side with a caption under each."""
    width = len(panels) * (SIZE + PAD) + PAD
    sheet = Image.new("RGB", (width, SIZE + 2 * PAD + LABEL_H), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    for i, (label, arr) in enumerate(panels):
        x = PAD + i * (SIZE + PAD)
        sheet.paste(Image.fromarray(arr).resize((SIZE, SIZE), Image.NEAREST), (x, PAD))
        draw.rectangle([x - 1, PAD - 1, x + SIZE, PAD + SIZE], outline=(170, 170, 170))
        draw.text((x + 2, PAD + SIZE + 4), label, fill=(20, 20, 20), font=font)
    return sheet


def figures() -> dict[str, Image.Image]:
    """Every figure of the page, by file stem."""
    image = sample_image()
    shape = image.shape[:2]
    sky = masks.subtract(masks.rectangle(shape, (0, 0, SIZE, 140)), masks.ellipse(shape, (164, 30, 220, 86)))
    house = masks.rectangle(shape, (60, 110, 146, 206))
    mask = masks.union(sky, house)

    rgba = masks.to_rgba(image, mask)
    white_convention = bool_picture(mask)  # white = generate
    black_convention = 255 - white_convention  # black = generate

    # The three input forms of the second figure must read back as the same mask, or the picture lies.
    read_back = [
        masks.from_image(rgba),
        masks.from_image(white_convention, convention="white"),
        masks.from_image(black_convention, convention="black"),
    ]
    if not all(np.array_equal(m, mask) for m in read_back):
        raise AssertionError("from_image does not read the three mask forms back as the same mask")

    out: dict[str, Image.Image] = {}
    out["mask-forms"] = strip(
        [
            ("image", image),
            ("bool mask: True (white) = generate", bool_picture(mask)),
            ("preview(image, mask)", masks.preview(image, mask)),
            ("to_rgba: alpha 0 = generate", over_checkerboard(rgba)),
        ]
    )
    out["mask-inputs"] = strip(
        [
            ("RGBA, alpha 0 = generate", over_checkerboard(rgba)),
            ('convention="white"', white_convention),
            ('convention="black"', black_convention),
            ("from_image(...) -> this bool mask", bool_picture(read_back[0])),
        ]
    )
    stroke = masks.stroke(shape, [(30, 200), (90, 150), (150, 190), (220, 120)], radius=14)
    out["mask-shapes"] = strip(
        [
            ("rectangle (x0, y0, x1, y1)", bool_picture(masks.rectangle(shape, (40, 60, 200, 180)))),
            ("ellipse in a box", bool_picture(masks.ellipse(shape, (40, 60, 200, 180)))),
            ("polygon of (x, y)", bool_picture(masks.polygon(shape, [(128, 30), (230, 220), (26, 220)]))),
            ("stroke, radius 14", bool_picture(stroke)),
        ]
    )
    out["mask-transforms"] = strip(
        [
            ("stroke", bool_picture(stroke)),
            ("grow(stroke, 10)", bool_picture(masks.grow(stroke, 10))),
            ("shrink(stroke, 6)", bool_picture(masks.shrink(stroke, 6))),
            ("feather(stroke, 12)", float_picture(masks.feather(stroke, 12))),
        ]
    )
    return out


def main(out_dir: Path | str) -> list[Path]:
    """Write every figure as ``<stem>.png`` into ``out_dir`` and return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, picture in figures().items():
        path = out_dir / f"{stem}.png"
        picture.save(path, optimize=True)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1] / "_generated"):
        sys.stdout.write(f"{p}\n")
