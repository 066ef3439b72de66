# %%
# The %dalle cells are added by tests/test_magic_browser.py (magic syntax is not Python for the linter).
import os

os.environ["DALLE_WIDGETS_OFFLINE"] = "1"
