"""A mood board's store: the folder, its manifest, loading and repair, changes, undo, exports.

A board is data first: a folder with ``board.json`` (the manifest: order,
captions, provenance) and ``images/<id>.png``. Every change writes the image
first and then the manifest, each atomically and flushed to the disk
(:func:`dalle_widgets._png.write_atomic` with ``durable=True``), so a crash never
leaves a half-written file and never loses a pinned image.
``BoardStore(path)`` reloads it; a folder damaged by hand (a missing image, a
broken manifest) loads what it can and lists what it skipped in ``.skipped``.

The manifest is untrusted input: a file it names must resolve inside the board
folder (:func:`dalle_widgets._paths.confine`), or it is reported in ``.skipped``
and never read, embedded in an export or deleted. An image that is there but
damaged (cut short, corrupted) stays on the board as a damaged item (exports show
a placeholder) instead of making the whole board fail.

A removed image is not deleted at once: it moves to the board's ``.trash/`` folder
(the last :data:`UNDO_DEPTH` removals are kept there) so :meth:`BoardStore.undo`
can put it back where it was.

This module is pure storage (no widgets): :class:`dalle_widgets.widgets.MoodBoard`
is a view over a :class:`BoardStore`.

>>> import numpy as np, tempfile
>>> store = BoardStore(tempfile.mkdtemp())
>>> item = store.pin(np.zeros((8, 8, 3), np.uint8), caption="black")
>>> removed = store.remove(item)
>>> len(store), store.undo().caption, len(store)
(0, 'black', 1)
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from . import _png, imaging
from ._paths import OutsideFolderError, confine, output_dir
from .store import default_root

__all__ = ["UNDO_DEPTH", "BoardItem", "BoardStore", "default_board_path"]

logger = logging.getLogger("dalle_widgets")

MANIFEST = "board.json"
IMAGES = "images"
TRASH = ".trash"
FORMAT_VERSION = 1
#: How many removals :meth:`BoardStore.undo` can take back (their images stay in ``.trash/``).
UNDO_DEPTH = 20
_PROVENANCE = (
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
    "sources",
    "cost_usd",
)


def default_board_path() -> Path:
    """``$DALLE_WIDGETS_HOME/boards/default`` (``~/.dalle_widgets/boards/default`` without the variable)."""
    return default_root() / "boards" / "default"


def _write(path: Path, data: bytes) -> None:
    """Every board file is written atomically and flushed: the board is curated by hand."""
    _png.write_atomic(path, data, durable=True)


def placeholder(text: str, size: tuple[int, int] = (240, 48)) -> Image.Image:
    """A small grey card with ``text``: what an export shows for a damaged image."""
    from PIL import ImageDraw

    card = Image.new("RGB", size, (245, 245, 245))
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, size[0] - 1, size[1] - 1), outline=(200, 200, 200))
    draw.text((10, size[1] // 2 - 6), text, fill=(90, 90, 90))
    return card


@dataclass
class BoardItem:
    """One pinned image.

    An item made on the board from other items (:meth:`BoardStore.pin` with ``sources``,
    what the mood board's Combine does) lists their ids in ``info["sources"]``
    (:attr:`sources`): its lineage on the board, kept when those items are removed.

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

    @property
    def sources(self) -> list[str]:
        """Ids of the board items this one was made from (empty for a pinned image)."""
        found = self.info.get("sources")
        return [str(s) for s in found] if isinstance(found, list) else []

    @property
    def summary(self) -> str:
        """One line for a tooltip: the prompt, operation and model, or why the image is damaged."""
        if self.damaged:
            return f"damaged image {self.path.name}: {self.damaged}"
        prompt = self.info.get("prompt")
        if not prompt:
            return self.caption
        made = f"{self.info.get('operation', '?')}, {self.info.get('model', '?')}"
        if self.sources:
            made = f"combined from {len(self.sources)} board images, {made}"
        return f"{prompt} ({made})"

    def to_json(self, root: Path) -> dict[str, Any]:
        return {
            "id": self.id,
            "file": self.path.relative_to(root).as_posix(),
            "caption": self.caption,
            "info": self.info,
            "added": self.added,
        }


@dataclass
class _Removal:
    item: BoardItem
    index: int
    trashed: Path


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


def _damage(path: Path) -> str:
    """Why the PNG at ``path`` cannot be shown, or "" (checked whole, without decoding it)."""
    try:
        _png.check(path.read_bytes())
    except (OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return ""


def _make_board_folder(path: Path) -> None:
    """Create the board folder, or say in one line why ``path`` cannot be one and what to pass."""
    if path.exists() and not path.is_dir():
        hint = f"its folder, {str(path.parent)!r}" if path.name == MANIFEST else "a folder path"
        raise ValueError(
            f"board path {str(path)!r} is a file; a board is a folder (images and {MANIFEST}): pass {hint}"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(
            f"cannot create the board folder {str(path)!r} ({exc.strerror or exc}): "
            "pass a folder you can write to"
        ) from None


class BoardStore:
    """The items of a board folder, kept in step with the disk on every change.

    Parameters
    ----------
    path : str or Path, optional
        The board folder (created if missing). Default ``$DALLE_WIDGETS_HOME/boards/default``.
    export_dir : str or Path, optional
        Where :meth:`export` writes; default :func:`dalle_widgets._paths.output_dir`
        (``./dalle-images`` beside the notebook, or ``$DALLE_WIDGETS_OUTPUT_DIR``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        export_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else default_board_path()
        _make_board_folder(self.path)
        self._export_dir = Path(export_dir) if export_dir is not None else None
        self._items: list[BoardItem] = []
        self._undo: list[_Removal] = []
        self.skipped: list[str] = []
        self._load()

    # ------------------------------------------------------------ loading
    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def export_dir(self) -> Path:
        """The folder :meth:`export` writes to (resolved when asked: the notebook's folder may change)."""
        return self._export_dir if self._export_dir is not None else output_dir()

    @property
    def damaged(self) -> list[BoardItem]:
        """The items whose image file is damaged (shown as such; export and vary skip them)."""
        return [i for i in self._items if i.damaged]

    @property
    def problems(self) -> list[str]:
        """What loading skipped or found damaged, one phrase each (empty for a healthy board)."""
        return self.skipped + [f"damaged image {i.path.name} ({i.damaged})" for i in self.damaged]

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
                self._load_entry(entry, known)
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
                damaged = _damage(png)
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

    def _load_entry(self, entry: Any, known: set[str]) -> None:
        file = ""
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
            return
        except (KeyError, TypeError, ValueError) as exc:
            self.skipped.append(f"an entry without id/file ({exc!r})")
            return
        known.add(item.path.name)
        if not item.path.is_file():
            label = f" {item.caption!r}" if item.caption else ""
            self.skipped.append(f"missing image {file}{label}")
            return
        item.damaged = _damage(item.path)
        self._items.append(item)

    def save(self) -> None:
        """Write the manifest (every change does; call it after editing items by hand)."""
        data = {"version": FORMAT_VERSION, "items": [i.to_json(self.path) for i in self._items]}
        _write(self.manifest_path, json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8"))

    # --------------------------------------------------------- collection
    @property
    def items(self) -> list[BoardItem]:
        """The pinned items in board order (a new list)."""
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[BoardItem]:
        return iter(list(self._items))

    def index(self, item: BoardItem | str | int) -> int:
        """The position of ``item`` (an item, its id, or an index, negative ones counted from the end)."""
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

    def pin(self, image: Any, caption: str | None = None, *, sources: Sequence[str] = ()) -> BoardItem:
        """Pin ``image`` (GeneratedImage, PIL, array, path or bytes); saved at once. Returns the item.

        The caption defaults to the image's prompt when it has provenance. ``sources`` are
        the ids of the board items ``image`` was made from (recorded as ``info["sources"]``).
        """
        png, info = _png_of(image)
        if sources:
            # an item removed while its combination was being made is still a source (undo has it)
            known = {i.id for i in self._items} | {r.item.id for r in self._undo}
            unknown = [s for s in sources if s not in known]
            if unknown:
                raise KeyError(
                    f"sources {unknown} are not on this board; ids are {[i.id for i in self._items]}"
                )
            info["sources"] = list(sources)
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
        self.save()
        return item

    def remove(self, item: BoardItem | str | int) -> BoardItem:
        """Unpin ``item`` (item, id or index); its image moves to ``.trash/`` for :meth:`undo`."""
        index = self.index(item)
        removed = self._items.pop(index)
        self.save()
        trashed = self.path / TRASH / removed.path.name
        try:  # a path confined to the board when it was loaded or pinned
            trashed.parent.mkdir(exist_ok=True)
            os.replace(removed.path, trashed)
        except OSError:
            logger.debug("could not move %s to the trash", removed.path, exc_info=True)
            return removed
        self._undo.append(_Removal(removed, index, trashed))
        while len(self._undo) > UNDO_DEPTH:
            self._undo.pop(0).trashed.unlink(missing_ok=True)
        return removed

    @property
    def can_undo(self) -> bool:
        """True when a removal can be taken back."""
        return bool(self._undo)

    @property
    def last_removed(self) -> BoardItem | None:
        """The item :meth:`undo` would restore, or None."""
        return self._undo[-1].item if self._undo else None

    def undo(self) -> BoardItem:
        """Put the last removed item back where it was (image, caption, provenance); return it.

        Raises
        ------
        ValueError
            If nothing was removed, or its image is no longer in the board's ``.trash/``.
        """
        if not self._undo:
            raise ValueError("nothing to undo: no image was removed from this board")
        removal = self._undo.pop()
        item = removal.item
        if not removal.trashed.is_file():
            raise ValueError(f"cannot undo: {removal.trashed} is gone from the board's trash")
        item.path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(removal.trashed, item.path)
        self._items.insert(min(removal.index, len(self._items)), item)
        self.save()
        return item

    def move(self, item: BoardItem | str | int, index: int) -> bool:
        """Move ``item`` to position ``index`` (clamped to the board); True if the order changed."""
        old = self.index(item)
        it = self._items.pop(old)
        index = max(0, min(int(index), len(self._items)))
        self._items.insert(index, it)
        if index == old:
            return False
        self.save()
        return True

    def caption(self, item: BoardItem | str | int, text: str) -> bool:
        """Set the caption of ``item``; True if it changed."""
        i = self.index(item)
        if self._items[i].caption == str(text):
            return False
        self._items[i].caption = str(text)
        self.save()
        return True

    # ----------------------------------------------------------- exports
    def contact_sheet(self, cols: int | None = None, thumb_px: int = 256) -> Image.Image:
        """All pinned images as one contact sheet (captions under each, in any script)."""
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
        figures = [self._figure(item, max_px) for item in self._items]
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

    @staticmethod
    def _figure(item: BoardItem, max_px: int) -> str:
        caption = f"<figcaption>{html.escape(item.caption)}</figcaption>"
        if item.damaged:
            return f"<figure><p>damaged image: {html.escape(item.damaged)}</p>{caption}</figure>"
        im = item.image
        if max(im.size) > max_px:
            im = imaging.thumbnail(im, max_px)
        b64 = base64.b64encode(_png.encode(im, level=6)).decode("ascii")
        rows = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in item.info.items()
            if k in _PROVENANCE
        )
        details = f"<details><summary>provenance</summary><table>{rows}</table></details>" if rows else ""
        alt = html.escape(item.caption, quote=True)
        return f"<figure><img src='data:image/png;base64,{b64}' alt='{alt}'>{caption}{details}</figure>"

    def export(self, kind: str) -> Path:
        """Write a ``png`` contact sheet or an ``html`` page into :attr:`export_dir`; return its path.

        The name is ``board-<board folder>-<time>.<kind>``, so exports of several boards never clash.
        """
        if kind not in ("png", "html"):
            raise ValueError(f"kind={kind!r}: export 'png' (a contact sheet) or 'html' (one page)")
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = self.export_dir
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"board-{self.path.name}-{stamp}.{kind}"
        k = 1
        while out.exists():
            out = folder / f"board-{self.path.name}-{stamp}-{k}.{kind}"
            k += 1
        return self.export_png(out) if kind == "png" else self.export_html(out)
