"""``%dalle edit`` on a photo dall-e-2 cannot take at its own size: ``--framing window|pad|crop``.

Against the real offline engine (no key): the dry run says what is sent, every framing
comes back at the photo's size with the pixels outside its window untouched, and a
framing that cannot work is refused in one line before anything is sent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dalle_widgets.photo_window import frame_window, square_fit
from tests.fixtures.magic import Shell
from tests.test_magic_shell import assert_one_line_error

DALLE2 = square_fit((256, 512, 1024))


@pytest.fixture
def photo(ipshell: Shell) -> tuple[np.ndarray, np.ndarray]:
    """An 800x600 photo (a gradient, so pixels can be told apart) and a mask right of its centre."""
    yy, xx = np.mgrid[0:600, 0:800]
    pixels = np.stack([xx * 255 // 799, yy * 255 // 599, (xx + yy) % 256], axis=-1).astype(np.uint8)
    mask = np.zeros((600, 800), bool)
    mask[100:200, 500:650] = True
    ipshell.ns["photo"] = Image.fromarray(pixels, "RGB")
    ipshell.ns["m"] = mask
    return pixels, mask


def stored_images(home: Path) -> list[Path]:
    return sorted((home / "images").glob("*/*.png"))


def test_dry_run_says_which_window_is_sent(ipshell: Shell, photo: object, isolated_env: Path) -> None:
    run = ipshell.run("%dalle edit photo --mask m a red hat --dry-run")
    assert run.error is None, run.printed
    text = "\n".join(run.texts())
    assert (
        "--framing window sends a 256x256 window at (447, 22) of your 800x600 photo; "
        "the result keeps 800x600 (or --framing pad or crop)"
    ) in text, text
    prepared = ipshell.ns["_"]
    assert prepared.framing.window.box == (447, 22, 703, 278)
    assert stored_images(isolated_env) == []

    run = ipshell.run("%dalle edit photo --mask m a red hat --framing pad --size 512x512 --dry-run")
    assert run.error is None, run.printed
    assert (
        "--framing pad sends your whole 800x600 photo padded to a square, at 512x512 (scaled x0.64); "
        "the result keeps 800x600 (or --framing window or crop)"
    ) in "\n".join(run.texts())
    assert ipshell.ns["_"].files["image"][2] == (512, 512)
    assert stored_images(isolated_env) == []


@pytest.mark.parametrize("framing", ["window", "pad", "crop"])
def test_each_framing_comes_back_at_the_photo_size(
    ipshell: Shell, photo: tuple[np.ndarray, np.ndarray], framing: str, isolated_env: Path
) -> None:
    pixels, mask = photo
    run = ipshell.run(f"r = %dalle edit photo --mask m a red hat --size 512x512 --framing {framing}")
    assert run.error is None, run.printed
    image = ipshell.ns["r"][0]
    box = frame_window((800, 600), (500, 100, 650, 200), square_fit((512,)), framing).box
    assert image.image.size == (800, 600)
    assert stored_images(isolated_env) == [image.path]  # where the refusals below look
    assert image.info["window"]["box"] == list(box)
    out = np.asarray(image.image.convert("RGB"))
    assert not np.array_equal(out[mask], pixels[mask])  # the masked part was repainted
    outside = np.ones((600, 800), bool)
    outside[max(0, box[1]) : box[3], max(0, box[0]) : box[2]] = False
    assert np.array_equal(out[outside], pixels[outside])  # beyond the window: the photo, exactly
    lines = "\n".join(run.texts())
    assert f"editing photo (1 x 512x512): --framing {framing} sends " in lines, lines
    assert "dall-e-2 800x600 · edited through a 512x512 window, pasted back at 800x600" in lines, lines


def test_a_crop_that_leaves_mask_out_is_refused_before_sending(
    ipshell: Shell, photo: object, isolated_env: Path
) -> None:
    ipshell.ns["m"][300:320, 0:50] = True  # left of the centre 600x600 square
    run = ipshell.run("%dalle edit photo --mask m a red hat --framing crop")
    assert_one_line_error(
        run,
        "%dalle edit: --framing crop sends the centre box (100, 0, 700, 600) of the 800x600 photo, "
        "but 1000 masked pixels lie outside it and would never change: use --framing window or pad, "
        "or keep the mask inside the box",
    )
    assert stored_images(isolated_env) == []


def test_a_bad_framing_is_one_line(ipshell: Shell, photo: object) -> None:
    run = ipshell.run("%dalle edit photo --mask m a red hat --framing squash")
    assert_one_line_error(
        run,
        "--framing must be window (around the mask), pad (the whole photo) or crop (its centre), "
        "got 'squash'",
    )


def test_framing_a_photo_the_model_takes_whole_says_it_is_not_used(ipshell: Shell, photo: object) -> None:
    run = ipshell.run("%dalle edit photo --mask m a red hat --model gpt-image-2 --framing pad --dry-run")
    assert run.error is None, run.printed
    assert "--framing pad not used: gpt-image-2 takes the 800x600 photo as it is" in "\n".join(run.texts())
    assert ipshell.ns["_"].files["image"][2] == (800, 600)


def test_without_a_mask_the_editor_opens_with_the_framing(ipshell: Shell, photo: object) -> None:
    run = ipshell.run("ed = %dalle edit photo --framing pad")
    assert run.error is None, run.printed
    assert ipshell.ns["ed"].framing == "pad"
    assert "--framing F" in ipshell.run("%dalle edit --help").texts()[0]
