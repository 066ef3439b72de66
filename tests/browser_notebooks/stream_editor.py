# %%
import numpy as np
from IPython.display import display

from dalle_widgets.client import AsyncImagesClient
from dalle_widgets.widgets import MaskEditor

# no key in the test environment: the client starts the offline engine in this kernel,
# which serves gpt-image-2 with streamed partial images
client = AsyncImagesClient(model="gpt-image-2")
yy, xx = np.mgrid[0:512, 0:512]
base = np.dstack([xx // 2, yy // 2, np.full_like(xx, 140)]).astype(np.uint8)
editor = MaskEditor(
    base, client=client, display_px=384, prompt="a red balloon in the sky", n=1, size="1024x1024"
)
editor.add_rectangle((128, 96, 384, 352))
display(editor)
