"""The model's request fields as controls: quality, background, output format, GIF frames, previews.

One row of dropdowns built from the model table (:mod:`dalle_widgets.models`), shared by
the widgets that send requests (mask editor, gallery, outpaint editor). A field the model
offers no choice for (one value or none) is hidden, so ``dall-e-2`` shows nothing; every
dropdown starts at "default", which leaves the field out of the request and lets the
endpoint choose. The row holds no rule of its own: the client checks the combination
before sending (e.g. a transparent background with jpeg) and the widget shows its error.

>>> from dalle_widgets.models import lookup
>>> row = ModelControls(lookup("gpt-image-2", warn=False))
>>> row.quality_dd.value = "high"
>>> row.options()
{'quality': 'high', 'stream': True, 'partial_images': 2}
>>> ModelControls(lookup("dall-e-2", warn=False)).options()
{}
>>> six = ModelControls(lookup("gpt-image-2.6-flare", warn=False))
>>> six.frames_box.layout.display
'none'
>>> six.format_dd.value = "gif"                     # the frame count shows with GIF only
>>> six.frames_box.layout.display, six.options()
('', {'output_format': 'gif', 'frame_count': 9})
"""

from __future__ import annotations

from typing import Any

import ipywidgets as W

__all__ = ["PARTIAL_IMAGES", "ModelControls"]

#: Previews asked for per image when streaming (the API allows 0 to 3).
PARTIAL_IMAGES = 2


def _choice(label: str, values: tuple[str, ...], cls: str, tip: str) -> W.Dropdown:
    dd = W.Dropdown(
        options=["default", *values],
        value="default",
        description=label,
        tooltip=tip,
        layout=W.Layout(width="205px", display="" if len(values) > 1 else "none"),
        style={"description_width": "84px"},
    )
    dd.add_class(cls)
    return dd


class ModelControls(W.HBox):
    """Quality, background, output format and a "Stream previews" box for one model.

    Parameters
    ----------
    spec : ModelSpec
        The model's row of the model table (``dalle_widgets.models.lookup(model)``).
    formats : tuple of str, optional
        The output formats worth offering (default: all the model has). An editor that
        pastes its result into a canvas passes ``("png", "jpeg", "webp")``.
    stream_tip : str
        Tooltip of the "Stream previews" box (where the previews show).

    Attributes
    ----------
    quality_dd, background_dd, format_dd : ipywidgets.Dropdown
        "default" or one of the model's values.
    stream_box : ipywidgets.Checkbox
        Whether to stream previews; checked (and shown) only when the model streams.
    frames_box : ipywidgets.BoundedIntText
        Frames of an animated GIF (the model's range, default 9); shown only while the
        format is GIF.
    """

    def __init__(
        self,
        spec: Any,
        *,
        formats: tuple[str, ...] | None = None,
        stream_tip: str = "Show rough previews while the images are made",
    ) -> None:
        self.quality_dd = _choice(
            "Quality", spec.qualities, "dalle-quality", "Rendering quality (price follows)"
        )
        self.background_dd = _choice(
            "Background", spec.backgrounds, "dalle-background", "Transparent or opaque background"
        )
        offered = tuple(f for f in spec.output_formats if formats is None or f in formats)
        self.format_dd = _choice("Format", offered, "dalle-format", "File format of the images")
        self.stream_box = W.Checkbox(
            value=bool(spec.streaming),
            description="Stream previews",
            tooltip=stream_tip,
            indent=False,
            layout=W.Layout(width="150px", display="" if spec.streaming else "none"),
        )
        self.stream_box.add_class("dalle-stream")
        gif = spec.gif_rule
        self.frames_box = W.BoundedIntText(
            value=gif.default_frames if gif else 9,
            min=gif.frames[0] if gif else 2,
            max=gif.frames[1] if gif else 16,
            description="Frames",
            tooltip="Frames of the animated GIF (each frame is one image of the size)",
            layout=W.Layout(width="150px", display="none"),
            style={"description_width": "50px"},
        )
        self.frames_box.add_class("dalle-frames")
        self.format_dd.observe(self._show_frames, names="value")
        super().__init__(
            [self.quality_dd, self.background_dd, self.format_dd, self.frames_box, self.stream_box],
            layout=W.Layout(flex_flow="row wrap"),
        )
        self.add_class("dalle-model-controls")

    def _show_frames(self, _change: Any = None) -> None:
        gif = self.format_dd.value == "gif"
        self.frames_box.layout.display = "" if gif else "none"
        self.stream_box.disabled = gif  # a GIF never streams: the box greys out while GIF is chosen

    @property
    def streams(self) -> bool:
        """Whether the next request should stream: the box is shown and checked, and the format is
        not GIF (an animated GIF never streams, so choosing it turns the previews off)."""
        return (
            bool(self.stream_box.value)
            and self.stream_box.layout.display != "none"
            and self.format_dd.value != "gif"
        )

    def options(self) -> dict[str, Any]:
        """The fields the controls set (unset ones left out), plus ``stream``/``partial_images``."""
        options = {
            "quality": self.quality_dd.value,
            "background": self.background_dd.value,
            "output_format": self.format_dd.value,
        }
        options = {k: v for k, v in options.items() if v != "default"}
        if options.get("output_format") == "gif":
            options["frame_count"] = int(self.frames_box.value)
        if self.streams:
            options.update(stream=True, partial_images=PARTIAL_IMAGES)
        return options
