"""Predicting a network's accuracy from its graph: correlation, regression, importances, feature subsets.

Two regression protocols, both with Bayesian ridge, random forest and AdaBoost (scikit-learn's
default settings, seeded):

- :func:`original_protocol` — Darji's: min-max scaling fit on *all* rows, then one 90/10
  train/test split (``random_state=7``) and the R² on the 10 % held out. Scaling on all rows lets the
  held-out rows shape the training features (a leak), and one split of ~20 rows gives a noisy R².
- :func:`sound_protocol` — scaling inside a ``Pipeline`` (fit on each training fold only), repeated
  k-fold cross-validation with fixed seeds, R² as mean ± std over all folds; out-of-fold
  predictions of one k-fold pass for predicted-vs-measured plots.

:func:`importances` gives random-forest impurity and permutation importances (held-out folds);
:func:`subset_study` compares feature subsets under the sound protocol (a "best k" subset is chosen
inside each training fold, so selection does not leak either).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import AdaBoostRegressor, RandomForestRegressor
from sklearn.feature_selection import SelectKBest, f_regression
from sklearn.inspection import permutation_importance
from sklearn.linear_model import BayesianRidge
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, RepeatedKFold, cross_val_predict, cross_validate, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from sparsernn._registry import registry
from sparsernn.errors import DataError

Factory = Callable[[int], BaseEstimator]

REGRESSORS: Mapping[str, Factory] = registry(
    {
        "bayesian_ridge": lambda seed: BayesianRidge(),
        "random_forest": lambda seed: RandomForestRegressor(random_state=seed),
        "adaboost": lambda seed: AdaBoostRegressor(random_state=seed),
    }
)
"""Regressor name → ``seed -> unfitted estimator``."""


@dataclass(frozen=True)
class Fit:
    """One regressor under one protocol: R² (mean and std over folds; std NaN for one split), the
    measured / predicted accuracies shown in predicted-vs-measured plots, and the R² of those
    predictions (``r2_pooled``: all out-of-fold predictions of one k-fold pass together, steadier than
    a mean over small folds; for the original protocol the held-out R² again)."""

    regressor: str
    r2: float
    r2_std: float
    measured: np.ndarray
    predicted: np.ndarray
    r2_pooled: float


def _checked(x: np.ndarray, y: np.ndarray, folds: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise DataError(
            f"expected features (rows, features) and targets (rows,), got {x.shape} and {y.shape}"
        )
    if x.shape[0] < max(folds, 2) * 2 or not np.isfinite(x).all() or not np.isfinite(y).all():
        raise DataError(
            f"need at least {max(folds, 2) * 2} rows of finite values to regress, got {x.shape[0]}"
        )
    return x, y


def original_protocol(
    x: np.ndarray,
    y: np.ndarray,
    *,
    regressors: Mapping[str, Factory] = REGRESSORS,
    test_size: float = 0.1,
    seed: int = 7,
) -> dict[str, Fit]:
    """Darji's protocol: scale on all rows, one split, R² on the held-out part (see module docstring).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((60, 3)); y = x[:, 0] + 0.01 * rng.random(60)
    >>> round(original_protocol(x, y)["bayesian_ridge"].r2, 2)
    1.0
    """
    x, y = _checked(x, y, 2)
    scaled = MinMaxScaler().fit_transform(x)  # fit on every row: the leak of the original protocol
    x_train, x_test, y_train, y_test = train_test_split(scaled, y, test_size=test_size, random_state=seed)
    out = {}
    for name, factory in regressors.items():
        predicted = factory(seed).fit(x_train, y_train).predict(x_test)
        r2 = float(r2_score(y_test, predicted))
        out[name] = Fit(name, r2, float("nan"), y_test, predicted, r2)
    return out


def _pipeline(estimator: BaseEstimator, select: int | None = None) -> Pipeline:
    steps = [("scale", MinMaxScaler())]
    if select is not None:
        steps.append(("select", SelectKBest(f_regression, k=select)))
    return Pipeline([*steps, ("model", estimator)])


def sound_protocol(
    x: np.ndarray,
    y: np.ndarray,
    *,
    regressors: Mapping[str, Factory] = REGRESSORS,
    folds: int = 5,
    repeats: int = 5,
    seed: int = 0,
    select: int | None = None,
) -> dict[str, Fit]:
    """Scaling inside the folds, repeated k-fold CV, fixed seeds (see module docstring).

    ``select`` keeps the ``select`` features with the best univariate F score, chosen on each
    training fold.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((60, 3)); y = x[:, 0] + 0.01 * rng.random(60)
    >>> fit = sound_protocol(x, y, repeats=2, regressors={"ridge": REGRESSORS["bayesian_ridge"]})["ridge"]
    >>> round(fit.r2, 2), fit.predicted.shape
    (1.0, (60,))
    """
    x, y = _checked(x, y, folds)
    splitter = RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    one_pass = KFold(n_splits=folds, shuffle=True, random_state=seed)
    out = {}
    for name, factory in regressors.items():
        model = _pipeline(factory(seed), select)
        scores = cross_validate(model, x, y, cv=splitter, scoring="r2")["test_score"]
        predicted = cross_val_predict(clone(model), x, y, cv=one_pass)
        pooled = float(r2_score(y, predicted))
        out[name] = Fit(name, float(np.mean(scores)), float(np.std(scores)), y, predicted, pooled)
    return out


def pearson_table(frame: pd.DataFrame, features: Sequence[str], target: str = "accuracy") -> pd.DataFrame:
    """Pearson r and p-value of every feature with ``target``, sorted by |r| (NaN for constant features).

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [1.0, 1, 1, 1], "accuracy": [0.1, 0.2, 0.3, 0.5]})
    >>> pearson_table(df, ["a", "b"])["feature"].tolist()
    ['a', 'b']
    """
    rows = []
    for name in features:
        values = frame[name].to_numpy(dtype=np.float64)
        ok = np.isfinite(values)
        if ok.sum() < 3 or np.ptp(values[ok]) == 0:
            rows.append({"feature": name, "r": float("nan"), "p": float("nan")})
            continue
        r, p = stats.pearsonr(values[ok], frame[target].to_numpy(dtype=np.float64)[ok])
        rows.append({"feature": name, "r": float(r), "p": float(p)})
    table = pd.DataFrame(rows)
    return table.sort_values("r", key=lambda r: -r.abs(), na_position="last").reset_index(drop=True)


def importances(
    x: np.ndarray, y: np.ndarray, names: Sequence[str], *, folds: int = 5, seed: int = 0
) -> pd.DataFrame:
    """Random-forest impurity importance (mean over folds) and permutation importance (mean drop of
    held-out R² when a feature is shuffled), per feature, sorted by permutation importance.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((40, 2)); y = x[:, 1]
    >>> importances(x, y, ["noise", "signal"], folds=2)["feature"].iloc[0]
    'signal'
    """
    x, y = _checked(x, y, folds)
    impurity, permuted = np.zeros(len(names)), np.zeros(len(names))
    splits = list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(x))
    for train, test in splits:
        model = _pipeline(RandomForestRegressor(random_state=seed)).fit(x[train], y[train])
        impurity += model.named_steps["model"].feature_importances_
        drop = permutation_importance(model, x[test], y[test], scoring="r2", n_repeats=5, random_state=seed)
        permuted += drop.importances_mean
    table = pd.DataFrame(
        {"feature": list(names), "impurity": impurity / folds, "permutation": permuted / folds}
    )
    return table.sort_values("permutation", ascending=False).reset_index(drop=True)


def subset_study(
    frame: pd.DataFrame,
    subsets: Mapping[str, Sequence[str] | int],
    *,
    target: str = "accuracy",
    regressors: Mapping[str, Factory] = REGRESSORS,
    folds: int = 5,
    repeats: int = 2,
    seed: int = 0,
) -> pd.DataFrame:
    """Sound-protocol R² (mean ± std) of every regressor on every feature subset.

    A subset is a list of feature names, or an int k: the k best of all numeric non-target
    columns, selected inside each training fold.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame(rng.random((40, 3)), columns=["a", "b", "c"]).assign(accuracy=lambda d: d.a)
    >>> t = subset_study(df, {"a only": ["a"], "best 1": 1}, regressors={"ridge": REGRESSORS["bayesian_ridge"]})
    >>> t[["subset", "regressor"]].values.tolist()
    [['a only', 'ridge'], ['best 1', 'ridge']]
    """
    everything = [c for c in frame.columns if c != target and pd.api.types.is_numeric_dtype(frame[c])]
    rows = []
    for label, subset in subsets.items():
        columns, select = (everything, subset) if isinstance(subset, int) else (list(subset), None)
        fits = sound_protocol(
            frame[columns].to_numpy(),
            frame[target].to_numpy(),
            regressors=regressors,
            folds=folds,
            repeats=repeats,
            seed=seed,
            select=select,
        )
        rows += [
            {"subset": label, "regressor": f.regressor, "r2": f.r2, "r2_std": f.r2_std} for f in fits.values()
        ]
    return pd.DataFrame(rows)
