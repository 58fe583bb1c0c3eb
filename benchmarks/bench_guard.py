"""Ramanujan guard benchmark (issue 18): the per-step cost of ``ramanujan_guard`` on a 1,024-unit LSTM.

    python benchmarks/bench_guard.py [--quick]

An LSTM with hidden size 1,024 and input 256 (W_ih 4096 × 256, W_hh 4096 × 1024, 5.2 M weights,
PyTorch's default initialisation, seed 0) is pruned iteratively along the guard's own path. At each
level, side by side on the same previous masks:

- ``magnitude``: plain global magnitude pruning (the strongest simple alternative);
- ``expansion_all``: the full expansion record of every matrix of the step's masks
  (``sparsernn.analysis.expansion``: degrees, σ1, σ2, Δ_S, Δ_R, weighted gap);
- ``gaps_all``: Δ_S of every matrix as the guard and the expansion stopping rule compute it
  (``sparsernn.analysis.top_singular.mask_gap``: Lanczos on BᵀB, to 1e-6 relative), the cost the
  issue bounds: well under a second per step;
- ``guard``: ``ramanujan_guard`` (``guard_step``), with the number of Δ evaluations it needed,
  the matrices it capped, whether it fell back to magnitude, and the smallest Δ_S either leaves.
  Its evaluations stop as soon as the sign of Δ is certain, and a step whose fallback is certain
  skips the bisections, so it usually costs less than ``magnitude`` plus ``gaps_all``.

Writes ``benchmarks/results/guard.json``.
"""

from __future__ import annotations

import argparse
import math

import torch

from _common import time_call, write_results
from sparsernn.analysis import expansion
from sparsernn.analysis.top_singular import mask_gap
from sparsernn.prune import guard_step, magnitude

LEVELS = (0.5, 0.8, 0.9, 0.95)
TARGET_EXPANSION_SECONDS = 1.0


def lstm() -> torch.nn.LSTM:
    model = torch.nn.LSTM(256, 1024)
    gen = torch.Generator().manual_seed(0)
    bound = 1.0 / math.sqrt(1024)  # torch's default U(-1/sqrt(hidden), 1/sqrt(hidden))
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-bound, bound, generator=gen)
    return model


def smallest_delta(masks: dict[str, torch.Tensor]) -> float:
    return min(expansion(m).delta_s for m in masks.values())


def bench_step(model: torch.nn.Module, level: float, current: dict | None, repeat: int) -> tuple[dict, dict]:
    step = guard_step(model, level, current=current)
    plain = magnitude(model, level, current=current)
    row = {
        "name": f"lstm1024_step_to_sparsity{level}",
        "sparsity": level,
        "magnitude_seconds": time_call(
            lambda: magnitude(model, level, current=current), repeat=repeat, warmup=0
        ),
        "expansion_all_seconds": time_call(
            lambda: [expansion(m) for m in step.masks.values()], repeat=repeat, warmup=0
        ),
        "gaps_all_seconds": time_call(
            lambda: [mask_gap(m, "delta_s") for m in step.masks.values()], repeat=repeat, warmup=0
        ),
        "guard_seconds": time_call(
            lambda: guard_step(model, level, current=current), repeat=repeat, warmup=0
        ),
        "delta_evaluations": step.evaluations,
        "capped": sorted(step.capped),
        "fallback": step.fallback,
        "min_delta_s_guard": smallest_delta(step.masks),
        "min_delta_s_magnitude": smallest_delta(plain),
        "target_expansion_seconds": TARGET_EXPANSION_SECONDS,
    }
    row["guard_over_magnitude"] = row["guard_seconds"] / row["magnitude_seconds"]
    row["met"] = bool(row["gaps_all_seconds"] < TARGET_EXPANSION_SECONDS)
    return row, step.masks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repetition per measurement")
    args = parser.parse_args()
    repeat = 1 if args.quick else 3
    model, current, rows = lstm(), None, []
    for level in LEVELS:
        row, current = bench_step(model, level, current, repeat)
        rows.append(row)
        print(
            f"{row['name']:34s} magnitude {row['magnitude_seconds']:6.2f} s  expansion(all) "
            f"{row['expansion_all_seconds']:6.2f} s  gaps(all) {row['gaps_all_seconds']:6.2f} s  "
            f"guard {row['guard_seconds']:6.2f} s "
            f"({row['delta_evaluations']:2d} Δ, capped {row['capped'] or '-'}, fallback {row['fallback']})  "
            f"min Δ_S guard {row['min_delta_s_guard']:.2f} vs magnitude {row['min_delta_s_magnitude']:.2f}"
        )
    path = write_results("guard", rows, quick=args.quick, model="LSTM(input 256, hidden 1024)")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
