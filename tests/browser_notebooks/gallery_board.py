# %%
import tempfile

import ipywidgets as W
from IPython.display import display

from dalle_widgets.client import default_client
from dalle_widgets.widgets import MoodBoard

board = MoodBoard(tempfile.mkdtemp(prefix="board-", dir="."))
result = default_client().generate("a watercolor fox in a forest", n=4, size="512x512", seed=7)
selected = []


def galleries():
    return [w for w in list(W.Widget.widgets.values()) if type(w).__name__ == "Gallery"]


# %%
result  # noqa: B018 - an ImageResult shows itself as a Gallery

# %%
display(board)
