"""Stopping rules on hand-made pruning paths with known answers, and their evaluation."""

import math

import numpy as np
import pytest

from sparsernn.errors import ConfigError
from sparsernn.prune import stopping
from sparsernn.prune.stopping import (
    PathKey,
    PruningPath,
    bootstrap_mean,
    compare,
    criteria_spearman,
    density_choice,
    evaluate,
    expansion_flags,
    kept_level,
    knee,
    rule_flags,
    spearman_ci,
    summarize,
)

LEVELS = (1.0, 0.9, 0.7, 0.5, 0.3, 0.1, 0.05)
NAN = math.nan


def _path(val, test=None, traces=None, levels=LEVELS):
    return PruningPath(levels, tuple(val), tuple(test if test is not None else val), traces or {})


def _knee_path(k):
    """Validation accuracy 0.9 until level ``k``, then 0.5 (knee at ``k`` for any delta in [0, 40))."""
    return _path([0.9] * k + [0.5] * (len(LEVELS) - k))


def test_knee_for_both_deltas():
    path = _path([0.90, 0.899, 0.895, 0.889, 0.86, 0.84, 0.5])
    assert knee(path, 1) == 3  # 0.889 is 1.1 points below 0.90
    assert knee(path, 5) == 5  # 0.86 is only 4 points below; 0.84 is 6
    assert knee(path, 1, on="test") == 3
    assert knee(_path([0.9] * 7), 5) == len(LEVELS)  # never drops: one past the last level
    assert kept_level(3) == 2 and kept_level(0) == 0


def test_expansion_rules_first_and_all_layers_per_view():
    traces = {
        ("l0", "hh"): {"delta_s": (3, 2, 1, -1, -2, -3, -4), "delta_r": (2, 1, 0.0, -1, -1, -1, -1)},
        ("l1", "hh"): {"delta_s": (3, 2, 1, 0.5, NAN, -3, -4), "delta_r": (2, 1, 1, 1, 1, 1, 1)},
        ("l0", "ih"): {
            "delta_s": (3, -1, -1, -1, -1, -1, -1),
            "d_left": (9, 8, 6, 4, 3, 2.9, 1),
            "d_right": (9, 8, 6, 4, 2.5, 2, 1),
        },
    }
    flags = expansion_flags(_path([0.9] * 7, traces=traces))
    assert flags == {
        "delta_s:hh:first": 3,  # l0 crosses at 3
        "delta_s:hh:all": 4,  # l1 is undefined (NaN) at 4: counts as crossed
        "delta_r:hh:first": 3,  # 0.0 is not a crossing, -1 is
        "delta_r:hh:all": 7,  # l1 never crosses: one past the last level
        "delta_s:ih:first": 1,
        "delta_s:ih:all": 1,
        "degree:ih:first": 4,  # min(d_L, d_R) = 2.5 < 3 at level 4
        "degree:ih:all": 4,
        "delta_s:ih+hh:first": 1,  # both matrices: ih crosses first, at 1
        "delta_s:ih+hh:all": 4,  # the last, l1's hh, at 4 (Δ_R and degrees: not recorded by both)
    }


def test_validation_rule_flags_the_validation_knee():
    path = _path([0.9, 0.9, 0.88, 0.8, 0.5, 0.5, 0.5], test=[0.92, 0.9, 0.9, 0.9, 0.8, 0.5, 0.5])
    assert rule_flags(path, 1) == {"validation": 2} and rule_flags(path, 5) == {"validation": 3}
    table = evaluate({PathKey("x", "gru", 0): path}, 5)
    row = table.set_index("rule").loc["validation"]
    assert row["error"] == 0 and row["acc_lost"] == pytest.approx(2.0)  # keeps level 2: 92 -> 90
    assert row["sparsity"] == pytest.approx(0.3)
    against_test = evaluate({PathKey("x", "gru", 0): path}, 5, target="test").set_index("rule")
    assert against_test.loc["validation", "knee"] == 4 and against_test.loc["validation", "error"] == -1


def test_errors_are_signed_in_levels():
    traces = {("l0", "hh"): {"delta_s": (1, 1, 1, 1, 1, -1, -1)}}
    path = _path([0.9, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5], traces=traces)
    row = evaluate({PathKey("x", "rnn", 0): path}, 1).set_index("rule").loc["delta_s:hh:first"]
    assert (row["flag"], row["knee"], row["error"], row["abs_error"]) == (5, 2, 3, 3)
    assert row["acc_lost"] == pytest.approx(40.0) and row["sparsity"] == pytest.approx(0.7)


def _density_predictions(knees_by_dataset, delta=5):
    paths = {
        PathKey(dataset, "lstm", seed): _knee_path(k)
        for dataset, knees in knees_by_dataset.items()
        for seed, k in enumerate(knees)
    }
    table = evaluate(paths, delta)
    return table[table.rule == "density"].set_index(["dataset", "seed"])["flag"]


def test_density_rule_is_leave_one_dataset_out():
    base = _density_predictions({"a": [2, 2], "b": [4, 4], "c": [4, 5]})
    moved = _density_predictions({"a": [6, 6], "b": [4, 4], "c": [4, 5]})  # only a's knees change
    assert base.loc["a"].tolist() == moved.loc["a"].tolist() == [4, 4]  # a's prediction cannot see a
    assert base.loc["b"].tolist() != moved.loc["b"].tolist()  # the others' predictions do see it
    assert density_choice([_knee_path(2), _knee_path(2), _knee_path(4)], 5) == LEVELS[2]


