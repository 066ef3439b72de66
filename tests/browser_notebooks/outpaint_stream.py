# %%
import numpy as np
from IPython.display import display

from dalle_widgets.client import AsyncImagesClient
from dalle_widgets.widgets import OutpaintEditor

# no key in the test environment: the client starts the offline engine in this kernel,
# which serves gpt-image-2 with streamed partial images
client = AsyncImagesClient(model="gpt-image-2")
yy, xx = np.mgrid[0:512, 0:512]
base = np.dstack([xx // 2, yy // 2, np.full_like(xx, 140)]).astype(np.uint8)
ed = OutpaintEditor(base, client=client, display_px=512, prompt="a field of sunflowers, wide panorama")
ed.set_margins(right=512)
display(ed)
