# %%
from IPython.display import display
from PIL import Image

from dalle_widgets import ImagesClient
from dalle_widgets.widgets import MaskEditor

# no key in the test environment: the client starts the offline engine in this kernel
client = ImagesClient(model="gpt-image-2")
photo = Image.new("RGB", (1536, 864), (70, 110, 150))
editor = MaskEditor(photo, client=client, prompt="a boat", n=1, display_px=384)
display(editor)
