"""Pure parts of the engine's GPT image surface: nearest sizes, cut-outs, preview choice."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dalle_widgets.engine._sse import preview_steps
from dalle_widgets.engine.cutout import cut_out
from dalle_widgets.engine.gpt_image import nearest_size, spec_for


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 9000), st.integers(1, 9000))
def test_nearest_size_is_always_valid(w: int, h: int) -> None:
    spec = spec_for("gpt-image-2")
    size = nearest_size(spec, w, h)
    assert spec.size_rule.allows(size)
    nw, nh = map(int, size.split("x"))
    ratio = min(max(w / h, 1 / 3), 3)
    assert abs(np.log(nw / nh) - np.log(ratio)) < 0.1  # the aspect is kept as far as the rule allows


def test_nearest_size_of_a_fixed_rule_keeps_the_orientation() -> None:
    spec = spec_for("gpt-image-1")
    assert nearest_size(spec, 900, 1400) == "1024x1536" and nearest_size(spec, 700, 690) == "1024x1024"


def test_cut_out_keeps_the_subject_and_what_it_encloses() -> None:
    yy, xx = np.mgrid[0:200, 0:300]
    img = np.dstack([40 + yy // 2, 60 + xx // 4, np.full_like(yy, 160)]).astype(np.uint8)  # a gradient sky
    ring = (np.hypot(yy - 100, xx - 150) < 60) & (np.hypot(yy - 100, xx - 150) > 30)
    img[ring] = (250, 220, 30)
    alpha = cut_out(img)
    assert alpha[5, 5] == 0 and alpha[190, 290] == 0  # the background, gradient and all
    assert alpha[100, 150 + 45] == 255 and alpha[100, 150] == 255  # the ring and the hole it encloses


def test_preview_steps() -> None:
    assert preview_steps(10, 0) == set() and preview_steps(0, 3) == set()
    assert preview_steps(10, 2) == {5, 10} and preview_steps(1, 3) == {1}


def test_an_unlisted_gpt_image_id_follows_its_family_quietly(caplog) -> None:
    from dalle_widgets.engine.gpt_image import parse_generate, usage_for

    req = parse_generate({"model": "gpt-image-7", "prompt": "a fox", "size": "1536x864"})
    assert req.size == (1536, 864) and usage_for(req)["output_tokens"] > 0
    assert not caplog.records  # the client warns its user; the server does not repeat it per request
    assert spec_for("gpt-image-2.6-flare-2026-11-04").name == "gpt-image-2.6-flare"
