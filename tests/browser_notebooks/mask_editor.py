# %%
from IPython.display import display

from dalle_widgets.client import default_client
from dalle_widgets.widgets import MaskEditor

# no key in the test environment: the client starts the offline engine in this kernel
base = default_client().generate("a lighthouse on a cliff at sunset", size="1024x1024", seed=3)[0]
editor = MaskEditor(base, display_px=512, prompt="a red balloon in the sky", n=3, size="1024x1024")
display(editor)

# %%
print("cells:", 2)  # noqa: T201
