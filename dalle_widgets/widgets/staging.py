"""The staging area's data: candidates grouped by run, newest run first, no duplicates, no widgets.

A *run* is one press of Generate or More: its label (prompt, size, time, cost),
the base image it was made from (:attr:`Run.base_revision`, so candidates made
from an earlier base are marked stale), and one slot per requested image. A slot
is *pending* until its image arrives; a streaming preview may fill it before
that (:meth:`Staging.show_preview`), and the final image replaces the preview.
The same pixels never appear twice: an image whose hash is already staged is
dropped and counted in :attr:`Staging.duplicates`.

The order users see (and the flat index of :meth:`Staging.candidates`) is newest
run first, each run's images in the order the server numbered them.
"""

from __future__ import annotations

import datetime as _dt
import itertools
from dataclasses import dataclass, field
from typing import Any

from .. import imaging

__all__ = ["Candidate", "Run", "Staging"]

_run_ids = itertools.count(1)


def _pixels_hash(image: Any) -> str:
    pil = getattr(image, "image", None)
    return imaging.image_hash(pil if pil is not None else imaging.to_pil(image))


@dataclass
class Candidate:
    """One staged image (or a pending slot) of a run.

    Attributes
    ----------
    image : GeneratedImage, PIL.Image or array, or None while pending
    preview : PIL.Image or None
        The latest streaming preview, shown until the image arrives.
    hash : str
        The image's pixel hash ("" while pending).
    """

    run: Run
    index: int
    image: Any = None
    preview: Any = None
    hash: str = ""

    @property
    def pending(self) -> bool:
        return self.image is None

    @property
    def replayed(self) -> bool:
        """True when the image was replayed from the request cache (nothing was sent)."""
        info = getattr(self.image, "info", None)
        return bool(isinstance(info, dict) and info.get("cached"))

    @property
    def info(self) -> dict[str, Any]:
        info = getattr(self.image, "info", None)
        return dict(info) if isinstance(info, dict) else {}


@dataclass
class Run:
    """One request's worth of candidates and its label."""

    op: str
    prompt: str
    size: str
    n: int
    base_revision: int
    id: int = field(default_factory=lambda: next(_run_ids))
    started: _dt.datetime = field(default_factory=lambda: _dt.datetime.now().astimezone())
    cost_usd: float | None = None
    offline: bool = False
    done: bool = False
    error: str = ""
    slots: list[Candidate] = field(default_factory=list)

    def label(self) -> str:
        """``edit · "a red balloon" · 1024x1024 · 14:02 · $0.04`` (the cost when known)."""
        what = "variations" if self.op == "vary" else self.op
        parts = [what]
        if self.prompt:
            short = self.prompt if len(self.prompt) <= 60 else self.prompt[:57] + "…"
            parts.append(f'"{short}"')
        parts += [self.size, self.started.strftime("%H:%M:%S")]
        if self.offline:
            parts.append("free (offline engine)")
        elif self.cost_usd is not None:
            parts.append(f"${self.cost_usd:.3f}")
        return " · ".join(parts)


class Staging:
    """Candidates grouped by run, newest first, deduplicated by pixels.

    Examples
    --------
    >>> import numpy as np
    >>> s = Staging()
    >>> run = s.start("edit", prompt="a fox", size="8x8", n=2, base_revision=0)
    >>> s.fill(run, [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)])
    1
    >>> len(s), s.duplicates
    (1, 1)
    """

    def __init__(self) -> None:
        self.runs: list[Run] = []  # newest first
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self.candidates())

    def candidates(self, *, pending: bool = False) -> list[Candidate]:
        """Every staged candidate in display order (pending slots only when asked)."""
        return [c for r in self.runs for c in r.slots if pending or not c.pending]

    def images(self) -> list[Any]:
        """The staged images in display order."""
        return [c.image for c in self.candidates()]

    def start(self, op: str, *, prompt: str, size: str, n: int, base_revision: int) -> Run:
        """Open a run with ``n`` pending slots, shown first."""
        run = Run(op=op, prompt=prompt, size=size, n=int(n), base_revision=base_revision)
        run.slots = [Candidate(run, i) for i in range(int(n))]
        self.runs.insert(0, run)
        return run

    def show_preview(self, run: Run, index: int, image: Any) -> Candidate:
        """Put a streaming preview into pending slot ``index`` of ``run`` (replacing an older one)."""
        while len(run.slots) <= index:
            run.slots.append(Candidate(run, len(run.slots)))
        slot = run.slots[index]
        slot.preview = image
        return slot

    def _known(self, *, besides: Run | None = None) -> set[str]:
        return {c.hash for c in self.candidates() if c.run is not besides}

    def arrive(self, run: Run, index: int, image: Any) -> bool:
        """Put one final ``image`` (a streamed answer's) into slot ``index`` of ``run``.

        Returns False, and closes the slot, when the same pixels are staged already.
        """
        while len(run.slots) <= index:
            run.slots.append(Candidate(run, len(run.slots)))
        slot = run.slots[index]
        h = _pixels_hash(image)
        if h in self._known():
            self.duplicates += 1
            run.slots.remove(slot)
            return False
        slot.image, slot.hash, slot.preview = image, h, None
        return True

    def fill(self, run: Run, images: Any, *, cost_usd: float | None = None, offline: bool = False) -> int:
        """Put the arrived ``images`` into ``run``'s slots; return how many were new.

        An image with the same pixels as one already staged is dropped (counted in
        :attr:`duplicates`); images that arrived one by one (:meth:`arrive`) stay as they
        are; slots still pending close.
        """
        known = self._known(besides=run)
        arrived = {c.hash: c for c in run.slots if not c.pending}
        kept: list[Candidate] = []
        for image in list(images):
            h = _pixels_hash(image)
            if h in arrived:
                cand = arrived.pop(h)
                cand.image = image  # the stored result, whatever object the stream gave
            elif h in known:
                self.duplicates += 1
                continue
            else:
                cand = Candidate(run, len(kept), image=image, hash=h)
            known.add(h)
            cand.index = len(kept)
            kept.append(cand)
        run.slots = kept
        run.done = True
        run.cost_usd = cost_usd
        run.offline = offline
        if not kept and run in self.runs:
            self.runs.remove(run)
        return len(kept)

    def fail(self, run: Run, error: str = "") -> None:
        """Close a run that produced nothing (cancelled or failed): its pending slots go."""
        run.slots = [c for c in run.slots if not c.pending]
        run.done = True
        run.error = error
        if not run.slots and run in self.runs:
            self.runs.remove(run)

    def remove(self, index: int) -> Candidate:
        """Drop candidate ``index`` (display order); an emptied run goes too."""
        cands = self.candidates()
        if not 0 <= index < len(cands):
            raise IndexError(f"{len(cands)} candidates are staged; index {index} is out of range")
        cand = cands[index]
        cand.run.slots.remove(cand)
        if not cand.run.slots and cand.run.done:
            self.runs.remove(cand.run)
        return cand

    def clear(self) -> int:
        """Drop every finished candidate (runs still in flight keep their pending slots)."""
        n = len(self.candidates())
        for run in list(self.runs):
            run.slots = [c for c in run.slots if c.pending]
            if not run.slots:
                self.runs.remove(run)
        return n

    def stale(self, candidate: Candidate, base_revision: int) -> bool:
        """True when ``candidate`` was made from another base image than ``base_revision``."""
        return candidate.run.base_revision != base_revision
