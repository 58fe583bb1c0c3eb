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
from sparsernn.studies.reports.seeds import CHANCE
from sparsernn.studies.reports.thesis_pruning import (
    CELLS,
    KINDS,
    SOURCE,
    TOLERANCE,
    thesis_pruned_table,
    thesis_recovers,
    thesis_recovery_table,
    thesis_safe,
)
from sparsernn.studies.tables import markdown_table

#: The thesis' own levels at a tolerance of 1 point (derived from its published per-level accuracies:
#: :mod:`sparsernn.studies.reports.thesis_pruning`, which cites the files and commits), as
#: ``(cell, measure, kind) -> sparsity``. Safe: rnn_tanh 70/70/60 % (both/ih/hh), rnn_relu 60/70/70 %,
#: lstm 60/70/80 %, gru 80/80/70 %; recovered: 90 % for every cell and kind, 100 % hh for LSTM and GRU.
THESIS_LEVELS: Mapping[tuple[str, str, str], float | None] = MappingProxyType(
    {(c, "safe", k): thesis_safe(c, k) for c in CELLS for k in KINDS}
    | {(c, "recovers", k): thesis_recovers(c, k) for c in CELLS for k in KINDS}
)
NOT_PUBLISHED = "not published"
OURS = "ours (min–max over seeds)"
NEVER = "never"  # a level that did not get back within the tolerance in the retraining epochs
COLUMNS = {"safe": "safe_sparsity_{}", "recovers": "recovered_sparsity_{}"}


