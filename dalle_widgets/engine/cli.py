"""``dalle-widgets serve``: run the offline engine as an OpenAI-compatible server."""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["backend_options", "build_parser", "main", "serve_banner", "serve_on_ray"]


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
    parser.add_argument(
        "--backend-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another option for the backend constructor (repeatable; VALUE is read as JSON if it parses)",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="close connections that do not send a request's headers within this time (default 10)",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="close connections that do not send a request's body within this time after its headers "
        "(default 60)",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    ray = parser.add_argument_group(
        "Ray Serve", "run the engine as replicas on Ray Serve (needs: pip install 'dalle-widgets[ray]')"
    )
    ray.add_argument("--ray", action="store_true", help="deploy on Ray Serve instead of one local server")
    scale = ray.add_mutually_exclusive_group()
    scale.add_argument("--replicas", type=int, default=None, metavar="N", help="a fixed number of replicas")
    scale.add_argument(
        "--autoscale", default=None, metavar="MIN:MAX", help="let Serve scale between MIN and MAX replicas"
    )
    ray.add_argument(
        "--gpus-per-replica", type=float, default=0.0, metavar="G", help="GPUs each replica reserves"
    )
    ray.add_argument(
        "--cpus-per-replica",
        type=float,
        default=1.0,
        metavar="C",
        help="CPUs each replica reserves (default 1)",
    )
    ray.add_argument(
        "--address",
        default=None,
        help="a running cluster: 'auto' (this machine's `ray start`) or ray://HOST:10001; "
        "default: start a Ray of our own on 127.0.0.1 only, stopped on exit",
    )
    return parser


def serve_banner(base_url: str, token: str, backend: str = "classical", *, where: str = "") -> str:
    """What ``serve`` prints: the base URL and how to point the SDK, curl or the env at it.

    ``where`` names a deployment (``"on Ray Serve, 2 replicas"``) in the first line.
    """
    what = "synthetic images, no model" if backend == "classical" else f"backend {backend}"
    what = f"{where}; {what}" if where else what
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


def backend_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``["steps=4", "recipe=tiny"]`` -> ``{"steps": 4, "recipe": "tiny"}`` (JSON values where they parse).

    >>> backend_options(["steps=4", "recipe=tiny", "size=[1, 2]"])
    {'steps': 4, 'recipe': 'tiny', 'size': [1, 2]}
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"backend option {pair!r}: use KEY=VALUE, e.g. --backend-option steps=4")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        options[key.strip()] = value
    return options


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The backend's options from ``--recipe``, ``--low-memory`` and ``--backend-option``."""
    options = backend_options(args.backend_option)
    if args.recipe is not None:
        options["recipe"] = args.recipe
    if args.low_memory:
        options["low_memory"] = True
    return options


def serve_on_ray(args: argparse.Namespace) -> int:
    """``serve --ray``: deploy on Ray Serve, print how to connect, shut Ray down on SIGTERM or Ctrl+C."""
    from ..errors import ConfigurationError
    from ._ray_reaper import start_reaper
    from .ray import deploy, parse_autoscale

    try:
        autoscale = parse_autoscale(args.autoscale) if args.autoscale else None
        options = _options(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("dalle_widgets").setLevel(args.log_level.upper())
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: binding {args.host} exposes the engine beyond this machine; keep the token secret.",
            file=sys.stderr,
        )
    stop = threading.Event()
    reaper = start_reaper() if args.address is None else None
    try:
        engine = deploy(
            args.backend,
            backend_options=options,
            token=args.token,
            replicas=args.replicas,
            autoscale=autoscale,
            gpus_per_replica=args.gpus_per_replica,
            cpus_per_replica=args.cpus_per_replica,
            address=args.address,
            host=args.host,
            port=args.port,
            images_per_minute=args.images_per_minute,
        )
    except (ValueError, ConfigurationError) as exc:
        _release(reaper)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BaseException:
        _release(reaper)
        raise
    # ray.init made SIGTERM raise SystemExit; turn both signals into an orderly shutdown.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        scale = f"autoscaling {autoscale[0]}-{autoscale[1]}" if autoscale else str(args.replicas or 1)
        where = f"on Ray Serve, {scale} replica{'' if scale == '1' else 's'}"
        print(serve_banner(engine.base_url, engine.token or "", args.backend, where=where), flush=True)
        while not stop.wait(0.5):
            pass
        print("stopping: shutting down Ray Serve" + (" and Ray" if engine.owns_ray else ""), flush=True)
    finally:
        engine.shutdown()
        _release(reaper)
    return 0


def _release(reaper: Any) -> None:
    """Let the watchdog go: it sweeps whatever of Ray still runs, then exits."""
    if reaper is not None:
        reaper.stdin.close()
        reaper.wait(timeout=30)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and serve until interrupted."""
    args = build_parser().parse_args(argv)
    if args.ray:
        return serve_on_ray(args)
    ray_only = [
        flag
        for flag, value in (
            ("--replicas", args.replicas),
            ("--autoscale", args.autoscale),
            ("--address", args.address),
        )
        if value is not None
    ]
    if args.gpus_per_replica or args.cpus_per_replica != 1.0:
        ray_only.append("--gpus-per-replica/--cpus-per-replica")
    if ray_only:
        print(f"error: {', '.join(ray_only)} need --ray (they configure Ray Serve replicas)", file=sys.stderr)
        return 2
    import socket

    import uvicorn

    from ..errors import DalleWidgetsError
    from ._deadlines import server_config
    from .app import create_app
    from .backends import get_backend

    try:
        backend = get_backend(args.backend, **_options(args))
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
    config = server_config(
        app,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        log_level=args.log_level,
        lifespan="off",
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0
