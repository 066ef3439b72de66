# %%
import numpy as np
from IPython.display import display

from dalle_widgets.widgets import MaskEditor

yy, xx = np.mgrid[0:1024, 0:1024]
base = np.dstack([(xx // 4) % 256, (yy // 4) % 256, np.full_like(xx, 40)]).astype(np.uint8)
editor = MaskEditor(base, display_px=512, brush_size=10)
display(editor)

# %%
import time  # noqa: E402

arrivals = []
editor.canvas[2].on_mouse_move(lambda x, y: arrivals.append(time.time() * 1000))
