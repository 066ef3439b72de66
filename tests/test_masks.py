"""dalle_widgets.masks: shapes, set algebra, morphology, facts and edge conversions.

Rasterisers are checked against brute-force definitions (pixel centre inside the
shape), morphology against exact pairwise distances, and the invariants of the
issue with hypothesis.
"""

from __future__ import annotations

import inspect
import io
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from dalle_widgets import imaging, masks
from dalle_widgets.masks import (
    _morphology,
    _regions,
    _runs,
    bbox,
    coverage,
    crop,
    describe,
    ellipse,
    empty,
    feather,
    fill_holes,
    from_image,
    full,
    grow,
    intersect,
    invert,
    pad,
    polygon,
    preview,
    rectangle,
    remove_small,
    resize,
    shrink,
    stroke,
    subtract,
    to_png,
    to_rgba,
    union,
)

bool_masks = hnp.arrays(np.bool_, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=24))


def _centres(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    return xx + 0.5, yy + 0.5


def _brute_stroke(shape: tuple[int, int], pts: list[tuple[float, float]], r: float) -> np.ndarray:
    px, py = _centres(shape)
    best = np.full(shape, np.inf)
    segs = list(zip(pts[:-1], pts[1:], strict=True)) or [(pts[0], pts[0])]
    for (ax, ay), (bx, by) in segs:
        dx, dy = bx - ax, by - ay
        ll = dx * dx + dy * dy
        t = np.zeros(shape) if ll == 0 else np.clip(((px - ax) * dx + (py - ay) * dy) / ll, 0, 1)
        best = np.minimum(best, np.hypot(px - (ax + t * dx), py - (ay + t * dy)))
    return best <= r


def _pairwise_dist_to(mask: np.ndarray) -> np.ndarray:
    """Exact distance from every pixel centre to the nearest True pixel centre (inf if none)."""
    ys, xs = np.nonzero(mask)
    yy, xx = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
    if len(ys) == 0:
        return np.full(mask.shape, np.inf)
    d = np.hypot(yy[..., None] - ys, xx[..., None] - xs)
    return d.min(axis=-1)


# ------------------------------------------------------------------ shapes


def test_empty_full_rectangle() -> None:
    assert not empty((3, 4)).any() and empty((3, 4)).shape == (3, 4)
    assert full((3, 4)).all()
    r = rectangle((10, 20), (2, 3, 7, 9))
    assert r.dtype == np.bool_ and r.sum() == 5 * 6 and r[3, 2] and r[8, 6] and not r[9, 6] and not r[3, 7]
    assert rectangle((10, 20), (-5, -5, 3, 3), clip=True).sum() == 9


def test_ellipse_matches_its_definition() -> None:
    shape, box = (40, 50), (3.0, 5.5, 44.0, 31.0)
    px, py = _centres(shape)
    cx, cy, rx, ry = (
        (box[0] + box[2]) / 2,
        (box[1] + box[3]) / 2,
        (box[2] - box[0]) / 2,
        (box[3] - box[1]) / 2,
    )
    expected = ((px - cx) / rx) ** 2 + ((py - cy) / ry) ** 2 <= 1
    assert np.array_equal(ellipse(shape, box), expected)
    assert ellipse((10, 10), (-10, -10, 10, 10), clip=True)[0, 0]


def _brute_polygon(shape: tuple[int, int], pts: list[tuple[float, float]]) -> np.ndarray:
    px, py = _centres(shape)
    inside = np.zeros(shape, bool)
    n = len(pts)
    for i in range(n):
        (ax, ay), (bx, by) = pts[i], pts[(i + 1) % n]
        if ay == by:
            continue
        cond = (np.minimum(ay, by) <= py) & (py < np.maximum(ay, by))
        with np.errstate(over="ignore"):  # rows off the edge (cond False) may overflow
            xint = ax + (py - ay) / (by - ay) * (bx - ax)
        inside ^= cond & (px < xint)
    return inside


@settings(max_examples=60, deadline=None)
@given(pts=st.lists(st.tuples(st.floats(-5, 35), st.floats(-5, 30)), min_size=3, max_size=8))
def test_polygon_matches_even_odd_rule(pts: list[tuple[float, float]]) -> None:
    shape = (25, 30)
    got = polygon(shape, pts)
    want = _brute_polygon(shape, pts)
    # Pixel centres lying exactly on an edge may fall either way; there are none with these float points
    # except by measure-zero chance, so demand equality.
    assert np.array_equal(got, want)


def test_polygon_concave_star() -> None:
    star = [
        (
            50 + 45 * math.cos(a) * (1 if i % 2 == 0 else 0.4),
            50 + 45 * math.sin(a) * (1 if i % 2 == 0 else 0.4),
        )
        for i, a in enumerate(np.linspace(0, 2 * math.pi, 10, endpoint=False))
    ]
    assert np.array_equal(polygon((100, 100), star), _brute_polygon((100, 100), star))


@settings(max_examples=80, deadline=None)
@given(
    pts=st.lists(st.tuples(st.floats(-10, 50), st.floats(-10, 40)), min_size=1, max_size=6),
    r=st.floats(0.3, 12),
)
def test_stroke_is_exactly_the_distance_set(pts: list[tuple[float, float]], r: float) -> None:
    shape = (32, 40)
    got = stroke(shape, pts, r)
    want = _brute_stroke(shape, pts, r)
    diff = got != want
    if diff.any():
        # Only pixel centres within float rounding of the brush edge may differ.
        px, py = _centres(shape)
        near = np.abs(_dist_to_polyline(px, py, pts) - r) < 1e-6
        assert near[diff].all()


@settings(max_examples=60, deadline=None)
@given(
    start=st.tuples(st.floats(0, 64), st.floats(0, 48)),
    steps=st.lists(st.tuples(st.integers(-8, 8), st.integers(-8, 8)), min_size=1, max_size=40),
    scale=st.sampled_from([0.5, 1.0, 1.7]),
    r=st.floats(0.5, 9),
)
def test_long_drags_are_exactly_the_distance_set(
    start: tuple[float, float], steps: list[tuple[int, int]], scale: float, r: float
) -> None:
    # Many short segments (repeats, turns, reversals): the rows each segment leaves to its
    # neighbours must still be drawn.
    pts = [start]
    for dx, dy in steps:
        pts.append((pts[-1][0] + dx * scale, pts[-1][1] + dy * scale))
    shape = (48, 64)
    got = stroke(shape, pts, r)
    diff = got != _brute_stroke(shape, pts, r)
    if diff.any():
        px, py = _centres(shape)
        assert (np.abs(_dist_to_polyline(px, py, pts) - r) < 1e-6)[diff].all()


def _dist_to_polyline(px: np.ndarray, py: np.ndarray, pts: list[tuple[float, float]]) -> np.ndarray:
    best = np.full(px.shape, np.inf)
    segs = list(zip(pts[:-1], pts[1:], strict=True)) or [(pts[0], pts[0])]
    for (ax, ay), (bx, by) in segs:
        dx, dy = bx - ax, by - ay
        ll = dx * dx + dy * dy
        t = np.zeros(px.shape) if ll == 0 else np.clip(((px - ax) * dx + (py - ay) * dy) / ll, 0, 1)
        best = np.minimum(best, np.hypot(px - (ax + t * dx), py - (ay + t * dy)))
    return best


def test_fast_drag_leaves_no_gaps() -> None:
    # Samples 60 px apart with a 10 px brush: the stroke is one connected band.
    from scipy import ndimage

    m = stroke((200, 300), [(20, 100), (80, 40), (140, 160), (200, 40), (260, 100)], 10)
    assert ndimage.label(m)[1] == 1
    assert m[100, 20] and m[40, 80] and m[100, 110]  # (x=110, y=100) lies on the second segment


def test_stroke_disc_and_repeated_points_and_offscreen() -> None:
    disc = stroke((21, 21), [(10.5, 10.5)], 5)
    assert disc.sum() == np.sum(_brute_stroke((21, 21), [(10.5, 10.5)], 5))
    assert np.array_equal(stroke((21, 21), [(10.5, 10.5)] * 4, 5), disc)
    assert not stroke((10, 10), [(100, 100), (200, 100)], 5).any()
    assert stroke((10, 10), [(-5, 5), (50, 5)], 1).sum() == 20


# ------------------------------------------------------------------ algebra


@settings(max_examples=50, deadline=None)
@given(m=bool_masks)
def test_invert_is_an_involution_and_inputs_are_never_mutated(m: np.ndarray) -> None:
    before = m.copy()
    assert np.array_equal(invert(invert(m)), m)
    grow(m, 2)
    shrink(m, 2)
    feather(m, 3)
    fill_holes(m)
    remove_small(m, 3)
    union(m, m)
    assert np.array_equal(m, before)


def test_union_intersect_subtract() -> None:
    a = rectangle((4, 4), (0, 0, 2, 4))
    b = rectangle((4, 4), (1, 0, 3, 4))
    c = rectangle((4, 4), (0, 0, 4, 1))
    assert union(a, b).sum() == 12 and union(a, b, c).sum() == 13
    assert intersect(a, b).sum() == 4 and intersect(a, b, c).sum() == 1
    assert subtract(a, b).sum() == 4
    out = union(a)
    assert out is not a and np.array_equal(out, a)


# ------------------------------------------------------------------ morphology


@settings(max_examples=40, deadline=None)
@given(m=hnp.arrays(np.bool_, (14, 17)), r=st.floats(0, 6))
def test_grow_and_shrink_use_exact_round_distances(m: np.ndarray, r: float) -> None:
    assert np.array_equal(grow(m, r), _pairwise_dist_to(m) <= r) if r >= 1 else np.array_equal(grow(m, r), m)
    # shrink is the dual of grow; the image border does not erode.
    padded = np.pad(~m, 8, constant_values=False)
    expect = ~(_pairwise_dist_to(padded) <= r)[8:-8, 8:-8] if r >= 1 else m
    assert np.array_equal(shrink(m, r), expect)


@settings(max_examples=50, deadline=None)
@given(m=bool_masks, r=st.integers(0, 6))
def test_shrink_of_grow_contains_the_mask(m: np.ndarray, r: int) -> None:
    m = fill_holes(m)
    closed = shrink(grow(m, r), r)
    assert not (m & ~closed).any()


@pytest.mark.parametrize("r", [1.9999999999999982, math.sqrt(3), math.sqrt(5), 2.0, 5.000000000000001])
def test_grow_radius_at_a_lattice_distance(r: float, monkeypatch: pytest.MonkeyPatch) -> None:
    # Radii within float rounding of a pixel distance: both paths compare distances as floats.
    m = rectangle((15, 15), (7, 7, 8, 8))
    want = _pairwise_dist_to(m) <= r
    assert np.array_equal(grow(m, r), want)
    monkeypatch.setattr(_morphology, "_SHIFT_MAX_RADIUS", 0)
    assert np.array_equal(grow(m, r), want)


def test_grow_example_is_a_disc() -> None:
    g = grow(rectangle((41, 41), (20, 20, 21, 21)), 10)
    assert g.sum() == 317  # lattice points within radius 10 (Gauss circle N(10) = 317)


def test_fill_holes_and_remove_small() -> None:
    ring = subtract(ellipse((30, 30), (2, 2, 28, 28)), ellipse((30, 30), (10, 10, 20, 20)))
    assert np.array_equal(fill_holes(ring), ellipse((30, 30), (2, 2, 28, 28)))
    specks = union(
        rectangle((30, 30), (0, 0, 10, 10)),
        rectangle((30, 30), (20, 20, 22, 22)),
        rectangle((30, 30), (25, 25, 26, 26)),
    )
    assert remove_small(specks, 5).sum() == 100
    assert remove_small(specks, 4).sum() == 104
    assert np.array_equal(remove_small(specks, 0), specks)
    # diagonal neighbours are one blob (8-connectivity)
    diag = np.eye(4, dtype=bool)
    assert remove_small(diag, 4).sum() == 4


def test_feather_range_symmetry_and_hard_limits() -> None:
    m = ellipse((64, 64), (10, 10, 54, 54))
    f = feather(m, 8)
    assert f.dtype == np.float32 and f.min() == 0.0 and f.max() == 1.0
    assert (f[m] >= 0.5).all() and (f[~m] <= 0.5).all()
    assert np.array_equal(feather(m, 0), m.astype(np.float32))
    assert (feather(full((4, 4)), 5) == 1).all() and (feather(empty((4, 4)), 5) == 0).all()
    # far from the edge the hard mask is kept
    assert np.array_equal(f > 0.5, m) and (f[grow(m, 5) == 0] == 0).all()


# ------------------------------------------------------------------ geometry


def test_resize_up_down_and_area_rule() -> None:
    m = rectangle((4, 6), (1, 1, 4, 3))
    up = resize(m, (12, 18))
    assert np.array_equal(up, np.kron(m, np.ones((3, 3), bool)))
    assert np.array_equal(resize(up, (4, 6)), m)
    # a 2x2 block with 3 True pixels -> True, with 1 -> False
    blk = np.array([[True, True, True, False], [True, False, False, False]])
    assert resize(blk, (1, 2)).tolist() == [[True, False]]


def test_crop_and_pad() -> None:
    m = rectangle((10, 10), (2, 2, 5, 5))
    assert crop(m, (2, 2, 5, 5)).all() and crop(m, (0, 0, 10, 10)).sum() == 9
    p = pad(m, left=3, top=1, right=2, bottom=4, value=True)
    assert p.shape == (15, 15) and p[0].all() and p[:, 0].all() and p[-1].all() and p[:, -1].all()
    assert np.array_equal(p[1:11, 3:13], m)


# ------------------------------------------------------------------ facts


def test_bbox_coverage_describe() -> None:
    m = rectangle((1024, 1024), (120, 80, 610, 540))
    assert bbox(m) == (120, 80, 610, 540)
    assert coverage(m) == pytest.approx(490 * 460 / 1024**2)
    assert describe(m) == "21.5% of 1024x1024, bbox (120, 80)-(610, 540)"
    assert describe(empty((10, 20))) == "empty (0% of 20x10)"


@settings(max_examples=50, deadline=None)
@given(m=bool_masks)
def test_bbox_is_tight(m: np.ndarray) -> None:
    box = bbox(m)
    if box is None:
        assert not m.any()
        return
    x0, y0, x1, y1 = box
    assert m[y0:y1, x0:x1].sum() == m.sum()
    assert m[y0, x0:x1].any() and m[y1 - 1, x0:x1].any() and m[y0:y1, x0].any() and m[y0:y1, x1 - 1].any()


# ------------------------------------------------------------------ edge conversions


@settings(max_examples=50, deadline=None)
@given(m=bool_masks, seed=st.integers(0, 2**16))
def test_rgba_round_trip(m: np.ndarray, seed: int) -> None:
    img = np.random.default_rng(seed).integers(1, 255, (*m.shape, 3), dtype=np.uint8)  # never two-tone
    rgba = to_rgba(img, m)
    assert rgba.dtype == np.uint8 and rgba.shape == (*m.shape, 4)
    assert np.array_equal(rgba[..., 3] == 0, m) and set(np.unique(rgba[..., 3])) <= {0, 255}
    assert np.array_equal(rgba[..., :3], img)
    assert np.array_equal(from_image(rgba), m)
    assert np.array_equal(from_image(rgba, convention="alpha"), m)
    assert np.array_equal(from_image(to_png(img, m)), m)


def test_to_png_zeroes_hidden_pixels_and_is_smaller() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    m = rectangle((128, 128), (0, 0, 128, 64))
    data = to_png(img, m)
    arr = np.asarray(Image.open(io.BytesIO(data)))
    assert (arr[:64] == 0).all() and np.array_equal(arr[64:, :, :3], img[64:])
    assert len(data) < len(imaging.encode_png(to_rgba(img, m)))


def test_from_image_conventions() -> None:
    m = ellipse((20, 30), (3, 3, 25, 17))
    white = np.where(m, 255, 0).astype(np.uint8)
    assert np.array_equal(from_image(white), m)
    assert np.array_equal(from_image(white, convention="white"), m)
    assert np.array_equal(from_image(white, convention="black"), ~m)
    assert np.array_equal(from_image(np.stack([white] * 3, -1)), m)
    buf = io.BytesIO()
    Image.fromarray(white).save(buf, format="PNG")
    assert np.array_equal(from_image(buf.getvalue()), m)
    # soft grey mask with explicit convention and threshold
    soft = (feather(m, 6) * 255).astype(np.uint8)
    assert np.array_equal(from_image(soft, convention="white", threshold=0.5), feather(m, 6) * 255 >= 127.5)
    # partial alpha: default only alpha == 0 counts, a threshold widens it
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = [[0, 100], [200, 255]]
    assert from_image(rgba).tolist() == [[True, False], [False, False]]
    assert from_image(rgba, threshold=0.5).tolist() == [[True, True], [False, False]]
    assert np.array_equal(from_image(m), m) and from_image(m) is not m
    assert np.array_equal(from_image(np.where(m, 0.9, 0.1), threshold=0.5), m)


def test_from_image_auto_refuses_to_guess() -> None:
    photo = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="ambiguous: pass convention='alpha'.*'white'.*'black'"):
        from_image(photo)
    opaque_bw = np.zeros((4, 4, 4), np.uint8)
    opaque_bw[..., 3] = 255
    opaque_bw[:2, :, :3] = 255
    with pytest.raises(
        ValueError, match="opaque RGBA and strictly black and white.*convention='alpha' or 'white'"
    ):
        from_image(opaque_bw)
    with pytest.raises(
        ValueError,
        match="no alpha channel, so convention='alpha' cannot apply: pass convention='white' or 'black'",
    ):
        from_image(photo, convention="alpha")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: invert(np.zeros((3, 3))),
            r"mask must have dtype bool; got float64: threshold it explicitly",
        ),
        (lambda: invert(np.zeros((3, 3), np.uint8)), r"mask must have dtype bool; got uint8: convert it"),
        (lambda: invert(np.zeros((3, 3, 3), bool)), r"mask must be 2-D \(H, W\); got shape \(3, 3, 3\)"),
        (lambda: invert(np.zeros((0, 3), bool)), r"mask is empty"),
        (lambda: invert([[True]]), r"mask must be a numpy bool array.*got list"),
        (lambda: empty((0, 4)), r"shape must be two positive integers"),
        (
            lambda: empty((4, 4, 3)),
            r"shape must be a pair \(H, W\); got \(4, 4, 3\) \(pass image.shape\[:2\]",
        ),
        (lambda: full(5), r"shape must be a pair"),
        (lambda: rectangle((4, 4), (3, 0, 1, 2)), r"box \(3, 0, 1, 2\) has zero or negative area"),
        (lambda: rectangle((4, 4), (0, 0, 5, 2)), r"reaches outside the 4x4 image .*clip=True"),
        (lambda: rectangle((4, 4), (10, 10, 12, 12), clip=True), r"lies entirely outside the 4x4 image"),
        (lambda: rectangle((4, 4), (0, 0, float("nan"), 2)), r"box must be finite"),
        (lambda: rectangle((4, 4), (0, 0, 2)), r"box must be \(x0, y0, x1, y1\)"),
        (lambda: ellipse((4, 4), (0, 0, 0, 2)), r"zero or negative area"),
        (lambda: polygon((4, 4), [(0, 0), (1, 1)]), r"points needs at least 3 points; got 2"),
        (lambda: polygon((4, 4), [(0, 0), (1, 1), (2, float("nan"))]), r"NaN or infinite"),
        (lambda: stroke((4, 4), [], 2), r"points needs at least 1 point; got 0"),
        (lambda: stroke((4, 4), [(0, 0, 0)], 2), r"sequence of \(x, y\) pairs"),
        (lambda: stroke((4, 4), [(0, 0)], -1), r"radius must be > 0 pixels; got -1"),
        (lambda: stroke((4, 4), [(0, 0)], float("inf")), r"radius must be finite"),
        (lambda: union(full((2, 2)), full((3, 2))), r"b is 2x3 but a is 2x2: resize one with masks.resize"),
        (lambda: union(), r"union needs at least one mask"),
        (
            lambda: intersect(full((2, 2)), full((2, 2)), full((2, 3))),
            r"masks\[2\] is 3x2 but masks\[0\] is 2x2",
        ),
        (lambda: subtract(full((2, 2)), np.ones((2, 2))), r"b must have dtype bool"),
        (lambda: grow(full((2, 2)), -1), r"px must be >= 0 pixels; got -1"),
        (lambda: shrink(full((2, 2)), float("nan")), r"px must be finite"),
        (lambda: feather(full((2, 2)), "3"), r"px must be a number"),
        (lambda: remove_small(full((2, 2)), 2.5), r"min_px must be an integer >= 0"),
        (lambda: resize(full((2, 2)), (0, 2)), r"shape must be two positive integers"),
        (lambda: crop(full((4, 4)), (0, 0, 5, 5)), r"reaches outside the 4x4 image"),
        (lambda: pad(full((2, 2)), left=-1), r"left must be an integer >= 0; got -1"),
        (lambda: from_image(np.zeros((2, 2)), convention="red"), r"convention must be one of"),
        (lambda: from_image(np.zeros((2, 2))), r"x is a float array: pass threshold="),
        (lambda: from_image(np.full((2, 2), np.nan), threshold=0.5), r"NaN or infinite"),
        (
            lambda: from_image(np.zeros((2, 2, 3), np.uint8), convention="white", threshold=2),
            r"threshold is a "
            r"fraction of full intensity in \(0, 1\]",
        ),
        (
            lambda: to_rgba(np.zeros((4, 4, 3), np.uint8), full((2, 2))),
            r"mask is 2x2 but image is 4x4: resize the mask with masks.resize\(mask, \(4, 4\)\)",
        ),
        (
            lambda: preview(np.zeros((2, 2, 3), np.uint8), full((2, 2)), opacity=2),
            r"opacity must be in \[0, 1\]",
        ),
        (lambda: preview(np.zeros((2, 2, 3), np.uint8), full((2, 2)), color=(1, 2)), r"color must be three"),
    ],
)
def test_bad_input_is_refused_with_the_name_and_the_fix(call, match: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=match):
        call()


