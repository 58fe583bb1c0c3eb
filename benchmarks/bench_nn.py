"""Training-step time of the sparse recurrent modules against the dense torch module and deepstruct.

One training step = forward + backward + Adam step on a random batch; the loss is the mean square of
the last time step's output (deepstruct's masked layers return only that step). Default shapes:
batch 32, sequence 50, input 64, hidden 256, one layer, sequence-first, float32, CPU, one intra-op
thread (``--threads``). Compared, per cell (RNN-tanh, LSTM, GRU):

- ``torch``: the dense ``torch.nn.RNN/LSTM/GRU`` (the reference, ratio 1), and ``torch_again``, a
  second dense module measured the same way: its ratio shows the noise of the measurement;
- ``sparsernn``: ``SparseRNN/LSTM/GRU`` at 0 %, 50 %, 90 % sparsity (random masks) in a plain user
  loop (each forward masks weight and gradient by a bit-wise AND, and the library's global
  optimizer-step hook re-zeroes the pruned entries after each step);
- ``sparsernn_keep``: the same with ``keep_masks`` on top (a second, redundant re-zeroing);
- ``deepstruct``: the masked recurrent layers of the ``deepstruct`` package (a Python loop over time
  steps) at the same sparsities, when it can be imported.

Measurements are interleaved: every round times one step of each variant in a freshly shuffled
order, so load changes on a shared machine hit all variants alike. The ratio of a variant is the
median over rounds of (its step time / the dense step time of the same round), computed both from the
process CPU time (the figure the target refers to; on a shared machine wall time also counts the time
other processes hold the core) and from wall time.

Everything runs twice: with torch's default ``Adam`` and with ``Adam(fused=True)``. The default
(single-tensor) CPU Adam is markedly slower on state entries that are exactly zero (its ``sqrt`` of 0
is several times slower than of a normal number on some CPUs), and masked training makes the Adam
state of every pruned weight exactly zero: that cost belongs to the optimizer, not to the module, and
the fused Adam does not have it.

Subnormal floats: at high sparsity the backward pass of RNN-tanh can produce subnormal gradients
(the sparse recurrence lets them vanish through time), and some CPUs (e.g. Intel Xeons) compute on
subnormals many times slower; that cost comes from the model's numerics, not from the masks, and is
the same with any masking scheme. ``--flush-denormal`` flushes them to zero for every variant alike,
isolating the mask overhead.

Run ``python benchmarks/bench_nn.py [--quick] [--flush-denormal]``; writes ``benchmarks/results/nn.json``.
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import time
from collections.abc import Callable

import torch

from _common import write_results
from sparsernn.nn import keep_masks, make_rnn

CELLS = {"rnn_tanh": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
SPARSITIES = (0.0, 0.5, 0.9)
TARGET = 1.05
IMPLS = ("torch", "torch_again", "sparsernn", "sparsernn_keep", "deepstruct")


def random_masks(shapes: dict[str, torch.Size], sparsity: float, seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {name: torch.rand(shape, generator=gen) >= sparsity for name, shape in shapes.items()}


def step_fn(module: torch.nn.Module, run: Callable, x: torch.Tensor, hook: bool, fused: bool) -> Callable:
    """A closure doing one training step of ``module``; ``run(x)`` returns the last step's output."""
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3, fused=fused)
    if hook:
        keep_masks(optimizer, module)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        run(x).pow(2).mean().backward()
        optimizer.step()

    return step


def torch_variants(cell: str, args: argparse.Namespace, x: torch.Tensor) -> dict[tuple[str, float], Callable]:
    torch.manual_seed(0)
    dense = CELLS[cell](args.input, args.hidden, args.layers)
    again = CELLS[cell](args.input, args.hidden, args.layers)
    again.load_state_dict(dense.state_dict())
    variants = {
        ("torch", 0.0): step_fn(dense, lambda x: dense(x)[0][-1], x, hook=False, fused=args.fused),
        ("torch_again", 0.0): step_fn(again, lambda x: again(x)[0][-1], x, hook=False, fused=args.fused),
    }
    for sparsity in SPARSITIES:
        sparse = make_rnn(cell, args.input, args.hidden, args.layers)
        sparse.load_state_dict(dense.state_dict(), strict=False)
        shapes = {name: mask.shape for name, mask in sparse.masks.items()}
        for name, mask in random_masks(shapes, sparsity, seed=1).items():
            sparse.set_mask(name, mask)
        run = lambda x, m=sparse: m(x)[0][-1]  # noqa: E731
        variants[("sparsernn", sparsity)] = step_fn(sparse, run, x, hook=False, fused=args.fused)
        kept = copy.deepcopy(sparse)
        run = lambda x, m=kept: m(x)[0][-1]  # noqa: E731
        variants[("sparsernn_keep", sparsity)] = step_fn(kept, run, x, hook=True, fused=args.fused)
    return variants


def deepstruct_variants(
    cell: str, args: argparse.Namespace, x: torch.Tensor
) -> dict[tuple[str, float], Callable]:
    """deepstruct's MaskedDeepRNN with the masked layer of ``cell``; raises if deepstruct is unusable."""
    from deepstruct.recurrent import MaskedDeepRNN, MaskedGRULayer, MaskedLSTMLayer, MaskedRecurrentLayer

    layer = {"rnn_tanh": MaskedRecurrentLayer, "lstm": MaskedLSTMLayer, "gru": MaskedGRULayer}[cell]
    variants = {}
    for sparsity in SPARSITIES:
        torch.manual_seed(0)
        model = MaskedDeepRNN(args.input, [args.hidden] * args.layers, build_recurrent_layer=layer)
        for i, rec in enumerate(model._recurrent_layers):
            shapes = {"ih": rec._weight_ih.shape, "hh": rec._weight_hh.shape}
            masks = random_masks(shapes, sparsity, seed=10 + i)
            rec.set_i2h_mask(masks["ih"])
            rec.set_h2h_mask(masks["hh"])
        variants[("deepstruct", sparsity)] = step_fn(model, model, x, hook=False, fused=args.fused)
    return variants


