"""The mood board's Combine: several pinned images become one new image by a multi-image edit,
through the real client, against the offline engine (GPT image surface) and the fake OpenAI
service (prices from ``usage``); refused before sending on a model that takes one image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dalle_widgets.boards import BoardStore
from dalle_widgets.client import AsyncImagesClient, ImagesClient
from dalle_widgets.widgets import MoodBoard
from tests.fixtures.fake_openai import FAKE_KEY, FakeOpenAI


def _solid(rgb: tuple[int, int, int], size: int = 96) -> np.ndarray:
    return np.tile(np.array(rgb, np.uint8), (size, size, 1))


def _board(path: Path, client: object) -> tuple[MoodBoard, list]:
    board = MoodBoard(path, client=client)  # type: ignore[arg-type]
    items = [
        board.pin(_solid((128, 128, 128)), caption="grey room"),
        board.pin(_solid((230, 30, 30)), caption="red swatch"),
        board.pin(_solid((30, 30, 230)), caption="blue swatch"),
    ]
    return board, items


def _toggle(board: MoodBoard, index: int):
    toggle = board.grid.children[index].children[4]
    assert "dalle-select" in toggle._dom_classes
    return toggle


def _click_select(board: MoodBoard, index: int) -> None:
    """The select toggle of tile ``index``."""
    toggle = _toggle(board, index)
    toggle.value = not toggle.value


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_combine_pins_a_new_image_with_its_lineage(offline_engine, tmp_path: Path, kind: str) -> None:
    cls = AsyncImagesClient if kind == "async" else ImagesClient
    client = cls(api_key=offline_engine.token, base_url=offline_engine.base_url, model="gpt-image-2")
    board, (grey, red, _blue) = _board(tmp_path / "b", client)
    _click_select(board, 0)
    _click_select(board, 1)
    assert [i.id for i in board.selected] == [grey.id, red.id]
    board.combine_prompt.value = "the room painted in the swatch's colour"
    assert board.combine_button.description == "Combine 2" and not board.combine_button.disabled
    board.combine_button.click()
    board.wait(120)
    assert board.error is None, board.status.value
    assert len(board.items) == 4
    made = board.items[-1]
    assert made.sources == [grey.id, red.id] and made.caption == "the room painted in the swatch's colour"
    assert made.info["operation"] == "edit" and made.info["model"] == "gpt-image-2"
    assert len(made.info["parent_hashes"]) == 2 and made.info["usage"]["input_tokens_details"]["image_tokens"]
    stored = board.last_combined[0]
    assert stored.path.is_file() and made.path.is_file()  # in the client's store, then on the board
    assert "✓ Combined 2 board images into a new image" in board.status.value
    assert f"${board.last_combined.cost_usd:.3f}" in board.status.value  # priced from its usage
    # the reference steers the result: the grey room comes back red
    pixels = np.asarray(made.image.convert("RGB"), float)
    assert pixels[..., 0].mean() > pixels[..., 1].mean() + 60
    # the lineage is on disk: a reloaded board knows where the new image came from
    again = BoardStore(tmp_path / "b").items[-1]
    assert again.sources == [grey.id, red.id]
    assert again.summary.endswith("(combined from 2 board images, edit, gpt-image-2)")
    if kind == "sync":
        client.close()


def test_a_model_that_takes_one_image_is_refused_before_sending(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    client = AsyncImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url, model="dall-e-2")
    board, items = _board(tmp_path, client)
    board.select(items[0])
    board.select(items[2])
    assert (
        "dall-e-2 takes 1 per edit: Combine needs a model such as gpt-image-2" in board.selection_line.value
    )
    board.combine_prompt.value = "blue room"
    board.combine_button.click()
    board.wait(60)
    assert board.error == (
        "Combine sends the 2 selected images as one edit; dall-e-2 takes 1 input image per edit: "
        "use a model whose edits take 2, e.g. MoodBoard(..., client=AsyncImagesClient(model='gpt-image-2'))"
    )
    assert fake_openai.api_requests() == [] and len(board.items) == 3
    # the Python call says the same, and passing a model that can works
    with pytest.raises(ValueError, match="dall-e-2 takes 1 input image per edit"):
        board.combine("blue room", client=ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url))
    sync = ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url)
    (made,) = board.combine("blue room", client=sync, model="gpt-image-2", quality="low")
    sync.close()
    with pytest.raises(TypeError, match="combine\\(\\) blocks: pass a sync ImagesClient"):
        board.combine("blue room")  # the board's own client is async
    assert fake_openai.last.path == "/v1/images/edits" and fake_openai.last.form["quality"] == "low"
    assert [name for name, *_ in fake_openai.last.file_parts] == ["image[]", "image[]"]
    assert made.sources == [items[0].id, items[2].id]


def test_the_cost_comes_from_usage(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    client = ImagesClient(api_key=FAKE_KEY, base_url=fake_openai.base_url, model="gpt-image-2")
    board, items = _board(tmp_path, client)
    # a source removed while the request is in flight stays in the lineage (undo can bring it back)
    real_edit = client.edit

    def edit_then_remove(*args, **kwargs):
        result = real_edit(*args, **kwargs)
        board.remove(items[1])
        return result

    client.edit = edit_then_remove  # type: ignore[method-assign]
    made = board.combine("a swatch card", items=[items[2].id, 0, items[1]], quality="medium")
    client.close()
    cost = board.last_combined.cost_usd
    assert cost is not None and cost > 0 and made[0].info["cost_usd"] == pytest.approx(cost)
    assert made[0].info["cost_basis"] and f"${cost:.3f}" in board.status.value
    assert made[0].sources == [items[2].id, items[0].id, items[1].id]
    assert len(fake_openai.last.file_parts) == 3


def test_selection_and_refusals_in_the_bar(tmp_path: Path) -> None:
    board, items = _board(tmp_path, ImagesClient(api_key="sk-x", base_url="http://127.0.0.1:9/v1"))
    assert board.combine_button.disabled and "Select 2 or more" in board.selection_line.value
    _click_select(board, 2)
    assert board.combine_button.disabled and "select 1 more" in board.selection_line.value
    _click_select(board, 0)
    tiles = board.grid.children
    assert [_toggle(board, k).description for k in range(3)] == ["2 · reference", "Select", "1 · base"]
    assert "dalle-selected" in tiles[2]._dom_classes and "dalle-selected" not in tiles[1]._dom_classes
    assert "Base: &#x27;blue swatch&#x27;, then 1 reference" in board.selection_line.value
    board.combine_button.click()  # no prompt yet: one line, nothing started
    assert "Describe the new image first" in board.status.value and not board.running
    board.remove(items[2])  # a removed item leaves the selection
    assert [i.id for i in board.selected] == [items[0].id] and board.combine_button.disabled
    board.combine_prompt.value = "x"
    board.guard(board._start_combine)
    assert "Combine needs at least 2 board images; 1 selected: select 1 more" in board.status.value
    board.clear_selection()
    assert board.selected == [] and board.clear_selection_button.disabled
    with pytest.raises(ValueError, match="listed twice"):
        board.combine("x", items=[0, 0])
    with pytest.raises(KeyError, match="sources \\['nope'\\] are not on this board"):
        board.store.pin(_solid((1, 2, 3)), sources=["nope"])
