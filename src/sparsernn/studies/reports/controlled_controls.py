"""The controls of the Kalra section of the ``controlled_pruning`` report.

- magnitude pruning against random pruning at the same per-layer density (the control Zhang &
  Stadie call for): does magnitude keep accuracy to sparser levels, seed by seed?
- across criteria at equal density: do Δ values rank the criteria's accuracies
  (:func:`~sparsernn.prune.stopping.criteria_spearman`)?
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from sparsernn.prune.stopping import (
    MIN_SEEDS,
    PathKey,
    PruningPath,
    bootstrap_mean,
    criteria_spearman,
    knee,
)
from sparsernn.studies.reports.controlled_paths import by_cell
from sparsernn.studies.reports.controlled_stopping import DELTAS, SYMBOLS, interval


def control_frame(
    magnitude: Mapping[PathKey, PruningPath],
    random: Mapping[PathKey, PruningPath],
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Magnitude against its random control: per dataset × cell × δ, the validation knees' q (median
    over seeds) and the levels magnitude keeps accuracy longer (magnitude knee − random knee, paired
    by seed, bootstrap CI); a verdict needs :data:`~sparsernn.prune.stopping.MIN_SEEDS` pairs."""
    rows = []
    for (dataset, cell), seeds in by_cell(magnitude).items():
        pairs = [
            (p, random[PathKey(dataset, cell, s)])
            for s, p in seeds.items()
            if PathKey(dataset, cell, s) in random
        ]
        if not pairs:
            continue
        for delta in DELTAS:
            knees = [(knee(m, delta), knee(r, delta)) for m, r in pairs]
            gain, lo, hi = bootstrap_mean([k_m - k_r for k_m, k_r in knees], n_boot=n_boot, seed=seed)
            verdict = "magnitude later" if lo > 0 else "random later" if hi < 0 else "no difference"
            if len(pairs) < MIN_SEEDS:  # the bootstrap range of one or two seeds is no CI
                verdict, lo, hi = "too few seeds", math.nan, math.nan
            rows.append(
                {"dataset": dataset, "cell": cell, "δ (points)": delta, "n": len(pairs)}
                | {
                    "magnitude knee q (%)": _median_q(pairs, knees, 0),
                    "random knee q (%)": _median_q(pairs, knees, 1),
                }
                | {"levels gained by magnitude": interval(gain, lo, hi), "verdict": verdict}
            )
    return pd.DataFrame(rows)


def _median_q(pairs: list, knees: list, side: int) -> str:
    """The q (%) of the median knee over seeds, a recorded level (the denser middle one for an even
    count; a knee never reached counts as sparser than every level); "never" when that is the median."""
    ranked = sorted(((k[side], pair[side]) for pair, k in zip(pairs, knees, strict=True)), key=lambda t: t[0])
    k, path = ranked[(len(ranked) - 1) // 2]
    return f"{100 * path.levels[k]:g}" if k < len(path) else "never"


def spearman_frame(
    paths: Mapping[str, Mapping[PathKey, PruningPath]], *, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Per dataset × cell × view × Δ: does Δ rank the criteria's test accuracies at equal density?

    Summarises :func:`~sparsernn.prune.stopping.criteria_spearman` over the pruned levels: the mean
    ρ, and the number of levels whose CI lies above zero, below zero, or is undefined.
    """
    if len(paths) < 2:
        return pd.DataFrame()
    rows = []
    for (dataset, cell), seeds in by_cell(paths[next(iter(paths))]).items():
        common = [s for s in seeds if all(PathKey(dataset, cell, s) in p for p in paths.values())]
        chosen = {(c, s): p[PathKey(dataset, cell, s)] for c, p in paths.items() for s in common}
        if not chosen:
            continue
        views = next(iter(chosen.values())).views()
        for view in views:
            for measure in ("delta_s", "delta_r", "delta_s_weighted"):
                try:
                    rho = criteria_spearman(chosen, view=view, measure=measure, n_boot=n_boot, seed=seed)
                except ValueError:
                    continue  # the view does not record this measure
                rows.append(_spearman_row(dataset, cell, view, measure, rho))
    return pd.DataFrame(rows)


def _spearman_row(dataset: str, cell: str, view: str, measure: str, rho: pd.DataFrame) -> dict:
    defined = rho["rho_lo"].notna()
    return {
        "dataset": dataset,
        "cell": cell,
        "view": view,
        "Δ": SYMBOLS[measure],
        "levels": len(rho),
        "mean ρ": float(rho["rho"].mean()) if rho["rho"].notna().any() else math.nan,
        "ρ > 0 (CI)": int((rho["rho_lo"] > 0).sum()),
        "ρ < 0 (CI)": int((rho["rho_hi"] < 0).sum()),
        "undefined": int((~defined).sum()),
    }


def spearman_reading(table: pd.DataFrame) -> list[str]:
    """Sentences on how often Δ ranks the criteria at equal density."""
    if table.empty:
        return ["- Only one criterion was recorded: no ranking across criteria."]
    levels = int(table["levels"].sum())
    if int(table["undefined"].sum()) == levels:
        return [
            f"- Across {len(table)} dataset × cell × view × Δ combinations, ρ has no CI at any level "
            f"(fewer than {MIN_SEEDS} seeds, or Δ or accuracy constant): no ranking is claimed."
        ]
    above, below = int(table["ρ > 0 (CI)"].sum()), int(table["ρ < 0 (CI)"].sum())
    best = table.sort_values("mean ρ", ascending=False).iloc[0]
    return [
        f"- Across {len(table)} dataset × cell × view × Δ combinations and {levels} pruned levels, Δ "
        f"ranks the criteria's test accuracies positively (CI of ρ above 0) at {above} levels and "
        f"negatively at {below}; elsewhere the CI includes 0 or ρ is undefined.",
        f"- Highest mean ρ: {best['mean ρ']:.2f} ({best['Δ']} of view {best['view']}, {best['dataset']}, "
        f"{best['cell']}; CI above 0 at {int(best['ρ > 0 (CI)'])} of its {int(best['levels'])} levels).",
    ]


def spearman_wide(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`spearman_frame` with one column per view: ``"mean ρ (k+ / m−)"``.

    Examples
    --------
    >>> t = pd.DataFrame({"dataset": "x", "cell": "gru", "view": ["hh", "ih"], "Δ": "Δ_S", "levels": 9,
    ...                   "mean ρ": [0.5, -0.25], "ρ > 0 (CI)": [3, 0], "ρ < 0 (CI)": [0, 1], "undefined": 0})
    >>> spearman_wide(t).to_dict("records")
    [{'dataset': 'x', 'cell': 'gru', 'Δ': 'Δ_S', 'hh': '0.50 (3+ / 0−)', 'ih': '-0.25 (0+ / 1−)'}]
    """
    text = [
        f"{rho:.2f} ({above}+ / {below}−)"
        for rho, above, below in table[["mean ρ", "ρ > 0 (CI)", "ρ < 0 (CI)"]].itertuples(index=False)
    ]
    wide = table.assign(text=text).pivot(index=["dataset", "cell", "Δ"], columns="view", values="text")
    return wide.reset_index().rename_axis(columns=None)