def measure(variants: dict[tuple[str, float], Callable], rounds: int, warmup: int, seed: int) -> dict:
    """Per variant: median step time and median per-round ratio to the dense torch step.

    Both the CPU time of the process (``cpu_*``: robust on a shared machine, where wall time also
    counts the time other processes hold the core) and the wall time (``wall_*``) are recorded.
    """
    for step in variants.values():
        for _ in range(warmup):
            step()
    order = list(variants)
    shuffler = random.Random(seed)
    cpu: dict[tuple[str, float], list[float]] = {key: [] for key in variants}
    wall: dict[tuple[str, float], list[float]] = {key: [] for key in variants}
    for _ in range(rounds):
        shuffler.shuffle(order)
        for key in order:
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            variants[key]()
            cpu[key].append(time.process_time() - start_cpu)
            wall[key].append(time.perf_counter() - start_wall)
    return {key: {**summary(cpu, key, "cpu"), **summary(wall, key, "wall")} for key in variants}


def summary(
    times: dict[tuple[str, float], list[float]], key: tuple[str, float], clock: str
) -> dict[str, float]:
    dense = times[("torch", 0.0)]
    return {
        f"{clock}_ms": 1e3 * statistics.median(times[key]),
        f"{clock}_ratio": statistics.median(t / d for t, d in zip(times[key], dense)),
    }


def run_cell(cell: str, args: argparse.Namespace) -> tuple[list[dict], str | None]:
    torch.manual_seed(123)
    x = torch.randn(args.seq, args.batch, args.input)
    variants = torch_variants(cell, args, x)
    deepstruct_error = None
    try:
        peer = deepstruct_variants(cell, args, x)
        for step in peer.values():
            step()  # fails here, not mid-measurement, if it cannot run on this torch
        variants.update(peer)
    except Exception as err:  # any failure of the peer is reported, not fatal
        deepstruct_error = f"{type(err).__name__}: {err}"
    stats = measure(variants, args.rounds, args.warmup, seed=len(cell))
    optimizer = "adam_fused" if args.fused else "adam"
    rows = [
        {"optimizer": optimizer, "cell": cell, "impl": impl, "sparsity": sparsity, **values}
        for (impl, sparsity), values in stats.items()
    ]
    return sorted(rows, key=lambda r: (IMPLS.index(r["impl"]), r["sparsity"])), deepstruct_error


def print_table(rows: list[dict]) -> None:
    print(
        f"{'optimizer':10s} {'cell':9s} {'impl':14s} {'sparsity':>8s} {'cpu ms':>8s} {'× dense':>8s} {'wall ×':>7s}"
    )
    for r in rows:
        flag = (
            ""
            if not r["impl"].startswith("sparsernn")
            else ("  ok" if r["cpu_ratio"] <= TARGET else "  > target")
        )
        print(
            f"{r['optimizer']:10s} {r['cell']:9s} {r['impl']:14s} {r['sparsity']:8.0%} "
            f"{r['cpu_ms']:8.2f} {r['cpu_ratio']:8.3f} {r['wall_ratio']:7.3f}{flag}"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds (a smoke run, noisy numbers)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument(
        "--flush-denormal",
        action="store_true",
        help="flush subnormal floats to zero (torch.set_flush_denormal), for all variants alike",
    )
    parser.add_argument("--optimizer", choices=["both", "adam", "adam_fused"], default="both")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=50)
    parser.add_argument("--input", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.warmup = 5, 1
    return args


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(args.flush_denormal)
    rows, errors = [], {}
    optimizers = ["adam", "adam_fused"] if args.optimizer == "both" else [args.optimizer]
    for optimizer in optimizers:
        args.fused = optimizer == "adam_fused"
        for cell in CELLS:
            cell_rows, error = run_cell(cell, args)
            rows += cell_rows
            if error:
                errors[cell] = error
    print_table(rows)
    worst = {
        opt: round(max(r["cpu_ratio"] for r in rows if r["impl"] == "sparsernn" and r["optimizer"] == opt), 4)
        for opt in optimizers
    }
    noise = round(max(abs(r["cpu_ratio"] - 1) for r in rows if r["impl"] == "torch_again"), 4)
    print(f"worst sparsernn CPU-time ratio: {worst} (target ≤ {TARGET}); noise (dense vs dense) ±{noise}")
    print(f"threads {torch.get_num_threads()}, rounds {args.rounds}")
    for cell, error in errors.items():
        print(f"deepstruct not measured for {cell}: {error}")
    path = write_results(
        "nn",
        rows,
        shapes={k: getattr(args, k) for k in ("batch", "seq", "input", "hidden", "layers")},
        threads=torch.get_num_threads(),
        rounds=args.rounds,
        flush_denormal=args.flush_denormal,
        optimizers={
            "adam": "torch.optim.Adam(lr=1e-3)",
            "adam_fused": "torch.optim.Adam(lr=1e-3, fused=True)",
        },
        target_ratio=TARGET,
        worst_sparsernn_ratio=worst,
        noise_dense_vs_dense=noise,
        deepstruct={"version": _deepstruct_version(), "errors": errors},
    )
    print(f"wrote {path}")


def _deepstruct_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("deepstruct")
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
