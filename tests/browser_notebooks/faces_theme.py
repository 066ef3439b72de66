# %%
import tempfile

import numpy as np
from IPython.display import display

from dalle_widgets.client import default_client
from dalle_widgets.widgets import MoodBoard, OutpaintEditor

board = MoodBoard(tempfile.mkdtemp(prefix="board-", dir="."))
result = default_client().generate("a watercolor fox in a forest", n=2, size="256x256", seed=7)
board.pin(result[0], caption="fox")
outpaint = OutpaintEditor(np.full((256, 256, 3), 120, np.uint8), display_px=256, prompt="a wide field")
outpaint.set_margins(left=128)

# %%
result  # noqa: B018 - an ImageResult shows itself as a Gallery

# %%
display(board)

# %%
display(outpaint)
