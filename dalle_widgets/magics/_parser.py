"""The ``%dalle`` command line: subcommands, options and their help, from one set of definitions.

Parsing is purely syntactic: every value stays a string (it may hold ``{expr}``)
until :mod:`._request` interpolates and converts it, so the help text, the parser
and the error messages can never disagree.
"""

from __future__ import annotations

import argparse
import difflib
import textwrap
from dataclasses import dataclass
from typing import NoReturn

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser

from ._lexer import split_words

__all__ = ["COMMANDS", "Invocation", "full_help", "parse", "parser_for"]

MAGIC = "%dalle"

#: subcommand -> one-line summary (``generate`` is implied when the first word is none of these)
COMMANDS: dict[str, str] = {
    "generate": "make images from a prompt (the default: '%dalle a red fox' is '%dalle generate a red fox')",
    "vary": "variations of an image",
    "edit": "repaint the masked part of an image (no --mask: open the mask editor)",
    "outpaint": "extend an image past its borders (no margins: open the outpaint editor)",
    "batch": "one request per prompt of a list, run concurrently, resumable",
    "board": "show the current mood board, or the one saved at PATH",
    "models": "list the models the endpoint offers",
    "config": "show the effective configuration (endpoint, model, store, key set or not)",
    "help": "show this help, or the help of one subcommand",
}

_IMAGE_HELP = (
    "a variable holding an image, array, GeneratedImage, one-image result or editor, "
    "an expression such as r[0], or a path to an image file"
)


class _Parser(MagicArgumentParser):
    """A :class:`MagicArgumentParser` whose errors are one line naming the fix."""

    def error(self, message: str) -> NoReturn:
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            extra = message[len(prefix) :].split()
            option = next((w for w in extra if w.startswith("-")), None)
            if option is not None:
                guess = self.closest_option(option)
                if guess is not None:
                    raise UsageError(
                        f"{self.prog}: unknown option {option}: did you mean {guess}? "
                        f"(see {self.prog} --help)"
                    )
                raise UsageError(
                    f"{self.prog}: unknown option {option} (see {self.prog} --help; "
                    f"put -- before a prompt that starts with a dash)"
                )
            raise UsageError(f"{self.prog}: unexpected words {' '.join(extra)!r} (see {self.prog} --help)")
        required = "the following arguments are required: "
        if message.startswith(required):
            missing = [m for m in message[len(required) :].split(", ") if m != "PROMPT"]
            raise UsageError(f"{self.prog}: missing {', '.join(missing)} (see {self.prog} --help)")
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")

    def closest_option(self, option: str) -> str | None:
        """The long option ``option`` is most likely a typo of (``--si`` -> ``--size``), or None.

        >>> parser_for("generate").closest_option("--sise")
        '--size'
        >>> parser_for("generate").closest_option("--colour") is None
        True
        """
        name = option.split("=", 1)[0]
        if not name.startswith("--"):
            return None
        known = [o for action in self._actions for o in action.option_strings if o.startswith("--")]
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        return close[0] if close else None


class _Formatter(argparse.HelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=28, width=100)


def _new(command: str, usage: str, description: str) -> _Parser:
    prog = MAGIC if command == "generate" else f"{MAGIC} {command}"
    parser = _Parser(
        prog=prog, usage=usage.replace("%", "%%"), description=description, formatter_class=_Formatter
    )
    parser.allow_abbrev = False
    parser.add_argument("-h", "--help", action="store_true", help="show this help and send nothing")
    return parser


