# %%
import numpy as np
from IPython.display import display

from dalle_widgets.widgets import MaskEditor

yy, xx = np.mgrid[0:1024, 0:1024]
base = np.dstack([(xx // 4) % 256, (yy // 4) % 256, np.full_like(xx, 160)]).astype(np.uint8)
editor = MaskEditor(base, display_px=512, prompt="a red balloon in the sky", n=2, size="256x256")
display(editor)

# %%
ticks = []