def learned(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs whose base model learned (test accuracy ≥ :data:`~sparsernn.studies.reports.seeds.CHANCE`).

    A base model at chance loses nothing to pruning, so its "safe" levels say nothing; runs without a
    ``base_accuracy`` are kept.

    Examples
    --------
    >>> learned(pd.DataFrame({"run": ["a", "b"], "base_accuracy": [0.99, 0.503]}))["run"].tolist()
    ['a']
    """
    if "base_accuracy" not in runs:
        return runs
    return runs[runs["base_accuracy"].astype(float) >= CHANCE]


def at_chance_note(runs: pd.DataFrame) -> list[str]:
    """Markdown naming the runs :func:`learned` leaves out (empty when none).

    Examples
    --------
    >>> at_chance_note(pd.DataFrame({"model.cell": ["gru"], "seed": [2], "base_accuracy": [0.503]}))[0][:60]
    '**Left out: 1 base model that stayed at chance** (test accur'
    """
    if "base_accuracy" not in runs:
        return []
    out = runs[runs["base_accuracy"].astype(float) < CHANCE]
    if out.empty:
        return []
    shown = ", ".join(
        f"{r.get('model.cell', '?')} seed {r.get('seed', '?')} ({float(r['base_accuracy']):.3f})"
        for r in out.to_dict("records")
    )
    models = "base model that stayed" if len(out) == 1 else "base models that stayed"
    return [
        f"**Left out: {len(out)} {models} at chance** (test accuracy below {CHANCE}): {shown}. A model "
        "that learned nothing loses nothing to pruning, so its safe levels would read as 'prune anything'.",
        "",
    ]


def _order(cell: str, kind: str) -> tuple:
    """Cells alphabetically, kinds in the thesis' order (both, ih, hh)."""
    return (str(cell), KINDS.index(kind) if kind in KINDS else len(KINDS), str(kind))


def _span(values: pd.Series) -> str:
    """``"60–80%"`` (or ``"70%"`` when all agree; ``"-"`` when none)."""
    values = values.dropna()
    if values.empty:
        return "-"
    low, high = 100 * values.min(), 100 * values.max()
    return f"{low:g}%" if low == high else f"{low:g}–{high:g}%"


def _thesis_level(cell: str, measure: str, kind: str, tolerance: float) -> float | None:
    """The thesis' level at ``tolerance`` (safe: from its per-level accuracies; recovers: 1 point only)."""
    if measure == "safe":
        return thesis_safe(cell, kind, tolerance)
    return thesis_recovers(cell, kind) if abs(tolerance - TOLERANCE) < 1e-12 else None


def _inside(ours: pd.Series, thesis: float | None) -> str:
    if thesis is None or ours.dropna().empty:
        return "-"
    return "yes" if ours.min() - 1e-9 <= thesis <= ours.max() + 1e-9 else "no"


def level_ranges(runs: pd.DataFrame, kinds: list[str], tolerance: float = TOLERANCE) -> pd.DataFrame:
    """Per cell, kind and measure: our range over seeds, the thesis' level, and whether it lies inside.

    ``runs`` has ``model.cell`` and the summaries ``safe_sparsity_<kind>``, ``recovered_sparsity_<kind>``.
    The thesis' level is derived at the same ``tolerance`` (its recovered level only at 1 point, the
    tolerance its published recovery epochs were read with); "not published" where it has none.

    Examples
    --------
    >>> runs = pd.DataFrame({"model.cell": ["gru"] * 3, "safe_sparsity_both": [0.7, 0.8, 0.9],
    ...                      "recovered_sparsity_both": [0.9, 0.9, 1.0]})
    >>> level_ranges(runs, ["both"])[["measure", "ours (seeds)", "thesis", "inside"]].to_dict("records")
    [{'measure': 'safe', 'ours (seeds)': '70–90%', 'thesis': '80%', 'inside': 'yes'}, {'measure': 'recovers', 'ours (seeds)': '90–100%', 'thesis': '90%', 'inside': 'yes'}]
    """
    rows = []
    for cell, every in runs.groupby("model.cell", sort=True):
        mine = learned(every)  # a cell whose base models all stayed at chance keeps its rows, with 0 seeds
        for kind in kinds:
            for measure, column in COLUMNS.items():
                name = column.format(kind)
                ours = mine[name].astype(float) if name in mine else pd.Series([], dtype=float)
                thesis = _thesis_level(str(cell), measure, kind, tolerance)
                rows.append(
                    {"cell": cell, "kind": kind, "measure": measure, "seeds": int(ours.notna().sum())}
                    | {"ours (seeds)": _span(ours)}
                    | {"thesis": NOT_PUBLISHED if thesis is None else f"{100 * thesis:g}%"}
                    | {"inside": _inside(ours, thesis)}
                )
    return pd.DataFrame(rows)


def thesis_section(cells: list[str]) -> list[str]:
    """Markdown: the thesis' published accuracy right after pruning and recovery epochs, for ``cells``.

    Examples
    --------
    >>> thesis_section(["gru"])[0]
    "### The thesis' own numbers (one model per cell)"
    >>> thesis_section(["custom"])
    []
    """
    pruned, epochs = thesis_pruned_table(cells), thesis_recovery_table(cells)
    if pruned.empty:
        return []
    return [
        "### The thesis' own numbers (one model per cell)",
        "",
        f"Test accuracy right after pruning (epoch 0) and its base model's; source: {SOURCE}.",
        "",
        *markdown_table(pruned),
        "",
        "Its recovery epochs (first epoch within 1 point of its base model; `-`: never in 10 epochs):",
        "",
        *markdown_table(epochs),
        "",
    ]


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
    [{'cell': 'gru', 'kind': 'hh', 'p=100%': '1–never'}]
    """
    rows = metrics[(metrics["phase"] == "recovery") & (metrics["name"] == "accuracy")]
    info = learned(runs).set_index("run")[["model.cell", "base_accuracy"]]
    rows = rows[rows["run"].isin(info.index)]
    epochs: dict[tuple, list] = {}
    for (run, kind, sparsity), g in rows.groupby(["run", "kind", "sparsity"]):
        accs = g.sort_values("epoch")["value"].astype(float).tolist()
        cell, base = info.loc[run, "model.cell"], float(info.loc[run, "base_accuracy"])
        epochs.setdefault((cell, kind), {}).setdefault(float(sparsity), []).append(
            prune.recovery_epochs(accs, base, tolerance=tolerance)
        )
    out = []
    for (cell, kind), by_p in sorted(epochs.items(), key=lambda item: _order(*item[0])):
        row = {"cell": cell, "kind": kind}
        for p, found in sorted(by_p.items()):
            got = [e for e in found if e is not None]
            low = str(min(got)) if got else NEVER
            high = NEVER if len(got) < len(found) else str(max(got)) if got else NEVER
            row[f"p={100 * p:g}%"] = low if low == high else f"{low}–{high}"
        out.append(row)
    return pd.DataFrame(out)


def _interleaved(ours: pd.DataFrame, thesis: pd.DataFrame, label: str) -> pd.DataFrame:
    """Rows of ``ours`` (source ``label``) each followed by the thesis' row of the same cell and kind."""
    if ours.empty:
        return ours
    columns = [c for c in ours.columns if c not in ("cell", "kind")]
    thesis = thesis.set_index(["cell", "kind"]) if not thesis.empty else thesis
    rows = []
    for row in ours.to_dict("records"):
        key = (row["cell"], row["kind"])
        rows.append({"cell": key[0], "kind": key[1], "source": label} | {c: row[c] for c in columns})
        if not thesis.empty and key in thesis.index:
            theirs = thesis.loc[key]
            shown = {c: theirs[c] if c in theirs.index else "-" for c in columns}
            rows.append({"cell": key[0], "kind": key[1], "source": "thesis"} | shown)
    return pd.DataFrame(rows)


def recovery_side_by_side(runs: pd.DataFrame, metrics: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """:func:`recovery_ranges` with the thesis' recovery epochs of the same cell and kind under each row.

    The thesis' epochs are shown at a tolerance of 1 point only (the one they were read with).

    Examples
    --------
    >>> runs = pd.DataFrame({"run": ["a"], "model.cell": "gru", "base_accuracy": [1.0]})
    >>> m = pd.DataFrame({"run": "a", "phase": "recovery", "name": "accuracy", "kind": "hh",
    ...                   "sparsity": 1.0, "epoch": [0, 1], "value": [0.5, 0.6]})
    >>> recovery_side_by_side(runs, m, 0.01)[["source", "p=100%"]].values.tolist()
    [['ours (min–max over seeds)', 'never'], ['thesis', '2']]
    """
    ours = recovery_ranges(runs, metrics, tolerance)
    if abs(tolerance - TOLERANCE) > 1e-12:
        return _interleaved(ours, pd.DataFrame(), OURS)
    return _interleaved(ours, thesis_recovery_table().replace("-", NEVER), OURS)


def pruned_side_by_side(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """Accuracy right after pruning per cell, kind and p: ours as ``min–max`` over seeds, then the thesis'.

    Examples
    --------
    >>> runs = pd.DataFrame({"run": ["a", "b"], "model.cell": "gru"})
    >>> m = pd.DataFrame({"run": ["a", "b"], "phase": "recovery", "name": "accuracy", "kind": "both",
    ...                   "sparsity": 0.9, "epoch": 0, "value": [0.61, 0.55]})
    >>> pruned_side_by_side(runs, m)[["source", "p=90%"]].to_dict("records")
    [{'source': 'ours (min–max over seeds)', 'p=90%': '0.550–0.610'}, {'source': 'thesis', 'p=90%': '0.551'}]
    """
    rows = metrics[
        (metrics["phase"] == "recovery") & (metrics["name"] == "accuracy") & (metrics["epoch"] == 0)
    ]
    cells = learned(runs).set_index("run")["model.cell"]
    rows = rows.assign(cell=rows["run"].map(cells), value=rows["value"].astype(float))
    out = []
    for (cell, kind), g in sorted(rows.groupby(["cell", "kind"]), key=lambda item: _order(*item[0])):
        spans = g.groupby("sparsity")["value"].agg(["min", "max"])
        out.append(
            {"cell": cell, "kind": kind}
            | {f"p={100 * p:g}%": _accuracy_span(lo, hi) for p, (lo, hi) in spans.iterrows()}
        )
    thesis = thesis_pruned_table().drop(columns="base")
    thesis[[c for c in thesis.columns if c.startswith("p=")]] = thesis.filter(like="p=").map(
        lambda a: f"{a:.3f}"
    )
    return _interleaved(pd.DataFrame(out), thesis, OURS)


def _accuracy_span(low: float, high: float) -> str:
    return f"{low:.3f}" if f"{low:.3f}" == f"{high:.3f}" else f"{low:.3f}–{high:.3f}"
