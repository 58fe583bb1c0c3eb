"""The darji_structure protocol: graph families, features, results in the store, resume, engines, report."""

from __future__ import annotations

import functools
import json
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import AdaBoostRegressor, RandomForestRegressor

from sparsernn.errors import ConfigError
from sparsernn.nn import GraphClassifier, load_model
from sparsernn.nn.graph_rnn import wiring
from sparsernn.results import load, load_metrics, run_dir
from sparsernn.studies import expand, parse_recipe, run_sweep
from sparsernn.studies.protocols.graph_families import FAMILIES, graph_features, make_graph, spectral_features
from sparsernn.studies.reports import regression as structure_regression
from sparsernn.studies.reports.structure import graph_table, report

TINY = {
    "study": "s",
    "protocol": "darji_structure",
    "data": {"name": "darji_reber", "options": {"n_valid": 40}, "batch_size": 16, "eval_batch_size": 32},
    "model": {"cell": "gru"},
    "train": {"epochs": 2, "lr": 0.01, "clip": 5.0},
}


def configs(**params):
    sweep = params.pop("sweep", {})
    return expand(parse_recipe({**TINY, "params": {"n_min": 6, "n_max": 12, **params}, "sweep": sweep}))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_families_draw_the_documented_graphs_reproducibly():
    for index in range(3):
        ba, _ = make_graph("barabasi_albert", 0, index)
        n, m = ba.number_of_nodes(), ba.number_of_nodes() // 10
        assert ba.number_of_edges() == (n - m) * m and 10 <= n <= 50
        ws, _ = make_graph("watts_strogatz", 0, index)
        assert ws.number_of_edges() == ws.number_of_nodes() * (ws.number_of_nodes() // 5 // 2)
        rr, _ = make_graph("random_regular", 0, index)
        assert len({d for _, d in rr.degree()}) == 1
        for family in FAMILIES:
            graph, init = make_graph(family, 0, index)
            again, init_again = make_graph(family, 0, index)
            assert nx.utils.graphs_equal(graph, again) and init == init_again and nx.is_connected(graph)
    first, second = (make_graph("erdos_renyi", 0, i)[0] for i in (0, 1))
    assert not nx.utils.graphs_equal(first, second)


def test_layered_expanders_keep_their_layers_and_have_no_skips():
    graph, _ = make_graph("layered_expander", 1, 0)
    structure = wiring(graph)
    assert len(set(structure.sizes)) == 1 and structure.skips == ()
    assert all(int(m.sum(axis=1).min()) >= 1 for m in structure.masks.values())


def test_features_are_the_23_properties_and_the_spectral_gaps():
    bipartite = nx.complete_bipartite_graph(2, 3)  # one layer pair, the all-ones 3 × 2 mask
    features = graph_features(bipartite)
    assert features["source_nodes"] == 2 and features["sink_nodes"] == 3
    mu0 = math.sqrt(6)  # all-ones (3 × 2): one singular value sqrt(6), the others 0
    assert features["delta_s_mean"] == pytest.approx(2 * math.sqrt(mu0 - 1))
    assert features["delta_r_min"] == pytest.approx(math.sqrt(2) + 1)  # d_L = 3, d_R = 2, mu_hat = 0
    assert spectral_features(wiring(nx.Graph([(0, 1), (1, 2), (0, 2)])))["skip_layers"] == 1


def test_results_land_in_the_store_and_resume(tmp_path):
    runs = configs(count=2, sweep={"params.family": ["barabasi_albert", "layered_expander"]})
    outcome = run_sweep(runs, tmp_path, progress=False)
    assert (outcome.ok, outcome.failed) == (2, 0)
    table = load(tmp_path)
    assert sorted(table["trained"]) == [2, 2] and (table["status"] == "ok").all()
    metrics = load_metrics(tmp_path)
    finals = metrics[(metrics["phase"] == "final") & (metrics["name"] == "accuracy")]
    assert len(finals) == 4 and finals["value"].between(0, 1).all()
    folder = run_dir(tmp_path, runs[0])
    graphs = json.loads((folder / "graphs.json").read_text())
    model = load_model(folder / "graph_1.safetensors")
    assert isinstance(model, GraphClassifier) and sorted(map(tuple, model.config["edges"])) == sorted(
        map(tuple, graphs[1]["edges"])
    )
    again = run_sweep(runs, tmp_path, progress=False)
    assert (again.skipped, again.ok) == (2, 0)
    (folder / "summary.json").unlink()  # an interrupted run is redone, the other is kept
    assert run_sweep(runs, tmp_path, progress=False).ok == 1
    rows = graph_table(load(tmp_path), load_metrics(tmp_path))
    assert len(rows) == 4 and {"accuracy", "nodes", "delta_s_mean", "cell", "family"} <= set(rows.columns)


def final_losses(tmp_path, runs) -> dict[int, float]:
    run_sweep(runs, tmp_path, progress=False)
    metrics = load_metrics(tmp_path)
    rows = metrics[(metrics["phase"] == "final") & (metrics["name"] == "loss")]
    return dict(zip(rows["graph"].astype(int), rows["value"]))


def test_a_graph_result_depends_neither_on_its_run_nor_on_the_engine(tmp_path):
    together = final_losses(tmp_path / "a", configs(count=3))
    split = final_losses(tmp_path / "b", configs(count=1, sweep={"params.first": [0, 1, 2]}))
    modules = final_losses(tmp_path / "c", configs(count=3, engine="modules"))
    assert sorted(together) == [0, 1, 2]
    for index, loss in together.items():
        assert split[index] == pytest.approx(loss, rel=1e-4)
        assert modules[index] == pytest.approx(loss, rel=1e-4)


def test_graphs_that_cannot_be_drawn_are_recorded_and_the_run_goes_on(tmp_path):
    (config,) = configs(family="erdos_renyi", n_min=2, n_max=2, count=2)  # p = 0: never connected
    run_sweep([config], tmp_path, progress=False)
    (row,) = load(tmp_path).to_dict("records")
    assert row["status"] == "ok" and row["failed_graphs"] == 2 and row["trained"] == 0
    graphs = json.loads((run_dir(tmp_path, config) / "graphs.json").read_text())
    assert all("no connected" in g["error"] for g in graphs)


def test_bad_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="family"):
        configs(family="small_world")
    with pytest.raises(ConfigError, match="n_min"):
        configs(n_min=20, n_max=10)


