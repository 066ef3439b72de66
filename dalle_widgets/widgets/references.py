"""``ReferenceStrip``: the extra images a multi-image edit sends with its base image.

GPT image models take up to 16 input images per edit (the model table's
``max_input_images``): the first is the one the mask applies to, the others are
references the model draws on (a product, a palette, a face). The strip shows
each reference as a small thumbnail with a remove button; the
:class:`~.mask_editor.MaskEditor` sends ``[base, *strip.images]`` as one edit.

The strip holds the references as they were given (a path or a file's bytes go
to the endpoint byte for byte) and checks each one when it is added: it must be
an image, and the model, when known, must take that many inputs. Everything
else the client checks before sending (formats, bytes, sizes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W

from .. import imaging
from ..models import ModelSpec, models_taking_images
from ._static import png_bytes

__all__ = ["ReferenceStrip", "too_many_inputs"]

THUMB_PX = 64


def too_many_inputs(spec: ModelSpec, references: int, *, fix: str = "") -> str | None:
    """Why ``spec`` cannot take a base image and ``references`` more, or None when it can.

    ``fix`` says how to pass another model in the caller's terms (a constructor argument...).

    >>> from dalle_widgets.models import lookup
    >>> for part in too_many_inputs(lookup("dall-e-2"), 2).split(": "):
    ...     print(part)
    2 reference images and the base image make 3 inputs; dall-e-2 takes 1 per edit
    remove the references, or use a model whose edits take 3, e.g. 'gpt-image-2'
    >>> too_many_inputs(lookup("gpt-image-2"), 2) is None
    True
    """
    total = references + 1
    if references == 0 or total <= spec.max_input_images:
        return None
    most = spec.max_input_images
    plural = "s" if references != 1 else ""
    remove = "remove the references" if most == 1 else f"keep at most {most - 1}"
    line = (
        f"{references} reference image{plural} and the base image make {total} inputs; "
        f"{spec.name} takes {most} per edit: {remove}"
    )
    able = models_taking_images(total)
    if able:
        example = fix.format(model=able[0]) if fix else repr(able[0])
        line += f", or use a model whose edits take {total}, e.g. {example}"
    return line


class ReferenceStrip(W.VBox):
    """Thumbnails of the reference images of an edit, each with a remove button.

    Parameters
    ----------
    references : sequence of images
        Paths, bytes, PIL images, numpy arrays or GeneratedImages.
    spec : ModelSpec, optional
        The model the edit will use, when known: more references than it takes are refused.
    fix : str
        How to choose another model, named in the refusal (``{model}`` is replaced by a
        model that takes that many images).

    Examples
    --------
    >>> import numpy as np
    >>> strip = ReferenceStrip([np.zeros((8, 8, 3), np.uint8)])
    >>> len(strip.images), strip.layout.display
    (1, '')
    >>> _ = strip.remove(0); len(strip.images), strip.layout.display
    (0, 'none')
    """

    def __init__(
        self,
        references: Sequence[Any] = (),
        *,
        spec: ModelSpec | None = None,
        fix: str = "",
    ) -> None:
        super().__init__(layout=W.Layout(margin="2px 0"))
        self.add_class("dalle-references")
        self.spec = spec
        self.fix = fix
        self._images: list[Any] = []
        self._thumbs: list[bytes] = []
        self._callbacks: list[Callable[[ReferenceStrip], None]] = []
        self.title = W.HTML()
        self.row = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        self.children = (self.title, self.row)
        if isinstance(references, (str, bytes)) or not isinstance(references, Sequence):
            raise TypeError(
                f"references must be a list of images, got {type(references).__name__}: "
                "wrap one image in a list, e.g. references=[logo]"
            )
        for ref in references:
            self._add(ref)
        self._render()

    @property
    def images(self) -> list[Any]:
        """The references in the order they are sent (after the base image)."""
        return list(self._images)

    def __len__(self) -> int:
        return len(self._images)

    def on_change(self, callback: Callable[[ReferenceStrip], None], remove: bool = False) -> None:
        """Call ``callback(strip)`` after a reference is added or removed."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def add(self, image: Any) -> None:
        """Add a reference (checked: it must be an image, and the model must take one more)."""
        self._add(image)
        self._changed()

    def remove(self, index: int) -> Any:
        """Drop reference ``index``; return it."""
        if not -len(self._images) <= index < len(self._images):
            raise IndexError(f"{len(self._images)} references; index {index} is out of range")
        self._thumbs.pop(index)
        removed = self._images.pop(index)
        self._changed()
        return removed

    def check(self, spec: ModelSpec) -> None:
        """Raise ValueError when ``spec`` cannot take the base image and these references."""
        problem = too_many_inputs(spec, len(self._images), fix=self.fix)
        if problem:
            raise ValueError(problem)

    def _add(self, image: Any) -> None:
        label = f"references[{len(self._images)}]"
        try:
            thumb = imaging.thumbnail(imaging.to_pil(image, name=label), THUMB_PX)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{exc} (references take a path, bytes, a PIL image, an array or a GeneratedImage)"
            ) from None
        if self.spec is not None:
            problem = too_many_inputs(self.spec, len(self._images) + 1, fix=self.fix)
            if problem:
                raise ValueError(problem)
        self._images.append(image)
        self._thumbs.append(png_bytes(thumb, max_bytes=20_000))

    def _changed(self) -> None:
        self._render()
        for cb in list(self._callbacks):
            cb(self)

    def _render(self) -> None:
        n = len(self._images)
        self.layout.display = "" if n else "none"
        self.title.value = (
            f"<span class='dalle-muted' style='font-size:12px'>{n} reference image"
            f"{'s' if n != 1 else ''}, sent with the base image (the mask applies to the base)</span>"
        )
        cards = []
        for i, data in enumerate(self._thumbs):
            thumb = W.Image(value=data, format="png", layout=W.Layout(max_width=f"{THUMB_PX}px"))
            thumb.add_class("dalle-reference-thumb")
            rm = W.Button(
                icon="times",
                tooltip=f"Remove reference {i + 1}: it is no longer sent with the edit",
                layout=W.Layout(width="32px"),
            )
            rm.add_class("dalle-remove-reference")
            rm.on_click(functools.partial(lambda index, _b: self.remove(index), i))
            card = W.VBox([thumb, rm], layout=W.Layout(align_items="center", margin="0 4px 0 0"))
            card.add_class("dalle-reference")
            cards.append(card)
        self.row.children = tuple(cards)
