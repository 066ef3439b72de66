"""Benchmark the offline engine: fill quality and speed against OpenCV and scikit-image, plus throughput.

For each bundled photo (scikit-image: astronaut, coffee, chelsea, rocket), size (512, 1024) and mask kind:

* ``square25``  centred square, 25 % of the image;
* ``brush15``   free-form brush strokes (seeded thick polylines), about 15 %;
* ``ellipse``   an object-sized rotated ellipse, about 14 %;
* ``out256``    outpainting margins of 256 px: all four sides at 1024 (centre 512 known, 75 % hole),
                the right 256 px at 512 (50 % hole);

it measures, over the hole: PSNR (dB), SSIM (mean of the SSIM map over the hole), the detail-energy ratio
(mean |Laplacian| inside the hole / in a 24 px ring around it; the photo itself scores about 1.1) and the
CPU and wall time of one call, for the engine's fill, its smooth base alone ("smooth": membrane and
push-pull, no texture), ``cv2.inpaint`` Telea and NS (radius 3) and
``skimage.restoration.inpaint_biharmonic``. One table, means over the photos, then the issue's three goals
checked per size and mask kind. Contact sheets go to ``benchmarks/out/``: per size, whole images and
native-resolution crops across the hole's edge, and ``engine-contact-sheet.jpg``, a small one (512 px,
every mask kind) for the docs. Then the server's throughput for 256 px generations over HTTP.

Usage: ``python benchmarks/engine.py [--quick] [--sizes 512 1024] [--skip biharmonic] [--photos astronaut]``
(``--quick``: 512 only, no biharmonic). Run it on a quiet machine: timings are of one core.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402
from scipy import ndimage  # noqa: E402
from skimage import data  # noqa: E402
from skimage.metrics import structural_similarity  # noqa: E402
from skimage.restoration import inpaint_biharmonic  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dalle_widgets.engine.backends.classical.inpaint import fill  # noqa: E402

cv2.setNumThreads(1)
OUT = ROOT / "benchmarks" / "out"
PHOTOS = {"astronaut": data.astronaut, "coffee": data.coffee, "chelsea": data.chelsea, "rocket": data.rocket}
MASKS = ("square25", "brush15", "ellipse", "out256")


def square_photo(name: str, size: int) -> np.ndarray:
    img = PHOTOS[name]()[:, :, :3]
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    interp = cv2.INTER_AREA if s > size else cv2.INTER_LANCZOS4
    return np.ascontiguousarray(cv2.resize(img, (size, size), interpolation=interp))


def make_mask(kind: str, size: int, seed: int = 0) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    if kind == "square25":
        m[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
    elif kind == "brush15":
        rng = np.random.default_rng(seed)
        while m.mean() < 0.15:
            pts = np.cumsum(rng.normal(0, size / 10, (6, 2)), axis=0) + rng.uniform(0.2, 0.8, 2) * size
            cv2.polylines(m, [pts.astype(np.int32)], False, 1, thickness=max(3, size // 40))
    elif kind == "ellipse":
        cv2.ellipse(
            m, (int(size * 0.55), int(size * 0.45)), (int(size * 0.26), int(size * 0.17)), 30, 0, 360, 1, -1
        )
    elif kind == "out256":
        m[:] = 1
        if size >= 1024:
            m[256 : size - 256, 256 : size - 256] = 0
        else:
            m[:, : size - 256] = 0
    return m.astype(bool)


def method_engine(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return fill(img, mask, seed=0)


def method_smooth(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return fill(img, mask, seed=0, detail=False)


def method_telea(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return cv2.inpaint(img, mask.astype(np.uint8), 3, cv2.INPAINT_TELEA)


def method_ns(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return cv2.inpaint(img, mask.astype(np.uint8), 3, cv2.INPAINT_NS)


def method_biharmonic(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = inpaint_biharmonic(img, mask, channel_axis=-1)
    return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)


METHODS = {
    "engine": method_engine,
    "smooth": method_smooth,
    "telea_r3": method_telea,
    "ns_r3": method_ns,
    "biharmonic": method_biharmonic,
}


def metrics(truth: np.ndarray, out: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    err = out[mask].astype(np.float64) - truth[mask]
    psnr = 10 * np.log10(255.0**2 / max(np.mean(err**2), 1e-12))
    _, smap = structural_similarity(truth, out, channel_axis=-1, data_range=255, full=True)
    lap = np.abs(ndimage.laplace(out.astype(np.float32).mean(axis=2)))
    ring = ndimage.binary_dilation(mask, iterations=24) & ~mask
    return {
        "psnr": float(psnr),
        "ssim": float(smap.mean(axis=2)[mask].mean()),
        "detail": float(lap[mask].mean() / max(lap[ring].mean(), 1e-9)),
    }


def truth_detail(truth: np.ndarray, mask: np.ndarray) -> float:
    return metrics(truth, truth, mask)["detail"]


def run_fill(sizes: list[int], photos: list[str], methods: list[str]) -> list[dict]:
    rows = []
    for size in sizes:
        sheet_rows = []
        for kind in MASKS:
            for p_i, name in enumerate(photos):
                truth = square_photo(name, size)
                mask = make_mask(kind, size, seed=p_i)
                holed = truth.copy()
                holed[mask] = 0
                row_imgs = {"original": truth, "hole": holed}
                for method in methods:
                    t, c = time.perf_counter(), time.process_time()
                    out = METHODS[method](holed, mask)
                    dt, dc = time.perf_counter() - t, time.process_time() - c
                    rows.append(
                        {
                            "size": size,
                            "mask": kind,
                            "photo": name,
                            "method": method,
                            "time": dt,
                            "cpu": dc,
                            "coverage": float(mask.mean()),
                            **metrics(truth, out, mask),
                        }
                    )
                    row_imgs[method] = out
                rows.append(
                    {
                        "size": size,
                        "mask": kind,
                        "photo": name,
                        "method": "truth",
                        "time": 0.0,
                        "cpu": 0.0,
                        "coverage": float(mask.mean()),
                        "psnr": float("inf"),
                        "ssim": 1.0,
                        "detail": truth_detail(truth, mask),
                    }
                )
                if p_i in (0, 1):
                    sheet_rows.append((f"{name} {kind}", row_imgs))
                print(f"  {size} {kind:8s} {name:9s} done", file=sys.stderr, flush=True)
        contact_sheet(sheet_rows, OUT / f"engine_fill_{size}.png")
        if size == sizes[0]:
            small_rows = [
                (label, {k: v for k, v in imgs.items() if k != "smooth"}) for label, imgs in sheet_rows
            ]
            contact_sheet(small_rows, OUT / "engine-contact-sheet.jpg", cell=150)
        contact_sheet(
            [(label, crops(imgs, mask_of(label, size))) for label, imgs in sheet_rows],
            OUT / f"engine_fill_{size}_crops.png",
        )
    return rows


def mask_of(label: str, size: int) -> np.ndarray:
    name, kind = label.split()
    return make_mask(kind, size, seed=list(PHOTOS).index(name))


def crops(imgs: dict[str, np.ndarray], mask: np.ndarray, px: int = 256) -> dict[str, np.ndarray]:
    """Native-resolution crops across the hole's left edge, where texture and seams show."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    cy = int(np.median(ys))
    x0 = int(xs[ys == cy].min()) if (ys == cy).any() else int(xs.min())
    left = int(np.clip(x0 - px // 3, 0, w - px))
    top = int(np.clip(cy - px // 2, 0, h - px))
    return {k: v[top : top + px, left : left + px] for k, v in imgs.items()}


def contact_sheet(rows: list[tuple[str, dict]], path: Path, cell: int = 256) -> None:
    cols = list(rows[0][1])
    pad = 22
    sheet = Image.new("RGB", (cell * len(cols), (cell + pad) * len(rows) + pad), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14 if cell >= 200 else 12)
    for c, name in enumerate(cols):
        draw.text((c * cell + 4, 3), name, fill=(0, 0, 0), font=font)
    for r, (label, imgs) in enumerate(rows):
        y = pad + r * (cell + pad)
        draw.text((4, y + 3), label, fill=(0, 0, 0), font=font)
        for c, name in enumerate(cols):
            sheet.paste(Image.fromarray(imgs[name]).resize((cell, cell), Image.LANCZOS), (c * cell, y + pad))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jpg":
        sheet.save(path, quality=82, optimize=True)
    else:
        sheet.save(path, optimize=True)


def table(rows: list[dict]) -> str:
    lines = [
        "| size | mask | method | PSNR dB | SSIM | detail | CPU s | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted(
        {(r["size"], MASKS.index(r["mask"]), r["method"]) for r in rows},
        key=lambda k: (k[0], k[1], list(METHODS).index(k[2]) if k[2] in METHODS else 99),
    )
    for size, mi, method in keys:
        sel = [r for r in rows if r["size"] == size and r["mask"] == MASKS[mi] and r["method"] == method]
        m = {key: statistics.mean(r[key] for r in sel) for key in ("psnr", "ssim", "detail", "cpu", "time")}
        line = (
            f"| {size} | {MASKS[mi]} | {method} | {m['psnr']:.2f} | {m['ssim']:.3f} | {m['detail']:.2f} "
            f"| {m['cpu']:.3f} | {m['time']:.3f} |"
        )
        lines.append(line.replace("| inf |", "| - |"))
    return "\n".join(lines)


def verdict(rows: list[dict]) -> str:
    """The three goals, checked per size and mask kind."""
    out = []

    def mean(size: int, kind: str, method: str, key: str) -> float | None:
        sel = [r[key] for r in rows if r["size"] == size and r["mask"] == kind and r["method"] == method]
        return statistics.mean(sel) if sel else None

    for size in sorted({r["size"] for r in rows}):
        for kind in MASKS:
            e_psnr, e_ssim = mean(size, kind, "engine", "psnr"), mean(size, kind, "engine", "ssim")
            if e_psnr is None:
                continue
            best_psnr = max(
                v
                for v in (mean(size, kind, "telea_r3", "psnr"), mean(size, kind, "ns_r3", "psnr"))
                if v is not None
            )
            best_ssim = max(
                v
                for v in (mean(size, kind, "telea_r3", "ssim"), mean(size, kind, "ns_r3", "ssim"))
                if v is not None
            )
            det = mean(size, kind, "engine", "detail")
            ok1 = e_psnr >= best_psnr and e_ssim >= best_ssim
            large = kind in ("square25", "out256")
            ok2 = det >= 0.6 if large else True
            out.append(
                f"{size} {kind:8s}: fidelity {'OK ' if ok1 else 'MISS'} "
                f"(PSNR {e_psnr:.2f} vs {best_psnr:.2f},"
                f" SSIM {e_ssim:.3f} vs {best_ssim:.3f}); detail {det:.2f}"
                f"{' (goal >= 0.6: ' + ('OK' if ok2 else 'MISS') + ')' if large else ''}; "
                f"CPU {mean(size, kind, 'engine', 'cpu'):.2f} s"
                + (
                    f" (goal <= 3 s: {'OK' if mean(size, kind, 'engine', 'cpu') <= 3.0 else 'MISS'})"
                    if size == 1024 and kind == "square25"
                    else ""
                )
            )
    return "\n".join(out)


def generation_and_variation_sheets() -> str:
    """Sheets of procedural pictures and variations at 1024, with their CPU times."""
    from dalle_widgets.engine.backends.classical.procedural import generate
    from dalle_widgets.engine.backends.classical.reframe import vary

    prompts = [
        "a red sunset over the ocean",
        "snowy mountains at night with stars",
        "a green forest by a blue lake",
        "a city skyline at sunrise",
        "desert dunes at dawn",
        "a white siamese cat wearing a hat",
        "abstract purple and gold composition",
        "a watercolor fox",
    ]
    lines, rows = [], []
    for p in prompts:
        c = time.process_time()
        img = generate(p, size=1024, seed=0)
        lines.append(f"| generate 1024 | {p} | {time.process_time() - c:.3f} |")
        rows.append(img)
    sheet = [(f"{p}", {"seed 0": im}) for p, im in zip(prompts, rows, strict=True)]
    grid = Image.new("RGB", (4 * 384, 2 * 384))
    for i, (_, d) in enumerate(sheet):
        grid.paste(
            Image.fromarray(d["seed 0"]).resize((384, 384), Image.LANCZOS), ((i % 4) * 384, (i // 4) * 384)
        )
    grid.save(OUT / "engine_generate.png", optimize=True)
    var_rows = []
    for name in ("rocket", "astronaut", "coffee"):
        src = square_photo(name, 1024)
        imgs = {"original": src}
        for i in range(4):
            c = time.process_time()
            imgs[f"variation {i}"] = vary(src, size=1024, seed=0, index=i)
            lines.append(f"| vary 1024 | {name} #{i} | {time.process_time() - c:.3f} |")
        var_rows.append((name, imgs))
    contact_sheet(var_rows, OUT / "engine_vary.png")
    return "| operation | input | CPU s |\n|---|---|---|\n" + "\n".join(lines)


def throughput(n: int = 40, concurrency: int = 4) -> str:
    import anyio
    import httpx

    from dalle_widgets.engine.background import BackgroundEngine

    engine = BackgroundEngine.start()
    try:

        async def main() -> float:
            sem = anyio.Semaphore(concurrency)
            async with httpx.AsyncClient(
                base_url=engine.base_url, timeout=120, headers={"Authorization": f"Bearer {engine.token}"}
            ) as http:

                async def one(i: int) -> None:
                    async with sem:
                        r = await http.post(
                            "/images/generations",
                            json={
                                "prompt": f"a red sunset over the ocean {i}",
                                "size": "256x256",
                                "response_format": "b64_json",
                            },
                        )
                        r.raise_for_status()

                start = time.perf_counter()
                async with anyio.create_task_group() as tg:
                    for i in range(n):
                        tg.start_soon(one, i)
                return time.perf_counter() - start

        elapsed = anyio.run(main)
    finally:
        engine.stop()
    return (
        f"server throughput, 256 px generations over HTTP: {n / elapsed:.1f} images/s ({n} requests, "
        f"concurrency {concurrency}, {elapsed:.2f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="512 only, no biharmonic")
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--photos", nargs="+", default=list(PHOTOS))
    parser.add_argument("--skip", nargs="*", default=[], help="methods to leave out")
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args(argv)
    sizes = [512] if args.quick else args.sizes
    skip = set(args.skip) | ({"biharmonic"} if args.quick else set())
    methods = [m for m in METHODS if m not in skip]
    rows = run_fill(sizes, args.photos, methods)
    print(f"Fill, mean over {len(args.photos)} photos ({', '.join(args.photos)}); one run each, one core")
    print(table(rows))
    print()
    print(verdict(rows))
    (OUT / "engine_fill.json").write_text(json.dumps(rows, indent=1))
    print()
    print(generation_and_variation_sheets())
    if not args.no_server:
        print()
        print(throughput())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
