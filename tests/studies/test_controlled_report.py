"""The ``controlled_pruning`` report on synthetic stores shaped exactly like the protocol's records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats as scipy_stats

from sparsernn.cli import main
from sparsernn.errors import DataError
from sparsernn.plots.style import ACCURACY_LIMITS, draw_mean_band, new_figure
from sparsernn.prune.stopping import TRACES, PathKey, PruningPath, evaluate
from sparsernn.results import RunKey, load, load_metrics
from sparsernn.results.records import RunRecord
from sparsernn.results.store import write_run
from sparsernn.studies import expand, parse_recipe, run_sweep
from sparsernn.studies import report as report_module
from sparsernn.studies.headline import headlines
from sparsernn.studies.publish import publish
from sparsernn.studies.registry import Protocol
from sparsernn.studies.reports import controlled
from sparsernn.studies.reports.controlled_expansion import accuracy_stats, within_dense, within_table
from sparsernn.studies.reports.controlled_paths import all_paths, paths_from_metrics
from sparsernn.studies.reports.controlled_stopping import verdict_frame, verdict_reading

LEVELS = (1.0, 0.9, 0.8, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02)
VIEWS = ("ih", "hh", "step")
STUDY = "kalra-controlled"


# --- a fixture factory: runs stored as the protocol stores them ---------------------------------


def _gap(cross: int, n: int, scale: float = 2.0) -> list[float]:
    """A Δ trace positive before level ``cross`` and negative from it on."""
    return [scale * (cross - i - 0.5) / n for i in range(n)]


def default_path(dataset: str, cell: str, seed: int, criterion: str) -> dict:
    """Accuracy drops at a knee that depends on the dataset; Δ crosses one level before it."""
    k = {"mnist1d": 5, "fashion": 7, "speech": 4}.get(dataset, 6) + (criterion == "random") * -1
    jitter = 0.002 * seed
    val = [0.9 - jitter - 0.001 * i if i < k else 0.5 for i in range(len(LEVELS))]
    test = [v + 0.004 for v in val]
    gaps = {view: _gap(k - 1 + (view == "step"), len(LEVELS)) for view in VIEWS}
    return {"val": val, "test": test, "gaps": gaps}


def _expansion_rows(criterion: str, q: float, i: int, gaps: dict) -> list[dict]:
    rows = []
    for view, trace in gaps.items():
        index = {"phase": "expansion", "path": criterion, "level": q, "module": "rnn", "layer": 0}
        index |= {"direction": "forward", "view": view}
        d = 12 * q
        common = {"density": q, "d_left": d, "d_right": d / 2, "mu0": 5.0, "mu_hat": 1.0}
        for gates in ("stack", "union"):
            shift = 0.0 if gates == "stack" else 100.0  # union rows must be ignored
            unweighted = common | {"delta_s": trace[i] + shift, "delta_r": trace[i] + 0.1 + shift}
            weighted = common | {"delta_s": trace[i] - 0.2 + shift, "gap_weighted": 1.0 + q}
            for flag, values in ((False, unweighted), (True, weighted)):
                rows.append({**index, "gate": gates, "gates": gates, "weighted": flag, "values": values})
    return rows


def run_rows(spec: Callable, dataset: str, cell: str, seed: int, criteria, scratch: bool) -> list[dict]:
    rows = [
        {
            "phase": "dense",
            "epoch": e,
            "values": {"loss": 1.0 / (e + 1), "val_accuracy": 0.8, "test_accuracy": 0.8},
        }
        for e in range(2)
    ]
    for criterion in criteria:
        path = spec(dataset, cell, seed, criterion)
        for i, q in enumerate(LEVELS):
            values = {"val_accuracy": path["val"][i], "test_accuracy": path["test"][i], "density": q}
            values |= {
                "val_accuracy_pruned": path["val"][i] - 0.1,
                "test_accuracy_pruned": path["test"][i] - 0.1,
            }
            rows.append({"phase": "level", "path": criterion, "level": q, "values": values})
            for noise in (0.1, 0.5):
                rows.append(
                    {
                        "phase": "noisy",
                        "path": criterion,
                        "level": q,
                        "noise": noise,
                        "values": {"accuracy": path["test"][i] - noise / 2},
                    }
                )
            rows += _expansion_rows(criterion, q, i, path["gaps"])
    for init, bonus in (("expander", 0.03), ("erdos_renyi", 0.0)) if scratch else ():
        for q in (0.1, 0.02):
            acc = 0.6 + bonus + 0.01 * seed
            values = {"val_accuracy": acc, "test_accuracy": acc, "density": q, "best_val_accuracy": acc}
            rows.append({"phase": "scratch", "init": init, "level": q, "values": values})
            for noise in (0.1, 0.5):
                index = {
                    "phase": "noisy",
                    "path": f"scratch:{init}",
                    "init": init,
                    "level": q,
                    "noise": noise,
                }
                rows.append({**index, "values": {"accuracy": acc - noise / 2}})
            rows += _expansion_rows(f"scratch:{init}", q, 0, {"hh": [1.0]})
    return rows


def make_store(
    root: Path,
    *,
    datasets=("mnist1d", "fashion"),
    cells=("lstm",),
    seeds=(0, 1, 2),
    criteria=("magnitude", "random"),
    spec: Callable = default_path,
    scratch: bool = True,
) -> Path:
    for dataset in datasets:
        for cell in cells:
            for seed in seeds:
                digest = f"{16 * datasets.index(dataset) + cells.index(cell):012x}"
                config = {
                    "study": STUDY,
                    "protocol": "controlled_pruning",
                    "seed": seed,
                    "data": {"name": dataset},
                    "model": {"cell": cell, "hidden_size": 8},
                    "params": {"criteria": list(criteria), "densities": list(LEVELS)},
                }
                summary = {"status": "ok", "reason": "", "wall_s": 1.0, "dense_val_accuracy": 0.9}
                rows = run_rows(spec, dataset, cell, seed, criteria, scratch)
                write_run(root, RunRecord(RunKey(STUDY, digest, seed), config, summary, rows))
    return root


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("controlled"), criteria=("magnitude", "random", "degree_floor"))


# --- paths from the stored rows ------------------------------------------------------------------


def test_paths_from_metrics_rebuild_levels_accuracies_and_stack_traces(store):
    runs, metrics = load(store), load_metrics(store)
    paths = paths_from_metrics(metrics, runs=runs)
    assert sorted(paths) == [PathKey(d, "lstm", s) for d in ("fashion", "mnist1d") for s in range(3)]
    path, expected = paths[PathKey("mnist1d", "lstm", 1)], default_path("mnist1d", "lstm", 1, "magnitude")
    assert path.levels == LEVELS
    np.testing.assert_allclose(path.val_acc, expected["val"])
    np.testing.assert_allclose(path.test_acc, expected["test"])
    assert sorted(path.traces) == [("rnn.l0", v) for v in ("hh", "ih", "step")]
    hh = path.traces[("rnn.l0", "hh")]
    np.testing.assert_allclose(hh["delta_s"], expected["gaps"]["hh"])  # stack rows, not union (+100)
    np.testing.assert_allclose(hh["delta_r"], np.add(expected["gaps"]["hh"], 0.1))
    np.testing.assert_allclose(hh["delta_s_weighted"], np.subtract(expected["gaps"]["hh"], 0.2))
    np.testing.assert_allclose(hh["gap_weighted"], np.add(LEVELS, 1.0))
    np.testing.assert_allclose(hh["d_left"], np.multiply(LEVELS, 12))
    random = paths_from_metrics(load_metrics(store, with_config=True), criterion="random")
    assert random[PathKey("fashion", "lstm", 0)].val_acc[6] == 0.5  # random's knee is one level earlier


def test_an_incomplete_path_is_an_error_or_skipped(tmp_path):
    def spec(dataset, cell, seed, criterion):
        return default_path(dataset, cell, seed, criterion)

    root = make_store(tmp_path, datasets=("mnist1d",), seeds=(0, 1), spec=spec, scratch=False)
    folder = next(p for p in (root / STUDY).glob("*/seed_1"))
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    cut = [line for line in lines if not ('"level": 0.02' in line and '"path": "random"' in line)]
    (folder / "metrics.jsonl").write_text("\n".join(cut) + "\n")  # a run still writing its random path
    runs, metrics = load(root), load_metrics(root)
    with pytest.raises(DataError, match=r"path 'random' of run .*seed_1 is incomplete: 9 of 10 levels"):
        paths_from_metrics(metrics, criterion="random", runs=runs)
    assert len(paths_from_metrics(metrics, criterion="random", runs=runs, skip_incomplete=True)) == 1
    assert len(paths_from_metrics(metrics, criterion="magnitude", runs=runs)) == 2
    paths, skipped = all_paths(metrics, runs)
    assert {c: len(p) for c, p in paths.items()} == {"magnitude": 2, "random": 1}
    assert "random: 1 complete paths (1 incomplete, left out)" in controlled.counts_line(paths, skipped)


def test_missing_run_columns_are_named(store):
    with pytest.raises(DataError, match=r"metrics lack the run columns data\.name, model\.cell, seed"):
        paths_from_metrics(load_metrics(store))


# --- the verdict against the density-only rule --------------------------------------------------

KNEES = {"a": 3, "b": 5, "c": 7}
N = 10


def _verdict_paths() -> dict[PathKey, PruningPath]:
    """Three datasets with different knees; per view an expansion rule built to be better (hh: at
    the knee), equal (step: exactly where the density-only rule flags) and worse (ih: further away)."""
    levels = tuple(np.geomspace(1.0, 0.01, N))
    bare = {
        PathKey(d, "lstm", s): PruningPath(levels, tuple(0.9 if i < k else 0.5 for i in range(N)), (0.9,) * N)
        for d, k in KNEES.items()
        for s in range(5)
    }
    density = evaluate(bare, 1).query("rule == 'density'").set_index("dataset")["flag"]
    paths = {}
    for key, path in bare.items():
        k, flag = KNEES[key.dataset], int(density.loc[key.dataset].iloc[0])
        good = k + (key.seed % 2) * (1 if k < N - 1 else -1)  # at the knee or one level off
        worse = min(max(flag + (1 if flag >= k else -1), 0), N)  # one level further from the knee
        traces = {
            ("l0", v): {"delta_s": tuple(_gap(c, N)) if c < N else (1.0,) * N}
            for v, c in (("hh", good), ("step", flag), ("ih", worse))
        }
        paths[key] = PruningPath(levels, path.val_acc, path.test_acc, traces)
    return paths


def test_verdicts_beat_only_where_the_paired_ci_excludes_zero():
    table = verdict_frame(_verdict_paths(), 1, n_boot=500).set_index(["dataset", "rule"])
    for dataset in KNEES:
        assert table.loc[(dataset, "delta_s:hh:first"), "verdict"] == "beats density-only"
        assert table.loc[(dataset, "delta_s:step:first"), "verdict"] == "no difference"
        assert table.loc[(dataset, "delta_s:ih:first"), "verdict"] == "worse than density-only"
        assert table.loc[(dataset, "density"), "verdict"] == "(baseline)"
        assert table.loc[(dataset, "validation"), "n"] == 5
    assert table.loc[("a", "delta_s:step:first"), "diff"] == 0.0
    # both matrices: hh (good) crosses before ih (worse) on a, after it on b and c
    assert table.loc[("a", "delta_s:ih+hh:first"), "verdict"] == "beats density-only"
    assert table.loc[("b", "delta_s:ih+hh:first"), "verdict"] == "worse than density-only"
    assert table.loc[("c", "delta_s:ih+hh:all"), "verdict"] == "beats density-only"
    assert table.loc[("a", "delta_s:ih+hh:all"), ["seeds_better", "seeds_worse"]].tolist() == [0, 5]
    reading = "\n".join(verdict_reading(verdict_frame(_verdict_paths(), 1, n_boot=200)))
    assert "in 6 of 12 dataset × cell × view combinations at least one expansion rule beats" in reading
    assert "6 of 15 expansion rules × cells beat it, 6 are worse" in reading and "δ = 1 point:" in reading
    assert "Δ_S, first of W_ih, W_hh: beats density-only in 1 of 3" in reading


def test_a_single_dataset_has_no_density_baseline():
    paths = {k: p for k, p in _verdict_paths().items() if k.dataset == "a"}
    table = verdict_frame(paths, 1, n_boot=100)
    assert set(table["verdict"]) == {"no density baseline"}
    reading = verdict_reading(table)
    assert "there is no density-only baseline (it needs at least two datasets)" in reading[0]
    assert not any("beats" in line for line in reading)


# --- expansion pruning: choices on validation, bands in [0, 1] -----------------------------------


def test_within_one_point_is_chosen_on_validation_not_test():
    levels = (1.0, 0.5, 0.2, 0.1)
    val_says = PruningPath(levels, (0.90, 0.895, 0.892, 0.80), (0.90, 0.80, 0.70, 0.90))  # test disagrees
    test_says = PruningPath(levels, (0.90, 0.85, 0.80, 0.80), (0.90, 0.90, 0.90, 0.90))
    assert within_dense(val_says) == 2 and within_dense(test_says) == 0
    table = within_table({"magnitude": {PathKey("x", "gru", 0): val_says, PathKey("y", "gru", 0): test_says}})
    rows = table.set_index("dataset")
    assert rows.loc["x", "sparsity"] == pytest.approx(0.8) and rows.loc["x", "test"] == pytest.approx(0.70)
    assert rows.loc["y", "sparsity"] == 0.0 and rows.loc["y", "test"] == pytest.approx(0.90)


def test_accuracy_bands_are_clipped_to_zero_one():
    frame = pd.DataFrame({"g": ["a"] * 3 + ["b"] * 3, "value": [1.0, 0.98, 1.0, 0.0, 0.03, 0.0]})
    stats = accuracy_stats(frame, ["g"]).set_index("g")
    assert stats.loc["a", "ci95_high"] == 1.0 and stats.loc["b", "ci95_low"] == 0.0
    assert stats.loc["a", "ci95_low"] < stats.loc["a", "mean"] < 1.0
    raw = pd.DataFrame(
        {"q": [1.0, 0.5], "mean": [0.99, 0.02], "ci95_low": [0.95, -0.05], "ci95_high": [1.04, 0.09]}
    )
    _, ax = new_figure()
    draw_mean_band(ax, raw, x="q", label="acc", limits=ACCURACY_LIMITS)
    y = np.concatenate([p.vertices[:, 1] for p in ax.collections[0].get_paths()])
    assert y.max() <= 1.0 and y.min() >= 0.0


# --- the whole report and its two published pages ------------------------------------------------


def test_report_and_publish_end_to_end_write_every_figure_and_both_pages(store, tmp_path, monkeypatch):
    """``sparsernn report RESULTS --study S --publish docs/results/S``: the Kalra page there, the
    expansion-pruning page in the sibling folder, each with its figures, CSV tables and runs.csv."""
    protocol = Protocol("controlled_pruning", object, lambda *a: {}, controlled.report)
    monkeypatch.setattr(
        report_module, "get_protocol", lambda name: protocol
    )  # until the protocol is registered
    monkeypatch.setattr(report_module, "with_default_params", lambda runs: runs)
    docs = tmp_path / "docs" / "results"
    result = CliRunner().invoke(
        main, ["report", str(store), "--study", STUDY, "--publish", str(docs / STUDY)]
    )
    assert result.exit_code == 0, result.output
    kalra, expansion = docs / STUDY, docs / "expansion-pruning"
    text, page = (kalra / "summary.md").read_text(), (expansion / "summary.md").read_text()
    for dataset in ("mnist1d", "fashion"):
        assert (kalra / f"gaps_{dataset}.png").is_file()
        for name in ("criteria_accuracy", "criteria_gaps", "scratch"):
            assert (expansion / f"{name}_{dataset}.png").is_file()
    assert "](../expansion-pruning/summary.md)" in text
    assert "Stopping rules against the validation knee, δ = 1 point" in text and "beats density-only" in text
    for heading in (
        "Verdicts at a glance",
        "Control: magnitude against random",
        "Do Δ values rank the criteria",
        "input noise",
    ):
        assert heading in text
    for heading in (
        "Test accuracy at each q",
        "Highest sparsity within one point",
        "Paired differences against magnitude",
        "Sparse from scratch",
    ):
        assert heading in page
    assert "expander − erdos_renyi" in page
    runs = load(store)
    assert not any(run.split("/")[0] in text + page for run in runs["run"])  # no hashes anywhere
    for folder in (kalra, expansion):
        names = {p.name for p in folder.iterdir()}
        assert {"summary.md", "runs.csv"} <= names
        assert sum(p.stat().st_size for p in folder.iterdir()) < 1_000_000
        for png in folder.glob("*.png"):
            assert f"]({png.name})" in (folder / "summary.md").read_text()
    assert set(pd.read_csv(kalra / "stopping_rules.csv")["delta"]) == {1, 5}
    assert len(pd.read_csv(expansion / "runs.csv")) == 6
    assert pd.read_csv(expansion / "accuracy.csv")["ci95_high"].max() <= 1.0


def test_the_accuracy_band_of_the_expansion_figure_is_clipped(tmp_path, monkeypatch):
    """A t band around an accuracy near 1 used to be drawn above 1 (and below 0 near 0)."""
    from sparsernn.plots import expansion as expansion_plot

    figures = []
    monkeypatch.setattr(expansion_plot, "save", lambda fig, path: figures.append(fig) or Path(path))
    accuracy = {1.0: 0.99, 0.5: 0.98, 0.1: 0.02}
    bands = {"accuracy": {1.0: (0.96, 1.02), 0.5: (0.95, 1.01), 0.1: (-0.03, 0.07)}}
    expansion_plot.plot_expansion_curves(accuracy, {}, {}, tmp_path / "x.png", bands=bands)
    band = figures[0].axes[0].collections[0]
    y = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
    assert y.max() <= 1.0 and y.min() >= 0.0


def test_publish_places_a_sub_page_beside_the_main_page(tmp_path):
    report = tmp_path / "report"
    (report / "expansion-pruning").mkdir(parents=True)
    (report / "summary.md").write_text("# main\n[sub](expansion-pruning/summary.md)\n")
    (report / "stopping_rules.csv").write_text("a\n1\n")
    (report / "expansion-pruning" / "summary.md").write_text("# sub\n")
    (report / "expansion-pruning" / "accuracy.csv").write_text("b\n2\n")
    runs = pd.DataFrame({"run": ["r/seed_0"], "seed": [0]})
    publish(report, runs, tmp_path / "docs" / "kalra-controlled")
    main_page, sub_page = tmp_path / "docs" / "kalra-controlled", tmp_path / "docs" / "expansion-pruning"
    assert (main_page / "summary.md").read_text() == "# main\n[sub](../expansion-pruning/summary.md)\n"
    assert sorted(p.name for p in main_page.iterdir()) == ["runs.csv", "stopping_rules.csv", "summary.md"]
    assert sorted(p.name for p in sub_page.iterdir()) == ["accuracy.csv", "runs.csv", "summary.md"]
    with pytest.raises(DataError, match="sub-page 'expansion-pruning' goes to a sibling folder"):
        publish(report, runs, tmp_path / "docs" / "expansion-pruning")


def test_paths_of_a_real_protocol_run(tmp_path, one_torch_thread):
    """The contract between the protocol and its report: real rows rebuild complete paths."""
    recipe = {
        "study": "tiny-controlled",
        "protocol": "controlled_pruning",
        "seeds": [0, 1],
        "data": {"name": "mnist1d", "options": {"n_train": 60, "n_val": 20, "n_test": 20}, "batch_size": 20},
        "model": {"cell": "gru", "hidden_size": 6},
        "train": {"epochs": 1},
        "params": {
            "criteria": ["magnitude", "random"],
            "densities": [1.0, 0.5, 0.2],
            "views": ["hh", "step"],
        },
    }
    assert run_sweep(expand(parse_recipe(recipe)), tmp_path, progress=False).ok == 2
    runs, metrics = load(tmp_path), load_metrics(tmp_path)
    paths, skipped = all_paths(metrics, runs)
    assert skipped == {"magnitude": 0, "random": 0} and sorted(paths) == ["magnitude", "random"]
    for run in runs.to_dict("records"):
        for criterion in ("magnitude", "random"):
            path = paths[criterion][PathKey("mnist1d", "gru", run["seed"])]
            assert path.levels == (1.0, 0.5, 0.2) and path.views() == ("hh", "step")
            assert path.val_acc[-1] == pytest.approx(run[f"{criterion}_final_val_accuracy"])
            assert set(path.traces[("rnn.l0", "hh")]) == set(TRACES)


def test_the_guard_is_also_paired_with_global_magnitude():
    from sparsernn.studies.reports.controlled_expansion import versus_magnitude

    rows = [
        {"dataset": "d", "cell": "gru", "seed": s, "q": q, "criterion": c, "test": acc + 0.01 * s}
        for s in range(3)
        for q in (1.0, 0.5)
        for c, acc in [("magnitude", 0.8), ("magnitude@global", 0.7), ("ramanujan_guard", 0.75)]
    ]
    diffs = versus_magnitude(pd.DataFrame(rows)).set_index("criterion")
    assert round(float(diffs.loc["ramanujan_guard", "mean"]), 6) == -5.0
    assert round(float(diffs.loc["ramanujan_guard vs magnitude@global", "mean"]), 6) == 5.0
    assert round(float(diffs.loc["magnitude@global", "mean"]), 6) == -10.0


# --- noise robustness per criterion and of scratch models; what a paired verdict rests on ---------


@pytest.fixture(scope="module")
def reported(store, tmp_path_factory) -> tuple[str, str, Path]:
    """The Kalra page's text, the expansion-pruning page's text and the report folder."""
    out = tmp_path_factory.mktemp("report")
    lines = controlled.report(load(store), load_metrics(store), out)
    return "\n".join(lines), (out / controlled.SUBPAGE / "summary.md").read_text(), out


def test_noisy_accuracy_of_every_criterion_with_t_intervals_over_seeds(reported):
    """The noise table showed only magnitude paths, as a mean without interval."""
    text, _, out = reported
    table = pd.read_csv(out / "noisy_accuracy.csv")
    assert set(table["criterion"]) == {"magnitude", "random", "degree_floor"}
    assert set(table["noise"]) == {0.1, 0.5} and set(table["q"]) == set(LEVELS)
    # before every knee, noisy accuracy = 0.903 − 0.002·seed − 0.001·level index − noise / 2
    row = table.set_index(["dataset", "cell", "criterion", "noise", "q"]).loc[
        ("mnist1d", "lstm", "random", 0.5, 0.9)
    ]
    half = scipy_stats.t.ppf(0.975, 2) * 0.002 / np.sqrt(3)
    assert row["n"] == 3 and row["mean"] == pytest.approx(0.651, abs=1e-4)
    assert row["ci95_high"] - row["mean"] == pytest.approx(half, rel=1e-2)
    assert "95 % Student-t interval" in text and "mnist1d / lstm:" in text
    assert "| noise | q | n | magnitude | degree_floor | random |" in text  # the report's order
    assert "| 0.5 | 90% | 3 | 0.651 ± 0.005 | 0.651 ± 0.005 | 0.651 ± 0.005 |" in text


def test_scratch_models_noisy_accuracy_beside_their_clean_accuracy(reported):
    _, page, out = reported
    assert "| dataset | cell | q | model | n | clean test | noise 0.1 | noise 0.5 |" in page
    # expander: 0.63 + 0.01·seed clean, minus noise / 2; magnitude at 10 %: past its knee (0.504)
    assert "| mnist1d | lstm | 10% | expander | 3 | 0.640 ± 0.025 | 0.590 ± 0.025 | 0.390 ± 0.025 |" in page
    assert "| mnist1d | lstm | 10% | magnitude | 3 | 0.504 ± 0.000 | 0.454 ± 0.000 | 0.254 ± 0.000 |" in page
    noisy = pd.read_csv(out / controlled.SUBPAGE / "scratch_noisy.csv")
    assert set(noisy["criterion"]) == {"scratch:expander", "scratch:erdos_renyi", "magnitude"}
    assert set(noisy["q"]) == {0.1, 0.02} and (noisy["n"] == 3).all()


def test_paired_stats_count_the_seeds_on_each_side():
    from sparsernn.studies.reports.controlled_expansion import paired_stats

    t = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 3, "d": [3.0, 2.5, 4.0, 3.5, -0.5, 0.0, 1.0, -1.0]})
    stats = paired_stats(t, ["g"], "d").set_index("g")
    assert stats.loc["a", "verdict"] == "beats"  # the t interval excludes 0 with one seed the other way
    assert stats[["seeds_better", "seeds_worse"]].to_dict("index") == {
        "a": {"seeds_better": 4, "seeds_worse": 1},
        "b": {"seeds_better": 1, "seeds_worse": 1},  # a zero difference is on neither side
    }


def test_the_paired_tables_of_the_expansion_page_show_the_seed_counts(reported):
    _, page, out = reported
    assert page.count("seeds + / −") >= 6  # explained and shown in three paired tables
    scratch = [
        line for line in page.splitlines() if line.startswith("| mnist1d | lstm | 10% | expander − erdos")
    ]
    assert len(scratch) == 1 and scratch[0].endswith("| 3 / 0 | first better |")
    assert "| 0 / 3 | worse |" in page  # random against magnitude past random's earlier knee
    versus = pd.read_csv(out / controlled.SUBPAGE / "versus_magnitude.csv")
    assert (versus["seeds_better"] + versus["seeds_worse"] <= versus["n"]).all()


# --- what the README shows of the two pages, and how much of the study they cover ------------------


def test_headlines_are_the_verdicts_and_the_sparsity_within_one_point_with_the_share_of_runs(store, tmp_path):
    runs = load(store)
    lines = controlled.report(runs.assign(planned_runs=10), load_metrics(store), tmp_path)
    kalra = headlines("\n".join(lines))
    page = headlines((tmp_path / controlled.SUBPAGE / "summary.md").read_text())
    assert len(kalra) == 1 and kalra[0][0].startswith("#### Verdicts at a glance")
    assert page[0] == [
        f"**{runs['run'].nunique()} of the study's 10 planned runs are in these tables: the study is partial.**"
    ]
    assert page[1][0].startswith("Highest sparsity within one point of dense")
    assert any(row.startswith("| mnist1d |") for row in page[1])


def test_one_seed_shows_no_ci_instead_of_nan(store, tmp_path):
    runs = load(store)
    one = runs[runs["seed"] == runs["seed"].min()]
    metrics = load_metrics(store)
    controlled.report(one, metrics[metrics["run"].isin(one["run"])], tmp_path)
    table = headlines((tmp_path / controlled.SUBPAGE / "summary.md").read_text())[0]
    assert any("[no CI]" in row for row in table) and not any("nan" in row for row in table)


def test_without_a_plan_the_sub_page_makes_no_claim_of_coverage(reported):
    _, page, _ = reported
    assert "planned runs" not in page
