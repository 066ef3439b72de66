"""dalle_widgets.outpaint: canvases, the frame plan's rules, seam blending and the frame loop.

The frame loop is exercised here with a small local stand-in for the client (it
records each call and paints a flat colour); the same loop against the real
client and the offline engine over HTTP is in ``test_outpaint_e2e.py``.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from dalle_widgets import masks, outpaint
from dalle_widgets.outpaint import (
    OutpaintCanvas,
    OutpaintIncomplete,
    arun,
    blend,
    draw_plan,
    extend,
    extend_to,
    lower_bound,
    plan,
    run,
)


def _img(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, 255, (h, w, 3), dtype=np.uint8)


# ------------------------------------------------------------------ extend / extend_to


def test_extend_places_the_original_and_marks_the_margins() -> None:
    src = _img(30, 40)
    c = extend(src, left=5, top=7, right=11, bottom=3)
    assert c.size == (56, 40) and c.shape == (40, 56) and c.box == (5, 7, 45, 37)
    assert c.image.dtype == np.uint8 and c.image.shape == (40, 56, 4)
    assert np.array_equal(c.image[7:37, 5:45, :3], src) and (c.image[7:37, 5:45, 3] == 255).all()
    assert np.array_equal(c.mask, ~masks.rectangle((40, 56), c.box))
    assert (c.image[c.mask] == 0).all()
    assert np.array_equal(c.fixed, ~c.mask)
    assert "56x40" in repr(c) and not c.done


def test_extend_treats_transparent_original_pixels_as_unknown() -> None:
    rgba = np.dstack([_img(10, 10), np.full((10, 10), 255, np.uint8)])
    rgba[:3, :3, 3] = 0
    c = extend(rgba, right=4)
    assert c.mask[:3, :3].all() and not c.fixed[:3, :3].any() and (c.image[:3, :3] == 0).all()


def test_extend_to_anchors_and_size_forms() -> None:
    src = _img(100, 100)
    assert extend_to(src, 300).box == (100, 100, 200, 200)
    assert extend_to(src, "300x200", anchor="top-left").box == (0, 0, 100, 100)
    assert extend_to(src, (300, 200), anchor="bottom-right").box == (200, 100, 300, 200)
    assert extend_to(src, (300, 200), anchor=(0.25, 1.0)).box == (50, 100, 150, 200)
    assert extend_to(src, (100, 100)).done


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: extend(_img(4, 4), top=1.5), r"top must be a whole number of pixels >= 0; got 1.5"),
        (lambda: extend(_img(4, 4), right=9000), r"would be 9004x4 px; the largest side allowed is 8192"),
        (lambda: extend(np.zeros((4, 4, 2), np.uint8)), r"image must be shaped"),
        (lambda: extend_to(_img(10, 10), (5, 20)), r"size 5x20 is smaller than the image \(10x10\)"),
        (lambda: extend_to(_img(10, 10), "20by20"), r"size must be 'WIDTHxHEIGHT'"),
        (lambda: extend_to(_img(10, 10), 20, anchor="middle"), r"anchor must be one of"),
        (lambda: extend_to(_img(10, 10), 20, anchor=(2, 0)), r"anchor fractions must lie in \[0, 1\]"),
        (
            lambda: plan(extend(_img(64, 64), right=64), frame=8),
            r"frame must be a whole number of pixels >= 16",
        ),
        (lambda: plan(extend(_img(64, 64), right=64), overlap=64), r"overlap must be .* in \[0, 64\)"),
        (lambda: plan(extend(_img(64, 64), right=64), step=0), r"step must be"),
        (
            lambda: blend(extend(_img(8, 8), right=8), (0, 0, 20, 8), _img(8, 8)),
            r"frame_box .* reaches outside",
        ),
        (
            lambda: blend(extend(_img(8, 8), right=8), (0, 0, 8, 8), _img(8, 8), feather=-1),
            r"feather must be >= 0",
        ),
        (lambda: blend(extend(_img(8, 8), right=8), (0, 0, 8, 8), "nope.png"), r"generated: no file at"),
    ],
)
def test_bad_input(call, match: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------ plan


def _check_plan(c: OutpaintCanvas, frames: list, frame: int, overlap: int) -> None:
    """Every rule of plan(): inside, one shape of the two allowed, covering, ordered by context."""
    h, w = c.shape
    s = min(frame, h, w)
    shapes = {(x1 - x0, y1 - y0) for x0, y0, x1, y1 in frames}
    # squares of the request's shape, or frames as long as a request and as thin as the canvas
    assert shapes <= {(s, s), (min(frame, w), min(frame, h))} and len(shapes) <= 1, shapes
    known = ~c.mask
    for x0, y0, x1, y1 in frames:
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        fw, fh = x1 - x0, y1 - y0
        need = overlap * min(fw, fh)
        region = known[y0:y1, x0:x1]
        assert not region.all(), "a frame must fill something new"
        ctx = int(region.sum())
        if ctx < need:
            # Allowed only when no placement at all could offer the required context.
            best = _best_context(known, fw, fh)
            assert ctx == best < need
        known[y0:y1, x0:x1] = True
    assert known.all(), "every unknown pixel is covered"


def _best_context(known: np.ndarray, fw: int, fh: int) -> int:
    """Most known pixels any fw x fh window holds among windows that still contain unknown pixels."""
    ii = np.pad(known.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    k = ii[fh:, fw:] - ii[:-fh, fw:] - ii[fh:, :-fw] + ii[:-fh, :-fw]
    return int(k[k < fw * fh].max())


def _squares_only(c: OutpaintCanvas, frame: int, overlap: int, step: int | None = None) -> list:
    """The plan with square frames alone (the rule before thin frames): the count to beat."""
    s = min(frame, *c.shape)
    return outpaint._greedy(c, s, s, overlap, step)


@settings(max_examples=60, deadline=None)
@given(
    ih=st.integers(8, 64),
    iw=st.integers(8, 64),
    margins=st.tuples(*[st.integers(0, 90)] * 4),
    frame=st.sampled_from([16, 32, 48, 64]),
    frac=st.sampled_from([0, 4, 8]),
)
def test_plan_rules_hold_for_any_canvas(ih: int, iw: int, margins: tuple, frame: int, frac: int) -> None:
    c = extend(_img(ih, iw), *margins)
    s = min(frame, *c.shape)
    overlap = s // frac if frac else s // 4
    frames = plan(c, frame=frame, overlap=overlap, step=1)
    _check_plan(c, frames, frame, overlap)
    assert len(frames) <= len(_squares_only(c, frame, overlap, step=1))  # never more paid requests
    assert len(frames) >= lower_bound(c, frame)
    if c.done:
        assert frames == []


@settings(max_examples=40, deadline=None)
@given(
    thin=st.integers(8, 200),
    length=st.integers(300, 3000),
    margins=st.tuples(st.integers(0, 1200), st.integers(0, 1200)),
    tall=st.booleans(),
)
def test_thin_canvases_take_few_long_frames_with_context(
    thin: int, length: int, margins: tuple, tall: bool
) -> None:
    """A strip thinner than a request: every unknown pixel covered, each frame with a quarter of
    context, and about one frame per 768 px of margin (1024 px frames), not one per ``thin`` px."""
    a, b = margins
    c = extend(_img(length, thin), top=a, bottom=b) if tall else extend(_img(thin, length), left=a, right=b)
    frames = plan(c)
    _check_plan(c, frames, 1024, min(1024, *c.shape) // 4)
    long_side = min(1024, max(c.size))
    adds = long_side - long_side // 4 - long_side // 32  # new pixels a frame can add along the strip
    assert len(frames) <= max(1, sum(math.ceil(m / adds) for m in (a, b)))


def test_a_2000x50_strip_takes_2_frames_not_26() -> None:
    c = extend(_img(50, 2000), left=512, right=512)  # 3024 x 50
    squares = _squares_only(c, 1024, 50 // 4)
    frames = plan(c)
    assert len(squares) >= 20 and frames == [(0, 0, 1024, 50), (2000, 0, 3024, 50)]
    assert lower_bound(c) == 1  # the two margins are apart: 2 is the least that has context


def test_plan_default_grid_and_typical_canvases() -> None:
    src = np.zeros((1024, 1024, 3), np.uint8)
    for c in (
        extend_to(src, 2048),
        extend(src, left=1024, right=1024),
        extend_to(src[:512, :512], (768, 1536)),
    ):
        frames = plan(c)
        _check_plan(c, frames, 1024, min(1024, *c.shape) // 4)
        assert len(frames) <= 2 * lower_bound(c)


def test_plan_square_canvas_takes_one_frame_and_long_small_canvas_one() -> None:
    assert plan(extend(_img(256, 256), left=128, right=128, top=128, bottom=128)) == [(0, 0, 512, 512)]
    # longer side under 1024: one 800x500 frame (sent centred in a square) beats two 500 px squares
    c = extend_to(_img(400, 400), (800, 500))
    assert plan(c) == [(0, 0, 800, 500)] and len(_squares_only(c, 1024, 125)) == 2
    # a tie keeps the squares: the smaller request
    assert plan(extend(_img(512, 512), right=256)) == [(256, 0, 768, 512)]
    assert plan(extend(_img(64, 64))) == []


def test_plan_orders_frames_outward_from_the_original() -> None:
    c = extend(_img(64, 64), right=192)  # 256 x 64 strip, original on the left
    frames = plan(c, frame=64)
    xs = [b[0] for b in frames]
    assert xs == sorted(xs), "each frame must come after the one that gives it context"


# ------------------------------------------------------------------ blend


@settings(max_examples=40, deadline=None)
@given(
    margins=st.tuples(*[st.integers(0, 40)] * 4),
    feather=st.floats(0, 20),
    seed=st.integers(0, 1000),
)
def test_blend_never_touches_original_pixels(margins: tuple, feather: float, seed: int) -> None:
    c = extend(_img(24, 24, seed), *margins)
    original = c.image.copy()
    rng = np.random.default_rng(seed)
    for box in plan(c, frame=32):
        gen = rng.integers(0, 256, (box[3] - box[1], box[2] - box[0], 3), dtype=np.uint8)
        c = blend(c, box, gen, feather=feather)
    assert c.done
    assert np.array_equal(c.image[c.fixed], original[c.fixed])
    assert (c.image[..., 3] == 255).all()


def test_blend_fills_unknown_and_crossfades_only_earlier_frames() -> None:
    c = extend(np.zeros((64, 64, 3), np.uint8), right=64)  # 128 x 64, original black on the left
    before = c.image.copy()
    c1 = blend(c, (32, 0, 96, 64), np.full((64, 64, 3), 100, np.uint8), feather=8)
    assert np.array_equal(c.image, before), "the input canvas is not modified"
    assert (c1.image[:, 64:96, :3] == 100).all() and (c1.image[:, :64, :3] == 0).all()
    assert c1.mask[:, 96:].all() and not c1.mask[:, :96].any()
    c2 = blend(c1, (64, 0, 128, 64), np.full((64, 64, 3), 200, np.uint8), feather=8)
    row = c2.image[10, :, 0].astype(int)
    assert (row[:64] == 0).all()  # the original is untouched
    assert (row[96:] == 200).all()
    seam = row[64:96]
    assert seam[0] == 100 and seam[-1] > 180 and (np.diff(seam) >= 0).all()  # a ramp from old to new
    hard = blend(c1, (64, 0, 128, 64), np.full((64, 64, 3), 200, np.uint8), feather=0)
    assert (hard.image[10, 64:96, 0] == 100).all()


def test_blend_resizes_a_result_made_at_another_size() -> None:
    c = extend(np.zeros((96, 96, 3), np.uint8), right=32)
    out = blend(c, (32, 0, 128, 96), np.full((256, 256, 3), 50, np.uint8))
    assert out.done and (out.image[:, 96:, 0] == 50).all()


def test_draw_plan_shows_checkerboard_and_frames(tmp_path: Path) -> None:
    c = extend_to(_img(64, 64), (160, 96))
    pic = draw_plan(c, plan(c, frame=96))
    assert pic.size == (160, 96) and pic.mode == "RGB"
    arr = np.asarray(pic)
    assert arr[0, 0].tolist() == [255, 64, 64]  # first frame outline in the default colour
    assert len(np.unique(arr[40:60, 10:20, 0])) >= 2  # checkerboard in the unknown margin
    pic.save(tmp_path / "plan.png")


# ------------------------------------------------------------------ the frame loop (local stand-in client)


class _Generated:
    def __init__(self, image: Image.Image, info: dict[str, Any]) -> None:
        self.image, self.info, self.path = image, info, None


class _Store:
    def __init__(self) -> None:
        self.saved: list[tuple[Image.Image, dict]] = []

    def save(self, image: Any, info: dict) -> str:
        self.saved.append((image, info))
        return f"composite-{len(self.saved)}.png"


class _RecordingClient:
    """Answers each edit with a flat colour per call; can fail on a chosen call."""

    model = "dall-e-2"

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_on = fail_on
        self.store = _Store()

    def _answer(self, image: Any, prompt: str, **kw: Any) -> list[_Generated]:
        self.calls.append({"image": image, "prompt": prompt, **kw})
        if self.fail_on is not None and len(self.calls) == self.fail_on:
            raise RuntimeError("server exploded")
        side = int(kw["size"].split("x")[0])
        value = 40 * len(self.calls)
        return [_Generated(Image.new("RGB", (side, side), (value, value, value)), {"call": len(self.calls)})]

    def edit(self, image: Any, prompt: str, **kw: Any) -> list[_Generated]:
        return self._answer(image, prompt, **kw)


class _AsyncRecordingClient(_RecordingClient):
    async def edit(self, image: Any, prompt: str, **kw: Any) -> list[_Generated]:  # type: ignore[override]
        await asyncio.sleep(0)
        return self._answer(image, prompt, **kw)


def test_run_sends_each_frame_with_its_mask_and_blends_in_order() -> None:
    src = _img(512, 512)
    c = extend(src, right=256, bottom=256)  # 768 x 768: one frame, sent at 1024
    client = _RecordingClient()
    progress: list[tuple[int, int]] = []
    res = run(client, c, "a landscape", on_progress=lambda d, t, cv, rec: progress.append((d, t)))
    assert res.complete and res.image.mode == "RGB" and res.image.size == (768, 768)
    assert len(client.calls) == 1 and progress == [(1, 1)]
    call = client.calls[0]
    assert call["n"] == 1 and call["size"] == "1024x1024" and call["prompt"] == "a landscape"
    assert call["image"].size == (1024, 1024) and call["image"].mode == "RGBA"
    assert call["mask"].shape == (1024, 1024) and call["mask"].dtype == bool
    sent_alpha = np.asarray(call["image"])[..., 3]
    assert np.array_equal(sent_alpha == 0, call["mask"])  # the image's alpha agrees with the mask
    assert np.array_equal(res.to_numpy()[:512, :512], src)  # the original is bit-identical
    assert res.path == "composite-1.png"
    info = client.store.saved[0][1]
    assert info["operation"] == "outpaint" and info["complete"] and len(info["frames"]) == 1
    assert res.frames[0].info == {"call": 1} and res.frames[0].request_size == "1024x1024"


def test_run_multi_frame_masks_are_the_unknown_part_of_each_frame() -> None:
    c = extend(_img(64, 64), right=192)
    client = _RecordingClient()
    res = run(client, c, "p", frame=64, size="256x256")
    assert res.complete and len(client.calls) == len(res.planned) == len(res.frames)
    known = ~c.mask
    for call, box in zip(client.calls, res.planned, strict=True):
        x0, y0, x1, y1 = box
        want = masks.resize(~known[y0:y1, x0:x1], (256, 256))
        assert np.array_equal(call["mask"], want)
        known[y0:y1, x0:x1] = True


def test_run_keeps_finished_frames_when_a_frame_fails() -> None:
    c = extend(_img(64, 64), right=192)
    client = _RecordingClient(fail_on=2)
    with pytest.raises(
        OutpaintIncomplete,
        match=r"stopped at frame 2 of \d+ \(RuntimeError: server exploded\); "
        r"1 frame kept, composite stored at composite-1.png",
    ) as err:
        run(client, c, "p", frame=64)
    partial = err.value.result
    assert isinstance(err.value.__cause__, RuntimeError)
    assert len(partial.frames) == 1 and not partial.complete and partial.image.mode == "RGBA"
    assert client.store.saved and client.store.saved[0][1]["complete"] is False
    # Resume from the partial canvas: only what is left is sent.
    again = _RecordingClient()
    done = run(again, partial.canvas, "p", frame=64)
    assert done.complete and len(again.calls) == len(partial.planned) - 1
    # on_error="return" hands back the partial result instead of raising
    res = run(_RecordingClient(fail_on=1), c, "p", frame=64, on_error="return")
    assert isinstance(res.error, RuntimeError) and res.frames == [] and not res.complete


def test_run_sends_a_thin_frame_centred_in_a_square_and_keeps_its_part() -> None:
    src = _img(20, 200)
    c = extend(src, left=100, right=60)  # 360 x 20: one 360x20 frame, sent in a 512 square
    client = _RecordingClient()
    res = run(client, c, "a long frieze")
    assert res.planned == [(0, 0, 360, 20)] and len(client.calls) == 1
    call = client.calls[0]
    assert call["size"] == "512x512" and call["image"].size == (512, 512) and call["mask"].shape == (512, 512)
    # the strip sits centred (rows 242..270 at 512/360 scale); everything around it is asked for
    mask = call["mask"]
    rows = np.flatnonzero(~mask.all(axis=1))
    assert 236 <= rows.min() and rows.max() <= 276 and mask[:200].all() and mask[320:].all()
    assert np.array_equal(np.asarray(call["image"])[..., 3] == 0, mask)
    assert res.complete and res.image.size == (360, 20)
    assert np.array_equal(res.to_numpy()[:, 100:300], src)  # the original is untouched
    assert (res.to_numpy()[:, :100] == 40).all() and (res.to_numpy()[:, 300:] == 40).all()


def test_run_refuses_bad_arguments_before_sending() -> None:
    client = _RecordingClient()
    c = extend(_img(64, 64), right=64)
    for kwargs, match in [
        ({"n": 2}, "do not pass n= or mask="),
        ({"on_error": "ignore"}, "on_error must be"),
        ({"size": "512x256"}, "size must be square"),
        ({"frames": [(0, 0, 64, 300)]}, "frame_box"),
    ]:
        with pytest.raises(ValueError, match=match):
            run(client, c, "p", **kwargs)
    with pytest.raises(ValueError, match="prompt must be a non-empty string"):
        run(client, c, "  ")
    with pytest.raises(ValueError, match="canvas must be an OutpaintCanvas"):
        run(client, _img(8, 8), "p")
    assert client.calls == []


def test_arun_is_the_async_twin() -> None:
    c = extend(_img(64, 64), right=192)
    client = _AsyncRecordingClient()
    seen: list[int] = []

    async def progress(done: int, total: int, canvas: OutpaintCanvas, record: Any) -> None:
        seen.append(done)

    res = asyncio.run(arun(client, c, "p", frame=64, on_progress=progress))
    sync = run(_RecordingClient(), c, "p", frame=64)
    assert res.complete and seen == list(range(1, len(res.planned) + 1))
    assert np.array_equal(res.to_numpy(), sync.to_numpy())
    failing = _AsyncRecordingClient(fail_on=2)
    with pytest.raises(OutpaintIncomplete):
        asyncio.run(arun(failing, c, "p", frame=64))
    assert failing.store.saved and failing.store.saved[0][1]["complete"] is False


def test_arun_blends_and_writes_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Like the async client, arun leaves the loop free: planning, blending and storing run in a worker."""
    import threading

    threads: dict[str, set[int]] = {"blend": set(), "save": set()}
    real_blend = outpaint.blend

    def blend(*args: Any, **kwargs: Any) -> Any:
        threads["blend"].add(threading.get_ident())
        return real_blend(*args, **kwargs)

    monkeypatch.setattr(outpaint, "blend", blend)
    client = _AsyncRecordingClient()
    real_save = client.store.save

    def save(image: Any, info: dict) -> str:
        threads["save"].add(threading.get_ident())
        return real_save(image, info)

    client.store.save = save  # type: ignore[method-assign]

    async def main() -> tuple[int, Any]:
        return threading.get_ident(), await arun(client, extend(_img(64, 64), right=128), "p", frame=64)

    loop_thread, res = asyncio.run(main())
    assert res.complete and threads["blend"] and threads["save"]
    assert loop_thread not in threads["blend"] | threads["save"]


