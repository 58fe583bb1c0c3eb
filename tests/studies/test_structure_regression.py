"""Regression protocols of the structure study: no scaling leak in the sound one, references elsewhere."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import BayesianRidge
from sklearn.model_selection import KFold, RepeatedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sparsernn.errors import DataError
from sparsernn.studies.reports.regression import (
    REGRESSORS,
    importances,
    original_protocol,
    pearson_table,
    sound_protocol,
    subset_study,
)


class Spy(RegressorMixin, BaseEstimator):
    """Predicts the training mean and records the (scaled) features of every fit."""

    seen: ClassVar[list[np.ndarray]] = []  # shared: sklearn clones the estimator for every fold

    def fit(self, x, y):
        Spy.seen.append(np.array(x))
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, x):
        return np.full(len(x), self.mean_)


def data(rows: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((rows, 3))
    x[np.argmax(x[:, 0]), 0] = 50.0  # one extreme value: its fold's scaling differs from the global one
    return x, x[:, 1] + 0.1 * rng.random(rows)


def test_sound_protocol_fits_the_scaling_on_training_folds_only():
    x, y = data()
    Spy.seen = []
    sound_protocol(x, y, regressors={"spy": lambda seed: Spy()}, folds=5, repeats=2)
    assert len(Spy.seen) == 5 * 2 + 5  # repeated CV plus the out-of-fold prediction pass
    for seen in Spy.seen:
        # scaled on its own rows, every training fold spans exactly [0, 1] in every feature; scaled on
        # all rows, the folds without the extreme value would stay far below 1 in feature 0
        assert np.allclose(seen.min(axis=0), 0.0) and np.allclose(seen.max(axis=0), 1.0)


def test_original_protocol_scales_on_all_rows_the_leak_the_sound_one_avoids():
    x, y = data()
    Spy.seen = []
    original_protocol(x, y, regressors={"spy": lambda seed: Spy()})
    (seen,) = Spy.seen
    _, _, y_train, _ = train_test_split(x, y, test_size=0.1, random_state=7)
    assert len(seen) == len(y_train)
    global_scaled = MinMaxScaler().fit_transform(x)
    train_rows, _ = train_test_split(global_scaled, test_size=0.1, random_state=7)
    assert np.allclose(seen, train_rows)  # the training part of the globally scaled table


def test_original_protocol_reproduces_the_split_and_r2():
    x, y = data(rows=60)
    fit = original_protocol(x, y)["bayesian_ridge"]
    scaled = MinMaxScaler().fit_transform(x)
    x_train, x_test, y_train, y_test = train_test_split(scaled, y, test_size=0.1, random_state=7)
    assert np.array_equal(fit.measured, y_test)
    reference = BayesianRidge().fit(x_train, y_train)
    assert fit.r2 == pytest.approx(reference.score(x_test, y_test))
    assert np.isnan(fit.r2_std)


def test_sound_protocol_matches_sklearn_cross_validation():
    x, y = data(rows=50)
    fit = sound_protocol(x, y, regressors={"ridge": REGRESSORS["bayesian_ridge"]}, repeats=3, seed=4)["ridge"]
    scores = cross_val_score(
        make_pipeline(MinMaxScaler(), BayesianRidge()),
        x,
        y,
        cv=RepeatedKFold(n_splits=5, n_repeats=3, random_state=4),
    )
    assert fit.r2 == pytest.approx(scores.mean()) and fit.r2_std == pytest.approx(scores.std())
    folds = list(KFold(n_splits=5, shuffle=True, random_state=4).split(x))
    train, test = folds[0]
    model = make_pipeline(MinMaxScaler(), BayesianRidge()).fit(x[train], y[train])
    assert np.allclose(fit.predicted[test], model.predict(x[test]))
    assert fit.r2_pooled == pytest.approx(1 - np.sum((y - fit.predicted) ** 2) / np.sum((y - y.mean()) ** 2))


def test_pearson_table_matches_numpy_and_sorts_by_strength():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"weak": rng.random(30), "strong": np.arange(30.0), "flat": np.ones(30)})
    frame["accuracy"] = frame["strong"] + 5 * rng.random(30)
    table = pearson_table(frame, ["weak", "strong", "flat"])
    assert table["feature"].tolist() == ["strong", "weak", "flat"]
    expected = np.corrcoef(frame["weak"], frame["accuracy"])[0, 1]
    assert table.set_index("feature").loc["weak", "r"] == pytest.approx(expected)
    assert np.isnan(table.set_index("feature").loc["flat", "r"])


def test_importances_and_subsets_find_the_informative_feature():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.random((40, 3)), columns=["a", "b", "c"])
    frame["accuracy"] = 2 * frame["b"] + 0.01 * rng.random(40)
    table = importances(
        frame[["a", "b", "c"]].to_numpy(), frame["accuracy"].to_numpy(), ["a", "b", "c"], folds=2
    )
    assert table["feature"].iloc[0] == "b"
    subsets = subset_study(
        frame, {"b": ["b"], "a": ["a"], "best 1": 1}, regressors={"ridge": REGRESSORS["bayesian_ridge"]}
    )
    r2 = subsets.set_index("subset")["r2"]
    assert r2["b"] > 0.99 and r2["best 1"] > 0.99 and r2["a"] < 0.5


def test_too_few_or_bad_rows_are_data_errors():
    x, y = data(rows=6)
    with pytest.raises(DataError, match="rows"):
        sound_protocol(x, y)
    x, y = data()
    x[0, 0] = np.nan
    with pytest.raises(DataError, match="finite"):
        original_protocol(x, y)
