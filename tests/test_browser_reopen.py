"""Widgets that survive their notebook (issue 14 item 3), in Chromium: pin with the buttons and from code,
save; the saved static twins show the board's latest state. After a kernel restart the widgets give way to
their last picture and say to run the cell again; reopened with a new kernel, in JupyterLab 4 and in
Notebook 7, every widget shows its static picture and never "Error displaying widget"."""

from __future__ import annotations

import json
import time

import pytest

from tests.fixtures.lab import TOKEN

pytestmark = pytest.mark.browser


def _twins(lab_page) -> list[dict]:
    """The static twins saved in the notebook file, in cell order."""
    nb = json.loads((lab_page.server.root / lab_page.name).read_text())
    outputs = [o for c in nb["cells"] for o in c.get("outputs", []) if "data" in o]
    return [o["data"] for o in outputs if "dalle-static" in "".join(o["data"].get("text/html", ""))]


def _board_twin(lab_page) -> str:
    (text,) = ["".join(t["text/plain"]) for t in _twins(lab_page) if "MoodBoard(" in "".join(t["text/plain"])]
    return text


def _shut_down(lab_page) -> None:
    for session in lab_page.server.api("/api/sessions"):
        lab_page.server.api(f"/api/sessions/{session['id']}", method="DELETE")
    assert lab_page.server.api("/api/sessions") == []


def _no_widget_errors(page) -> None:
    visible = page.locator(".jp-OutputArea-output:visible", has_text="Error displaying widget")
    assert visible.count() == 0


def test_saved_notebook_reopened_shows_static_pictures(lab_page) -> None:
    page = lab_page.page
    lab_page.open("reopen")
    page.locator(".dalle-board").first.wait_for(timeout=120_000)
    gallery = page.locator(".dalle-gallery").first
    gallery.locator(".dalle-tile").nth(1).wait_for()
    # live: both static twins are in the page but hidden while their widgets are there
    assert page.locator(".dalle-static").count() == 2
    assert page.locator(".dalle-static:visible").count() == 0

    # pin with the buttons: the saved picture follows
    gallery.locator(".dalle-pin").nth(0).click()
    gallery.locator(".dalle-pin").nth(1).click()
    assert lab_page.wait_for("len(board)", lambda v: v == 2) == 2
    # a display update sent during a button click may not reach the notebook (JupyterLab applies
    # updates that come with a cell's execution): the picture catches up after the next cell runs
    lab_page.add_and_run("len(board)")
    lab_page.wait_idle()
    lab_page.save()
    assert "2 items" in _board_twin(lab_page)
    # pin and remove from code in a later cell: the picture is still the board's latest state
    lab_page.add_and_run("board.pin(result[0], caption='third'); board.remove(0); len(board)")
    lab_page.wait_idle()
    lab_page.shot("live", page.locator(".dalle-board").first)
    lab_page.save()
    assert "2 items" in _board_twin(lab_page)

    # the kernel restarts: the dead widgets give way to their last pictures, which say to re-run
    page.evaluate("() => { window.jupyterapp.commands.execute('kernelmenu:restart'); }")
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    page.locator(".dalle-static:visible").nth(1).wait_for(timeout=60_000)
    assert page.locator(".dalle-live:visible").count() == 0
    assert "Run the cell again" in page.locator(".dalle-static:visible").first.inner_text()
    lab_page.shot("restarted")
    lab_page.wait_idle()

    # shut the kernel down and reopen the saved notebook with a new kernel: pictures, no errors
    _shut_down(lab_page)
    page.goto(f"{lab_page.server.url}/lab/tree/{lab_page.name}?token={TOKEN}")
    lab_page.wait_idle()
    page.locator(".dalle-static img:visible").nth(1).wait_for(timeout=60_000)
    time.sleep(1.0)  # the widget manager reports missing models once the new kernel has connected
    _no_widget_errors(page)
    assert page.locator(".dalle-static img:visible").count() == 2
    # each picture sits where its live widget sat, at the output's left edge (no <figure> indent)
    margin_js = "(figures) => figures.map((f) => getComputedStyle(f).marginLeft)"
    margins = page.locator(".dalle-static").evaluate_all(margin_js)
    assert set(margins) == {"0px"}, margins
    lab_page.shot("reopened-lab")

    # the same file in Notebook 7
    _shut_down(lab_page)
    page.goto(f"{lab_page.server.url}/notebooks/{lab_page.name}?token={TOKEN}")
    page.locator(".dalle-static img:visible").nth(1).wait_for(timeout=60_000)
    time.sleep(2.0)
    _no_widget_errors(page)
    assert page.locator(".dalle-static img:visible").count() == 2
    lab_page.shot("reopened-notebook7")
