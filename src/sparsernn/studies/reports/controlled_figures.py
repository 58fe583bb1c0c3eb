"""Figures of the ``controlled_pruning`` report, one of each kind per dataset (cells as panels)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from sparsernn.plots.controlled import GapPanel, plot_accuracy_and_gaps, plot_curve_grid, plot_scratch
from sparsernn.plots.style import ACCURACY_LIMITS
from sparsernn.prune.stopping import PathKey, PruningPath, expansion_flags, knee
from sparsernn.studies.reports.controlled_paths import by_cell
from sparsernn.studies.reports.controlled_stopping import SYMBOLS
from sparsernn.studies.tables import seed_stats, slug

GAP_MEASURES = ("delta_s", "delta_r", "delta_s_weighted")
MATRIX_VIEWS = ("ih", "hh")  # the weight matrices a criterion prunes (``step`` joins them)
KNEE_DELTA = 1
SCRATCH_NAMES = {
    "scratch:expander": "expander, from scratch",
    "scratch:erdos_renyi": "Erdős–Rényi, from scratch",
}


def weakest(path: PruningPath, measure: str, views: tuple[str, ...]) -> list[float]:
    """Per level, the smallest ``measure`` over the layers of ``views`` (NaN where any is undefined).

    Examples
    --------
    >>> traces = {("l0", "ih"): {"delta_s": (2.0, -1.0)}, ("l0", "hh"): {"delta_s": (1.0, float("nan"))}}
    >>> weakest(PruningPath((1.0, 0.5), (0.9, 0.8), (0.9, 0.8), traces), "delta_s", ("ih", "hh"))
    [1.0, nan]
    """
    series = [m[measure] for (_, v), m in path.traces.items() if v in views and measure in m]
    if not series:
        return [math.nan] * len(path)
    values = np.array(series, dtype=float)
    return [math.nan if np.isnan(col).any() else float(col.min()) for col in values.T]


def _per_level(paths: Mapping[int, PruningPath], values) -> pd.DataFrame:
    """Rows ``seed, q, value`` of ``values(path)`` (one number per level)."""
    rows = [
        {"seed": s, "q": q, "value": v}
        for s, p in paths.items()
        for q, v in zip(p.levels, values(p), strict=True)
    ]
    return pd.DataFrame(rows)


def _stats(paths: Mapping[int, PruningPath], values) -> pd.DataFrame:
    """Mean and 95 % interval over seeds of ``values(path)`` (one number per level)."""
    return seed_stats(_per_level(paths, values), ["q"])


def defined_stats(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """:func:`~sparsernn.studies.tables.seed_stats` of a Δ whose undefined values (NaN, ±inf) are
    never averaged away: a group with one has no mean, and ``undefined`` counts them.

    Examples
    --------
    >>> frame = pd.DataFrame({"q": [1.0, 1.0, 0.5, 0.5], "value": [2.0, 3.0, 1.0, float("-inf")]})
    >>> defined_stats(frame, ["q"])[["q", "mean", "n", "undefined"]].to_dict("records")
    [{'q': 0.5, 'mean': nan, 'n': 1, 'undefined': 1}, {'q': 1.0, 'mean': 2.5, 'n': 2, 'undefined': 0}]
    """
    bad = ~np.isfinite(frame["value"].to_numpy(dtype=float))
    stats = seed_stats(frame.assign(value=frame["value"].where(~bad)), by)
    counts = frame.assign(_bad=bad).groupby(by, sort=True, dropna=False)["_bad"].sum()
    stats["undefined"] = counts.to_numpy(dtype=int)
    hidden = stats["undefined"] > 0
    stats.loc[hidden, ["mean", "std", "ci95_low", "ci95_high"]] = np.nan
    return stats


def _gap_stats(paths: Mapping[int, PruningPath], values) -> pd.DataFrame:
    return defined_stats(_per_level(paths, values), ["q"])


def _median_level(paths: Mapping[int, PruningPath], flags: list[int]) -> float | None:
    """The q of the median flagged level over seeds (a recorded level: the denser of the two middle
    ones for an even count), when at least half of the seeds flag a level; None otherwise."""
    flagged = sorted(p.levels[f] for p, f in zip(paths.values(), flags, strict=True) if f < len(p))
    if not flagged or 2 * len(flagged) < len(paths):
        return None
    return flagged[len(flagged) // 2]  # q ascending: the upper middle is the denser


def _median_crossing(paths: Mapping[int, PruningPath], rule: str) -> float | None:
    """The median q of a rule's flag over seeds, when at least half of them flag a level."""
    return _median_level(paths, [expansion_flags(p).get(rule, len(p)) for p in paths.values()])


def _median_knee(paths: Mapping[int, PruningPath]) -> float | None:
    return _median_level(paths, [knee(p, KNEE_DELTA) for p in paths.values()])