def test_arun_cancellation_keeps_the_finished_frames() -> None:
    c = extend(_img(64, 64), right=192)

    class Slow(_AsyncRecordingClient):
        async def edit(self, image: Any, prompt: str, **kw: Any) -> list[_Generated]:  # type: ignore[override]
            if len(self.calls) >= 1:
                await asyncio.sleep(30)
            return self._answer(image, prompt, **kw)

    client = Slow()

    async def main() -> None:
        task = asyncio.ensure_future(arun(client, c, "p", frame=64))
        for _ in range(50):
            await asyncio.sleep(0.01)
            if client.calls:
                break
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert len(client.store.saved) == 1 and len(client.store.saved[0][1]["frames"]) == 1


def test_request_size_follows_the_model_table() -> None:
    def square(side: int) -> list[tuple[int, int, int, int]]:
        return [(0, 0, side, side)]

    assert outpaint.request_size(square(200)) == 256
    assert outpaint.request_size(square(300), "dall-e-2") == 512
    assert outpaint.request_size([*square(100), (0, 0, 768, 768)]) == 1024  # the largest frame decides
    assert outpaint.request_size(square(768), "gpt-image-1") == 1024
    assert outpaint.request_size(square(768), "dall-e-2", "512x512") == 512
    assert outpaint.request_size(square(2048), "dall-e-2") == 1024  # the largest offered; scaled back


def test_run_sends_frames_at_the_public_request_size() -> None:
    """run(), the magic's --dry-run and the editor's price all use outpaint.request_size."""
    c = extend(_img(300, 300), right=100)
    client = _RecordingClient()
    run(client, c, "a landscape", frame=300)
    side = outpaint.request_size(plan(c, frame=300), "dall-e-2")
    assert side == 512 and {call["size"] for call in client.calls} == {"512x512"}


def test_a_scaled_frame_keeps_the_known_edge_colour() -> None:
    """Scaling a frame for the request must not darken known pixels with the transparent hole beside them."""
    from dalle_widgets.outpaint import _frame_request

    grey = np.full((512, 512, 3), 200, np.uint8)
    c = extend(grey, right=512)
    image, unknown = _frame_request(c, (256, 0, 768, 512), 256)
    rgba = np.asarray(image)
    known = rgba[~unknown]
    assert unknown[:, 128:].all() and not unknown[:, :128].any()
    assert np.all(known[:, 3] == 255) and np.abs(known[:, :3].astype(int) - 200).max() <= 1
    assert np.all(rgba[unknown] == 0)
