"""``MoodBoard``: a view over a :class:`~dalle_widgets.boards.BoardStore` (pinned images, captions).

The board's data (the folder, ``board.json``, loading and repair of a damaged
folder, saves, undo of a removal, exports) lives in :mod:`dalle_widgets.boards`,
which imports no widget; this widget shows the items in a grid (reorder, caption,
remove, undo), exports a PNG contact sheet or one self-contained HTML page into a
folder beside the notebook with a link to the file, and "varies everything pinned"
through the client, showing the variations as a :class:`~.gallery.Gallery`.

"Combine" makes one new image from several pinned ones: select them (the first
selected is the base image, the others are references), describe the result, and
the board sends them as one multi-image edit (GPT image models take up to 16
inputs). The result is stored by the client, then pinned with its lineage (the
ids of its sources) and its cost.
"""

from __future__ import annotations

import functools
import html
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ipywidgets as W
from PIL import Image

from .. import imaging
from .._types import AnyImageClient
from ..boards import BoardItem, BoardStore, default_board_path
from ..errors import InvalidRequestError
from ..models import DEFAULT_MODEL, lookup, models_taking_images
from . import _client
from ._file_link import FileLink
from ._shell import WidgetShell
from ._static import StaticFallbackMixin, placeholder, png_bytes

__all__ = ["BoardItem", "MoodBoard", "current_board", "default_board_path"]

logger = logging.getLogger("dalle_widgets")

_current: MoodBoard | None = None


def current_board() -> MoodBoard:
    """The process-wide current board: the last one created, or the default board (created on first use)."""
    global _current
    if _current is None:
        _current = MoodBoard()
    return _current


