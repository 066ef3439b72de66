# %%
import numpy as np
from IPython.display import display

from dalle_widgets.widgets import OutpaintEditor
from dalle_widgets.widgets.board import current_board  # noqa: F401 - the test reads the board

# an 800x600 photo, not square: it opens and fills at its own size (offline engine, dall-e-2)
yy, xx = np.mgrid[0:600, 0:800]
noise = np.random.default_rng(7).integers(0, 48, (600, 800))
photo = np.dstack([(xx // 4 + noise) % 256, (yy // 3 + noise) % 256, np.full_like(xx, 128)]).astype(np.uint8)
ed = OutpaintEditor(photo, display_px=640, prompt="a quiet harbour at dawn, wide panorama")
display(ed)
