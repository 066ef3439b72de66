"""dalle_widgets.imaging: coercion, squaring, PNG encoding, thumbnails, sheets."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from dalle_widgets import imaging
from dalle_widgets.imaging import (
    checkerboard,
    contact_sheet,
    encode_png,
    fit_square,
    thumbnail,
    to_array,
    to_pil,
    unfit_square,
)


def _photo_like(h: int, w: int, seed: int = 0, alpha: bool = False) -> np.ndarray:
    """Smooth gradients plus mild noise: compresses like a photo, not like flat colour or pure noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    chans = [
        128 + 100 * np.sin(xx / (17 + 7 * c) + c) * np.cos(yy / (23 + 5 * c)) + rng.normal(0, 6, (h, w))
        for c in range(3)
    ]
    if alpha:
        chans.append(np.full((h, w), 255.0))
    return np.clip(np.stack(chans, axis=-1), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------ to_pil / to_array: every input kind


@pytest.fixture
def rgb() -> np.ndarray:
    return _photo_like(24, 40)


def test_accepts_every_documented_input(tmp_path: Path, rgb: np.ndarray) -> None:
    png = io.BytesIO()
    Image.fromarray(rgb).save(png, format="PNG")
    path = tmp_path / "x.png"
    path.write_bytes(png.getvalue())

    class Generated:  # the shape of the client's GeneratedImage: a PIL image under .image
        image = Image.fromarray(rgb)

    inputs = [
        rgb,
        Image.fromarray(rgb),
        png.getvalue(),
        bytearray(png.getvalue()),
        io.BytesIO(png.getvalue()),
        str(path),
        path,
        Generated(),
    ]
    for x in inputs:
        out = to_array(x)
        assert out.dtype == np.uint8 and out.shape == (24, 40, 3)
        assert np.array_equal(out, rgb), type(x)


def test_float_grey_and_rgba_arrays() -> None:
    assert to_pil(np.zeros((3, 4))).mode == "RGB"
    assert to_array(np.full((3, 4, 3), 1.0)).max() == 255
    rgba = np.zeros((3, 4, 4), np.uint8)
    assert to_pil(rgba).mode == "RGBA"
    assert to_array(rgba, "RGB").shape == (3, 4, 3)
    assert to_array(np.ones((2, 2), bool)).max() == 255


def test_palette_with_transparency_becomes_rgba() -> None:
    img = Image.new("P", (4, 4), 0)
    img.info["transparency"] = 0
    buf = io.BytesIO()
    img.save(buf, format="PNG", transparency=0)
    assert to_pil(buf.getvalue()).mode == "RGBA"


def test_to_array_returns_a_fresh_writable_array(rgb: np.ndarray) -> None:
    out = to_array(rgb)
    out[0, 0] = 7
    assert rgb[0, 0, 0] != 7 or rgb[0, 0, 1] != 7


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (
            np.zeros((3, 4, 2), np.uint8),
            r"must be shaped \(H, W\), \(H, W, 3\) or \(H, W, 4\); got shape \(3, 4, 2\)",
        ),
        (np.zeros((0, 4, 3), np.uint8), r"is empty \(shape \(0, 4, 3\)\)"),
        (np.full((2, 2), np.nan), "NaN"),
        (np.full((2, 2, 3), 2.0), r"values in \[2, 2\]; float images must lie in \[0, 1\]. Divide by 255"),
        (np.full((2, 2), -1, np.int16), "dtype int16"),
        (np.zeros((2, 2, 3, 1), np.uint8), "must be shaped"),
        (b"", "empty bytes"),
        (b"not an image at all", r"could not be decoded as an image"),
        (12, "must be a path, bytes, a file object, a PIL image or a numpy array"),
        ("no/such/file.png", "no file at 'no/such/file.png'"),
    ],
)
def test_bad_inputs_are_named(value: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        to_pil(value)


def test_error_uses_the_callers_argument_name() -> None:
    with pytest.raises(ValueError, match=r"^mask must be shaped"):
        to_pil(np.zeros((2, 2, 5), np.uint8), name="mask")


# ------------------------------------------------------------------ fit_square / unfit_square


@pytest.mark.parametrize("shape", [(30, 50), (50, 30), (40, 40), (1, 7)])
def test_fit_square_pad_keeps_pixels_and_box_maps_back(shape: tuple[int, int]) -> None:
    img = _photo_like(*shape)
    sq, box = fit_square(img)
    side = max(shape)
    assert sq.size == (side, side) and sq.mode == "RGBA"
    # The box says where the square sits over the original: cropping the original there gives it back.
    assert np.array_equal(np.asarray(to_pil(img).convert("RGBA").crop(box))[..., :3], np.asarray(sq)[..., :3])
    a = np.asarray(sq)
    x0, y0 = -box[0], -box[1]
    assert np.array_equal(a[y0 : y0 + shape[0], x0 : x0 + shape[1], :3], img)
    assert (a[y0 : y0 + shape[0], x0 : x0 + shape[1], 3] == 255).all()
    assert (a[..., 3] == 0).sum() == side * side - shape[0] * shape[1]  # padding is transparent
    back = unfit_square(sq, box, (shape[1], shape[0]))
    assert np.array_equal(to_array(back, "RGB"), img)


def test_fit_square_crop_and_resize_and_fill() -> None:
    img = _photo_like(30, 50)
    sq, box = fit_square(img, mode="crop")
    assert sq.size == (30, 30) and box == (10, 0, 40, 30)
    assert np.array_equal(np.asarray(sq), img[:, 10:40])
    sq, box = fit_square(img, 16, mode="resize")
    assert sq.size == (16, 16) and box == (0, 0, 50, 30)
    sq, _ = fit_square(img, fill=(1, 2, 3))
    assert sq.mode == "RGB" and tuple(np.asarray(sq)[0, 0]) == (1, 2, 3)
    assert fit_square(img, size=64)[0].size == (64, 64)


def test_fit_square_bad_args() -> None:
    with pytest.raises(ValueError, match="mode must be 'pad', 'crop' or 'resize'; got 'fit'"):
        fit_square(np.zeros((4, 4, 3), np.uint8), mode="fit")
    with pytest.raises(ValueError, match="size must be an integer >= 1; got 0"):
        fit_square(np.zeros((4, 4, 3), np.uint8), size=0)
    with pytest.raises(ValueError, match="box must have x1 > x0"):
        unfit_square(np.zeros((4, 4, 3), np.uint8), (4, 0, 0, 4), (4, 4))


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_fit_unfit_round_trip_property(h: int, w: int, seed: int) -> None:
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    sq, box = fit_square(img)
    assert np.array_equal(to_array(unfit_square(sq, box, (w, h)), "RGB"), img)


# ------------------------------------------------------------------ encode_png


def test_encode_png_round_trips_exactly() -> None:
    img = _photo_like(64, 64, alpha=True)
    img[10:20, 10:20, 3] = 0
    data = encode_png(img)
    assert data.startswith(b"\x89PNG")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), img)


