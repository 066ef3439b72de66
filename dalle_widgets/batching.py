"""Batches: one image request per prompt, run concurrently, resumable, failures summarised.

For A/B variants and asset sets::

    prompts = [f"a {c} fox, watercolor" for c in ("red", "blue", "green")]
    result = dalle_widgets.batch(prompts, n=2, size="256x256")
    result.failed          # the prompts that failed, with their errors
    result.by_prompt()     # {prompt: ImageResult}

Requests run on the :class:`~dalle_widgets.client.AsyncImagesClient`, at most
``concurrency`` at a time. Every prompt is validated and priced before anything is
sent. A failed prompt is recorded and the others carry on. Every finished request is
in the store and the request cache, so running the same batch again after an
interruption or a failure replays what finished (free) and sends only the rest.
:func:`batch` blocks (it runs its event loop in a worker thread, so it also works
inside a Jupyter kernel whose loop is already running); :func:`abatch` is the
coroutine for code that already runs in an event loop.

Progress is reported through plain callbacks (``on_progress(item)`` after each prompt)
and a :class:`BatchProgress` tally. Nothing here draws: in a notebook the widgets
layer shows a :class:`BatchResult` as one card per prompt and a :class:`BatchProgress`
as a progress bar (see :mod:`dalle_widgets.widgets`); elsewhere the tally is a log line.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from ._types import AsyncImageClient, CacheMode, SyncImageClient
from .errors import DalleWidgetsError, InvalidRequestError
from .pricing import format_usd

if TYPE_CHECKING:
    from .client import AsyncImagesClient, ImagesClient

#: What a batch's ``client=`` accepts: a client of either kind, a zero-argument factory of
#: async clients (called in the batch's own event loop), or None (one from the environment).
BatchClient = SyncImageClient | AsyncImageClient | Callable[[], AsyncImageClient] | None

__all__ = [
    "BatchInterrupted",
    "BatchItem",
    "BatchProgress",
    "BatchResult",
    "abatch",
    "async_twin",
    "batch",
    "coerce_prompts",
    "plan",
]

logger = logging.getLogger("dalle_widgets")

#: Called with each :class:`BatchItem` as its prompt finishes (succeeded, failed or refused).
ProgressCallback = Callable[["BatchItem"], None]


@dataclass
class BatchItem:
    """One prompt of a batch and what became of it.

    Attributes
    ----------
    index : int
        Position in the input list.
    prompt : str
        The prompt sent.
    result : ImageResult or None
        The images, when the request succeeded.
    error : Exception or None
        Why it failed (refused before sending, or by the endpoint).
    cost_usd : float or None
        What the request cost (0 when replayed from the cache or offline; None if unknown).
    cached : bool
        True when the images were replayed from the request cache (nothing sent).
    """

    index: int
    prompt: str
    result: Any = None
    error: BaseException | None = None
    cost_usd: float | None = None
    cached: bool = False
    prepared: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the prompt produced images."""
        return self.result is not None

    @property
    def done(self) -> bool:
        """Whether the prompt is finished, successfully or not."""
        return self.result is not None or self.error is not None


