"""MaskDocument (the mask editor's document) and Staging without widgets: pure state, no ipywidgets."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dalle_widgets import masks
from dalle_widgets.widgets.mask_document import MaskDocument, Stroke
from dalle_widgets.widgets.staging import Staging


def _doc(h: int = 64, w: int = 64) -> MaskDocument:
    return MaskDocument(np.zeros((h, w, 3), np.uint8))


def test_document_and_staging_import_no_widget_library() -> None:
    code = (
        "import sys; import dalle_widgets.widgets.mask_document, dalle_widgets.widgets.staging; "
        "bad = [m for m in ('ipywidgets', 'ipycanvas', 'ipyevents', 'anywidget') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_change_is_one_undo_step_and_redo_branch_drops() -> None:
    doc = _doc()
    seen: list[bool] = []
    doc.on_change(seen.append)
    doc.paint([(10, 10), (50, 50)], 8)
    painted = doc.mask
    doc.invert()
    doc.grow(3)
    doc.shrink(2)
    doc.clear()
    assert [s.tool for s in doc.strokes] == ["brush", "invert", "grow", "shrink", "clear"]
    for _ in range(4):
        assert doc.undo()
    np.testing.assert_array_equal(doc.mask, painted)
    assert doc.redo() and doc.can_redo
    doc.set_mask(masks.full((64, 64)))
    assert not doc.can_redo and seen.count(False) == len(seen)


def test_shapes_and_lasso_add_and_subtract() -> None:
    doc = _doc()
    assert doc.add_shape("rectangle", (0, 0, 64, 64))
    assert doc.add_shape("ellipse", (16, 16, 48, 48), erase=True)
    assert not doc.mask[32, 32] and doc.mask[2, 2]
    assert doc.add_lasso([(0, 0), (20, 0), (0, 20)], erase=True)
    assert not doc.mask[2, 2] and doc.mask[60, 60]
    assert doc.strokes[-1] == Stroke("lasso", ((0.0, 0.0), (20.0, 0.0), (0.0, 20.0)), 0.0, True)
    assert doc.add_lasso([(30, 30), (40, 30), (40, 40), (30, 40)])
    np.testing.assert_array_equal(doc.mask[30:40, 30:40], True)
    # degenerate gestures change nothing and make no undo step
    n = len(doc.strokes)
    assert not doc.add_lasso([(1, 1), (5, 5), (1, 1)])
    assert not doc.add_shape("rectangle", (5, 5, 5, 9))
    assert len(doc.strokes) == n
    with pytest.raises(ValueError, match="rectangle' or 'ellipse"):
        doc.add_shape("star", (0, 0, 4, 4))


def test_a_stroke_in_pieces_is_one_step_and_amending_replaces_it() -> None:
    doc = _doc()
    doc.paint([(5, 5), (20, 5)], 4)
    doc.paint([(5, 30), (20, 30)], 4)  # left the canvas at (20, 30)...
    doc.paint([(5, 30), (20, 30), (40, 50), (60, 50)], 4, breaks=[2], amend=True)  # ...came back at (40, 50)
    assert len(doc.strokes) == 2 and doc.strokes[-1].breaks == (2,)
    assert doc.mask[30, 10] and doc.mask[50, 50]
    assert not doc.mask[40, 30]  # no line painted across the part outside the canvas
    doc.undo()
    assert not doc.mask[30, 10] and doc.mask[5, 10]


def test_replace_image_and_base_revision() -> None:
    doc = _doc(32, 32)
    doc.add_shape("rectangle", (0, 0, 16, 16))
    doc.replace_image(np.full((16, 48, 3), 9, np.uint8))
    assert doc.base_revision == 1 and doc.shape == (16, 48) and not doc.mask.any()
    doc.undo()
    assert doc.base_revision == 0 and doc.shape == (32, 32) and doc.mask.any()


def test_hints_for_empty_and_full_masks() -> None:
    doc = _doc(8, 8)
    assert "empty" in doc.hint()
    doc.invert()
    assert "whole image" in doc.hint()
    doc.add_shape("rectangle", (0, 0, 4, 8), erase=True)
    assert doc.hint() == ""


def test_mask_validation_names_the_fix() -> None:
    doc = _doc(64, 128)
    with pytest.raises(ValueError, match=r"mask is 64x64 but image is 128x64.*masks.resize"):
        doc.set_mask(np.zeros((64, 64), bool))
    with pytest.raises(ValueError, match="bool array"):
        doc.set_mask(np.full((64, 128), 0.5))


def test_blend_keeps_unmasked_pixels() -> None:
    base = np.full((32, 32, 3), 200, np.uint8)
    doc = MaskDocument(base)
    doc.add_shape("rectangle", (8, 8, 24, 24))
    out = doc.blend(np.zeros((32, 32, 3), np.uint8), 4)
    assert (out[:8] == 200).all() and (out[16, 16] == 0).all()


def test_staging_runs_newest_first_previews_and_dedupe() -> None:
    a, b, c = (np.full((8, 8, 3), v, np.uint8) for v in (1, 2, 3))
    s = Staging()
    r1 = s.start("edit", prompt="one", size="8x8", n=2, base_revision=0)
    assert len(s) == 0 and len(s.candidates(pending=True)) == 2
    s.show_preview(r1, 1, b)
    assert s.candidates(pending=True)[1].preview is b
    assert s.fill(r1, [a, b]) == 2
    r2 = s.start("vary", prompt="", size="8x8", n=2, base_revision=1)
    assert s.fill(r2, [c, a]) == 1 and s.duplicates == 1  # a is staged already
    assert [int(im[0, 0, 0]) for im in s.images()] == [3, 1, 2]  # newest run first
    assert s.stale(s.candidates()[1], 1) and not s.stale(s.candidates()[0], 1)
    assert "variations" in r2.label() and '"one"' in r1.label()
    s.remove(0)
    assert len(s.runs) == 1  # the emptied run went
    assert s.clear() == 2 and len(s) == 0
