# %%
import tempfile

import numpy as np
from IPython.display import display

from dalle_widgets.client import AsyncImagesClient
from dalle_widgets.widgets import MaskEditor, MoodBoard

# no key in the test environment: the client starts the offline engine in this kernel,
# which serves gpt-image-2 (multi-image edits whose references steer the result)
client = AsyncImagesClient(model="gpt-image-2")
yy, xx = np.mgrid[0:256, 0:256]
room = np.dstack([xx // 2 + 60, yy // 2 + 60, np.full_like(xx, 150)]).astype(np.uint8)
red = np.tile(np.array([220, 40, 40], np.uint8), (128, 128, 1))
blue = np.tile(np.array([40, 60, 220], np.uint8), (128, 128, 1))
board = MoodBoard(tempfile.mkdtemp(prefix="board-", dir="."), client=client, thumb_px=144)
for image, caption in ((room, "a quiet room"), (red, "red swatch"), (blue, "blue swatch")):
    board.pin(image, caption=caption)
display(board)

# %%
editor = MaskEditor(
    room,
    client=client,
    display_px=256,
    prompt="a sofa in the swatch colours",
    n=1,
    size="1024x1024",
    references=[red, blue],
)
editor.add_rectangle((64, 128, 192, 224))
display(editor)
