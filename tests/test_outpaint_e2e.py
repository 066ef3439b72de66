"""Outpainting end to end: the real client, over HTTP, against the offline engine.

No stand-ins: ``outpaint.run``/``arun`` call ``ImagesClient.edit`` /
``AsyncImagesClient.edit``, which talk to the engine on 127.0.0.1; every frame
and the composite land in the store with their provenance.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from dalle_widgets import outpaint
from dalle_widgets.client import AsyncImagesClient, ImagesClient
from dalle_widgets.store import open_image

pytestmark = pytest.mark.slow


def _photo(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = [96 + 80 * np.sin(xx / (19 + 6 * c)) * np.cos(yy / (29 + 4 * c)) + 40 * c for c in range(3)]
    return np.clip(np.stack(rgb, -1), 0, 255).astype(np.uint8)


def _check_finished(res: outpaint.OutpaintResult, src: np.ndarray, canvas: outpaint.OutpaintCanvas) -> None:
    assert res.complete and res.error is None
    out = res.to_numpy()
    assert out.shape == (canvas.shape[0], canvas.shape[1], 3)
    x0, y0, x1, y1 = canvas.box
    assert np.array_equal(out[y0:y1, x0:x1], src), "the original's pixels are never changed"
    assert len(res.frames) == len(res.planned) >= 2
    for rec in res.frames:
        assert rec.path and Path(rec.path).is_file()
        stored = open_image(rec.path)
        assert stored.info["operation"] == "edit" and stored.info.get("mask_hash")
    # The composite is on disk with every frame's provenance.
    assert res.path is not None and Path(res.path).is_file()
    info = open_image(res.path).info
    assert info["operation"] == "outpaint" and info["complete"] is True
    assert [f["path"] for f in info["frames"]] == [rec.path for rec in res.frames]
    # The fill continues the picture: no hard jump at any border of the original that was extended.
    h, w = canvas.shape
    pairs = []
    if x1 < w:
        pairs.append((out[y0:y1, x1], out[y0:y1, x1 - 1], src[:, -2]))
    if x0 > 0:
        pairs.append((out[y0:y1, x0 - 1], out[y0:y1, x0], src[:, 1]))
    if y1 < h:
        pairs.append((out[y1, x0:x1], out[y1 - 1, x0:x1], src[-2]))
    if y0 > 0:
        pairs.append((out[y0 - 1, x0:x1], out[y0, x0:x1], src[1]))
    assert pairs
    for outside, edge, inside in pairs:
        jump = np.abs(outside.astype(int) - edge.astype(int)).mean()
        inner = np.abs(edge.astype(int) - inside.astype(int)).mean()
        assert jump < inner + 12  # measured 1-4 over the inner step; 20+ with darkened frames


def test_run_fills_a_wide_canvas_through_the_real_client(offline_engine, tmp_path: Path) -> None:
    src = _photo(256, 256)
    canvas = outpaint.extend(src, left=128, right=256)
    progress: list[tuple[int, int]] = []
    with ImagesClient(api_key=offline_engine.token, base_url=offline_engine.base_url) as client:
        res = outpaint.run(
            client,
            canvas,
            "a calm sea under soft clouds",
            frame=256,  # 256 px frames: several seams to check
            seed=7,
            on_progress=lambda done, total, cv, rec: progress.append((done, total)),
        )
    _check_finished(res, src, canvas)
    assert progress == [(i + 1, len(res.planned)) for i in range(len(res.planned))]
    assert all(rec.request_size == "256x256" for rec in res.frames)
    outpaint.draw_plan(canvas, res.planned).save(tmp_path / "plan.png")
    res.image.save(tmp_path / "outpainted.png")


def test_arun_fills_a_tall_canvas_through_the_async_client(offline_engine) -> None:
    src = _photo(200, 300)
    canvas = outpaint.extend_to(src, (300, 500), anchor="top")  # 300 px frames, sent at 512

    async def main() -> outpaint.OutpaintResult:
        async with AsyncImagesClient(
            api_key=offline_engine.token, base_url=offline_engine.base_url
        ) as client:
            return await outpaint.arun(client, canvas, "rolling green hills", frame=300, seed=3)

    res = asyncio.run(main())
    _check_finished(res, src, canvas)
    assert all(rec.request_size == "512x512" for rec in res.frames)


def test_a_thin_strip_fills_in_two_long_frames_through_the_real_client(offline_engine) -> None:
    src = _photo(40, 600)
    canvas = outpaint.extend(src, left=300, right=300)  # 1200 x 40: two 512x40 frames, not 40 px squares
    with ImagesClient(api_key=offline_engine.token, base_url=offline_engine.base_url) as client:
        res = outpaint.run(client, canvas, "a long frieze of waves", frame=512, seed=5)
    assert res.planned == [(0, 0, 512, 40), (688, 0, 1200, 40)]
    _check_finished(res, src, canvas)
    assert all(rec.request_size == "512x512" for rec in res.frames)


def test_a_failing_frame_keeps_what_was_finished(offline_engine) -> None:
    src = _photo(128, 128)
    canvas = outpaint.extend(src, right=256)
    client = ImagesClient(api_key=offline_engine.token, base_url=offline_engine.base_url)

    def cut_the_line(done: int, total: int, cv: outpaint.OutpaintCanvas, rec: outpaint.FrameRecord) -> None:
        if done == 1:
            client.close()  # the next frame cannot be sent

    with pytest.raises(
        outpaint.OutpaintIncomplete,
        match=r"stopped at frame 2 of \d+ .*1 frame kept, "
        r"composite stored at",
    ) as err:
        outpaint.run(client, canvas, "a sunny beach", frame=128, on_progress=cut_the_line)
    partial = err.value.result
    assert len(partial.frames) == 1 and not partial.complete
    assert Path(partial.frames[0].path).is_file()
    stored = open_image(partial.path)
    assert stored.info["complete"] is False and len(stored.info["frames"]) == 1
    # Resuming from the partial canvas sends only the frames that are left.
    with ImagesClient(api_key=offline_engine.token, base_url=offline_engine.base_url) as again:
        done = outpaint.run(again, partial.canvas, "a sunny beach", frame=128)
    assert done.complete and len(done.frames) == len(partial.planned) - 1
    x0, y0, x1, y1 = canvas.box
    assert np.array_equal(done.to_numpy()[y0:y1, x0:x1], src)
