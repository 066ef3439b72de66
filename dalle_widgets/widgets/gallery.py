"""``Gallery``: a grid of candidates with vary / edit / pin / save and provenance on each tile.

Only thumbnails travel to the browser (small PNGs, palette-quantised when a
photo would be large; an SVG as delivered; an animated GIF as a reduced
animation), so ten 1024 px images cost well under a megabyte. "Vary" on a tile
runs as an asyncio task on the kernel's loop and shows the variations beneath
the grid as a lineage row (itself a Gallery, so lineages nest). "Edit" opens a
:class:`~.mask_editor.MaskEditor` below; "Pin" adds the image to the current
:class:`~.board.MoodBoard`; "Save" copies the file as delivered (with its
provenance) beside the notebook and links it. Under the tiles, the Generate bar
(prompt, character counter, n, the model's controls) adds new images, streamed
as preview tiles when the model streams. ``.selected`` / ``select(i)`` /
``on_select(cb)`` are the Python side of clicking a tile.
"""

from __future__ import annotations

import html
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np
from ipyevents import Event
from PIL import Image

from .. import _formats, _png, imaging
from .._paths import free_path, output_dir
from .._types import AnyImageClient, Operation
from ..results import MAX_INLINE_SVG_BYTES
from ..store import sidecar_of
from . import _client
from ._file_link import FileLink
from ._model_controls import PARTIAL_IMAGES, ModelControls
from ._prompt_counter import PromptCounter
from ._shell import WidgetShell
from ._static import StaticFallbackMixin, placeholder, png_bytes

__all__ = ["Gallery", "describe_provenance"]

logger = logging.getLogger("dalle_widgets")

THUMB_MAX_BYTES = 80_000
#: An animated tile is a reduced GIF of every frame; past this it is a still (its first frame).
ANIMATED_THUMB_MAX_BYTES = 400_000
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
    try:
        return list(images)
    except TypeError:
        raise TypeError(
            "Gallery shows an image or a list of them (a result, GeneratedImage, path, bytes, PIL image "
            f"or numpy array); got {type(images).__name__}: {images!r:.60}"
        ) from None


def _streams(client: AnyImageClient, model: str | None, operation: Operation) -> bool:
    """Whether ``operation`` through ``client`` with ``model`` can stream: generations of a streaming
    model, and variations it makes as streamed edits (a model without a variations endpoint)."""
    from ..models import lookup

    model = model or getattr(client, "model", None)
    if not model or getattr(client, "protocol", "images") != "images":
        return False
    spec = lookup(model, warn=False)
    if operation == "vary":
        return spec.streaming and not spec.supports("vary") and spec.supports("edit")
    return spec.streaming and spec.supports(operation)


def _pil(item: Any) -> Image.Image:
    im = getattr(item, "image", None)  # GeneratedImage, BoardItem
    return im if isinstance(im, Image.Image) else imaging.to_pil(item)


def _key(item: Any) -> str:
    """What makes two tiles the same image: the hash of their pixels (of an SVG's bytes)."""
    known = getattr(item, "image_hash", None)
    return known if isinstance(known, str) else imaging.image_hash(_pil(item))


