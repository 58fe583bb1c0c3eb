"""Accuracy under input noise in the ``controlled_pruning`` report: every criterion, and scratch models.

The protocol evaluates every level of every path, and every sparse-from-scratch model, on the same
noisy test inputs (``phase="noisy"`` rows; ``noise`` is the σ of Gaussian noise, or the SNR in dB for
speech). Accuracies are aggregated over seeds as every accuracy of the report is: mean and 95 %
Student-t interval clipped to [0, 1] (:func:`~sparsernn.studies.reports.controlled_expansion.accuracy_stats`).
Only the complete paths of the report count, as in its other tables.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from sparsernn.prune.stopping import PathKey, PruningPath
from sparsernn.studies.reports.controlled_expansion import BASE, accuracy_stats

COLUMNS = ["dataset", "cell", "seed", "criterion", "q", "noise", "accuracy"]
SCRATCH = "scratch:"


def noisy_frame(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per noisy evaluation: ``dataset, cell, seed, criterion, q, noise, accuracy``.

    ``criterion`` is the row's ``path`` (``"scratch:<init>"`` for a model born sparse, its ``q`` the
    density); ``metrics`` must hold the run key columns
    (:func:`sparsernn.studies.reports.controlled_paths.with_run_keys`).
    """
    if "noise" not in metrics.columns or "path" not in metrics.columns:
        return pd.DataFrame(columns=COLUMNS)
    rows = metrics[(metrics["phase"] == "noisy") & (metrics["name"] == "accuracy")]
    return pd.DataFrame(
        {
            "dataset": rows["data.name"].astype(str),
            "cell": rows["model.cell"].astype(str),
            "seed": rows["seed"].astype(int),
            "criterion": rows["path"].astype(str),
            "q": rows["level"].astype(float),
            "noise": rows["noise"].astype(float),
            "accuracy": rows["value"].astype(float),
        },
        columns=COLUMNS,
    )


def on_paths(noisy: pd.DataFrame, paths: Mapping[str, Mapping[PathKey, PruningPath]]) -> pd.DataFrame:
    """The rows of ``noisy`` that belong to a complete path of ``paths`` (scratch rows dropped).

    Examples
    --------
    >>> noisy = pd.DataFrame({"dataset": "x", "cell": "gru", "seed": [0, 1, 0], "q": 0.5, "noise": 0.1,
    ...                       "criterion": ["random", "random", "scratch:expander"], "accuracy": 0.7})
    >>> on_paths(noisy, {"random": {PathKey("x", "gru", 1): None}})["seed"].tolist()
    [1]
    """
    keys = {(c, *key) for c, mine in paths.items() for key in mine}
    mine = [
        (c, d, cell, int(s)) in keys
        for c, d, cell, s in noisy[["criterion", "dataset", "cell", "seed"]].itertuples(index=False)
    ]
    return noisy[np.array(mine, dtype=bool)] if len(noisy) else noisy


def criteria_table(noisy: pd.DataFrame) -> pd.DataFrame:
    """Noisy accuracy per dataset × cell × noise × q × criterion: mean, std, n, clipped 95 % t interval."""
    return accuracy_stats(noisy, ["dataset", "cell", "noise", "q", "criterion"], "accuracy")


def mean_half(table: pd.DataFrame) -> list[str]:
    """``"mean ± half-width"`` of each row's interval (the mean alone where there is none).

    Examples
    --------
    >>> mean_half(pd.DataFrame({"mean": [0.5, 0.7], "ci95_low": [0.4, np.nan], "ci95_high": [0.6, np.nan]}))
    ['0.500 ± 0.100', '0.700']
    """
    half = (table["ci95_high"] - table["ci95_low"]) / 2
    return [
        f"{m:.3f}" + (f" ± {h:.3f}" if np.isfinite(h) else "")
        for m, h in zip(table["mean"], half, strict=True)
    ]


def _seed_range(n: pd.Series) -> str:
    lo, hi = int(n.min()), int(n.max())
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def criteria_wide(table: pd.DataFrame, order: list[str]) -> dict[tuple[str, str], pd.DataFrame]:
    """Per (dataset, cell): rows noise × q (dense first), a column per criterion in ``order`` with
    ``mean ± half-width``, and ``n``, the seeds averaged (a range where criteria differ)."""
    tables = {}
    for (dataset, cell), mine in table.groupby(["dataset", "cell"], sort=True):
        wide = mine.assign(text=mean_half(mine)).pivot(
            index=["noise", "q"], columns="criterion", values="text"
        )
        wide = wide[[c for c in order if c in wide.columns]].sort_index(ascending=[True, False])
        seeds = mine.groupby(["noise", "q"])["n"].agg(_seed_range)
        wide.insert(0, "n", seeds.reindex(wide.index))
        wide = wide.reset_index().rename_axis(columns=None)
        wide["q"] = wide["q"].map(lambda q: f"{100 * q:g}%")
        tables[(dataset, cell)] = wide.fillna("-")
    return tables


def scratch_table(noisy: pd.DataFrame, paths: Mapping[str, Mapping[PathKey, PruningPath]]) -> pd.DataFrame:
    """Noisy accuracy of the scratch models and of the magnitude path at their densities: stats per
    dataset × cell × q × criterion × noise (criterion ``scratch:<init>`` or ``magnitude``)."""
    scratch = noisy[noisy["criterion"].str.startswith(SCRATCH)]
    if scratch.empty:
        return pd.DataFrame()
    pruned = on_paths(noisy, {BASE: paths.get(BASE, {})})
    pruned = pruned[pruned["q"].isin(scratch["q"].unique())]
    both = pd.concat([scratch, pruned], ignore_index=True)
    return accuracy_stats(both, ["dataset", "cell", "q", "criterion", "noise"], "accuracy")


def scratch_wide(clean: pd.DataFrame, noisy: pd.DataFrame) -> pd.DataFrame:
    """Rows dataset × cell × q × model (expander, erdos_renyi, magnitude): ``n``, the clean test accuracy
    and the accuracy at each noise level, each as ``mean ± half-width`` (``clean`` and ``noisy``: stats
    of :func:`~sparsernn.studies.reports.controlled_expansion.scratch_comparison` and :func:`scratch_table`).
    """
    keys = ["dataset", "cell", "q", "criterion"]
    wide = clean.assign(**{"clean test": mean_half(clean)})[[*keys, "n", "clean test"]]
    if not noisy.empty:
        shown = noisy.assign(text=mean_half(noisy)).pivot(index=keys, columns="noise", values="text")
        shown.columns = [f"noise {n:g}" for n in shown.columns]
        wide = wide.merge(shown.reset_index(), on=keys, how="left")
    wide = wide.sort_values(["dataset", "cell", "q", "criterion"], ascending=[True, True, False, False])
    wide["q"] = wide["q"].map(lambda q: f"{100 * q:g}%")
    wide["criterion"] = wide["criterion"].str.removeprefix(SCRATCH)
    return wide.rename(columns={"criterion": "model"}).fillna("-").reset_index(drop=True)
