"""The staging area's face in :class:`~.mask_editor.MaskEditor`: a toolbar and the candidates' cards.

The candidates themselves (runs, pending slots, stale marks) are the plain
:class:`~.staging.Staging` model; this view draws them, newest run first, as cards
with a thumbnail, badges (number, replayed, earlier base, a size other than the
base's) and Accept / Discard / More, and a toolbar acting on the selected one
(Previous, Next, Before/After, Accept, Discard, Discard all). What the buttons and
the cards' clicks and hovers do is the editor's (its ``preview``, ``accept``, ...):
the view only draws and forwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import ipywidgets as W
from ipyevents import Event

from .. import imaging
from ._shell import escape
from ._static import png_bytes
from .mask_document import MaskDocument
from .staging import Candidate, Staging

__all__ = ["STAGING_THUMB_PX", "StagingHost", "StagingView"]

#: Longest side of a candidate's thumbnail, in CSS pixels.
STAGING_THUMB_PX = 144


class StagingHost(Protocol):
    """What the view needs of its editor."""

    staging_area: Staging
    doc: MaskDocument
    selected: int | None
    status: W.HTML

    @property
    def previewing(self) -> int | None: ...

    def button(
        self, label: str, tip: str, action: Callable[[], Any], cls: str = "", **kw: Any
    ) -> W.Button: ...

    def guard(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def set_status(self, text: str, *, error: bool = False, hint: bool = False) -> None: ...

    def preview(self, index: int | None, *, select: bool = True) -> None: ...

    def end_preview(self) -> None: ...

    def cycle(self, step: int) -> int | None: ...

    def accept(self, index: int) -> None: ...

    def discard(self, index: int) -> None: ...

    def discard_all(self) -> int: ...

    def more_like(self, index: int) -> Any: ...

    def show_before(self, before: bool) -> None: ...

    def accept_selection(self) -> None: ...

    def discard_selection(self) -> None: ...


class StagingView:
    """The toolbar (:attr:`bar`) and rows of cards (:attr:`box`) of ``host``'s staging area."""

    def __init__(self, host: StagingHost) -> None:
        self.host = host
        self.prev_button = host.button(
            "Previous",
            "Preview the previous candidate (Left)",
            lambda: host.cycle(-1),
            "dalle-prev",
            icon="chevron-left",
            compact=True,
        )
        self.next_button = host.button(
            "Next",
            "Preview the next candidate (Right)",
            lambda: host.cycle(1),
            "dalle-next",
            icon="chevron-right",
            compact=True,
        )
        self.before_after = W.ToggleButton(
            value=False,
            description="Before",
            icon="eye",
            tooltip="Show the base image instead of the previewed candidate (Space)",
            layout=W.Layout(width="auto"),
        )
        self.before_after.add_class("dalle-before-after")
        self.before_after.observe(lambda ch: host.show_before(bool(ch["new"])), "value")
        self.accept_selected = host.button(
            "Accept",
            "Make the previewed candidate the new base (Enter)",
            host.accept_selection,
            "dalle-accept-selected",
            icon="check",
            style="primary",
        )
        self.discard_selected = host.button(
            "Discard",
            "Drop the previewed candidate (Delete)",
            host.discard_selection,
            "dalle-discard-selected",
            icon="times",
        )
        self.discard_all_button = host.button(
            "Discard all", "Drop every staged candidate", host.discard_all, "dalle-discard-all", icon="trash"
        )
        self.title = W.HTML()
        self.title.add_class("dalle-staging-title")
        self.bar = W.HBox(
            [
                self.title,
                self.prev_button,
                self.next_button,
                self.before_after,
                self.accept_selected,
                self.discard_selected,
                self.discard_all_button,
            ],
            layout=W.Layout(flex_flow="row wrap", align_items="center"),
        )
        self.box = W.VBox()
        self.box.add_class("dalle-staging")
        #: the cards of the finished candidates, in display order (newest run first)
        self.cards: list[W.VBox] = []
        self._card_events: list[Any] = []

    def _card(self, flat: int | None, cand: Candidate, stale: bool) -> W.VBox:
        shown = cand.image if cand.image is not None else cand.preview
        resized = ""
        if shown is not None:
            pil = getattr(shown, "image", None) or imaging.to_pil(shown)
            if cand.image is not None and pil.size != self.host.doc.shape[::-1]:
                resized = f"{pil.size[0]}×{pil.size[1]}: Accept resizes the base"
            # a transparent image is shown over a checkerboard, as image tools do
            thumb = imaging.on_checkerboard(imaging.thumbnail(pil, STAGING_THUMB_PX))
            img = W.Image(
                value=png_bytes(thumb, max_bytes=40_000),
                format="png",
                layout=W.Layout(width=f"{thumb.size[0]}px"),
            )
        else:
            img = W.HTML(
                "<div class='dalle-muted' style='display:flex;align-items:center;justify-content:center;"
                f"width:{STAGING_THUMB_PX}px;height:{STAGING_THUMB_PX}px'>waiting…</div>"
            )
        img.add_class("dalle-candidate-image")
        if cand.pending:
            note = "preview" if cand.preview is not None else "pending"
            card = W.VBox(
                [img, W.HTML(f"<span class='dalle-badge'>{note}</span>")],
                layout=W.Layout(margin="2px", padding="2px", align_items="center"),
            )
            card.add_class("dalle-card")
            card.add_class("dalle-preview" if cand.preview is not None else "dalle-candidate-pending")
            return card
        assert flat is not None
        badges = [f"#{flat + 1}"]
        if cand.replayed:
            badges.append("replayed from cache")
        if stale:
            badges.append("earlier base")
        if resized:
            badges.append(resized)
        label = W.HTML(" ".join(f"<span class='dalle-badge'>{escape(b)}</span>" for b in badges))
        label.add_class("dalle-candidate-label")
        acc = self.host.button(
            "Accept",
            f"Make candidate #{flat + 1} the new base",
            lambda: self.host.accept(flat),
            "dalle-accept",
            style="primary",
        )
        dis = self.host.button(
            "Discard", f"Drop candidate #{flat + 1}", lambda: self.host.discard(flat), "dalle-discard"
        )
        more = self.host.button(
            "More",
            f"New variations of candidate #{flat + 1}",
            lambda: self.host.more_like(flat),
            "dalle-more",
        )
        for b in (acc, dis, more):
            b.layout.padding = "0 6px"
        card = W.VBox(
            [img, label, W.HBox([acc, dis, more])],
            layout=W.Layout(margin="2px", padding="2px", align_items="center"),
        )
        card.add_class("dalle-card")
        card.add_class("dalle-candidate")
        if stale:
            card.add_class("dalle-stale")
        ev = Event(source=img, watched_events=["click", "mouseenter", "mouseleave"])
        ev.on_dom_event(lambda e, i=flat: self._on_card_event(i, e))
        self._card_events.append(ev)
        return card

    def _on_card_event(self, index: int, event: dict[str, Any]) -> None:
        """A click selects and previews a card; hovering previews it until the pointer leaves."""
        host = self.host
        kind = event.get("type") or event.get("event")
        if kind == "click":
            host.guard(host.preview, index)
        elif kind == "mouseenter":
            host.guard(lambda: host.preview(index, select=False))
        elif kind == "mouseleave" and host.previewing == index and host.selected != index:
            host.guard(
                lambda: host.preview(host.selected) if host.selected is not None else host.end_preview()
            )

    def render(self) -> None:
        """Rebuild the rows of cards from the staging area (after every change of it)."""
        host = self.host
        rows: list[Any] = []
        self.cards = []
        for ev in self._card_events:
            ev.close()
        self._card_events = []
        flat = 0
        for run in host.staging_area.runs:
            cards = []
            for cand in run.slots:
                if cand.pending:
                    cards.append(self._card(None, cand, False))
                    continue
                card = self._card(flat, cand, host.staging_area.stale(cand, host.doc.base_revision))
                self.cards.append(card)
                cards.append(card)
                flat += 1
            state = "" if run.done else " · in flight"
            head = W.HTML(f"<span class='dalle-run-label'>{escape(run.label() + state)}</span>")
            head.add_class("dalle-run-title")
            box = W.VBox([head, W.HBox(cards, layout=W.Layout(flex_flow="row wrap"))])
            box.add_class("dalle-run")
            rows.append(box)
        self.box.children = tuple(rows)
        n = flat
        self.title.value = (
            f"<b>Staging</b> <span class='dalle-muted'>{n} candidate{'s' if n != 1 else ''}"
            f"{' · newest first' if n > 1 else ''}</span>"
        )
        for b in (self.prev_button, self.next_button, self.discard_all_button):
            b.disabled = n == 0
        if host.selected is not None and host.selected >= n:
            host.selected = None
        self.mark()

    def mark(self) -> None:
        """Mark the selected card, enable the toolbar for it, say what the canvas previews."""
        host = self.host
        for k, card in enumerate(self.cards):
            if k == host.selected:
                card.add_class("dalle-selected")
            else:
                card.remove_class("dalle-selected")
        has = host.selected is not None
        self.accept_selected.disabled = not has
        self.discard_selected.disabled = not has
        self.before_after.disabled = host.previewing is None
        if host.previewing is not None:
            host.set_status(
                f"Previewing candidate #{host.previewing + 1}: Accept (Enter), Discard (Delete), "
                "Before/After (Space), Left/Right for the others.",
                hint=True,
            )
        elif host.status.value and "Previewing" in host.status.value:
            host.set_status("")
