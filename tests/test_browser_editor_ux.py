"""The mask editor as a designer and a keyboard user meet it (JupyterLab 4 + Chromium).

Layout at 1280x800 and 900 px, Tab/Shift+Tab/Esc leaving the canvas, accessible names
and tooltips, text contrast in the light and dark themes (measured from computed
styles), the staging area (runs, preview on the canvas, before/after, arrow keys,
accept, stale marks, fresh candidates on every press), and painting parity (lasso,
subtracting shapes, a stroke that leaves and comes back with the button held).
"""

from __future__ import annotations

import time

import pytest

from tests.fixtures.lab import LabPage, assert_nothing_clipped, on_screen

pytestmark = pytest.mark.browser

EDITOR = ".dalle-mask-editor"

# WCAG relative luminance and contrast of the text colour over the first opaque background behind it
CONTRAST_JS = """
(root) => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg[3] > 0) layers.push(bg);
      if (bg[3] >= 1) break;
    }
    let c = [255, 255, 255, 1];
    if (layers.length && layers[layers.length - 1][3] >= 1) c = layers.pop();
    while (layers.length) c = over(layers.pop(), c);
    return c;
  };
  const out = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    const el = n.parentElement;
    if (!text || !el || el.closest('style')) continue;
    const cs = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    if (cs.visibility === 'hidden' || cs.display === 'none' || r.width === 0) continue;
    let opacity = 1;
    for (let e = el; e && e !== root.parentElement; e = e.parentElement) {
      opacity *= Number(getComputedStyle(e).opacity);
    }
    const disabled = !!el.closest('button:disabled, input:disabled, select:disabled, textarea:disabled');
    const bg = background(el);
    const fg0 = parse(cs.color);
    const fg = over([fg0[0], fg0[1], fg0[2], fg0[3] * opacity], bg);
    const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    out.push({text: text.slice(0, 40), ratio: (l1 + 0.05) / (l2 + 0.05), disabled,
              cls: (el.className || '').toString().slice(0, 60)});
  }
  return out;
}
"""

NAMES_JS = """
(root) => {
  const bad = [];
  for (const el of root.querySelectorAll('button, input, select, textarea, canvas')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    const widget = el.closest('.widget-inline-hbox, .widget-hbox-single, .widget-textarea, .widget-text');
    const label = (el.labels && el.labels.length) ? el.labels[0]
      : (widget ? widget.querySelector('label, .widget-label') : null);
    const own = el.tagName === 'BUTTON' ? el.textContent.trim() : '';
    const name = el.getAttribute('aria-label') || (label ? label.textContent.trim() : '') || own
      || el.getAttribute('title') || '';
    const titled = el.closest('[title]');
    const tip = el.getAttribute('title') || (titled ? titled.getAttribute('title') : '')
      || (label ? label.getAttribute('title') || '' : '');
    if (!name || !tip) bad.push({tag: el.tagName, cls: el.className.toString().slice(0, 60), name, tip});
  }
  return bad;
}
"""


def _open(lab_page: LabPage, width: int = 1280, height: int = 800):
    lab_page.page.set_viewport_size({"width": width, "height": height})
    lab_page.open("editor_ux")
    canvas = lab_page.page.locator(f"{EDITOR} .dalle-mask-canvas").first
    canvas.wait_for()
    return canvas


def _top(lab_page: LabPage) -> None:
    lab_page.page.locator(EDITOR).first.evaluate("(e) => e.scrollIntoView({block: 'start'})")
    time.sleep(0.3)


def _active(page) -> str:
    return page.evaluate(
        "() => { const a = document.activeElement; return a ? a.tagName + '.' + a.className : ''; }"
    )


