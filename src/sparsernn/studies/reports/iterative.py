"""Report of the ``iterative_pruning`` protocol: figures of accuracy and Δ vs q, crossing tables."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from sparsernn.plots import plot_expansion_curves
from sparsernn.studies.protocols.iterative import first_zero_crossing
from sparsernn.studies.tables import markdown_table

ACCURACY_DROP = 0.05  # "accuracy drops": five points below the dense model


def accuracy_by_level(metrics: pd.DataFrame) -> dict[float, float]:
    """Test accuracy after fine-tuning at each level q of one run."""
    rows = metrics[(metrics["phase"] == "finetuned") & (metrics["name"] == "accuracy")]
    return dict(zip(rows["level"].astype(float), rows["value"].astype(float)))


def first_drop(accuracy: dict[float, float], drop: float = ACCURACY_DROP) -> float | None:
    """First q (dense → sparse) whose accuracy is at least ``drop`` below the accuracy at the densest level."""
    levels = sorted(accuracy, reverse=True)
    reference = accuracy[levels[0]]
    return next((q for q in levels if accuracy[q] <= reference - drop), None)


def gap_curves(
    metrics: pd.DataFrame, *, weighted: bool, gates: str = "stack"
) -> dict[str, dict[float, float]]:
    """Δ curves of one run: label ``"<module> L<layer> <view> <measure>"`` → {q: value}."""
    rows = metrics[(metrics["phase"] == "expansion") & (metrics["gates"] == gates)]
    rows = rows[rows["weighted"].astype(bool) == weighted]
    measures = ("delta_s", "gap_weighted") if weighted else ("delta_s", "delta_r")
    rows = rows[rows["name"].isin(measures)]
    curves: dict[str, dict[float, float]] = {}
    for key, group in rows.groupby(["module", "layer", "view", "gate", "name"], sort=True, dropna=False):
        module, layer, view, gate, name = key
        gate_part = "" if pd.isna(gate) or gate in ("all", "") else f" {gate}"
        prefix = f"{module} " if module else ""
        label = f"{prefix}L{int(layer)} {view}{gate_part} {'w-' if weighted else ''}{name}"
        curves[label] = {float(q): _value(v) for q, v in zip(group["level"], group["value"])}
    return curves


def _value(v: object) -> float:
    return math.nan if v is None else float(v)


def crossings(curves: dict[str, dict[float, float]]) -> dict[str, float | None]:
    """First zero crossing of each curve."""
    out = {}
    for label, curve in curves.items():
        levels = sorted(curve, reverse=True)
        out[label] = first_zero_crossing(levels, [curve[q] for q in levels])
    return out


def _relation(crossing: float | None, drop: float | None) -> str:
    if crossing is None:
        return "no crossing"
    if drop is None:
        return "crossing, no drop"
    return "before drop" if crossing > drop else ("at drop" if crossing == drop else "after drop")


def report(runs: pd.DataFrame, metrics: pd.DataFrame, out: Path) -> list[str]:
    """Figures (unweighted and weighted) per run and a crossing-vs-drop table."""
    lines: list[str] = []
    table = []
    for run in runs.sort_values("run").to_dict("records"):
        mine = metrics[metrics["run"] == run["run"]]
        label = f"{run.get('model.cell', 'lstm')} seed {run['seed']}"
        accuracy = accuracy_by_level(mine)
        if not accuracy:
            continue
        drop = first_drop(accuracy)
        slug = run["run"].replace("/", "_")
        for weighted in (False, True):
            curves = gap_curves(mine, weighted=weighted)
            cross = crossings(curves)
            kind = "weighted" if weighted else "unweighted"
            path = plot_expansion_curves(
                accuracy, curves, cross, out / f"expansion_{slug}_{kind}.png", title=f"{label} ({kind})"
            )
            lines.append(f"![{label} {kind}]({path.name})")
            for curve_label, q in cross.items():
                table.append(
                    {
                        "run": label,
                        "curve": curve_label,
                        "crossing q": "-" if q is None else f"{q:g}",
                        "accuracy drop q": "-" if drop is None else f"{drop:g}",
                        "crossing vs drop": _relation(q, drop),
                    }
                )
        acc_line = ", ".join(f"{100 * q:g}%: {a:.3f}" for q, a in sorted(accuracy.items(), reverse=True))
        lines.append(f"\nAccuracy of {label} by q — {acc_line}\n")
    noisy = (
        metrics[(metrics["phase"] == "noisy") & (metrics["name"] == "accuracy")]
        if "noise" in metrics
        else None
    )
    if noisy is not None and not noisy.empty:
        cells = runs.set_index("run")["model.cell"] if "model.cell" in runs else None
        noisy = noisy.assign(cell=noisy["run"].map(cells) if cells is not None else "model")
        pivot = noisy.pivot_table(index=["cell", "noise"], columns="level", values="value", aggfunc="mean")
        pivot = pivot[sorted(pivot.columns, reverse=True)]
        pivot.columns = [f"q={100 * q:g}%" for q in pivot.columns]
        lines += ["", "### Accuracy under input noise (rows: noise level; columns: remaining edges q)", ""]
        lines += markdown_table(pivot.reset_index())
    if table:
        lines += ["", "### First zero crossings vs first accuracy drop (≥ 5 points)", ""]
        lines += markdown_table(pd.DataFrame(table))
    return lines
