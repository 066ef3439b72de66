"""Widget benchmarks: kernel time per mouse event, browser stroke latency, bytes per gallery.

Usage: ``python benchmarks/widgets.py [--no-browser] [--nodelay]`` from the repository root
(``--nodelay`` repeats the browser figure on a server whose websockets set TCP_NODELAY).

1. **Kernel time per mouse-move event** (no browser): ``MaskEditor.handle_mouse_move`` on a
   1024 px image shown at 512 px, including ipycanvas' command serialisation. Peer: the
   naive way, re-sending the whole mask overlay as an image on every move.
1b. **End of a stroke at zoom 4** (no browser): a 2400x1500 photo on a 2048x1280 layer;
   only the canvas boxes the stroke made dirty are redrawn. Peer: the old full redraw.
2. **Browser latency from a mouse move to the stroke on screen** (JupyterLab + Chromium,
   kernel on this machine): a listener on the canvas stamps each ``mousemove`` and a
   polling loop (every ~4 ms) stamps the first time the canvas pixel under the pointer
   changed; the median difference is the figure (goal: under 50 ms on localhost). Peer: a
   bare ipycanvas ``Canvas`` in the same notebook drawing one segment per move, the least
   a kernel-side stroke can cost; strokes alternate between the two.
3. **Bytes sent to the browser per gallery of 10 images at 1024 px**: the serialised state
   of every widget in the gallery (what the comm-open messages carry) plus the static PNG
   in the output mimebundle (what a saved notebook keeps). Peer: full-size PNGs in Image
   widgets. Goal: under 1 MB.
"""

from __future__ import annotations

