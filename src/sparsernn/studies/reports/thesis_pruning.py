"""The Darji thesis' own pruning results, as published in its repository: a reference for our seeds.

Source: the public repository ``harshildarji/thesis``, files
``Implementations/experiments/results/prune/{rnn_tanh,rnn_relu,lstm,gru}.csv`` (commits
``23977012696c2391813e886c935de560f845e40b``; ``rnn_relu.csv`` at
``ac37e023e9d360cc1cc59c6631ff2498cc46f840``). Each file logs, per cell, the base model's 50 training
epochs (mode ``<cell>``) and, per kind (``<cell>_prune`` = both, ``_prune_i2h`` = ih,
``_prune_h2h`` = hh) and p = 10 … 100 %, the test accuracy right after pruning (epoch 0) and after
each of 10 retraining epochs. One model per cell (no seeds). The numbers below are read from those
files; the levels are derived from them with the report's definitions and a tolerance of 1 point:

- ``safe``: highest p such that every level up to p loses at most 1 point right after pruning;
- ``recovers``: every level up to p gets back within 1 point in at most 10 retraining epochs;
- recovery epochs: per p, the first epoch (0 = right after pruning) within 1 point of the base model.

The thesis' base accuracy is its final (50th) epoch's test accuracy; its ``rnn_tanh`` base model never
got past 0.937.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import pandas as pd

CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
KINDS = ("both", "ih", "hh")
LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # the thesis' p, in this order below
TOLERANCE = 0.01  # the tolerance the levels and recovery epochs below were derived with
THESIS_RETRAINING_EPOCHS = 10  # retraining epochs after each pruning level in the thesis
SOURCE = (
    "harshildarji/thesis, Implementations/experiments/results/prune/<cell>.csv "
    "(commits 2397701 and ac37e02 for rnn_relu)"
)

#: Final-epoch (50) test accuracy of the thesis' base model per cell.
THESIS_BASE: Mapping[str, float] = MappingProxyType(
    {"rnn_tanh": 0.93728, "rnn_relu": 1.0, "lstm": 1.0, "gru": 1.0}
)

#: Test accuracy right after pruning (epoch 0), per (cell, kind), at p = 10 … 100 % (:data:`LEVELS`).
THESIS_PRUNED: Mapping[tuple[str, str], tuple[float, ...]] = MappingProxyType(
    {
        ("rnn_tanh", "both"): (0.93728,) * 6 + (0.93296, 0.9192, 0.65584, 0.49424),
        ("rnn_tanh", "ih"): (0.93728,) * 5 + (0.93664, 0.93088, 0.81392, 0.49424, 0.49424),
        ("rnn_tanh", "hh"): (0.93728,) * 6 + (0.9264, 0.93728, 0.72032, 0.49424),
        ("rnn_relu", "both"): (1.0,) * 4 + (0.9976, 0.99296, 0.98576, 0.54864, 0.50304, 0.50576),
        ("rnn_relu", "ih"): (1.0,) * 7 + (0.94976, 0.90464, 0.50576),
        ("rnn_relu", "hh"): (1.0,) * 5 + (0.99664, 0.99072, 0.64864, 0.46352, 0.50576),
        ("lstm", "both"): (1.0,) * 6 + (0.80288, 0.66784, 0.49488, 0.50576),
        ("lstm", "ih"): (1.0,) * 6 + (0.99216, 0.9456, 0.62128, 0.50576),
        ("lstm", "hh"): (1.0,) * 7 + (0.99904, 0.95264, 0.5208),
        ("gru", "both"): (1.0,) * 5 + (0.99984, 0.99776, 0.9936, 0.5512, 0.50576),
        ("gru", "ih"): (1.0,) * 6 + (0.99952, 0.9968, 0.876, 0.50576),
        ("gru", "hh"): (1.0, 1.0) + (0.99984,) * 3 + (0.9976, 0.9928, 0.95616, 0.95072, 0.57328),
    }
)

#: First epoch within 1 point of the base model, per (cell, kind), at p = 10 … 100 % (None: never in 10).
THESIS_RECOVERY_EPOCHS: Mapping[tuple[str, str], tuple[int | None, ...]] = MappingProxyType(
    {
        ("rnn_tanh", "both"): (0,) * 7 + (1, 2, None),
        ("rnn_tanh", "ih"): (0,) * 7 + (1, 3, None),
        ("rnn_tanh", "hh"): (0,) * 6 + (1, 0, 1, None),
        ("rnn_relu", "both"): (0,) * 6 + (1, 1, 1, None),
        ("rnn_relu", "ih"): (0,) * 7 + (1, 1, None),
        ("rnn_relu", "hh"): (0,) * 7 + (1, 1, None),
        ("lstm", "both"): (0,) * 6 + (1, 1, 1, None),
        ("lstm", "ih"): (0,) * 7 + (1, 1, None),
        ("lstm", "hh"): (0,) * 8 + (1, 2),
        ("gru", "both"): (0,) * 8 + (1, None),
        ("gru", "ih"): (0,) * 8 + (1, None),
        ("gru", "hh"): (0,) * 7 + (1, 1, 2),
    }
)


def thesis_safe(cell: str, kind: str, tolerance: float = TOLERANCE) -> float | None:
    """The thesis' safe level: highest p whose every level up to p loses ≤ ``tolerance`` right after pruning.

    None when the thesis published no numbers for ``(cell, kind)``; 0.0 when even 10 % loses more.

    Examples
    --------
    >>> thesis_safe("gru", "both"), thesis_safe("rnn_tanh", "both"), thesis_safe("rnn_tanh", "both", 0.02)
    (0.8, 0.7, 0.8)
    """
    pruned = THESIS_PRUNED.get((cell, kind))
    if pruned is None:
        return None
    bar = THESIS_BASE[cell] - tolerance - 1e-12
    best = 0.0
    for level, accuracy in zip(LEVELS, pruned, strict=True):
        if accuracy < bar:
            break
        best = level
    return best


def thesis_recovers(cell: str, kind: str) -> float | None:
    """The thesis' recovered level (1-point tolerance, 10 retraining epochs); None when not published.

    Examples
    --------
    >>> thesis_recovers("gru", "hh"), thesis_recovers("rnn_relu", "both"), thesis_recovers("gru", "xx")
    (1.0, 0.9, None)
    """
    epochs = THESIS_RECOVERY_EPOCHS.get((cell, kind))
    if epochs is None:
        return None
    best = 0.0
    for level, epoch in zip(LEVELS, epochs, strict=True):
        if epoch is None:
            break
        best = level
    return best


def thesis_pruned_table(cells: list[str] | None = None) -> pd.DataFrame:
    """The thesis' accuracy right after pruning: one row per (cell, kind), one column per p, plus base.

    Examples
    --------
    >>> t = thesis_pruned_table(["gru"])
    >>> t.loc[t["kind"] == "both", ["base", "p=80%", "p=90%"]].to_dict("records")
    [{'base': 1.0, 'p=80%': 0.9936, 'p=90%': 0.5512}]
    """
    rows = []
    for (cell, kind), accuracies in THESIS_PRUNED.items():
        if cells is not None and cell not in cells:
            continue
        shown = {f"p={100 * p:g}%": a for p, a in zip(LEVELS, accuracies, strict=True)}
        rows.append({"cell": cell, "kind": kind, "base": THESIS_BASE[cell]} | shown)
    return pd.DataFrame(rows)


def thesis_recovery_table(cells: list[str] | None = None) -> pd.DataFrame:
    """The thesis' recovery epochs (1-point tolerance) per (cell, kind) and p; ``-`` = never in 10 epochs."""
    rows = []
    for (cell, kind), epochs in THESIS_RECOVERY_EPOCHS.items():
        if cells is not None and cell not in cells:
            continue
        shown = {f"p={100 * p:g}%": "-" if e is None else str(e) for p, e in zip(LEVELS, epochs, strict=True)}
        rows.append({"cell": cell, "kind": kind} | shown)
    return pd.DataFrame(rows)
