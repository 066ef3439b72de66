"""``DalleMagics``: the ``%dalle`` / ``%%dalle`` magic.

Parsing (:mod:`._parser`), interpolation (:mod:`._lexer`) and value resolution
(:mod:`._resolve`) are pure; this module wires them to the client, the widgets,
the pricing ledger and the display. Every error a user can cause, and every error
the client raises, fails the cell with one :class:`UsageError` line.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    line_cell_magic,
    magics_class,
    needs_local_scope,
    no_var_expand,
    output_can_be_silenced,
)
from traitlets import Bool, Enum, Float, Int, TraitError, Unicode, default, observe, validate

from .. import _png
from .._types import FRAMING_MODES, AnyImageClient
from ..errors import ConfigurationError, DalleWidgetsError, InvalidRequestError, redact
from ..models import DEFAULT_MODEL, family_of, find, live_replacements, lookup, models_taking_images
from ..photo_window import describe_window
from ..pricing import Estimate, Ledger, estimate, format_usd
from ._display import ShownOnce, Text
from ._lexer import interpolate
from ._parser import Invocation, full_help, parse, parser_for
from ._resolve import (
    resolve_image,
    resolve_images,
    resolve_mask,
    resolve_object,
    to_framing,
    to_int,
    to_protocol,
    to_size,
)

__all__ = ["DalleMagics", "DalleUsageError", "EffectiveConfig", "ModelList", "OutpaintPlan"]

#: The GPT image fields the magic passes on (options ``--quality``, ``--output-format``...).
_GPT_OPTIONS = (
    "quality",
    "background",
    "output_format",
    "output_compression",
    "moderation",
    "complexity",
    "input_fidelity",
    "frame_count",
    "frame_duration_ms",
)

logger = logging.getLogger("dalle_widgets")


def _env_float(name: str) -> float | None:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError:
        logger.warning("ignoring %s=%r: not a number of US dollars", name, raw)
        return None


@dataclass(frozen=True)
class OutpaintPlan:
    """What ``%dalle outpaint ... --dry-run`` returns: the canvas, its frames and their price."""

    canvas_size: tuple[int, int]
    frames: list[tuple[int, ...]]
    request_size: str
    estimate: Estimate


class ModelList(list):
    """The model ids an endpoint offers, shown one per line with what the table knows of each.

    ``shutdown_dates`` holds the ``shutdown_date`` the endpoint reported for each id.
    """

    def __init__(self, ids: Any = (), shutdown_dates: dict[str, Any] | None = None) -> None:
        super().__init__(ids)
        self.shutdown_dates: dict[str, Any] = dict(shutdown_dates or getattr(ids, "shutdown_dates", {}) or {})

    def describe(self) -> str:
        """One line per model: operations, sizes, price, and its shutdown date when there is one."""
        if not self:
            return "the endpoint lists no models"
        width = max(len(m) for m in self)
        return "\n".join(
            f"{model:<{width}}  {describe_model(model, self.shutdown_dates.get(model))}" for model in self
        )

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:
        printer.text(self.describe())


def describe_model(model: str, endpoint_shutdown: Any = None, today: Any = None) -> str:
    """What the model table knows of ``model``, on one line (``%dalle models``)."""
    import datetime as dt

    today = today or dt.date.today()
    spec = find(model)
    parts: list[str] = []
    if spec is None:
        parts.append(
            "not in dalle_widgets' table: "
            + ("generic checks only" if family_of(model) == "generic" else f"{family_of(model)} family rules")
        )
    else:
        parts.append(", ".join(op for op in ("generate", "edit", "vary") if spec.supports(op)))
        sizes = " ".join(spec.sizes)
        if spec.size_rule.kind == "flexible":
            sizes += " or any WxH within its size rule"
        parts.append(sizes)
        prices = sorted({p for by_size in spec.prices.per_image.values() for p in by_size.values()})
        if prices:
            parts.append(
                f"{format_usd(prices[0])}-{format_usd(prices[-1])}/image"
                if len(prices) > 1
                else f"{format_usd(prices[0])}/image"
            )
        elif spec.prices.tokens is not None:
            parts.append(f"${spec.prices.tokens.image_out:g}/M image tokens")
        else:
            parts.append("price unknown")
    if endpoint_shutdown is not None:
        verb = "shut down" if endpoint_shutdown <= today else "shuts down"
        parts.append(f"{verb} {endpoint_shutdown.isoformat()} (this endpoint's date)")
    elif spec is not None and spec.shutdown_date is not None:
        verb = "OpenAI shut it down" if spec.is_shut_down(today) else "OpenAI shuts it down"
        parts.append(f"{verb} {spec.shutdown_date.isoformat()}")
    if endpoint_shutdown is not None or (spec is not None and spec.shutdown_date is not None):
        instead = live_replacements(model, today)
        if instead:
            parts[-1] += f": use {' or '.join(instead)}"
    return " · ".join(parts)


class EffectiveConfig(dict):
    """The configuration ``%dalle`` would use now, as ``{setting: value}`` (never the key)."""

    def describe(self) -> str:
        """One ``setting: value`` per line."""
        width = max(len(k) for k in self)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in self.items())

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:
        printer.text(self.describe())


class DalleUsageError(UsageError):
    """How ``%dalle`` fails a cell: one line, and an error every front end sees.

    IPython prints a plain :class:`UsageError` to stderr and publishes no error
    message, so nbval and other tools that watch for error outputs would carry on.
    This subclass renders as the same single ``UsageError: ...`` line through
    IPython's ``_render_traceback_`` hook, which also publishes it as the cell's
    error, with no traceback frames from inside the package.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"UsageError: {self}"]


