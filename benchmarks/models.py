"""Benchmark the diffusers backend: seconds per step and per image, peak memory, and our overhead.

For each size (512 and 1024 by default) the recipe is rendered natively at that size
(its ``native_size`` is overridden), and one generation (prior + decoder) and one edit
(prior + inpaint decoder, a centred square mask) are timed three ways, interleaved so
that load from other processes hits all of them alike:

* ``direct``: the diffusers pipelines called directly (the same loaded pipeline objects,
  the same steps, guidance, size and seed), as a user of diffusers would;
* ``backend``: ``DiffusersBackend.generate`` / ``.edit`` (the recipe, the seeds, the
  paste-back, the progress hooks);
* ``http``: the engine on 127.0.0.1, called with the official ``openai`` SDK
  (``response_format="b64_json"``): validation, a worker thread, PNG encoding, base64.

It prints the median seconds per image, seconds per decoder step (from the step
callbacks of the direct run), the overhead of ``backend`` and ``http`` over ``direct``
(the goal: under 5 %), and the process's peak resident memory (plus the peak CUDA
memory on a GPU). Each size runs in its own process, so its peak is its own.

On a CPU the overhead is computed from the process's CPU time (all threads: the
server runs in this process), which other processes' load barely moves; wall time
on a shared machine can swing by tens of percent between two identical calls. On a
GPU, wall time is what counts and what is compared.

Usage::

    python benchmarks/models.py                       # tiny random pipelines built in a temp dir
    python benchmarks/models.py --recipe my.toml      # real weights (e.g. a copy of the default recipe)
    python benchmarks/models.py --sizes 512 --repeat 3 --quality low --threads 2

The tiny pipelines make the harness itself cheap to run anywhere (their overhead figure is
an upper bound: the fixed costs weigh more against a model that takes milliseconds);
real figures come from a real recipe. No test asserts a time.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MB (Linux reports KB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def measure(
    recipe_path: str, size: int, quality: str, repeat: int, threads: int | None, ops: list[str]
) -> dict[str, Any]:
    """Time one size in this process; return the figures as a dict."""
    import numpy as np
    import torch
    from openai import OpenAI
    from PIL import Image

    from dalle_widgets.engine.backends.diffusers import DiffusersBackend
    from dalle_widgets.engine.backends.diffusers.compose import inpaint_mask
    from dalle_widgets.engine.backends.diffusers.recipe import load_recipe
    from dalle_widgets.engine.background import BackgroundEngine

    if threads:
        torch.set_num_threads(threads)
    recipe = load_recipe(recipe_path).with_overrides(native_size=size)
    backend = DiffusersBackend(recipe)
    rt = backend.runtime
    prior_steps, steps = recipe.steps_for(quality)
    prompt = "a lighthouse on a cliff at dusk, oil painting"
    seed = 1234
    image = np.asarray(Image.new("RGB", (size, size), (90, 120, 160)))
    image = (image + np.linspace(0, 90, size, dtype=np.uint8)[None, :, None]).astype(np.uint8)
    mask = np.zeros((size, size), bool)
    mask[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = True
    step_times: list[float] = []

    def tick(pipe: Any, i: int, t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        step_times.append(time.perf_counter())
        return kwargs

    def direct(op: str) -> None:
        prior = rt.role("prior")
        g = torch.Generator("cpu").manual_seed(seed)
        emb = prior(
            prompt,
            negative_prompt="",
            num_inference_steps=prior_steps,
            guidance_scale=recipe.prior_guidance,
            generator=g,
            output_type="pt",
        )
        step_times.clear()
        common = dict(
            image_embeds=emb.image_embeds,
            negative_image_embeds=emb.negative_image_embeds,
            height=size,
            width=size,
            num_inference_steps=steps,
            guidance_scale=recipe.guidance,
            generator=torch.Generator("cpu").manual_seed(seed),
            output_type="np",
            callback_on_step_end=tick,
        )
        if op == "generate":
            rt.role("decoder")(**common)
        else:
            rt.role("inpaint")(
                image=Image.fromarray(image), mask_image=inpaint_mask(mask, (size, size)), **common
            )

    def ours(op: str) -> None:
        if op == "generate":
            backend.generate(prompt, size=size, n=1, seed=seed, quality=quality)
        else:
            backend.edit(image, mask, prompt, size=size, n=1, seed=seed, quality=quality)

    engine = BackgroundEngine.start(backend=backend)
    sdk = OpenAI(base_url=engine.base_url, api_key=engine.token, max_retries=0, timeout=3600)
    png = io.BytesIO()
    Image.fromarray(np.dstack([image, np.where(mask, 0, 255).astype(np.uint8)])).save(png, "PNG")
    rgba = png.getvalue()
    extra = {"seed": seed}

    def http(op: str) -> None:
        if op == "generate":
            r = sdk.images.generate(
                model="dall-e-2",
                prompt=prompt,
                size=f"{size}x{size}",
                response_format="b64_json",
                extra_body=extra,
            )
        else:
            r = sdk.images.edit(
                model="dall-e-2",
                image=("image.png", rgba, "image/png"),
                prompt=prompt,
                size=f"{size}x{size}",
                response_format="b64_json",
                extra_body=extra,
            )
        base64.b64decode(r.data[0].b64_json)

    # The engine maps no request field to steps for dall-e-2: the recipe's medium steps serve it.
    if quality != "medium":
        recipe = recipe.with_overrides(
            steps={**recipe.steps, "medium": steps}, prior_steps={**recipe.prior_steps, "medium": prior_steps}
        )
        backend.recipe = recipe
        rt.recipe = recipe
    runners = {"direct": direct, "backend": ours, "http": http}
    out: dict[str, Any] = {
        "size": size,
        "steps": steps,
        "prior_steps": prior_steps,
        "device": rt.device,
        "dtype": rt.dtype_name,
        "threads": torch.get_num_threads(),
    }
    try:
        for op in ops:
            for run in runners.values():  # warm-up: loads every role, fits the preview map, oneDNN set-up
                run(op)
            times: dict[str, list[float]] = {k: [] for k in runners}
            cpu: dict[str, list[float]] = {k: [] for k in runners}
            per_step: list[float] = []
            for _ in range(repeat):
                for name, run in runners.items():
                    t0, c0 = time.perf_counter(), time.process_time()
                    run(op)
                    times[name].append(time.perf_counter() - t0)
                    cpu[name].append(time.process_time() - c0)
                    if name == "direct" and len(step_times) > 1:
                        per_step.append((step_times[-1] - step_times[0]) / (len(step_times) - 1))
            out[op] = {k: statistics.median(v) for k, v in times.items()}
            out[op]["cpu"] = {k: statistics.median(v) for k, v in cpu.items()}
            out[op]["step"] = statistics.median(per_step) if per_step else float("nan")
    finally:
        engine.stop()
    out["peak_rss_mb"] = peak_rss_mb()
    if rt.device.startswith("cuda"):
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", help="recipe file (default: tiny random pipelines built in a temp dir)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--quality", default="medium", choices=["low", "medium", "high"])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per path (median reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--ops", nargs="+", default=["generate", "edit"], choices=["generate", "edit"])
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if args.worker:
        print(
            json.dumps(measure(args.recipe, args.worker, args.quality, args.repeat, args.threads, args.ops))
        )
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        recipe = args.recipe
        label = recipe
        if recipe is None:
            from dalle_widgets.engine.backends.diffusers.tiny import build_tiny_recipe

            recipe = str(build_tiny_recipe(Path(tmp) / "tiny"))
            label = "tiny random Kandinsky-shaped pipelines (built in code)"
        print(f"recipe: {label}; quality {args.quality}; median of {args.repeat} interleaved runs per path")
        rows = []
        for size in args.sizes:
            cmd = [
                sys.executable,
                __file__,
                "--recipe",
                recipe,
                "--worker",
                str(size),
                "--quality",
                args.quality,
                "--repeat",
                str(args.repeat),
            ]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            cmd += ["--ops", *args.ops]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if done.returncode:
                print(done.stderr[-3000:], file=sys.stderr)
                return 1
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    first = rows[0]
    print(
        f"device {first['device']}, {first['dtype']}, {first['threads']} torch threads; "
        f"{first['prior_steps']} prior + {first['steps']} decoder steps\n"
    )
    on_gpu = first["device"] != "cpu"
    basis = "wall time" if on_gpu else "CPU time"
    print(
        "| size | op | s/step (decoder) | direct s/image | backend s/image | http s/image "
        f"| backend overhead ({basis}) | http overhead ({basis}) | peak RSS MB |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    worst = 0.0
    for r in rows:
        for op in [k for k in ("generate", "edit") if k in r]:
            t = r[op]
            ref = t if on_gpu else t["cpu"]
            ob = ref["backend"] / ref["direct"] - 1
            oh = ref["http"] / ref["direct"] - 1
            worst = max(worst, oh)
            print(
                f"| {r['size']} | {op} | {t['step']:.4f} | {t['direct']:.3f} | {t['backend']:.3f} "
                f"| {t['http']:.3f} | {ob:+.1%} | {oh:+.1%} | {r['peak_rss_mb']:.0f}"
                + (f" (CUDA {r['peak_cuda_mb']:.0f})" if "peak_cuda_mb" in r else "")
                + " |"
            )
    verdict = "met" if worst < 0.05 else "NOT met"
    print(
        f"\ngoal: the server's overhead under 5 % of the direct pipeline ({basis}): {verdict} "
        f"(worst {worst:+.1%})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
