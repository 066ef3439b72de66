# %%
import ipywidgets as W

from dalle_widgets.client import default_client

# three candidates, as `%dalle ... -n 3` would show them; no key: the offline engine answers
result = default_client().generate("a lighthouse on a cliff at sunset", n=3, size="512x512", seed=11)


def galleries():
    return [w for w in list(W.Widget.widgets.values()) if type(w).__name__ == "Gallery"]


# %%
result  # noqa: B018 - an ImageResult shows itself as a Gallery
