"""``dalle-widgets serve``: run the offline engine as an OpenAI-compatible server."""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main", "serve_banner"]


def build_parser(prog: str = "dalle-widgets serve") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the offline engine: OpenAI's Images API (dall-e-2) on this machine, no key, no GPU.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default 127.0.0.1; anything else exposes the engine on a network)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument(
        "--token",
        default=None,
        help="bearer token clients must send (default: a random one, printed at start)",
    )
    parser.add_argument(
        "--backend",
        default="classical",
        help="image backend: classical (default; no model, CPU-fast) or diffusers (a real model, "
        "needs the models extra: pip install 'dalle-widgets[models]')",
    )
    parser.add_argument(
        "--recipe",
        default=None,
        metavar="FILE",
        help="diffusers backend: the model recipe (TOML); default: Kandinsky 2.2 from the Hugging Face hub",
    )
    parser.add_argument(
        "--low-memory",
        action="store_true",
        help="diffusers backend: offload models to the CPU between uses (GPU), "
        "or keep only the current operation's models loaded (CPU)",
    )
    parser.add_argument(
        "--images-per-minute",
        type=int,
        default=None,
        help="simulate a rate limit (429 with Retry-After) beyond this many images per minute",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def serve_banner(base_url: str, token: str, backend: str = "classical") -> str:
    """What ``serve`` prints: the base URL and how to point the SDK, curl or the env at it."""
    what = "synthetic images, no model" if backend == "classical" else f"backend {backend}"
    slow = (
        ""
        if backend == "classical"
        else "\n  A model on a CPU takes minutes per image: give clients a long timeout (timeout=3600).\n"
    )
    return f"""dalle-widgets offline engine ({what}) at {base_url}
{slow}
  export OPENAI_BASE_URL={base_url}
  export OPENAI_API_KEY={token}

  python:  from openai import OpenAI
           client = OpenAI(base_url="{base_url}", api_key="{token}")
           client.images.generate(model="dall-e-2", prompt="a red sunset over the ocean", size="512x512")

  curl:    curl {base_url}/images/generations -H "Authorization: Bearer {token}" \\
             -H "Content-Type: application/json" \\
             -d '{{"model": "dall-e-2", "prompt": "a red sunset over the ocean", "size": "256x256"}}'

  dalle-widgets: ImagesClient(base_url="{base_url}", api_key="{token}")
Press Ctrl+C to stop."""


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and serve until interrupted."""
    args = build_parser().parse_args(argv)
    import socket

    import uvicorn

    from ..errors import DalleWidgetsError
    from .app import create_app
    from .backends import get_backend

    options: dict[str, object] = {}
    if args.recipe is not None:
        options["recipe"] = args.recipe
    if args.low_memory:
        options["low_memory"] = True
    try:
        backend = get_backend(args.backend, **options)
    except (ValueError, DalleWidgetsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    token = args.token or secrets.token_urlsafe(24)
    app = create_app(
        backend,
        token=token,
        images_per_minute=args.images_per_minute,
        max_concurrency=getattr(backend, "max_concurrency", 2),
    )
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
    except OSError as exc:
        print(f"error: cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: binding {args.host} exposes the engine beyond this machine; keep the token secret.",
            file=sys.stderr,
        )
    print(serve_banner(f"http://{host}:{port}/v1", token, backend.name), flush=True)
    logging.getLogger("dalle_widgets").setLevel(args.log_level.upper())
    config = uvicorn.Config(app, log_level=args.log_level, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
    return 0
