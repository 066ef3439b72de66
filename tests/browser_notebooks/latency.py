# %%
import numpy as np
from IPython.display import display

from dalle_widgets.widgets import MaskEditor

yy, xx = np.mgrid[0:1024, 0:1024]
base = np.dstack([(xx // 4) % 256, (yy // 4) % 256, np.full_like(xx, 40)]).astype(np.uint8)
editor = MaskEditor(base, display_px=512, brush_size=10)
display(editor)

# %%
import time  # noqa: E402

# (x, kernel time in ms) of every move the editor's top layer handled, stamped after its own handler
arrivals = []
editor.canvas[2].on_mouse_move(lambda x, y: arrivals.append((x, time.time() * 1000)))

# %%
# Peer: the least a live ipycanvas stroke can do, a bare Canvas drawing one segment per move event.
from ipycanvas import Canvas, hold_canvas  # noqa: E402

peer = Canvas(width=512, height=512, layout={"width": "512px", "height": "512px"})
peer.add_class("dalle-latency-peer")
peer.put_image_data(
    np.ascontiguousarray(np.dstack([base[::2, ::2], np.full((512, 512), 255, np.uint8)])), 0, 0
)
peer_arrivals = []
_last = {}


def _peer_down(x, y):
    _last["p"] = (x, y)


def _peer_move(x, y):
    if "p" in _last:
        with hold_canvas():
            peer.stroke_style = "rgba(255,64,64,0.55)"
            peer.line_width = 5
            peer.line_cap = "round"
            peer.stroke_line(*_last["p"], x, y)
        _last["p"] = (x, y)
    peer_arrivals.append((x, time.time() * 1000))


def _peer_up(x, y):
    _last.pop("p", None)


peer.on_mouse_down(_peer_down)
peer.on_mouse_move(_peer_move)
peer.on_mouse_up(_peer_up)
display(peer)
