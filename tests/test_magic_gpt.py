"""``%dalle`` with the GPT image surface: field options, --stream previews, --ref images, vary as an edit."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fixtures.fake_openai import FakeOpenAI
from tests.fixtures.magic import Shell
from tests.test_magic_shell import assert_one_line_error, fake  # noqa: F401 - the fixture


def test_field_options_reach_the_wire(ipshell: Shell, fake: FakeOpenAI) -> None:  # noqa: F811
    run = ipshell.run(
        "%dalle a glass fox --model gpt-image-2 --quality high --background transparent "
        "--output-format webp --output-compression 70 --moderation low --size 1536x864"
    )
    assert run.error is None, run.printed
    sent = fake.last.json
    assert {
        k: sent[k] for k in ("quality", "background", "output_format", "output_compression", "moderation")
    } == {
        "quality": "high",
        "background": "transparent",
        "output_format": "webp",
        "output_compression": 70,
        "moderation": "low",
    }
    assert ipshell.ns["_"][0].path.suffix == ".webp"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "%dalle a fox --model gpt-image-2 --background transparent --output-format jpeg",
            "background='transparent' needs output_format='png' or 'webp' (jpeg has no alpha channel); "
            "got output_format='jpeg' for gpt-image-2",
        ),
        (
            "%dalle a fox --model gpt-image-2 --complexity low",
            "complexity='low': gpt-image-2 takes no complexity field: leave it unset; gpt-image-2.6-flare, "
            "gpt-image-2.6-sunburst take complexity='low' (or register the model with complexities=[...] in "
            "dalle_widgets.models)",
        ),
        (
            "%dalle a fox --model gpt-image-2 --size 1000x1000",
            "size '1000x1000' is not supported by gpt-image-2: 1000x1000: both sides must be multiples "
            "of 16; the nearest valid size is '1008x1008' (or 'auto')",
        ),
        (
            "%dalle a fox --partial-images 2",
            "--partial-images needs --stream (previews arrive while the images are made)",
        ),
        (
            "%dalle a fox --stream",
            "stream=True: dall-e-2 does not stream; drop stream=True (GPT image models such as "
            "gpt-image-2.6-flare, gpt-image-2.6-sunburst do)",
        ),
    ],
)
def test_bad_field_options_fail_with_one_line_and_send_nothing(
    ipshell: Shell,
    fake: FakeOpenAI,  # noqa: F811
    line: str,
    message: str,
) -> None:
    assert_one_line_error(ipshell.run(line), message)
    assert fake.api_requests() == []


def test_stream_shows_previews_then_the_gallery(ipshell: Shell, fake: FakeOpenAI) -> None:  # noqa: F811
    run = ipshell.run("%dalle a lighthouse --model gpt-image-2 --stream --partial-images 2")
    assert run.error is None, run.printed
    assert fake.last.json["stream"] is True and fake.last.json["partial_images"] == 2
    assert ipshell.magics.previews_shown == 2
    result = ipshell.ns["_"]
    assert len(result) == 1 and result[0].info["streamed"] is True
    assert list(result[0].path.parent.iterdir()) == [result[0].path]  # previews never stored


def test_dry_run_shows_the_fields_and_the_stream(ipshell: Shell, fake: FakeOpenAI) -> None:  # noqa: F811
    run = ipshell.run("%dalle a fox --model gpt-image-2 --quality low --stream --dry-run")
    assert run.error is None, run.printed
    text = "\n".join(run.texts())
    assert "quality: low" in text and "stream: yes, 2 preview(s) per image" in text
    assert fake.api_requests() == []


def test_edit_with_references_sends_every_image(ipshell: Shell, fake: FakeOpenAI) -> None:  # noqa: F811
    ipshell.ns["photo"] = np.full((64, 96, 3), 90, np.uint8)
    ipshell.ns["logo"] = np.full((32, 32, 3), 250, np.uint8)
    run = ipshell.run(
        "%dalle edit photo --ref logo --ref logo --model gpt-image-2 put the logo on the wall --no-show"
    )
    assert run.error is None, run.printed
    names = [name for name, *_ in fake.last.file_parts]
    assert names == ["image[]", "image[]", "image[]"] and "mask" not in names


def test_vary_on_a_gpt_model_edits_the_whole_image(ipshell: Shell, fake: FakeOpenAI) -> None:  # noqa: F811
    ipshell.run("r = %dalle a cat --model gpt-image-2 --no-show")
    run = ipshell.run("v = %dalle vary r[0] --model gpt-image-2 --quality low")
    assert run.error is None, run.printed
    assert fake.last.path == "/v1/images/edits" and fake.last.form["quality"] == "low"
    assert ipshell.ns["v"].operation == "vary"


def test_vary_streams_previews_then_the_gallery(ipshell: Shell, fake: FakeOpenAI) -> None:  # noqa: F811
    ipshell.run("r = %dalle a cat --model gpt-image-2 --no-show")
    run = ipshell.run("v = %dalle vary r[0] --model gpt-image-2 -n 2 --stream --partial-images 1")
    assert run.error is None, run.printed
    sent = fake.last
    assert (
        sent.path == "/v1/images/edits"
        and sent.form["stream"] == "true"
        and sent.form["partial_images"] == "1"
    )
    assert ipshell.magics.previews_shown == 2  # one preview of each image, shown in place
    result = ipshell.ns["v"]
    assert result.operation == "vary" and len(result) == 2
    assert all(im.info["operation"] == "vary" and im.info["streamed"] is True for im in result)
    folder = result[0].path.parent  # the two finals (and the cat), never a preview
    assert {p.name for p in folder.iterdir()} == {im.path.name for im in (*ipshell.ns["r"], *result)}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "%dalle vary r[0] --stream",
            "stream=True: dall-e-2 does not stream; drop stream=True (GPT image models such as "
            "gpt-image-2.6-flare, gpt-image-2.6-sunburst do)",
        ),
        (
            "%dalle vary r[0] --partial-images 2",
            "--partial-images needs --stream (previews arrive while the images are made)",
        ),
        (
            "%dalle " + "x" * 1003,
            "prompt is 1003 characters; dall-e-2 accepts at most 1000: shorten it by 3 characters",
        ),
    ],
)
def test_vary_stream_and_long_prompts_are_refused_before_sending(
    ipshell: Shell,
    fake: FakeOpenAI,  # noqa: F811
    line: str,
    message: str,
) -> None:
    ipshell.ns["r"] = [np.full((64, 64, 3), 90, np.uint8)]
    assert_one_line_error(ipshell.run(line), message)
    assert fake.api_requests() == []


def test_vary_dry_run_shows_the_stream(ipshell: Shell, fake: FakeOpenAI) -> None:  # noqa: F811
    ipshell.ns["photo"] = np.full((64, 64, 3), 90, np.uint8)
    run = ipshell.run("%dalle vary photo --model gpt-image-2 --stream --dry-run")
    assert run.error is None, run.printed
    assert "stream: yes, 2 preview(s) per image" in "\n".join(run.texts())
    assert fake.api_requests() == []


def test_the_gallery_of_a_result_asks_its_model(ipshell: Shell, fake: FakeOpenAI) -> None:  # noqa: F811
    run = ipshell.run("r = %dalle a cat --model gpt-image-2 --no-show")
    assert run.error is None, run.printed
    gallery = ipshell.magics._gallery(ipshell.ns["r"], ipshell.magics.client("images"))
    assert gallery.model == "gpt-image-2" and gallery.model_controls.quality_dd.layout.display == ""
    assert gallery.counter.limit == 32000 and gallery.prompt.value == "a cat"


def test_svg_and_gif_results_show_as_a_gallery(ipshell: Shell, fake: FakeOpenAI) -> None:  # noqa: F811
    import base64
    import io

    from PIL import Image

    for fmt, size in (("svg", "1024x1024"), ("gif", "816x816")):
        run = ipshell.run(
            f"%dalle a fox logo --model gpt-image-2.6-flare --output-format {fmt} --size {size}"
        )
        assert run.error is None, run.printed
        image = ipshell.ns["_"][0]
        assert (
            image.format == fmt and image.path.suffix == f".{fmt}" and fake.last.json["output_format"] == fmt
        )
        assert any(t.startswith("Gallery(1 image") for t in run.texts()), run.texts()
        (still,) = [o.data["image/png"] for o in run.outputs if "image/png" in o.data]  # the saved picture
        assert Image.open(io.BytesIO(base64.b64decode(still))).size[0] > 0


def test_format_gif_with_frames_reaches_the_wire(ipshell: Shell, fake: FakeOpenAI) -> None:  # noqa: F811
    import io

    from PIL import Image

    run = ipshell.run(
        "%dalle a spinning top --model gpt-image-2.6-flare --format gif --frames 6 --frame-ms 120 "
        "--size 512x512 --no-show"
    )
    assert run.error is None, run.printed
    sent = fake.last.json
    assert (sent["output_format"], sent["frame_count"], sent["frame_duration_ms"], sent["size"]) == (
        "gif",
        6,
        120,
        "512x512",
    )
    gif = Image.open(io.BytesIO(ipshell.ns["_"][0].path.read_bytes()))
    assert gif.n_frames == 6 and gif.info["duration"] == 120
    dry = ipshell.run("%dalle a spinning top --model gpt-image-2.6-flare --format gif --frames 6 --dry-run")
    text = "\n".join(dry.texts())
    assert "frame_count: 6" in text and "sheet of 8" in text and "960x960" in text, text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "%dalle a top --model gpt-image-2.6-flare --frames 6",
            "frame_count=6 applies to animated GIFs only: add output_format='gif' (gpt-image-2.6-flare "
            "makes them), or drop frame_count",
        ),
        (
            "%dalle a top --model gpt-image-2.6-flare --format gif --frames 6 --size 1024x1024",
            "size '1024x1024' does not fit a GIF on gpt-image-2.6-flare: 1024x1024 is too large for 6 "
            "frames: each frame may have at most 960x960 pixels; the largest frame of that shape for 6 "
            "frames is '960x960'",
        ),
        (
            "%dalle a top --model gpt-image-2.6-flare --format gif --frames six",
            "--frames must be a whole number, got 'six'",
        ),
    ],
)
def test_bad_gif_options_fail_with_one_line(
    ipshell: Shell,
    fake: FakeOpenAI,  # noqa: F811
    line: str,
    message: str,
) -> None:
    assert_one_line_error(ipshell.run(line), message)
    assert fake.api_requests() == []
