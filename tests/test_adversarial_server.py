"""Hostile requests to the offline engine: every malformed input is a 400 in OpenAI's envelope, slow and
half-open connections are closed, waiting requests cost no decoded pixels, the event loop stays free.

Every server is on 127.0.0.1 (the shared ``offline_engine`` fixture, or a private one started here);
every probe is small and bounded in count and time.
"""

from __future__ import annotations

import base64
import concurrent.futures
import gc
import io
import json
import socket
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from dalle_widgets.engine import create_app
from dalle_widgets.engine import validation as v
from dalle_widgets.engine.background import BackgroundEngine
from tests.fixtures.hostile import nested_json, png_bomb, truncated_pixels

GEN = "/images/generations"
EDIT = "/images/edits"


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def _rgba(side: int = 64, *, hole: bool = True) -> np.ndarray:
    a = np.full((side, side, 4), 200, np.uint8)
    a[..., 3] = 255
    if hole:
        a[: side // 2, : side // 2, 3] = 0
    return a


@pytest.fixture(scope="module")
def http(offline_engine):
    with httpx.Client(
        base_url=offline_engine.base_url,
        timeout=60,
        headers={"Authorization": f"Bearer {offline_engine.token}"},
    ) as client:
        yield client


def _refused(r: httpx.Response, *, code: str | None = None, param: str | None = None) -> str:
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["message"]
    if code is not None:
        assert err["code"] == code, err
    if param is not None:
        assert err["param"] == param, err
    return err["message"]


# --- 400, not 500, for every malformed input --------------------------------------------------------

_JSON = {"Content-Type": "application/json"}
_MALFORMED_JSON = {
    "lone surrogate in the prompt": (GEN, b'{"prompt": "a fox \\ud800", "size": "256x256"}', "surrogate"),
    "lone surrogate in a field name": (GEN, b'{"prompt": "a fox", "\\udfff": 1}', "surrogate"),
    "lone surrogate in a chat message": (
        "/chat/completions",
        b'{"messages": [{"role": "user", "content": "a fox \\udc00"}]}',
        "surrogate",
    ),
    "100,000-deep JSON": (GEN, nested_json(100_000), "nested"),
    "40-deep JSON": (GEN, b'{"prompt": "x", "user": ' + b"[" * 40 + b"]" * 40 + b"}", "nested"),
    "5,000-digit number": (GEN, b'{"prompt": "x", "n": ' + b"9" * 5000 + b"}", "digits"),
}


@pytest.mark.parametrize("case", list(_MALFORMED_JSON))
def test_malformed_json_is_a_clear_400(http, offline_engine, case) -> None:
    path, body, needle = _MALFORMED_JSON[case]
    message = _refused(http.post(path, content=body, headers=_JSON), code="invalid_json")
    assert needle in message
    assert httpx.get(offline_engine.url + "/health", timeout=10).status_code == 200


def test_a_gpt_edit_with_a_lone_surrogate_is_a_400(http) -> None:
    url = "data:image/png;base64,iVBORw0KGgo="
    body = (
        b'{"model": "gpt-image-2", "prompt": "\\ud83d", "images": [{"image_url": "' + url.encode() + b'"}]}'
    )
    assert "surrogate" in _refused(http.post(EDIT, content=body, headers=_JSON), code="invalid_json")


def test_a_5000_digit_form_field_is_a_400(http) -> None:
    files = {"image": ("i.png", _png(_rgba()), "image/png")}
    message = _refused(http.post(EDIT, files=files, data={"prompt": "x", "n": "7" * 5000}), param="n")
    assert "5000 digits" in message


@pytest.mark.parametrize("token", ["", " ", "tök", "two words", "tab\t"])
def test_a_token_that_cannot_protect_is_refused_at_construction(token) -> None:
    with pytest.raises(ValueError, match="token is") as info:
        create_app(token=token)
    assert token.strip() == "" or token not in str(info.value)  # never echoes the token


def test_no_token_needs_saying_so() -> None:
    assert create_app(token="", require_token=False).state.token is None


# --- edits that select nothing ----------------------------------------------------------------------


def test_a_dalle2_edit_whose_mask_selects_nothing_is_refused(http) -> None:
    files = {
        "image": ("i.png", _png(_rgba(hole=False)), "image/png"),
        "mask": ("m.png", _png(_rgba(hole=False)), "image/png"),
    }
    message = _refused(http.post(EDIT, files=files, data={"prompt": "x", "size": "256x256"}), param="mask")
    assert "no fully transparent" in message


def test_a_dalle2_edit_whose_image_alpha_selects_nothing_is_refused(http) -> None:
    files = {"image": ("i.png", _png(_rgba(hole=False)), "image/png")}
    r = http.post(EDIT, files=files, data={"prompt": "x", "size": "256x256"})
    _refused(r, code="empty_mask", param="image")


def test_a_gpt_edit_with_a_mask_selecting_nothing_is_refused(http) -> None:
    files = {
        "image": ("i.png", _png(_rgba(hole=False)), "image/png"),
        "mask": ("m.png", _png(_rgba(hole=False)), "image/png"),
    }
    r = http.post(EDIT, files=files, data={"prompt": "x", "model": "gpt-image-2", "size": "1024x1024"})
    _refused(r, code="empty_mask", param="mask")


def test_a_chat_edit_with_a_mask_selecting_nothing_is_refused(http) -> None:
    import base64

    def part(data: bytes) -> dict:
        return {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(data).decode()},
        }

    opaque = _png(_rgba(hole=False))
    body = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}, part(opaque), part(opaque)]}]
    }
    _refused(http.post("/chat/completions", json=body), code="empty_mask", param="mask")


