# %%
from ipycanvas import Canvas
from IPython.display import display

points = []
c = Canvas(width=200, height=200, layout={"width": "200px", "height": "200px"})
c.add_class("smoke-canvas")
c.on_mouse_down(lambda x, y: points.append(("down", x, y)))
c.on_mouse_move(lambda x, y: points.append(("move", x, y)))
c.on_mouse_up(lambda x, y: points.append(("up", x, y)))
display(c)
