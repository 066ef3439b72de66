# %%
import numpy as np
from IPython.display import display

from dalle_widgets.client import AsyncImagesClient
from dalle_widgets.widgets import Gallery

# no key in the test environment: the client starts the offline engine in this kernel,
# which serves gpt-image-2 with streamed partial images
client = AsyncImagesClient(model="gpt-image-2")
yy, xx = np.mgrid[0:256, 0:256]
start = np.dstack([xx, yy, np.full_like(xx, 140)]).astype(np.uint8)
gallery = Gallery([start], client=client, thumb_px=160, prompt="a red balloon in the sky")
gallery.n_box.value = 1
display(gallery)