import base64
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def photo(seed: int, size: int = 1024) -> np.ndarray:
    """Photo-like test content (gradients + texture + noise): compresses like a real picture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.dstack([np.sin(6 * xx + seed), np.cos(5 * yy - seed), np.sin(9 * (xx * yy) + seed)]) * 90 + 128
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


def kernel_mouse_move(n: int = 400) -> dict[str, float]:
    from ipycanvas.canvas import _CANVAS_MANAGER

    from dalle_widgets import masks
    from dalle_widgets.widgets import MaskEditor
    from dalle_widgets.widgets._canvas import hold, overlay_rgba

    sent: list[int] = []
    orig = _CANVAS_MANAGER._send_custom

    def count(command, buffers=None):  # serialise exactly as ipycanvas does, then drop
        from ipycanvas.utils import commands_to_buffer

        _meta, buf = commands_to_buffer(command)
        sent.append(len(memoryview(buf).cast("B")) + sum(len(memoryview(b).cast("B")) for b in buffers or []))

    _CANVAS_MANAGER._send_custom = count
    try:
        ed = MaskEditor(photo(1), display_px=512, brush_size=48)
        times = []
        ed.handle_mouse_down(20, 20)
        sent.clear()
        for i in range(n):
            x, y = 20 + (i * 7) % 470, 20 + (i * 3) % 470
            t = time.perf_counter()
            ed.handle_mouse_move(x, y)
            times.append(time.perf_counter() - t)
        move_bytes = statistics.median(sent) if sent else 0
        last_move_bytes = sent[-1] if sent else 0  # one segment per move: no growth with the stroke
        t = time.perf_counter()
        ed.handle_mouse_up(300, 300)
        up = time.perf_counter() - t
        # peer: re-send the whole 512 px overlay as an image on every move
        naive = []
        small = masks.resize(ed.mask, (512, 512))
        sent.clear()
        for _ in range(30):
            t = time.perf_counter()
            with hold():
                ed.canvas[1].clear()
                ed.canvas[1].put_image_data(overlay_rgba(small, (255, 64, 64)), 0, 0)
            naive.append(time.perf_counter() - t)
        naive_bytes = statistics.median(sent)
    finally:
        _CANVAS_MANAGER._send_custom = orig
    return {
        "move_median_ms": statistics.median(times) * 1e3,
        "move_p95_ms": sorted(times)[int(0.95 * len(times))] * 1e3,
        "move_bytes": move_bytes,
        "last_move_bytes": last_move_bytes,
        "stroke_end_ms": up * 1e3,
        "naive_move_ms": statistics.median(naive) * 1e3,
        "naive_move_bytes": naive_bytes,
        "points_in_last_stroke": len(ed.strokes[-1].points),
    }


def stroke_end_at_zoom(strokes: int = 12, zoom: float = 4.0) -> dict[str, float]:
    """End of a brush stroke on a 2400x1500 photo at ``zoom`` (a 2048x1280 layer at zoom 4).

    Ours redraws only the canvas boxes the stroke made dirty (``dalle_widgets.mask_layer``);
    the peer is the old full redraw (resample the whole mask, an RGBA layer of the canvas's
    size, PNG-encode and send it) on a second editor fed the same strokes, alternating.
    Both include rasterising the stroke into the 2400x1500 mask and ipycanvas's serialisation.
    """
    from ipycanvas.canvas import _CANVAS_MANAGER
    from ipycanvas.utils import commands_to_buffer

    from dalle_widgets import masks
    from dalle_widgets.widgets import MaskEditor
    from dalle_widgets.widgets._canvas import hold, overlay_rgba

    sent: list[int] = []

    def count(command, buffers=None):
        _meta, buf = commands_to_buffer(command)
        sent.append(len(memoryview(buf).cast("B")) + sum(len(memoryview(b).cast("B")) for b in buffers or []))

    def old_full_redraw(ed):
        def draw(previous=None):  # the editor's mask layer before dirty boxes: everything, every time
            dh, dw = ed._viewport.display
            mask = ed.doc.mask_view
            small = masks.resize(mask, (dh, dw)) if mask.shape != (dh, dw) else mask
            with hold():
                layer = ed.canvas[1]
                layer.clear()
                if small.any():
                    layer.put_image_data(overlay_rgba(small, (255, 64, 64), 128), 0, 0)
                outline = ed._outline_geometry(ed._outlined_window())
                if outline is not None:
                    ed._draw_window_outline(layer, outline)

        return draw

    big = np.tile(photo(3), (2, 3, 1))[:1500, :2400]
    ours = MaskEditor(big, display_px=512, brush_size=40)
    peer = MaskEditor(big, display_px=512, brush_size=40)
    peer._draw_mask_layer = old_full_redraw(peer)
    orig = _CANVAS_MANAGER._send_custom
    _CANVAS_MANAGER._send_custom = count
    times: dict[str, list[float]] = {"ours": [], "peer": []}
    sizes: dict[str, list[int]] = {"ours": [], "peer": []}
    boxes: list[int] = []
    try:
        for ed in (ours, peer):
            ed.add_rectangle((1000, 600, 1200, 800))
            ed.set_zoom(zoom)
        rng = np.random.default_rng(0)
        for i in range(strokes):
            x0, y0 = float(rng.uniform(100, 1800)), float(rng.uniform(100, 1100))
            path = [(x0 + 12 * k, y0 + 5 * k * (-1) ** (k // 4)) for k in range(16)]
            for name, ed in (("ours", ours), ("peer", peer)) if i % 2 else (("peer", peer), ("ours", ours)):
                ed.handle_mouse_down(*path[0])
                for p in path[1:-1]:
                    ed.handle_mouse_move(*p)
                sent.clear()
                t = time.perf_counter()
                ed.handle_mouse_up(*path[-1])
                times[name].append(time.perf_counter() - t)
                sizes[name].append(sum(sent))
                if name == "ours":
                    boxes.append(
                        sum((b[2] - b[0]) * (b[3] - b[1]) for b in ed.mask_layer_boxes or [(0, 0, 1, 1)])
                    )
        assert np.array_equal(ours.mask, peer.mask)
    finally:
        _CANVAS_MANAGER._send_custom = orig
    dh, dw = ours._viewport.display
    return {
        "layer": f"{dw}x{dh}",
        "ours_ms": statistics.median(times["ours"]) * 1e3,
        "peer_ms": statistics.median(times["peer"]) * 1e3,
        "ours_bytes": statistics.median(sizes["ours"]),
        "peer_bytes": statistics.median(sizes["peer"]),
        "dirty_fraction": statistics.median(boxes) / (dw * dh),
    }


def gallery_bytes(images: list, thumb_px: int = 256) -> dict[str, float]:
    import ipywidgets as W
    from ipywidgets.widgets.widget import _remove_buffers

    from dalle_widgets.widgets import Gallery
    from dalle_widgets.widgets._static import png_bytes

    def tree(w):
        yield w
        for name in ("children",):
            for c in getattr(w, name, ()) or ():
                yield from tree(c)
        layout = getattr(w, "layout", None)
        if isinstance(layout, W.Widget):
            yield layout
        style = getattr(w, "style", None)
        if isinstance(style, W.Widget):
            yield style

    def state_bytes(widgets) -> int:
        total = 0
        seen = set()
        for w in widgets:
            if w.model_id in seen:
                continue
            seen.add(w.model_id)
            state, _paths, buffers = _remove_buffers(w.get_state())
            total += len(json.dumps(state)) + sum(len(memoryview(b).cast("B")) for b in buffers)
        return total

    t = time.perf_counter()
    g = Gallery(images, thumb_px=thumb_px)
    build = time.perf_counter() - t
    live = state_bytes(tree(g)) + sum(state_bytes([e]) for e in g._events)
    bundle = g._repr_mimebundle_()
    output = len(json.dumps({k: v for k, v in bundle.items()}))
    static_png = len(base64.b64decode(bundle["image/png"]))
    from dalle_widgets import imaging

    full = sum(len(png_bytes(imaging.to_pil(getattr(i, "image", i)))) for i in images)
    return {
        "widget_state_bytes": live,
        "notebook_output_bytes": output,
        "static_png_bytes": static_png,
        "naive_full_png_bytes": full,
        "build_s": build,
    }


def offline_images(n: int = 10) -> list:
    from dalle_widgets.client import ImagesClient
    from dalle_widgets.engine.background import BackgroundEngine

    eng = BackgroundEngine.start()
    try:
        with ImagesClient(api_key=eng.token, base_url=eng.base_url) as client:
            prompts = ["a watercolor fox in a forest", "a lighthouse on a cliff at sunset"]
            out = []
            for i in range(n):
                out.extend(client.generate(prompts[i % 2], n=1, size="1024x1024", seed=i))
            return out
    finally:
        eng.stop()


_LATENCY_JS = """(sel) => {
    // Stamp every dragging mousemove on the canvas and the first poll that sees the pixel
    // under the pointer change. Entries are keyed by x so they pair with the kernel's stamps.
    const c = document.querySelector(sel);
    const ctx = c.getContext('2d', {willReadFrequently: true});
    const px = (x, y) => {
        const r = c.getBoundingClientRect();
        const sx = c.width / r.width, sy = c.height / r.height;
        return Array.from(ctx.getImageData(Math.round(x * sx), Math.round(y * sy), 1, 1).data);
    };
    const log = [];
    window.__latency = window.__latency || {};
    window.__latency[sel] = log;
    c.addEventListener('mousemove', (e) => {
        if (!(e.buttons & 1)) return;
        const r = c.getBoundingClientRect();
        const x = e.clientX - r.left, y = e.clientY - r.top;
        log.push({x, y, t: performance.now(), sent: performance.timeOrigin + performance.now(),
                  before: px(x, y), seen: null});
    });
    const poll = () => {
        const now = performance.now();
        for (const p of log) {
            if (p.seen !== null || now - p.t > 2000) continue;
            const v = px(p.x, p.y);
            if (Math.abs(v[0] - p.before[0]) + Math.abs(v[1] - p.before[1]) > 12) {
                p.seen = now;
            }
        }
        setTimeout(poll, 1);  // ~4 ms apart once nested: finer than a 16 ms frame
    };
    poll();
}"""


# jupyter_server never calls ``set_nodelay`` on its websockets, so Nagle's algorithm can hold a small
# kernel -> browser frame until the browser's delayed ACK (about 40 ms on Linux). ``--nodelay`` runs
# the same measurement on a server patched to set TCP_NODELAY, to show what the stack costs.
NODELAY_CONFIG = """
import tornado.websocket as _ws