def test_layout_keyboard_names_and_contrast(lab_page: LabPage) -> None:
    page = lab_page.page
    canvas = _open(lab_page)
    editor = page.locator(EDITOR).first
    _top(lab_page)
    # 1280x800: the canvas and Generate are on screen together
    generate = page.locator(f"{EDITOR} .dalle-generate").first
    assert on_screen(page, canvas), canvas.bounding_box()
    assert on_screen(page, generate), generate.bounding_box()
    lab_page.shot("1280x800")

    # keyboard: focus the canvas, keys reach the editor, 'd d' never touches the cells
    cells = page.locator(".jp-NotebookPanel .jp-Cell").count()
    canvas.focus()
    assert _active(page).startswith("CANVAS")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')").startswith("Mask canvas")
    for key in ["l", "d", "d", "x"]:
        page.keyboard.press(key)
    assert lab_page.wait_for("editor.tool", lambda v: v == "lasso") == "lasso"
    assert page.locator(".jp-NotebookPanel .jp-Cell").count() == cells
    # Tab and Shift+Tab move on, Esc leaves for the cell
    page.keyboard.press("Tab")
    assert not _active(page).startswith("CANVAS"), _active(page)
    canvas.focus()
    page.keyboard.press("Shift+Tab")
    assert not _active(page).startswith("CANVAS"), _active(page)
    canvas.focus()
    page.keyboard.press("Escape")
    assert not _active(page).startswith("CANVAS"), _active(page)
    assert lab_page.wait_for("editor.keyguard.escapes", lambda v: v >= 1) >= 1
    assert page.locator(".jp-NotebookPanel .jp-Cell").count() == cells

    # every control has an accessible name and a tooltip
    bad = editor.evaluate(NAMES_JS)
    assert not bad, bad

    # contrast >= 4.5:1 for all text, light theme and dark theme (with an error and a hint showing)
    lab_page.eval(
        "editor.show_error('The request failed: try again') or editor.add_rectangle((0, 0, 64, 64))"
    )
    page.locator(f"{EDITOR} .dalle-error").first.wait_for()
    for theme in ("JupyterLab Light", "JupyterLab Dark"):
        page.evaluate(
            f"() => {{ window.jupyterapp.commands.execute('apputils:change-theme', {{theme: '{theme}'}}); }}"
        )
        page.wait_for_function(
            f"() => document.body.dataset.jpThemeLight === '{'true' if 'Light' in theme else 'false'}'"
        )
        time.sleep(1.0)
        _top(lab_page)
        lab_page.shot(f"theme-{theme.split()[-1].lower()}", editor)
        ratios = editor.evaluate(CONTRAST_JS)
        low = [r for r in ratios if r["ratio"] < 4.5 and not r["disabled"]]
        assert len(ratios) > 20 and not low, (theme, low)
    page.evaluate(
        "() => { window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'}); }"
    )

    # 900 px wide: nothing in the editor is clipped or wider than its output
    page.set_viewport_size({"width": 900, "height": 800})
    time.sleep(1.0)
    _top(lab_page)
    assert_nothing_clipped(editor)
    assert canvas.bounding_box()["width"] <= editor.bounding_box()["width"]
    lab_page.shot("900px", editor)
    assert not lab_page.page_errors, lab_page.page_errors


