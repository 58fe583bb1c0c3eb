"""Dtypes of the loaded tables: booleans are booleans, list summaries kept, config joined to metrics."""

from __future__ import annotations

import pandas as pd
import pytest

from sparsernn.results import RunKey, RunRecord, load, load_metrics, write_run


def _record(seed: int, cell: str) -> RunRecord:
    key = RunKey("st", f"{cell:0<12}"[:12], seed)
    config = {"study": "st", "seed": seed, "protocol": "iterative_pruning", "model": {"cell": cell}}
    config["params"] = {"gates": ["stack", "union"]}
    rows = [
        {"phase": "dense", "epoch": 1, "values": {"accuracy": 0.5}},
        {"phase": "finetuned", "level": 1.0, "values": {"accuracy": 0.6}},
        {"phase": "expansion", "level": 1.0, "gates": "stack", "weighted": False, "values": {"delta_s": 1.0}},
        {"phase": "expansion", "level": 1.0, "gates": "union", "weighted": True, "values": {"delta_s": 0.5}},
    ]
    summary = {"status": "ok", "accuracies": [0.6, 0.4], "densities": [1.0, 0.5], "nested": {"a": [1, 2]}}
    flag = {"degree_ok": seed == 0} if cell == "gru" else {}  # a field some runs lack
    return RunRecord(key, config, summary | flag | {"all_there": True}, rows)


@pytest.fixture
def root(tmp_path):
    for seed in (0, 1):
        for cell in ("gru", "lstm"):
            write_run(tmp_path, _record(seed, cell))
    return tmp_path


def test_weighted_is_a_nullable_boolean_and_query_works(root):
    metrics = load_metrics(root)
    assert str(metrics["weighted"].dtype) == "boolean"
    assert metrics["weighted"].isna().sum() == 8  # dense and finetuned rows have no such field
    unweighted = metrics.query("not weighted")  # raised before: bool mixed with NaN in an object column
    assert len(unweighted) == 4 and set(unweighted["gates"]) == {"stack"}
    assert len(metrics[metrics["weighted"]]) == 4
    assert list(metrics.columns).count("gates") == 1


def test_with_config_joins_flattened_config_columns(root):
    plain = load_metrics(root)
    joined = load_metrics(root, with_config=True)
    assert len(joined) == len(plain) and "model.cell" not in plain
    assert {"model.cell", "params.gates", "seed", "protocol", "hash"} <= set(joined.columns)
    assert joined["params.gates"].iloc[0] == '["stack", "union"]'  # as load() writes config lists
    assert list(joined.columns).count("gates") == 1  # the metric's own index column stays one column
    assert joined.groupby("model.cell")["run"].nunique().to_dict() == {"gru": 2, "lstm": 2}
    assert pd.api.types.is_integer_dtype(joined["seed"])


def test_list_summary_fields_are_kept_as_tuples(root):
    runs = load(root)
    assert runs["accuracies"].map(type).eq(tuple).all()
    assert runs["accuracies"].iloc[0] == (0.6, 0.4) and runs["nested.a"].iloc[0] == (1, 2)
    assert runs.drop_duplicates("accuracies").shape[0] == 1  # hashable cells
    assert str(runs["degree_ok"].dtype) == "boolean" and runs["degree_ok"].isna().sum() == 2
    assert runs.query("degree_ok")["seed"].tolist() == [0]
    assert runs.query("not degree_ok")["seed"].tolist() == [1]
    assert pd.api.types.is_bool_dtype(runs["all_there"])
