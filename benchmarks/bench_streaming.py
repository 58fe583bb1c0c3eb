"""Batch-1 streaming inference: StreamingRNN (CSR weights) against torch's dense modules.

Streaming = samples arrive one at a time, so each time step is one call carrying the state. Default
shapes: input 256, hidden 1024, one layer, batch 1, 100 steps per measurement, float32, CPU, one
intra-op thread (``--threads``), inference (``torch.no_grad``). Compared, per cell (RNN-tanh, LSTM,
GRU), as time per step:

- ``torch_module``: the dense fused ``torch.nn.RNN/LSTM/GRU`` called on each step (sequence length 1)
  — the reference of the target (≥ 3× at 90 % sparsity);
- ``torch_cell``: the dense ``torch.nn.RNNCell/LSTMCell/GRUCell`` with the same weights, on each step
  (plain dense matrix–vector products: the fair dense baseline for streaming);
- ``torch_sequence``: the dense fused module over the whole sequence in one call, per step (not
  streaming: it needs all input up front; shown for scale);
- ``sparse_module``: ``SparseRNN/LSTM/GRU`` on each step (masked fused kernels: no speed-up, by design);
- ``streaming``: ``StreamingRNN.step`` on each step, at 50 %, 80 %, 90 % and 95 % sparsity (random masks).

Rounds are interleaved (every round times each variant once, in a fresh random order); a variant's
speed-up is the median over rounds of (torch_module time / its time) in process CPU time. The output
of every streaming variant is checked against its sparse module.

Run ``python benchmarks/bench_streaming.py [--quick]``; writes ``benchmarks/results/streaming.json``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import torch

from _common import write_results
from sparsernn.nn import StreamingRNN, make_rnn

MODULES = {"rnn_tanh": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
CELLS = {"rnn_tanh": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}
SPARSITIES = (0.5, 0.8, 0.9, 0.95)
TARGET = 3.0  # speed-up over torch_module at 90 % sparsity


def per_step(step: Callable, x: torch.Tensor, state: object) -> Callable[[], None]:
    """A closure feeding the rows of ``x`` one call at a time, carrying the state."""

    def run() -> None:
        s = state
        for t in range(x.shape[0]):
            s = step(x[t], s)

    return run


def variants(
    cell: str, args: argparse.Namespace, x: torch.Tensor
) -> tuple[dict[tuple[str, float], Callable], dict]:
    torch.manual_seed(0)
    dense = MODULES[cell](args.input, args.hidden).eval()
    single = CELLS[cell](args.input, args.hidden).eval()
    single.load_state_dict({k.removesuffix("_l0"): v for k, v in dense.state_dict().items()})
    x3 = x.unsqueeze(1)  # (seq, 1, input): the modules' batched layout with batch 1
    h = torch.zeros(1, 1, args.hidden)
    module_state = (h, h) if cell == "lstm" else h
    cell_state = (h[0], h[0]) if cell == "lstm" else h[0]
    timed = {
        ("torch_module", 0.0): per_step(lambda xt, s: dense(xt[None, None], s)[1], x, module_state),
        ("torch_cell", 0.0): per_step(lambda xt, s: single(xt[None], s), x, cell_state),
        ("torch_sequence", 0.0): lambda: dense(x3, module_state),
    }
    errors = {}
    for sparsity in SPARSITIES:
        sparse = make_rnn(cell, args.input, args.hidden).eval()
        sparse.load_state_dict(dense.state_dict(), strict=False)
        gen = torch.Generator().manual_seed(1)
        for name, mask in sparse.masks.items():
            sparse.set_mask(name, torch.rand(mask.shape, generator=gen) >= sparsity)
        stream = StreamingRNN.from_module(sparse)
        timed[("sparse_module", sparsity)] = per_step(
            lambda xt, s, m=sparse: m(xt[None, None], s)[1], x, module_state
        )
        timed[("streaming", sparsity)] = per_step(lambda xt, s, m=stream: m.step(xt, s)[1], x, None)
        errors[sparsity] = float((stream(x3)[0] - sparse(x3)[0]).abs().max())
    return timed, errors


def measure(timed: dict[tuple[str, float], Callable], rounds: int, warmup: int, seed: int) -> dict:
    """Median CPU time per call and median per-round speed-up over ``torch_module``."""
    for run in timed.values():
        for _ in range(warmup):
            run()
    order = list(timed)
    shuffler = random.Random(seed)
    cpu: dict[tuple[str, float], list[float]] = {key: [] for key in timed}
    for _ in range(rounds):
        shuffler.shuffle(order)
        for key in order:
            start = time.process_time()
            timed[key]()
            cpu[key].append(time.process_time() - start)
    reference = cpu[("torch_module", 0.0)]
    return {
        key: {
            "cpu_ms": 1e3 * statistics.median(times),
            "speedup": statistics.median(r / t for r, t in zip(reference, times)),
        }
        for key, times in cpu.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds (a smoke run, noisy numbers)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seq", type=int, default=100)
    parser.add_argument("--input", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=1024)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seq = 3, 20
    torch.set_num_threads(args.threads)
    rows, agreement = [], {}
    with torch.no_grad():
        for cell in MODULES:
            x = torch.randn(args.seq, args.input, generator=torch.Generator().manual_seed(2))
            timed, errors = variants(cell, args, x)
            agreement[cell] = max(errors.values())
            for (impl, sparsity), values in measure(timed, args.rounds, 1, seed=len(cell)).items():
                per_step_us = 1e3 * values["cpu_ms"] / args.seq
                rows.append(
                    {"cell": cell, "impl": impl, "sparsity": sparsity, "us_per_step": per_step_us, **values}
                )
    print(f"{'cell':9s} {'impl':15s} {'sparsity':>8s} {'µs/step':>9s} {'speed-up':>9s}")
    for r in rows:
        flag = "  ok" if r["impl"] == "streaming" and r["sparsity"] == 0.9 and r["speedup"] >= TARGET else ""
        if r["impl"] == "streaming" and r["sparsity"] == 0.9 and not flag:
            flag = "  < target"
        print(
            f"{r['cell']:9s} {r['impl']:15s} {r['sparsity']:8.0%} {r['us_per_step']:9.1f} {r['speedup']:9.2f}{flag}"
        )
    at_target = {
        r["cell"]: round(r["speedup"], 2) for r in rows if r["impl"] == "streaming" and r["sparsity"] == 0.9
    }
    over_cell = {
        cell: round(
            next(r["us_per_step"] for r in rows if r["cell"] == cell and r["impl"] == "torch_cell")
            / next(
                r["us_per_step"]
                for r in rows
                if r["cell"] == cell and r["impl"] == "streaming" and r["sparsity"] == 0.9
            ),
            2,
        )
        for cell in MODULES
    }
    print(
        f"streaming at 90 %: {at_target} × the dense fused module (target ≥ {TARGET}); {over_cell} × the dense cell"
    )
    print(f"largest |streaming − sparse module| output difference: {max(agreement.values()):.2e}")
    path = write_results(
        "streaming",
        rows,
        shapes={"input": args.input, "hidden": args.hidden, "seq": args.seq, "batch": 1, "layers": 1},
        rounds=args.rounds,
        target_speedup_at_90=TARGET,
        speedup_at_90_vs_module=at_target,
        speedup_at_90_vs_cell=over_cell,
        max_abs_difference=agreement,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