def _one_line(exc: BaseException) -> str:
    """The message a failed cell shows: the error's own text, on one line, with no secret in it."""
    if isinstance(exc, (InvalidRequestError, ConfigurationError)):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return redact(text, os.environ.get("OPENAI_API_KEY"))


def _as_options(message: str) -> str:
    """A client message in the magic's words: ``framing='crop'`` reads ``--framing crop``.

    >>> _as_options("use framing='window' or 'pad', not framing='crop'")
    'use --framing window or pad, not --framing crop'
    """
    message = re.sub(r"framing='(\w+)' or '(\w+)'", r"--framing \1 or \2", message)
    return re.sub(r"framing='(\w+)'", r"--framing \1", message)


def cell_prompt(body: str) -> str:
    r"""The prompt of a ``%%dalle`` cell: lines join with spaces, as in a Markdown paragraph.

    A long prompt can be wrapped over several lines for reading; only a blank line
    keeps a line break in what is sent.

    >>> cell_prompt("a lighthouse at dusk,\n  gulls overhead\n\nwatercolor")
    'a lighthouse at dusk, gulls overhead\nwatercolor'
    """
    paragraphs = re.split(r"\n\s*\n", body.strip())
    return "\n".join(" ".join(line.strip() for line in p.splitlines() if line.strip()) for p in paragraphs)


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-")
    return slug or "image"


