# %%
import tempfile

from IPython.display import display

from dalle_widgets.client import default_client
from dalle_widgets.widgets import MoodBoard

board = MoodBoard(tempfile.mkdtemp(prefix="board-", dir="."))
result = default_client().generate("a paper boat on a pond", n=2, size="256x256", seed=5)

# %%
result  # noqa: B018 - shown as a Gallery

# %%
display(board)