_detach_stream = _ws.WebSocketHandler._detach_stream


def _detach_nodelay(self):
    stream = _detach_stream(self)
    stream.set_nodelay(True)
    return stream


_ws.WebSocketHandler._detach_stream = _detach_nodelay
"""


def browser_latency(
    rounds: int = 6, moves: int = 10, *, nodelay: bool = False
) -> dict[str, dict[str, float]]:
    """Median mouse-move -> pixels latency of the MaskEditor and of a bare ipycanvas peer.

    Both canvases live in one notebook; strokes alternate between them (``rounds`` strokes
    of ``moves`` moves each), so load from other processes hits both alike. Each move is
    made alone (0.12 s apart, as a hand would), and timed from the browser's ``mousemove``
    to the first poll that sees the pixel under the pointer changed. The kernel stamps
    its handler's arrival too, which splits the figure into "to the kernel" and "back".
    """
    from playwright import sync_api

    from tests.fixtures.lab import LabPage, chromium, new_context, running_lab

    targets = {
        "dalle-widgets MaskEditor": (".dalle-mask-editor .dalle-mask-canvas", "arrivals"),
        "bare ipycanvas Canvas (peer)": ("canvas.dalle-latency-peer", "peer_arrivals"),
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_lab(Path(tmp), NODELAY_CONFIG if nodelay else "") as server,
        chromium(sync_api) as browser,
    ):
        context = new_context(browser)
        page = context.new_page()
        lp = LabPage(page, server, "benchmark")
        lp.open("latency")
        for sel, _ in targets.values():
            page.locator(sel).first.wait_for()
        time.sleep(1.0)
        for sel, _ in targets.values():
            page.evaluate(_LATENCY_JS, sel)
        for r in range(rounds):
            for sel, _ in targets.values():
                canvas = page.locator(sel).first
                canvas.scroll_into_view_if_needed()
                box = canvas.bounding_box()
                y = box["y"] + 40 + 430 * r // max(1, rounds - 1)
                page.mouse.move(box["x"] + 20, y)
                page.mouse.down()
                for i in range(1, moves + 1):
                    page.mouse.move(box["x"] + 20 + 40 * i + 3 * r, y)
                    time.sleep(0.12)  # one move at a time, so each is measured alone
                page.mouse.up()
                time.sleep(0.8)
        out: dict[str, dict[str, float]] = {}
        for label, (sel, arrivals_name) in targets.items():
            log = page.evaluate("(sel) => window.__latency[sel].map(p => [p.x, p.t, p.sent, p.seen])", sel)
            arrivals = dict(lp.eval(f"[(round(x), t) for x, t in {arrivals_name}]"))
            lat = [seen - t for _x, t, _s, seen in log if seen is not None]
            inbound = [arrivals[round(x)] - sent for x, _t, sent, _s in log if round(x) in arrivals]
            outbound = [
                t0 + (seen - t) - arrivals[round(x)]
                for x, t, t0, seen in log
                if seen is not None and round(x) in arrivals
            ]
            out[label] = {
                "moves": len(log),
                "measured": len(lat),
                "median_ms": statistics.median(lat) if lat else float("nan"),
                "p90_ms": sorted(lat)[int(0.9 * len(lat))] if lat else float("nan"),
                "to_kernel_ms": statistics.median(inbound) if inbound else float("nan"),
                "back_to_pixels_ms": statistics.median(outbound) if outbound else float("nan"),
            }
        out["dalle-widgets MaskEditor"]["strokes"] = lp.eval("len(editor.strokes)")
        lp.shot("latency", page.locator(".dalle-mask-editor").first)
        context.close()
    return out


def main(argv: list[str]) -> int:
    k = kernel_mouse_move()
    print("\n1. Kernel time per mouse-move event (MaskEditor, 1024 px image at 512 px)")
    print(f"   {'':32s} {'median ms':>10s} {'bytes/event':>12s}")
    print(f"   {'dalle-widgets (preview segment)':32s} {k['move_median_ms']:10.3f} {k['move_bytes']:12.0f}")
    print(
        f"   {'naive (re-send overlay image)':32s} {k['naive_move_ms']:10.3f} {k['naive_move_bytes']:12.0f}"
    )
    print(
        f"   ratio naive / ours: time x{k['naive_move_ms'] / k['move_median_ms']:.1f}, "
        f"bytes x{k['naive_move_bytes'] / max(1, k['move_bytes']):.1f}"
    )
    print(
        f"   p95 move {k['move_p95_ms']:.3f} ms; last move of the "
        f"{k['points_in_last_stroke']}-point stroke "
        f"{k['last_move_bytes']:.0f} bytes (one segment per move, whatever the stroke length)"
    )
    print(f"   end of the stroke (rasterise at 1024 px + redraw overlay) {k['stroke_end_ms']:.1f} ms")

    z = stroke_end_at_zoom()
    print(f"\n1b. End of a brush stroke at zoom 4 (2400x1500 photo, {z['layer']} mask layer)")
    print(f"   {'':40s} {'median ms':>10s} {'bytes sent':>11s}")
    print(f"   {'dalle-widgets (dirty boxes only)':40s} {z['ours_ms']:10.1f} {z['ours_bytes']:11.0f}")
    print(f"   {'old full redraw of the layer (peer)':40s} {z['peer_ms']:10.1f} {z['peer_bytes']:11.0f}")
    print(
        f"   ratio old / ours: time x{z['peer_ms'] / z['ours_ms']:.1f}, "
        f"bytes x{z['peer_bytes'] / max(1, z['ours_bytes']):.1f}; "
        f"dirty boxes cover {z['dirty_fraction']:.1%} of the layer (median)"
    )

    print("\n3. Bytes to the browser per gallery of 10 images at 1024 px")
    for label, images in (
        ("offline-engine images", offline_images(10)),
        ("photo-like images", [photo(s) for s in range(10)]),
    ):
        g = gallery_bytes(images)
        print(
            f"   {label}: widget state {g['widget_state_bytes'] / 1e6:.3f} MB, "
            f"notebook output {g['notebook_output_bytes'] / 1e3:.0f} kB "
            f"(static PNG {g['static_png_bytes'] / 1e3:.0f} kB); naive full PNGs "
            f"{g['naive_full_png_bytes'] / 1e6:.2f} MB "
            f"(x{g['naive_full_png_bytes'] / g['widget_state_bytes']:.0f});"
            f" built in {g['build_s']:.2f} s"
        )

    for nodelay in (False, True) if "--nodelay" in argv else (False,):
        if "--no-browser" in argv:
            break
        b = browser_latency(nodelay=nodelay)
        server = "jupyter_server patched with TCP_NODELAY" if nodelay else "stock jupyter_server"
        print(
            f"\n2. Browser: mouse move -> stroke visible on the canvas (JupyterLab + Chromium, localhost, "
            f"{server})"
        )
        print(
            f"   {'':30s} {'median ms':>10s} {'p90 ms':>8s} {'to kernel':>10s} {'back to px':>11s} measured"
        )
        for label, v in b.items():
            print(
                f"   {label:30s} {v['median_ms']:10.1f} {v['p90_ms']:8.1f} {v['to_kernel_ms']:10.1f} "
                f"{v['back_to_pixels_ms']:11.1f} {v['measured']}/{v['moves']}"
            )
        ours, peer = b["dalle-widgets MaskEditor"], b["bare ipycanvas Canvas (peer)"]
        print(
            f"   ratio ours / bare ipycanvas: x{ours['median_ms'] / peer['median_ms']:.2f}; "
            f"goal < 50 ms: {'met' if ours['median_ms'] < 50 else 'NOT met'} "
            f"({ours['strokes']} strokes reached the editor's mask)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
