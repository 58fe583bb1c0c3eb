"""Structure-study throughput (DESIGN section 8): trained graph-structured models per hour on 2 cores.

    python benchmarks/bench_structure.py [--quick]

At the protocol's settings (Reber task, 18,750 training strings, batch 128, 15 epochs, Adam, clip 5)
the time to train one model is ``15 × 147`` training steps plus one evaluation of the 6,250 test
strings (49 batches; only the final-epoch accuracy is recorded, and evaluation does not change
training). Per cell kind, on the same graphs (BA and WS, n in [10, 50], as the protocol draws them),
the script times real training steps and evaluation batches of

1. ``straightforward``: one model at a time, :func:`sparsernn.train.train_epoch` on the
   GraphClassifier built from the fused per-layer Sparse modules (the reference);
2. ``packed``: the run's models trained together (``sparsernn.train.many``, the protocol's default),
   the same training as one by one to rounding;
3. ``packed + length bucketing``: the same with batches of similar lengths (NOT the protocol's batches).

Both sides run in the same process, interleaved, on one intra-op thread. The machine is shared with
other work, so timings are noisy: each figure is the median of several interleaved repeats. The
2-core figure runs the packed measurement in two processes at once (one model group per core, as the
study's sweep does) and adds their throughputs. Writes ``benchmarks/results/structure.json``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

import torch
from torch.utils.data import DataLoader

from _common import write_results
from sparsernn.data import build, collate
from sparsernn.nn import GraphClassifier
from sparsernn.nn.wavefront import PackedModels
from sparsernn.studies.protocols.graph_families import make_graph
from sparsernn.train.loop import train_epoch
from sparsernn.train.many import (
    LengthBatches,
    ShuffledBatches,
    _model_ids,
    clip_per_model_,
    evaluate_many,
    flush_denormals,
)

CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
EPOCHS, TRAIN_BATCHES, TEST_BATCHES = 15, 147, 49  # 18,750 / 128 and 6,250 / 128, rounded up


def graphs(count: int) -> list:
    """``count`` graphs, alternately BA and WS, drawn as the protocol draws them (study seed 0)."""
    return [make_graph(("barabasi_albert", "watts_strogatz")[i % 2], 0, i // 2)[0] for i in range(count)]


def models(cell: str, count: int) -> list[GraphClassifier]:
    torch.manual_seed(0)
    return [GraphClassifier.from_graph(g, cell, vocab_size=128) for g in graphs(count)]


def batches(splits, sampler, count: int) -> list:
    loader = DataLoader(splits.train, batch_sampler=sampler, collate_fn=collate)
    return [b for _, b in zip(range(count), loader)]


def seconds_per_model_straightforward(cell: str, data: dict, count: int) -> float:
    """Training-step and evaluation seconds of one model, one model at a time."""
    total = 0.0
    for model in models(cell, count):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        train_epoch(model, data["train"][:1], opt, clip=5.0)  # warm-up
        start = time.perf_counter()
        train_epoch(model, data["train"], opt, clip=5.0)
        step = (time.perf_counter() - start) / len(data["train"])
        start = time.perf_counter()
        with torch.no_grad():
            for b in data["test"]:
                model(b.x, b.lengths)
        evaluation = (time.perf_counter() - start) / len(data["test"])
        total += EPOCHS * TRAIN_BATCHES * step + TEST_BATCHES * evaluation
    return total / count


def seconds_per_model_packed(cell: str, train: list, test: list, count: int) -> float:
    """Training-step and evaluation seconds per model, ``count`` models packed together."""
    group = models(cell, count)
    packed = PackedModels(group, block=2)
    opt = torch.optim.Adam(packed.parameters(), lr=1e-3)
    owners = _model_ids(packed)

    def step(b) -> None:
        opt.zero_grad(set_to_none=True)
        logits = packed(b.x, b.lengths)
        torch.nn.functional.cross_entropy(logits.transpose(1, 2), b.y.expand(count, -1)).mul(count).backward()
        packed.mask_gradients_()
        clip_per_model_(packed, 5.0, owners)
        opt.step()

    step(train[0])  # warm-up: buffers grow to size
    start = time.perf_counter()
    for b in train:
        step(b)
    per_step = (time.perf_counter() - start) / len(train)
    start = time.perf_counter()
    evaluate_many(packed, test)
    evaluation = (time.perf_counter() - start) / len(test)
    return (EPOCHS * TRAIN_BATCHES * per_step + TEST_BATCHES * evaluation) / count


def load_data(quick: bool, n_batches: int) -> tuple:
    splits = build("darji_reber", seed=0)
    test_loader = DataLoader(splits.test, batch_size=128, collate_fn=collate)
    test = [b for _, b in zip(range(max(2, n_batches // 2)), test_loader)]
    train = batches(splits, ShuffledBatches(len(splits.train), 128, seed=0), n_batches)
    lengths = [len(splits.train[i][0]) for i in range(len(splits.train))]
    bucketed = batches(splits, LengthBatches(lengths, 128, seed=0), n_batches)
    return train, bucketed, test


def measure_packed(args: tuple) -> dict[str, float]:
    """Packed seconds per model for every cell (run in a worker process for the 2-core figure)."""
    cells, n_batches, count = args
    torch.set_num_threads(1)
    train, _, test = load_data(False, n_batches)
    with flush_denormals():
        return {cell: seconds_per_model_packed(cell, train, test, count) for cell in cells}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer batches, models and repeats")
    args = parser.parse_args()
    torch.set_num_threads(1)
    n_batches, repeats, single, count = (4, 1, 1, 10) if args.quick else (12, 3, 3, 10)
    train, bucketed, test = load_data(args.quick, n_batches)
    rows = []
    with flush_denormals():  # both sides: the same arithmetic (see sparsernn.train.many)
        for cell in CELLS:
            times: dict[str, list[float]] = {"straightforward": [], "packed": [], "packed_bucketed": []}
            for _ in range(repeats):  # interleaved: a load spike hits both sides alike
                times["straightforward"].append(
                    seconds_per_model_straightforward(cell, {"train": train, "test": test}, single)
                )
                times["packed"].append(seconds_per_model_packed(cell, train, test, count))
                times["packed_bucketed"].append(seconds_per_model_packed(cell, bucketed, test, count))
            seconds = {k: statistics.median(v) for k, v in times.items()}
            row = {"cell": cell, **{f"{k}_s_per_model": round(v, 2) for k, v in seconds.items()}}
            row |= {f"{k}_models_per_hour_1core": round(3600 / v, 1) for k, v in seconds.items()}
            row["speedup_packed"] = round(seconds["straightforward"] / seconds["packed"], 2)
            rows.append(row)
            print(row, flush=True)
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        start = time.perf_counter()
        per_process = pool.map(measure_packed, [(CELLS, n_batches, count)] * 2)
        wall = time.perf_counter() - start
    mix = {k: sum(r[f"{k}_s_per_model"] for r in rows) / len(rows) for k in ("straightforward", "packed")}
    two_core = sum(len(CELLS) / sum(p.values()) * 3600 for p in per_process)
    summary = {
        "study_mix_models_per_hour_1core": {k: round(3600 / v, 1) for k, v in mix.items()},
        "packed_models_per_hour_2cores": round(two_core, 1),
        "packed_2core_per_cell_s_per_model": [{k: round(v, 2) for k, v in p.items()} for p in per_process],
        "speedup_packed_vs_straightforward": round(mix["straightforward"] / mix["packed"], 2),
        "target_models_per_hour_2cores": 100,
        "two_core_measurement_wall_s": round(wall, 1),
    }
    print(summary)
    path = write_results(
        "structure",
        rows,
        summary=summary,
        settings={
            "quick": args.quick,
            "measured_train_batches": n_batches,
            "measured_test_batches": len(test),
            "repeats": repeats,
            "packed_models_per_group": count,
            "straightforward_models": single,
            "epochs": EPOCHS,
            "train_batches_per_epoch": TRAIN_BATCHES,
            "test_batches": TEST_BATCHES,
            "note": "shared machine: medians of interleaved repeats; 2-core figure from two concurrent processes",
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
