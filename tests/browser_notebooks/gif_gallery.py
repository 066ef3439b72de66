# %%
import numpy as np
from IPython.display import display

from dalle_widgets.client import AsyncImagesClient
from dalle_widgets.widgets import Gallery

# no key in the test environment: the client starts the offline engine in this kernel,
# which makes animated GIFs for the 2.6 models
client = AsyncImagesClient(model="gpt-image-2.6-flare")
yy, xx = np.mgrid[0:256, 0:256]
start = np.dstack([xx, yy, np.full_like(xx, 140)]).astype(np.uint8)
gallery = Gallery([start], client=client, thumb_px=160, prompt="a kite in the wind")
gallery.n_box.value = 1
gallery.model_controls.quality_dd.value = "low"
display(gallery)
