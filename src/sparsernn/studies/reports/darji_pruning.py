"""Report of the ``darji_pruning`` protocol: pruned-accuracy panels, recovery curves and tables."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from sparsernn import prune
from sparsernn.plots.pruning import plot_pruned_accuracy, plot_recovery_curves
from sparsernn.studies.headline import headline
from sparsernn.studies.reports.pruning_ranges import level_ranges, recovery_ranges, thesis_section
from sparsernn.studies.tables import STATS, markdown_table, seed_stats, sweep_labels


def recovery_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean test accuracy by ``cell`` (a config label), kind, sparsity and retraining epoch (mean over seeds)."""
    rows = metrics[(metrics["phase"] == "recovery") & (metrics["name"] == "accuracy")]
    return rows.groupby(["cell", "kind", "sparsity", "epoch"], as_index=False)["value"].mean()


def _curves(table: pd.DataFrame, cell: str, kind: str) -> dict[float, list[float]]:
    mine = table[(table["cell"] == cell) & (table["kind"] == kind)].sort_values("epoch")
    return {float(s): g["value"].tolist() for s, g in mine.groupby("sparsity")}


def _pruned_panels(metrics: pd.DataFrame, kinds: list[str]) -> tuple[dict, dict, pd.DataFrame]:
    """Accuracy right after pruning (epoch 0): mean, 95 % band and the stats table over seeds."""
    rows = metrics[
        (metrics["phase"] == "recovery") & (metrics["name"] == "accuracy") & (metrics["epoch"] == 0)
    ]
    stats = seed_stats(rows.assign(value=rows["value"].astype(float)), ["cell", "kind", "sparsity"])
    panels: dict = {kind: {} for kind in kinds}
    bands: dict = {kind: {} for kind in kinds}
    for (kind, cell), g in stats.groupby(["kind", "cell"]):
        panels[kind][cell] = dict(zip(g["sparsity"], g["mean"]))
        bands[kind][cell] = dict(zip(g["sparsity"], zip(g["ci95_low"], g["ci95_high"])))
    return panels, bands, stats


def _safe_rows(runs: pd.DataFrame, base: pd.DataFrame, kinds: list[str]) -> list[dict]:
    rows = []
    for row in base.to_dict("records"):
        safe = runs[runs["config"] == row["config"]]
        rows.append(
            {"config": row["config"], "base accuracy": row["mean"], "n": row["n"]}
            | {f"safe {k}": f"{100 * safe[f'safe_sparsity_{k}'].min():g}%" for k in kinds}
            | {f"recovers {k}": f"{100 * safe[f'recovered_sparsity_{k}'].min():g}%" for k in kinds}
        )
    return rows


def report(runs: pd.DataFrame, metrics: pd.DataFrame, out: Path) -> list[str]:
    """Figures and tables of the pruning study: configs (named by their swept values) are compared,
    seeds aggregated (mean, and a 95 % t band in the pruned-accuracy figure)."""
    labels = sweep_labels(runs)
    runs = runs.assign(config=runs["run"].map(labels))
    metrics = metrics.assign(cell=metrics["run"].map(labels))
    table = recovery_table(metrics)
    if table.empty:
        return []
    base = seed_stats(runs.assign(value=runs["base_accuracy"].astype(float)), ["config"])
    mean_base = dict(zip(base["config"], base["mean"]))
    tolerance = float(runs["params.tolerance"].dropna().iloc[0])  # every run records its parameters
    kinds = [k for k in ("both", "ih", "hh") if k in set(table["kind"])]
    study = str(runs["study"].iloc[0])
    panels, bands, pruned = _pruned_panels(metrics, kinds)
    figure = plot_pruned_accuracy(panels, out / f"pruned_{study}.png", bands=bands)
    lines = [f"![accuracy right after pruning (mean over seeds, 95 % band)]({figure.name})", ""]
    recovery_rows = []
    for cell in sorted(set(table["cell"])):
        curves = {kind: _curves(table, cell, kind) for kind in kinds}
        slug = re.sub(r"[^\w.=-]+", "_", cell)
        path = plot_recovery_curves(curves, out / f"recovery_{study}_{slug}.png", title=f"{cell}: recovery")
        lines += [f"![recovery of {cell}]({path.name})", ""]
        for kind in kinds:
            row = {"config": cell, "kind": kind}
            for sparsity, accs in curves[kind].items():
                epochs = prune.recovery_epochs(accs, float(mean_base[cell]), tolerance=tolerance)
                row[f"p={100 * sparsity:g}%"] = "-" if epochs is None else str(epochs)
            recovery_rows.append(row)
    points = f"{100 * tolerance:g} point{'s' if tolerance != 0.01 else ''}"
    lines += [
        f"### Recovery epochs (first retraining epoch within {points} of the base model; - = never;"
        " accuracies averaged over seeds first)",
        "",
    ]
    lines += markdown_table(pd.DataFrame(recovery_rows))
    lines += ["", "### Safe pruning levels", ""]
    lines += [
        f"`safe`: highest p such that every level up to p loses ≤ {points} right after pruning; "
        f"`recovers`: every level up to p gets back within {points} during retraining (minimum over seeds); "
        "`base accuracy`: mean over the n seeds.",
        "",
    ]
    lines += markdown_table(pd.DataFrame(_safe_rows(runs, base, kinds)))
    if int(pruned["n"].max()) > 1:
        shown = pruned.assign(p=(100 * pruned["sparsity"]).map(lambda v: f"{v:g}%")).rename(
            columns={"cell": "config"}
        )
        lines += ["", "### Accuracy right after pruning over seeds (95 % t interval)", ""]
        lines += markdown_table(shown[["config", "kind", "p", *STATS]])
    return lines + _against_thesis(runs, metrics, kinds, tolerance, points)


def _against_thesis(
    runs: pd.DataFrame, metrics: pd.DataFrame, kinds: list[str], tolerance: float, points: str
):
    """Safe and recovered levels and recovery epochs as ranges over seeds, next to the thesis' levels."""
    if "model.cell" not in runs or "base_accuracy" not in runs:
        return []
    lines = ["", "### Against the thesis: ranges over seeds", ""]
    lines += [
        f"Each seed against its own base model, tolerance {points}; `inside`: the thesis' level lies in "
        "our range over seeds (the thesis trained one model per cell).",
        "",
        *headline(markdown_table(level_ranges(runs, kinds, tolerance))),
        "",
        "Recovery epochs per seed, `min–max` (`-`: never recovered):",
        "",
        *markdown_table(recovery_ranges(runs, metrics, tolerance)),
        "",
        *thesis_section(sorted(map(str, runs["model.cell"].dropna().unique()))),
    ]
    return lines