@magics_class
class DalleMagics(Magics):
    """``%dalle`` / ``%%dalle``: generate, vary, edit, outpaint and batch images from a notebook.

    Defaults are traits settable with ``%config DalleMagics.<name> = value``.
    """

    model = Unicode(
        None,
        allow_none=True,
        help="Model used when --model is not given (default: DALLE_WIDGETS_MODEL, "
        "else the client's default, dall-e-2).",
    ).tag(config=True)
    size = Unicode(
        None,
        allow_none=True,
        help="Size used when --size is not given, e.g. '512x512' (default: "
        "DALLE_WIDGETS_SIZE, else the model's default).",
    ).tag(config=True)
    n = Int(1, help="Images per request when -n is not given.").tag(config=True)
    show = Bool(True, help="Display results (False: only return them, like --no-show).").tag(config=True)
    budget_usd = Float(
        None,
        allow_none=True,
        help="Most USD this session may spend; a request that would pass it is "
        "refused before sending (default: DALLE_WIDGETS_BUDGET_USD, else no budget).",
    ).tag(config=True)
    protocol = Enum(
        ["images", "chat"],
        "images",
        help="'images' (the Images API) or 'chat' (an aggregator's chat "
        "completions) (default: DALLE_WIDGETS_PROTOCOL, else images).",
    ).tag(config=True)
    base_url = Unicode(
        None,
        allow_none=True,
        help="Endpoint base URL, e.g. http://127.0.0.1:8000/v1 (default: "
        "OPENAI_BASE_URL, else OpenAI with a key, else the offline engine).",
    ).tag(config=True)
    concurrency = Int(4, help="Requests in flight at once in %dalle batch.").tag(config=True)
    out = Unicode(None, allow_none=True, help="Folder every result is also copied into.").tag(config=True)

    @default("model")
    def _default_model(self) -> str | None:
        return os.environ.get("DALLE_WIDGETS_MODEL") or None

    @default("size")
    def _default_size(self) -> str | None:
        raw = os.environ.get("DALLE_WIDGETS_SIZE") or None
        try:
            return to_size(raw)
        except UsageError:
            logger.warning("ignoring DALLE_WIDGETS_SIZE=%r: use a size such as 512x512", raw)
            return None

    @default("budget_usd")
    def _default_budget(self) -> float | None:
        return _env_float("DALLE_WIDGETS_BUDGET_USD")

    @default("protocol")
    def _default_protocol(self) -> str:
        value = (os.environ.get("DALLE_WIDGETS_PROTOCOL") or "images").lower()
        if value not in ("images", "chat"):
            logger.warning("ignoring DALLE_WIDGETS_PROTOCOL=%r: use 'images' or 'chat'", value)
            return "images"
        return value

    @validate("n", "concurrency")
    def _check_positive(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError(
                f"DalleMagics.{proposal['trait'].name} must be 1 or more, got {proposal['value']}"
            )
        return int(proposal["value"])

    @validate("budget_usd")
    def _check_budget(self, proposal: Any) -> float | None:
        value = proposal["value"]
        if value is not None and value < 0:
            raise TraitError(f"DalleMagics.budget_usd must be 0 or more (or None for no budget), got {value}")
        return value

    @validate("size")
    def _check_size(self, proposal: Any) -> str | None:
        value = proposal["value"]
        if value is None:
            return None
        try:
            return to_size(value)
        except UsageError as exc:
            raise TraitError(f"DalleMagics.size: {exc}") from None

    @observe("budget_usd")
    def _budget_changed(self, change: Any) -> None:
        self.ledger.budget_usd = change["new"]

    @observe("base_url")
    def _endpoint_changed(self, _change: Any) -> None:
        self.close_clients()

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        # set before the traits load their config, which may fire the observers below
        self.ledger = Ledger()
        self._clients: dict[str, Any] = {}
        self._owned: set[str] = set()
        super().__init__(shell=shell, **kwargs)
        self.ledger.budget_usd = self.budget_usd
        self._shown = ShownOnce(shell) if shell is not None else None
        #: ``client_factory(protocol) -> ImagesClient``; None builds one from the traits and environment.
        self.client_factory: Callable[[str], Any] | None = None
        #: previews shown by ``--stream`` in this session (for tests and curiosity)
        self.previews_shown = 0

    # -- clients ---------------------------------------------------------------------------------
    def client(self, protocol: str | None = None) -> Any:
        """The :class:`ImagesClient` the magic uses for ``protocol`` (created on first use)."""
        protocol = protocol or self.protocol
        client = self._clients.get(protocol)
        if client is None:
            if self.client_factory is not None:
                client = self.client_factory(protocol)
            elif self.base_url is None and protocol == "images":
                from ..client import default_client

                client = default_client()
            else:
                from ..client import ImagesClient

                client = ImagesClient(base_url=self.base_url, protocol=protocol)
                self._owned.add(protocol)
            self._clients[protocol] = client
        return client

    def close_clients(self) -> None:
        """Close the clients this magic created (not the shared default client)."""
        for protocol in list(self._clients):
            client = self._clients.pop(protocol)
            if protocol in self._owned and hasattr(client, "close"):
                client.close()
        self._owned.clear()

    def close(self) -> None:
        """Release clients and display hooks (called when the extension is unloaded)."""
        self.close_clients()
        if self._shown is not None:
            self._shown.close()

    # -- the magic ---------------------------------------------------------------------------------
    @output_can_be_silenced
    @needs_local_scope
    @no_var_expand
    @line_cell_magic
    def dalle(self, line: str, cell: str | None = None, local_ns: dict[str, Any] | None = None) -> Any:
        try:
            return self._dalle(line, cell, local_ns)
        except DalleUsageError:
            raise
        except UsageError as exc:
            raise DalleUsageError(str(exc)) from exc.__cause__
        except DalleWidgetsError as exc:
            raise DalleUsageError(_one_line(exc)) from exc
        except OSError as exc:  # unreadable file, not an image (PIL's UnidentifiedImageError)
            raise DalleUsageError(_one_line(exc)) from exc

    def _dalle(self, line: str, cell: str | None, local_ns: dict[str, Any] | None) -> Any:
        inv = parse(line, cell)
        if inv.command == "help" or inv.args.help:
            topic = getattr(inv.args, "topic", None) if inv.command in ("help", "generate") else inv.command
            return self._help(topic)
        namespace: dict[str, Any] = dict(self.shell.user_ns) if self.shell is not None else {}
        if local_ns:
            namespace.update(local_ns)
        return getattr(self, f"_cmd_{inv.command}")(inv, namespace)

    def _help(self, topic: str | None) -> None:
        if topic in (None, "generate", "help"):
            text = full_help() if topic is None or topic == "help" else parser_for("generate").format_help()
        elif topic in {"vary", "edit", "outpaint", "batch", "board", "models", "config"}:
            text = parser_for(topic).format_help()
        else:
            raise UsageError(f"%dalle help: no subcommand {topic!r}; see %dalle --help")
        self._present(Text(text.rstrip()), None, show=True)

    # -- option handling ---------------------------------------------------------------------------
    def _options(self, inv: Invocation, ns: dict[str, Any]) -> dict[str, Any]:
        a = inv.args

        def text(value: str | None) -> str | None:
            return None if value is None else interpolate(value, ns)

        n = to_int(text(a.n), "-n", default=self.n)
        return {
            "n": n,
            "size": to_size(text(a.size)) or self.size,
            "model": text(a.model) or self.model,
            "seed": to_int(text(a.seed), "--seed", minimum=0),
            "protocol": to_protocol(text(a.protocol)) or self.protocol,
            "fresh": a.fresh,
            "dry_run": a.dry_run,
            "show": self.show and not a.no_show,
            "out": text(a.out) or self.out,
            "quality": text(a.quality),
            "background": text(a.background),
            "output_format": text(a.output_format),
            "output_compression": to_int(text(a.output_compression), "--output-compression", minimum=0),
            "moderation": text(a.moderation),
            "complexity": text(getattr(a, "complexity", None)),
            "input_fidelity": text(getattr(a, "input_fidelity", None)),
            "frame_count": to_int(text(getattr(a, "frames", None)), "--frames", minimum=0),
            "frame_duration_ms": to_int(text(getattr(a, "frame_ms", None)), "--frame-ms", minimum=0),
            "stream": bool(getattr(a, "stream", False)),
            "partial_images": to_int(text(getattr(a, "partial_images", None)), "--partial-images", minimum=0),
        }

    @staticmethod
    def _request_kwargs(opts: dict[str, Any]) -> dict[str, Any]:
        """What the client call takes; each GPT image field only when it was given."""
        names = ("n", "size", "model", "seed", *_GPT_OPTIONS)
        kwargs = {k: opts[k] for k in names if opts.get(k) is not None}
        if opts.get("partial_images") is not None and not opts.get("stream"):
            raise UsageError("--partial-images needs --stream (previews arrive while the images are made)")
        if opts.get("stream"):
            kwargs["stream"] = True
            kwargs["partial_images"] = 2 if opts.get("partial_images") is None else opts["partial_images"]
        return kwargs

    def _prompt(self, inv: Invocation, ns: dict[str, Any], *, required: str) -> str:
        words = " ".join(interpolate(w, ns) for w in getattr(inv.args, "prompt", []) or [])
        body = cell_prompt(interpolate(inv.cell, ns)) if inv.cell is not None else ""
        prompt = " ".join(part for part in (words.strip(), body) if part)
        if not prompt:
            raise UsageError(required)
        return prompt

    # -- pricing -----------------------------------------------------------------------------------
    @staticmethod
    def _estimate(client: AnyImageClient, prepared: Any, *, requests: int = 1) -> Estimate:
        """The request's own estimate (``prepared.estimate``, the one pricing path), ``requests`` times."""
        est = getattr(prepared, "estimate", None)
        if est is None:  # nothing sendable (every prompt of a batch refused): price the client's default
            model = getattr(prepared, "model", None) or getattr(client, "model", None) or DEFAULT_MODEL
            est = estimate(model, None, 1, offline=bool(getattr(client, "is_offline", False)))
        return est if requests == 1 else est.times(requests)

    def _refuse_over_budget(self, est: Estimate) -> None:
        reason = self.ledger.refusal(
            est, hint="raise it with %config DalleMagics.budget_usd = ..., or ask for fewer or smaller images"
        )
        if reason is not None:
            raise UsageError(f"refused before sending: {reason}")

    @staticmethod
    def _cost_of(client: AnyImageClient, result: Any) -> float | None:
        """What a finished request cost: nothing offline or replayed from the cache."""
        if getattr(client, "is_offline", False) or getattr(result, "cached", False):
            return 0.0
        return getattr(result, "cost_usd", None)

    # -- display -----------------------------------------------------------------------------------
    def _present(self, shown: Any, returned: Any, *, show: bool) -> None:
        """Display ``shown`` (unless ``show`` is False) and keep ``returned`` out of ``Out[n]``."""
        if self._shown is None:
            return
        if show:
            self._shown.show(shown, returned=returned)
        elif returned is not None:
            self._shown.mark(returned)

    def _status(self, text: str, show: bool) -> Any:
        if not show or self.shell is None:
            return None
        from IPython.display import display

        return display(Text(text), display_id=True)

    def _gallery(self, result: Any, client: AnyImageClient) -> Any:
        from ..widgets import Gallery

        # the gallery's Vary and Generate ask the model that made the result (``--model``), which
        # also decides the controls it shows
        return Gallery(result, client=client, model=getattr(result, "model", None) or None)

    def _run(self, what: str, show: bool, call: Callable[[], Any]) -> tuple[Any, Any]:
        """Show ``what ...`` while ``call()`` runs; return its result and the status display handle."""
        handle = self._status(f"{what} ...", show)
        try:
            return call(), handle
        except BaseException:
            if handle is not None:
                handle.update(Text(""))  # the error line says what happened
            raise

    def _maybe_stream(self, answer: Any, show: bool) -> Any:
        """A result as is; a stream read to its end, each preview shown in place as it arrives.

        The previews are small thumbnails in one display that is cleared once the final
        images are in (the gallery then shows them), so a saved notebook keeps none.
        """
        if not hasattr(answer, "until_done"):
            return answer
        from .. import imaging

        live = None
        if show and self.shell is not None:
            from IPython.display import display

            live = display(Text("waiting for the first preview ..."), display_id=True)
        try:
            for event in answer:
                if live is None:
                    continue
                live.update(imaging.on_checkerboard(imaging.thumbnail(event.image, 256)))
                self.previews_shown += event.type == "partial"
        finally:
            if live is not None:
                live.update(Text(""))
        return answer.result

    def _finish(
        self,
        result: Any,
        client: AnyImageClient,
        opts: dict[str, Any],
        *,
        prompt: str | None,
        handle: Any = None,
    ) -> Any:
        cost = self._cost_of(client, result)
        self.ledger.record(cost)
        parts = [f"{len(result)} image{'s' if len(result) != 1 else ''}"]
        info = getattr(result[0], "info", {}) if len(result) else {}
        model = info.get("model") or opts.get("model") or getattr(client, "model", "")
        size = info.get("size") or opts.get("size")
        parts.append(" ".join(str(p) for p in (model, size) if p))
        window = info.get("window")
        if isinstance(window, dict):
            parts.append(f"edited through a {window.get('size')} window, pasted back at {size}")
        if getattr(client, "is_offline", False):
            parts.append("offline engine (free)")
        else:
            parts.append(format_usd(cost))
        if getattr(result, "cached", False):
            parts.append("replayed from the request cache")
        if opts.get("out"):
            saved = self._export(result, Path(opts["out"]), prompt or "image")
            parts.append(f"copied to {saved}")
        parts.append(self.ledger.describe())
        line = " · ".join(p for p in parts if p)
        if opts["show"]:
            if handle is not None:
                handle.update(Text(line))
            self._present(self._gallery(result, client), result, show=True)
        else:
            self._present(None, result, show=False)
        logger.info("%%dalle: %s", line)
        return result

    @staticmethod
    def _export(result: Any, folder: Path, prompt: str) -> Path:
        folder = folder.expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        stem = _slug(prompt)
        for image in result:
            k = 1
            while (folder / f"{stem}-{k}.png").exists():
                k += 1
            target = folder / f"{stem}-{k}.png"
            source = getattr(image, "path", None)
            if source is not None and Path(source).is_file():
                shutil.copyfile(source, target)
            else:
                _png.write_atomic(target, _png.encode(image.image))
        return folder

    def _dry_run(self, prepared: Any, est: Estimate, extra: str = "") -> Any:
        lines = [
            "dry run: nothing sent",
            prepared.describe() if hasattr(prepared, "describe") else repr(prepared),
        ]
        if extra:
            lines.append(extra)
        lines.append(f"price: {est.describe()}")
        lines.append(self.ledger.describe())
        out = Text("\n".join(lines))
        self._present(out, prepared, show=True)
        return prepared

    # -- subcommands -------------------------------------------------------------------------------
    def _cmd_generate(self, inv: Invocation, ns: dict[str, Any]) -> Any:
        prompt = self._prompt(
            inv,
            ns,
            required="%dalle: missing prompt: write it after %dalle (e.g. %dalle a watercolor fox "
            "-n 4) or use a %%dalle cell",
        )
        opts = self._options(inv, ns)
        client = self.client(opts["protocol"])
        kwargs = self._request_kwargs(opts)
        prepared = client.prepare("generate", prompt=prompt, **kwargs)
        est = self._estimate(client, prepared)
        if opts["dry_run"]:
            return self._dry_run(prepared, est)
        self._refuse_over_budget(est)
        cache = "refresh" if opts["fresh"] else None
        result, handle = self._run(
            f"generating {est.images} x {est.size} with {est.model}",
            opts["show"],
            lambda: self._maybe_stream(client.generate(prompt, cache=cache, **kwargs), opts["show"]),
        )
        return self._finish(result, client, opts, prompt=prompt, handle=handle)

    def _cmd_vary(self, inv: Invocation, ns: dict[str, Any]) -> Any:
        ref = resolve_image(inv.args.image, ns)
        opts = self._options(inv, ns)
        client = self.client(opts["protocol"])
        kwargs = self._request_kwargs(opts)
        prepared = client.prepare("vary", image=ref.image, **kwargs)
        est = self._estimate(client, prepared)
        if opts["dry_run"]:
            return self._dry_run(prepared, est)
        self._refuse_over_budget(est)
        cache = "refresh" if opts["fresh"] else None
        result, handle = self._run(
            f"varying {inv.args.image} ({est.images} x {est.size})",
            opts["show"],
            lambda: self._maybe_stream(client.vary(ref.image, cache=cache, **kwargs), opts["show"]),
        )
        return self._finish(result, client, opts, prompt=f"{inv.args.image}-variation", handle=handle)

    def _cmd_edit(self, inv: Invocation, ns: dict[str, Any]) -> Any:
        ref = resolve_image(inv.args.image, ns)
        opts = self._options(inv, ns)
        client = self.client(opts["protocol"])
        mask = resolve_mask(inv.args.mask, ns) if inv.args.mask is not None else ref.mask
        refs = [image for r in (inv.args.ref or []) for image in resolve_images(r, ns)]
        framing = to_framing(None if inv.args.framing is None else interpolate(inv.args.framing, ns))
        if mask is None and not refs:
            return self._open_editor("MaskEditor", ref, client, inv, ns, opts, framing=framing)
        images = [ref.image, *refs] if refs else ref.image
        prompt = self._prompt(
            inv,
            ns,
            required="%dalle edit: missing prompt: say what to paint in the masked area, e.g. "
            "%dalle edit photo --mask m a red hat",
        )
        kwargs = self._request_kwargs(opts)
        if framing is not None:
            kwargs["framing"] = framing
        if refs:
            self._check_input_count(kwargs.get("model") or getattr(client, "model", None), len(refs))
        try:
            prepared = client.prepare("edit", image=images, prompt=prompt, mask=mask, **kwargs)
        except InvalidRequestError as exc:
            if exc.param != "framing":
                raise
            raise UsageError(f"%dalle edit: {_as_options(str(exc))}") from None
        est = self._estimate(client, prepared)
        sent = self._window_line(prepared, framing)
        if opts["dry_run"]:
            return self._dry_run(prepared, est, self._window_line(prepared, framing, hint=True))
        self._refuse_over_budget(est)
        cache = "refresh" if opts["fresh"] else None
        result, handle = self._run(
            f"editing {inv.args.image} ({est.images} x {est.size})" + (f": {sent}" if sent else ""),
            opts["show"],
            lambda: self._maybe_stream(
                client.edit(images, prompt, mask=mask, cache=cache, **kwargs), opts["show"]
            ),
        )
        return self._finish(result, client, opts, prompt=prompt, handle=handle)

    @staticmethod
    def _window_line(prepared: Any, framing: str | None, *, hint: bool = False) -> str:
        """What an edit sends of its photo, in one line: the window, or why ``--framing`` is not used.

        Empty when the photo goes as it is and no ``--framing`` was asked for; ``hint``
        names the other framings (for ``--dry-run``).
        """
        framed = getattr(prepared, "framing", None)
        if framed is not None:
            mode = framing or "window"
            line = f"--framing {mode} {describe_window(framed.window, mode)}"
            if hint:
                line += " (or --framing " + " or ".join(f for f in FRAMING_MODES if f != mode) + ")"
            return line
        if framing is None:
            return ""
        files = getattr(prepared, "files", {})
        if "image" not in files:
            return f"--framing {framing} not used: the input images are sent as they are"
        w, h = files["image"][2]
        return f"--framing {framing} not used: {prepared.model} takes the {w}x{h} photo as it is"

    @staticmethod
    def _check_input_count(model: str | None, refs: int) -> None:
        """Refuse IMAGE plus ``refs`` --ref images on a model whose edits take fewer, in the magic's terms."""
        spec = lookup(model or DEFAULT_MODEL, warn=False)
        total = refs + 1
        if total <= spec.max_input_images:
            return
        most = spec.max_input_images
        fix = "drop the --ref images" if most == 1 else f"keep at most {most - 1} --ref images"
        able = models_taking_images(total)
        if able:
            fix += f", or add --model {able[0]} (its edits take up to {lookup(able[0]).max_input_images})"
        raise UsageError(
            f"%dalle edit: IMAGE and {refs} --ref image{'s' if refs != 1 else ''} make {total} input images; "
            f"{spec.name} takes {most} per edit: {fix}"
        )

    def _open_editor(
        self,
        kind: str,
        ref: Any,
        client: AnyImageClient,
        inv: Invocation,
        ns: dict[str, Any],
        opts: dict[str, Any],
        **options: Any,
    ) -> Any:
        if opts["dry_run"]:
            raise UsageError(
                f"%dalle {inv.command} --dry-run needs a complete request: "
                + (
                    "give --mask"
                    if kind == "MaskEditor"
                    else "give margins (--left/--top/--right/--bottom or --to)"
                )
            )
        editor_class = _widget(kind)
        given = {k: v for k, v in options.items() if v is not None}
        editor = editor_class(ref.image, client=client, **given)
        prompt_words = getattr(inv.args, "prompt", None)
        if (prompt_words or inv.cell) and hasattr(editor, "prompt"):
            editor.prompt = self._prompt(inv, ns, required="")
        self._present(editor, editor, show=opts["show"])
        return editor

    def _cmd_outpaint(self, inv: Invocation, ns: dict[str, Any]) -> Any:
        a = inv.args
        ref = resolve_image(a.image, ns)
        opts = self._options(inv, ns)
        client = self.client(opts["protocol"])
        margins: dict[str, int] = {
            side: to_int(
                None if getattr(a, side) is None else interpolate(getattr(a, side), ns),
                f"--{side}",
                minimum=0,
                default=0,
            )
            or 0
            for side in ("left", "top", "right", "bottom")
        }
        target = to_size(interpolate(a.to, ns)) if a.to is not None else None
        if target is not None and any(margins.values()):
            raise UsageError(
                "%dalle outpaint: give either margins (--left/--top/--right/--bottom) or --to, not both"
            )
        if target is None and not any(margins.values()):
            return self._open_editor("OutpaintEditor", ref, client, inv, ns, opts)
        prompt = self._prompt(
            inv,
            ns,
            required="%dalle outpaint: missing prompt: describe the whole extended picture, e.g. "
            "%dalle outpaint photo --right 256 a beach at sunset",
        )
        from .. import outpaint

        if inv.args.n is not None:
            raise UsageError("%dalle outpaint: makes one image per frame, so -n does not apply: drop it")
        try:
            if target is not None:
                w, h = (int(v) for v in target.split("x"))
                anchor = interpolate(a.anchor, ns) if a.anchor is not None else "center"
                canvas = outpaint.extend_to(ref.image, (w, h), anchor=anchor)
            else:
                canvas = outpaint.extend(ref.image, **margins)
            frames = outpaint.plan(canvas)
            kwargs = self._request_kwargs(opts)
            kwargs.pop("n", None)
            frame_model = kwargs.get("model") or getattr(client, "model", None)
            request = outpaint.request_size(frames, frame_model, kwargs.get("size"))
        except ValueError as exc:  # bad anchor, image, non-square --size: outpaint's own messages
            raise UsageError(f"%dalle outpaint: {exc}") from None
        model = opts["model"] or getattr(client, "model", None) or DEFAULT_MODEL
        request_size = f"{request}x{request}"
        est = estimate(
            model,
            request_size,
            1,
            operation="edit",
            input_sizes=[(request, request)],
            prompt_chars=len(prompt),
            requests=len(frames),
            offline=bool(getattr(client, "is_offline", False)),
        )
        cw, ch = canvas.size
        plan_text = f"outpaint to {cw}x{ch} in {len(frames)} frame(s) of {request_size}: " + ", ".join(
            str(tuple(int(v) for v in f)) for f in frames
        )
        if opts["dry_run"]:
            lines = ["dry run: nothing sent", plan_text, f"price: {est.describe()}", self.ledger.describe()]
            outpaint_plan = OutpaintPlan(
                canvas.size, [tuple(int(v) for v in f) for f in frames], request_size, est
            )
            self._present(Text("\n".join(lines)), outpaint_plan, show=True)
            return outpaint_plan
        self._refuse_over_budget(est)
        if opts["fresh"]:
            kwargs["cache"] = "refresh"
        try:
            result, handle = self._run(
                plan_text, opts["show"], lambda: outpaint.run(client, canvas, prompt, **kwargs)
            )
        except outpaint.OutpaintIncomplete as exc:  # the frames before the failure are stored and billed
            self.ledger.record(self._outpaint_cost(exc.result, est))
            raise UsageError(_one_line(exc)) from exc
        cost = self._outpaint_cost(result, est)
        self.ledger.record(cost)
        line = f"{plan_text} · {format_usd(cost)} · {self.ledger.describe()}"
        if result.path is not None:
            line += f" · stored at {result.path}"
        if opts["show"] and handle is not None:
            handle.update(Text(line))
        if opts.get("out"):
            folder = Path(opts["out"]).expanduser()
            folder.mkdir(parents=True, exist_ok=True)
            _png.write_atomic(folder / f"{_slug(prompt)}-outpaint.png", _png.encode(result.image))
        self._present(result.image, result, show=opts["show"])
        return result

    @staticmethod
    def _outpaint_cost(result: Any, est: Estimate) -> float | None:
        """What the frames cost (each frame's recorded cost): nothing offline or for frames replayed."""
        if est.offline:
            return 0.0
        sent = [f for f in result.frames if not f.info.get("cached")]
        costs = [f.info.get("cost_usd") for f in sent]
        if all(c is not None for c in costs):
            return round(sum(costs), 6)
        per_frame = None if est.usd is None else est.usd / max(est.requests, 1)
        return None if per_frame is None else round(per_frame * len(sent), 6)

    def _cmd_batch(self, inv: Invocation, ns: dict[str, Any]) -> Any:
        from ..batching import BatchInterrupted, batch, coerce_prompts, plan

        a = inv.args
        value, found = resolve_object(a.prompts, ns, what="PROMPTS")
        if not found:
            raise UsageError(
                f"%dalle batch: {a.prompts!r} is not defined: define a list of prompts first, "
                f"e.g. {a.prompts} = ['a red fox', 'a blue fox']"
            )
        texts = coerce_prompts(value, name=a.prompts)
        opts = self._options(inv, ns)
        concurrency = to_int(
            None if a.concurrency is None else interpolate(a.concurrency, ns),
            "--concurrency",
            default=self.concurrency,
        )
        client = self.client(opts["protocol"])
        kwargs = self._request_kwargs(opts)
        batch_plan = plan(client, texts, **kwargs)
        sendable = batch_plan.sendable
        est = self._estimate(client, sendable[0].prepared if sendable else None, requests=len(sendable))
        if opts["dry_run"]:
            text = Text("dry run: nothing sent\n" + batch_plan.describe() + "\n" + self.ledger.describe())
            self._present(text, batch_plan, show=True)
            return batch_plan
        # the plan's total is the sum of each prompt's own estimate (prompts differ in length)
        self._refuse_over_budget(
            dataclasses.replace(est, usd=est.usd if est.offline else batch_plan.cost_usd)
        )
        try:
            result = batch(
                texts,
                concurrency=concurrency or self.concurrency,
                client=client,  # twinned into an async client with the same endpoint, store and cache
                cache="refresh" if opts["fresh"] else None,
                progress=opts["show"],
                **kwargs,
            )
        except BatchInterrupted as exc:
            self.ledger.record(0.0 if getattr(client, "is_offline", False) else exc.cost_usd)
            raise UsageError(str(exc)) from None
        result.client = client
        for item in result.items:
            if item.ok:
                self.ledger.record(0.0 if getattr(client, "is_offline", False) else item.cost_usd)
        if opts.get("out"):
            for item in result.succeeded:
                self._export(item.result, Path(opts["out"]), item.prompt)
        self._present(result, result, show=opts["show"])
        return result

    def _cmd_board(self, inv: Invocation, ns: dict[str, Any]) -> Any:
        path = inv.args.path
        if path is not None:
            path = interpolate(path, ns)
            board = _widget("MoodBoard")(Path(path).expanduser())
        else:
            board = _widget("current_board")()
        self._present(board, board, show=self.show)
        return board

    def _cmd_models(self, inv: Invocation, ns: dict[str, Any]) -> ModelList:
        protocol = to_protocol(None if inv.args.protocol is None else interpolate(inv.args.protocol, ns))
        client = self.client(protocol or self.protocol)
        return ModelList(client.models())

    def _cmd_config(self, _inv: Invocation, _ns: dict[str, Any]) -> EffectiveConfig:
        client = self.client(self.protocol)
        key_set = bool(os.environ.get("OPENAI_API_KEY"))
        offline = bool(getattr(client, "is_offline", False))
        model = self.model or getattr(client, "model", None) or DEFAULT_MODEL
        spec_size = lookup(model, warn=False).default_size or "the endpoint's default"
        store = getattr(getattr(client, "store", None), "root", None)
        if store is None:
            from ..store import Store

            store = Store().root
        return EffectiveConfig(
            endpoint=str(getattr(client, "base_url", self.base_url)),
            engine="offline engine (synthetic images, free)"
            if offline
            else f"remote ({getattr(client, 'endpoint_kind', 'compatible')})",
            key="set (OPENAI_API_KEY)" if key_set else "not set",
            protocol=self.protocol,
            model=model,
            size=self.size or f"{spec_size} (the model's default)",
            n=self.n,
            show=self.show,
            store=str(store),
            budget=format_usd(self.budget_usd) if self.budget_usd is not None else "none",
            spent=self.ledger.describe(),
            concurrency=self.concurrency,
            out=self.out or "-",
        )


def _widget(name: str) -> Any:
    """A name from :mod:`dalle_widgets.widgets` (imported on first use: the magic loads without them)."""
    from .. import widgets

    return getattr(widgets, name)


DalleMagics.dalle.__doc__ = "Generate, vary, edit, outpaint and batch images.\n\n" + full_help()
