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
the mean of m seeds instead raises the ceiling to σ²_b / (σ²_b + σ²_w / m). The ceiling is an
expectation: an R² measured on a few held-out rows (the original protocol's 10 % split, ~20 graphs)
scatters around it, and a reference trained with less seed noise has a higher one.

**How much of the explainable part do the features catch?** :func:`seed_mean_table` regresses, on
the same graphs and features, one run's accuracy and the mean over the seeds (sound protocol,
pooled out-of-fold R²) and sets each R² against its ceiling. If averaging seeds lifts the R² toward
the higher ceiling of the mean, seed noise is what limited the single-run prediction; if the R² of
the mean stays far under its ceiling, the graph matters in ways the features do not describe.

**Uncertainty.** :func:`icc_interval` gives a percentile bootstrap interval of ICC(1) over graphs:
whole graphs (all their seeds) are resampled with replacement, since the graphs are the sample.

**Learns vs stays at chance.** Below :data:`CHANCE` (0.55) a network counts as staying at chance:
a network that answers one class scores the class share of the test split (0.494 or 0.506 on the
thesis' 6,250 test strings), and the binomial standard error of an accuracy near 0.5 on 6,250
strings is 0.006, so 0.55 lies about seven standard errors above chance. :func:`chance_auc` scores
classifiers of that label on the graph features by ROC AUC under stratified k-fold CV with every
step (scaling included) fit on the training folds only; nothing is tuned, so no inner loop is
needed. A cell with fewer than ``folds`` networks on one side is reported as such, not scored.
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
from sparsernn.studies.reports.regression import REGRESSORS, Factory, sound_protocol

CHANCE = 0.55  # accuracy below this: the network stays at chance (two balanced classes)
MIN_INTERVAL_GRAPHS = 10  # fewer graphs: no bootstrap interval (resamples of a handful of rows repeat)

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


def _checked(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 2 or values.shape[1] < 2 or not np.isfinite(values).all():
        raise DataError(f"expected finite values of at least 2 graphs × 2 seeds, got shape {values.shape}")
    return values


def _mean_squares(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MSB, MSW and ICC(1) of ``values[..., graph, seed]`` (NaN where MSB + (k − 1)·MSW is 0)."""
    g, k = values.shape[-2:]
    means = values.mean(axis=-1)  # (..., g)
    grand = means.mean(axis=-1, keepdims=True)
    msb = k * np.sum((means - grand) ** 2, axis=-1) / (g - 1)
    msw = np.sum((values - means[..., None]) ** 2, axis=(-2, -1)) / (g * (k - 1))
    total = msb + (k - 1) * msw
    with np.errstate(invalid="ignore", divide="ignore"):
        icc = np.where(total > 0, (msb - msw) / np.where(total > 0, total, 1.0), np.nan)
    return msb, msw, icc


def seed_noise(values: np.ndarray) -> SeedNoise:
    """ICC(1) and spread of ``values[graph, seed]`` (see module docstring).

    Examples
    --------
    >>> noise = seed_noise(np.array([[0.0, 2.0], [4.0, 6.0]]))
    >>> noise.within, noise.between, round(noise.icc, 3)
    (2.0, 7.0, 0.778)
    """
    values = _checked(values)
    g, k = values.shape
    msb, msw, icc = (float(v) for v in _mean_squares(values))
    between = max(0.0, (msb - msw) / k)
    return SeedNoise(
        graphs=g,
        seeds=k,
        between=float(between),
        within=float(msw),
        icc=float(icc),
        mean_std=float(values.std(axis=1, ddof=1).mean()),
        mean_range=float(np.ptp(values, axis=1).mean()),
    )


def icc_interval(
    values: np.ndarray, *, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of ICC(1) over graphs: rows of ``values[graph, seed]`` resampled.

    Resamples without between-graph variation (NaN ICC) are left out; NaN when all are.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> values = rng.normal(0, 2, (40, 1)) + rng.normal(0, 1, (40, 3))  # true ICC 0.8
    >>> round(seed_noise(values).icc, 2), [round(b, 2) for b in icc_interval(values)]
    (0.7, [0.51, 0.81])
    """
    values = _checked(values)
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, values.shape[0], size=(resamples, values.shape[0]))
    icc = _mean_squares(values[rows])[2]  # (resamples,)
    icc = icc[np.isfinite(icc)]
    if icc.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(icc, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


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
        wide = _wide(mine)
        if wide.shape[0] < 2 or wide.shape[1] < 2:
            continue
        noise = seed_noise(wide.to_numpy())
        low, high = icc_interval(wide.to_numpy()) if len(wide) >= MIN_INTERVAL_GRAPHS else (np.nan, np.nan)
        rows.append(
            {"cell": cell, "graphs": noise.graphs, "seeds": noise.seeds}
            | {"seed std (mean)": noise.mean_std, "seed range (mean)": noise.mean_range}
            | {"var between": noise.between, "var within": noise.within, "ICC(1)": noise.icc}
            | {"ICC ci95_low": low, "ICC ci95_high": high}
            | {
                "ceiling R² (1 run)": noise.ceiling(1),
                f"ceiling R² (mean of {noise.seeds})": noise.ceiling(noise.seeds),
            }
        )
    return pd.DataFrame(rows)


def _wide(mine: pd.DataFrame) -> pd.DataFrame:
    """``accuracy[(family, graph), seed]`` of the graphs trained with every (repeated) seed."""
    wide = mine.pivot_table(index=["family", "graph"], columns="seed", values="accuracy", aggfunc="first")
    return wide.dropna(axis=1, thresh=2).dropna()


def seed_mean_table(
    table: pd.DataFrame, features: list[str], *, regressors: Mapping[str, Factory] = REGRESSORS
) -> pd.DataFrame:
    """Per cell: R² of predicting one run (the lowest seed) and the mean over seeds from ``features``.

    Same graphs (those trained with every seed), same features, sound protocol (pooled out-of-fold
    R² of one 5-fold pass, seed 0); each target next to its ceiling (see module docstring). ``table``
    is as for :func:`seed_table` plus the feature columns (equal across a graph's seeds). Cells with
    fewer than 10 such graphs are left out.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.random(40)
    >>> t = pd.DataFrame({"cell": "gru", "family": "ba", "graph": np.repeat(np.arange(40), 3),
    ...                   "seed": np.tile([0, 1, 2], 40), "x": np.repeat(signal, 3)})
    >>> t["accuracy"] = t["x"] + rng.normal(0, 0.3, 120)
    >>> ridge = {"bayesian_ridge": REGRESSORS["bayesian_ridge"]}
    >>> rows = seed_mean_table(t, ["x"], regressors=ridge).set_index("target")["R² bayesian_ridge"]
    >>> bool(rows["mean of 3 seeds"] > rows["one run (seed 0)"])
    True
    """
    rows = []
    for cell, mine in table.groupby("cell", sort=True):
        wide = _wide(mine)
        if wide.shape[0] < MIN_INTERVAL_GRAPHS or wide.shape[1] < 2:
            continue
        noise = seed_noise(wide.to_numpy())
        x = mine.groupby(["family", "graph"])[features].first().loc[wide.index].to_numpy()
        k, first = wide.shape[1], wide.columns[0]
        targets = {
            f"one run (seed {first})": (wide[first].to_numpy(), noise.ceiling(1)),
            f"mean of {k} seeds": (wide.mean(axis=1).to_numpy(), noise.ceiling(k)),
        }
        for target, (y, ceiling) in targets.items():
            fits = sound_protocol(x, y, regressors=regressors)
            rows.append(
                {"cell": cell, "graphs": len(wide), "target": target, "ceiling R²": ceiling}
                | {f"R² {name}": fit.r2_pooled for name, fit in fits.items()}
            )
    return pd.DataFrame(rows)


def chance_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per cell: how many graphs stay at chance (< :data:`CHANCE`) in 0, 1, …, k of their k seeds.

    If staying at chance were a seed accident, independent of the graph, with the cell's overall rate
    p, about g·p^k of g graphs would fail in every seed (``expected in all``, binomial); many more
    mean the graph decides. Same graphs as :func:`seed_table` (those trained with every seed).

    Examples
    --------
    >>> t = pd.DataFrame({"cell": "gru", "family": "ba", "graph": [0, 0, 1, 1, 2, 2], "seed": [0, 1] * 3,
    ...                   "accuracy": [0.5, 0.5, 0.5, 0.9, 0.9, 0.9]})
    >>> chance_table(t).iloc[0].to_dict()
    {'cell': 'gru', 'graphs': 3, 'seeds': 2, 'at chance in 0': 1, 'at chance in 1': 1, 'at chance in 2': 1, 'expected in all': 0.75}
    """
    rows = []
    for cell, mine in table.groupby("cell", sort=True):
        wide = _wide(mine)
        if wide.shape[0] < 2 or wide.shape[1] < 2:
            continue
        failed = (wide.to_numpy() < CHANCE).sum(axis=1)
        g, k = wide.shape
        counts = {f"at chance in {n}": int((failed == n).sum()) for n in range(k + 1)}
        rate = failed.sum() / (g * k)
        rows.append({"cell": cell, "graphs": g, "seeds": k} | counts | {"expected in all": g * rate**k})
    return pd.DataFrame(rows)


def auc_table(table: pd.DataFrame, features: list[str], *, folds: int = 5) -> pd.DataFrame:
    """Per cell: ROC AUC (mean ± std over folds) of "learns vs stays at chance" from ``features``.

    A cell with fewer than ``folds`` networks on one side of :data:`CHANCE` gets a row that says so.

    Examples
    --------
    >>> t = pd.DataFrame({"cell": "gru", "nodes": [10.0, 20, 30], "accuracy": [0.5, 1.0, 1.0]})
    >>> auc_table(t, ["nodes"]).to_dict("records")[0]["AUC random_forest"]
    'not scored: 1 at chance, 2 learn (need 5 of each)'
    """
    rows = []
    for cell, mine in table.groupby("cell", sort=True):
        chance = int((mine["accuracy"] < CHANCE).sum())
        row = {"cell": cell, "models": len(mine), "share at chance": chance / len(mine)}
        try:
            aucs = chance_auc(mine[features].to_numpy(), mine["accuracy"].to_numpy(), folds=folds)
        except DataError:
            reason = f"not scored: {chance} at chance, {len(mine) - chance} learn (need {folds} of each)"
            rows.append(row | {f"AUC {name}": reason for name in CLASSIFIERS})
            continue
        rows.append(row | {f"AUC {name}": f"{m:.3f} ± {s:.3f}" for name, (m, s) in aucs.items()})
    return pd.DataFrame(rows)


def ceiling_lines(noise: pd.DataFrame, published: Mapping[tuple[str, str], float]) -> list[str]:
    """Per cell of :func:`seed_table`: does the reference's best published R² lie under our ceiling?

    ``published`` maps (cell, regressor) to the R² the reference published for a single run of each
    graph; it is compared with the single-run ceiling and its bootstrap interval.

    Examples
    --------
    >>> noise = pd.DataFrame({"cell": ["gru"], "ceiling R² (1 run)": [0.5]}
    ...                      | {"ICC ci95_low": [0.3], "ICC ci95_high": [0.7]})
    >>> ceiling_lines(noise, {("gru", "random_forest"): 0.876})[0][:80]
    "- gru: the thesis' best R² (random_forest, 0.88) lies above the ceiling 0.50 (95"
    """
    lines = []
    for row in noise.to_dict("records"):
        cell, icc = row["cell"], float(row["ceiling R² (1 run)"])
        mine = {name: r2 for (c, name), r2 in published.items() if c == cell}
        if not mine:
            continue
        name = max(mine, key=mine.get)
        low, high = (float(np.maximum(0.0, row[f"ICC ci95_{b}"])) for b in ("low", "high"))  # NaN stays
        lines.append(
            f"- {cell}: the thesis' best R² ({name}, {mine[name]:.2f}) {_verdict(mine[name], icc, low, high)}."
        )
    return lines


def _verdict(r2: float, icc: float, low: float, high: float) -> str:
    if not np.isfinite(icc):
        return "has no ceiling to compare with (no seed-to-seed variation)"
    if not (np.isfinite(low) and np.isfinite(high)):
        side = "under" if r2 <= icc else "above"
        return f"lies {side} the ceiling {icc:.2f} (no interval: fewer than {MIN_INTERVAL_GRAPHS} graphs)"
    where = f"the ceiling {icc:.2f} (95 % CI {low:.2f}–{high:.2f})"
    if r2 > high:
        return (
            f"lies above {where}: more than the graph can explain for a single run of our training, "
            "unless the thesis' training had less seed noise or its one 10 % test split was lucky"
        )
    if r2 < low:
        return f"lies under {where}"
    side = "under" if r2 <= icc else "above"
    return f"lies {side} {where}, inside its interval: our seeds cannot tell whether it is reachable"
