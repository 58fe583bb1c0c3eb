"""Edge cases of the stopping rules and their evaluation, on hand-made paths with known answers."""

import math

import pandas as pd
import pytest

from sparsernn.errors import ConfigError
from sparsernn.prune.stopping import (
    MIN_SEEDS,
    PathKey,
    PruningPath,
    compare,
    criteria_spearman,
    density_flag,
    evaluate,
    expansion_flags,
    kept_level,
    knee,
    spearman_ci,
    summarize,
)

LEVELS = (1.0, 0.5, 0.2, 0.1, 0.05)
NAN, INF = math.nan, math.inf


def _path(val, test=None, traces=None):
    return PruningPath(LEVELS, tuple(val), tuple(val if test is None else test), traces or {})


def test_a_knee_that_is_never_reached_counts_one_level_past_the_sparsest():
    path = _path([0.9, 0.9, 0.895, 0.9, 0.899])
    assert knee(path, 1) == len(LEVELS)
    traces = {("l0", "hh"): {"delta_s": (1.0, 1.0, -1.0, -1.0, -1.0)}}
    rows = evaluate({PathKey("x", "gru", 0): _path(path.val_acc, traces=traces)}, 1).set_index("rule")
    assert rows.loc["delta_s:hh:first", "error"] == 2 - len(LEVELS)  # flags at 2; knee censored at 5
    assert bool(rows.loc["delta_s:hh:first", "no_knee"]) and not rows.loc["delta_s:hh:first", "never"]
    assert rows.loc["validation", "error"] == 0 and bool(rows.loc["validation", "never"])


def test_a_drop_that_recovers_still_marks_the_knee():
    assert knee(_path([0.9, 0.85, 0.9, 0.9, 0.9]), 1) == 1


def test_an_undefined_accuracy_counts_as_a_drop():
    """A level without an accuracy (NaN) used to pass as within δ of dense."""
    assert knee(_path([0.9, 0.9, NAN, 0.9, 0.9]), 5) == 2
    assert knee(_path([0.9, 0.9, 0.9, 0.9, 0.9], test=[0.9, NAN, 0.9, 0.9, 0.9]), 5, on="test") == 1


def test_accuracies_in_percent_are_refused():
    with pytest.raises(
        ConfigError, match=r"val_acc holds 90.0; expected fractions in \[0, 1\] \(a percentage\? use 0.9\)"
    ):
        _path([90.0, 89.5, 80.0, 80.0, 80.0])


def test_an_undefined_dense_accuracy_is_an_error():
    with pytest.raises(ConfigError, match="dense accuracy is undefined"):
        _path([NAN, 0.9, 0.9, 0.9, 0.9])
    with pytest.raises(ConfigError, match="dense accuracy is undefined"):
        _path([0.9] * 5, test=[NAN, 0.9, 0.9, 0.9, 0.9])


def test_delta_negative_at_dense_flags_the_dense_level_and_keeps_it():
    traces = {("l0", "ih"): {"delta_s": (-0.5, -1.0, -2.0, -2.0, -2.0)}}
    path = _path([0.9, 0.9, 0.9, 0.5, 0.5], traces=traces)
    assert expansion_flags(path)["delta_s:ih:first"] == 0 and kept_level(0) == 0
    row = evaluate({PathKey("x", "gru", 0): path}, 1).set_index("rule").loc["delta_s:ih:first"]
    assert (row["error"], row["sparsity"], row["acc_lost"]) == (-3, 0.0, 0.0)


def test_undefined_and_minus_infinite_gaps_are_crossings():
    traces = {
        ("l0", "hh"): {"delta_s": (1.0, 1.0, NAN, 1.0, 1.0)},  # the graph lost every edge
        ("l1", "hh"): {"delta_s": (1.0, -INF, -INF, -INF, -INF)},  # μ0 < 1
    }
    flags = expansion_flags(_path([0.9] * 5, traces=traces))
    assert flags == {"delta_s:hh:first": 1, "delta_s:hh:all": 2}


def test_accuracy_lost_is_measured_on_test_while_the_knee_reads_validation():
    traces = {("l0", "hh"): {"delta_s": (1.0, 1.0, 1.0, -1.0, -1.0)}}
    path = _path([0.9, 0.9, 0.9, 0.5, 0.5], test=[0.8, 0.7, 0.6, 0.5, 0.5], traces=traces)
    row = evaluate({PathKey("x", "gru", 0): path}, 1).set_index("rule").loc["delta_s:hh:first"]
    assert row["knee"] == 3 and row["error"] == 0  # the validation knee
    assert row["acc_lost"] == pytest.approx(20.0) and row["sparsity"] == pytest.approx(0.8)  # test: 80 -> 60


