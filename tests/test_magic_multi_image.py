"""``%dalle edit IMAGE --ref ...`` with several images: repeated ``--ref``, a list, a result or a
mood board given as one ``--ref``; a model that takes one image is refused in the magic's terms."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fixtures.fake_openai import FakeOpenAI
from tests.fixtures.magic import Shell
from tests.test_magic_shell import assert_one_line_error, fake  # noqa: F401 - the fixture


def _solid(value: int, size: int = 32) -> np.ndarray:
    return np.full((size, size, 3), value, np.uint8)


def _sent_images(fake: FakeOpenAI) -> list[bytes]:  # noqa: F811
    return [data for name, _file, _ctype, data in fake.last.file_parts if name == "image[]"]


def test_a_list_and_a_result_each_send_all_their_images(ipshell: Shell, fake: FakeOpenAI) -> None:  # noqa: F811
    ipshell.ns.update(photo=_solid(90, 64), logo=_solid(250), swatches=[_solid(10), _solid(20)])
    run = ipshell.run(
        "%dalle edit photo --ref logo --ref swatches --model gpt-image-2 a poster of the room --no-show"
    )
    assert run.error is None, run.printed
    sent = _sent_images(fake)
    assert len(sent) == 4 and "mask" not in [name for name, *_ in fake.last.file_parts]
    assert len(ipshell.ns["_"][0].info["parent_hashes"]) == 4  # IMAGE, logo, then the list in order
    ipshell.run("r = %dalle two swatches --model gpt-image-2 -n 2 --no-show")
    run = ipshell.run("%dalle edit photo --ref r --model gpt-image-2 the room in these colours --no-show")
    assert run.error is None, run.printed
    assert len(_sent_images(fake)) == 3
    hashes = ipshell.ns["_"][0].info["parent_hashes"]
    assert hashes[1:] == [im.image_hash for im in ipshell.ns["r"]]


def test_a_mood_board_sends_its_selected_images(ipshell: Shell, fake: FakeOpenAI, tmp_path) -> None:  # noqa: F811
    from dalle_widgets.widgets import MoodBoard

    board = MoodBoard(tmp_path / "board")
    items = [board.pin(_solid(v), caption=str(v)) for v in (30, 60, 90)]
    ipshell.ns.update(photo=_solid(128, 64), board=board)
    run = ipshell.run("%dalle edit photo --ref board --model gpt-image-2 the room --no-show")
    assert run.error is None, run.printed
    assert _sent_images(fake)[1:] == [i.path.read_bytes() for i in items]
    board.select(items[2])
    run = ipshell.run("%dalle edit photo --ref board --model gpt-image-2 the room --no-show")
    assert run.error is None, run.printed
    assert _sent_images(fake)[1:] == [items[2].path.read_bytes()]


@pytest.mark.parametrize(
    ("setup", "line", "message"),
    [
        (
            {"photo": _solid(1, 64), "refs": [_solid(2), _solid(3)]},
            "%dalle edit photo --ref refs --model dall-e-2 merge them",
            "%dalle edit: IMAGE and 2 --ref images make 3 input images; dall-e-2 takes 1 per edit: "
            "drop the --ref images, or add --model gpt-image-2 (its edits take up to 16)",
        ),
        (
            {"photo": _solid(1, 64), "refs": [_solid(2)] * 16},
            "%dalle edit photo --ref refs --model gpt-image-2 merge them",
            "%dalle edit: IMAGE and 16 --ref images make 17 input images; gpt-image-2 takes 16 per edit: "
            "keep at most 15 --ref images",
        ),
        (
            {"photo": _solid(1, 64), "refs": []},
            "%dalle edit photo --ref refs --model gpt-image-2 merge them",
            "--ref 'refs' is empty: put the reference images in it, or drop --ref refs",
        ),
        (
            {"photo": _solid(1, 64), "refs": [_solid(2), 42]},
            "%dalle edit photo --ref refs --model gpt-image-2 merge them",
            "--ref 'refs[1]' is a int, not an image: use a path, a PIL image, a numpy array, "
            "a GeneratedImage or an editor",
        ),
    ],
)
def test_bad_references_fail_with_one_line_and_send_nothing(
    ipshell: Shell,
    fake: FakeOpenAI,  # noqa: F811
    setup: dict,
    line: str,
    message: str,
) -> None:
    ipshell.ns.update(setup)
    assert_one_line_error(ipshell.run(line), message)
    assert fake.api_requests() == []
