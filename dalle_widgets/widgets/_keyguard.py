"""Keep the keyboard usable around a canvas: Tab, Shift+Tab and Esc always leave it.

ipycanvas gives its ``<canvas>`` ``tabindex=0`` and cancels *every* key pressed on
it (``preventDefault`` + ``stopPropagation``), so once a canvas has focus a
keyboard user can never Tab past it: a keyboard trap. ipyevents' key watching is
worse: it swallows every key on the whole page while the pointer is over the
canvas. This is the one piece of the widgets that needs the browser: a tiny
anywidget module (no build step, no lab extension of ours) that, for the canvas
inside the element carrying ``scope`` class:

- lets Tab and Shift+Tab move the focus on as they do anywhere else;
- on Esc, leaves the canvas for its notebook cell (JupyterLab's command mode);
- gives the canvas an accessible name (``role="img"``, ``aria-label``) and a
  visible focus ring, and focuses it when the pointer enters it (unless a text
  box has the focus), so the editor's shortcuts work under the pointer as before;
- leaves every other key to ipycanvas, which keeps it from notebook shortcuts
  (``d d`` never deletes a cell) and sends it to Python (``on_key_down``).
"""

from __future__ import annotations

import anywidget
import traitlets

__all__ = ["KeyGuard"]

_ESM = r"""
function render({ model, el }) {
  el.style.display = "none";
  let frame = null;
  let tries = 0;
  const onKey = (e) => {
    if (!e.target || e.target.tagName !== "CANVAS") return;
    if (e.key === "Tab") {
      e.stopPropagation();          // ipycanvas would cancel it: let the browser move the focus
    } else if (e.key === "Escape") {
      e.stopPropagation();
      e.preventDefault();
      e.target.blur();
      const cell = e.target.closest(".jp-Cell");
      if (cell) { cell.focus({ preventScroll: true }); }
      model.set("escapes", model.get("escapes") + 1);
      model.save_changes();
    }
  };
  const onEnter = () => {
    const a = document.activeElement;
    const typing = a && (a.tagName === "INPUT" || a.tagName === "TEXTAREA" ||
                         a.tagName === "SELECT" || a.isContentEditable);
    const c = frame && frame.querySelector("canvas");
    if (c && !typing) { c.focus({ preventScroll: true }); }
  };
  const label = () => {
    if (!frame) return;
    for (const c of frame.querySelectorAll("canvas")) {
      c.setAttribute("role", "img");
      c.setAttribute("aria-label", model.get("label"));
      c.setAttribute("title", model.get("label"));
    }
  };
  const attach = () => {
    const root = el.closest("." + model.get("scope"));
    frame = root && root.querySelector("." + model.get("frame"));
    if (!frame || !frame.querySelector("canvas")) {
      if (tries++ < 200) { setTimeout(attach, 50); }
      return;
    }
    frame.addEventListener("keydown", onKey, true);
    frame.addEventListener("pointerenter", onEnter);
    label();
  };
  model.on("change:label", label);
  attach();
  return () => {
    if (frame) {
      frame.removeEventListener("keydown", onKey, true);
      frame.removeEventListener("pointerenter", onEnter);
    }
  };
}
export default { render };
"""


class KeyGuard(anywidget.AnyWidget):
    """Invisible helper that frees Tab/Shift+Tab/Esc from the canvas in ``frame`` inside ``scope``.

    Parameters
    ----------
    scope : str
        A class on the widget both this helper and the canvas live in (unique per widget).
    frame : str
        A class on the box that holds the canvas.
    label : str
        The canvas's accessible name and tooltip.
    """

    _esm = _ESM
    scope = traitlets.Unicode("").tag(sync=True)
    frame = traitlets.Unicode("").tag(sync=True)
    label = traitlets.Unicode("").tag(sync=True)
    #: How many times Esc left the canvas (the browser counts; tests read it).
    escapes = traitlets.Int(0).tag(sync=True)
