"""Seed noise: ICC(1) on tables with known variance components, the R² ceiling, learns-vs-chance AUC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sparsernn.errors import DataError
from sparsernn.studies.reports.paired import r2_ceiling_note
from sparsernn.studies.reports.seeds import auc_table, chance_auc, seed_noise, seed_table


def test_icc_of_a_hand_computed_table():
    # graph means 1, 2, 6 (grand mean 3); deviations ±1 within each graph, 2 seeds:
    # MSW = 6 · 1 / (3 · 1) = 2; MSB = 2 · (4 + 1 + 9) / 2 = 14; σ²_b = (14 − 2) / 2 = 6
    values = np.array([[0.0, 2.0], [1.0, 3.0], [5.0, 7.0]])
    noise = seed_noise(values)
    assert noise.within == pytest.approx(2.0) and noise.between == pytest.approx(6.0)
    assert noise.icc == pytest.approx(12 / 16)  # (MSB − MSW) / (MSB + MSW) = 6 / (6 + 2)
    assert noise.ceiling(1) == pytest.approx(0.75) and noise.ceiling(2) == pytest.approx(6 / 7)
    assert noise.mean_range == pytest.approx(2.0) and noise.mean_std == pytest.approx(np.sqrt(2))


def test_icc_recovers_the_variance_components_of_a_simulated_table():
    rng = np.random.default_rng(0)
    effects = rng.normal(0, 2.0, size=(4000, 1))  # σ²_b = 4
    values = effects + rng.normal(0, 1.0, size=(4000, 3))  # σ²_w = 1 → ICC = 0.8
    noise = seed_noise(values)
    assert noise.between == pytest.approx(4.0, rel=0.05) and noise.within == pytest.approx(1.0, rel=0.05)
    assert noise.icc == pytest.approx(0.8, abs=0.02)


def test_no_seed_noise_gives_icc_one_and_pure_noise_gives_about_zero():
    assert seed_noise(np.array([[0.5, 0.5], [0.9, 0.9]])).icc == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    assert abs(seed_noise(rng.normal(size=(3000, 2))).icc) < 0.05
    with pytest.raises(DataError, match="at least 2 graphs × 2 seeds"):
        seed_noise(np.ones((1, 3)))


def test_the_ceiling_is_the_best_r2_of_any_graph_only_predictor():
    rng = np.random.default_rng(2)
    means = rng.normal(0.7, 0.15, size=(5000, 1))
    runs = means + rng.normal(0, 0.1, size=(5000, 2))
    noise = seed_noise(runs)
    y = runs[:, 0]
    best = 1 - np.sum((y - means[:, 0]) ** 2) / np.sum((y - y.mean()) ** 2)  # the oracle: the true graph mean
    assert best == pytest.approx(noise.ceiling(1), abs=0.02)
    assert "above the ceiling" in r2_ceiling_note(0.6) and "under" in r2_ceiling_note(0.9)


def test_seed_table_keeps_graphs_trained_with_every_seed():
    table = pd.DataFrame(
        {"cell": "gru", "family": "ba", "graph": [0, 0, 1, 1, 2, 2, 3], "seed": [0, 1, 0, 1, 0, 1, 0]}
        | {"accuracy": [0.0, 2.0, 1.0, 3.0, 5.0, 7.0, 0.5]}
    )
    row = seed_table(table).iloc[0]
    assert (row["graphs"], row["seeds"]) == (3, 2) and row["ICC(1)"] == pytest.approx(0.75)


def test_learns_vs_chance_classifier():
    rng = np.random.default_rng(0)
    x = rng.random((80, 3))
    learns = np.where(x[:, 1] > 0.5, 0.95, 0.5)
    aucs = chance_auc(x, learns, repeats=2)
    assert aucs["logistic_regression"][0] > 0.95 and aucs["random_forest"][0] > 0.95
    noise = chance_auc(x, np.where(rng.random(80) > 0.5, 0.95, 0.5), repeats=2)
    assert abs(noise["logistic_regression"][0] - 0.5) < 0.2
    with pytest.raises(DataError, match="on each side of chance"):
        chance_auc(x, np.full(80, 0.9))
    table = pd.DataFrame(x, columns=["a", "b", "c"]).assign(cell="gru", accuracy=learns)
    assert auc_table(table, ["a", "b", "c"])["models"].tolist() == [80]
