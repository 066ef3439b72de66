"""Widgets generating through the real client and the offline engine over HTTP on 127.0.0.1.

No browser: the same methods the buttons call. Generation runs as a task on the
running asyncio loop when there is one (the kernel's case) and on the fallback
loop thread otherwise.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from dalle_widgets import imaging
from dalle_widgets.client import AsyncImagesClient, ImagesClient
from dalle_widgets.widgets import Gallery, MaskEditor, MoodBoard, OutpaintEditor


@pytest.fixture
def aclient(offline_engine) -> AsyncImagesClient:
    return AsyncImagesClient(api_key=offline_engine.token, base_url=offline_engine.base_url)


@pytest.fixture
def sclient(offline_engine):
    client = ImagesClient(api_key=offline_engine.token, base_url=offline_engine.base_url)
    yield client
    client.close()


def _base(size: int = 256) -> np.ndarray:
    # textured, so that fills with different seeds differ (a smooth ramp fills the same way every time)
    yy, xx = np.mgrid[0:size, 0:size]
    noise = np.random.default_rng(size).integers(0, 64, (size, size))
    return np.dstack([(xx + noise) % 256, (yy + noise) % 256, np.full_like(xx, 128)]).astype(np.uint8)


def _editor(client, **kw) -> MaskEditor:
    ed = MaskEditor(_base(), client=client, display_px=128, prompt="a red balloon", n=2, size="256x256", **kw)
    ed.add_rectangle((64, 64, 192, 192))
    return ed


def _run_rows(ed: MaskEditor) -> list[str]:
    return [row.children[0].value for row in ed.staging_box.children]


def test_generate_stage_accept_more(aclient) -> None:
    ed = _editor(aclient)
    assert ed.generate() is not None and ed.running
    result = ed.wait(120)
    assert ed.error is None and len(result) == 2 and len(ed.staging) == 2
    (row,) = _run_rows(ed)  # one run, labelled with its prompt, size and cost
    assert "edit" in row and "a red balloon" in row and "256x256" in row and "$0.032" in row
    assert result[0].info["operation"] == "edit" and result[0].path.is_file()  # on disk before display
    assert "✓ 2" in ed.progress.value
    ed.more_like(0)
    ed.wait(120)
    assert len(ed.staging) == 4 and ed.last_result[0].info["operation"] in ("vary", "variation")
    assert ed.staging[:2] == list(ed.last_result)  # newest run first
    assert "variations" in _run_rows(ed)[0]
    before = ed.image
    ed.accept(3)
    assert not ed.mask.any() and len(ed.staging) == 3 and ed.history[-1].shape == before.shape
    assert all(ed.is_stale(i) for i in range(3))  # made from the base that was just replaced
    assert all("dalle-stale" in c._dom_classes for c in ed._cards)
    ed.undo()
    assert ed.mask.any() and not ed.is_stale(2)


def test_every_generate_asks_for_new_images_and_no_duplicate_is_staged(aclient) -> None:
    ed = _editor(aclient)
    for _ in range(3):  # the same inputs, pressed three times
        ed.generate()
        ed.wait(120)
        assert ed.error is None
    staged = ed.staging
    hashes = {imaging.image_hash(im.image) for im in staged}
    assert len(hashes) == len(staged) == 6  # fresh each time (the cache was refreshed), no look-alikes
    assert not any(im.info.get("cached") for im in staged)
    # a replay of the same pixels (what the request cache would give back) is never staged twice
    assert ed.stage([staged[0]]) == 0 and len(ed.staging) == 6


def test_generation_leaves_the_loop_free(aclient) -> None:
    async def main() -> tuple[int, object]:
        ed = _editor(aclient)
        fut = ed.generate()
        assert isinstance(fut, asyncio.Future)  # scheduled on this (the kernel's) loop, not blocking it
        ticks = 0
        while ed.running:
            ticks += 1
            await asyncio.sleep(0.01)
        return ticks, await ed._tasks.join()

    ticks, result = asyncio.run(main())
    assert ticks >= 3 and len(result) == 2


def test_cancel_keeps_widget_usable(aclient) -> None:
    ed = _editor(aclient)
    ed.generate()
    assert ed.cancel()
    assert ed._tasks.wait(30) is None
    deadline = time.monotonic() + 10
    while ed.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ed.progress.value == "Cancelled" and ed.staging == []
    assert not ed.generate_button.disabled and ed.cancel_button.disabled
    ed.generate()
    assert len(ed._tasks.wait(120)) == 2


def test_errors_are_one_line_and_widget_recovers(aclient) -> None:
    dead = AsyncImagesClient(
        api_key="sk-test-not-a-real-key-000000", base_url="http://127.0.0.1:9/v1", max_retries=0, timeout=5
    )
    ed = _editor(dead)
    ed.generate()
    ed._tasks.wait(60)
    assert ed.error and "\n" not in ed.error and "sk-test" not in ed.status.value
    assert "⚠" in ed.status.value and "Traceback" not in ed.status.value
    assert not ed.generate_button.disabled
    ed._client = aclient
    ed.generate()
    assert len(ed._tasks.wait(120)) == 2 and ed.status.value == ""


def test_sync_client_works_too(sclient) -> None:
    ed = _editor(sclient)
    ed.generate()
    assert len(ed._tasks.wait(120)) == 2


def test_gallery_vary_builds_lineage(aclient) -> None:
    g = Gallery([_base()], client=aclient, thumb_px=64, vary_n=2)
    g.grid.children[0].children[2].children[0].click()  # the Vary button
    g._tasks.wait(120)
    assert g.error is None and len(g.lineage[0]) == 1
    child = g.lineage[0][0]
    assert len(child.images) == 2 and child in g.lineage_box.children
    assert [child.label(i) for i in range(2)] == ["#0.1", "#0.2"]  # labelled by lineage, not #0 again
    assert "#0.1" in child.grid.children[0].children[1].children[0].value and "#0.1" not in g.header.value
    child.vary(1)  # lineages nest
    child._tasks.wait(120)
    grandchild = child.lineage[1][0]
    assert len(grandchild.images) == 2 and grandchild.label(0) == "#0.2.1"
    assert "variations of #0.2" in grandchild.header.value and "variations of #0.2" in child.status.value
    g.vary(0)  # a second row of variations of #0 goes on counting
    g._tasks.wait(120)
    assert g.lineage[0][1].label(0) == "#0.3"


def test_board_vary_all(sclient, aclient, tmp_path: Path) -> None:
    board = MoodBoard(tmp_path, client=aclient)
    board.pin(_base(), caption="a")
    board.pin(_base()[::-1].copy(), caption="b")
    results = board.vary_all(sclient, n=1)
    assert len(results) == 2 and all(len(r) == 1 for r in results)
    assert len(board.variations_box.children[0].images) == 2
    board.vary_button.click()
    board._tasks.wait(120)
    assert "2 variations of 2 pinned" in board.status.value


def test_outpaint_fill_and_cancel_keeps_frames(aclient) -> None:
    ed = OutpaintEditor(_base(512), client=aclient, display_px=256, frame=512)  # 512 px frames: three
    ed.prompt.value = "a wide landscape"
    ed.set_margins(left=256, right=768)
    assert len(ed.plan) == 3
    ed.generate()
    deadline = time.monotonic() + 120
    while not ed.frames_done and time.monotonic() < deadline:
        time.sleep(0.05)
    ed.cancel()
    ed._tasks.wait(60)
    kept = len(ed.frames_done)
    assert 1 <= kept < 3 and "Cancelled" in ed.progress_label.value
    assert ed.canvas_state.mask.any() and not ed.canvas_state.mask[:, 640:1152].all()
    # the original's pixels are untouched and Fill resumes with what is left
    np.testing.assert_array_equal(np.asarray(ed.canvas_state.image)[:, 256:768, :3], _base(512))
    ed.generate()
    result = ed._tasks.wait(300)
    assert result.complete and ed.canvas_state.done and ed.progress.value == len(ed.frames_done)
    assert ed.image.size == (1536, 512) and ed.image.mode == "RGB"


def test_outpaint_refuses_before_sending(aclient) -> None:
    ed = OutpaintEditor(_base(), client=aclient, display_px=128)
    ed.prompt.value = "x"
    assert ed.generate() is None and "Nothing to fill" in ed.status.value
    with pytest.raises(ValueError, match="whole number of pixels"):
        ed.set_margins(left=-3)
    ed.target.value = "100x100"
    ed.apply_target.click()
    assert "smaller than the image" in ed.status.value
    ed.set_target("512x256", anchor="left")
    assert ed.margins == {"left": 0, "top": 0, "right": 256, "bottom": 0}
