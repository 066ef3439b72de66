"""The engine app's shape: the chat parser's records and the one ``Engine`` on ``app.state``."""

from __future__ import annotations

import base64
import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from dalle_widgets.engine import create_app
from dalle_widgets.engine import validation as v
from dalle_widgets.engine._runtime import Engine


def _data_url(array: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _chat(*parts: dict) -> dict:
    return {
        "model": "openai/dall-e-2",
        "size": "256x256",
        "messages": [{"role": "user", "content": list(parts)}],
    }


def test_chat_parser_returns_the_images_routes_records() -> None:
    rgba = np.full((64, 64, 4), 200, np.uint8)
    rgba[:, 32:, 3] = 0
    text = {"type": "text", "text": "a fox"}
    gen = v.parse_chat(_chat(text))
    edit = v.parse_chat(_chat(text, {"type": "image_url", "image_url": {"url": _data_url(rgba)}}))
    vary = v.parse_chat(_chat({"type": "image_url", "image_url": {"url": _data_url(rgba[:, :, :3])}}))
    assert isinstance(gen, v.GenerateRequest) and gen.prompt == "a fox" and gen.size == (256, 256)
    assert isinstance(edit, v.EditRequest) and edit.mask[:, 32:].all() and not edit.mask[:, :32].any()
    assert isinstance(vary, v.VaryRequest) and vary.image.shape == (64, 64, 3)
    assert [r.operation for r in (gen, edit, vary)] == ["generate", "edit", "vary"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        gen.n = 3  # type: ignore[misc]


def test_app_state_holds_one_engine() -> None:
    app = create_app("classical", token="t", images_per_minute=5, max_concurrency=3)
    engine = app.state.engine
    assert isinstance(engine, Engine)
    assert engine.backend.name == "classical"
    assert engine.limiter is not None and engine.limiter.per_minute == 5
    assert engine.slots.total_tokens == 3
    assert app.state.token == "t"
