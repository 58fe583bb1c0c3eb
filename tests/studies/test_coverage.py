"""A partial structure study says how many of its graph file's graphs are in, and "not yet" for the rest."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd

from sparsernn.studies.reports import paired
from sparsernn.studies.reports.coverage import coverage_table, expected_graphs, missing_pairs
from sparsernn.studies.reports.paired import THESIS_R2, paired_r2, paired_summary
from sparsernn.studies.reports.structure import report

CELLS, FAMILIES = ("gru", "lstm"), ("barabasi_albert", "watts_strogatz")


def _graph_file(path, per_pair=30):
    lines = [
        {"nodes": [0, 1, 2], "edges": [[0, 1], [1, 2]], "family": family, "cell": cell, "index": i}
        for cell in CELLS
        for family in FAMILIES
        for i in range(per_pair)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _partial_study(path, graphs=12):
    """GRU on BA only: ``graphs`` models of the 120 in the file (4 pairs × 30); too few to regress."""
    rng = np.random.default_rng(0)
    run = "s/gru-ba/seed_0"
    runs = pd.DataFrame(
        [{"run": run, "study": "s", "seed": 0, "model.cell": "gru", "params.family": "barabasi_albert"}]
    ).assign(**{"params.graphs": str(path)})
    metrics = []
    for graph in range(graphs):
        features = {"nodes": rng.random(), "source_nodes": rng.random(), "edges": rng.random()}
        accuracy = 0.5 + 0.4 * features["source_nodes"] + 0.02 * rng.random()
        metrics += [
            {"run": run, "graph": graph, "phase": "final", "name": "accuracy", "value": accuracy},
            {"run": run, "graph": graph, "phase": "final", "name": "loss", "value": 0.1},
            {"run": run, "graph": graph, "phase": "reference", "name": "accuracy", "value": accuracy - 0.01},
        ]
        metrics += [
            {"run": run, "graph": graph, "phase": "features", "name": k, "value": v}
            for k, v in features.items()
        ]
    return runs, pd.DataFrame(metrics)


def test_expected_graphs_count_the_file_per_cell_and_family(tmp_path):
    runs, _ = _partial_study(_graph_file(tmp_path / "g.jsonl"))
    expected = expected_graphs(runs)
    assert len(expected) == 4 and set(expected["expected"]) == {30}
    assert expected_graphs(runs.assign(**{"params.graphs": str(tmp_path / "nope.jsonl")})) is None
    assert expected_graphs(runs.drop(columns="params.graphs")) is None


def test_coverage_marks_pairs_without_models_as_not_yet():
    table = pd.DataFrame({"cell": "gru", "family": "ba", "graph": range(30)})
    expected = pd.DataFrame({"cell": ["gru", "gru"], "family": ["ba", "ws"], "expected": [30, 30]})
    coverage = coverage_table(table, expected)
    assert coverage["status"].tolist() == ["complete", "not yet"]
    assert missing_pairs(coverage) == [("gru", "ws")] and missing_pairs(None) == []


def test_paired_summary_lists_missing_pairs_as_not_yet():
    table = pd.DataFrame(
        {"cell": "gru", "family": "ba", "accuracy": [0.5, 0.6, 0.9], "reference_accuracy": [0.5, 0.7, 0.8]}
    )
    summary = paired_summary(table, [("gru", "ws"), ("lstm", "ba")])
    assert summary[["cell", "family"]].values.tolist() == [["gru", "ba"], ["gru", "ws"], ["lstm", "ba"]]
    assert summary.loc[2, "graphs"] == 0 and summary.loc[2, "mean ours"] == "not yet"
    assert summary.loc[2, "pearson"] == "not yet"


def test_the_thesis_r2_is_published_for_every_cell_and_regressor_of_the_original_protocol(monkeypatch):
    assert {c for c, _ in THESIS_R2} == {"rnn_tanh", "rnn_relu", "lstm", "gru"} and len(THESIS_R2) == 12
    assert round(THESIS_R2[("gru", "random_forest")], 2) == 0.88  # the value the thesis' text quotes
    fit = SimpleNamespace(r2=0.5)
    fits = {"bayesian_ridge": fit, "random_forest": fit, "adaboost": fit}  # no fitting: seconds, not minutes
    monkeypatch.setattr(paired, "original_protocol", lambda x, y: fits)
    monkeypatch.setattr(paired, "sound_protocol", lambda x, y: fits)
    rng = np.random.default_rng(1)
    x = rng.random((30, 2))
    table = pd.DataFrame({"cell": "gru", "a": x[:, 0], "b": x[:, 1], "accuracy": x[:, 0]})
    table["reference_accuracy"] = x[:, 0] + 0.01 * rng.random(30)
    r2 = paired_r2(table, ["a", "b"]).set_index(["protocol", "regressor"])
    assert r2.loc[("original", "random_forest"), "R² thesis published"] == 0.876
    assert r2.loc[("sound", "random_forest"), "R² thesis published"] == "-"


def test_a_partial_store_reports_what_is_in_and_not_yet_for_the_rest(tmp_path):
    runs, metrics = _partial_study(_graph_file(tmp_path / "g.jsonl"))
    text = "\n".join(report(runs, metrics, tmp_path))
    assert "**12 of the 120 graphs of the study's graph file are in** (3 of 4 cell" in text
    assert "| gru | barabasi_albert | 12 | 30 | partial |" in text
    assert "| lstm | watts_strogatz | 0 | 30 | not yet |" in text
    paired = [line for line in text.splitlines() if line.startswith("| lstm | barabasi_albert | 0 | not yet")]
    assert len(paired) == 1  # the paired table: a row for the pair not trained yet
    assert "Not yet (fewer than 20 paired models): gru, lstm." in text
    assert "most predictable" not in text  # one cell: nothing to compare


def test_a_complete_store_says_all_graphs_are_in_and_one_model_does_not_crash(tmp_path):
    """One model: no feature varies; the correlation section used to fail on an empty Pearson table."""
    only_gru_ba = tmp_path / "gru_ba.jsonl"
    only_gru_ba.write_text(
        json.dumps({"nodes": [0, 1], "edges": [[0, 1]], "family": "barabasi_albert", "cell": "gru"}) + "\n"
    )
    runs, metrics = _partial_study(only_gru_ba, graphs=1)
    text = "\n".join(report(runs, metrics, tmp_path))
    assert "All 1 graphs of the study's graph file are in." in text and "| not yet |" not in text
    assert "(Correlations need models whose graph features vary: not yet.)" in text


def test_the_r2_note_lists_only_cells_without_a_regression(monkeypatch):
    """A cell with an untrained family but enough models for R² was listed as "not yet" too."""
    fit = SimpleNamespace(r2=0.5)
    fits = {"random_forest": fit}
    monkeypatch.setattr(paired, "original_protocol", lambda x, y: fits)
    monkeypatch.setattr(paired, "sound_protocol", lambda x, y: fits)
    rng = np.random.default_rng(2)
    table = pd.DataFrame({"cell": "gru", "family": "ba", "a": rng.random(25), "accuracy": rng.random(25)})
    table["reference_accuracy"] = rng.random(25)
    lines = paired.paired_section(table, ["a"], [("gru", "ws"), ("lstm", "ba")])
    assert "Not yet (fewer than 20 paired models): lstm." in lines
    note = lines.index("Not yet (fewer than 20 paired models): lstm.")
    assert lines[note - 1] == ""  # a paragraph of its own, not a row of the table above


def test_a_study_of_the_first_graphs_expects_only_those(tmp_path):
    """The seed study trains graphs 0-24 of each pair: the file's other graphs are not missing."""
    runs, _ = _partial_study(_graph_file(tmp_path / "g.jsonl"))
    chunks = runs.loc[runs.index.repeat(3)].assign(**{"params.first": [0, 5, 10], "params.count": 5})
    assert set(expected_graphs(chunks)["expected"]) == {15}
    assert set(expected_graphs(chunks.drop(columns="params.count"))["expected"]) == {20}  # default count 10
    assert set(expected_graphs(chunks.assign(**{"params.count": 100}))["expected"]) == {30}  # the file's end


def test_paired_r2_adds_the_sound_protocol_on_graphs_where_both_networks_learned(monkeypatch):
    seen = []

    def sound(x, y):
        seen.append(len(y))
        return {"random_forest": SimpleNamespace(r2=float(len(y)))}

    monkeypatch.setattr(paired, "original_protocol", lambda x, y: {"random_forest": SimpleNamespace(r2=0.5)})
    monkeypatch.setattr(paired, "sound_protocol", sound)
    x = np.linspace(0.6, 0.99, 30)
    table = pd.DataFrame({"cell": "gru", "a": x, "accuracy": x, "reference_accuracy": x})
    assert set(paired_r2(table, ["a"])["protocol"]) == {"original", "sound"}  # nobody at chance
    table.loc[[0, 1], "accuracy"] = 0.49  # two of ours stayed at chance
    table.loc[2, "reference_accuracy"] = 0.5  # one of the thesis'
    r2 = paired_r2(table, ["a"]).set_index("protocol")
    assert r2.loc[paired.LEARNED, "R² ours"] == 27.0 and r2.loc[paired.LEARNED, "R² thesis data"] == 27.0
    assert r2.loc["sound", "R² ours"] == 30.0
