"""One PNG path: the signature, the encoder, the 4 MB limit and the atomic write are defined once."""

from __future__ import annotations

import ast
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dalle_widgets import _png, imaging, models
from dalle_widgets.widgets.board import MoodBoard

PACKAGE = Path(__file__).resolve().parents[1] / "dalle_widgets"


def _offences(tree: ast.AST) -> list[str]:
    """What in one module's code repeats the PNG module's job (docstrings are not code)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bytes) and node.value.startswith(b"\x89PNG"):
                found.append(f"line {node.lineno}: a PNG signature literal")
            if type(node.value) is int and node.value in (4_000_000, 4 * 1024 * 1024):
                found.append(f"line {node.lineno}: a 4 MB limit")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            values = [*node.args, *(k.value for k in node.keywords)]
            png = any(isinstance(v, ast.Constant) and v.value == "PNG" for v in values)
            if name == "save" and png:
                found.append(f"line {node.lineno}: a PNG encoder (.save(..., 'PNG'))")
            if name in ("fsync", "mkstemp"):
                found.append(f"line {node.lineno}: an atomic writer ({name})")
    return found


def test_png_bytes_are_made_and_written_in_one_module() -> None:
    offences = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "_png.py":
            continue
        found = _offences(ast.parse(path.read_text(), str(path)))
        if found:
            offences[str(path.relative_to(PACKAGE))] = found
    assert offences == {}, "use dalle_widgets._png instead"


def test_the_upload_limit_is_one_number() -> None:
    assert imaging.MAX_UPLOAD_BYTES == _png.MAX_UPLOAD_BYTES == 4_000_000
    assert models.lookup("dall-e-2").max_upload_bytes == _png.MAX_UPLOAD_BYTES


def test_encode_levels_and_text_chunks() -> None:
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 40, (96, 96, 3), dtype=np.uint8))
    fast, small = _png.encode(noise), _png.encode(noise, level=9)
    assert _png.is_png(fast) and len(small) < len(fast)
    for data in (fast, small):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), np.asarray(noise))
    labelled = _png.encode(noise, text={"Software": "x 1.0"})
    assert Image.open(io.BytesIO(labelled)).text == {"Software": "x 1.0"}


def test_as_png_keeps_png_bytes_and_encodes_the_rest() -> None:
    png = _png.encode(Image.new("RGB", (3, 3), "red"))
    assert _png.as_png(png) is png
    buf = io.BytesIO()
    Image.new("RGB", (3, 3), "red").save(buf, "JPEG")
    assert _png.is_png(_png.as_png(buf.getvalue()))
    with pytest.raises(TypeError, match="cannot store str: pass a PIL image, a numpy array or image bytes"):
        _png.as_png("red.png")


def _count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


def test_write_atomic_fsyncs_only_when_durable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_fsyncs(monkeypatch)
    _png.write_atomic(tmp_path / "new" / "a.png", b"one")
    assert calls == []
    _png.write_atomic(tmp_path / "new" / "a.png", b"two", durable=True)
    assert len(calls) == 1
    assert (tmp_path / "new" / "a.png").read_bytes() == b"two"
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["a.png"]


def test_board_writes_are_durable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    board = MoodBoard(tmp_path / "board")
    calls = _count_fsyncs(monkeypatch)
    board.pin(np.zeros((8, 8, 3), np.uint8), caption="black")
    assert len(calls) == 2  # the image, then the manifest
