"""The ``controlled_pruning`` report claims no more than its numbers: seeds, censored knees, counts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sparsernn.prune.stopping import PathKey, PruningPath
from sparsernn.studies.reports import controlled
from sparsernn.studies.reports.controlled_controls import control_frame
from sparsernn.studies.reports.controlled_expansion import versus_magnitude
from sparsernn.studies.reports.controlled_figures import gap_panel
from sparsernn.studies.reports.controlled_stopping import (
    verdict_frame,
    verdict_markdown,
    verdict_overview,
    verdict_reading,
)

LEVELS = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02)
N = len(LEVELS)


def _path(k: int, cross: int, seed: int = 0) -> PruningPath:
    """Validation accuracy drops at level ``k`` (never when ``k >= N``); Δ_S of hh crosses at ``cross``."""
    val = tuple(0.9 - 0.001 * seed if i < k else 0.4 for i in range(N))
    gap = tuple(1.0 if i < cross else -1.0 for i in range(N))
    return PruningPath(LEVELS, val, val, {("l0", "hh"): {"delta_s": gap}})


def _two_datasets(seeds: int, knees=(2, 4), cross=None) -> dict[PathKey, PruningPath]:
    return {
        PathKey(d, "gru", s): _path(k, k if cross is None else cross, s)
        for d, k in zip("ab", knees, strict=True)
        for s in range(seeds)
    }


def test_two_seeds_give_no_verdict_and_the_reading_claims_nothing():
    """With two seeds the expansion rule (at the knee every time) used to "beat" density-only."""
    table = verdict_frame(_two_datasets(2), 1, n_boot=200)
    rule = table.set_index(["dataset", "rule"]).loc[("a", "delta_s:hh:first")]
    assert rule["verdict"] == "too few seeds" and rule["diff"] < 0
    reading = "\n".join(verdict_reading(table))
    assert (
        "no verdict" in reading and "fewer than 3 seeds" in reading and "beats density-only in" not in reading
    )
    assert verdict_overview([table]).iloc[0]["Δ_S hh"] == "n<3"
    shown = verdict_markdown(table)
    assert shown["abs error"].str.endswith("[no CI]").all()  # two seeds' range is no 95 % CI
    assert shown["vs density-only"].str.endswith("[no CI]").any()
    three = verdict_frame(_two_datasets(3), 1, n_boot=200).set_index(["dataset", "rule"])
    assert three.loc[("a", "delta_s:hh:first"), "verdict"] == "beats density-only"


def test_censored_knees_and_rules_that_never_flag_are_counted():
    paths = {PathKey("a", "gru", s): _path(N, N, s) for s in range(3)}  # never drops, never crosses
    paths |= {PathKey("b", "gru", s): _path(2, N, s) for s in range(3)}  # drops at 2, never crosses
    table = verdict_frame(paths, 1, n_boot=200)
    shown = verdict_markdown(table).set_index(["dataset", "rule"])
    assert shown.loc[("b", "Δ_S, first layer"), "never flags"] == 3
    reading = "\n".join(verdict_reading(table))
    assert "never flags on 6 of 6 paths" in reading
    assert "On 3 of 6 paths validation accuracy never drops by δ" in reading


def test_the_random_control_needs_three_seeds():
    magnitude = {PathKey("a", "gru", s): _path(4, 4, s) for s in range(3)}
    random = {PathKey("a", "gru", s): _path(2, 2, s) for s in range(3)}
    assert set(control_frame(magnitude, random, n_boot=200)["verdict"]) == {"magnitude later"}
    two = {k: p for k, p in magnitude.items() if k.seed < 2}
    two_seeds = control_frame(two, random, n_boot=200)
    assert set(two_seeds["verdict"]) == {"too few seeds"}
    assert two_seeds["levels gained by magnitude"].str.endswith("[no CI]").all()
    uneven = {PathKey("a", "gru", 0): _path(3, 3), PathKey("a", "gru", 1): _path(4, 4)}
    row = control_frame(uneven, random, n_boot=200).iloc[0]
    assert row["magnitude knee q (%)"] == "10"  # a recorded level (was 7.5, between 10 and 5)
    never = {PathKey("a", "gru", s): _path(N if s else 1, N) for s in range(3)}
    assert control_frame(never, random, n_boot=200).iloc[0]["magnitude knee q (%)"] == "never"


def test_paired_differences_against_magnitude_need_three_seeds():
    """Two seeds with the same difference gave a zero-width t interval and a "worse" verdict."""
    rows = [
        {"dataset": "d", "cell": "gru", "seed": s, "q": q, "criterion": c, "test": acc}
        for s in range(2)
        for q in (1.0, 0.5)
        for c, acc in (("magnitude", 0.8), ("random", 0.3))
    ]
    assert versus_magnitude(pd.DataFrame(rows))["verdict"].tolist() == ["too few seeds"]


def test_the_figure_marks_a_recorded_level_as_the_median_knee_and_crossing():
    """With an even number of seeds the median used to fall between two levels (35 % of 50 and 20)."""
    seeds = {0: _path(1, 3), 1: _path(2, 4)}
    panel = gap_panel(seeds, "delta_s")
    assert panel.knee == 0.5 and panel.crossings["hh"] == 0.1
    panel = gap_panel(seeds | {2: _path(3, 5)}, "delta_s")
    assert panel.knee == 0.2 and panel.crossings["hh"] == 0.05


def _rows(run: str, path: str, levels, val) -> list[dict]:
    return [
        {"run": run, "phase": "level", "path": path, "level": q, "name": name, "value": v}
        for q, v in zip(levels, val, strict=False)
        for name in ("val_accuracy", "test_accuracy")
    ]


def test_incomplete_paths_are_counted_on_both_pages(tmp_path):
    """The expansion page used to drop the incomplete count, and a criterion with no complete path."""
    runs = pd.DataFrame(
        {
            "run": [f"h/seed_{s}" for s in range(3)],
            "data.name": "mnist1d",
            "model.cell": "gru",
            "seed": range(3),
            "params.densities": [list(LEVELS)] * 3,
        }
    )
    val = [0.9, 0.9, 0.5, 0.5, 0.5, 0.5]
    rows = []
    for s in range(3):
        rows += _rows(f"h/seed_{s}", "magnitude", LEVELS, val)
        rows += _rows(f"h/seed_{s}", "random", LEVELS, val)
        rows += _rows(f"h/seed_{s}", "degree_floor", LEVELS[:3], val)  # still running
    metrics = pd.DataFrame(rows)
    metrics.loc[
        (metrics["run"] == "h/seed_2") & (metrics["path"] == "random") & (metrics["level"] == 0.02), "value"
    ] = math.nan  # a level whose accuracies were never recorded: still complete (NaN counts as a drop)
    metrics = metrics[
        ~((metrics["run"] == "h/seed_1") & (metrics["path"] == "random") & (metrics["level"] < 0.1))
    ]
    lines = "\n".join(controlled.report(runs, metrics, tmp_path))
    page = (tmp_path / controlled.SUBPAGE / "summary.md").read_text()
    expected = (
        "magnitude: 3 complete paths; degree_floor: 0 complete paths (3 incomplete, left out); "
        "random: 2 complete paths (1 incomplete, left out)"
    )
    assert expected in lines and expected in page
    assert "`runs.csv` gives every run's `status`" in page
    assert "| mnist1d | gru | random | 1–2 |" in page  # fewer seeds where a level has no accuracy
    assert np.isfinite(pd.read_csv(tmp_path / controlled.SUBPAGE / "accuracy.csv")["mean"]).any()


def test_an_undefined_delta_is_marked_never_averaged_away():
    """A seed whose Δ is NaN used to drop out of the mean (the others averaged alone); −inf made the
    mean −inf, drawn nowhere and named in the legend all the same."""
    import matplotlib.pyplot as plt

    from sparsernn.plots.controlled import UNDEFINED, _draw_gap_panel

    def path(seed, at_two):
        gap = (2.0, 1.0, at_two, 0.5, -1.0, -1.0)
        return PruningPath(LEVELS, (0.9,) * N, (0.9,) * N, {("l0", "hh"): {"delta_s": gap}})

    panel = gap_panel({0: path(0, 0.4), 1: path(1, math.nan), 2: path(2, -math.inf)}, "delta_s")
    hh = panel.gaps["hh"].set_index("q")
    assert math.isnan(hh.loc[0.2, "mean"]) and hh.loc[0.2, "undefined"] == 2
    assert hh.loc[0.5, "mean"] == 1.0 and hh.loc[0.5, "undefined"] == 0
    fig, ax = plt.subplots()
    handles = _draw_gap_panel(ax, panel, "Δ_S")
    assert [h.get_label() for h in handles] == ["test accuracy", "Δ of hh", UNDEFINED]
    crosses = [line for line in fig.axes[1].get_lines() if line.get_marker() == "x"]
    assert len(crosses) == 1 and crosses[0].get_xdata()[0] == 20.0 * 1.0  # one view: no x offset
    plt.close(fig)


def test_the_reading_says_when_seeds_fall_short_and_what_chance_alone_gives():
    three = "\n".join(verdict_reading(verdict_frame(_two_datasets(3), 1, n_boot=200)))
    assert "rest on 3 seeds; this study's standard is 5" in three and "1 interval in 40" in three
    five = "\n".join(verdict_reading(verdict_frame(_two_datasets(5), 1, n_boot=200)))
    assert "preliminary" not in five


def test_the_reading_counts_rules_that_flag_the_dense_level():
    """A view whose Δ is negative before any pruning "stops" at dense: the reading says how often."""
    paths = {PathKey(d, "gru", s): _path(3, 0, s) for d in "ab" for s in range(3)}
    reading = "\n".join(verdict_reading(verdict_frame(paths, 1, n_boot=100)))
    assert "it flags the dense level itself on 6 of 6 paths" in reading


def test_a_path_without_a_dense_accuracy_is_left_out_and_counted():
    from sparsernn.studies.reports.controlled_paths import all_paths

    runs = pd.DataFrame(
        {"run": ["h/seed_0", "h/seed_1"], "data.name": "x", "model.cell": "gru", "seed": [0, 1]}
        | {"params.densities": [list(LEVELS)] * 2}
    )
    metrics = pd.DataFrame(
        _rows("h/seed_0", "magnitude", LEVELS, [0.9] * N)
        + _rows("h/seed_1", "magnitude", LEVELS, [math.nan] + [0.9] * 5)
    )
    paths, skipped = all_paths(metrics, runs)
    assert list(paths["magnitude"]) == [PathKey("x", "gru", 0)] and skipped == {"magnitude": 1}
