"""Command line: ``dalle-widgets serve ...`` (also ``python -m dalle_widgets serve ...``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = """usage: dalle-widgets <command> [options]

commands:
  serve    run the offline engine, an OpenAI-compatible image server (see: dalle-widgets serve --help)
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "serve":
        from .engine.cli import main as serve

        return serve(rest)
    print(f"dalle-widgets: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