def test_preview_blends_outlines_and_shows_transparency() -> None:
    img = np.full((20, 20, 3), 100, np.uint8)
    m = rectangle((20, 20), (5, 5, 15, 15))
    p = preview(img, m, color=(255, 0, 0), opacity=0.5)
    assert p.dtype == np.uint8 and p.shape == (20, 20, 3)
    assert p[10, 10].tolist() == [178, 50, 50]  # inside: half way to red
    assert p[5, 10].tolist() == [255, 0, 0]  # edge: full colour outline
    assert p[0, 0].tolist() == [100, 100, 100]  # outside: untouched
    rgba = np.zeros((20, 20, 4), np.uint8)  # transparent image shows a checkerboard
    assert len(np.unique(preview(rgba, empty((20, 20)))[..., 0])) == 2


def test_stroke_at_full_resolution_is_local() -> None:
    # A short stroke in a corner of a large image only touches its own neighbourhood.
    m = stroke((2048, 2048), [(10, 10), (30, 12)], 4)
    assert bbox(m) == (6, 6, 34, 16)


@settings(max_examples=30, deadline=None)
@given(m=hnp.arrays(np.bool_, (20, 23)), r=st.floats(1, 9))
def test_grow_shrink_distance_transform_path_agrees(m: np.ndarray, r: float) -> None:
    """Large radii use scipy's EDT instead of shifted ORs; both must give the same exact result."""
    fast_grow, fast_shrink = grow(m, r), shrink(m, r)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_morphology, "_SHIFT_MAX_RADIUS", 0)
        assert np.array_equal(grow(m, r), fast_grow)
        assert np.array_equal(shrink(m, r), fast_shrink)


