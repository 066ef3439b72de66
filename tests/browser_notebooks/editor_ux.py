# %%
from IPython.display import display

from dalle_widgets.client import default_client
from dalle_widgets.widgets import MaskEditor

# no key in the test environment: the client starts the offline engine in this kernel
base = default_client().generate("a harbour with boats at dawn", size="512x512", seed=5)[0]
editor = MaskEditor(base, prompt="a red boat", n=2, size="512x512")
display(editor)

# %%
print("cells:", 2)  # noqa: T201
