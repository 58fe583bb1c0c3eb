"""Seed noise: ICC(1) on tables with known variance components, the R² ceiling, learns-vs-chance AUC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import BayesianRidge

from sparsernn.errors import DataError
from sparsernn.studies.reports.paired import r2_ceiling_note
from sparsernn.studies.reports.seeds import (
    auc_table,
    ceiling_lines,
    chance_auc,
    chance_table,
    icc_interval,
    seed_mean_table,
    seed_noise,
    seed_table,
)


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


def test_icc_agrees_with_the_one_way_anova_of_scipy():
    """ICC(1) = (F − 1) / (F + k − 1) with F the one-way ANOVA statistic of graphs as groups."""
    from scipy import stats

    rng = np.random.default_rng(3)
    values = rng.normal(0, 0.5, size=(30, 1)) + rng.normal(0, 1.0, size=(30, 3))
    f = stats.f_oneway(*values).statistic  # each row (graph) is a group of k = 3 seeds
    assert seed_noise(values).icc == pytest.approx((f - 1) / (f + 2), rel=1e-10)


def test_icc_interval_resamples_graphs_and_covers_the_truth():
    rng = np.random.default_rng(4)
    covered = 0
    for _ in range(40):  # true ICC 0.5; 50 graphs × 3 seeds, as in the seed study's cells
        values = rng.normal(0, 1.0, size=(50, 1)) + rng.normal(0, 1.0, size=(50, 3))
        low, high = icc_interval(values, resamples=500, seed=1)
        covered += low <= 0.5 <= high
        assert low < seed_noise(values).icc < high
    assert covered >= 33  # nominal 95 %: 38 of 40 expected
    values = rng.normal(size=(20, 2))
    assert icc_interval(values, seed=2) == icc_interval(values, seed=2)
    assert icc_interval(np.array([[0.5, 0.5], [0.9, 0.9]])) == (1.0, 1.0)  # no seed noise at all


def test_seed_table_gives_the_icc_interval():
    rng = np.random.default_rng(5)
    acc = (rng.normal(0, 1, (20, 1)) + rng.normal(0, 1, (20, 2))).ravel()
    table = pd.DataFrame({"cell": "gru", "family": "ba", "graph": np.repeat(np.arange(20), 2)})
    row = seed_table(table.assign(seed=np.tile([0, 1], 20), accuracy=acc)).iloc[0]
    assert row["ICC ci95_low"] < row["ICC(1)"] < row["ICC ci95_high"]


def test_a_cell_with_too_few_networks_at_chance_is_shown_not_dropped():
    rng = np.random.default_rng(6)
    x = rng.random((40, 2))
    learns = np.where(x[:, 0] > 0.5, 0.95, 0.5)
    table = pd.concat(
        [
            pd.DataFrame(x, columns=["a", "b"]).assign(cell="lstm", accuracy=learns),
            pd.DataFrame(x, columns=["a", "b"]).assign(cell="gru", accuracy=np.r_[[0.5] * 2, [0.99] * 38]),
        ]
    )
    rows = auc_table(table, ["a", "b"]).set_index("cell")
    assert list(rows.index) == ["gru", "lstm"]
    assert rows.loc["gru", "AUC logistic_regression"] == "not scored: 2 at chance, 38 learn (need 5 of each)"
    assert rows.loc["gru", "share at chance"] == pytest.approx(0.05)
    assert float(rows.loc["lstm", "AUC random_forest"].split(" ± ")[0]) > 0.9


def test_each_cell_is_set_against_its_own_published_r2_and_the_interval():
    noise = pd.DataFrame(
        {"cell": ["gru", "lstm", "rnn_relu"], "ceiling R² (1 run)": [0.5, 0.7, 0.6]}
        | {"ICC ci95_low": [0.3, 0.6, -0.1], "ICC ci95_high": [0.7, 0.8, 0.9]}
    )
    published = {("gru", "random_forest"): 0.876, ("gru", "adaboost"): 0.78, ("lstm", "random_forest"): 0.579}
    lines = ceiling_lines(noise, published)
    assert len(lines) == 2  # rnn_relu: nothing published to compare with
    assert lines[0].startswith("- gru: the thesis' best R² (random_forest, 0.88) lies above the ceiling 0.50")
    assert "(95 % CI 0.30–0.70)" in lines[0]
    assert lines[1].startswith(
        "- lstm: the thesis' best R² (random_forest, 0.58) lies under the ceiling 0.70"
    )
    inside = ceiling_lines(noise.iloc[[0]], {("gru", "random_forest"): 0.6})[0]
    assert "above the ceiling 0.50 (95 % CI 0.30–0.70), inside its interval" in inside
    few = noise.iloc[[0]].assign(**{"ICC ci95_low": np.nan, "ICC ci95_high": np.nan})
    assert ceiling_lines(few, published)[0].endswith(
        "above the ceiling 0.50 (no interval: fewer than 10 graphs)."
    )


def test_a_handful_of_graphs_gets_no_interval():
    table = pd.DataFrame({"cell": "gru", "family": "ba", "graph": np.repeat(np.arange(4), 2)})
    row = seed_table(table.assign(seed=np.tile([0, 1], 4), accuracy=[0.5, 0.6, 0.9, 1.0, 0.7, 0.7, 0.8, 0.6]))
    assert np.isnan(row.iloc[0]["ICC ci95_low"]) and np.isnan(row.iloc[0]["ICC ci95_high"])


def test_the_mean_of_the_seeds_is_predicted_up_to_its_higher_ceiling():
    # accuracy = graph signal (a feature sees it) + seed noise: the single run's R² sits near its
    # ceiling ICC = 0.5, the mean of 4 seeds' near 0.8; a feature of pure noise predicts neither
    rng = np.random.default_rng(3)
    graphs, seeds = 300, 4
    signal = rng.normal(0, 1, graphs)
    table = pd.DataFrame(
        {"cell": "gru", "family": "ba", "graph": np.repeat(np.arange(graphs), seeds)}
        | {"seed": np.tile(np.arange(seeds), graphs), "x": np.repeat(signal, seeds)}
        | {"noise": np.repeat(rng.normal(size=graphs), seeds)}
    )
    table["accuracy"] = table["x"] + rng.normal(0, 1, len(table))
    ridge = {"bayesian_ridge": lambda seed: BayesianRidge()}
    rows = seed_mean_table(table, ["x"], regressors=ridge).set_index("target")
    assert rows["graphs"].tolist() == [graphs, graphs]
    one, mean = rows.loc["one run (seed 0)"], rows.loc["mean of 4 seeds"]
    assert one["ceiling R²"] == pytest.approx(0.5, abs=0.1) and mean["ceiling R²"] == pytest.approx(
        0.8, abs=0.1
    )
    assert one["R² bayesian_ridge"] == pytest.approx(one["ceiling R²"], abs=0.1)
    assert mean["R² bayesian_ridge"] == pytest.approx(mean["ceiling R²"], abs=0.1)
    blind = seed_mean_table(table, ["noise"], regressors=ridge)["R² bayesian_ridge"]
    assert (blind < 0.05).all()


def test_staying_at_chance_is_counted_per_graph_against_the_seed_accident_expectation():
    # 10 graphs × 3 seeds: graphs 0-1 fail in every seed (the graph decides), graph 2 in one seed
    accuracy = np.full((10, 3), 0.9)
    accuracy[:2] = 0.5
    accuracy[2, 1] = 0.5
    table = pd.DataFrame(
        {"cell": "lstm", "family": "ws", "graph": np.repeat(np.arange(10), 3), "seed": np.tile([0, 1, 2], 10)}
        | {"accuracy": accuracy.ravel()}
    )
    row = chance_table(table).iloc[0]
    assert [row[f"at chance in {n}"] for n in range(4)] == [7, 1, 0, 2]
    assert row["expected in all"] == pytest.approx(10 * (7 / 30) ** 3)