def test_report_writes_figures_and_tables(tmp_path):
    run_sweep(
        configs(count=2, sweep={"params.family": ["barabasi_albert", "watts_strogatz"]}),
        tmp_path,
        progress=False,
    )
    lines = report(load(tmp_path), load_metrics(tmp_path), tmp_path)
    text = "\n".join(lines)
    assert "| gru | barabasi_albert | 2 |" in text and "Pearson" in text
    assert (tmp_path / "structure_accuracy_s.png").stat().st_size > 0
    assert (tmp_path / "structure_correlation_s.png").stat().st_size > 0


@pytest.mark.parametrize(
    "name",
    [
        "sparsernn.studies.protocols.graph_families",
        "sparsernn.studies.reports.regression",
        "sparsernn.train.many",
        "sparsernn.train.wavefront",
        "sparsernn.train.wavefront_cells",
        "sparsernn.train.wavefront_plan",
    ],
)
def test_docstring_examples_run(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_report_regressions_and_claims_on_a_table_with_a_known_answer(tmp_path, monkeypatch):
    for name, ensemble in [
        ("RandomForestRegressor", RandomForestRegressor),
        ("AdaBoostRegressor", AdaBoostRegressor),
    ]:
        small = functools.partial(ensemble, n_estimators=5)  # seconds, not minutes
        monkeypatch.setattr(structure_regression, name, small)
    # Enough models per cell for the regression sections, without training any: accuracy is a
    # noisy linear function of source_nodes for GRU, and noise for LSTM; WS beats BA in GRU only.
    rng = np.random.default_rng(0)
    runs, metrics = [], []
    for cell in ("gru", "lstm"):
        for family in ("barabasi_albert", "watts_strogatz"):
            run = f"{cell}-{family}/seed_0"
            runs.append({"run": run, "study": "s", "model.cell": cell, "params.family": family})
            for graph in range(15):
                features = {
                    name: rng.random() for name in ("source_nodes", "closeness_var", "nodes", "layers")
                }
                ws_gain = 0.1 if family == "watts_strogatz" else 0.0
                if cell == "gru":
                    accuracy = 0.5 + 0.3 * features["source_nodes"] + ws_gain + 0.01 * rng.random()
                else:
                    accuracy = 0.6 + 0.3 * rng.random() - ws_gain
                metrics += [
                    {"run": run, "graph": graph, "phase": "final", "name": "accuracy", "value": accuracy},
                    {"run": run, "graph": graph, "phase": "final", "name": "loss", "value": 1 - accuracy},
                ]
                metrics += [
                    {"run": run, "graph": graph, "phase": "features", "name": k, "value": v}
                    for k, v in features.items()
                ]
    lines = report(pd.DataFrame(runs), pd.DataFrame(metrics), tmp_path)
    text = "\n".join(lines)
    assert "60 trained models, 2 graph families, 2 cells." in text
    assert "WS better for 1 of 2 cells (gru)" in text
    assert "random-forest R² (original protocol): gru " in text  # one split of 3 rows: any value
    assert "- Sound protocol (pooled out-of-fold R² of the best regressor): gru most predictable" in text
    assert "- gru: rank by |r| of the original's strongest correlates: source_nodes #1" in text
    for figure in ("accuracy", "correlation", "r2", "predicted", "importance"):
        assert (tmp_path / f"structure_{figure}_s.png").stat().st_size > 0
    importance = text.split("### Feature importance")[1]
    assert importance.split("| 1 | ")[1].startswith("source_nodes")


def test_claims_rank_no_feature_when_no_correlation_is_defined():
    """A cell whose accuracy is constant has NaN correlations: no rank is claimed for it."""
    from sparsernn.studies.reports.structure import _claims

    table = pd.DataFrame({"cell": "gru", "family": "barabasi_albert", "accuracy": [0.5] * 4})
    nan = pd.DataFrame(
        {"feature": ["source_nodes", "edges"], "r": [float("nan")] * 2, "p": [float("nan")] * 2}
    )
    text = "\n".join(_claims(table, {"gru": nan}, {}))
    assert "- gru: no correlation defined" in text and " #" not in text