def test_the_density_rule_cannot_see_the_dataset_it_predicts():
    """Whatever the predicted dataset's own paths do, its density flag is the same."""
    others = {PathKey("b", "gru", s): _path([0.9, 0.9, 0.9, 0.5, 0.5]) for s in range(3)}
    for own in ([0.9, 0.5, 0.5, 0.5, 0.5], [0.9, 0.9, 0.9, 0.9, 0.9], [0.9, 0.9, 0.5, 0.5, 0.5]):
        paths = others | {PathKey("a", "gru", s): _path(own) for s in range(3)}
        table = evaluate(paths, 1).set_index(["dataset", "seed", "rule"])
        assert table.loc[("a", 0, "density"), "flag"] == 3  # b's knee, whatever a does
    assert density_flag(_path([0.9] * 5), list(others.values()), 1) == 3


def test_the_density_rule_can_learn_never_to_stop():
    """Where the other datasets' accuracy never drops, density-only was forced to flag a recorded
    level (at least one level of error) while an expansion rule that never flags scored 0."""
    never = {PathKey("b", "gru", s): _path([0.9] * 5) for s in range(3)}
    paths = never | {PathKey("a", "gru", s): _path([0.9] * 5) for s in range(3)}
    rows = evaluate(paths, 1).set_index(["dataset", "seed", "rule"])
    assert (
        rows.loc[("a", 0, "density"), "flag"] == len(LEVELS) and rows.loc[("a", 0, "density"), "error"] == 0
    )
    assert bool(rows.loc[("a", 0, "density"), "never"])


@pytest.mark.parametrize("undefined", ["d_left", "d_right"])
def test_the_degree_rule_counts_an_undefined_degree_as_a_crossing_on_either_side(undefined):
    degrees = {"d_left": (8.0, 6.0, 5.0, 4.0, 4.0), "d_right": (8.0, 6.0, 5.0, 4.0, 4.0)}
    degrees[undefined] = (8.0, 6.0, NAN, 4.0, 4.0)  # min(nan, 5) is nan, min(5, nan) is 5
    flags = expansion_flags(_path([0.9] * 5, traces={("l0", "hh"): degrees}))
    assert flags["degree:hh:first"] == 2


def _errors(rule, base):
    rows = [("r", s, e) for s, e in enumerate(rule)] + [("density", s, e) for s, e in enumerate(base)]
    return pd.DataFrame(
        [{"dataset": "x", "cell": "gru", "rule": r, "seed": s, "abs_error": e} for r, s, e in rows]
    )


def test_no_verdict_rests_on_fewer_than_three_seeds():
    """Two seeds agreeing gave a zero-width bootstrap CI and a "beats" claim from two runs."""
    assert MIN_SEEDS == 3
    two = compare(_errors([0, 0], [2, 2])).iloc[0]
    assert two["verdict"] == "too few seeds" and two["diff"] == -2.0
    assert compare(_errors([0, 0], [2, 2, 2])).iloc[0]["verdict"] == "too few seeds"  # paired: 2
    assert compare(_errors([0, 0, 0], [2, 2, 2])).iloc[0]["verdict"] == "beats"


def test_compare_pairs_by_seed():
    # rule and baseline differ by exactly -1 on every seed, but not when shuffled between seeds
    table = _errors([0, 5, 1, 7], [1, 6, 2, 8])
    row = compare(table).iloc[0]
    assert row["diff_lo"] == row["diff_hi"] == -1.0 and row["verdict"] == "beats"


def test_bootstrap_cis_are_seeded_and_deterministic():
    paths = {
        PathKey("x", "gru", s): _path(
            [0.9, 0.9, 0.5 + 0.1 * (s % 2), 0.5, 0.5], [0.9, 0.8 - 0.01 * s, 0.5, 0.5, 0.5]
        )
        for s in range(5)
    }
    first, again = summarize(evaluate(paths, 1), seed=3), summarize(evaluate(paths, 1), seed=3)
    pd.testing.assert_frame_equal(first, again)
    assert set(first.loc[first["rule"] == "validation", ["n", "never", "no_knee"]].iloc[0]) <= {5, 0}


def test_rho_has_no_ci_from_fewer_than_three_seeds():
    x, y = [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]
    rho, lo, hi = spearman_ci(x, y, groups=[0, 0, 1, 1])
    assert rho == pytest.approx(1.0) and math.isnan(lo) and math.isnan(hi)
    rho, lo, hi = spearman_ci(x * 2, y * 2, groups=[0, 0, 1, 1, 2, 2, 3, 3])
    assert lo == pytest.approx(1.0) and hi == pytest.approx(1.0)


def test_criteria_spearman_with_two_seeds_claims_nothing():
    def path(gap, acc):
        traces = {("l0", "hh"): {"delta_s": (2.0, gap, gap, gap, gap)}}
        return _path([0.9, acc, acc, acc, acc], traces=traces)

    paths = {(c, s): path(g, a) for s in range(2) for c, g, a in (("m", 1.0, 0.8), ("r", -1.0, 0.6))}
    table = criteria_spearman(paths, view="hh", n_boot=100)
    assert table["rho"].tolist() == pytest.approx([1.0] * 4) and table["rho_lo"].isna().all()
