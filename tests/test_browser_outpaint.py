"""OutpaintEditor in a real browser: margins by number, the frame plan drawn first, fill with progress."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.fixtures.lab import assert_nothing_clipped, on_screen

pytestmark = pytest.mark.browser

ED = ".dalle-outpaint-editor"


def _set(page, cls: str, value: str) -> None:
    box = page.locator(f"{ED} .{cls} input").first
    for _ in range(10):  # typed over, not appended to a value still syncing in
        box.fill(value)
        if box.input_value() == value:
            break
        time.sleep(0.2)
    expect(box).to_have_value(value)
    box.press("Enter")


def test_margins_plan_fill(lab_page) -> None:
    page = lab_page.page
    lab_page.open("outpaint_editor")
    editor = page.locator(ED).first
    editor.locator(".dalle-outpaint-canvas").first.wait_for()
    lab_page.shot("opened", editor)

    # a target size first, then margins typed as numbers
    target = editor.locator(".dalle-target-size input").first
    target.fill("1024x512")
    editor.locator(".dalle-apply-target").click()
    assert lab_page.wait_for("ed.margins", lambda m: m["left"] == 256)["right"] == 256
    for side in ("left", "right"):  # the browser shows the kernel's new margins before we type
        expect(page.locator(f"{ED} .dalle-margin-{side}-value input").first).to_have_value("256")
    _set(page, "dalle-margin-left-value", "256")
    _set(page, "dalle-margin-right-value", "768")
    m = lab_page.wait_for("ed.margins", lambda m: m["right"] == 768)
    assert m == {"left": 256, "top": 0, "right": 768, "bottom": 0}
    assert lab_page.eval("ed.canvas_state.size") == (1536, 512)
    # two 1024x512 frames, drawn before anything is sent (the plan follows the margins a moment later)
    assert lab_page.wait_for("len(ed.plan)", lambda n: n == 2) == 2
    assert lab_page.eval("len(ed.frames_done)") == 0
    # the browser follows the kernel's state a moment later: wait for the 3:1 view
    canvas = editor.locator(".dalle-outpaint-canvas").first
    deadline = time.monotonic() + 30
    while (
        (box := canvas.bounding_box()) and box["width"] < 2.9 * box["height"] and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    # as wide as its column lets it be (its own 768 px at most), at the canvas's 3:1 ratio
    column = editor.locator(".dalle-canvas-col").first.bounding_box()["width"]
    assert min(768, column) - 2 <= box["width"] <= column and abs(box["width"] - 3 * box["height"]) < 3, box
    lab_page.shot("plan", editor)

    editor.locator(".dalle-generate").click()
    editor.locator(".widget-html", has_text="filled in").first.wait_for(timeout=300_000)
    assert lab_page.eval("ed.canvas_state.done") is True
    assert lab_page.eval("len(ed.frames_done)") == 2
    assert lab_page.eval("ed.error") is None
    page.mouse.move(5, 5)
    lab_page.shot("filled", editor)
    assert not lab_page.page_errors, lab_page.page_errors


def _red_pixels(locator) -> int:
    """How many strongly red pixels (the frame plan's colour) a screenshot of ``locator`` shows."""
    import io

    import numpy as np
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB")).astype(int)
    return int(((a[..., 0] > 200) & (a[..., 1] < 110) & (a[..., 2] < 110)).sum())


def test_photo_margins_fill_again_save_pin_edit(lab_page) -> None:
    """An 800x600 photo: typed and stepped margins, the plan toggle, Fill, Fill again, Save, Pin, Edit."""
    page = lab_page.page
    lab_page.open("outpaint_photo")
    editor = page.locator(ED).first
    canvas = editor.locator(".dalle-outpaint-canvas").first
    canvas.wait_for()
    status = editor.locator(".dalle-status").first

    # a typed margin is taken as it is (the slider's 64 px steps do not round it)
    _set(page, "dalle-margin-left-value", "100")
    lab_page.wait_for("ed.margins['left']", lambda v: v == 100)
    time.sleep(1.0)
    assert lab_page.eval("ed.margins['left']") == 100
    # a bad one is refused with a message and the box shows the margin kept
    _set(page, "dalle-margin-bottom-value", "-5")
    expect(status).to_contain_text("bottom margin must be a whole number of pixels >= 0; got -5")
    expect(page.locator(f"{ED} .dalle-margin-bottom-value input").first).to_have_value("0")
    # the slider moves in steps of 64 px
    editor.locator(".dalle-margin-right .noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    assert lab_page.wait_for("ed.margins['right']", lambda v: v != 0) == 64
    expect(page.locator(f"{ED} .dalle-margin-right-value input").first).to_have_value("64")
    assert lab_page.eval("ed.canvas_state.size") == (964, 600)
    lab_page.shot("plan", editor)

    # the plan can be hidden and shown again
    assert _red_pixels(canvas) > 50
    editor.locator(".dalle-plan-toggle").click()
    assert lab_page.wait_for("ed.plan_toggle.value", lambda v: v is False) is False
    time.sleep(0.5)
    assert _red_pixels(canvas) == 0
    lab_page.shot("plan-hidden", editor)
    editor.locator(".dalle-plan-toggle").click()
    lab_page.wait_for("ed.plan_toggle.value")

    fill = editor.locator(".dalle-generate").first
    fill.click()
    expect(status).to_contain_text("stored at", timeout=300_000)
    first = lab_page.eval("str(ed.result.path)")
    expect(status).to_contain_text(f"964×600 (the 800×600 original with its margins), stored at {first}")
    assert lab_page.eval("ed.image.size") == (964, 600)
    expect(fill).to_have_text("Fill again")
    page.mouse.move(5, 5)
    lab_page.shot("filled", editor)

    fill.click()  # a re-roll, not "Nothing to fill"
    lab_page.wait_for("len(ed.results)", lambda n: n == 2, timeout=300)
    expect(status).to_contain_text("stored at")
    second = lab_page.eval("str(ed.result.path)")
    assert second != first and "Nothing to fill" not in status.inner_text()
    assert lab_page.eval(
        "ed.results[0].to_numpy()[:, :100].tolist() != ed.results[1].to_numpy()[:, :100].tolist()"
    )
    lab_page.shot("filled-again", editor)
    # both fills stay at hand: back to the first, and forward again
    label = editor.locator(".dalle-result-label").first
    expect(label).to_have_text("fill 2 of 2")
    editor.locator(".dalle-prev-result").click()
    expect(label).to_have_text("fill 1 of 2")
    expect(status).to_contain_text(f"stored at {first}")
    assert lab_page.eval("ed.result is ed.results[0]") is True
    page.mouse.move(5, 5)
    lab_page.shot("first-fill-again", editor)
    editor.locator(".dalle-next-result").click()
    expect(label).to_have_text("fill 2 of 2")

    editor.locator(".dalle-save").click()
    link = editor.locator("a.dalle-file-link").first
    expect(link).to_be_visible()
    assert "/files/dalle-images/a-quiet-harbour-at-dawn" in link.get_attribute("href")  # beside the notebook
    assert lab_page.eval("ed.last_saved.read_bytes() == ed.result.path.read_bytes()") is True
    expect(status).to_contain_text("Saved the 964×600 result to")
    pinned = lab_page.eval("len(current_board().items)")
    editor.locator(".dalle-pin").click()
    expect(status).to_contain_text("Pinned the result to the board")
    assert lab_page.eval("len(current_board().items)") == pinned + 1
    assert lab_page.eval("current_board().items[-1].info['operation']") == "outpaint"

    editor.locator(".dalle-edit-result").click()
    inner = editor.locator(".dalle-mask-editor").first
    inner.wait_for()
    assert lab_page.eval("ed.editor.image.shape[:2]") == (600, 964)
    page.mouse.move(5, 5)
    lab_page.shot("edit-further", editor)
    link.click()  # JupyterLab opens the saved file in a tab of its own
    page.locator(".lm-TabBar-tab.jp-mod-current", has_text="a-quiet-harbour-at-dawn").first.wait_for()
    assert not lab_page.page_errors, lab_page.page_errors


def _save_data_url(url: str, folder, label: str) -> None:
    """Write a canvas's ``data:image/png;base64,...`` to ``folder`` (to look at, like a screenshot)."""
    import base64

    (folder / f"test_streamed_fill_shows_a_preview_before_the_frame-{label}.png").write_bytes(
        base64.b64decode(url.split(",", 1)[1])
    )


def test_streamed_fill_shows_a_preview_before_the_frame(lab_page) -> None:
    """gpt-image-2 on the offline engine streams each frame: a preview is drawn in the frame's box
    (and named in the progress line) before the finished frame is blended in."""
    page = lab_page.page
    lab_page.open("outpaint_stream")
    editor = page.locator(ED).first
    editor.locator(".dalle-outpaint-canvas").first.wait_for()  # one <canvas>: the layers composited
    expect(editor.locator(".dalle-stream input").first).to_be_checked()
    # the middle of the first frame, in canvas pixels (clear of the plan's lines)
    x, y = lab_page.eval(
        "[round(v) for v in ed._viewport.to_display(*((a + b) / 2 for a, b in "
        "zip(ed.plan[0][:2], ed.plan[0][2:])))]"
    )
    # every animation frame, the page records the progress line and a patch of the canvas's new area
    # whenever either changes: a preview drawn and replaced within a second is still seen
    page.evaluate(
        """([x, y]) => {
            window.__seen = [];
            const root = document.querySelector('.dalle-outpaint-editor');
            const label = root.querySelector('.dalle-progress-label');
            const canvas = root.querySelector('canvas.dalle-outpaint-canvas');
            const ctx = canvas.getContext('2d');
            const look = () => {
                const px = Array.from(ctx.getImageData(x - 4, y - 4, 8, 8).data).join(',');
                const text = label.innerText;
                const last = window.__seen[window.__seen.length - 1];
                if (!last || last[0] !== text || last[1] !== px) window.__seen.push([text, px]);
                if (!window.__preview && text.includes('preview') && px !== window.__seen[0][1]) {
                    window.__preview = canvas.toDataURL();  // the canvas as it showed the preview
                }
                if (!window.__stop) requestAnimationFrame(look);
            };
            look();
        }""",
        [x, y],
    )
    editor.locator(".dalle-generate").first.click()
    expect(editor.locator(".dalle-status").first).to_contain_text("stored at", timeout=300_000)
    page.evaluate("() => { window.__stop = true; }")
    seen = page.evaluate("window.__seen")  # [(progress line, canvas patch), ...] in order
    empty = seen[0][1]  # the checkered new area before anything came
    previews = [i for i, (text, px) in enumerate(seen) if "preview" in text and px != empty]
    done = next(i for i, (text, _px) in enumerate(seen) if "frames ·" in text)
    assert previews and previews[0] < done, seen
    final = seen[-1][1]
    assert any(seen[i][1] != final for i in previews), "the preview shown is the final image itself"
    _save_data_url(
        page.evaluate("window.__preview"), lab_page.shot("streamed-final", editor).parent, "preview"
    )
    frames = lab_page.eval("len(ed.plan)")
    assert lab_page.eval("ed.preview_log") == [i for i in range(frames) for _ in range(2)]  # 2 per frame
    assert lab_page.eval("ed.result.complete and ed.result.path.is_file()") is True


def test_a_large_photo_opens_plans_and_fills_at_its_own_size(lab_page) -> None:
    """A 2400x1500 photo: shown scaled to the output's width, planned in 1024 px frames, filled whole."""
    page = lab_page.page
    lab_page.open("outpaint_large")
    editor = page.locator(ED).first
    canvas = editor.locator(".dalle-outpaint-canvas").first
    canvas.wait_for()
    assert lab_page.eval("ed.canvas_state.size") == (2400, 1756)
    frames = lab_page.eval("len(ed.plan)")
    assert frames >= 3 and lab_page.eval("max(b[2] - b[0] for b in ed.plan)") <= 1024
    box, output = canvas.bounding_box(), editor.bounding_box()
    assert box["width"] <= output["width"] and round(box["width"] / box["height"], 2) == round(2400 / 1756, 2)
    lab_page.shot("plan", editor)
    editor.locator(".dalle-generate").click()
    status = editor.locator(".dalle-status").first
    expect(status).to_contain_text(
        "2400×1756 (the 2400×1500 original with its margins), stored at", timeout=600_000
    )
    assert lab_page.eval("ed.result.complete and ed.result.image.size") == (2400, 1756)
    assert lab_page.eval("bool((ed.result.to_numpy()[256:, :, :3] == photo).all())") is True  # untouched
    assert lab_page.eval("len(ed.frames_done)") == frames
    page.mouse.move(5, 5)
    lab_page.shot("filled", editor)


def test_layout_at_1280x800_and_900px_and_the_prompt_counter(lab_page) -> None:
    """Issue 14 items 8 and 10: canvas and Fill on screen together, nothing clipped at 900 px, the
    prompt counter shows and turns red over the model's limit."""
    page = lab_page.page
    page.set_viewport_size({"width": 1280, "height": 800})
    lab_page.open("outpaint_photo")
    editor = page.locator(ED).first
    canvas = editor.locator(".dalle-outpaint-canvas").first
    canvas.wait_for()
    lab_page.eval("ed.set_margins(left=256, right=256)")  # a wide 1312x600 canvas
    deadline = time.monotonic() + 30
    while (box := canvas.bounding_box()) and box["width"] < box["height"] * 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    editor.evaluate("(e) => e.scrollIntoView({block: 'start'})")
    time.sleep(0.5)
    fill, counter = editor.locator(".dalle-generate").first, editor.locator(".dalle-prompt-counter").first
    for part in (canvas, fill, counter, editor.locator(".dalle-margin-bottom-value").first):
        assert on_screen(page, part), part
    # the canvas takes the width its column has (up to its 640 px), beside the controls
    cbox, fbox = canvas.bounding_box(), fill.bounding_box()
    column = editor.locator(".dalle-canvas-col").first.bounding_box()
    assert min(640, column["width"]) - 2 <= cbox["width"] <= column["width"], (cbox, column)
    assert fbox["x"] > cbox["x"] + cbox["width"], (cbox, fbox)
    expect(counter).to_contain_text("/ 1,000 characters")
    lab_page.shot("1280x800", editor)

    # over the limit: the counter says by how much, in the theme's error red
    editor.locator(".dalle-prompt textarea").first.fill("a quiet harbour " * 70)
    expect(counter).to_contain_text("over the limit, shorten the prompt")
    red = counter.locator(".dalle-error").first.evaluate("(e) => getComputedStyle(e).color")
    rgb = [int(v) for v in red[red.index("(") + 1 : red.index(")")].split(",")[:3]]
    # the theme's error red: #d32f2f in the light theme, #e57373 in the dark one (another test may
    # leave the shared JupyterLab in either)
    assert rgb[0] > 150 and rgb[0] - max(rgb[1], rgb[2]) > 80, red
    lab_page.shot("counter-over", counter)

    # 900 px wide: the controls wrap under the canvas, nothing is clipped or wider than the output
    page.set_viewport_size({"width": 900, "height": 800})
    time.sleep(1.0)
    editor.evaluate("(e) => e.scrollIntoView({block: 'start'})")
    assert_nothing_clipped(editor)
    assert canvas.bounding_box()["width"] <= editor.bounding_box()["width"]
    lab_page.shot("900px", editor)
    assert not lab_page.page_errors, lab_page.page_errors
