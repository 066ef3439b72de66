"""``MoodBoard``: pinned images with captions, saved to a folder as they change.

A board is data first: a folder with ``board.json`` (the manifest: order,
captions, provenance) and ``images/<id>.png``. Every change writes the image
first and then the manifest, each atomically and flushed to the disk
(:func:`dalle_widgets._png.write_atomic` with ``durable=True``), so a crash never
leaves a half-written file and never loses a pinned image.
``MoodBoard(path)`` reloads it; a folder damaged by hand (a missing image, a
broken manifest) loads what it can and lists what it skipped in ``.skipped``.

The manifest is untrusted input: a file it names must resolve inside the board
folder (:func:`dalle_widgets._paths.confine`), or it is reported in ``.skipped``
and never read, embedded in an export or deleted. An image that is there but
damaged (cut short, corrupted) stays on the board as a damaged item (its tile
says so, exports show a placeholder) instead of making the whole board fail.

The widget shows the items in a grid (reorder, caption, remove), exports a PNG
contact sheet or one self-contained HTML page, and "varies everything pinned"
through the client, showing the variations as a :class:`~.gallery.Gallery`.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ipywidgets as W
from PIL import Image

from .. import _png, imaging
from .._paths import OutsideFolderError, confine
from ..store import default_root
from . import _client
from ._shell import WidgetShell
from ._static import StaticFallbackMixin, placeholder, png_bytes

__all__ = ["BoardItem", "MoodBoard", "current_board"]

logger = logging.getLogger("dalle_widgets")

MANIFEST = "board.json"
IMAGES = "images"
FORMAT_VERSION = 1

_current: MoodBoard | None = None


def default_board_path() -> Path:
    """``$DALLE_WIDGETS_HOME/boards/default`` (``~/.dalle_widgets/boards/default`` without the variable)."""
    return default_root() / "boards" / "default"


def current_board() -> MoodBoard:
    """The process-wide current board: the last one created, or the default board (created on first use)."""
    global _current
    if _current is None:
        _current = MoodBoard()
    return _current


def _write(path: Path, data: bytes) -> None:
    """Every board file is written atomically and flushed: the board is curated by hand."""
    _png.write_atomic(path, data, durable=True)


@dataclass
class BoardItem:
    """One pinned image.

    Attributes
    ----------
    id : str
        Stable identifier (also the image's file stem).
    path : Path
        The PNG inside the board folder.
    caption : str
    info : dict
        Provenance copied from the pinned image (prompt, operation, model, parent...).
    added : str
        ISO time of pinning.
    damaged : str
        Why the image file cannot be shown ("" when it is fine); found when the board loads.
    """

    id: str
    path: Path
    caption: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    added: str = ""
    damaged: str = ""

    @property
    def image(self) -> Image.Image:
        """The pixels (read from disk each time: the board folder is the truth).

        Raises ValueError for a damaged item, saying why.
        """
        if self.damaged:
            raise ValueError(f"board item {self.id} is damaged: {self.damaged}")
        with Image.open(self.path) as im:
            im.load()
            return im.copy()

    def to_json(self, root: Path) -> dict[str, Any]:
        return {
            "id": self.id,
            "file": self.path.relative_to(root).as_posix(),
            "caption": self.caption,
            "info": self.info,
            "added": self.added,
        }


def _png_of(image: Any) -> tuple[bytes, dict[str, Any]]:
    """PNG bytes and provenance of anything pinnable (GeneratedImage keeps its own PNG and info)."""
    png = getattr(image, "png", None)
    info = dict(getattr(image, "info", None) or {}) if not isinstance(image, Image.Image) else {}
    if isinstance(png, bytes | bytearray) and _png.is_png(png):
        return bytes(png), info
    if isinstance(image, BoardItem):
        if image.damaged:
            raise ValueError(f"board item {image.id} is damaged ({image.damaged}): nothing to pin")
        return image.path.read_bytes(), dict(image.info)
    return _png.encode(imaging.to_pil(getattr(image, "image", image))), info


class MoodBoard(WidgetShell, StaticFallbackMixin, W.VBox):
    """A mood board: pin, reorder, caption, remove; saved to ``path`` on every change.

    Parameters
    ----------
    path : str or Path, optional
        The board folder (created if missing). Default ``$DALLE_WIDGETS_HOME/boards/default``.
    client : ImagesClient or AsyncImagesClient, optional
        Used by "vary everything pinned". Default: the shared client.
    thumb_px : int
        Thumbnail size in the grid.

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
        client: Any | None = None,
        thumb_px: int = 192,
        columns: int | None = None,
    ) -> None:
        global _current
        super().__init__()
        self.path = Path(path) if path is not None else default_board_path()
        self.path.mkdir(parents=True, exist_ok=True)
        self._client = client
        self.thumb_px = int(thumb_px)
        self.columns = columns
        self._items: list[BoardItem] = []
        self.skipped: list[str] = []
        self.variations: list[Any] = []
        self._thumbs: dict[str, bytes] = {}
        self._callbacks: list[Callable[[MoodBoard], None]] = []
        self._init_shell()
        self._load()
        self._build_ui()
        _current = self
        problems = self.skipped + [f"damaged image {i.path.name} ({i.damaged})" for i in self.damaged]
        if problems:
            self._set_status("While loading: " + "; ".join(problems), error=True)

    # ------------------------------------------------------------ storage
    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def damaged(self) -> list[BoardItem]:
        """The items whose image file is damaged (shown as such; export and vary skip them)."""
        return [i for i in self._items if i.damaged]

    @staticmethod
    def _damage(path: Path) -> str:
        """Why the PNG at ``path`` cannot be shown, or "" (checked whole, without decoding it)."""
        try:
            _png.check(path.read_bytes())
        except (OSError, ValueError) as exc:
            return str(exc) or type(exc).__name__
        return ""

    def _load(self) -> None:
        mpath = self.manifest_path
        known: set[str] = set()
        if mpath.exists():
            try:
                data = json.loads(mpath.read_text(encoding="utf-8"))
                entries = data["items"]
                if not isinstance(entries, list):
                    raise TypeError("'items' is not a list")
            except (ValueError, KeyError, TypeError) as exc:
                backup = mpath.with_name(f"{MANIFEST}.broken")
                os.replace(mpath, backup)
                self.skipped.append(
                    f"manifest {MANIFEST} is unreadable ({exc}); kept it as {backup.name} "
                    "and recovered the images without captions"
                )
                entries = []
            for entry in entries:
                try:
                    if not isinstance(entry, dict):
                        raise TypeError(f"{type(entry).__name__} is not an object")
                    file = str(entry["file"])
                    item = BoardItem(
                        id=str(entry["id"]),
                        path=confine(self.path, file),
                        caption=str(entry.get("caption") or ""),
                        info=dict(entry.get("info") or {}),
                        added=str(entry.get("added") or ""),
                    )
                except OutsideFolderError as exc:
                    self.skipped.append(f"{exc} of the board: skipped, not read")
                    if Path(file).parent == Path(IMAGES):  # reported once, not again as an orphan
                        known.add(Path(file).name)
                    continue
                except (KeyError, TypeError, ValueError) as exc:
                    self.skipped.append(f"an entry without id/file ({exc!r})")
                    continue
                known.add(item.path.name)
                if not item.path.is_file():
                    label = f" {item.caption!r}" if item.caption else ""
                    self.skipped.append(f"missing image {file}{label}")
                    continue
                item.damaged = self._damage(item.path)
                self._items.append(item)
        # images on disk the manifest does not list (crash between the two writes, manual copy)
        img_dir = self.path / IMAGES
        if img_dir.is_dir():
            for png in sorted(img_dir.glob("*.png"), key=lambda p: p.lstat().st_mtime):
                if png.name in known or png.name.startswith("."):
                    continue
                try:
                    png = confine(self.path, f"{IMAGES}/{png.name}")
                except OutsideFolderError as exc:  # a link that points out of the board
                    self.skipped.append(f"{exc} of the board: skipped, not read")
                    continue
                damaged = self._damage(png)
                if damaged:
                    self.skipped.append(f"unreadable image {IMAGES}/{png.name} ({damaged})")
                    continue
                self._items.append(BoardItem(id=png.stem, path=png, added=""))
                if mpath.exists():
                    self.skipped.append(f"recovered {IMAGES}/{png.name} (not in the manifest)")
        for item in self.damaged:
            logger.warning("mood board %s: image %s is damaged (%s)", self.path, item.path.name, item.damaged)
        if self.skipped:
            logger.warning("mood board %s: %s", self.path, "; ".join(self.skipped))

    def _save(self) -> None:
        data = {"version": FORMAT_VERSION, "items": [i.to_json(self.path) for i in self._items]}
        _write(self.manifest_path, json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8"))

    def _changed(self) -> None:
        self._save()
        self._render()
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
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[BoardItem]:
        return iter(list(self._items))

    def _find(self, item: BoardItem | str | int) -> int:
        if isinstance(item, bool):
            raise TypeError("item must be a BoardItem, an id or an index")
        if isinstance(item, int):
            if not -len(self._items) <= item < len(self._items):
                raise IndexError(f"board has {len(self._items)} items; index {item} is out of range")
            return item % len(self._items)
        key = item.id if isinstance(item, BoardItem) else str(item)
        for i, it in enumerate(self._items):
            if it.id == key:
                return i
        raise KeyError(f"no item {key!r} on this board; ids are {[i.id for i in self._items]}")

    def pin(self, image: Any, caption: str | None = None) -> BoardItem:
        """Pin ``image`` (GeneratedImage, PIL, array, path or bytes); saved at once. Returns the item.

        The caption defaults to the image's prompt when it has provenance.
        """
        png, info = _png_of(image)
        item_id = uuid.uuid4().hex[:12]
        path = self.path / IMAGES / f"{item_id}.png"
        _write(path, png)
        if caption is None:
            caption = str(info.get("prompt") or "")
        item = BoardItem(
            id=item_id,
            path=path,
            caption=caption,
            info=info,
            added=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        )
        self._items.append(item)
        self._changed()
        return item

    def remove(self, item: BoardItem | str | int) -> BoardItem:
        """Unpin ``item`` (item, id or index); its file is deleted after the manifest is saved."""
        removed = self._items.pop(self._find(item))
        self._thumbs.pop(removed.id, None)
        self._changed()
        try:  # a path confined to the board when it was loaded or pinned
            removed.path.unlink()
        except OSError:
            logger.debug("could not delete %s", removed.path)
        return removed

    def move(self, item: BoardItem | str | int, index: int) -> None:
        """Move ``item`` to position ``index`` (clamped to the board)."""
        it = self._items.pop(self._find(item))
        index = max(0, min(int(index), len(self._items)))
        self._items.insert(index, it)
        self._changed()

    def caption(self, item: BoardItem | str | int, text: str) -> None:
        """Set the caption of ``item``."""
        i = self._find(item)
        if self._items[i].caption == text:
            return
        self._items[i].caption = str(text)
        self._changed()

    # ----------------------------------------------------------- exports
    def contact_sheet(self, cols: int | None = None, thumb_px: int = 256) -> Image.Image:
        """All pinned images as one contact sheet (captions under each)."""
        if not self._items:
            raise ValueError("the board is empty: pin images before exporting")
        thumbs = [
            placeholder("damaged image", (thumb_px, thumb_px))
            if i.damaged
            else imaging.thumbnail(i.image, thumb_px)
            for i in self._items
        ]
        return imaging.contact_sheet(
            thumbs, cols=cols, captions=[i.caption for i in self._items], cell_px=thumb_px
        )

    def export_png(
        self, path: str | os.PathLike[str], *, cols: int | None = None, thumb_px: int = 256
    ) -> Path:
        """Write a PNG contact sheet of the board to ``path``; return the path."""
        out = Path(path)
        _write(out, _png.encode(self.contact_sheet(cols=cols, thumb_px=thumb_px)))
        return out

    def export_html(
        self, path: str | os.PathLike[str], *, title: str = "Mood board", max_px: int = 1024
    ) -> Path:
        """Write one self-contained HTML page (images embedded as data URIs) to ``path``."""
        out = Path(path)
        figures = []
        for item in self._items:
            if item.damaged:
                figures.append(
                    f"<figure><p>damaged image: {html.escape(item.damaged)}</p>"
                    f"<figcaption>{html.escape(item.caption)}</figcaption></figure>"
                )
                continue
            im = item.image
            if max(im.size) > max_px:
                im = imaging.thumbnail(im, max_px)
            b64 = base64.b64encode(png_bytes(im)).decode("ascii")
            prov = {
                k: v
                for k, v in item.info.items()
                if k
                in (
                    "prompt",
                    "revised_prompt",
                    "operation",
                    "model",
                    "size",
                    "seed",
                    "engine",
                    "created",
                    "parent",
                    "mask_hash",
                )
            }
            rows = "".join(
                f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                for k, v in prov.items()
            )
            details = f"<details><summary>provenance</summary><table>{rows}</table></details>" if rows else ""
            figures.append(
                f"<figure><img src='data:image/png;base64,{b64}' "
                f"alt='{html.escape(item.caption, quote=True)}'>"
                f"<figcaption>{html.escape(item.caption)}</figcaption>{details}</figure>"
            )
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="generator" content="dalle-widgets">
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; background: #fafafa; color: #222; }}
main {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 16px; }}
figure {{ margin: 0; background: #fff; padding: 8px; border: 1px solid #ddd; border-radius: 6px; }}
img {{ width: 100%; height: auto; display: block; }}
figcaption {{ margin-top: 6px; font-size: 14px; }}
details {{ font-size: 12px; color: #555; }} th {{ text-align: left; padding-right: 8px; }}
</style></head>
<body><h1>{html.escape(title)}</h1><main>
{chr(10).join(figures)}
</main></body></html>
"""
        _write(out, page.encode("utf-8"))
        return out

    # ---------------------------------------------------------- variations
    def vary_all(self, client: Any | None = None, *, n: int = 1, size: str | None = None) -> list[Any]:
        """Ask for ``n`` variations of every pinned image (blocking); return one result per item.

        In a notebook the "Vary all pinned" button does the same without blocking the kernel.
        """
        if not self._items:
            raise ValueError("the board is empty: pin images before asking for variations")
        if client is None and self._client is None:
            from ..client import default_client

            client = default_client()
        client = client or self._client
        kwargs: dict[str, Any] = {"n": n}
        if size:
            kwargs["size"] = size
        results = [client.vary(item.image, **kwargs) for item in self._usable()]
        self._show_variations(results)
        return results

    async def avary_all(self, client: Any | None = None, *, n: int = 1, size: str | None = None) -> list[Any]:
        """Async twin of :meth:`vary_all` (one request after another, on the kernel's loop)."""
        if not self._items:
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
        usable = [i for i in self._items if not i.damaged]
        if not usable:
            raise ValueError("every pinned image is damaged: nothing to vary")
        if len(usable) < len(self._items):
            logger.warning(
                "mood board %s: skipping %d damaged item(s)", self.path, len(self._items) - len(usable)
            )
        return usable

    def _show_variations(self, results: list[Any]) -> None:
        from .gallery import Gallery

        self.variations = results
        images = [im for r in results for im in r]
        self.variations_box.children = (Gallery(images, thumb_px=160, client=self._client),)

    # ------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        def button(label: str, tip: str, cb: Callable[[], Any], cls: str, icon: str = "") -> W.Button:
            return self.button(label, tip, cb, cls, icon=icon)

        self.export_png_button = button(
            "Export PNG",
            "Write a contact sheet next to the board",
            lambda: self._export("png"),
            "dalle-export-png",
            "image",
        )
        self.export_html_button = button(
            "Export HTML",
            "Write one self-contained page next to the board",
            lambda: self._export("html"),
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
        self.title = W.HTML()
        self.grid = W.GridBox(layout=W.Layout(grid_gap="6px"))
        self.grid.add_class("dalle-board-grid")
        self.variations_box = W.VBox()
        bar = W.HBox(
            [self.title, self.export_png_button, self.export_html_button, self.vary_button],
            layout=W.Layout(align_items="center", flex_flow="row wrap"),
        )
        self.children = (self._theme, bar, self.grid, self.status, self.variations_box)
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
        cols = self.columns or max(1, min(4, len(self._items)))
        self.grid.layout.grid_template_columns = f"repeat({cols}, {self.thumb_px + 12}px)"
        tiles = []
        for i, item in enumerate(self._items):
            img = W.Image(value=self._thumb(item), format="png", layout=W.Layout(width=f"{self.thumb_px}px"))
            prompt = item.info.get("prompt")
            hover = (
                f"{prompt} ({item.info.get('operation', '?')}, {item.info.get('model', '?')})"
                if prompt
                else None
            )
            if item.damaged:
                hover = f"damaged image {item.path.name}: {item.damaged}"
            cap = W.Text(
                value=item.caption,
                placeholder="caption",
                continuous_update=False,
                layout=W.Layout(width=f"{self.thumb_px}px"),
                # the title is the box's accessible name too: say what it is, then what it shows
                tooltip=f"Caption{': ' + hover if hover else ''}",
            )
            cap.add_class("dalle-caption")
            cap.observe(lambda ch, item_id=item.id: self._guard(self.caption, item_id, ch["new"]), "value")
            left = self.button(
                "Move left",
                "one place earlier on the board",
                lambda item_id=item.id, i=i: self.move(item_id, i - 1),
                "dalle-move-left",
                icon="arrow-left",
                compact=True,
                width="36px",
            )
            left.disabled = i == 0
            right = self.button(
                "Move right",
                "one place later on the board",
                lambda item_id=item.id, i=i: self.move(item_id, i + 1),
                "dalle-move-right",
                icon="arrow-right",
                compact=True,
                width="36px",
            )
            right.disabled = i == len(self._items) - 1
            rm = self.button(
                "Remove",
                "unpin from the board",
                lambda item_id=item.id: self.remove(item_id),
                "dalle-remove",
                icon="trash",
                compact=True,
                width="36px",
            )
            tile = W.VBox([img, cap, W.HBox([left, right, rm])], layout=W.Layout(padding="4px"))
            tile.add_class("dalle-card")
            tile.add_class("dalle-board-item")
            if item.damaged:
                tile.add_class("dalle-board-damaged")
            tiles.append(tile)
        self.grid.children = tuple(tiles)
        n = len(self._items)
        self.title.value = (
            f"<b>Mood board</b> <span class='dalle-muted'>{html.escape(str(self.path))} · {n} pinned</span>"
        )
        for b in (self.export_png_button, self.export_html_button, self.vary_button):
            b.disabled = n == 0

    def _export(self, kind: str) -> Path:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = self.path / "exports" / f"board-{stamp}.{kind}"
        path = self.export_png(out) if kind == "png" else self.export_html(out)
        self._set_status(f"Wrote {path}")
        return path

    def _start_vary_all(self) -> Any:
        return self.start_task(lambda: self.avary_all(), busy="Already varying: wait for it to finish.")

    def _on_busy(self, busy: bool) -> None:
        self.vary_button.disabled = busy

    def _set_status(self, text: str, *, error: bool = False) -> None:
        if hasattr(self, "status"):
            self.set_status(text, error=error)

    # ---------------------------------------------------------- static repr
    def _snapshot(self) -> Image.Image | None:
        if not self._items:
            return placeholder("empty mood board")
        return self.contact_sheet(thumb_px=128)

    def _summary(self) -> str:
        return f"MoodBoard({str(self.path)!r}, {len(self._items)} items)"

    def __repr__(self) -> str:
        return self._summary()
