"""Report of the ``darji_pruning`` protocol: pruned-accuracy panels, recovery curves and tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sparsernn import prune
from sparsernn.plots.pruning import plot_pruned_accuracy, plot_recovery_curves
from sparsernn.studies.headline import headline
from sparsernn.studies.reports.pruning_ranges import (
    NEVER,
    at_chance_note,
    level_ranges,
    pruned_side_by_side,
    recovery_side_by_side,
)
from sparsernn.studies.reports.reber_blocks import block_section
from sparsernn.studies.reports.thesis_pruning import LEVELS, SOURCE, THESIS_BASE, THESIS_RETRAINING_EPOCHS
from sparsernn.studies.tables import STATS, markdown_table, seed_stats, slug, sweep_labels, varying_columns


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
    kinds = [k for k in ("both", "ih", "hh") if k in set(table["kind"])]
    study = str(runs["study"].iloc[0])
    panels, bands, pruned = _pruned_panels(metrics, kinds)
    figure = plot_pruned_accuracy(panels, out / f"pruned_{study}.png", bands=bands)
    # every run records its parameters; a swept tolerance is each config's own
    tolerance_of = dict(zip(runs["config"], runs["params.tolerance"].astype(float)))
    tolerance, *more = sorted(set(tolerance_of.values()))
    points = f"{100 * tolerance:g} point{'s' if tolerance != 0.01 else ''}" if not more else "its `tolerance`"
    others = [c for c in varying_columns(runs) if c != "model.cell"]  # a swept tolerance among them
    if others:  # the thesis' numbers are per cell: pooling other settings by cell would mix them
        thesis = [
            "The comparison with the thesis (per cell) is left out: it needs runs that differ in nothing but "
            f"`model.cell`, and this study also varies {', '.join(f'`{c}`' for c in others)}.",
            "",
        ]
    else:
        thesis = [*_against_thesis(runs, metrics, kinds, tolerance, points), *block_section(runs)]
    lines = [*TEST_NOTE, *thesis]
    lines += ["### Our runs in detail", ""]
    lines += [f"![accuracy right after pruning (mean over seeds, 95 % band)]({figure.name})", ""]
    recovery_rows = []
    for cell in sorted(set(table["cell"])):
        curves = {kind: _curves(table, cell, kind) for kind in kinds}
        path = plot_recovery_curves(
            curves, out / f"recovery_{study}_{slug(cell)}.png", title=f"{cell}: recovery"
        )
        lines += [f"![recovery of {cell}]({path.name})", ""]
        for kind in kinds:
            row = {"config": cell, "kind": kind}
            for sparsity, accs in curves[kind].items():
                epochs = prune.recovery_epochs(accs, float(mean_base[cell]), tolerance=tolerance_of[cell])
                row[f"p={100 * sparsity:g}%"] = NEVER if epochs is None else str(epochs)
            recovery_rows.append(row)
    lines += [
        f"### Recovery epochs (first retraining epoch within {points} of the base model;"
        " accuracies averaged over seeds first)",
        "",
    ]
    lines += markdown_table(pd.DataFrame(recovery_rows))
    lines += ["", "### Safe pruning levels", ""]
    lines += [
        f"`safe`: highest p such that every level up to p loses ≤ {points} right after pruning; "
        f"`recovers`: every level up to p gets back within {points} during retraining; both the minimum "
        "over all seeds (base models at chance included); `base accuracy`: mean over the n seeds.",
        "",
    ]
    lines += markdown_table(pd.DataFrame(_safe_rows(runs, base, kinds)))
    if int(pruned["n"].max()) > 1:
        shown = pruned.assign(p=(100 * pruned["sparsity"]).map(lambda v: f"{v:g}%")).rename(
            columns={"cell": "config"}
        )
        lines += ["", "### Accuracy right after pruning over seeds (95 % t interval)", ""]
        lines += markdown_table(shown[["config", "kind", "p", *STATS]])
    return lines


TEST_NOTE = [
    "All accuracies are **test** accuracies on the data's test split (with `source: files`, the thesis' "
    "own 6,250 test strings), read at the end of each phase, as the thesis reports them: the base model "
    "after its last training epoch, each pruned model right after pruning (epoch 0) and after each "
    "retraining epoch. Nothing is tuned or selected on them (no validation split is used); the safe "
    "levels and recovery epochs below describe these test curves, as the thesis' do.",
    "",
]


def _base_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per cell: our base accuracy as ``min–max`` over seeds and the thesis' (final epoch, test split)."""
    rows = []
    for cell, mine in runs.groupby("model.cell", sort=True):
        low, high = mine["base_accuracy"].astype(float).agg(["min", "max"])
        ours = f"{low:.3f}" if f"{low:.3f}" == f"{high:.3f}" else f"{low:.3f}–{high:.3f}"
        thesis = THESIS_BASE.get(str(cell))
        rows.append(
            {"cell": cell, "seeds": len(mine), "base accuracy ours (min–max)": ours}
            | {"base accuracy thesis": "-" if thesis is None else f"{thesis:.3f}"}
        )
    return pd.DataFrame(rows)


