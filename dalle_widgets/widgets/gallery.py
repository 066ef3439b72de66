"""``Gallery``: a grid of candidates with vary / edit / pin / save and provenance on each tile.

Only thumbnails travel to the browser (small PNGs, palette-quantised when a
photo would be large), so ten 1024 px images cost well under a megabyte. "Vary"
on a tile runs as an asyncio task on the kernel's loop and shows the variations
beneath the grid as a lineage row (itself a Gallery, so lineages nest). "Edit"
opens a :class:`~.mask_editor.MaskEditor` below; "Pin" adds the image to the
current :class:`~.board.MoodBoard`; "Save" copies the PNG (with its provenance)
to a folder. ``.selected`` / ``select(i)`` / ``on_select(cb)`` are the Python side
of clicking a tile.
"""

from __future__ import annotations

import html
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np
from ipyevents import Event
from PIL import Image

from .. import _png, imaging
from .._types import AnyImageClient
from . import _client
from ._shell import WidgetShell
from ._static import StaticFallbackMixin, placeholder, png_bytes

__all__ = ["Gallery", "describe_provenance"]

logger = logging.getLogger("dalle_widgets")

THUMB_MAX_BYTES = 80_000
COMPACT_BELOW_PX = 192  # tiles narrower than this get icon-only buttons
#: Thumbnail side in the static snapshot saved with a notebook: four across fit the snapshot's width.
SNAPSHOT_THUMB_PX = 128
SNAPSHOT_GAP_PX = 6
_PROVENANCE_KEYS = (
    "operation",
    "prompt",
    "revised_prompt",
    "model",
    "size",
    "seed",
    "engine",
    "endpoint",
    "created",
    "parent",
    "mask_hash",
    "request_id",
    "n_index",
)


def describe_provenance(info: dict[str, Any]) -> str:
    """One-line summary of an image's provenance, for tooltips.

    Examples
    --------
    >>> describe_provenance({"operation": "generate", "model": "dall-e-2", "prompt": "a fox", "seed": 3})
    'generate · dall-e-2 · seed 3 · "a fox"'
    """
    parts = [str(info[k]) for k in ("operation", "model") if info.get(k)]
    if info.get("seed") is not None:
        parts.append(f"seed {info['seed']}")
    if info.get("prompt"):
        parts.append(f'"{info["prompt"]}"')
    return " · ".join(parts) or "no provenance recorded"


def _as_list(images: Any) -> list[Any]:
    if isinstance(images, Image.Image | np.ndarray | str | bytes | os.PathLike):
        return [images]
    if hasattr(images, "png") and hasattr(images, "info"):  # a single GeneratedImage
        return [images]
    return list(images)


def _streams(client: AnyImageClient) -> bool:
    """Whether variations through ``client`` stream: its model makes them as streamed edits."""
    from ..models import lookup

    model = getattr(client, "model", None)
    if not model or getattr(client, "protocol", "images") != "images":
        return False
    spec = lookup(model, warn=False)
    return spec.streaming and not spec.supports("vary") and spec.supports("edit")


def _pil(item: Any) -> Image.Image:
    im = getattr(item, "image", None)  # GeneratedImage, BoardItem
    return im if isinstance(im, Image.Image) else imaging.to_pil(item)


def _info(item: Any) -> dict[str, Any]:
    info = getattr(item, "info", None)
    return dict(info) if isinstance(info, dict) else {}