def test_encode_png_passes_small_png_bytes_through_unchanged() -> None:
    data = encode_png(_photo_like(16, 16))
    assert encode_png(data) == data
    assert encode_png(bytearray(data)) == data


def test_encode_png_tries_stronger_levels_before_giving_up() -> None:
    img = _photo_like(128, 128)
    fast = len(encode_png(img, None, levels=(1,)))
    strong = len(encode_png(img, None, levels=(9,)))
    assert strong < fast
    # A limit between the two sizes is met by moving to the stronger level, not by shrinking the image.
    data = encode_png(img, max_bytes=strong + 1)
    assert len(data) <= strong and Image.open(io.BytesIO(data)).size == (128, 128)


def test_encode_png_too_big_says_by_how_much() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 4), dtype=np.uint8)
    with pytest.raises(
        ValueError,
        match=r"image is 64x64 px and its PNG is at least [\d,]+ bytes, [\d,]+ over "
        r"the 1,000 byte limit.*not shrunk automatically",
    ):
        encode_png(noise, max_bytes=1000)
    with pytest.raises(ValueError, match="levels must be zlib levels 0-9"):
        encode_png(noise, levels=(12,))
    with pytest.raises(ValueError, match="max_bytes must be an integer"):
        encode_png(noise, max_bytes=-3)


def test_photo_like_1024_rgba_fits_the_api_limit() -> None:
    data = encode_png(_photo_like(1024, 1024, alpha=True))
    assert len(data) < imaging.MAX_UPLOAD_BYTES


# ------------------------------------------------------------------ thumbnail / checkerboard / contact_sheet


def test_thumbnail_never_upscales_and_keeps_aspect() -> None:
    assert thumbnail(_photo_like(100, 300), 90).size == (90, 30)
    assert thumbnail(_photo_like(20, 30), 90).size == (30, 20)
    src = Image.fromarray(_photo_like(50, 50))
    assert thumbnail(src, 10) is not src and src.size == (50, 50)
    with pytest.raises(ValueError, match="px must be an integer >= 1"):
        thumbnail(src, 0)