def _request_options(
    parser: _Parser, *, streams: bool = False, complexity: bool = False, gif: bool = False
) -> None:
    """The options every image request takes (``-n``, ``--size`` ... ``--out``); ``streams`` adds
    ``--stream``/``--partial-images``, ``complexity`` adds 2.6's ``--complexity``, ``gif`` 2.6's
    ``--frames``/``--frame-ms`` (animated GIFs are generated, not edited)."""
    group = parser.add_argument_group("request options")
    group.add_argument("-n", metavar="N", help="images per request, 1-10 (default: %%config DalleMagics.n)")
    group.add_argument(
        "--size", metavar="WxH", help="image size, e.g. 256x256, 512x512, 1024x1024 (default: the model's)"
    )
    group.add_argument("--model", metavar="MODEL", help="model name, e.g. dall-e-2, gpt-image-1")
    group.add_argument("--seed", metavar="SEED", help="integer seed (honoured by the offline engine)")
    group.add_argument(
        "--protocol",
        metavar="PROTOCOL",
        help="'images' (the Images API) or 'chat' (aggregators' chat completions)",
    )
    group.add_argument("--fresh", action="store_true", help="bypass the request cache: always send and pay")
    group.add_argument(
        "--dry-run", action="store_true", help="show the exact request and its price; send nothing"
    )
    group.add_argument("--no-show", action="store_true", help="return the result without displaying it")
    group.add_argument("--out", metavar="DIR", help="also copy the images (with their provenance) into DIR")
    gpt = parser.add_argument_group(
        "GPT image options (checked against the model before sending; unset: the endpoint decides)"
    )
    gpt.add_argument("--quality", metavar="Q", help="low, medium, high or auto (xhigh, max on 2.5 and 2.6)")
    gpt.add_argument("--background", metavar="B", help="transparent (needs png or webp), opaque or auto")
    gpt.add_argument(
        "--output-format",
        "--format",
        dest="output_format",
        metavar="FMT",
        help="png, jpeg or webp (gif, svg on 2.6)",
    )
    gpt.add_argument("--output-compression", metavar="PCT", help="0-100, for jpeg and webp")
    gpt.add_argument("--moderation", metavar="M", help="auto or low")
    if complexity:
        gpt.add_argument("--complexity", metavar="C", help="low, medium or high (gpt-image-2.6)")
    if gif:
        gpt.add_argument(
            "--frames", metavar="N", help="frames of an animated GIF (--format gif, 2.6), 2-16 (default 9)"
        )
        gpt.add_argument(
            "--frame-ms", metavar="MS", help="milliseconds per GIF frame, at least 20 (default 200)"
        )
    if streams:
        gpt.add_argument("--stream", action="store_true", help="show previews while the images are made")
        gpt.add_argument(
            "--partial-images", metavar="K", help="previews per image with --stream, 0-3 (default 2)"
        )


def _build() -> dict[str, _Parser]:
    parsers: dict[str, _Parser] = {}

    p = _new(
        "generate",
        "%dalle [generate] PROMPT... [options]\n       %%dalle [options]   (the cell body is the prompt)",
        "Generate images from a prompt: every word that is not an option is part of the prompt. "
        "{name} and {expression} are replaced from the notebook's namespace, {{ and }} are literal braces.",
    )
    p.add_argument("prompt", nargs="*", metavar="PROMPT", help="the prompt words")
    _request_options(p, streams=True, complexity=True, gif=True)
    parsers["generate"] = p

    p = _new(
        "vary",
        "%dalle vary IMAGE [options]",
        "Make variations of IMAGE. On a GPT image model (no variations endpoint) they are an edit of the "
        "whole image, which can stream previews with --stream.",
    )
    p.add_argument("image", metavar="IMAGE", help=_IMAGE_HELP)
    _request_options(p, streams=True)
    parsers["vary"] = p

    p = _new(
        "edit",
        "%dalle edit IMAGE [PROMPT...] [--mask MASK] [options]",
        "Repaint the masked part of IMAGE (inpainting). Without --mask, open a MaskEditor on IMAGE "
        "(an editor given as IMAGE brings its own mask); with --ref, send IMAGE and the references "
        "to a GPT image model, which edits the whole image.",
    )
    p.add_argument("image", metavar="IMAGE", help=_IMAGE_HELP)
    p.add_argument("prompt", nargs="*", metavar="PROMPT", help="what to paint in the masked area")
    p.add_argument(
        "--mask",
        metavar="MASK",
        help="a bool array (True = repaint), an RGBA image (alpha 0 = repaint), a MaskEditor, or a path",
    )
    p.add_argument(
        "--ref",
        metavar="IMAGE",
        action="append",
        help="another input image for GPT image models, or a list, result or mood board holding "
        "several (repeat for more, up to 16 images in all); without --mask the whole image is edited",
    )
    p.add_argument("--input-fidelity", metavar="F", help="high or low, on models that take it")
    p.add_argument(
        "--framing",
        metavar="F",
        help="how a photo the model cannot take at its own size (dall-e-2: squares only) is sent: "
        "window (a square around the mask, the default), pad (the whole photo padded to a square) "
        "or crop (its centre square); the result keeps the photo's size. --dry-run shows the window",
    )
    _request_options(p, streams=True, complexity=True)
    parsers["edit"] = p

    p = _new(
        "outpaint",
        "%dalle outpaint IMAGE [PROMPT...] [--left PX] [--top PX] [--right PX] [--bottom PX] "
        "[--to WxH [--anchor A]] [options]",
        "Extend IMAGE past its borders and fill the new area, frame by frame for large canvases. "
        "Without margins, open an OutpaintEditor on IMAGE.",
    )
    p.add_argument("image", metavar="IMAGE", help=_IMAGE_HELP)
    p.add_argument("prompt", nargs="*", metavar="PROMPT", help="what the extended picture shows")
    margins = p.add_argument_group("margins")
    for side in ("left", "top", "right", "bottom"):
        margins.add_argument(f"--{side}", metavar="PX", help=f"pixels to add on the {side}")
    margins.add_argument("--to", metavar="WxH", help="target canvas size instead of margins")
    margins.add_argument(
        "--anchor",
        metavar="A",
        help="where the image sits on a --to canvas: center (default), left, "
        "right, top, bottom, top-left, ...",
    )
    _request_options(p)
    parsers["outpaint"] = p

    p = _new(
        "batch",
        "%dalle batch PROMPTS [--concurrency K] [options]",
        "One request per prompt in PROMPTS (a list of strings, a pandas Series or column, or an expression "
        "such as df['prompt']), run concurrently on the async client with one progress bar and a running "
        "cost. Results land in one gallery grouped by prompt; a failed prompt is reported and does not stop "
        "the rest; running it again replays what finished from the request cache and sends only the rest.",
    )
    p.add_argument("prompts", metavar="PROMPTS", help="the list of prompts (a name or an expression)")
    p.add_argument("--concurrency", metavar="K", help="requests in flight at once (default 4)")
    _request_options(p)
    parsers["batch"] = p

    p = _new("board", "%dalle board [PATH]", "Show the current mood board, or open the board saved at PATH.")
    p.add_argument("path", nargs="?", metavar="PATH", help="a board folder")
    parsers["board"] = p

    p = _new("models", "%dalle models [--protocol PROTOCOL]", "List the models the endpoint offers.")
    p.add_argument("--protocol", metavar="PROTOCOL", help="'images' or 'chat'")
    parsers["models"] = p

    p = _new(
        "config",
        "%dalle config",
        "Show the effective configuration: endpoint, model, size, n, protocol, store, budget and spending, "
        "and whether a key is set (never the key). Change it with %config DalleMagics.<name> = value.",
    )
    parsers["config"] = p

    p = _new("help", "%dalle help [SUBCOMMAND]", "Show the help.")
    p.add_argument("topic", nargs="?", metavar="SUBCOMMAND", help="one of " + ", ".join(COMMANDS))
    parsers["help"] = p
    return parsers