def test_grow_large_radius_is_a_disc() -> None:
    g = grow(rectangle((121, 121), (60, 60, 61, 61)), 40.5)
    assert g.sum() == int((_pairwise_dist_to(rectangle((121, 121), (60, 60, 61, 61))) <= 40.5).sum())


@pytest.mark.parametrize("fraction", [-1.0, 1.0])  # always label pixels / always follow runs
@settings(max_examples=60, deadline=None)
@given(m=bool_masks | hnp.arrays(np.bool_, (20, 70), elements=st.sampled_from([True] * 5 + [False])))
def test_fill_holes_matches_scipy(m: np.ndarray, fraction: float) -> None:
    from scipy import ndimage

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_regions, "_FILL_RUNS_MAX_FRACTION", fraction)
        assert np.array_equal(fill_holes(m), ndimage.binary_fill_holes(m))


def test_fill_holes_of_nested_rings_and_a_spiral() -> None:
    from scipy import ndimage

    shape = (120, 140)
    rings = union(
        *(
            subtract(
                ellipse(shape, (k, k, 140 - k, 120 - k)), ellipse(shape, (k + 4, k + 4, 136 - k, 116 - k))
            )
            for k in (2, 12, 22, 32)
        )
    )
    turns = np.linspace(0, 40, 400)
    spiral = stroke(shape, np.stack([70 + 1.2 * turns * np.cos(turns), 60 + turns * np.sin(turns)], 1), 1.5)
    for m in (rings, spiral, ~rings, rings | rectangle(shape, (0, 50, 140, 52))):
        assert np.array_equal(fill_holes(m), ndimage.binary_fill_holes(m))


