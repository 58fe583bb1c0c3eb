"""Seed noise of a per-graph result: spread, intraclass correlation, the ceiling on R², learns-or-not.

The same graph trained with several seeds gives a table ``values[g, s]`` (graph g, seed s). Its
one-way random-effects model is ``y = μ + b_g + e_gs`` with between-graph variance σ²_b and
seed-to-seed (within-graph) variance σ²_w. From the ANOVA mean squares MSB (between graphs, k seeds
each) and MSW (within):

    σ²_w = MSW,  σ²_b = (MSB − MSW) / k,  ICC(1) = σ²_b / (σ²_b + σ²_w) = (MSB − MSW) / (MSB + (k − 1)·MSW)

**Ceiling on R².** Any predictor f that sees only the graph (its structure) predicts every seed of a
graph alike; the best one is the graph's own mean μ + b_g, and what is left is the seed noise e_gs,
which no structural feature can predict. Its R² for a single run is therefore at most
1 − σ²_w / (σ²_b + σ²_w) = ICC(1) (in expectation; a finite test set scatters around it). Predicting
the mean of m seeds instead raises the ceiling to σ²_b / (σ²_b + σ²_w / m).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sparsernn._registry import registry
from sparsernn.errors import DataError

CHANCE = 0.55  # accuracy below this: the network stays at chance (two balanced classes)

CLASSIFIERS: Mapping[str, Callable[[int], BaseEstimator]] = registry(
    {
        "logistic_regression": lambda seed: LogisticRegression(max_iter=2000),
        "random_forest": lambda seed: RandomForestClassifier(random_state=seed),
    }
)
"""Classifier name → ``seed -> unfitted estimator``."""


@dataclass(frozen=True)
class SeedNoise:
    """Variance components of a (graphs × seeds) table, and what they imply."""

    graphs: int
    seeds: int
    between: float  # σ²_b (clipped at 0)
    within: float  # σ²_w
    icc: float  # ICC(1), the ceiling on the R² of predicting one run from the graph
    mean_std: float  # mean over graphs of the seed-to-seed standard deviation (ddof 1)
    mean_range: float  # mean over graphs of max − min over seeds

    def ceiling(self, runs: int = 1) -> float:
        """The largest expected R² of any graph-only predictor of the mean of ``runs`` seeds."""
        total = self.between + self.within / runs
        return self.between / total if total > 0 else float("nan")


def seed_noise(values: np.ndarray) -> SeedNoise:
    """ICC(1) and spread of ``values[graph, seed]`` (see module docstring).

    Examples
    --------
    >>> noise = seed_noise(np.array([[0.0, 2.0], [4.0, 6.0]]))
    >>> noise.within, noise.between, round(noise.icc, 3)
    (2.0, 7.0, 0.778)
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 2 or values.shape[1] < 2 or not np.isfinite(values).all():
        raise DataError(f"expected finite values of at least 2 graphs × 2 seeds, got shape {values.shape}")
    g, k = values.shape
    means = values.mean(axis=1)
    msb = k * np.sum((means - values.mean()) ** 2) / (g - 1)
    msw = np.sum((values - means[:, None]) ** 2) / (g * (k - 1))
    between = max(0.0, (msb - msw) / k)
    icc = (msb - msw) / (msb + (k - 1) * msw) if msb + (k - 1) * msw > 0 else float("nan")
    return SeedNoise(
        graphs=g,
        seeds=k,
        between=float(between),
        within=float(msw),
        icc=float(icc),
        mean_std=float(values.std(axis=1, ddof=1).mean()),
        mean_range=float(np.ptp(values, axis=1).mean()),
    )


def _pipeline(estimator: BaseEstimator) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("model", estimator)])


def chance_auc(
    x: np.ndarray, accuracy: np.ndarray, *, folds: int = 5, repeats: int = 5, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """ROC AUC (mean, std over folds) of classifying "learns" (accuracy ≥ CHANCE) from ``x``.

    Scaling inside the folds, repeated stratified k-fold CV with fixed seeds. Needs at least
    ``folds`` rows of each class.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((60, 2)); acc = np.where(x[:, 0] > 0.5, 0.9, 0.5)
    >>> round(chance_auc(x, acc, repeats=1)["logistic_regression"][0], 1)
    1.0
    """
    x, labels = np.asarray(x, dtype=np.float64), np.asarray(accuracy) >= CHANCE
    smaller = int(min(labels.sum(), (~labels).sum()))
    if smaller < folds:
        raise DataError(f"need at least {folds} networks on each side of chance, got {smaller}")
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    out = {}
    for name, factory in CLASSIFIERS.items():
        scores = cross_val_score(_pipeline(factory(seed)), x, labels, cv=splitter, scoring="roc_auc")
        out[name] = (float(np.mean(scores)), float(np.std(scores)))
    return out


def seed_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per cell: the seed noise of the graphs trained with every seed of that cell (see :func:`seed_noise`).

    ``table`` has ``cell, family, graph, seed, accuracy``, one row per model.

    Examples
    --------
    >>> t = pd.DataFrame({"cell": "gru", "family": "ba", "graph": [0, 0, 1, 1], "seed": [0, 1, 0, 1],
    ...                   "accuracy": [0.0, 2.0, 4.0, 6.0]})
    >>> seed_table(t)[["cell", "graphs", "seeds", "ICC(1)"]].round(3).to_dict("records")
    [{'cell': 'gru', 'graphs': 2, 'seeds': 2, 'ICC(1)': 0.778}]
    """
    rows = []
    for cell, mine in table.groupby("cell", sort=True):
        wide = mine.pivot_table(index=["family", "graph"], columns="seed", values="accuracy", aggfunc="first")
        wide = wide.dropna(axis=1, thresh=2).dropna()  # graphs trained with every (repeated) seed
        if wide.shape[0] < 2 or wide.shape[1] < 2:
            continue
        noise = seed_noise(wide.to_numpy())
        rows.append(
            {"cell": cell, "graphs": noise.graphs, "seeds": noise.seeds}
            | {"seed std (mean)": noise.mean_std, "seed range (mean)": noise.mean_range}
            | {"var between": noise.between, "var within": noise.within, "ICC(1)": noise.icc}
            | {
                "ceiling R² (1 run)": noise.ceiling(1),
                f"ceiling R² (mean of {noise.seeds})": noise.ceiling(noise.seeds),
            }
        )
    return pd.DataFrame(rows)


def auc_table(table: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Per cell: ROC AUC (mean ± std over folds) of "learns vs stays at chance" from ``features``."""
    rows = []
    for cell, mine in table.groupby("cell", sort=True):
        try:
            aucs = chance_auc(mine[features].to_numpy(), mine["accuracy"].to_numpy())
        except DataError:
            continue  # too few networks on one side of chance
        share = float((mine["accuracy"] < CHANCE).mean())
        rows.append(
            {"cell": cell, "models": len(mine), "at chance": share}
            | {f"AUC {name}": f"{m:.3f} ± {s:.3f}" for name, (m, s) in aucs.items()}
        )
    return pd.DataFrame(rows)
