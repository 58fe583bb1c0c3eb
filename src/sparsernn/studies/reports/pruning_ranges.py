"""Darji pruning levels as ranges over seeds, next to the thesis' levels.

Per cell and weight kind: the safe level (highest p whose every level up to p loses at most the
tolerance right after pruning), the recovered level (every level up to p gets back within the
tolerance while retraining) and, per p, the recovery epochs, each as ``min–max`` over the seeds
(each seed against its own base model); then whether the thesis' level lies inside our range.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import pandas as pd

from sparsernn import prune

#: The thesis' pruning levels (H. Darji, *Investigating Sparsity in Recurrent Neural Networks*, Univ. Passau
#: 2021, pruning chapter; values as issue 16 quotes them): safe "both" levels, and recovery up to 90 % for
#: every cell and kind, from 100 % hh for LSTM and GRU. ``(cell, measure, kind) -> sparsity``.
THESIS_LEVELS: Mapping[tuple[str, str, str], float] = MappingProxyType(
    {("rnn_tanh", "safe", "both"): 0.8, ("rnn_relu", "safe", "both"): 0.7}
    | {("lstm", "safe", "both"): 0.6, ("gru", "safe", "both"): 0.8}
    | {(c, "recovers", k): 0.9 for c in ("rnn_tanh", "rnn_relu", "lstm", "gru") for k in ("both", "ih", "hh")}
    | {("lstm", "recovers", "hh"): 1.0, ("gru", "recovers", "hh"): 1.0}
)
COLUMNS = {"safe": "safe_sparsity_{}", "recovers": "recovered_sparsity_{}"}


def _span(values: pd.Series) -> str:
    """``"60–80%"`` (or ``"70%"`` when all agree; ``"-"`` when none)."""
    values = values.dropna()
    if values.empty:
        return "-"
    low, high = 100 * values.min(), 100 * values.max()
    return f"{low:g}%" if low == high else f"{low:g}–{high:g}%"


def level_ranges(runs: pd.DataFrame, kinds: list[str]) -> pd.DataFrame:
    """Per cell, kind and measure: our range over seeds, the thesis' level, and whether it lies inside.

    ``runs`` has ``model.cell`` and the summaries ``safe_sparsity_<kind>``, ``recovered_sparsity_<kind>``.

    Examples
    --------
    >>> runs = pd.DataFrame({"model.cell": ["gru"] * 3, "safe_sparsity_both": [0.7, 0.8, 0.9],
    ...                      "recovered_sparsity_both": [0.9, 0.9, 1.0]})
    >>> level_ranges(runs, ["both"])[["measure", "ours (seeds)", "thesis", "inside"]].to_dict("records")
    [{'measure': 'safe', 'ours (seeds)': '70–90%', 'thesis': '80%', 'inside': 'yes'}, {'measure': 'recovers', 'ours (seeds)': '90–100%', 'thesis': '90%', 'inside': 'yes'}]
    """
    rows = []
    for cell, mine in runs.groupby("model.cell", sort=True):
        for kind in kinds:
            for measure, column in COLUMNS.items():
                ours = (
                    mine[column.format(kind)].astype(float) if column.format(kind) in mine else pd.Series([])
                )
                thesis = THESIS_LEVELS.get((str(cell), measure, kind))
                inside = "-" if thesis is None or ours.dropna().empty else "no"
                if inside == "no" and ours.min() - 1e-9 <= thesis <= ours.max() + 1e-9:
                    inside = "yes"
                rows.append(
                    {"cell": cell, "kind": kind, "measure": measure, "seeds": int(ours.notna().sum())}
                    | {"ours (seeds)": _span(ours), "thesis": "-" if thesis is None else f"{100 * thesis:g}%"}
                    | {"inside": inside}
                )
    return pd.DataFrame(rows)


def recovery_ranges(runs: pd.DataFrame, metrics: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Per cell, kind and p: the recovery epochs of each seed (own base model) as ``min–max``.

    ``metrics`` are the ``phase="recovery"`` accuracies (``run, kind, sparsity, epoch, value``);
    ``-`` counts a seed that never recovered (shown as ``1–-`` when some seeds did).

    Examples
    --------
    >>> runs = pd.DataFrame({"run": ["a", "b"], "model.cell": "gru", "base_accuracy": [0.9, 0.9]})
    >>> m = pd.DataFrame({"run": ["a", "a", "b", "b"], "phase": "recovery", "name": "accuracy", "kind": "hh",
    ...                   "sparsity": 1.0, "epoch": [0, 1, 0, 1], "value": [0.5, 0.9, 0.5, 0.6]})
    >>> recovery_ranges(runs, m, tolerance=0.01).to_dict("records")
    [{'cell': 'gru', 'kind': 'hh', 'p=100%': '1–-'}]
    """
    rows = metrics[(metrics["phase"] == "recovery") & (metrics["name"] == "accuracy")]
    info = runs.set_index("run")[["model.cell", "base_accuracy"]]
    epochs: dict[tuple, list] = {}
    for (run, kind, sparsity), g in rows.groupby(["run", "kind", "sparsity"]):
        accs = g.sort_values("epoch")["value"].astype(float).tolist()
        cell, base = info.loc[run, "model.cell"], float(info.loc[run, "base_accuracy"])
        epochs.setdefault((cell, kind), {}).setdefault(float(sparsity), []).append(
            prune.recovery_epochs(accs, base, tolerance=tolerance)
        )
    out = []
    for (cell, kind), by_p in sorted(epochs.items()):
        row = {"cell": cell, "kind": kind}
        for p, found in sorted(by_p.items()):
            got = [e for e in found if e is not None]
            low = str(min(got)) if got else "-"
            high = "-" if len(got) < len(found) else str(max(got)) if got else "-"
            row[f"p={100 * p:g}%"] = low if low == high else f"{low}–{high}"
        out.append(row)
    return pd.DataFrame(out)