_PARSERS = _build()


def parser_for(command: str) -> _Parser:
    """The parser of one subcommand."""
    return _PARSERS[command]


@dataclass
class Invocation:
    """A parsed ``%dalle`` line: which subcommand, and its raw (uninterpolated) values."""

    command: str
    args: argparse.Namespace
    cell: str | None = None


def parse(line: str, cell: str | None = None) -> Invocation:
    """Parse a ``%dalle`` line (and the ``%%dalle`` cell body, if any).

    Examples
    --------
    >>> inv = parse("a watercolor fox -n 4 --size 512x512")
    >>> inv.command, inv.args.prompt, inv.args.n, inv.args.size
    ('generate', ['a', 'watercolor', 'fox'], '4', '512x512')
    >>> parse("vary r[0] -n 2").args.image
    'r[0]'
    >>> parse("-n 1 -- -5 degrees below zero").args.prompt
    ['-5', 'degrees', 'below', 'zero']
    """
    words = split_words(line)
    command = "generate"
    if words and words[0] in COMMANDS:
        command = words.pop(0)
    if cell is not None and command not in ("generate", "edit", "outpaint"):
        raise UsageError(
            f"%%dalle {command}: only generate, edit and outpaint take a cell body as the prompt"
        )
    tail: list[str] = []
    if "--" in words:
        cut = words.index("--")
        words, tail = words[:cut], words[cut + 1 :]
    parser = _PARSERS[command]
    if "-h" in words or "--help" in words:
        return Invocation(command=command, args=argparse.Namespace(help=True), cell=cell)
    args = parser.parse_intermixed_args(words)
    if tail:
        if not hasattr(args, "prompt"):
            raise UsageError(f"{parser.prog}: takes no prompt, got {' '.join(tail)!r} after --")
        args.prompt = [*args.prompt, *tail]
    return Invocation(command=command, args=args, cell=cell)


def full_help() -> str:
    """The complete ``%dalle`` help: the forms, the generate options, each subcommand's usage."""
    width = max(len(c) for c in COMMANDS)
    lines = [
        "%dalle PROMPT... [options]    generate images",
        "%%dalle [options]             the cell body is the prompt",
        "%dalle SUBCOMMAND ...         where SUBCOMMAND is one of:",
        "",
        *(f"  {name:<{width}}  {summary}" for name, summary in COMMANDS.items()),
        "",
        "Defaults: %config DalleMagics.<name> for model, size, n, show, budget_usd, protocol, base_url,",
        "concurrency and out (see %config DalleMagics). Errors fail the cell with one line.",
        "",
        _PARSERS["generate"].format_help().rstrip(),
        "",
    ]
    for name in COMMANDS:
        if name in ("generate", "help"):
            continue
        parser = _PARSERS[name]
        lines.append(parser.format_usage().rstrip())
        lines.append(
            textwrap.fill(parser.description or "", 98, initial_indent="    ", subsequent_indent="    ")
        )
        lines.append(f"    ({parser.prog} --help for its options)")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