@settings(max_examples=40, deadline=None)
@given(m=bool_masks, fy=st.integers(1, 4), fx=st.integers(1, 4))
def test_resize_integer_paths_match_the_area_rule(m: np.ndarray, fy: int, fx: int) -> None:
    h, w = m.shape
    up = resize(m, (h * fy, w * fx))
    assert np.array_equal(up, np.kron(m, np.ones((fy, fx), bool)))
    assert np.array_equal(resize(up, (h, w)), m)
    # a non-integer ratio goes through Pillow's box filter with the same at-least-half rule
    odd = resize(m, (h * 3 + 1, w * 2 + 1))
    assert odd.shape == (h * 3 + 1, w * 2 + 1) and odd.dtype == np.bool_


@settings(max_examples=60, deadline=None)
@given(
    m=hnp.arrays(np.bool_, (16, 40)),
    fy=st.sampled_from([1, 2, 4, 8, 16]),
    fx=st.sampled_from([1, 2, 4, 5, 8, 20]),
)
def test_integer_downscale_keeps_blocks_at_least_half_true(m: np.ndarray, fy: int, fx: int) -> None:
    h, w = 16 // fy, 40 // fx
    counts = m.reshape(h, fy, w, fx).sum(axis=(1, 3))
    assert np.array_equal(resize(m, (h, w)), 2 * counts >= fy * fx)
    assert np.array_equal(resize(m[:, ::-1], (h, w)), (2 * counts >= fy * fx)[:, ::-1])  # a strided view