def test_staging_preview_keys_accept_stale_and_painting_parity(lab_page: LabPage) -> None:
    page = lab_page.page
    canvas = _open(lab_page, 1280, 1100)
    editor = page.locator(EDITOR).first
    _top(lab_page)
    box = canvas.bounding_box()
    scale = box["width"] / 512

    # painting parity: a stroke that leaves the canvas and comes back with the button held is one stroke
    page.mouse.move(box["x"] + 40 * scale, box["y"] + 100 * scale)
    page.mouse.down()
    page.mouse.move(box["x"] + 200 * scale, box["y"] + 100 * scale, steps=4)
    page.mouse.move(box["x"] + box["width"] + 30, box["y"] + 100 * scale, steps=4)  # out to the right
    page.mouse.move(box["x"] + box["width"] + 30, box["y"] + 300 * scale, steps=2)
    page.mouse.move(box["x"] + 400 * scale, box["y"] + 300 * scale, steps=4)  # back in, button held
    page.mouse.move(box["x"] + 300 * scale, box["y"] + 300 * scale, steps=4)
    page.mouse.up()
    lab_page.wait_for("editor.strokes and len(editor.strokes[-1].breaks)", lambda v: v == 1)
    assert lab_page.eval("len(editor.strokes)") == 1
    assert lab_page.eval("bool(editor.mask[100, 120]) and bool(editor.mask[300, 350])") is True
    assert lab_page.eval("bool(editor.mask[200, 480])") is False  # nothing painted across the outside

    # lasso, then a subtracted rectangle
    page.locator(f"{EDITOR} .widget-toggle-button:has-text('Lasso')").first.click()
    lab_page.drag(
        canvas, [(p[0] * scale, p[1] * scale) for p in [(60, 380), (200, 380), (200, 480), (60, 480)]]
    )
    lab_page.wait_for("editor.strokes[-1].tool", lambda v: v == "lasso")
    assert lab_page.eval("bool(editor.mask[430, 130])") is True
    page.locator(f"{EDITOR} .dalle-subtract").first.click()
    page.locator(f"{EDITOR} .widget-toggle-button:has-text('Rect')").first.click()
    lab_page.drag(canvas, [(100 * scale, 400 * scale), (160 * scale, 460 * scale)])
    lab_page.wait_for("editor.strokes[-1].erase", lambda v: v is True)
    assert lab_page.eval("bool(editor.mask[430, 130])") is False and lab_page.eval(
        "bool(editor.mask[470, 70])"
    )
    page.mouse.move(5, 5)
    lab_page.shot("painted", editor)

    # Generate twice with the same inputs: two runs, newest first, no duplicates, nothing replayed
    gen = page.locator(f"{EDITOR} .dalle-generate").first
    for k in (1, 2):
        gen.click()
        lab_page.wait_for(  # this press's run (the newest), not the previous one, finished
            f"len(editor.staging_area.runs) == {k} and editor.staging_area.runs[0].done", bool, timeout=180
        )
        lab_page.wait_for("editor.running", lambda v: v is False, timeout=60)
        assert lab_page.eval("editor.error") is None
        assert lab_page.eval("len(editor.staging_area.runs)") == k
    assert lab_page.eval("len({c.hash for c in editor.staging_area.candidates()})") == 4
    assert lab_page.eval("any(c.replayed for c in editor.staging_area.candidates())") is False
    runs = page.locator(f"{EDITOR} .dalle-run")
    assert runs.count() == 2 and "a red boat" in runs.first.text_content()
    lab_page.shot("two-runs", editor)

    # click a candidate: it shows full size on the canvas; Before flips back to the base
    def pixel() -> list[int]:
        return canvas.evaluate(
            "(c) => Array.from(c.getContext('2d').getImageData(Math.round(c.width * 0.25),"
            " Math.round(c.height * 0.2), 1, 1).data)"
        )

    base_px = pixel()
    cards = page.locator(f"{EDITOR} .dalle-candidate .dalle-candidate-image")
    cards.nth(3).wait_for()  # the page shows both runs' cards before one is clicked
    cards.nth(0).click()
    lab_page.wait_for("editor.selected", lambda v: v == 0)
    deadline = time.monotonic() + 20
    while pixel() == base_px and time.monotonic() < deadline:
        time.sleep(0.1)
    shown = pixel()
    assert shown != base_px  # the candidate (its new pixels in the mask) replaces the masked view
    lab_page.shot("preview", editor)
    page.locator(f"{EDITOR} .dalle-before-after").first.click()
    deadline = time.monotonic() + 20
    while pixel() == shown and time.monotonic() < deadline:
        time.sleep(0.1)
    lab_page.shot("before", editor)
    page.locator(f"{EDITOR} .dalle-before-after").first.click()

    # arrow keys on the focused canvas cycle; Enter accepts; the older run turns stale
    canvas.focus()
    page.keyboard.press("ArrowRight")
    assert lab_page.wait_for("editor.selected", lambda v: v == 1) == 1
    page.keyboard.press("Enter")
    lab_page.wait_for("len(editor.history)", lambda v: v == 1)
    assert lab_page.eval("len(editor.staging)") == 3
    assert lab_page.eval("[editor.is_stale(i) for i in range(3)]") == [True, True, True]
    page.locator(f"{EDITOR} .dalle-stale").first.wait_for()
    assert "earlier base" in page.locator(f"{EDITOR} .dalle-stale").first.text_content()
    lab_page.shot("accepted-stale", editor)
    page.locator(f"{EDITOR} .dalle-discard-all").first.click()
    lab_page.wait_for("len(editor.staging)", lambda v: v == 0)
    assert not lab_page.page_errors, lab_page.page_errors


def test_gallery_board_outpaint_names_and_contrast_in_both_themes(lab_page: LabPage) -> None:
    page = lab_page.page
    lab_page.open("faces_theme")
    faces = [".dalle-gallery", ".dalle-board", ".dalle-outpaint-editor"]
    for sel in faces:
        page.locator(sel).first.wait_for()
    lab_page.eval("board.show_error('Could not write the board: disk full') or 0")
    page.locator(".dalle-board .dalle-error").first.wait_for()
    for sel in faces:
        bad = page.locator(sel).first.evaluate(NAMES_JS)
        assert not bad, (sel, bad)
    for theme in ("JupyterLab Light", "JupyterLab Dark"):
        page.evaluate(
            f"() => {{ window.jupyterapp.commands.execute('apputils:change-theme', {{theme: '{theme}'}}); }}"
        )
        page.wait_for_function(
            f"() => document.body.dataset.jpThemeLight === '{'true' if 'Light' in theme else 'false'}'"
        )
        time.sleep(1.0)
        for sel in faces:
            face = page.locator(sel).first
            ratios = face.evaluate(CONTRAST_JS)
            low = [r for r in ratios if r["ratio"] < 4.5 and not r["disabled"]]
            assert ratios and not low, (theme, sel, low)
        face = page.locator(".dalle-board").first
        face.evaluate("(e) => e.scrollIntoView({block: 'start'})")
        lab_page.shot(f"faces-{theme.split()[-1].lower()}")
    page.evaluate(
        "() => { window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'}); }"
    )
    assert not lab_page.page_errors, lab_page.page_errors
