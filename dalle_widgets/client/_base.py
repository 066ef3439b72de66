"""All the client logic that does no network I/O, shared by the sync and async twins.

Validation and request building (:meth:`BaseImagesClient.prepare` returns a
:class:`PreparedRequest` and sends nothing), the request cache key, response reading,
and turning received bytes into stored :class:`GeneratedImage` objects with provenance.
:mod:`._sync` and :mod:`._async` add only the send loop, sleeping and closing.

What leaves a client goes through here too, so that the twins (and any new way of
sending, such as a stream) share it:

* :meth:`BaseImagesClient._leaving` is the one exit of every public call: any
  exception that is not in the error tree becomes one, and every error is passed
  through :func:`~dalle_widgets.errors.scrub` with the client's key;
* :meth:`BaseImagesClient._failure` maps whatever the transport raised to the tree;
* :meth:`BaseImagesClient._reader` and :mod:`._limits` bound what an answer can make
  the client hold; :meth:`BaseImagesClient._store_answer` handles every image of an
  answer on its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar

import httpx

from .. import _png
from .._formats import sniff
from .._types import CacheMode, FramingMode, WireProtocol
from .._version import __version__
from ..errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    DalleWidgetsError,
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    PartialResultError,
    StoreWriteError,
    redact,
    scrub,
)
from ..models import (
    OPERATIONS,
    ModelSpec,
    Operation,
    lifecycle_warning,
    lookup,
    models_taking_images,
    parse_size,
)
from ..pricing import Estimate, cost_from_usage, estimate
from ..results import GeneratedImage, ImageEvent, ImageResult
from ..store import Store
from . import _uploads
from ._config import (
    CACHE_MODES,
    MAX_RETRY_AFTER,
    USER_AGENT,
    SafeHeaders,
    Secret,
    origin_of,
    resolve_settings,
)
from ._deadline import total_seconds
from ._fields import check_fields, check_gif
from ._limits import (
    ACCEPT_ENCODING,
    MAX_ERROR_BODY,
    BodyReader,
    BodyTooLarge,
    answer_limit,
    bound_fields,
    image_limit,
)
from ._protocols import CHAT_PATH, IMAGES_PATHS, build_chat_body, parse_chat_body, summarize_chat_body
from ._providers import chat_image_options
from ._responses import (
    RawImage,
    check_image,
    make_status_error,
    parse_images_body,
    parse_json_body,
    retired_message,
    retry_after_seconds,
    retry_wait,
)
from ._streaming import SSE, StreamItem, read_event
from ._window import Framing, check_framing, model_fit, takes_as_is, windowed

__all__ = ["BaseImagesClient", "ModelIds", "PreparedRequest"]

logger = logging.getLogger("dalle_widgets")
#: A concrete client class (sync or async), for constructors that return their own class.
_Client = TypeVar("_Client", bound="BaseImagesClient")
#: Any exception: redaction hands back the very one it was given.
_Error = TypeVar("_Error", bound=BaseException)

#: Redirects followed when downloading an image (each hop re-checks where credentials may go).
MAX_REDIRECTS = 5
#: Most bytes ``GET /models`` may answer.
MAX_MODELS_BODY = 8_000_000
#: How many unusable images an error message lists one by one.
_LISTED_FAILURES = 5

_SIZE_SHAPE = "WIDTHxHEIGHT"


def _fewer_images_fix(operation: Operation, count: int, most: int) -> str:
    """What to do about too many input images: fewer, or a model whose edits take that many."""
    if operation == "vary":
        return "pass one image (a list of several is for edits on GPT image models)"
    able = models_taking_images(count)
    fewer = f"pass at most {most}" if most > 1 else "pass one image"
    if not able:
        return fewer
    return f"{fewer}, or use a model whose edits take {count}, e.g. model={able[0]!r}"


def _join(values: tuple[str, ...]) -> str:
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


def _chars(k: int) -> str:
    return f"{k} character{'' if k == 1 else 's'}"


@dataclass
class PreparedRequest:
    """A validated request, ready to send; building it sends nothing and costs nothing.

    Attributes
    ----------
    operation : str
        ``generate``, ``edit`` or ``vary``.
    protocol : str
        ``images`` or ``chat``.
    method, url : str
        Where it goes (``url`` is the full endpoint URL).
    fields : dict
        The non-file fields as sent (for chat, the JSON body with data URLs summarised).
    files : dict
        ``{name: (filename, nbytes, (width, height))}`` for each uploaded file, named
        ``image``, ``image[0]``, ``image[1]``... (sent as repeated ``image[]`` parts) or ``mask``.
    model : str
    n : int
    size : str or None
        None only for unknown models with no size given (the server's default applies).
    prompt : str or None
    estimate : dalle_widgets.pricing.Estimate
        What it will cost, and how that was worked out (``.usd``, ``.method``, ``.detail``):
        the one pricing path (:func:`dalle_widgets.pricing.estimate`). 0.0 on the offline engine.
    cost_usd : float or None
        ``estimate.usd``.
    cache_key : str
        Hash of endpoint, model, every parameter and the uploaded bytes (never the key);
        ``stream`` and ``partial_images`` are left out, so a streamed request and a plain
        one replay each other's images.
    options : dict
        The GPT image fields sent (``quality``, ``background``, ``output_format``...).
    stream : bool
        Whether the answer comes as server-sent events (see :class:`ImageStream`).
    partial_images : int or None
    sent_as : str
        The operation on the wire: ``edit`` for a ``vary`` on a model without a
        variations endpoint (an edit of the whole image with :data:`VARY_PROMPT`).
    framing : Framing or None
        Set when an edit's photo is not a size the model takes: the request is a window
        around the mask (``framing.window``, a :class:`dalle_widgets.photo_window.Window`)
        and each answer is pasted back into the photo at its own size, with the window
        in its provenance (``info["window"]``).
    """

    operation: Operation
    protocol: WireProtocol
    method: str
    url: str
    fields: dict[str, Any]
    files: dict[str, tuple[str, int, tuple[int, int]]]
    model: str
    n: int
    size: str | None
    prompt: str | None
    estimate: Estimate
    cache_key: str
    response_format: str | None = None
    seed: int | None = None
    lineage: dict[str, Any] = field(default_factory=dict)
    uploads: list[_uploads.Upload] = field(default_factory=list, repr=False)
    body: dict[str, Any] | None = field(default=None, repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    partial_images: int | None = None
    sent_as: str = ""
    framing: Framing | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.sent_as = self.sent_as or self.operation

    def describe(self) -> str:
        """A human-readable account of what would be sent and what it would cost."""
        how = (
            self.operation
            if self.sent_as == self.operation
            else f"{self.operation}, sent as an {self.sent_as}"
        )
        lines = [f"{self.method} {self.url}  ({how}, {self.protocol} protocol)"]
        head = [f"model: {self.model}", f"n: {self.n}", f"size: {self.size or 'server default'}"]
        if self.response_format:
            head.append(f"response_format: {self.response_format}")
        if self.seed is not None:
            head.append(f"seed: {self.seed}")
        head.extend(f"{k}: {v}" for k, v in self.options.items())
        if self.stream:
            head.append(f"stream: yes, {self.partial_images or 0} preview(s) per image")
        lines.append("  " + "   ".join(head))
        if self.prompt is not None:
            shown = self.prompt if len(self.prompt) <= 200 else self.prompt[:200] + "..."
            lines.append(f"  prompt: {shown!r} ({len(self.prompt)} chars)")
        for name, (filename, nbytes, (w, h)) in self.files.items():
            kind = filename.rsplit(".", 1)[-1].upper().replace("JPG", "JPEG")
            lines.append(f"  {name}: {filename} {w}x{h} {kind}, {nbytes:,} bytes")
        if self.framing is not None:
            lines.append(f"  {self.framing.describe()}")
        est = self.estimate
        if est.offline:
            lines.append("  cost: $0.00 (offline engine)")
        elif est.usd is None:
            lines.append(f"  cost: unknown ({est.detail or 'no price in dalle_widgets.models'})")
        elif est.method == "per-image":
            each = est.usd / self.n
            lines.append(f"  cost: {self.n} x ${each:.3f} = ${est.usd:.3f}")
        else:
            lines.append(f"  cost: about ${est.usd:.3f} ({est.detail})")
        return "\n".join(lines)

    @property
    def cost_usd(self) -> float | None:
        """The estimated cost in USD (``estimate.usd``): 0.0 offline, None when unknown."""
        return self.estimate.usd

    def __str__(self) -> str:
        return self.describe()


def _cache_key(
    url: str, protocol: WireProtocol, fields: dict[str, Any], uploads: list[_uploads.Upload]
) -> str:
    material = {
        "v": 1,
        "endpoint": url,
        "protocol": protocol,
        "fields": fields,
        "files": {u.name: u.sha256 for u in uploads},
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


class ModelIds(list):
    """What :meth:`models` returns: the endpoint's model ids, as a list of str.

    ``shutdown_dates`` maps each id to the ``shutdown_date`` the endpoint reported for it
    (a :class:`datetime.date`, or None when it gave none).
    """

    def __init__(self, ids: Any = ()) -> None:
        super().__init__(ids)
        self.shutdown_dates: dict[str, dt.date | None] = {}


def _shutdown_date(value: Any) -> dt.date | None:
    """``GET /models`` ``shutdown_date``: ``YYYY-MM-DD``, a Unix time, or null."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return dt.datetime.fromtimestamp(value, dt.timezone.utc).date()
    return None


#: What a variation on a model without a variations endpoint asks of an edit of the whole image.
VARY_PROMPT = (
    "Make a variation of this image: keep its subject, composition, style and colour palette, "
    "and change the details, as another take of the same picture."
)


def vary_prompt(parent_prompt: str | None = None) -> str:
    """The instruction sent with a variation made as an edit (the parent's prompt, when known, added).

    >>> vary_prompt("a red fox").endswith("The original picture was made from: a red fox")
    True
    """
    if not parent_prompt:
        return VARY_PROMPT
    return f"{VARY_PROMPT} The original picture was made from: {parent_prompt}"[:32000]


def _form_value(value: Any) -> str:
    """A multipart field as text: booleans as ``true``/``false``, as the SDK and curl send them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Exit:
    """The one exit of every public call of a client, sync or async, stream or not.

    An error of the tree leaves scrubbed (:func:`~dalle_widgets.errors.scrub` with the
    client's key) and without the frames below the exit: those frames hold what the server
    sent (bodies, parsed JSON, headers) in their local variables, which a verbose traceback
    (``%xmode Verbose``) or a debugger would print. Any other exception (a library's error no
    mapping foresaw, a parser's surprise) leaves as an :class:`InvalidResponseError` chained
    to it, so ``except DalleWidgetsError`` catches whatever a server can cause. Cancellation
    and ``KeyboardInterrupt`` pass through untouched.

    Public methods keep only their arguments and the prepared request as locals above the
    exit; the work that handles the answer runs in helpers called inside it.
    """

    __slots__ = ("_client", "_where")

    def __init__(self, client: BaseImagesClient, where: str) -> None:
        self._client = client
        self._where = where

    def __repr__(self) -> str:
        return "<dalle_widgets client exit>"

    def __enter__(self) -> _Exit:
        return self

    def __exit__(self, typ: Any, value: BaseException | None, tb: Any) -> Literal[False]:
        if value is None or not isinstance(value, Exception):
            return False
        client = self._client
        if isinstance(value, DalleWidgetsError):
            client._scrub(value)  # noqa: SLF001 - _Exit is the client's helper, in its module
            _drop_frames(value)
            return False
        detail = redact(str(value) or type(value).__name__, *client._secrets())[:300]  # noqa: SLF001 - as above
        error = InvalidResponseError(
            f"{self._where}: could not handle the answer ({type(value).__name__}: {detail})"
        )
        client._scrub(value)  # noqa: SLF001 - as above
        _drop_frames(value)
        del value, tb  # this frame shows in the traceback of the error raised here
        raise client._scrub(error)  # noqa: SLF001 - as above


def _drop_frames(error: BaseException) -> None:
    """Forget the frames of ``error`` and of every exception chained to it."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        current = current.__cause__ or current.__context__


class BaseImagesClient:
    """Configuration, validation, request building and result handling (no I/O)."""

    _async = False

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        model: str | None = None,
        protocol: WireProtocol = "images",
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 2,
        http_client: Any = None,
        store: Store | str | None = None,
        cache: CacheMode | None = None,
        azure_endpoint: str | None = None,
        api_version: str | None = None,
    ) -> None:
        api_key = Secret.of(api_key)  # no frame below holds the bare key (see Secret)
        self._settings = resolve_settings(
            api_key,
            base_url,
            model=model,
            protocol=protocol,
            timeout=timeout,
            max_retries=max_retries,
            cache=cache,
            azure_endpoint=azure_endpoint,
            api_version=api_version,
        )
        self._timeout: httpx.Timeout
        if timeout is None and http_client is not None:
            self._timeout = http_client.timeout
        else:
            self._timeout = self._settings.timeout
        self._store = store if isinstance(store, Store) else Store(store)
        self._specs: dict[str, ModelSpec] = {}
        #: shutdown dates the endpoint itself reported at ``GET /models``
        self._endpoint_shutdowns: dict[str, dt.date] = {}
        self._lifecycle_warned: set[str] = set()

    @classmethod
    def twin_of(cls: type[_Client], client: BaseImagesClient) -> _Client:
        """A new client of this class with exactly the settings and store of ``client``.

        Same endpoint, key, model, protocol, timeouts, retries, store and cache, and the
        same offline flag: the twin shares the settings object, so the key is copied
        inside it and never exposed. :func:`dalle_widgets.batching.async_twin` uses it.
        """
        twin = cls(
            base_url=client.base_url,
            api_key="unused",  # replaced by the original settings just below
            model=client.model,
            protocol=client.protocol,
            timeout=client.timeout,
            max_retries=client.max_retries,
            store=client.store,
            cache=client.cache,
        )
        twin._settings = client._settings
        return twin

    # --- read-only configuration ----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def model(self) -> str:
        return self._settings.model

    @property
    def protocol(self) -> WireProtocol:
        return self._settings.protocol

    @property
    def endpoint_kind(self) -> str:
        """``openai``, ``azure``, ``compatible`` or ``offline``: what the default model and the
        lifecycle checks depend on (see :func:`dalle_widgets.models.default_model`)."""
        return self._settings.kind

    @property
    def is_offline(self) -> bool:
        """True when this client talks to the built-in offline engine."""
        return self._settings.offline

    @property
    def max_retries(self) -> int:
        return self._settings.max_retries

    @property
    def timeout(self) -> httpx.Timeout:
        return self._timeout

    @property
    def store(self) -> Store:
        return self._store

    @property
    def cache(self) -> CacheMode:
        return self._settings.cache

    def __repr__(self) -> str:
        key = "<set>" if self._settings.api_key else "<not set>"
        extra = ", offline=True" if self.is_offline else ""
        if self.endpoint_kind == "azure":
            extra += ", azure=True"
        if self.protocol != "images":
            extra += f", protocol={self.protocol!r}"
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, model={self.model!r}, api_key={key}{extra})"
        )

    def _secrets(self) -> tuple[str | None, ...]:
        return (self._settings.api_key,)

    def _headers(self) -> httpx.Headers:
        """The API request headers, as :class:`SafeHeaders` (their repr shows no credential)."""
        headers = SafeHeaders(
            {"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING}
        )
        headers.update(self._settings.auth_headers())
        return headers

    def _download_headers(self, url: str) -> httpx.Headers:
        """Credentials go only to the configured base URL's origin, never to another host."""
        headers = SafeHeaders({"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING})
        if origin_of(url) == self._settings.origin:
            headers.update(self._settings.auth_headers())
        return headers

    # --- what leaves the client -------------------------------------------------------------------

    def _scrub(self, error: _Error) -> _Error:
        """``error`` with this client's key (and anything like a credential) redacted everywhere."""
        return scrub(error, *self._secrets())

    def _leaving(self, where: str) -> _Exit:
        """The one exit of every public call (sync or async): ``with self._leaving(where): ...``."""
        return _Exit(self, where)

    @property
    def _total(self) -> float | None:
        """The deadline of one exchange (connect, send, headers and body together), in seconds."""
        return total_seconds(self._timeout)

    def _failure(self, exc: Exception, where: str, url: str) -> tuple[DalleWidgetsError, bool]:
        """What the transport raised, as ``(error of the tree, whether retrying may help)``.

        Shared by the twins' send loops: timeouts (the total deadline included) and broken
        connections (:meth:`_transport_error`) are retried; a URL that cannot be fetched (bad
        port, a tab in the host, an unsupported scheme), a redirect loop and an oversized
        answer are not.
        """
        detail = redact(str(exc) or type(exc).__name__, *self._secrets())[:300]
        shown = redact(url)[:200]
        if isinstance(exc, TimeoutError):  # the async deadline
            exc = httpx.ReadTimeout(str(exc) or "the request's total deadline passed")
        if isinstance(exc, BodyTooLarge):
            return InvalidResponseError(f"{where}: {detail}; refused to read more"), False
        if isinstance(exc, httpx.TooManyRedirects):
            return InvalidResponseError(
                f"{where}: {shown!r} redirects more than {MAX_REDIRECTS} times"
            ), False
        if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.UnsupportedProtocol):
            return self._transport_error(exc, url, where), True
        return InvalidResponseError(f"{where}: cannot fetch {shown!r} ({detail})"), False

    @staticmethod
    def _reader(response: Any, limit: int) -> BodyReader:
        """The reader of ``response``'s body: up to ``limit`` bytes for a success, an error's start."""
        ok = 200 <= response.status_code < 300
        return BodyReader(
            response.headers.get("content-encoding", ""),
            limit=limit if ok else MAX_ERROR_BODY,
            truncate=not ok,
        )

    def _redirect(
        self, response: Any, kwargs: dict[str, Any], hops: int
    ) -> tuple[str, dict[str, Any]] | None:
        """Where a download goes next, with headers for that origin (None: not a redirect)."""
        if not response.has_redirect_location or response.next_request is None:
            return None
        if hops >= MAX_REDIRECTS:
            raise httpx.TooManyRedirects("too many redirects", request=response.request)
        url = str(response.next_request.url)
        return url, {**kwargs, "headers": self._download_headers(url)}

    # --- validation and request building --------------------------------------------------------

    def prepare(
        self,
        operation: Operation,
        /,
        prompt: str | None = None,
        image: Any = None,
        *,
        mask: Any = None,
        n: int = 1,
        size: str | None = None,
        model: str | None = None,
        response_format: str | None = None,
        user: str | None = None,
        seed: int | None = None,
        extra_body: dict[str, Any] | None = None,
        quality: str | None = None,
        background: str | None = None,
        output_format: str | None = None,
        output_compression: int | None = None,
        moderation: str | None = None,
        input_fidelity: str | None = None,
        complexity: str | None = None,
        stream: bool = False,
        partial_images: int | None = None,
        frame_count: int | None = None,
        frame_duration_ms: int | None = None,
        framing: FramingMode = "window",
    ) -> PreparedRequest:
        """Validate a request and build it without sending anything.

        Parameters are those of :meth:`generate`, :meth:`edit` and :meth:`vary`.
        Raises :class:`~dalle_widgets.errors.InvalidRequestError` naming the bad value,
        the model and the fix. Used by ``%dalle --dry-run`` and budgets (``.cost_usd``).
        """
        if operation not in OPERATIONS:
            raise InvalidRequestError(f"operation {operation!r} is not one of {', '.join(OPERATIONS)}")
        model_name = model or self.model
        if not isinstance(model_name, str) or not model_name.strip():
            raise InvalidRequestError(
                f"model={model_name!r}: pass a model name such as 'dall-e-2'", param="model"
            )
        spec = self._spec(model_name)
        self._check_lifecycle(model_name, spec)
        # a model without a variations endpoint varies by an edit of the whole image
        vary_as_edit = (
            operation == "vary"
            and not spec.supports("vary")
            and spec.supports("edit")
            and self.protocol == "images"
        )
        if not spec.supports(operation) and not vary_as_edit:
            what = {"generate": "generations", "edit": "edits", "vary": "variations"}[operation]
            hint = " (dall-e-2 and the GPT image models make variations)" if operation == "vary" else ""
            raise InvalidRequestError(f"{spec.name} has no {what} endpoint{hint}", param="model")
        n = self._check_n(n, spec)
        if operation != "vary":
            prompt = self._check_prompt(prompt, spec)
        elif prompt is not None:
            raise InvalidRequestError("variations take no prompt; use edit() to steer an image with text")
        if user is not None and not isinstance(user, str):
            raise InvalidRequestError(f"user={user!r}: pass a string id for the end user", param="user")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidRequestError(f"seed={seed!r}: pass an integer", param="seed")
        fmt = self._check_response_format(response_format, spec)

        uploads, lineage, input_size, framed = self._inputs(
            operation, spec, image, mask, size=size, framing=check_framing(framing)
        )
        gif = output_format == "gif" and self.protocol == "images"
        if gif:  # a GIF's size is one frame's, by the table's GIF rule (check_gif names the fix)
            size = check_gif(
                spec, "edit" if vary_as_edit else operation, size, frame_count, frame_duration_ms
            )
        else:
            size = self._check_size(size, spec, input_size)
        extras = self._check_extra(extra_body)
        options = check_fields(
            spec,
            "edit" if vary_as_edit else operation,
            quality=quality,
            background=background,
            output_format=output_format,
            output_compression=output_compression,
            moderation=moderation,
            input_fidelity=input_fidelity,
            complexity=complexity,
            stream=stream,
            partial_images=partial_images,
            frame_count=frame_count,
            frame_duration_ms=frame_duration_ms,
            n=n,
            has_mask=mask is not None,
            input_images=sum(1 for u in uploads if u.part != "mask"),
        )
        if stream and self.protocol != "images":
            raise InvalidRequestError(
                f"stream=True works with the images protocol only, not {self.protocol!r}: drop stream=True",
                param="stream",
            )
        sent_as = "edit" if vary_as_edit else operation
        if vary_as_edit:
            prompt = vary_prompt(lineage.get("parent_prompt"))
        lineage.pop("parent_prompt", None)
        if self.protocol == "images":
            path = IMAGES_PATHS[sent_as]
            fields: dict[str, Any] = {
                "model": model_name,
                "prompt": prompt,
                "n": n,
                "size": size,
                "response_format": fmt,
                "user": user,
                "seed": seed,
                **options,
            }
            fields = {k: v for k, v in fields.items() if v is not None} | extras
            body = fields if sent_as == "generate" else None  # edits and variations are multipart
        else:
            path = CHAT_PATH
            options = {
                "n": n if n > 1 else None,
                "seed": seed,
                "user": user,
                **chat_image_options(size, extras),
            }
            body = build_chat_body(operation, model_name, prompt, uploads, options)
            fields = summarize_chat_body(body, uploads)
            fmt = None
        est = estimate(
            model_name,
            size,
            n,
            quality=options.get("quality") or extras.get("quality"),
            operation=sent_as,  # a variation made as an edit is priced as an edit
            input_sizes=[u.size for u in uploads if u.part != "mask"],
            prompt_chars=len(prompt or ""),
            offline=self.is_offline,
            spec=spec,
            frames=((frame_count or spec.gif_rule.default_frames) if gif and spec.gif_rule else None),
        )
        key_fields = {**fields, "size": size} if self.protocol == "chat" else fields
        key_fields = {k: v for k, v in key_fields.items() if k not in ("stream", "partial_images")}
        if framed is not None:  # the answer is pasted into this photo: another photo is another request
            key_fields = {**key_fields, "window": framed.window.as_dict(), "photo": lineage["parent_hash"]}
        return PreparedRequest(
            operation=operation,
            protocol=self.protocol,
            method="POST",
            url=self._settings.url(path, model_name),
            fields=fields,
            files={u.name: u.summary() for u in uploads},
            model=model_name,
            n=n,
            size=size,
            prompt=prompt,
            estimate=est,
            cache_key=_cache_key(self._cache_endpoint(path, model_name), self.protocol, key_fields, uploads),
            response_format=fmt,
            seed=seed,
            lineage=lineage,
            uploads=uploads,
            body=body,
            options={k: v for k, v in options.items() if k not in ("stream", "partial_images")},
            stream=bool(stream),
            partial_images=options.get("partial_images"),
            sent_as=sent_as,
            framing=framed,
        )

    def _cache_endpoint(self, path: str, model: str) -> str:
        """The endpoint part of the cache key. The offline engine listens on a random port per
        start, so its requests are keyed by path alone: a notebook re-run after a kernel restart
        replays instead of regenerating."""
        if self.is_offline:
            return f"dalle-widgets-offline-engine/{path.lstrip('/')}"
        return self._settings.url(path, model)

    def _spec(self, model: str) -> ModelSpec:
        """The model table's entry, looked up once per client (an unknown model warns once, not per call)."""
        spec = self._specs.get(model)
        if spec is None:
            spec = self._specs[model] = lookup(model)
        return spec

    def _check_lifecycle(self, model: str, spec: ModelSpec) -> None:
        """Refuse a shut-down model on OpenAI before sending; warn when one is near or past its date.

        The dates are the model table's (OpenAI's own schedule, enforced only on api.openai.com)
        and any ``shutdown_date`` the endpoint reported at ``GET /models`` (any endpoint).
        """
        if self.is_offline:
            return
        today = dt.date.today()
        reported = self._endpoint_shutdowns.get(model) or self._endpoint_shutdowns.get(spec.name)
        own = self._settings.endpoint.enforces_lifecycle
        if own and (spec.is_shut_down(today) or (reported is not None and today >= reported)):
            when = min(d for d in (spec.shutdown_date, reported, today) if d is not None)
            raise ModelNotFoundError(retired_message(model, when, self._settings.host))
        note = lifecycle_warning(model, today, reported) if (own or reported) else None
        if note and note not in self._lifecycle_warned:  # once per client and model, not per call
            self._lifecycle_warned.add(note)
            logger.warning("%s (%s)", note, self._settings.host)

    @staticmethod
    def _inputs(
        operation: Operation,
        spec: ModelSpec,
        image: Any,
        mask: Any,
        *,
        size: Any = None,
        framing: str = "window",
    ) -> tuple[list[_uploads.Upload], dict[str, Any], tuple[int, int] | None, Framing | None]:
        """Check and encode the image(s) (and mask) of an edit or variation.

        Returns ``(uploads, lineage, size, framing)``. ``image`` may be a list of up to
        ``spec.max_input_images`` images (edits): one goes as the ``image`` part, several as
        repeated ``image[]`` parts; a mask applies to the first. ``size`` is the first
        image's, or the window's when one image is edited through a window (``framing``):
        a photo the model does not take at its own size is sent as a window around its
        mask and the answer pasted back (:mod:`dalle_widgets.photo_window`); ``framing``
        picks that window: around the mask, the whole photo padded, or its centre crop.
        """
        if operation == "generate":
            if image is not None or mask is not None:
                raise InvalidRequestError("generate takes no image or mask; use edit() or vary()")
            return [], {}, None, None
        if image is None:
            raise InvalidRequestError(f"{operation} needs an image", param="image")
        if mask is not None and operation == "vary":
            raise InvalidRequestError("variations take no mask; use edit(image, prompt, mask=...)")
        images = list(image) if isinstance(image, (list, tuple)) else [image]
        if not images:
            raise InvalidRequestError(f"image=[]: {operation} needs at least one image", param="image")
        if len(images) > 1 and (operation == "vary" or len(images) > spec.max_input_images):
            most = 1 if operation == "vary" else spec.max_input_images
            raise InvalidRequestError(
                f"{len(images)} images: {spec.name} takes at most {most} input image"
                f"{'s' if most != 1 else ''} per {operation}: "
                + _fewer_images_fix(operation, len(images), most),
                param="image",
            )
        several = len(images) > 1
        part = "image[]" if several else "image"
        uploads: list[_uploads.Upload] = []
        lineage: dict[str, Any] = {}
        pils = []
        for i, original in enumerate(images):
            label = f"image[{i}]" if several else "image"
            pil, facts = _uploads.coerce_image(original, name=label)
            if (
                operation == "edit"
                and not several
                and not takes_as_is(spec, pil.size, has_mask=mask is not None)
            ):
                fit = model_fit(spec, size)
                if fit is not None:
                    return windowed(spec, original, pil, facts, mask, fit, framing)
            _uploads.check_square(pil, spec, operation)
            pils.append(pil)
            uploads.append(_uploads.input_upload(part, label, original, pil, spec))
            if i == 0:
                lineage.update(facts)
                prompt = getattr(original, "info", None) and original.info.get("prompt")
                if isinstance(prompt, str):
                    lineage["parent_prompt"] = prompt
            lineage.setdefault("parent_hashes", []).append(facts["parent_hash"])
        if mask is None:
            if operation == "edit":
                _uploads.check_transparency(pils[0], spec)
            return uploads, lineage, pils[0].size, None
        bool_mask = _uploads.coerce_mask(mask, pils[0], several=several)
        lineage["mask_hash"] = _uploads.mask_hash(bool_mask)
        return [*uploads, _uploads.mask_upload(bool_mask, spec)], lineage, pils[0].size, None

    @staticmethod
    def _check_n(n: Any, spec: ModelSpec) -> int:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= spec.max_n:
            raise InvalidRequestError(
                f"n={n!r}: {spec.name} makes 1 to {spec.max_n} images per request", param="n"
            )
        return n

    @staticmethod
    def _check_prompt(prompt: Any, spec: ModelSpec) -> str:
        if not isinstance(prompt, str):
            raise InvalidRequestError(f"prompt must be a string, got {type(prompt).__name__}", param="prompt")
        if not prompt.strip():
            raise InvalidRequestError("prompt is empty; describe the image you want", param="prompt")
        if spec.max_prompt_chars is not None and len(prompt) > spec.max_prompt_chars:
            raise InvalidRequestError(
                f"prompt is {len(prompt)} characters; {spec.name} accepts at most {spec.max_prompt_chars}: "
                f"shorten it by {_chars(len(prompt) - spec.max_prompt_chars)}",
                param="prompt",
            )
        return prompt

    @staticmethod
    def _check_size(size: Any, spec: ModelSpec, input_size: tuple[int, int] | None) -> str | None:
        rule = spec.size_rule
        if size is None:
            if input_size is not None:
                own = f"{input_size[0]}x{input_size[1]}"
                if own in spec.sizes or (rule.kind == "flexible" and rule.allows(own)):
                    return own
            return spec.default_size if spec.known else None
        if not isinstance(size, str):
            raise InvalidRequestError(f"size={size!r}: pass a string such as '1024x1024'", param="size")
        if rule.kind == "fixed" or (spec.known and rule.kind == "any" and spec.sizes):
            if size not in spec.sizes:
                raise InvalidRequestError(
                    f"size {size!r} is not supported by {spec.name}; use {_join(spec.sizes)}", param="size"
                )
            return size
        problem = rule.problem(size)
        if problem is not None:
            if rule.kind == "any":
                raise InvalidRequestError(
                    f"size {size!r} is not {_SIZE_SHAPE} (e.g. '1024x1024') or 'auto'", param="size"
                )
            nearest = rule.nearest(size)
            fix = (
                f"the nearest valid size is {nearest!r}" if nearest else "use WIDTHxHEIGHT, e.g. '1024x1024'"
            )
            auto = " (or 'auto')" if rule.auto else ""
            raise InvalidRequestError(
                f"size {size!r} is not supported by {spec.name}: {problem}; {fix}{auto}", param="size"
            )
        return size

    @staticmethod
    def _check_response_format(fmt: Any, spec: ModelSpec) -> str | None:
        if fmt is None:
            # b64_json by default: one round trip, and no link that expires in 60 minutes.
            # GPT image models always answer base64 and reject the field.
            return None if spec.response_formats == ("b64_json",) else "b64_json"
        if fmt not in ("url", "b64_json"):
            raise InvalidRequestError(
                f"response_format={fmt!r}: use 'url' or 'b64_json'", param="response_format"
            )
        if fmt not in spec.response_formats:
            raise InvalidRequestError(
                f"response_format={fmt!r} is not supported by {spec.name}; it always returns b64_json "
                "(leave response_format unset)",
                param="response_format",
            )
        return str(fmt)

    @staticmethod
    def _check_extra(extra: Any) -> dict[str, Any]:
        if extra is None:
            return {}
        if not isinstance(extra, dict) or not all(isinstance(k, str) for k in extra):
            raise InvalidRequestError("extra_body must be a dict of field name -> value")
        return dict(extra)

    # --- what the send loops call ---------------------------------------------------------------

    def _request_kwargs(self, prepared: PreparedRequest) -> dict[str, Any]:
        """Arguments for ``httpx.Client.request`` (the multipart file parts included)."""
        kwargs: dict[str, Any] = {"headers": self._headers(), "timeout": self._timeout}
        if prepared.body is not None:
            kwargs["json"] = prepared.body
        else:
            kwargs["data"] = {k: _form_value(v) for k, v in prepared.fields.items()}
            # a list, not a dict: several input images are repeated ``image[]`` parts
            kwargs["files"] = [(u.part, u.multipart()) for u in prepared.uploads]
        if prepared.stream:
            kwargs["headers"] = {**kwargs["headers"], "Accept": "text/event-stream"}
        return kwargs

    def _where(self, prepared: PreparedRequest | None = None) -> str:
        host = self._settings.host
        return f"{host} ({prepared.operation})" if prepared else host

    def _status_error(self, response: httpx.Response, model: str | None, where: str) -> APIError:
        error = make_status_error(
            response.status_code,
            response.headers,
            response.content,
            where=where,
            model=model,
            secrets=self._secrets(),
        )
        asked = retry_after_seconds(response.headers)
        if asked is not None and asked > MAX_RETRY_AFTER:
            note = (
                f" The server asks to wait {asked:.0f} s before retrying, longer than the "
                f"{MAX_RETRY_AFTER:.0f} s dalle_widgets waits on its own: try again later."
            )
            error.message += note
            error.args = (error.message,)
        return error

    def _read_images(
        self, prepared: PreparedRequest, response: httpx.Response
    ) -> tuple[list[RawImage], dict[str, Any] | None]:
        """The images of a 200 answer, and its ``usage`` block (None when it has none)."""
        where = self._where(prepared)
        payload = parse_json_body(response.content, response.headers, where, *self._secrets())
        if prepared.protocol == "chat":
            raws = parse_chat_body(payload, where)
        else:
            raws = parse_images_body(payload, where)
        if len(raws) > prepared.n:  # the extra ones were not asked (or paid) for: never stored
            logger.warning(
                "%s: asked for %d image(s), received %d: keeping the first %d",
                where,
                prepared.n,
                len(raws),
                prepared.n,
            )
            raws = raws[: prepared.n]
        elif len(raws) < prepared.n:
            logger.warning("%s: asked for %d image(s), received %d", where, prepared.n, len(raws))
        usage = payload.get("usage") if isinstance(payload, dict) else None
        return raws, usage if isinstance(usage, dict) else None

    def _actual_cost(
        self, prepared: PreparedRequest, usage: dict[str, Any] | None, received: int
    ) -> tuple[float | None, str]:
        """What an answered request cost, and how that is known.

        From ``usage`` times the model's token rates when the answer has one (an
        aggregator's ``usage.cost`` is taken as given); otherwise the estimate, for the
        images actually received when the price is per image. 0.0 offline.
        """
        if self.is_offline:
            return 0.0, "offline engine"
        if usage is not None:
            given = usage.get("cost")
            if isinstance(given, (int, float)) and not isinstance(given, bool):
                return round(float(given), 6), "usage.cost"
            counted = cost_from_usage(prepared.model, usage)
            if counted is not None:
                return counted, "usage"
        est = prepared.estimate
        if est.usd is None:
            return None, "unknown"
        if est.method == "per-image" and received != prepared.n and prepared.n:
            return round(est.usd * received / prepared.n, 6), "estimate (per-image)"
        return est.usd, f"estimate ({est.method})"

    @staticmethod
    def _answer_limit(prepared: PreparedRequest) -> int:
        """The most bytes the answer to ``prepared`` may take (its ``n`` images of its size)."""
        return answer_limit(prepared.n, prepared.size)

    @staticmethod
    def _stream_limit(prepared: PreparedRequest) -> int:
        """The most bytes an event stream for ``prepared`` may take (its previews included)."""
        return answer_limit(prepared.n * (1 + int(prepared.partial_images or 0)), prepared.size)

    @staticmethod
    def _image_limit(prepared: PreparedRequest) -> int:
        """The most bytes one downloaded image of ``prepared`` may take."""
        return image_limit(prepared.size)

    def _cache_mode(self, cache: str | None) -> CacheMode:
        if cache is None:
            return self._settings.cache
        if cache not in CACHE_MODES:
            raise InvalidRequestError(f"cache={cache!r} is not a cache mode; use 'use', 'refresh' or 'off'")
        return cache

    def _cached_result(self, prepared: PreparedRequest, cache: CacheMode) -> ImageResult | None:
        if cache != "use":
            return None
        images = self._store.cache_get(prepared.cache_key)
        if images is None:
            return None
        logger.info(
            "%s %s: replayed %d image(s) from the request cache (nothing sent, nothing paid)",
            prepared.operation,
            prepared.model,
            len(images),
        )
        for im in images:  # in memory only: a replay costs nothing, whatever the original cost
            im.info["cached"] = True
        return self._result(prepared, images, request_id=images[0].info.get("request_id"), cached=True)

    def _label(
        self,
        prepared: PreparedRequest,
        index: int,
        data: bytes,
        revised: str | None,
        request_id: str | None,
        engine: str | None = None,
        cost: tuple[float | None, str, dict[str, Any] | None] = (None, "unknown", None),
        extra: dict[str, Any] | None = None,
    ) -> GeneratedImage:
        """Check one received image and label it with its provenance (not stored yet: ``path`` None).

        ``engine`` is the offline engine's backend name (its ``x-dalle-widgets-engine`` header);
        ``cost`` is ``(this image's share in USD, how it is known, the answer's usage block)``.
        ``extra`` adds more provenance (a streamed image's ``usage``). Every text field is
        redacted and cut to :data:`~._limits.MAX_TEXT_CHARS`, so what a server says (a 12 MB
        revised prompt) cannot make the stored file unreadable.
        """
        where = f"{self._where(prepared)} image {index}"
        window: dict[str, Any] | None = None
        if prepared.framing is not None and sniff(data) != "svg":
            check_image(data, where)  # what was delivered is checked before it is pasted
            data = prepared.framing.paste(data)
            window = prepared.framing.window.as_dict()
        if sniff(data) == "svg":  # vector: no pixels to check; the size asked for is its size
            w, h = parse_size(prepared.size or "") or (0, 0)
        else:
            (w, h), _mode = check_image(data, where)
        info: dict[str, Any] = {
            "operation": prepared.operation,
            "model": prepared.model,
            "prompt": prepared.prompt,
            "revised_prompt": revised,
            "size": f"{w}x{h}",
            "requested_size": prepared.size,
            "n": prepared.n,
            "n_index": index,
            "seed": prepared.seed,
            "response_format": prepared.response_format,
            "protocol": prepared.protocol,
            "endpoint": self._settings.host,
            "offline": self.is_offline,
            "engine": engine,
            "request_id": request_id,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "parent_hashes": [prepared.lineage["parent_hash"]] if "parent_hash" in prepared.lineage else [],
            "mask_hash": prepared.lineage.get("mask_hash"),
            "cache_key": prepared.cache_key,
            "cost_usd": cost[0],
            "cost_basis": cost[1],
            "usage": cost[2],
            "dalle_widgets": __version__,
            **prepared.options,
            **(extra or {}),
        }
        if prepared.sent_as != prepared.operation:
            info["sent_as"] = prepared.sent_as
        if window is not None:
            info["window"] = window
        if len(prepared.lineage.get("parent_hashes", ())) > 1:
            info["parent_hashes"] = list(prepared.lineage["parent_hashes"])
        if "parent_hash" in prepared.lineage:
            # a short human-readable link for galleries: the parent's file when known, else its hash
            info["parent"] = prepared.lineage.get("parent_path") or prepared.lineage["parent_hash"]
        if "parent_path" in prepared.lineage:
            info["parent_path"] = prepared.lineage["parent_path"]
        info = bound_fields(
            {k: redact(v, *self._secrets()) if isinstance(v, str) else v for k, v in info.items()}
        )
        return GeneratedImage(data, info=info)  # the bytes as delivered (jpeg, webp... kept)

    def _save_image(
        self,
        prepared: PreparedRequest,
        index: int,
        data: bytes,
        revised: str | None,
        request_id: str | None,
        engine: str | None = None,
        cost: tuple[float | None, str, dict[str, Any] | None] = (None, "unknown", None),
        extra: dict[str, Any] | None = None,
    ) -> GeneratedImage:
        """Check, label and store one received image; return it (on disk before anyone sees it)."""
        image = self._label(prepared, index, data, revised, request_id, engine, cost, extra)
        path, stored = self._store.save_delivered(image.png, image.info)
        return GeneratedImage(stored, info=image.info, path=path)

    def _store_answer(
        self,
        prepared: PreparedRequest,
        raws: list[RawImage],
        request_id: str | None,
        engine: str | None,
        cache: CacheMode,
        started: float,
        usage: dict[str, Any] | None = None,
    ) -> ImageResult:
        """Store every usable image of an answer (URLs already downloaded), then return or raise.

        The answer's cost (from ``usage`` when there is one) goes into each image's provenance
        (its share) and into the result's ``cost_usd``.

        Each image is handled on its own: a bad one (not an image, cut short, a download that
        failed) never costs the good ones, which are stored first; then the bad ones are
        reported together (:class:`PartialResultError`), and images the store could not write
        are rescued or held (:class:`StoreWriteError`). Runs in the caller's thread for the sync
        client and in a worker thread for the async one, so an event loop never waits on the disk.
        """
        total, basis = self._actual_cost(prepared, usage, sum(1 for r in raws if r.error is None))
        share = None if total is None else round(total / max(len(raws), 1), 6)
        images: list[GeneratedImage] = []
        failures: list[tuple[int, DalleWidgetsError]] = []
        unwritten: list[tuple[int, GeneratedImage, OSError]] = []
        where = self._where(prepared)
        for i, raw in enumerate(raws):
            try:
                if raw.error is not None:
                    raise raw.error
                if raw.data is None:  # pragma: no cover - the send loops download every URL first
                    raise InvalidResponseError(f"image {i} was not downloaded")
                image = self._label(
                    prepared, i, raw.data, raw.revised_prompt, request_id, engine, (share, basis, usage)
                )
            except DalleWidgetsError as exc:
                failures.append((i, exc))
                continue
            except Exception as exc:  # noqa: BLE001 - one image's surprise never costs the others
                failures.append((i, InvalidResponseError(f"{where} image {i}: {type(exc).__name__}: {exc}")))
                continue
            try:
                path, stored = self._store.save_delivered(image.png, image.info)
            except OSError as exc:
                unwritten.append((i, image, exc))
                continue
            images.append(GeneratedImage(stored, info=image.info, path=path))
        if unwritten:
            self._raise_unwritten(prepared, images, failures, unwritten, len(raws), request_id, total)
        if failures:
            self._raise_partial(prepared, images, failures, len(raws), request_id, total)
        return self._finish(prepared, images, request_id, cache, started, total)

    @staticmethod
    def _list_failures(failures: list[tuple[int, Any]]) -> str:
        shown = "; ".join(f"image {i}: {exc}" for i, exc in failures[:_LISTED_FAILURES])
        more = len(failures) - _LISTED_FAILURES
        return shown + (f"; and {more} more" if more > 0 else "")

    def _raise_partial(
        self,
        prepared: PreparedRequest,
        images: list[GeneratedImage],
        failures: list[tuple[int, DalleWidgetsError]],
        total: int,
        request_id: str | None,
        cost_usd: float | None = None,
    ) -> NoReturn:
        """Report the unusable images of an answer together, with the stored ones.

        A one-image answer raises that image's own error; otherwise a
        :class:`PartialResultError` carries the stored images as ``.result``.
        """
        if total == 1 and not images:
            raise failures[0][1]
        saved = ", ".join(str(im.path) for im in images) or "none"
        message = (
            f"{self._where(prepared)}: {len(images)} of {total} images of this answer were stored "
            f"({saved}); {len(failures)} unusable: {self._list_failures(failures)}"
        )
        logger.warning("%s", redact(message, *self._secrets()))
        result = self._result(prepared, images, request_id=request_id, cached=False, cost_usd=cost_usd)
        raise PartialResultError(message, result=result, failures=failures)

    def _raise_unwritten(
        self,
        prepared: PreparedRequest,
        images: list[GeneratedImage],
        failures: list[tuple[int, DalleWidgetsError]],
        unwritten: list[tuple[int, GeneratedImage, OSError]],
        total: int,
        request_id: str | None,
        cost_usd: float | None = None,
    ) -> NoReturn:
        """The store could not write some images of a paid answer: rescue them, then say where all are."""
        first = unwritten[0][2]
        rescue_dir = Path(tempfile.gettempdir()) / "dalle-widgets-rescue" / time.strftime("%Y-%m-%d")
        rescued: list[Path] = []
        unsaved: list[GeneratedImage] = []
        for index, image, _exc in unwritten:
            try:
                name = f"{time.strftime('%H%M%S')}-{prepared.operation}-{index}-{prepared.cache_key[:8]}.png"
                path = _png.write_atomic(
                    rescue_dir / name, _png.with_info(_png.as_png(image.png), image.info)
                )
            except OSError:
                unsaved.append(image)
            else:
                image.path = path
                rescued.append(path)
        parts = [
            f"the store could not write {len(unwritten)} of {total} images of this answer to "
            f"{self._store.images_dir} ({type(first).__name__}: {first}).",
            f"Saved in the store: {', '.join(str(im.path) for im in images) or 'none'}.",
        ]
        if rescued:
            parts.append(f"Rescued to {rescue_dir}: {', '.join(p.name for p in rescued)}.")
        if unsaved:
            parts.append(
                f"{len(unsaved)} image(s) could be written nowhere and are held in this error: call "
                "error.save_rest(folder) with a writable folder."
            )
        if failures:
            parts.append(f"Unusable: {self._list_failures(failures)}.")
        parts.append("Free some space, or point DALLE_WIDGETS_HOME (or store=) at a writable folder.")
        message = " ".join(parts)
        logger.error("%s", redact(message, *self._secrets()))
        result = self._result(prepared, images, request_id=request_id, cached=False, cost_usd=cost_usd)
        all_failures: list[tuple[int, Any]] = [*failures, *((i, exc) for i, _im, exc in unwritten)]
        raise StoreWriteError(
            message,
            result=result,
            failures=sorted(all_failures, key=lambda f: f[0]),
            rescued=rescued,
            unsaved=unsaved,
        ) from first

    def _result(
        self,
        prepared: PreparedRequest,
        images: list[GeneratedImage],
        *,
        request_id: str | None,
        cached: bool,
        cost_usd: float | None = None,
    ) -> ImageResult:
        return ImageResult(
            images,
            operation=prepared.operation,
            model=prepared.model,
            prompt=prepared.prompt,
            size=prepared.size,
            cost_usd=0.0 if cached else cost_usd,
            cached=cached,
            request_id=request_id,
        )

    def _finish(
        self,
        prepared: PreparedRequest,
        images: list[GeneratedImage],
        request_id: str | None,
        cache: CacheMode,
        started: float,
        cost_usd: float | None = None,
    ) -> ImageResult:
        if cache != "off" and images:
            try:
                self._store.cache_put(
                    prepared.cache_key,
                    [im.path for im in images if im.path is not None],
                    {"request_id": request_id, "operation": prepared.operation},
                )
            except OSError as exc:
                logger.warning("could not write the request cache entry (%s); images are saved", exc)
        logger.info(
            "%s %s n=%d %s -> %d image(s) in %.2f s from %s (request id %s)",
            prepared.operation,
            prepared.model,
            prepared.n,
            prepared.size or "",
            len(images),
            time.perf_counter() - started,
            self._settings.host,
            request_id,
        )
        return self._result(prepared, images, request_id=request_id, cached=False, cost_usd=cost_usd)

    # --- streams ----------------------------------------------------------------------------------

    @staticmethod
    def _is_event_stream(response: httpx.Response) -> bool:
        return response.headers.get("content-type", "").split(";")[0].strip() == "text/event-stream"

    def _read_event(self, prepared: PreparedRequest, sse: SSE, index: int) -> StreamItem | None:
        return read_event(sse, index, self._where(prepared), model=prepared.model, secrets=self._secrets())

    def _partial_event(self, prepared: PreparedRequest, item: StreamItem) -> ImageEvent:
        """A preview as an event, never stored; its pixels are decoded when first looked at.

        Only its format is checked here (a preview that is no image is an error now, not later).
        """
        if sniff(item.data) is None:
            raise InvalidResponseError(
                f"{self._where(prepared)}: preview {item.partial_index} is not an image "
                f"({len(item.data):,} bytes starting {item.data[:16]!r})"
            )
        return ImageEvent("partial", index=item.index, partial_index=item.partial_index, data=item.data)

    def _completed_event(
        self, prepared: PreparedRequest, item: StreamItem, request_id: str | None, engine: str | None
    ) -> ImageEvent:
        """A final image of a stream: stored with its provenance first, then handed out.

        Its cost is read from the event's own ``usage`` (one image's); without one, its share
        of the estimate.
        """
        total, basis = self._actual_cost(prepared, item.usage, 1)
        if item.usage is None and total is not None and prepared.estimate.usd is not None:
            total = round(prepared.estimate.usd / max(prepared.n, 1), 6)
        extra: dict[str, Any] = {"streamed": True, **{f"answered_{k}": v for k, v in item.echo.items()}}
        stored = self._save_image(
            prepared, item.index, item.data, None, request_id, engine, (total, basis, item.usage), extra
        )
        return ImageEvent("completed", index=item.index, result=stored, usage=item.usage)

    @staticmethod
    def _replayed_events(result: ImageResult) -> list[ImageEvent]:
        return [ImageEvent("completed", index=i, result=im) for i, im in enumerate(result)]

    def _stream_cut(
        self, prepared: PreparedRequest, images: list[GeneratedImage], cause: Exception | None
    ) -> InvalidResponseError:
        detail = redact(str(cause) or type(cause).__name__, *self._secrets()) if cause else "no more events"
        saved = (
            f"; the {len(images)} finished image(s) are saved: " + ", ".join(str(im.path) for im in images)
            if images
            else "; no image was finished"
        )
        return InvalidResponseError(
            f"{self._where(prepared)}: the stream was cut after {len(images)} of {prepared.n} image(s) "
            f"({detail}){saved}. Send again (the request cache replays what was saved only when all "
            "images arrived)."
        )

    def _finish_stream(
        self,
        prepared: PreparedRequest,
        images: list[GeneratedImage],
        request_id: str | None,
        cache: CacheMode,
        started: float,
    ) -> ImageResult:
        """The result of a stream that ended cleanly; no completed image at all is an error."""
        if not images:
            raise self._stream_cut(prepared, images, None)
        if len(images) != prepared.n:
            logger.warning(
                "%s: asked for %d image(s), the stream brought %d",
                self._where(prepared),
                prepared.n,
                len(images),
            )
        shares = [im.info.get("cost_usd") for im in images]
        known = [c for c in shares if c is not None]
        total = round(sum(known), 6) if len(known) == len(shares) else None
        complete = len(images) == prepared.n  # an incomplete answer is not replayed as the whole one
        return self._finish(prepared, images, request_id, cache if complete else "off", started, total)

    def _list_models(self, response: httpx.Response) -> ModelIds:
        payload = parse_json_body(response.content, response.headers, self._where(), *self._secrets())
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise InvalidResponseError(f"{self._where()} /models answered without a 'data' list")
        cards = [m for m in data if isinstance(m, dict) and "id" in m]
        ids = ModelIds(str(m["id"]) for m in cards)
        for card in cards:
            date = _shutdown_date(card.get("shutdown_date"))
            ids.shutdown_dates[str(card["id"])] = date
            if date is not None:
                self._endpoint_shutdowns[str(card["id"])] = date
        return ids

    # --- the send loops' decisions (the loops themselves are in _sync and _async) ---------------------

    def _transport_error(self, exc: httpx.TransportError, url: str, where: str) -> DalleWidgetsError:
        """The package's error for an httpx exception raised before any answer arrived (key redacted)."""
        if isinstance(exc, httpx.TimeoutException):
            total = self._total
            budget = f" of {total:g} s for the whole request" if total is not None else ""
            return APITimeoutError(
                f"{where}: no answer within the timeout ({type(exc).__name__}){budget}; raise timeout= "
                "if the endpoint is just slow"
            )
        detail = redact(str(exc) or type(exc).__name__, *self._secrets())
        if self._truncated(exc):
            return InvalidResponseError(f"{where}: the response was truncated ({detail})")
        return APIConnectionError(f"{where}: could not reach {redact(url)} ({detail})")

    def _retry_wait(
        self,
        error: DalleWidgetsError,
        cause: BaseException | None,
        retries: int,
        headers: httpx.Headers | None,
        where: str,
    ) -> float:
        """Seconds to wait before retry ``retries + 1`` (logged); raises ``error`` when none is due."""
        wait, reason = retry_wait(error, retries, self.max_retries, headers)
        if wait is None:
            logger.debug("not retrying %s: %s", where, reason)
            raise error from cause
        logger.warning(
            "%s failed (%s): retry %d of %d in %.2f s", where, reason, retries + 1, self.max_retries, wait
        )
        return wait

    @staticmethod
    def _truncated(exc: Exception) -> bool:
        text = str(exc).lower()
        return isinstance(exc, httpx.RemoteProtocolError) and (
            "incomplete" in text or "complete message" in text
        )
