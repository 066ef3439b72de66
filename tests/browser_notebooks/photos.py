# %%
from IPython.display import display
from PIL import Image

from dalle_widgets.client import default_client
from dalle_widgets.widgets import MaskEditor

# no key in the test environment: the client starts the offline engine in this kernel
scene = default_client().generate("a harbour with boats at dawn", size="512x512", seed=5)[0].image
big = scene.convert("RGB").resize((2400, 1500), Image.Resampling.BICUBIC)
editor = MaskEditor(big, prompt="a red kite in the sky", n=1, size="512x512")
display(editor)

# %%
small = scene.convert("RGB").resize((800, 600), Image.Resampling.BICUBIC)
editor2 = MaskEditor(small, prompt="a lighthouse", n=1, size="512x512", display_px=400)
display(editor2)
