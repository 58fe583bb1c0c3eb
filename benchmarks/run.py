"""Run every benchmark script (``benchmarks/bench_*.py``) one after the other.

Each script measures its side-by-side comparisons in one process, prints a table of ratios and
writes ``benchmarks/results/<name>.json``. ``python benchmarks/run.py [--quick] [names...]``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("-")]
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script), *(["--quick"] if quick else [])])
        print(f"--- {script.stem}: {time.perf_counter() - start:.0f} s, exit {code}", flush=True)
        if code:
            failed.append(script.stem)
    if failed:
        print(f"failed: {', '.join(failed)}")
    print(f"results in {HERE / 'results'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