def _grid_note(runs: pd.DataFrame, metrics: pd.DataFrame) -> list[str]:
    """Warnings when the levels or the retraining epochs are not the thesis' (then not comparable)."""
    rows = metrics[metrics["phase"] == "recovery"]
    levels = sorted({round(float(p), 6) for p in rows["sparsity"].dropna()})
    lines = []
    if levels and levels != [round(p, 6) for p in LEVELS]:
        shown = ", ".join(f"{100 * p:g}" for p in levels)
        lines += [
            f"**Our levels ({shown} %) are not the thesis' (10, 20, …, 100 %)**: a safe level can only be "
            "one of the levels tried, so `inside` compares levels on different grids.",
            "",
        ]
    column = runs.get("params.recovery_epochs", pd.Series(dtype=float)).dropna()
    epochs = sorted({int(e) for e in column})
    if epochs and epochs != [THESIS_RETRAINING_EPOCHS]:
        lines += [
            f"**Our runs retrain for {', '.join(map(str, epochs))} epoch{'s' if epochs != [1] else ''}, the thesis for "
            f"{THESIS_RETRAINING_EPOCHS}**: `recovers` and `never` are not comparable with its numbers.",
            "",
        ]
    return lines


def _against_thesis(
    runs: pd.DataFrame, metrics: pd.DataFrame, kinds: list[str], tolerance: float, points: str
):
    """Safe and recovered levels, accuracy right after pruning and recovery epochs as ranges over seeds,
    each next to the thesis' (one model per cell)."""
    if "model.cell" not in runs or "base_accuracy" not in runs:
        return []
    lines = ["### Against the thesis: ranges over seeds", ""]
    lines += [
        f"`safe`: the highest p such that p and every lower level lose at most {points} of the base "
        f"model's accuracy right after pruning; `recovers`: p and every lower level get back within {points} "
        "during retraining. Each seed is measured against its own base model; `ours (seeds)`: `min–max` over "
        "the seeds; `inside`: the thesis' level lies in our range (the thesis trained one model per cell; "
        "its levels are derived from its published per-level accuracies with the same definitions; "
        f"source: {SOURCE}).",
        "",
        *_grid_note(runs, metrics),
        *at_chance_note(runs),
        *headline(markdown_table(level_ranges(runs, kinds, tolerance))),
        "",
        "Base models (test accuracy after the last training epoch):",
        "",
        *markdown_table(_base_table(runs)),
        "",
        "Accuracy right after pruning (epoch 0), ours `min–max` over seeds, the thesis' under it:",
        "",
        *markdown_table(pruned_side_by_side(runs, metrics)),
        "",
        f"Recovery epochs: the first epoch (0 = right after pruning) within {points} of the base model; "
        "`never`: not within the retraining epochs. Ours `min–max` over seeds (`1–never`: some seeds never "
        "got back), the thesis' under it (shown at 1 point only, its epochs' tolerance):",
        "",
        *markdown_table(recovery_side_by_side(runs, metrics, tolerance)),
        "",
    ]
    return lines