def test_density_rule_uses_the_same_cell_when_it_can():
    paths = {
        PathKey("a", "gru", 0): _knee_path(2),
        PathKey("b", "gru", 0): _knee_path(5),
        PathKey("b", "rnn", 0): _knee_path(1),
    }
    table = evaluate(paths, 5).set_index(["dataset", "cell", "rule"])
    assert table.loc[("a", "gru", "density"), "flag"] == 5  # learned from b/gru, not b/rnn
    assert table.loc[("b", "rnn", "density"), "flag"] == 2  # no other rnn: any other dataset


def test_bootstrap_ci_on_known_data():
    assert bootstrap_mean([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    x = np.random.default_rng(0).normal(1.0, 1.0, 400)
    mean, lo, hi = bootstrap_mean(x, seed=1)
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert lo == pytest.approx(mean - half, abs=0.02) and hi == pytest.approx(mean + half, abs=0.02)
    assert bootstrap_mean(x, seed=1) == (mean, lo, hi)  # seeded


def _rule_table(rule_errors, base_errors):
    rows = [("r", s, e) for s, e in enumerate(rule_errors)] + [
        ("density", s, e) for s, e in enumerate(base_errors)
    ]
    paths_table = [{"dataset": "x", "cell": "gru", "rule": r, "seed": s, "abs_error": e} for r, s, e in rows]
    import pandas as pd

    return pd.DataFrame(paths_table)


def test_paired_verdicts_need_the_ci_to_exclude_zero():
    beats = compare(_rule_table([0, 1, 0, 1, 0], [3, 3, 2, 3, 3])).iloc[0]
    assert beats["verdict"] == "beats" and beats["diff_hi"] < 0 and beats["diff"] == pytest.approx(-2.4)
    tie = compare(_rule_table([0, 3, 1, 2, 2], [2, 1, 1, 2, 3])).iloc[0]
    assert tie["verdict"] == "no difference" and tie["diff_lo"] < 0 < tie["diff_hi"]
    worse = compare(_rule_table([4, 4, 5, 4, 4], [0, 1, 0, 0, 1])).iloc[0]
    assert worse["verdict"] == "worse"


def test_summary_means_and_cis_over_seeds():
    paths = {PathKey("x", "gru", s): _knee_path(3) for s in range(3)}
    summary = summarize(evaluate(paths, 5)).set_index("rule")
    row = summary.loc["validation"]
    assert row["n"] == 3 and row["error_mean"] == row["error_lo"] == row["error_hi"] == 0


def test_spearman_with_known_ranks():
    assert spearman_ci([1, 2, 3, 4], [10, 20, 30, 40]) == (1.0, 1.0, 1.0)
    rho, lo, hi = spearman_ci([1, 2, 3, 4, NAN], [4, 3, 2, 1, 5])  # NaN ranks lowest
    assert rho == pytest.approx(-1.0) and lo <= rho <= hi  # x ranks exactly reverse y


def test_criteria_spearman_at_equal_density():
    def path(gaps, accs):
        traces = {("l0", "hh"): {"delta_s": (2.0, *gaps)}, ("l1", "hh"): {"delta_s": (5.0, 5.0, 5.0)}}
        return PruningPath((1.0, 0.5, 0.2), (0.9, *accs), (0.9, *accs), traces)

    paths = {}
    for seed in range(4):
        paths[("magnitude", seed)] = path((1.0 + seed, 0.5), (0.85, 0.6))
        paths[("random", seed)] = path((-1.0 - seed, 0.4), (0.70, 0.8))
    table = criteria_spearman(paths, view="hh", seed=0)
    assert table["q"].tolist() == [0.5, 0.2]
    # within every seed the criterion with the larger Δ has the higher accuracy: ρ = 1 (ranked among the
    # criteria of each seed); pooled over seeds, whose Δ differ, it was 1 / (0.5 · √5.25) = 0.87
    assert table.loc[0, "rho"] == pytest.approx(1.0)
    pooled = spearman_ci([p.traces[("l0", "hh")]["delta_s"][1] for p in paths.values()], [0.85, 0.7] * 4)[0]
    assert pooled == pytest.approx(1 / (0.5 * math.sqrt(5.25)))
    assert table.loc[1, "rho"] == pytest.approx(-1.0)  # Δ ranks the criteria backwards
    with pytest.raises(ConfigError, match="share their levels"):
        criteria_spearman(paths | {("x", 0): _knee_path(2)}, view="hh")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"levels": (1.0, 1.0)}, "strictly decreasing"),
        ({"val_acc": (0.9,)}, "val_acc holds 1 values; expected one per level"),
        ({"traces": {("l0", "hh"): {"delta_x": (1.0, 1.0)}}}, "trace 'delta_x'"),
    ],
)
def test_bad_paths(kwargs, message):
    fields = {"levels": (1.0, 0.5), "val_acc": (0.9, 0.8), "test_acc": (0.9, 0.8)} | kwargs
    with pytest.raises(ConfigError, match=message):
        PruningPath(**fields)
    with pytest.raises(ConfigError, match="unknown accuracy 'train'"):
        knee(_knee_path(2), 1, on="train")
    assert stopping.guard_expansion is not None  # the guard of stopping.py stays where it was
