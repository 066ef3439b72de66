# %%
import numpy as np
from IPython.display import display

from dalle_widgets.widgets import OutpaintEditor

# a 2400x1500 photo: shown scaled down, planned in 1024 px frames, filled at full size
yy, xx = np.mgrid[0:1500, 0:2400]
photo = np.dstack([(xx // 10) % 256, (yy // 6) % 256, np.full_like(xx, 110)]).astype(np.uint8)
ed = OutpaintEditor(photo, display_px=640, prompt="mountains under a wide sky")
ed.set_margins(top=256)
display(ed)