def test_fast_paths_agree_with_pil_paths() -> None:
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (17, 13, 4), dtype=np.uint8)
    m = rng.random((17, 13)) > 0.6
    assert np.array_equal(to_rgba(img, m), to_rgba(Image.fromarray(img), m))
    assert np.array_equal(from_image(to_rgba(img, m)), from_image(Image.fromarray(to_rgba(img, m))))
    with pytest.raises(ValueError, match="mask is 13x17 but image is 17x13"):
        to_rgba(img.transpose(1, 0, 2), m)


@pytest.mark.parametrize("fraction", [0.0, 2.0])  # decode over the whole image / into a window
def test_span_decoding_paths_agree_with_the_definitions(
    monkeypatch: pytest.MonkeyPatch, fraction: float
) -> None:
    monkeypatch.setattr(_runs, "_WHOLE_IMAGE_FRACTION", fraction)
    zigzag = [(float(x), 5.0 + 50.0 * (i % 2)) for i, x in enumerate(np.linspace(0, 200, 61))] + [
        (200.0, 80.0),
        (0.0, 80.0),
    ]
    assert np.array_equal(polygon((90, 210), zigzag), _brute_polygon((90, 210), zigzag))
    assert np.array_equal(stroke((90, 210), zigzag, 3.5), _brute_stroke((90, 210), zigzag, 3.5))
    small = [(20.2, 30.1), (25.7, 33.9)]
    assert np.array_equal(stroke((90, 210), small, 2.2), _brute_stroke((90, 210), small, 2.2))
    px, py = _centres((90, 210))
    assert np.array_equal(
        ellipse((90, 210), (150.5, 70, 230, 120), clip=True),
        ((px - 190.25) / 39.75) ** 2 + ((py - 95) / 25) ** 2 <= 1,
    )


