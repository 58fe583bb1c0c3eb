"""Report of the ``iterative_pruning`` protocol: figures of accuracy and Δ vs q, crossing tables."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from sparsernn.plots import plot_expansion_curves
from sparsernn.studies.protocols.iterative import first_zero_crossing
from sparsernn.studies.tables import markdown_table, seed_stats, slug, sweep_labels

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


MEASURES = {"delta_s": "Δ_S", "delta_r": "Δ_R", "gap_weighted": "λ_w"}
"""Logged measure → the symbol the figures and tables show (defined in the report's glossary)."""


def gap_curves(
    metrics: pd.DataFrame, *, weighted: bool, gates: str = "stack"
) -> dict[str, dict[float, float]]:
    """Δ curves of one run: label ``"<module> L<layer> <view> <symbol>"`` → {q: value}.

    Symbols: Δ_S, Δ_R (unweighted), Δ_S (weighted) and λ_w (weighted gap).
    """
    rows = metrics[(metrics["phase"] == "expansion") & (metrics["gates"] == gates)]
    rows = rows[rows["weighted"].eq(weighted).fillna(False).astype(bool)]
    measures = ("delta_s", "gap_weighted") if weighted else ("delta_s", "delta_r")
    rows = rows[rows["name"].isin(measures)]
    curves: dict[str, dict[float, float]] = {}
    for key, group in rows.groupby(["module", "layer", "view", "gate", "name"], sort=True, dropna=False):
        module, layer, view, gate, name = key
        gate_part = "" if pd.isna(gate) or gate in ("all", "") else f" {gate}"
        prefix = f"{module} " if module else ""
        symbol = MEASURES[name] + (" (weighted)" if weighted and name == "delta_s" else "")
        label = f"{prefix}L{int(layer)} {view}{gate_part} {symbol}"
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


def _long(curves_by_run: list[dict[str, dict[float, float]]]) -> pd.DataFrame:
    """Curves of several seeds as rows ``curve, level, value`` (for :func:`seed_stats`)."""
    rows = [
        {"curve": label, "level": q, "value": v}
        for curves in curves_by_run
        for label, curve in curves.items()
        for q, v in curve.items()
    ]
    return pd.DataFrame(rows, columns=["curve", "level", "value"])


def _mean_and_bands(stats: pd.DataFrame) -> tuple[dict, dict]:
    means: dict[str, dict[float, float]] = {}
    bands: dict[str, dict[float, tuple[float, float]]] = {}
    for row in stats.to_dict("records"):
        means.setdefault(row["curve"], {})[float(row["level"])] = float(row["mean"])
        bands.setdefault(row["curve"], {})[float(row["level"])] = (row["ci95_low"], row["ci95_high"])
    return means, bands


def _config_section(label: str, group: pd.DataFrame, metrics: pd.DataFrame, out: Path) -> tuple[list, list]:
    """Figures of one config (mean ± 95 % band over its seeds) and its crossing-table rows."""
    per_run = [metrics[metrics["run"] == run] for run in sorted(group["run"])]
    accuracy = _long([{"accuracy": accuracy_by_level(m)} for m in per_run])
    if accuracy.empty:
        return [], []
    acc_means, acc_bands = _mean_and_bands(seed_stats(accuracy, ["curve", "level"]))
    mean_acc, n = acc_means["accuracy"], len(per_run)
    drop = first_drop(mean_acc)
    name = slug(label)
    lines, table = [], []
    for weighted in (False, True):
        stats = seed_stats(_long([gap_curves(m, weighted=weighted) for m in per_run]), ["curve", "level"])
        curves, bands = _mean_and_bands(stats)
        cross = crossings(curves)
        kind = "weighted" if weighted else "unweighted"
        path = plot_expansion_curves(
            mean_acc,
            curves,
            cross,
            out / f"expansion_{name}_{kind}.png",
            title=f"{label} ({kind}, n={n})",
            bands={**bands, "accuracy": acc_bands["accuracy"]},
        )
        lines.append(f"![{label} {kind}]({path.name})")
        table += [
            {
                "config": label,
                "n": n,
                "curve": curve_label,
                "crossing q": "-" if q is None else f"{q:g}",
                "accuracy drop q": "-" if drop is None else f"{drop:g}",
                "crossing vs drop": _relation(q, drop),
            }
            for curve_label, q in cross.items()
        ]
    acc_line = ", ".join(f"{100 * q:g}%: {a:.3f}" for q, a in sorted(mean_acc.items(), reverse=True))
    lines.append(f"\nAccuracy of {label} by q (mean over n={n} seeds) — {acc_line}\n")
    if n > 1:
        shown = seed_stats(accuracy, ["level"]).sort_values("level", ascending=False)
        shown.insert(0, "q", shown.pop("level").map(lambda q: f"{100 * q:g}%"))
        lines += [*markdown_table(shown), ""]
    return lines, table


def report(runs: pd.DataFrame, metrics: pd.DataFrame, out: Path) -> list[str]:
    """Figures (unweighted and weighted) per config, mean ± 95 % band over seeds, and a crossing-vs-drop
    table; configs are named by their swept values."""
    lines: list[str] = []
    table: list[dict] = []
    labels = sweep_labels(runs)
    for label, group in runs.groupby(runs["run"].map(labels), sort=True):
        more, rows = _config_section(str(label), group, metrics, out)
        lines += more
        table += rows
    noisy = (
        metrics[(metrics["phase"] == "noisy") & (metrics["name"] == "accuracy")]
        if "noise" in metrics
        else None
    )
    if noisy is not None and not noisy.empty:
        noisy = noisy.assign(config=noisy["run"].map(labels))
        pivot = noisy.pivot_table(index=["config", "noise"], columns="level", values="value", aggfunc="mean")
        pivot = pivot[sorted(pivot.columns, reverse=True)]
        pivot.columns = [f"q={100 * q:g}%" for q in pivot.columns]
        lines += [
            "",
            "### Accuracy under input noise (mean over seeds; rows: noise level; columns: remaining edges q)",
            "",
        ]
        lines += markdown_table(pivot.reset_index())
    if table:
        lines += ["", "### First zero crossings of the mean curves vs first accuracy drop (≥ 5 points)", ""]
        lines += markdown_table(pd.DataFrame(table))
    return lines
