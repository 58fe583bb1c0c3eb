"""Report of the ``darji_pruning`` protocol: pruned-accuracy panels, recovery curves and tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sparsernn import prune
from sparsernn.plots.pruning import plot_pruned_accuracy, plot_recovery_curves
from sparsernn.studies.tables import markdown_table


def recovery_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean test accuracy by cell, kind, sparsity and retraining epoch (mean over seeds)."""
    rows = metrics[(metrics["phase"] == "recovery") & (metrics["name"] == "accuracy")]
    return rows.groupby(["cell", "kind", "sparsity", "epoch"], as_index=False)["value"].mean()


def _curves(table: pd.DataFrame, cell: str, kind: str) -> dict[float, list[float]]:
    mine = table[(table["cell"] == cell) & (table["kind"] == kind)].sort_values("epoch")
    return {float(s): g["value"].tolist() for s, g in mine.groupby("sparsity")}


def report(runs: pd.DataFrame, metrics: pd.DataFrame, out: Path) -> list[str]:
    """Figures and tables of the pruning study (cells are compared, seeds averaged)."""
    cells = (
        runs.set_index("run")["model.cell"] if "model.cell" in runs else pd.Series("lstm", index=runs["run"])
    )
    metrics = metrics.assign(cell=metrics["run"].map(cells))
    table = recovery_table(metrics)
    if table.empty:
        return []
    base = runs.groupby(runs.get("model.cell", pd.Series("lstm", index=runs.index)))["base_accuracy"].mean()
    tolerance = float(runs["params.tolerance"].dropna().iloc[0])  # every run records its parameters
    kinds = [k for k in ("both", "ih", "hh") if k in set(table["kind"])]
    study = str(runs["study"].iloc[0])
    first = table[table["epoch"] == 0]
    panels = {
        kind: {
            cell: dict(zip(g["sparsity"], g["value"]))
            for cell, g in first[first["kind"] == kind].groupby("cell")
        }
        for kind in kinds
    }
    lines = [
        f"![accuracy right after pruning]({plot_pruned_accuracy(panels, out / f'pruned_{study}.png').name})",
        "",
    ]
    recovery_rows, safe_rows = [], []
    for cell in sorted(set(table["cell"])):
        curves = {kind: _curves(table, cell, kind) for kind in kinds}
        path = plot_recovery_curves(curves, out / f"recovery_{study}_{cell}.png", title=f"{cell}: recovery")
        lines += [f"![recovery of {cell}]({path.name})", ""]
        for kind in kinds:
            row = {"cell": cell, "kind": kind}
            for sparsity, accs in curves[kind].items():
                epochs = prune.recovery_epochs(accs, float(base[cell]), tolerance=tolerance)
                row[f"{100 * sparsity:g}%"] = "-" if epochs is None else str(epochs)
            recovery_rows.append(row)
        safe = runs[runs["model.cell"] == cell] if "model.cell" in runs else runs
        safe_rows.append(
            {"cell": cell, "base accuracy": float(base[cell])}
            | {f"safe {k}": f"{100 * safe[f'safe_sparsity_{k}'].min():g}%" for k in kinds}
            | {f"recovers {k}": f"{100 * safe[f'recovered_sparsity_{k}'].min():g}%" for k in kinds}
        )
    points = f"{100 * tolerance:g} point{'s' if tolerance != 0.01 else ''}"
    lines += [
        f"### Recovery epochs (first retraining epoch within {points} of the base model; - = never)",
        "",
    ]
    lines += markdown_table(pd.DataFrame(recovery_rows))
    lines += ["", "### Safe pruning levels", ""]
    lines += [
        f"`safe`: highest p such that every level up to p loses ≤ {points} right after pruning; "
        f"`recovers`: every level up to p gets back within {points} during retraining (minimum over seeds).",
        "",
    ]
    lines += markdown_table(pd.DataFrame(safe_rows))
    return lines