class Gallery(WidgetShell, StaticFallbackMixin, W.VBox):
    """A grid of image tiles with actions, for an ``ImageResult`` or any list of images.

    Parameters
    ----------
    images : ImageResult, sequence of images, or one image
        GeneratedImage, PIL images, numpy arrays, paths or PNG bytes.
    columns : int, optional
        Tiles per row (default: as many as fit the width of the output, wrapping).
    thumb_px : int
        Longest side of each thumbnail sent to the browser.
    client : ImagesClient or AsyncImagesClient, optional
        Used by Vary and by the editor Edit opens. Default: the shared client.
    vary_n : int
        Variations per "Vary" click.
    save_dir : path, optional
        Where "Save" writes (default ``./dalle-images``).

    Examples
    --------
    >>> import numpy as np
    >>> g = Gallery([np.zeros((32, 32, 3), np.uint8), np.ones((32, 32, 3), np.uint8)], thumb_px=16)
    >>> g.select(1); g.selected_index
    1
    """

    _snapshot_px = 4 * SNAPSHOT_THUMB_PX + 5 * SNAPSHOT_GAP_PX  # four thumbnails across, at full size

    def __init__(
        self,
        images: Any,
        *,
        columns: int | None = None,
        thumb_px: int = 256,
        client: AnyImageClient | None = None,
        vary_n: int = 3,
        save_dir: str | os.PathLike[str] | None = None,
        title: str | None = None,
        lineage_of: str | None = None,
        number_from: int = 1,
    ) -> None:
        super().__init__()
        #: the label of the tile these images vary ("0", "0.2"), None in a top-level gallery
        self.lineage_of = lineage_of
        self.number_from = int(number_from)
        self.images: list[Any] = _as_list(images)
        self.columns = columns
        self.thumb_px = int(thumb_px)
        self._client = client
        self.vary_n = int(vary_n)
        self.save_dir = Path(save_dir) if save_dir is not None else None
        self.selected_index: int | None = None
        self.lineage: dict[int, list[Gallery]] = {}
        self.editor: Any = None
        self._select_callbacks: list[Callable[[Any], None]] = []
        self._events: list[Any] = []
        #: previews of images on their way (streamed variations), by index, shown after the tiles
        self.previews: dict[int, Image.Image] = {}
        #: ``(type, index)`` of each streamed event shown, in order
        self.stream_log: list[tuple[str, int]] = []
        self._init_shell()
        self.header = W.HTML(title or "")
        self.grid = W.GridBox(layout=W.Layout(grid_gap="8px"))
        self.grid.add_class("dalle-gallery-grid")
        self.lineage_box = W.VBox()
        self.lineage_box.add_class("dalle-lineage")
        self.detail = W.VBox()
        self.children = (self._theme, self.header, self.grid, self.status, self.lineage_box, self.detail)
        self.add_class("dalle-gallery")
        self._render()

    # ------------------------------------------------------------ tiles
    def _thumb_png(self, item: Any) -> bytes:
        # a transparent image is shown over a checkerboard, as image tools do
        thumb = imaging.on_checkerboard(imaging.thumbnail(_pil(item), self.thumb_px))
        return png_bytes(thumb, max_bytes=THUMB_MAX_BYTES)

    def _render(self) -> None:
        # Without an explicit column count the grid fills the output's width and wraps, so four
        # 256 px tiles never run past a narrow notebook column (they are clipped there otherwise).
        cols = self.columns or "auto-fill"
        self.grid.layout.grid_template_columns = f"repeat({cols}, {self.thumb_px + 8}px)"
        self.grid.layout.overflow_x = "auto"
        self.grid.layout.align_items = "flex-start"  # an open provenance panel must not stretch its row-mates
        self._tiles: list[W.VBox] = []
        self._events = []
        for i, item in enumerate(self.images):
            self._tiles.append(self._tile(i, item))
        previews = [self._preview_tile(i, im) for i, im in sorted(self.previews.items())]
        self.grid.children = (*self._tiles, *previews)

    def _preview_tile(self, index: int, image: Image.Image) -> W.VBox:
        """A preview of image ``index`` on its way: a picture and a caption, no buttons yet."""
        thumb = imaging.on_checkerboard(imaging.thumbnail(image, self.thumb_px))
        pic = W.Image(value=png_bytes(thumb, max_bytes=THUMB_MAX_BYTES), format="png")
        pic.layout = W.Layout(width=f"{thumb.size[0]}px", opacity="0.85")
        tile = W.VBox([pic, W.HTML(f"<i>preview of image {index + 1}…</i>")])
        tile.add_class("dalle-preview")
        return tile

    def show_event(self, event: Any) -> None:
        """Show one streamed event: a preview replaces the last one of its image in a tile; a final
        image (already stored) replaces its preview as a full tile."""
        self.stream_log.append((event.type, event.index))
        if event.type == "partial":
            self.previews[event.index] = event.image
        else:
            self.previews.pop(event.index, None)
            self.images.append(event.result)
        self._render()

    def _tile(self, i: int, item: Any) -> W.VBox:
        info = _info(item)
        img = W.Image(value=self._thumb_png(item), format="png", layout=W.Layout(width=f"{self.thumb_px}px"))
        img.add_class("dalle-thumb")
        ev = Event(source=img, watched_events=["click"])
        ev.on_dom_event(lambda _e, i=i: self.select(i))
        self._events.append(ev)

        # Four labelled buttons need about 200 px; under a narrower thumbnail they would wrap onto a
        # second row, so small tiles (lineage rows, board variations) show icons with tooltips instead.
        compact = self.thumb_px < COMPACT_BELOW_PX
        # four icon buttons (each with ipywidgets' 2 px margins) fit in one row down to ~120 px tiles
        icon_width = f"{max(24, min(34, self.thumb_px // 4 - 4))}px"

        def button(label: str, tip: str, cls: str, fn: Callable[[], Any], icon: str = "") -> W.Button:
            b = self.button(
                label, tip, fn, cls, icon=icon, compact=compact, width=icon_width if compact else "auto"
            )
            b.layout.padding = "0" if compact else "0 6px"
            return b

        vary = button(
            "Vary",
            f"{self.vary_n} variations of this image, shown beneath",
            "dalle-vary",
            lambda: self.vary(i),
            "random" if compact else "",
        )
        edit = button(
            "Edit",
            "Open the mask editor on this image",
            "dalle-edit",
            lambda: self.edit(i),
            "paint-brush" if compact else "",
        )
        pin = button("Pin", "Pin to the current mood board", "dalle-pin", lambda: self.pin(i), "thumb-tack")
        save = button(
            "Save",
            "Save the PNG (with provenance) to a folder",
            "dalle-save",
            lambda: self.save(i),
            "download" if compact else "",
        )
        info_toggle = W.ToggleButton(
            description="",
            icon="info",
            tooltip="Provenance: show how this image was made",
            layout=W.Layout(width="32px"),
        )
        info_toggle.add_class("dalle-info")
        info_html = W.HTML(layout=W.Layout(display="none", width=f"{self.thumb_px}px"))
        info_html.add_class("dalle-provenance")

        def toggle(change: dict[str, Any]) -> None:
            info_html.value = self._provenance_html(info) if change["new"] else ""
            info_html.layout.display = "block" if change["new"] else "none"

        info_toggle.observe(toggle, "value")
        # The hover text lives on the label: ipywidgets 8.1 cannot render a tooltip on an Image or a Box
        # (their views have no description and crash in updateTooltip).
        show_size = info.get("size") and self.thumb_px >= 120  # "#0 · 1024x1024" wraps on smaller tiles
        replayed = (
            " <span class='dalle-badge' title='replayed from the request cache: nothing was sent or paid'>"
            "replayed</span>"
            if info.get("cached")
            else ""
        )
        label = W.HTML(
            f"<span class='dalle-muted' style='font-size:11px'>{self.label(i)}"
            f"{' · ' + html.escape(str(info['size'])) if show_size else ''}</span>{replayed}",
            tooltip=describe_provenance(info),
        )
        label.add_class("dalle-tile-label")
        tile = W.VBox(
            [
                img,
                W.HBox([label, info_toggle], layout=W.Layout(justify_content="space-between")),
                W.HBox([vary, edit, pin, save], layout=W.Layout(flex_flow="row wrap")),
                info_html,
            ],
            layout=W.Layout(border="2px solid transparent", padding="2px"),
        )
        tile.add_class("dalle-tile")
        return tile

    @staticmethod
    def _provenance_html(info: dict[str, Any]) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left;padding-right:6px'>{html.escape(k)}</th>"
            f"<td style='word-break:break-word'>{html.escape(str(info[k]))}</td></tr>"
            for k in _PROVENANCE_KEYS
            if info.get(k) not in (None, "")
        )
        # the widget's 28 px line height would make each row as tall as a button: keep the table compact
        return (
            f"<table style='font-size:11px;line-height:1.35;border-collapse:collapse'>{rows}</table>"
            if rows
            else "<i>no provenance recorded</i>"
        )

    # -------------------------------------------------------- selection
    @property
    def selected(self) -> Any:
        """The selected image (as given to the gallery), or None."""
        return None if self.selected_index is None else self.images[self.selected_index]

    def select(self, index: int | None) -> None:
        """Select tile ``index`` (None clears); highlights it and calls the ``on_select`` callbacks."""
        if index is not None and not 0 <= index < len(self.images):
            raise IndexError(f"gallery has {len(self.images)} images; index {index} is out of range")
        self.selected_index = index
        for k, tile in enumerate(self._tiles):
            if k == index:
                tile.add_class("dalle-selected")
            else:
                tile.remove_class("dalle-selected")
        for cb in list(self._select_callbacks):
            try:
                cb(self.selected)
            except Exception:  # noqa: BLE001
                logger.exception("Gallery on_select callback failed")

    def on_select(self, callback: Callable[[Any], None], remove: bool = False) -> None:
        """Call ``callback(image)`` when a tile is selected (clicked or ``select(i)``)."""
        if remove:
            self._select_callbacks.remove(callback)
        else:
            self._select_callbacks.append(callback)

    # ---------------------------------------------------------- actions
    def label(self, index: int) -> str:
        """Tile ``index``'s label: ``#2`` at the top, ``#2.1``, ``#2.2`` for its variations, ``#2.1.1``...

        >>> Gallery([], lineage_of="0.2", number_from=4).label(1)
        '#0.2.5'
        """
        if self.lineage_of is None:
            return f"#{index}"
        return f"#{self.lineage_of}.{self.number_from + index}"

    def vary(self, index: int, n: int | None = None) -> Any:
        """Ask for variations of tile ``index`` (async task); they appear beneath as a lineage row."""
        item = self.images[index]
        n = int(n or self.vary_n)
        return self.start_task(
            lambda: self._vary(index, item, n), busy="Already varying: wait for it or press Cancel."
        )

    async def _vary(self, index: int, item: Any, n: int) -> Any:
        name = self.label(index)
        self._set_status(f"varying {name}…")
        client = _client.resolve(self._client)
        child = Gallery(
            [],
            thumb_px=max(96, self.thumb_px * 3 // 4),
            client=self._client,
            vary_n=self.vary_n,
            save_dir=self.save_dir,
            title=f"<span class='dalle-muted'>↳ variations of {name}</span>",
            lineage_of=name[1:],
            number_from=1 + sum(len(g.images) for g in self.lineage.get(index, [])),
        )
        # every press asks for new images (the request cache is refreshed, never replayed)
        if _streams(client):  # the row shows at once, its tiles fill with previews, then the finals
            self.lineage.setdefault(index, []).append(child)
            self.lineage_box.children = (*self.lineage_box.children, child)
            result = await _client.stream(
                client, "vary", _pil(item), n=n, partial_images=2, on_event=child.show_event, cache="refresh"
            )
            child.previews.clear()
        else:
            result = await _client.call(client, "vary", _pil(item), n=n, cache="refresh")
        fresh = self._fresh(index, result, besides=child)
        if not fresh:
            if child in self.lineage.get(index, []):
                self.lineage[index].remove(child)
                self.lineage_box.children = tuple(c for c in self.lineage_box.children if c is not child)
            self._set_status(f"The variations of {name} were all duplicates of images shown already")
            return result
        child.images = fresh
        child._render()
        if child not in self.lineage.get(index, []):
            self.lineage.setdefault(index, []).append(child)
            self.lineage_box.children = (*self.lineage_box.children, child)
        dupes = len(result) - len(fresh)
        note = f" ({dupes} duplicate{'s' if dupes != 1 else ''} dropped)" if dupes else ""
        self._set_status(f"✓ {len(fresh)} variations of {name}{note}")
        return result

    def _fresh(self, index: int, result: Any, *, besides: Gallery | None = None) -> list[Any]:
        """The images of ``result`` not shown already (here or in the other lineage rows of ``index``)."""
        seen = {imaging.image_hash(_pil(i)) for i in self.images}
        for g in self.lineage.get(index, []):
            if g is not besides:
                seen |= {imaging.image_hash(_pil(i)) for i in g.images}
        fresh = []
        for im in result:
            h = imaging.image_hash(_pil(im))
            if h not in seen:
                seen.add(h)
                fresh.append(im)
        return fresh

    def edit(self, index: int) -> Any:
        """Open a MaskEditor on tile ``index`` below the grid; return it."""
        from .mask_editor import MaskEditor

        item = self.images[index]
        prompt = _info(item).get("prompt") or ""
        self.editor = MaskEditor(_pil(item), client=self._client, prompt=prompt)
        close = W.Button(
            description="Close editor",
            icon="times",
            tooltip="Close the editor",
            layout=W.Layout(width="auto"),
        )
        close.add_class("dalle-close-editor")
        close.on_click(lambda _b: self._close_editor())
        head = W.HBox(
            [W.HTML(f"<b>Editing #{index}</b>"), close],
            layout=W.Layout(
                align_items="center",
                justify_content="space-between",
                width=f"{self.editor.canvas.width}px",
                margin="8px 0 4px 0",
            ),
        )
        self.detail.children = (head, self.editor)
        return self.editor

    def _close_editor(self) -> None:
        self.detail.children = ()
        self.editor = None

    def pin(self, index: int, board: Any | None = None, caption: str | None = None) -> Any:
        """Pin tile ``index`` to ``board`` (default: the current mood board); return the board item."""
        from .board import current_board

        board = board or current_board()
        item = board.pin(self.images[index], caption=caption)
        self._set_status(f"Pinned #{index} to the board at {board.path}")
        return item

    def save(self, index: int, path: str | os.PathLike[str] | None = None) -> Path:
        """Write tile ``index`` as PNG (provenance kept when the image has it); return the path."""
        item = self.images[index]
        if path is None:
            folder = self.save_dir or Path.cwd() / "dalle-images"
            folder.mkdir(parents=True, exist_ok=True)
            prompt = str(_info(item).get("prompt") or "image").lower()
            stem = re.sub(r"[^a-z0-9]+", "-", prompt).strip("-")[:40]
            k = 0
            while (folder / f"{stem or 'image'}-{k}.png").exists():
                k += 1
            target = folder / f"{stem or 'image'}-{k}.png"
        else:
            target = Path(path)
        png = getattr(item, "png", None)
        _png.write_atomic(
            target, png if isinstance(png, bytes) and _png.is_png(png) else _png.encode(_pil(item))
        )
        self._set_status(f"Saved #{index} to {target}")
        return target

    # ------------------------------------------------------------ status
    def _on_busy(self, busy: bool) -> None:
        for tile in getattr(self, "_tiles", []):
            for b in tile.children[2].children:
                if "dalle-vary" in b._dom_classes:  # noqa: SLF001 - ipywidgets has no public reader
                    b.disabled = busy

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.set_status(text, error=error)

    # ------------------------------------------------------- static repr
    def _snapshot(self) -> Image.Image | None:
        if not self.images:
            return placeholder("empty gallery")
        thumbs = [imaging.thumbnail(_pil(i), SNAPSHOT_THUMB_PX) for i in self.images]
        return imaging.contact_sheet(
            thumbs, cols=self.columns or min(4, len(thumbs)), cell_px=SNAPSHOT_THUMB_PX, gap=SNAPSHOT_GAP_PX
        )

    def _summary(self) -> str:
        prompt = next((_info(i).get("prompt") for i in self.images if _info(i).get("prompt")), None)
        about = f", {prompt!r}" if prompt else ""
        n = len(self.images)
        return f"Gallery({n} image{'' if n == 1 else 's'}{about})"
