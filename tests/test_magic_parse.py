"""The %dalle command line as pure functions: splitting, interpolation, parsing, value resolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from IPython.core.error import UsageError

from dalle_widgets.magics._lexer import interpolate, split_words
from dalle_widgets.magics._parser import COMMANDS, full_help, parse, parser_for
from dalle_widgets.magics._resolve import resolve_image, resolve_mask, to_int, to_protocol, to_size

# --- splitting ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("a watercolor fox -n 4", ["a", "watercolor", "fox", "-n", "4"]),
        ('"a red fox" -n 2', ["a red fox", "-n", "2"]),
        ("'a red fox' --size=512x512", ["a red fox", "--size=512x512"]),
        ("--size='512x512'", ["--size=512x512"]),
        ("a fox's den", ["a", "fox's", "den"]),
        ("'a fox's den' -n 1", ["a fox's den", "-n", "1"]),
        ('say "it\\"s" now', ["say", 'it"s', "now"]),
        ('a ""', ["a", ""]),
        ("a {', '.join(xs)} b", ["a", "{', '.join(xs)}", "b"]),
        ("{d['k y']}x", ["{d['k y']}x"]),
        ("{{literal}} {x}", ["{{literal}}", "{x}"]),
        ("  spaced   out  ", ["spaced", "out"]),
        ("", []),
    ],
)
def test_split_words(line: str, words: list[str]) -> None:
    assert split_words(line) == words


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "'unclosed prompt",
            "unclosed ' quote in \"'unclosed prompt\": close it, or put the prompt in a %%dalle cell",
        ),
        ("a {b", "unmatched '{' in '{b': close it with '}', or write '{{' for a literal brace"),
        ("a } b", "single '}' in 'a } b': write '}}' for a literal brace"),
    ],
)
def test_split_errors(line: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        split_words(line)
    assert str(info.value) == message


# --- interpolation -----------------------------------------------------------------------------------


def test_interpolate_names_expressions_and_escapes() -> None:
    ns = {"colour": "red", "xs": ["a", "b"], "n": 3}
    assert interpolate("a {colour} fox", ns) == "a red fox"
    assert interpolate("{', '.join(xs)}", ns) == "a, b"
    assert interpolate("{n * 2} legs {xs[0:1]}", ns) == "6 legs ['a']"
    assert interpolate("{{not}} {{{colour}}}", ns) == "{not} {red}"
    assert interpolate("no braces at all", ns) == "no braces at all"


def test_interpolated_values_are_data_not_options() -> None:
    inv = parse("a {style} fox")
    assert inv.args.prompt == ["a", "{style}", "fox"]
    assert inv.args.n is None
    assert interpolate(inv.args.prompt[1], {"style": "-n 9 --size 1x1"}) == "-n 9 --size 1x1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a {nope} fox",
            "name 'nope' in {nope} is not defined: define it first, or write {{nope}} for literal braces",
        ),
        ("{colour +}", "{colour +} is not a Python expression: write {{colour +}} for literal braces"),
        ("{1/0}", "{1/0} failed: ZeroDivisionError: division by zero"),
        ("{}", "empty '{}' in '{}': put a name inside, or write '{{}}' for braces"),
        ("{xs[5]}", "{xs[5]} failed: IndexError: list index out of range"),
    ],
)
def test_interpolation_errors_name_the_field(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        interpolate(text, {"colour": "red", "xs": []})
    assert str(info.value) == message


# --- parsing -----------------------------------------------------------------------------------------


def test_generate_is_the_default_and_options_intermix() -> None:
    inv = parse("a watercolor fox -n 4 --size 512x512 in the snow --seed 7 --fresh")
    assert inv.command == "generate"
    assert inv.args.prompt == ["a", "watercolor", "fox", "in", "the", "snow"]
    assert (inv.args.n, inv.args.size, inv.args.seed, inv.args.fresh) == ("4", "512x512", "7", True)
    assert inv.args.dry_run is False and inv.args.no_show is False


def test_double_dash_ends_options() -> None:
    inv = parse("-n 2 -- --not-an-option -n 5")
    assert inv.args.n == "2"
    assert inv.args.prompt == ["--not-an-option", "-n", "5"]


def test_quoted_subcommand_word_is_a_prompt() -> None:
    assert parse('"edit the world"').command == "generate"
    assert parse("generate edit the world").args.prompt == ["edit", "the", "world"]


def test_subcommands() -> None:
    inv = parse("edit photo --mask m a red hat -n 2")
    assert inv.command == "edit"
    assert (inv.args.image, inv.args.mask, inv.args.prompt) == ("photo", "m", ["a", "red", "hat"])
    inv = parse("outpaint r[0] --right 256 --top {px} a beach")
    assert (inv.args.image, inv.args.right, inv.args.top, inv.args.left) == ("r[0]", "256", "{px}", None)
    assert parse("vary r[0] -n 3").args.image == "r[0]"
    assert parse("batch df['prompt'] --concurrency 8").args.prompts == "df['prompt']"
    assert parse("board").args.path is None
    assert parse("board boards/spring").args.path == "boards/spring"
    assert parse("models").command == "models"
    assert parse("config").command == "config"
    assert parse("help edit").args.topic == "edit"
    assert parse("vary x --help").args.help is True


def test_cell_body_is_kept() -> None:
    inv = parse("-n 2", "a long\nprompt")
    assert inv.cell == "a long\nprompt"


@pytest.mark.parametrize(
    ("line", "cell", "message"),
    [
        (
            "a fox --colour red",
            None,
            "%dalle: unknown option --colour (see %dalle --help; "
            "put -- before a prompt that starts with a dash)",
        ),
        ("a fox -n", None, "%dalle: argument -n: expected one argument (see %dalle --help)"),
        ("vary", None, "%dalle vary: missing IMAGE (see %dalle vary --help)"),
        ("edit", None, "%dalle edit: missing IMAGE (see %dalle edit --help)"),
        ("vary x some words", None, "%dalle vary: unexpected words 'some words' (see %dalle vary --help)"),
        ("config now", None, "%dalle config: unexpected words 'now' (see %dalle config --help)"),
        ("models", "body", "%%dalle models: only generate, edit and outpaint take a cell body as the prompt"),
        ("board -- words", None, "%dalle board: takes no prompt, got 'words' after --"),
        (
            "a fox --si 256x256",
            None,
            "%dalle: unknown option --si: did you mean --size? (see %dalle --help)",
        ),
        (
            "a fox --modle x",
            None,
            "%dalle: unknown option --modle: did you mean --model? (see %dalle --help)",
        ),
        (
            "vary x --sizes=256x256",
            None,
            "%dalle vary: unknown option --sizes=256x256: did you mean --size? (see %dalle vary --help)",
        ),
    ],
)
def test_parse_errors_are_one_line(line: str, cell: str | None, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse(line, cell)
    assert str(info.value) == message


def test_help_is_generated_from_the_parsers() -> None:
    text = full_help()
    for command in COMMANDS:
        assert command in text
    for option in (
        "-n N",
        "--size WxH",
        "--model MODEL",
        "--seed SEED",
        "--protocol PROTOCOL",
        "--fresh",
        "--dry-run",
        "--no-show",
        "--out DIR",
    ):
        assert option in text
    assert "--mask MASK" in parser_for("edit").format_help()
    assert "--concurrency K" in parser_for("batch").format_help()
    assert "%config DalleMagics.n" in text


# --- value conversion --------------------------------------------------------------------------------


def test_conversions() -> None:
    assert to_int("3", "-n") == 3
    assert to_int(None, "-n", default=2) == 2
    assert to_size("512") == "512x512"
    assert to_size("1536X1024") == "1536x1024"
    assert to_protocol("Chat") == "chat"
    with pytest.raises(UsageError, match=r"^-n must be a whole number, got 'four'$"):
        to_int("four", "-n")
    with pytest.raises(UsageError, match=r"^-n must be 1 or more, got 0$"):
        to_int("0", "-n")
    with pytest.raises(
        UsageError, match=r"^--size must look like 512x512 \(width x height in pixels\), got '512px'$"
    ):
        to_size("512px")
    with pytest.raises(UsageError, match=r"^--protocol must be 'images' or 'chat', got 'rest'$"):
        to_protocol("rest")


class _FakeGenerated:
    def __init__(self, tag: str) -> None:
        self.image = f"pil-{tag}"
        self.info = {"tag": tag}


class _Editor:
    def __init__(self) -> None:
        self.image = "editor-image"
        self.mask = np.ones((4, 4), bool)


def test_resolve_image_from_namespace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    arr = np.zeros((8, 8, 3), np.uint8)
    ns = {
        "arr": arr,
        "g": _FakeGenerated("a"),
        "r": [_FakeGenerated("b"), _FakeGenerated("c")],
        "one": [_FakeGenerated("d")],
        "ed": _Editor(),
    }
    assert resolve_image("arr", ns).image is arr
    assert resolve_image("g", ns).image == "pil-a"
    assert resolve_image("r[1]", ns).image == "pil-c"
    assert resolve_image("one", ns).image == "pil-d"
    ref = resolve_image("ed", ns)
    assert ref.image == "editor-image" and ref.mask.all()


def test_resolve_image_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photo.png").write_bytes(b"png")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "cat-1.png").write_bytes(b"png")
    ns = {"photo": object(), "folder": "sub"}
    assert resolve_image("photo.png", ns).image == Path("photo.png")  # a variable `photo` exists too
    assert resolve_image("sub/cat-1.png", ns).image == Path("sub/cat-1.png")
    assert resolve_image("{folder}/cat-1.png", ns).image == Path("sub/cat-1.png")
    assert resolve_image("./photo.png", ns).image == Path("photo.png")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("missing", "image 'missing' not found: no variable named 'missing' and no file 'missing' in {cwd}"),
        ("nowhere/x.png", "file not found: 'nowhere/x.png' (looked in {cwd})"),
        ("r", "image 'r' holds 2 images: pick one, e.g. r[0]"),
        ("r[7]", "image 'r[7]' failed: IndexError: list index out of range"),
        (
            "num",
            "image 'num' is a int, not an image: use a path, a PIL image, a numpy array, a GeneratedImage "
            "or an editor",
        ),
        ("sub", "image 'sub' is a directory, not an image file"),
        ("text", "image 'text' is the path 'no-such.png', which does not exist (looked in {cwd})"),
    ],
)
def test_resolve_image_errors(
    ref: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    ns = {"r": [_FakeGenerated("b"), _FakeGenerated("c")], "num": 3, "text": "no-such.png"}
    with pytest.raises(UsageError) as info:
        resolve_image(ref, ns)
    assert str(info.value) == message.format(cwd=tmp_path)


def test_resolve_mask() -> None:
    mask = np.zeros((4, 4), bool)
    assert resolve_mask("m", {"m": mask}) is mask
    assert resolve_mask("ed", {"ed": _Editor()}).all()
    with pytest.raises(UsageError) as info:
        resolve_mask("m", {"m": 1.5})
    assert str(info.value) == (
        "mask 'm' is a float: use a bool array (True = repaint), an RGBA image (alpha 0 = repaint), "
        "a MaskEditor or a path"
    )