def test_a_png_whose_pixel_data_stops_early_is_refused(http) -> None:
    files = {"image": ("i.png", truncated_pixels(_png(_rgba())), "image/png")}
    message = _refused(http.post(EDIT, files=files, data={"prompt": "x", "size": "256x256"}), param="image")
    assert "pixel data" in message
    r = http.post(
        "/images/variations", files={"image": ("i.png", truncated_pixels(_png(_rgba())), "image/png")}
    )
    _refused(r, param="image")


# --- connections that do not deliver their request in time are closed ---------------------------


@pytest.fixture(scope="module")
def quick_engine():
    """A private engine whose deadlines are short (1 s for the head, 1 s for the body)."""
    engine = BackgroundEngine.start(header_timeout=1.0, body_timeout=1.0)
    try:
        yield engine
    finally:
        engine.stop()


def _connect(engine: BackgroundEngine, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", engine.port), timeout=timeout)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (socket.timeout if it never does)."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def test_a_connection_that_sends_nothing_is_closed(quick_engine) -> None:
    with _connect(quick_engine) as sock:
        assert _read_until_closed(sock).startswith(b"HTTP/1.1 408 ")


def test_a_head_dripped_a_byte_at_a_time_is_cut_at_its_deadline(quick_engine) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    with _connect(quick_engine) as sock:
        sock.settimeout(0.25)
        answer = b""
        for byte in head:  # 50 s at this pace: the 1 s deadline cuts it long before
            try:
                sock.sendall(bytes([byte]))
                answer += sock.recv(4096)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if answer:
                break
        assert answer.startswith(b"HTTP/1.1 408 "), answer


def test_a_body_that_stops_coming_is_cut(quick_engine) -> None:
    head = (
        "POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {quick_engine.token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    with _connect(quick_engine) as sock:
        sock.sendall(head.encode() + b'{"prompt": "a')
        _read_until_closed(sock)  # closed by the server (socket.timeout after 10 s if never)


def test_a_head_over_the_size_limit_gets_431(quick_engine) -> None:
    with _connect(quick_engine) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(80):
                sock.sendall(b"X-Pad: " + b"p" * 1000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert _read_until_closed(sock).startswith(b"HTTP/1.1 431 ")


def test_requests_that_outlast_the_deadlines_are_not_cut(quick_engine) -> None:
    """Kept-alive connections idle between requests, and answers that take longer than the deadlines."""
    headers = {"Authorization": f"Bearer {quick_engine.token}"}
    with httpx.Client(base_url=quick_engine.base_url, headers=headers, timeout=60) as http:
        assert http.get("/models").status_code == 200
        time.sleep(1.5)  # longer than the head deadline, shorter than uvicorn's 5 s keep-alive
        assert http.get("/models").status_code == 200
        body = {"model": "gpt-image-2", "prompt": "a lake at dawn", "size": "1536x1024", "n": 2}
        with http.stream(
            "POST", "/images/generations", json={**body, "stream": True, "partial_images": 3}
        ) as r:
            events = [line for line in r.iter_lines() if line.startswith("event:")]
        assert events.count("event: image_generation.completed") == 2


_LOW_FILE_LIMIT = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
from dalle_widgets.engine.background import BackgroundEngine
engine = BackgroundEngine.start(header_timeout=1.0)
print(engine.port, flush=True)
time.sleep(120)
"""


def test_half_open_connections_do_not_starve_health_under_a_low_file_limit() -> None:
    """70 connections that never finish their headers, against a server allowed 64 files."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _LOW_FILE_LIMIT], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    held: list[socket.socket] = []
    try:
        port = int(proc.stdout.readline())
        for _ in range(70):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never the blank line
            held.append(sock)
        # At the file limit the server sheds new connections (libuv accepts and closes them) or leaves
        # them in the backlog; once the half-open ones are cut at their deadline, /health answers.
        deadline, answer = time.monotonic() + 20, None
        while answer is None and time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None and answer.status_code == 200
    finally:
        for sock in held:
            sock.close()
        proc.kill()
        proc.wait(10)


# --- waiting requests hold raw bytes, not decoded pixels --------------------------------------------


class _GatedBackend:
    """Blank images, each call held until the test opens the gate; counts the decoded requests alive."""

    name = "gated"

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.gate = threading.Semaphore(0)
        self.alive_at_entry: list[int] = []

    def _held(self, size: tuple[int, int], n: int) -> list[np.ndarray]:
        gc.collect()
        self.alive_at_entry.append(sum(isinstance(o, v.EditRequest) for o in gc.get_objects()))
        self.entered.release()
        self.gate.acquire(timeout=30)
        return [np.zeros((size[1], size[0], 3), np.uint8) for _ in range(n)]

    def generate(self, prompt, *, size, n, seed, on_preview=None):
        return self._held(size, n)

    def edit(self, image, mask, prompt, *, size, n, seed, references=(), on_preview=None):
        return self._held(size, n)

    def vary(self, image, *, size, n, seed, on_preview=None):
        return self._held(size, n)


def test_requests_waiting_for_a_slot_hold_no_decoded_pixels() -> None:
    backend = _GatedBackend()
    engine = BackgroundEngine.start(backend=backend, max_concurrency=1)
    slots = engine._server.config.app.state.engine.slots
    files = {"image": ("i.png", _png(_rgba(256)), "image/png")}
    headers = {"Authorization": f"Bearer {engine.token}"}

    def edit() -> int:
        r = httpx.post(
            engine.base_url + EDIT,
            files=files,
            data={"prompt": "x", "size": "256x256"},
            headers=headers,
            timeout=60,
        )
        return r.status_code

    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = [pool.submit(edit) for _ in range(8)]
            assert backend.entered.acquire(timeout=30)  # the first request holds the only slot
            deadline = time.monotonic() + 30
            while slots.statistics().tasks_waiting < 7 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert slots.statistics().tasks_waiting == 7
            backend.gate.release()  # the first finishes; the second enters the backend
            assert backend.entered.acquire(timeout=30)
            for _ in range(7):
                backend.gate.release()
            assert [a.result(timeout=60) for a in answers] == [200] * 8
    finally:
        engine.stop()
    # Before: the seven waiting requests were decoded the moment the first one let go of the slot.
    assert backend.alive_at_entry[1] <= 2, backend.alive_at_entry


def test_a_request_declaring_more_pixels_than_a_slot_decodes_is_refused_before_decoding(http) -> None:
    big = png_bomb(4096, 4096)  # a few KB, each declaring the per-image maximum
    files = [("image[]", (f"{i}.png", big, "image/png")) for i in range(3)]
    r = http.post(EDIT, files=files, data={"prompt": "x", "model": "gpt-image-2"})
    assert "declare 50,331,648 pixels together" in _refused(r, code="image_too_large")


# --- the event loop stays free ----------------------------------------------------------------------


def test_chat_bodies_are_parsed_and_answers_built_off_the_event_loop(offline_engine, monkeypatch) -> None:
    """Chat requests carry megabytes of base64 JSON each way: none of it is handled on the loop's thread."""
    big = 1_000_000
    threads: list[str] = []

    def watched(fn, size_of):
        def call(*args, **kwargs):
            result = fn(*args, **kwargs)
            if size_of(args, result) > big:
                threads.append(threading.current_thread().name)
            return result

        return call

    monkeypatch.setattr(json, "loads", watched(json.loads, lambda a, r: len(a[0])))
    monkeypatch.setattr(json, "dumps", watched(json.dumps, lambda a, r: len(r)))
    monkeypatch.setattr(base64, "b64decode", watched(base64.b64decode, lambda a, r: len(r)))
    monkeypatch.setattr(base64, "b64encode", watched(base64.b64encode, lambda a, r: len(r)))
    image = _png(np.random.default_rng(0).integers(0, 255, (1024, 1024, 3), dtype=np.uint8))
    url = "data:image/png;base64," + base64.b64encode(image).decode()
    body = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]}
    headers = {"Authorization": f"Bearer {offline_engine.token}", "Content-Type": "application/json"}
    threads.clear()
    r = httpx.post(
        offline_engine.base_url + "/chat/completions", content=json.dumps(body), headers=headers, timeout=120
    )
    assert r.status_code == 200
    loop = f"dalle-widgets-engine-{offline_engine.port}"
    server_side = [t for t in threads if t != threading.current_thread().name]
    assert len(server_side) >= 3  # the body parsed, its image decoded, the answer encoded
    assert loop not in server_side, threads


def test_multipart_forms_are_parsed_off_the_event_loop(http, offline_engine, monkeypatch) -> None:
    from starlette.formparsers import MultiPartParser

    threads: list[str] = []
    parse = MultiPartParser.parse

    async def watched(self):
        threads.append(threading.current_thread().name)
        return await parse(self)

    monkeypatch.setattr(MultiPartParser, "parse", watched)
    files = {"image": ("i.png", _png(_rgba()), "image/png")}
    assert http.post(EDIT, files=files, data={"prompt": "x", "size": "256x256"}).status_code == 200
    assert threads and f"dalle-widgets-engine-{offline_engine.port}" not in threads, threads