class MoodBoard(WidgetShell, StaticFallbackMixin, W.VBox):
    """A mood board: pin, reorder, caption, remove and undo; saved to ``path`` on every change.

    A view over :attr:`store` (a :class:`~dalle_widgets.boards.BoardStore`), which
    holds the data and writes the folder.

    Parameters
    ----------
    path : str or Path, optional
        The board folder (created if missing). Default ``$DALLE_WIDGETS_HOME/boards/default``.
    client : ImagesClient or AsyncImagesClient, optional
        Used by "vary everything pinned" and "Combine". Default: the shared client.
        Combine needs a model whose edits take several images (e.g. ``gpt-image-2``).
    thumb_px : int
        Thumbnail size in the grid.
    export_dir : str or Path, optional
        Where "Export PNG" and "Export HTML" write: default ``./dalle-images`` beside the
        notebook, or ``$DALLE_WIDGETS_OUTPUT_DIR``.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> board = MoodBoard(tempfile.mkdtemp())
    >>> item = board.pin(np.zeros((8, 8, 3), np.uint8), caption="black")
    >>> [i.caption for i in MoodBoard(board.path).items]
    ['black']
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        client: AnyImageClient | None = None,
        thumb_px: int = 192,
        columns: int | None = None,
        export_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        global _current
        super().__init__()
        self.store = BoardStore(path, export_dir=export_dir)
        self._client = client
        self.thumb_px = int(thumb_px)
        self.columns = columns
        self.variations: list[Any] = []
        self.last_export: Path | None = None
        self._thumbs: dict[str, bytes] = {}
        self._callbacks: list[Callable[[MoodBoard], None]] = []
        self._selected: list[str] = []  # ids chosen for Combine, in the order they were chosen
        #: the last :meth:`combine` answer (an ImageResult, stored by the client)
        self.last_combined: Any = None
        self._init_shell()
        self._build_ui()
        _current = self
        if self.store.problems:
            self._set_status("While loading: " + "; ".join(self.store.problems), error=True)

    # ------------------------------------------------------------ storage
    @property
    def path(self) -> Path:
        """The board folder."""
        return self.store.path

    @property
    def manifest_path(self) -> Path:
        return self.store.manifest_path

    @property
    def skipped(self) -> list[str]:
        """What loading skipped (missing or unsafe files, a broken manifest), one phrase each."""
        return self.store.skipped

    @property
    def damaged(self) -> list[BoardItem]:
        """The items whose image file is damaged (shown as such; export and vary skip them)."""
        return self.store.damaged

    def _changed(self) -> None:
        self._render()
        self._static_changed()
        for cb in list(self._callbacks):
            try:
                cb(self)
            except Exception:  # noqa: BLE001
                logger.exception("MoodBoard on_change callback failed")

    def on_change(self, callback: Callable[[MoodBoard], None], remove: bool = False) -> None:
        """Call ``callback(board)`` after every change."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def make_current(self) -> MoodBoard:
        """Make this the board that gallery "pin" buttons and :func:`current_board` use."""
        global _current
        _current = self
        return self

    # --------------------------------------------------------- collection
    @property
    def items(self) -> list[BoardItem]:
        """The pinned items in board order (a new list)."""
        return self.store.items

    def __len__(self) -> int:
        return len(self.store)

    def __iter__(self) -> Iterator[BoardItem]:
        return iter(self.store)

    def pin(self, image: Any, caption: str | None = None) -> BoardItem:
        """Pin ``image`` (GeneratedImage, PIL, array, path or bytes); saved at once. Returns the item.

        The caption defaults to the image's prompt when it has provenance.
        """
        item = self.store.pin(image, caption=caption)
        self._changed()
        return item

    def remove(self, item: BoardItem | str | int) -> BoardItem:
        """Unpin ``item`` (item, id or index); :meth:`undo` puts it back."""
        removed = self.store.remove(item)
        self._thumbs.pop(removed.id, None)
        if removed.id in self._selected:
            self._selected.remove(removed.id)
        self._changed()
        label = f" {removed.caption!r}" if removed.caption else ""
        self._set_status(f"Removed{label}. Undo puts it back." if self.store.can_undo else f"Removed{label}.")
        return removed

    def undo(self) -> BoardItem:
        """Put the last removed item back where it was; return it."""
        item = self.store.undo()
        self._changed()
        label = f" {item.caption!r}" if item.caption else ""
        self._set_status(f"Restored{label}.")
        return item

    def move(self, item: BoardItem | str | int, index: int) -> None:
        """Move ``item`` to position ``index`` (clamped to the board)."""
        if self.store.move(item, index):
            self._changed()

    def caption(self, item: BoardItem | str | int, text: str) -> None:
        """Set the caption of ``item``."""
        if self.store.caption(item, text):
            self._changed()

    # ----------------------------------------------------------- exports
    def contact_sheet(self, cols: int | None = None, thumb_px: int = 256) -> Image.Image:
        """All pinned images as one contact sheet (captions under each, in any script)."""
        return self.store.contact_sheet(cols=cols, thumb_px=thumb_px)

    def export_png(
        self, path: str | os.PathLike[str] | None = None, *, cols: int | None = None, thumb_px: int = 256
    ) -> Path:
        """Write a PNG contact sheet to ``path`` (default: a new file in the export folder); return it."""
        if path is None:
            return self.export("png")
        return self.store.export_png(path, cols=cols, thumb_px=thumb_px)

    def export_html(
        self, path: str | os.PathLike[str] | None = None, *, title: str = "Mood board", max_px: int = 1024
    ) -> Path:
        """Write one self-contained HTML page (images embedded) to ``path`` (default: the export folder)."""
        if path is None:
            return self.export("html")
        return self.store.export_html(path, title=title, max_px=max_px)

    def export(self, kind: str) -> Path:
        """Write a ``png`` contact sheet or an ``html`` page into the export folder; show a link to it."""
        out = self.store.export(kind)
        self.last_export = out
        self._show_file(out)
        return out

    # ---------------------------------------------------------- variations
    def vary_all(
        self, client: AnyImageClient | None = None, *, n: int = 1, size: str | None = None
    ) -> list[Any]:
        """Ask for ``n`` variations of every pinned image (blocking); return one result per item.

        In a notebook the "Vary all pinned" button does the same without blocking the kernel.
        """
        if not self.store.items:
            raise ValueError("the board is empty: pin images before asking for variations")
        chosen = client or self._client
        if chosen is None:
            from ..client import default_client

            chosen = default_client()
        kwargs: dict[str, Any] = {"n": n}
        if size:
            kwargs["size"] = size
        results = [chosen.vary(item.image, **kwargs) for item in self._usable()]
        self._show_variations(results)
        return results

    async def avary_all(
        self, client: AnyImageClient | None = None, *, n: int = 1, size: str | None = None
    ) -> list[Any]:
        """Async twin of :meth:`vary_all` (one request after another, on the kernel's loop)."""
        if not self.store.items:
            raise ValueError("the board is empty: pin images before asking for variations")
        cl = _client.resolve(client or self._client)
        kwargs: dict[str, Any] = {"n": n}
        if size:
            kwargs["size"] = size
        results = []
        usable = self._usable()
        for k, item in enumerate(usable):
            self._set_status(f"varying {k + 1}/{len(usable)}…")
            results.append(await _client.call(cl, "vary", item.image, cache="refresh", **kwargs))
        self._show_variations(results)
        self._set_status(f"✓ {sum(len(r) for r in results)} variations of {len(results)} pinned images")
        return results

    def _usable(self) -> list[BoardItem]:
        """The items that can be varied: all but the damaged ones (refused if none is left)."""
        usable = [i for i in self.store.items if not i.damaged]
        if not usable:
            raise ValueError("every pinned image is damaged: nothing to vary")
        if len(usable) < len(self.store.items):
            logger.warning(
                "mood board %s: skipping %d damaged item(s)", self.path, len(self.store.items) - len(usable)
            )
        return usable

    def _show_variations(self, results: list[Any]) -> None:
        from .gallery import Gallery

        self.variations = results
        images = [im for r in results for im in r]
        self.variations_box.children = (Gallery(images, thumb_px=160, client=self._client),)

    # ------------------------------------------------------------- combine
    @property
    def selected(self) -> list[BoardItem]:
        """The items selected for :meth:`combine`, in the order they were selected (the first is the base)."""
        by_id = {i.id: i for i in self.store.items}
        return [by_id[k] for k in self._selected if k in by_id]

    def select(self, item: BoardItem | str | int, selected: bool = True) -> None:
        """Select ``item`` (item, id or index) for Combine, after those already selected;
        ``selected=False`` takes it out of the selection."""
        key = self.store.items[self.store.index(item)].id
        if selected == (key in self._selected):
            return
        if selected:
            self._selected.append(key)
        else:
            self._selected.remove(key)
        self._render()

    def clear_selection(self) -> None:
        """Select nothing."""
        if self._selected:
            self._selected.clear()
            self._render()

    def combine(
        self,
        prompt: str,
        items: list[BoardItem | str | int] | None = None,
        *,
        client: AnyImageClient | None = None,
        model: str | None = None,
        n: int = 1,
        size: str | None = None,
        **fields: Any,
    ) -> list[BoardItem]:
        """Make ``n`` new images from several board items and pin them (blocking); return the new items.

        The items (default: the :attr:`selected` ones, in selection order) go as one edit:
        the first is the base image, the others references the model draws on. The model
        (the client's, or ``model``) must take that many input images: GPT image models take
        up to 16, dall-e-2 only one (refused before sending, naming a model that can). Each
        new image is stored by the client, then pinned with ``info["sources"]`` (the ids of
        the items it came from) and its cost (``info["cost_usd"]``, from the answer's ``usage``).
        ``fields`` are further edit fields (``quality``, ``background``, ``output_format``...).

        In a notebook the "Combine" button does the same without blocking the kernel.
        """
        sources = self._combine_sources(items)
        chosen = client or self._client
        if chosen is None:
            from ..client import default_client

            chosen = default_client()
        if _client.is_async(chosen):
            raise TypeError("combine() blocks: pass a sync ImagesClient, or use `await board.acombine(...)`")
        kwargs = self._combine_request(chosen, sources, model=model, n=n, size=size, fields=fields)
        result = chosen.edit([i.path for i in sources], prompt, cache="refresh", **kwargs)
        return self._pin_combined(result, sources)

    async def acombine(
        self,
        prompt: str,
        items: list[BoardItem | str | int] | None = None,
        *,
        client: AnyImageClient | None = None,
        model: str | None = None,
        n: int = 1,
        size: str | None = None,
        **fields: Any,
    ) -> list[BoardItem]:
        """Async twin of :meth:`combine` (on the kernel's loop; a sync client runs in a thread)."""
        sources = self._combine_sources(items)
        cl = _client.resolve(client or self._client)
        kwargs = self._combine_request(cl, sources, model=model, n=n, size=size, fields=fields)
        self._set_status(f"combining {len(sources)} board images…")
        paths = [i.path for i in sources]
        result = await _client.call(cl, "edit", paths, prompt, cache="refresh", **kwargs)
        return self._pin_combined(result, sources)

    def _combine_sources(self, items: list[BoardItem | str | int] | None) -> list[BoardItem]:
        """The items to combine: at least two, none damaged, each once."""
        if items is None:
            sources = self.selected
        else:
            every = self.store.items
            sources = [every[self.store.index(i)] for i in items]
        if len({i.id for i in sources}) != len(sources):
            raise InvalidRequestError("the same board image is listed twice: combine each image once")
        if len(sources) < 2:
            more = 2 - len(sources)
            raise InvalidRequestError(
                f"Combine needs at least 2 board images; {len(sources)} selected: select {more} more "
                "(the first selected is the base image, the others are references)"
            )
        damaged = [i for i in sources if i.damaged]
        if damaged:
            raise InvalidRequestError(
                f"board image {damaged[0].path.name} is damaged ({damaged[0].damaged}): deselect it"
            )
        return sources

    def _combine_request(
        self,
        client: AnyImageClient,
        sources: list[BoardItem],
        *,
        model: str | None,
        n: int,
        size: str | None,
        fields: dict[str, Any],
    ) -> dict[str, Any]:
        """The edit's keyword arguments, after checking that the model takes that many images."""
        name = model or getattr(client, "model", None) or DEFAULT_MODEL
        spec = lookup(name, warn=False)
        count = len(sources)
        if not spec.supports("edit") or spec.max_input_images < count:
            most = spec.max_input_images
            takes = f"takes {most} input image{'s' if most != 1 else ''} per edit"
            if not spec.supports("edit"):
                takes = "has no edits"
            able = models_taking_images(count)
            fix = (
                f"use a model whose edits take {count}, e.g. "
                f"MoodBoard(..., client={type(client).__name__}(model={able[0]!r}))"
                if able
                else "no model in the table takes that many"
            )
            if spec.supports("edit") and spec.max_input_images > 1:
                fix = f"select at most {spec.max_input_images}, or {fix}"
            raise InvalidRequestError(
                f"Combine sends the {count} selected images as one edit; {spec.name} {takes}: {fix}",
                param="model",
            )
        kwargs: dict[str, Any] = {"n": n, **fields}
        if model:
            kwargs["model"] = model
        if size:
            kwargs["size"] = size
        return kwargs

    def _pin_combined(self, result: Any, sources: list[BoardItem]) -> list[BoardItem]:
        """Pin the combined images (already stored by the client) with their lineage; say what it cost."""
        self.last_combined = result
        ids = [i.id for i in sources]
        try:
            made = [self.store.pin(image, sources=ids) for image in result]
        except OSError as exc:
            where = ", ".join(str(im.path) for im in result if getattr(im, "path", None))
            raise OSError(
                f"could not pin the combined image to the board ({exc}); it is saved at {where}"
            ) from exc
        self._changed()
        cost = getattr(result, "cost_usd", None)
        if any(im.info.get("offline") for im in result):
            paid = " · free (offline engine)"
        elif cost is not None:
            paid = f" · ${cost:.3f}"
        else:
            paid = ""
        what = "a new image" if len(made) == 1 else f"{len(made)} new images"
        self._set_status(f"✓ Combined {len(sources)} board images into {what} (last on the board){paid}")
        return made

    def _start_combine(self) -> Any:
        prompt = self.combine_prompt.value.strip()
        if not prompt:
            self._set_status(
                "Describe the new image first: what should the selected images become?", error=True
            )
            return None
        self._combine_sources(None)  # fewer than two, or damaged: one line now, nothing started
        return self.start_task(lambda: self.acombine(prompt), busy="Already working: wait for it to finish.")

    # ------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        def button(label: str, tip: str, cb: Callable[[], Any], cls: str, icon: str = "") -> W.Button:
            return self.button(label, tip, cb, cls, icon=icon)

        self.export_png_button = button(
            "Export PNG",
            "Write a contact sheet into the export folder beside the notebook",
            lambda: self.export("png"),
            "dalle-export-png",
            "image",
        )
        self.export_html_button = button(
            "Export HTML",
            "Write one self-contained page into the export folder beside the notebook",
            lambda: self.export("html"),
            "dalle-export-html",
            "file",
        )
        self.vary_button = button(
            "Vary all pinned",
            "One variation of every pinned image",
            self._start_vary_all,
            "dalle-vary-all",
            "random",
        )
        self.undo_button = button(
            "Undo remove",
            "Put the last removed image back where it was",
            self.undo,
            "dalle-undo-remove",
            "undo",
        )
        self.combine_prompt = W.Text(
            placeholder="Combine the selected images into…",
            tooltip="What the new image shows: the first selected image is the base, the others references",
            layout=W.Layout(width="320px"),
        )
        self.combine_prompt.add_class("dalle-combine-prompt")
        self.combine_button = button(
            "Combine",
            "Make one new image from the selected ones (one multi-image edit; needs e.g. gpt-image-2)",
            self._start_combine,
            "dalle-combine",
            "object-group",
        )
        self.clear_selection_button = button(
            "Clear selection", "Select nothing", self.clear_selection, "dalle-clear-selection", "square-o"
        )
        self.selection_line = W.HTML(layout=W.Layout(margin="0 0 0 4px"))
        self.selection_line.add_class("dalle-selection-line")
        self.title = W.HTML()
        # an Output, not an HTML widget: JupyterLab renders its HTML with the notebook's link
        # resolver, so a relative link opens the file from the notebook's folder
        self.file_link = FileLink()
        self.grid = W.GridBox(layout=W.Layout(grid_gap="6px"))
        self.grid.add_class("dalle-board-grid")
        self.variations_box = W.VBox()
        bar = W.HBox(
            [self.title, self.export_png_button, self.export_html_button, self.vary_button, self.undo_button],
            layout=W.Layout(align_items="center", flex_flow="row wrap"),
        )
        combine_bar = W.HBox(
            [self.combine_prompt, self.combine_button, self.clear_selection_button, self.selection_line],
            layout=W.Layout(align_items="center", flex_flow="row wrap"),
        )
        combine_bar.add_class("dalle-combine-bar")
        self.children = (
            self._theme,
            bar,
            self.grid,
            combine_bar,
            W.HBox([self.status, self.file_link]),
            self.variations_box,
        )
        self.add_class("dalle-board")
        self._render()

    def _thumb(self, item: BoardItem) -> bytes:
        data = self._thumbs.get(item.id)
        if data is None:
            try:
                thumb = imaging.thumbnail(item.image, self.thumb_px)
            except Exception as exc:  # noqa: BLE001 - whatever the damage, this item shows it
                if not item.damaged:
                    item.damaged = str(exc) or type(exc).__name__
                thumb = placeholder("damaged image", (self.thumb_px, self.thumb_px))
            data = png_bytes(thumb, max_bytes=60_000)
            self._thumbs[item.id] = data
        return data

    def _render(self) -> None:
        if not hasattr(self, "grid"):
            return
        items = self.store.items
        cols = self.columns or max(1, min(4, len(items)))
        self.grid.layout.grid_template_columns = f"repeat({cols}, {self.thumb_px + 12}px)"
        tiles = []
        for i, item in enumerate(items):
            img = W.Image(value=self._thumb(item), format="png", layout=W.Layout(width=f"{self.thumb_px}px"))
            img.add_class("dalle-board-thumb")
            cap = W.Text(
                value=item.caption,
                placeholder="caption",
                continuous_update=False,
                layout=W.Layout(width=f"{self.thumb_px}px"),
                # the title is the box's accessible name too: say what it is, then what it shows
                tooltip=f"Caption: {item.summary}" if item.summary else "Caption",
            )
            cap.add_class("dalle-caption")
            cap.observe(lambda ch, item_id=item.id: self._guard(self.caption, item_id, ch["new"]), "value")
            left = self.button(
                "Move left",
                "one place earlier on the board",
                functools.partial(self.move, item.id, i - 1),
                "dalle-move-left",
                icon="arrow-left",
                compact=True,
                width="36px",
            )
            left.disabled = i == 0
            right = self.button(
                "Move right",
                "one place later on the board",
                functools.partial(self.move, item.id, i + 1),
                "dalle-move-right",
                icon="arrow-right",
                compact=True,
                width="36px",
            )
            right.disabled = i == len(items) - 1
            rm = self.button(
                "Remove",
                "unpin from the board (Undo remove puts it back)",
                functools.partial(self.remove, item.id),
                "dalle-remove",
                icon="trash",
                compact=True,
                width="36px",
            )
            order = self._selected.index(item.id) + 1 if item.id in self._selected else 0
            pick = W.ToggleButton(
                value=bool(order),
                description=("1 · base" if order == 1 else f"{order} · reference") if order else "Select",
                icon="check-square" if order else "square-o",
                tooltip=(
                    ("Selected as the base image" if order == 1 else f"Selected as reference {order - 1}")
                    + ": click to deselect"
                    if order
                    else "Select for Combine (the first selected is the base image)"
                ),
                layout=W.Layout(width=f"{self.thumb_px}px"),
            )
            pick.add_class("dalle-select")
            pick.observe(
                lambda ch, item_id=item.id: self._guard(self.select, item_id, bool(ch["new"])), "value"
            )
            tile = W.VBox(
                [img, self._hover_line(item), cap, W.HBox([left, right, rm]), pick],
                layout=W.Layout(padding="4px"),
            )
            tile.add_class("dalle-card")
            tile.add_class("dalle-board-item")
            if order:
                tile.add_class("dalle-selected")
            if item.damaged:
                tile.add_class("dalle-board-damaged")
            tiles.append(tile)
        self.grid.children = tuple(tiles)
        n = len(items)
        self.title.value = (
            f"<b>Mood board</b> <span class='dalle-muted'>{html.escape(str(self.path))} · {n} pinned</span>"
        )
        for b in (self.export_png_button, self.export_html_button, self.vary_button):
            b.disabled = n == 0
        self._render_selection()
        last = self.store.last_removed
        self.undo_button.disabled = last is None
        self.undo_button.tooltip = (
            f"Put {last.caption or last.id!r} back where it was" if last else "Nothing removed to undo"
        )

    def _render_selection(self) -> None:
        """The Combine bar: what is selected (base first) and whether Combine can run."""
        chosen = self.selected
        self.combine_button.disabled = len(chosen) < 2 or self.running
        self.combine_button.description = f"Combine {len(chosen)}" if len(chosen) >= 2 else "Combine"
        self.clear_selection_button.disabled = not chosen
        if not chosen:
            text = "Select 2 or more images to combine them into a new one."
        else:
            base = chosen[0].caption or f"image {chosen[0].id}"
            refs = len(chosen) - 1
            text = f"Base: {base!r}" + (
                f", then {refs} reference{'s' if refs != 1 else ''}" if refs else ": select 1 more"
            )
            model = getattr(self._client, "model", None)  # known only for a client given to the board
            if model and len(chosen) >= 2:
                spec = lookup(model, warn=False)
                able = models_taking_images(len(chosen))
                if spec.max_input_images < len(chosen) and able:
                    text += (
                        f" · {spec.name} takes {spec.max_input_images} per edit: "
                        f"Combine needs a model such as {able[0]}"
                    )
        self.selection_line.value = (
            f"<span class='dalle-muted' style='font-size:12px'>{html.escape(text)}</span>"
        )

    def _hover_line(self, item: BoardItem) -> W.HTML:
        """One line under the thumbnail: the prompt, cut to fit, whole (with operation and model) on hover.

        A caption box's tooltip only reaches its (empty) label in ipywidgets 8, and an Image
        view given a tooltip fails to render, so the summary is an HTML line with a ``title``.
        """
        summary = item.summary
        if not item.info.get("prompt") and not item.damaged:
            # no prompt: the summary is only the caption, which the box below shows already;
            # say how the image was made instead (a variation, a combination), or nothing
            made = [str(item.info[k]) for k in ("operation", "model") if item.info.get(k)]
            summary = ", ".join(made)
        line = W.HTML(
            f"<div class='dalle-board-info' title='{html.escape(summary, quote=True)}' "
            "style='white-space:nowrap;overflow:hidden;text-overflow:ellipsis;font-size:12px;"
            f"min-height:1.4em'>{html.escape(summary)}</div>",
            layout=W.Layout(width=f"{self.thumb_px}px"),
        )
        line.add_class("dalle-board-hover")
        return line

    def _show_file(self, path: Path) -> None:
        """Say where ``path`` was written, with a link JupyterLab opens (relative to the notebook)."""
        self._set_status(f"Wrote {path}")
        self.file_link.show(path)

    def _start_vary_all(self) -> Any:
        return self.start_task(lambda: self.avary_all(), busy="Already varying: wait for it to finish.")

    def _on_busy(self, busy: bool) -> None:
        self.vary_button.disabled = busy
        self.combine_button.disabled = busy or len(self.selected) < 2

    def _set_status(self, text: str, *, error: bool = False) -> None:
        if hasattr(self, "status"):
            self.set_status(text, error=error)

    # ---------------------------------------------------------- static repr
    def _snapshot(self) -> Image.Image | None:
        if not self.store.items:
            return placeholder("empty mood board")
        return self.contact_sheet(thumb_px=128)

    def _summary(self) -> str:
        return f"MoodBoard({str(self.path)!r}, {len(self.store.items)} items)"

    def __repr__(self) -> str:
        return self._summary()