def test_stroke_nearly_horizontal_and_vertical_segments() -> None:
    # A tiny dy makes dx / dy huge: the straight edges must still land on the right pixels.
    for pts in (
        [(0.3, 10.0), (40.7, 10.0 + 1e-9), (60.2, 10.0)],
        [(10.0, 0.4), (10.0 + 1e-12, 30.6)],
        [(5.5, 20.5), (45.5, 20.5), (25.5, 20.5)],
    ):
        got, want = stroke((32, 64), pts, 4.0), _brute_stroke((32, 64), pts, 4.0)
        px, py = _centres((32, 64))
        assert (np.abs(_dist_to_polyline(px, py, pts) - 4.0) < 1e-6)[got != want].all()


@settings(max_examples=40, deadline=None)
@given(m=bool_masks, px=st.floats(0.5, 60))
def test_feather_equals_the_full_distance_transform_rule(m: np.ndarray, px: float) -> None:
    from scipy import ndimage

    if m.all() or not m.any():
        assert np.array_equal(feather(m, px), m.astype(np.float32))
        return
    inside, outside = ndimage.distance_transform_edt(m), ndimage.distance_transform_edt(~m)
    want = np.clip(0.5 + np.where(m, inside - 0.5, 0.5 - outside) / px, 0, 1)
    assert np.allclose(feather(m, px), want, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(m=bool_masks, opacity=st.floats(0, 1))
def test_preview_matches_its_definition(m: np.ndarray, opacity: float) -> None:
    from scipy import ndimage

    img = np.random.default_rng(0).integers(0, 256, (*m.shape, 3), dtype=np.uint8)
    want = img.astype(np.float64)
    want[m] = img[m] * (1 - opacity) + np.array([255, 64, 64]) * opacity
    want = np.round(want)
    want[m & ~ndimage.binary_erosion(m, border_value=1)] = (255, 64, 64)
    got = preview(img, m, opacity=opacity)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


def test_polygon_with_many_vertices_and_self_intersections() -> None:
    rng = np.random.default_rng(7)
    pts = [tuple(p) for p in rng.uniform(-10, 90, (300, 2))]
    assert np.array_equal(polygon((80, 80), pts), _brute_polygon((80, 80), pts))


def test_many_spans_grow_the_cached_run_values() -> None:
    # A comb of 60 teeth over 300 rows: about 18000 span bounds, more than the cache holds.
    teeth = [(x, y) for k in range(60) for x, y in ((5 * k, 0.5), (5 * k + 2.5, 299.5))] + [(300, 0.5)]
    comb = polygon((300, 301), teeth + [(300, 300), (0, 300)])
    assert np.array_equal(comb, _brute_polygon((300, 301), teeth + [(300, 300), (0, 300)]))
    assert comb[150].sum() > 100 and not comb[150].all()


PUBLIC = [
    "bbox",
    "coverage",
    "crop",
    "describe",
    "ellipse",
    "empty",
    "feather",
    "fill_holes",
    "from_image",
    "full",
    "grow",
    "intersect",
    "invert",
    "pad",
    "polygon",
    "preview",
    "rectangle",
    "remove_small",
    "render",
    "resize",
    "shrink",
    "stroke",
    "subtract",
    "to_png",
    "to_rgba",
    "union",
]


def test_public_names_are_the_package_namespace() -> None:
    """``masks`` is a package of private modules; its namespace is the API and stays this list."""
    assert masks.__all__ == PUBLIC
    for name in PUBLIC:
        func = getattr(masks, name)
        assert callable(func) and func.__module__.startswith("dalle_widgets.masks._"), name


def _numpydoc_sections(doc: str) -> dict[str, list[str]]:
    """Section title -> its lines, for the titles underlined with dashes."""
    lines = doc.splitlines()
    sections: dict[str, list[str]] = {}
    current = None
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1]) and len(lines[i + 1]) == len(line):
            current = line
            sections[current] = []
        elif current is not None and not re.fullmatch(r"-{3,}", line):
            sections[current].append(line)
    return sections


@pytest.mark.parametrize("name", PUBLIC)
def test_public_functions_document_parameters_and_returns(name: str) -> None:
    func = getattr(masks, name)
    sections = _numpydoc_sections(inspect.getdoc(func) or "")
    assert "Parameters" in sections and "Returns" in sections, f"{name}: {sorted(sections)}"
    documented = set()
    for line in sections["Parameters"]:
        if line and not line.startswith(" "):
            documented.update(n.strip().lstrip("*") for n in line.split(" : ")[0].split(","))
    assert documented == set(inspect.signature(func).parameters), name
    returns = [line for line in sections["Returns"] if line.strip()]
    assert returns and not returns[0].startswith(" "), f"{name}: the Returns section names no type"