def _still(item: Any, px: int) -> Image.Image:
    """A still thumbnail of ``item``: an SVG's labelled stand-in, an animation's first frame."""
    thumb = getattr(item, "thumbnail", None)
    if callable(thumb) and hasattr(item, "png"):  # a GeneratedImage knows its format
        return thumb(px)
    return imaging.thumbnail(_pil(item), px)


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
        Where "Save" writes (default: ``$DALLE_WIDGETS_OUTPUT_DIR``, else ``./dalle-images``
        beside the notebook, in reach of JupyterLab's file browser).
    model : str, optional
        The model Vary and Generate ask (default: the client's model, else the model that
        made the images, else the package default). Its row of the model table decides the
        controls shown (quality, background, output format, streamed previews) and the
        prompt counter's limit.
    prompt : str, optional
        The prompt of the "Generate" bar (default: the images' prompt).
    generate_bar : bool, optional
        Show the bar that asks for more images (prompt, counter, n, model controls,
        Generate, Cancel). Default: shown in a top-level gallery, not in a lineage row.

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
        model: str | None = None,
        prompt: str | None = None,
        generate_bar: bool | None = None,
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
        self._thumbs: dict[int, tuple[Any, bytes, str]] = {}  # id(image) -> (image, picture, format)
        #: the model asked when it is not the client's own (given, or the one that made the images)
        self._model = model or (None if client is not None else self._made_by())
        self._init_shell()
        self.header = W.HTML(title or "")
        self.grid = W.GridBox(layout=W.Layout(grid_gap="8px"))
        self.grid.add_class("dalle-gallery-grid")
        self.lineage_box = W.VBox()
        self.lineage_box.add_class("dalle-lineage")
        self.detail = W.VBox()
        self.file_link = FileLink()
        self._build_bar(prompt)
        show_bar = generate_bar if generate_bar is not None else lineage_of is None
        self.bar.layout.display = "" if show_bar else "none"
        self.children = (
            self._theme,
            self.header,
            self.grid,
            self.bar,
            W.HBox([self.status, self.file_link], layout=W.Layout(flex_flow="row wrap")),
            self.lineage_box,
            self.detail,
        )
        self.add_class("dalle-gallery")
        self._render()

    # -------------------------------------------------------------- model
    def _made_by(self) -> str | None:
        """The model recorded in the images' provenance (the first that has one)."""
        return next((str(m) for i in self.images if (m := _info(i).get("model"))), None)

    @property
    def model(self) -> str:
        """The model Vary and Generate ask (see the ``model`` parameter)."""
        from ..models import DEFAULT_MODEL

        return self._model or getattr(self._client, "model", None) or DEFAULT_MODEL

    def _model_kwargs(self) -> dict[str, Any]:
        return {"model": self._model} if self._model else {}

    def _build_bar(self, prompt: str | None) -> None:
        """The "Generate" bar: prompt, its counter, n, the model's controls, Generate and Cancel."""
        from ..models import lookup

        spec = lookup(self.model, warn=False)
        if prompt is None:
            prompt = next((str(p) for i in self.images if (p := _info(i).get("prompt"))), "")
        self.prompt = W.Textarea(
            value=prompt,
            placeholder="Describe the images to add to this gallery",
            tooltip="Prompt for Generate: new images are added to this gallery",
            layout=W.Layout(width="calc(100% - 6px)", max_width="640px", height="48px"),
        )
        self.prompt.add_class("dalle-gallery-prompt")
        self.counter = PromptCounter(self.prompt, spec.max_prompt_chars)
        self.n_box = W.BoundedIntText(
            value=max(1, min(len(self.images) or 1, 4, spec.max_n)),
            min=1,
            max=spec.max_n,
            description="n",
            tooltip="Images per Generate",
            layout=W.Layout(width="100px"),
            style={"description_width": "16px"},
        )
        self.n_box.add_class("dalle-gallery-n")
        self.model_controls = ModelControls(
            spec, stream_tip="Show rough previews in the gallery's tiles while the images are made"
        )
        self.generate_button = self.button(
            "Generate",
            f"Ask {spec.name} for new images from the prompt; they are added to this gallery",
            self.generate,
            "dalle-gallery-generate",
            icon="magic",
            style="primary",
        )
        self.cancel_button = self.button(
            "Cancel", "Stop the request in flight", self.cancel, "dalle-gallery-cancel", icon="stop"
        )
        self.cancel_button.disabled = True
        wrap = W.Layout(flex_flow="row wrap", align_items="center")
        self.bar = W.VBox(
            [
                self.prompt,
                self.counter,
                self.model_controls,
                W.HBox([self.n_box, self.generate_button, self.cancel_button], layout=wrap),
            ],
            layout=W.Layout(margin="6px 0 0 0"),
        )
        self.bar.add_class("dalle-gallery-bar")

    def request_options(self) -> dict[str, Any]:
        """The model fields the controls set (unset ones left out), without the streaming switch."""
        options = self.model_controls.options()
        options.pop("stream", None)
        options.pop("partial_images", None)
        return options

    def _size(self) -> str | None:
        """The size of the gallery's images for Generate, when the model makes it (else its default)."""
        from ..models import lookup

        spec = lookup(self.model, warn=False)
        for item in self.images:
            info = _info(item)
            size = info.get("requested_size") or info.get("size")
            if isinstance(size, str) and (size in spec.sizes or spec.size_rule.allows(size)):
                return size
        return None

    # ------------------------------------------------------------ tiles
    def _thumb(self, item: Any) -> tuple[bytes, str]:
        """The tile's picture and its ``ipywidgets.Image`` format.

        An SVG goes to the browser as delivered (``svg+xml``: it draws it natively, over a CSS
        checkerboard), an animated GIF or WebP as a reduced animated GIF, anything else as a
        small PNG over a checkerboard. Made once per image: a streamed event re-renders the
        grid, and the tiles shown already keep their pictures.
        """
        cached = self._thumbs.get(id(item))
        if cached is not None and cached[0] is item:
            return cached[1], cached[2]
        data = getattr(item, "png", None)
        fmt = _formats.sniff(data) if isinstance(data, bytes) else None
        value: bytes | None = None
        kind = "png"
        if isinstance(data, bytes) and fmt == "svg" and len(data) <= MAX_INLINE_SVG_BYTES:
            value, kind = data, "svg+xml"
        elif isinstance(data, bytes) and fmt in ("gif", "webp") and imaging.is_animated(data):
            value = imaging.animated_thumbnail(data, self.thumb_px, max_bytes=ANIMATED_THUMB_MAX_BYTES)
            kind = "gif" if value is not None else "png"
        if value is None:
            # a transparent image is shown over a checkerboard, as image tools do
            thumb = imaging.on_checkerboard(_still(item, self.thumb_px))
            value = png_bytes(thumb, max_bytes=THUMB_MAX_BYTES)
        self._thumbs[id(item)] = (item, value, kind)
        return value, kind

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
        tile = W.VBox([pic, W.HTML(f"<i>preview of new image {index + 1}…</i>")])
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
        value, kind = self._thumb(item)
        img = W.Image(value=value, format=kind, layout=W.Layout(width=f"{self.thumb_px}px"))
        img.add_class("dalle-thumb")
        if kind == "svg+xml":
            img.add_class("dalle-checker")  # a transparent SVG shows over a checkerboard
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
            model=self._model,
        )
        kwargs = {**self._model_kwargs(), **self.request_options()}
        # every press asks for new images (the request cache is refreshed, never replayed)
        if self.model_controls.streams and _streams(client, self._model, "vary"):
            # the row shows at once, its tiles fill with previews, then the finals
            self.lineage.setdefault(index, []).append(child)
            self.lineage_box.children = (*self.lineage_box.children, child)
            result = await _client.stream(
                client,
                "vary",
                _pil(item),
                n=n,
                partial_images=PARTIAL_IMAGES,
                on_event=child.show_event,
                cache="refresh",
                **kwargs,
            )
            child.previews.clear()
        else:
            result = await _client.call(client, "vary", _pil(item), n=n, cache="refresh", **kwargs)
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

    def generate(self, prompt: str | None = None, n: int | None = None) -> Any:
        """Ask for ``n`` new images of ``prompt`` (default: the bar's) and add them to the gallery.

        Runs as the gallery's task (Cancel stops it). With a streaming model and "Stream
        previews" checked, each image shows as a preview tile that its final image replaces;
        either way the finals are stored before they are shown. Every press asks for new
        images (the request cache is refreshed); a duplicate of a tile shown already is dropped.
        """
        text = self.prompt.value if prompt is None else prompt
        if not text.strip():
            raise ValueError("The prompt is empty: describe the images to add, then press Generate.")
        count = int(n or self.n_box.value)
        return self.start_task(
            lambda: self._generate(text, count), busy="Already generating: wait for it or press Cancel."
        )

    async def _generate(self, prompt: str, n: int) -> Any:
        self._set_status(f"generating {n} image{'s' if n != 1 else ''}…")
        client = _client.resolve(self._client)
        size = self._size()
        kwargs: dict[str, Any] = {
            **self._model_kwargs(),
            **self.request_options(),
            "n": n,
            "cache": "refresh",
        }
        if size and kwargs.get("output_format") != "gif":  # a GIF's size is a frame's: the client picks
            kwargs["size"] = size
        before = len(self.images)
        if self.model_controls.streams and _streams(client, self._model, "generate"):
            try:
                result = await _client.stream(
                    client,
                    "generate",
                    prompt,
                    partial_images=PARTIAL_IMAGES,
                    on_event=self.show_event,
                    **kwargs,
                )
            finally:  # a cancelled or failed stream leaves no preview behind
                if self.previews:
                    self.previews.clear()
                    self._render()
            streamed = self.images[before:]  # shown already, as they came: drop the duplicates
            del self.images[before:]
            fresh = self._new_images(streamed)
        else:
            result = await _client.call(client, "generate", prompt, **kwargs)
            fresh = self._new_images(list(result))
        self.images.extend(fresh)
        self._render()
        dupes = len(result) - len(fresh)
        note = f" ({dupes} duplicate{'s' if dupes != 1 else ''} dropped)" if dupes else ""
        cost = getattr(result, "cost_usd", None)
        price = f" · ${cost:.3f}" if cost is not None else ""
        self._set_status(f"✓ {len(fresh)} new image{'s' if len(fresh) != 1 else ''}{note}{price}")
        return result

    def _new_images(self, images: list[Any]) -> list[Any]:
        """The ``images`` not shown in this gallery already (nor twice among themselves)."""
        seen = {_key(i) for i in self.images}
        fresh = []
        for im in images:
            k = _key(im)
            if k not in seen:
                seen.add(k)
                fresh.append(im)
        return fresh

    def _fresh(self, index: int, result: Any, *, besides: Gallery | None = None) -> list[Any]:
        """The images of ``result`` not shown already (here or in the other lineage rows of ``index``)."""
        seen = {_key(i) for i in self.images}
        for g in self.lineage.get(index, []):
            if g is not besides:
                seen |= {_key(i) for i in g.images}
        fresh = []
        for im in result:
            h = _key(im)
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
        """Write tile ``index`` as it was delivered (PNG, JPEG, WebP, GIF or SVG, byte for byte, with
        its provenance: inside a PNG or JPEG, in a ``.json`` sidecar otherwise); return the path.

        An image with no file of its own (an array, a PIL image) is written as PNG. The status
        line names the file and a link under it opens the file in JupyterLab.
        """
        item = self.images[index]
        data = getattr(item, "png", None)  # a GeneratedImage's file, whatever its format
        fmt = _formats.sniff(data) if isinstance(data, bytes) else None
        if fmt is None or not isinstance(data, bytes):
            fmt, data = "png", _png.encode(_pil(item))
        suffix = _formats.SUFFIXES[fmt]
        if path is None:
            folder = self.save_dir or output_dir()
            folder.mkdir(parents=True, exist_ok=True)
            target = free_path(folder, str(_info(item).get("prompt") or "image"), suffix)
        else:
            target = Path(path)
        _png.write_atomic(target, data)
        info = _info(item)
        if info and not _formats.embeds(fmt):
            _png.write_atomic(sidecar_of(target), json.dumps(info, sort_keys=True, default=str).encode())
        self._set_status(f"Saved {self.label(index)} to {target}")
        self.file_link.show(target)
        return target

    # ------------------------------------------------------------ status
    def _on_busy(self, busy: bool) -> None:
        self.generate_button.disabled = busy
        self.cancel_button.disabled = not busy
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
        thumbs = [_still(i, SNAPSHOT_THUMB_PX) for i in self.images]
        return imaging.contact_sheet(
            thumbs, cols=self.columns or min(4, len(thumbs)), cell_px=SNAPSHOT_THUMB_PX, gap=SNAPSHOT_GAP_PX
        )

    def _summary(self) -> str:
        prompt = next((_info(i).get("prompt") for i in self.images if _info(i).get("prompt")), None)
        about = f", {prompt!r}" if prompt else ""
        n = len(self.images)
        return f"Gallery({n} image{'' if n == 1 else 's'}{about})"