def test_checkerboard_pattern_and_errors() -> None:
    cb = checkerboard((32, 48), cell=16)
    assert cb.shape == (32, 48, 3) and cb.dtype == np.uint8
    assert cb[0, 0, 0] != cb[0, 16, 0] and cb[0, 0, 0] == cb[16, 16, 0]
    with pytest.raises(ValueError, match=r"shape must be \(H, W\)"):
        checkerboard((2, 2, 3))
    with pytest.raises(ValueError, match="cell must be an integer >= 1"):
        checkerboard((2, 2), cell=0)


def test_contact_sheet_layout_captions_and_transparency(tmp_path: Path) -> None:
    tiles = [_photo_like(60, 90, seed=i) for i in range(5)]
    rgba = np.zeros((40, 40, 4), np.uint8)  # fully transparent: shows the checkerboard
    sheet = contact_sheet([*tiles, rgba], captions=[f"image {i}" for i in range(6)], cell_px=64, gap=4)
    assert sheet.mode == "RGB"
    cols, rows = 3, 2
    assert sheet.width == cols * 64 + (cols + 1) * 4
    assert sheet.height > rows * 64 + (rows + 1) * 4  # room for captions
    arr = np.asarray(sheet)
    # The transparent tile shows two grey levels (the checkerboard), not the sheet background only.
    x0 = 4 + 2 * (64 + 4) + 12
    tile = arr[sheet.height - 4 - 64 - 20 : sheet.height - 30, x0 : x0 + 40, 0]
    assert {204, 255} <= set(np.unique(tile).tolist())
    sheet.save(tmp_path / "sheet.png")
    with pytest.raises(ValueError, match="captions has 2 entries but there are 6 images"):
        contact_sheet([*tiles, rgba], captions=["a", "b"])
    with pytest.raises(ValueError, match="images is empty"):
        contact_sheet([])
    with pytest.raises(ValueError, match=r"images\[1\] must be"):
        contact_sheet([tiles[0], 3])


def test_high_bit_depth_grey_images_are_scaled_not_clipped() -> None:
    grey16 = np.array([[0, 65535], [32768, 257]], np.uint16)
    buf = io.BytesIO()
    Image.fromarray(grey16).save(buf, format="PNG")  # a 16-bit PNG
    assert to_array(buf.getvalue())[..., 0].tolist() == [[0, 255], [128, 1]]
    assert to_array(Image.fromarray(np.array([[0.0, 1.0]], np.float32), "F"))[..., 0].tolist() == [[0, 255]]
    with pytest.raises(ValueError, match="float images must lie in"):
        to_pil(Image.fromarray(np.array([[0.0, 3.0]], np.float32), "F"))


def _glyph(font: object, ch: str) -> np.ndarray:
    from PIL import ImageDraw

    im = Image.new("L", (40, 40), 0)
    ImageDraw.Draw(im).text((4, 4), ch, fill=255, font=font)
    return np.asarray(im)


def test_contact_sheet_captions_in_several_scripts_are_not_boxes() -> None:
    from PIL import ImageDraw

    caption = "Ελιά · Берёза · Phở · Zürich"
    cell, gap = 256, 8
    sheet = imaging.contact_sheet(
        [np.zeros((32, 32, 3), np.uint8)], captions=[caption], cell_px=cell, gap=gap
    )
    font = imaging.caption_font()
    # the sheet's caption is drawn in the shipped font...
    strip = sheet.crop((gap, gap + cell + 3, gap + cell, sheet.height))
    expected = Image.new("RGB", strip.size, (255, 255, 255))
    ImageDraw.Draw(expected).text((0, 0), caption, fill=(40, 40, 40), font=font)
    assert np.array_equal(np.asarray(strip), np.asarray(expected))
    # ...which has a real glyph for every letter: none is drawn as the missing-glyph box
    tofu = _glyph(font, "\ue000")  # a private-use code point no font here covers
    assert tofu.any()
    missing = [ch for ch in set(caption) if not ch.isspace() and np.array_equal(_glyph(font, ch), tofu)]
    assert missing == []
    # (Pillow's default font, used before, draws the Greek and Cyrillic letters as that box)
    from PIL import ImageFont

    default = ImageFont.load_default(13)
    assert np.array_equal(_glyph(default, "λ"), _glyph(default, "\ue000"))