def gap_panel(paths: Mapping[int, PruningPath], measure: str) -> GapPanel:
    """Test accuracy and one ``measure`` curve per view (its weakest layer), mean ± band over seeds
    (a level where a seed's Δ is undefined has no mean: :func:`defined_stats`)."""
    views = next(iter(paths.values())).views()
    gaps = {view: _gap_stats(paths, lambda p, v=view: weakest(p, measure, (v,))) for view in views}
    crossings = {view: _median_crossing(paths, f"{measure}:{view}:first") for view in views}
    accuracy = _stats(paths, lambda p: p.test_acc)
    label = f"knee ({KNEE_DELTA} point, validation; median)"
    return GapPanel(accuracy, gaps, crossings, knee=_median_knee(paths), knee_label=label)


def gap_figures(paths: Mapping[PathKey, PruningPath], out: Path, criterion: str = "magnitude") -> list[Path]:
    """Figure (a) per dataset: rows Δ_S, Δ_R, weighted Δ_S; columns cells."""
    figures = []
    cells = by_cell(paths)
    for dataset in sorted({d for d, _ in cells}):
        grid = {}
        for measure in GAP_MEASURES:
            for (d, cell), seeds in cells.items():
                if d == dataset and any(measure in m for p in seeds.values() for m in p.traces.values()):
                    grid[(SYMBOLS[measure], cell)] = gap_panel(seeds, measure)
        if grid:
            n = max(len(s) for (d, _), s in cells.items() if d == dataset)
            title = f"{dataset}: {criterion} pruning, test accuracy and Δ per view (n={n} seeds)"
            figures.append(plot_accuracy_and_gaps(grid, out / f"gaps_{slug(dataset)}.png", title=title))
    return figures


def _by_dataset(long: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {str(d): g for d, g in long.groupby("dataset", sort=True)}


def criteria_accuracy_figures(accuracy: pd.DataFrame, out: Path) -> list[Path]:
    """Figure (b) per dataset: test accuracy against q per criterion (clipped bands), cells as panels."""
    figures = []
    for dataset, mine in _by_dataset(accuracy).items():
        grid = {
            ("test accuracy", str(cell)): {str(c): g for c, g in group.groupby("criterion", sort=False)}
            for cell, group in mine.groupby("cell", sort=True)
        }
        path = out / f"criteria_accuracy_{slug(dataset)}.png"
        title = f"{dataset}: test accuracy by criterion at equal density"
        figures.append(plot_curve_grid(grid, path, limits=ACCURACY_LIMITS, title=title))
    return figures


def criteria_gap_frame(paths: Mapping[str, Mapping[PathKey, PruningPath]]) -> pd.DataFrame:
    """Δ_S and Δ_R of the weakest weight matrix per criterion, dataset, cell, q: mean ± band over seeds."""
    rows = []
    for criterion, mine in paths.items():
        for key, path in mine.items():
            views = tuple(v for v in path.views() if v in MATRIX_VIEWS) or path.views()
            for measure in ("delta_s", "delta_r"):
                values = weakest(path, measure, views)
                rows += [
                    {**key._asdict(), "criterion": criterion, "measure": SYMBOLS[measure], "q": q, "value": v}
                    for q, v in zip(path.levels, values, strict=True)
                ]
    if not rows:
        return pd.DataFrame()
    return defined_stats(pd.DataFrame(rows), ["dataset", "cell", "measure", "criterion", "q"])


def criteria_gap_figures(gaps: pd.DataFrame, out: Path) -> list[Path]:
    """Figure (c) per dataset: Δ of the weakest weight matrix against q per criterion (rows Δ_S, Δ_R)."""
    figures = []
    for dataset, mine in _by_dataset(gaps).items():
        order = {SYMBOLS[m]: i for i, m in enumerate(GAP_MEASURES)}
        groups = sorted(mine.groupby(["measure", "cell"]), key=lambda item: (order[item[0][0]], item[0][1]))
        grid = {
            (f"{measure} of the weakest matrix", str(cell)): {
                str(c): g for c, g in group.groupby("criterion", sort=False)
            }
            for (measure, cell), group in groups
        }
        title = f"{dataset}: does a criterion keep Δ ≥ 0 longer?"
        figures.append(
            plot_curve_grid(grid, out / f"criteria_gaps_{slug(dataset)}.png", zero_line=True, title=title)
        )
    return figures


def scratch_figures(stats: pd.DataFrame, out: Path) -> list[Path]:
    """Figure (d) per dataset: expander vs Erdős–Rényi from scratch vs pruned magnitude at the scratch q."""
    figures = []
    for dataset, mine in _by_dataset(stats).items():
        named = mine.assign(criterion=mine["criterion"].map(lambda c: SCRATCH_NAMES.get(c, f"{c}, pruned")))
        panels = {str(cell): group for cell, group in named.groupby("cell", sort=True)}
        title = f"{dataset}: sparse from scratch vs pruned (test accuracy, 95 % interval)"
        figures.append(plot_scratch(panels, out / f"scratch_{slug(dataset)}.png", title=title))
    return figures
