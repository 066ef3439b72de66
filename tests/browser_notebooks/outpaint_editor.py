# %%
from IPython.display import display

from dalle_widgets.client import default_client
from dalle_widgets.widgets import OutpaintEditor

base = default_client().generate("a harbour town at dusk", size="512x512", seed=5)[0]
ed = OutpaintEditor(base, display_px=768, prompt="a harbour town at dusk, wide panorama")
display(ed)