class BatchResult(Sequence[BatchItem]):
    """The outcome of a batch: a sequence of :class:`BatchItem` in input order.

    Its text form is :meth:`summary`; in a notebook the widgets layer shows it as the
    summary and one gallery card per prompt.
    """

    def __init__(
        self, items: list[BatchItem], *, client: SyncImageClient | AsyncImageClient | None = None
    ) -> None:
        self.items = items
        self.client = client
        self.interrupted = False

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: Any) -> Any:
        return self.items[index]

    @property
    def succeeded(self) -> list[BatchItem]:
        """The items that produced images."""
        return [item for item in self.items if item.ok]

    @property
    def failed(self) -> list[BatchItem]:
        """The items that failed, each with its ``error``."""
        return [item for item in self.items if item.error is not None]

    @property
    def pending(self) -> list[BatchItem]:
        """Items not finished (only after an interruption)."""
        return [item for item in self.items if not item.done]

    @property
    def images(self) -> list[Any]:
        """Every image of every successful prompt, in input order."""
        return [image for item in self.succeeded for image in item.result]

    @property
    def cost_usd(self) -> float | None:
        """Total cost of the requests that were sent; None if any price is unknown."""
        total = 0.0
        for item in self.items:
            if item.ok:
                if item.cost_usd is None:
                    return None
                total += item.cost_usd
        return round(total, 6)

    def by_prompt(self) -> dict[str, Any]:
        """``{prompt: ImageResult}`` for the successful prompts (the last one wins for duplicates)."""
        return {item.prompt: item.result for item in self.succeeded}

    def summary(self) -> str:
        """A short text: how many finished, failed, replayed; the cost; each failure on its own line."""
        ok, failed = self.succeeded, self.failed
        replayed = sum(1 for item in ok if item.cached)
        head = f"{len(ok)} of {len(self.items)} prompts done ({len(self.images)} images)"
        if replayed:
            head += f", {replayed} replayed from the cache"
        if failed:
            head += f", {len(failed)} failed"
        if self.interrupted:
            head += f", {len(self.pending)} not run (interrupted)"
        head += f"; cost {format_usd(self.cost_usd)}"
        lines = [head]
        for item in failed:
            lines.append(f"  failed [{item.index}] {_short(item.prompt)!r}: {_error_line(item.error)}")
        if failed or self.interrupted:
            lines.append(
                "  run the same batch again to retry: finished prompts replay from the cache for free"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<BatchResult: {self.summary().splitlines()[0]}>"

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:
        printer.text(self.summary())


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_line(error: BaseException | None) -> str:
    if error is None:
        return ""
    if isinstance(error, InvalidRequestError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def coerce_prompts(prompts: Any, *, name: str = "prompts") -> list[str]:
    """Accept a list/tuple of strings, a pandas Series (a DataFrame column) or a numpy array of strings.

    Examples
    --------
    >>> coerce_prompts(("a red fox", "a blue fox"))
    ['a red fox', 'a blue fox']
    >>> coerce_prompts("a red fox")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dalle_widgets.errors.InvalidRequestError: 'prompts' is one string: a batch needs a list of prompts, ...
    """
    if isinstance(prompts, (str, bytes)):
        raise InvalidRequestError(
            f"{name!r} is one string: a batch needs a list of prompts, e.g. ['a red fox', 'a blue fox']"
        )
    if hasattr(prompts, "columns") and hasattr(prompts, "iloc"):
        raise InvalidRequestError(f"{name!r} is a DataFrame: pass one column, e.g. {name}['prompt']")
    if hasattr(prompts, "tolist"):
        prompts = prompts.tolist()
    if isinstance(prompts, dict) or not isinstance(prompts, Iterable):
        raise InvalidRequestError(
            f"{name!r} is a {type(prompts).__name__}: a batch needs a list of prompt strings"
        )
    out = list(prompts)
    if not out:
        raise InvalidRequestError(f"{name!r} is empty: a batch needs at least one prompt")
    for i, prompt in enumerate(out):
        if not isinstance(prompt, str):
            raise InvalidRequestError(
                f"prompt {i} of {name!r} is a {type(prompt).__name__} ({prompt!r}), not text"
            )
        if not prompt.strip():
            raise InvalidRequestError(f"prompt {i} of {name!r} is empty")
    return out


@dataclass
class BatchPlan:
    """Every prompt validated and priced, before anything is sent."""

    items: list[BatchItem]
    cost_usd: float | None
    offline: bool

    @property
    def sendable(self) -> list[BatchItem]:
        """Items that passed validation."""
        return [item for item in self.items if item.error is None]

    def describe(self) -> str:
        """Human text: the first request, how many, the total price."""
        lines = []
        ok = self.sendable
        if ok:
            first = ok[0].prepared
            lines.append(first.describe() if hasattr(first, "describe") else repr(first))
        lines.append(
            f"{len(ok)} requests ({len(self.items) - len(ok)} refused before sending); total "
            + ("free (offline engine)" if self.offline else format_usd(self.cost_usd))
        )
        for item in self.items:
            if item.error is not None:
                lines.append(f"  refused [{item.index}] {_short(item.prompt)!r}: {_error_line(item.error)}")
        return "\n".join(lines)


def plan(client: SyncImageClient | AsyncImageClient, prompts: Sequence[str], **kwargs: Any) -> BatchPlan:
    """Validate and price one generate request per prompt with ``client.prepare`` (nothing is sent).

    A prompt the client refuses is marked failed; when *every* prompt is refused for
    the same reason (a bad size, say) the first error is raised instead.
    """
    items = [BatchItem(index=i, prompt=p) for i, p in enumerate(prompts)]
    offline = bool(getattr(client, "is_offline", False))
    total: float | None = 0.0
    for item in items:
        try:
            item.prepared = client.prepare("generate", prompt=item.prompt, **kwargs)
        except InvalidRequestError as exc:
            item.error = exc
            continue
        cost = getattr(item.prepared, "cost_usd", None)
        if offline:
            cost = 0.0
        if cost is None or total is None:
            total = None
        else:
            total += cost
    errors = [item.error for item in items if item.error is not None]
    if errors and len(errors) == len(items) and len({str(e) for e in errors}) == 1:
        raise errors[0]
    return BatchPlan(items=items, cost_usd=None if total is None else round(total, 6), offline=offline)


def _result_cost(result: Any, offline: bool) -> float | None:
    if offline:
        return 0.0
    return getattr(result, "cost_usd", None)


def _result_cached(result: Any) -> bool:
    return bool(getattr(result, "cached", False))


async def _run_plan(
    client: AsyncImageClient,
    batch_plan: BatchPlan,
    *,
    concurrency: int,
    cache: CacheMode | None,
    on_progress: ProgressCallback | None,
    kwargs: dict[str, Any],
) -> None:
    pending: asyncio.Queue[BatchItem] = asyncio.Queue()
    for item in batch_plan.sendable:
        pending.put_nowait(item)
    for item in batch_plan.items:
        if item.error is not None and on_progress is not None:
            on_progress(item)

    async def worker() -> None:
        while True:
            try:
                item = pending.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                images = await client.generate(item.prompt, cache=cache, **kwargs)
            except DalleWidgetsError as exc:
                item.error = exc
                logger.info("batch: prompt %d failed: %s", item.index, _error_line(exc))
            else:
                item.result = images
                item.cached = _result_cached(images)
                item.cost_usd = 0.0 if item.cached else _result_cost(images, batch_plan.offline)
            if on_progress is not None:
                on_progress(item)

    workers = [
        asyncio.ensure_future(worker()) for _ in range(max(1, min(concurrency, len(batch_plan.items))))
    ]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise


def _check_budget(batch_plan: BatchPlan, budget_usd: float | None) -> None:
    if budget_usd is None or batch_plan.offline:
        return
    if batch_plan.cost_usd is None:
        raise InvalidRequestError(
            f"the batch's price is unknown, so the budget of {format_usd(budget_usd)} cannot be checked: "
            "pass budget_usd=None to send it anyway"
        )
    if batch_plan.cost_usd > budget_usd + 1e-9:
        raise InvalidRequestError(
            f"the batch costs {format_usd(batch_plan.cost_usd)} ({len(batch_plan.sendable)} requests), "
            f"more than the budget of {format_usd(budget_usd)}: use fewer prompts, a smaller -n or --size"
        )


async def abatch(
    prompts: Any,
    *,
    n: int = 1,
    size: str | None = None,
    model: str | None = None,
    seed: int | None = None,
    concurrency: int = 4,
    client: AsyncImageClient | None = None,
    cache: CacheMode | None = None,
    budget_usd: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> BatchResult:
    """Coroutine twin of :func:`batch`, for code already running in an event loop.

    ``client`` must be an :class:`~dalle_widgets.client.AsyncImagesClient` usable in
    the running loop (None creates one and closes it afterwards).
    """
    if concurrency < 1:
        raise InvalidRequestError(f"concurrency={concurrency}: use 1 or more requests in flight")
    texts = coerce_prompts(prompts)
    own = client is None
    if client is None:
        from .client import AsyncImagesClient

        client = AsyncImagesClient()
    try:
        kwargs: dict[str, Any] = {"n": n, "size": size, "model": model, "seed": seed}
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        batch_plan = plan(client, texts, **kwargs)
        _check_budget(batch_plan, budget_usd)
        result = BatchResult(batch_plan.items, client=None)
        try:
            await _run_plan(
                client,
                batch_plan,
                concurrency=concurrency,
                cache=cache,
                on_progress=on_progress,
                kwargs=kwargs,
            )
        except asyncio.CancelledError:
            result.interrupted = True
            raise
        return result
    finally:
        if own:
            await client.aclose()


def async_twin(client: ImagesClient) -> AsyncImagesClient:
    """A new :class:`AsyncImagesClient` with exactly the settings of the :class:`ImagesClient` ``client``.

    Same endpoint, key, model, protocol, timeouts, retries, store and cache (so a
    batch replays what the sync client stored), and the same offline flag. The key
    is copied inside the settings object, never exposed.
    """
    from .client import AsyncImagesClient

    return AsyncImagesClient.twin_of(client)


def _async_client(client: BatchClient) -> tuple[AsyncImageClient, bool]:
    """``(async client, owned)`` from None, a factory, a sync client or an async client."""
    if client is None:
        from .client import AsyncImagesClient

        return AsyncImagesClient(), True
    if hasattr(client, "generate"):
        if asyncio.iscoroutinefunction(client.generate):
            return cast(AsyncImageClient, client), False
        # A sync client is twinned: async_twin copies an ImagesClient's settings.
        return async_twin(cast("ImagesClient", client)), True
    if callable(client):
        return client(), True
    raise InvalidRequestError(
        f"client={client!r}: pass an ImagesClient, an AsyncImagesClient or a function returning one"
    )


class BatchInterrupted(KeyboardInterrupt):
    """A batch stopped by an interrupt; every finished request is stored and replays on the next run."""

    def __init__(self, done: int, total: int, cost_usd: float | None = None) -> None:
        super().__init__(
            f"batch interrupted after {done} of {total} prompts; run it again to resume "
            "(finished prompts replay from the request cache for free)"
        )
        self.done = done
        self.total = total
        #: what the finished requests cost (None if a price is unknown)
        self.cost_usd = cost_usd


#: Called with the :class:`BatchProgress` after each change.
ProgressWatcher = Callable[["BatchProgress"], None]


class BatchProgress:
    """The running tally of a batch: prompts finished, failed and replayed, and the cost so far.

    It is a progress callback itself (``progress(item)`` counts one finished prompt) and
    tells its watchers after each change (:meth:`watch`). :func:`batch` logs its text at
    INFO after every prompt and, with ``progress=True`` in IPython, displays it: the
    widgets layer draws it as a progress bar that follows the tally.

    Examples
    --------
    >>> tally = BatchProgress(2)
    >>> tally(BatchItem(index=0, prompt="a fox", result=[object()], cost_usd=0.016))
    >>> tally.text()
    '1/2 done · $0.016'
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.replayed = 0
        self.cost = 0.0
        self.unknown = False
        self._watchers: list[ProgressWatcher] = []

    @property
    def cost_usd(self) -> float | None:
        """What the finished prompts cost; None once any price is unknown."""
        return None if self.unknown else round(self.cost, 6)

    @property
    def finished(self) -> bool:
        """Whether every prompt is done."""
        return self.done >= self.total

    def watch(self, callback: ProgressWatcher) -> None:
        """Call ``callback(self)`` after each change (in the thread that reports progress)."""
        self._watchers.append(callback)

    def text(self) -> str:
        """``"3/12 done, 1 failed, 2 replayed · $0.048"``."""
        text = f"{self.done}/{self.total} done"
        if self.failed:
            text += f", {self.failed} failed"
        if self.replayed:
            text += f", {self.replayed} replayed"
        return text + f" · {format_usd(self.cost_usd)}"

    def __repr__(self) -> str:
        return f"<BatchProgress {self.text()}>"

    def __call__(self, item: BatchItem) -> None:
        self.done += 1
        if item.error is not None:
            self.failed += 1
        elif item.cached:
            self.replayed += 1
        if item.ok:
            if item.cost_usd is None:
                self.unknown = True
            else:
                self.cost += item.cost_usd
        logger.info("batch: %s", self.text())
        for watcher in list(self._watchers):
            try:
                watcher(self)
            except Exception:  # a broken view must not stop the batch
                logger.exception("batch progress watcher failed")


def _show(obj: Any) -> None:
    """Display ``obj`` when running under IPython (whose display system picks the view); else nothing."""
    ipython = sys.modules.get("IPython")
    if ipython is None or ipython.get_ipython() is None:
        return
    from IPython.display import display

    display(obj)


def batch(
    prompts: Any,
    *,
    n: int = 1,
    size: str | None = None,
    model: str | None = None,
    seed: int | None = None,
    concurrency: int = 4,
    client: BatchClient = None,
    cache: CacheMode | None = None,
    budget_usd: float | None = None,
    progress: bool = True,
    on_progress: ProgressCallback | None = None,
) -> BatchResult:
    """Generate images for every prompt of a list, ``concurrency`` requests at a time.

    Parameters
    ----------
    prompts : list of str, pandas Series or numpy array
        One request per prompt.
    n, size, model, seed
        As for :meth:`ImagesClient.generate`, the same for every prompt.
    concurrency : int, optional
        Most requests in flight at once (default 4).
    client : ImagesClient, AsyncImagesClient or callable, optional
        The endpoint to use. An ``ImagesClient`` is twinned into an async client with
        the same settings; a zero-argument factory is called in the batch's own event
        loop; None builds one from the environment. (The batch runs its own event
        loop in a worker thread, so pass an ``AsyncImagesClient`` only if it has not
        been used on another loop; in a running loop, use :func:`abatch`.)
    cache : {"use", "refresh", "off"}, optional
        The request cache policy; the default replays finished requests for free.
    budget_usd : float, optional
        Refuse, before sending anything, a batch whose price passes this (or is unknown).
    progress : bool, optional
        Display the :class:`BatchProgress` tally under IPython (the widgets show it as a
        progress bar with the running cost). It is logged at INFO either way.
    on_progress : callable, optional
        ``on_progress(item)`` after each prompt finishes (in the calling thread).

    Returns
    -------
    BatchResult
        Every prompt with its images or its error. Failures do not raise: see
        ``result.failed`` and ``result.summary()``.

    Raises
    ------
    InvalidRequestError
        Bad prompts or options for every prompt, or a batch over ``budget_usd``
        (nothing is sent).
    BatchInterrupted
        A ``KeyboardInterrupt``: the finished requests are stored and replay on the next run.

    Examples
    --------
    >>> result = batch(["a red fox", "a blue fox"], n=2, size="256x256")  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
    2 of 2 prompts done (4 images); cost $0.064
    """
    texts = coerce_prompts(prompts)
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    state: dict[str, Any] = {}
    tally = BatchProgress(len(texts))
    if progress:
        _show(tally)

    def report(item: BatchItem) -> None:
        events.put(("item", item))

    async def main() -> BatchResult:
        state["loop"] = asyncio.get_running_loop()
        state["task"] = asyncio.current_task()
        made, owned = _async_client(client)
        try:
            return await abatch(
                texts,
                n=n,
                size=size,
                model=model,
                seed=seed,
                concurrency=concurrency,
                client=made,
                cache=cache,
                budget_usd=budget_usd,
                on_progress=report,
            )
        finally:
            if owned:
                await made.aclose()

    def target() -> None:
        try:
            events.put(("done", asyncio.run(main())))
        except BaseException as exc:  # delivered to the calling thread
            events.put(("error", exc))

    thread = threading.Thread(target=target, name="dalle-widgets-batch", daemon=True)
    thread.start()
    try:
        while True:
            try:
                kind, value = events.get(timeout=0.25)
            except queue.Empty:
                continue
            if kind == "item":
                tally(value)
                if on_progress is not None:
                    on_progress(value)
                continue
            thread.join()
            if kind == "error":
                raise value
            return value
    except KeyboardInterrupt:
        loop, task = state.get("loop"), state.get("task")
        if loop is not None and task is not None:
            loop.call_soon_threadsafe(task.cancel)
        thread.join()
        while not events.empty():  # prompts that finished while we were stopping still count
            kind, value = events.get_nowait()
            if kind == "item":
                tally(value)
        raise BatchInterrupted(tally.done, len(texts), tally.cost_usd) from None
