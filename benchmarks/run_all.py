"""Run every benchmark script in this folder, one after another, in this interpreter.

Usage: ``python benchmarks/run_all.py [name ...]`` (names without ``.py``; default: all).
Each script prints its own table of ratios against its peers.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name)
    if argv:
        scripts = [p for p in scripts if p.stem in argv]
    failed = []
    for script in scripts:
        print(f"\n===== {script.stem} =====", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"({script.stem}: {time.perf_counter() - start:.1f} s, exit {code})", flush=True)
        if code:
            failed.append(script.stem)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
