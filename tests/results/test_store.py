"""The run store: folder layout, atomic completion, resume after a crash, tidy loading."""

from __future__ import annotations

import json
import math
import re

import pytest

from sparsernn.errors import ConfigError, DataError
from sparsernn.results import (
    complete_runs,
    is_complete,
    load,
    load_metrics,
    prepare_root,
    run_dir,
    run_status,
    write_run,
)
from sparsernn.studies.config import make_config, run_hash
from sparsernn.studies.recorder import Recorder, RunResult


def _result(seed=0, status="ok", cell="gru", accuracy=0.5):
    config = make_config({"study": "st", "seed": seed, "model": {"cell": cell}})
    recorder = Recorder()
    recorder.log({"loss": 1.0, "accuracy": accuracy}, phase="dense", epoch=1)
    recorder.log({"loss": float("nan"), "accuracy": accuracy}, phase="dense", epoch=2)
    recorder.add_file("blob.bin", b"\x00\x01")
    summary = {"test_accuracy": accuracy, "delta": float("-inf")} if status == "ok" else {}
    return RunResult(
        config, status, summary, recorder.rows, recorder.files, reason="boom" if status != "ok" else ""
    )


def test_layout_and_files(tmp_path):
    result = _result()
    folder = write_run(tmp_path, result)
    assert folder == tmp_path / "st" / run_hash(result.config) / "seed_0" == run_dir(tmp_path, result.config)
    assert sorted(p.name for p in folder.iterdir()) == [
        "blob.bin",
        "config.json",
        "metrics.jsonl",
        "summary.json",
    ]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["test_accuracy"] == 0.5
    assert summary["delta"] is None  # strict JSON: no infinities
    assert json.loads((folder / "config.json").read_text())["hash"] == run_hash(result.config)
    assert (folder / "blob.bin").read_bytes() == b"\x00\x01"


def test_incomplete_folder_is_not_complete_and_is_redone(tmp_path):
    result = _result()
    folder = run_dir(tmp_path, result.config)
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text('{"half": ')  # a crash in the middle of a write
    (folder / "stale.bin").write_text("x")
    assert not is_complete(tmp_path, result.config)
    assert complete_runs(tmp_path) == []
    write_run(tmp_path, result)
    assert is_complete(tmp_path, result.config)
    assert not (folder / "stale.bin").exists()
    assert len(load(tmp_path)) == 1


@pytest.mark.parametrize("damage", ["{not json", "[1, 2]", ""])
def test_a_summary_that_cannot_be_read_is_unfinished_everywhere(tmp_path, damage):
    write_run(tmp_path, _result(seed=0))
    damaged = write_run(tmp_path, _result(seed=1))
    (damaged / "summary.json").write_text(damage)
    assert run_status(tmp_path, _result(seed=1).config) is None  # the sweep redoes it
    assert complete_runs(tmp_path) == [run_dir(tmp_path, _result(seed=0).config)]
    runs = load(tmp_path)
    assert list(runs["seed"]) == [0]  # and no report counts it as an ok run
    assert set(load_metrics(tmp_path)["run"]) == set(runs["run"])


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        ("config.json", None, "config.json is missing"),
        ("config.json", "{oops", "config.json is damaged"),
        ("config.json", "[1]", "config.json holds no mapping"),
        ("metrics.jsonl", None, "metrics.jsonl is missing"),
        ("metrics.jsonl", '{"epoch": 1}\n', "metrics.jsonl:1: not a metric row"),
    ],
)
def test_a_damaged_finished_run_is_one_line_naming_its_file(tmp_path, name, damage, message):
    folder = write_run(tmp_path, _result())
    if damage is None:
        (folder / name).unlink()
    else:
        (folder / name).write_text(damage)
    with pytest.raises(DataError, match=re.escape(message)) as caught:
        load_metrics(tmp_path) if name == "metrics.jsonl" else load(tmp_path)
    assert str(folder) in str(caught.value) and "delete that run folder" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_run_redone_over_its_old_folder_loses_the_old_summary_first(tmp_path, monkeypatch):
    """A kill while the old folder is removed leaves no folder that reads as a finished run."""
    import shutil

    folder = write_run(tmp_path, _result(status="failed"))

    def killed(path, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        write_run(tmp_path, _result())
    assert run_status(tmp_path, _result().config) is None and complete_runs(tmp_path) == []
    assert folder.exists()  # the rest stays until the run is written again


def test_failed_runs_are_finished_not_redone_unless_retried(tmp_path):
    result = _result(status="failed")
    write_run(tmp_path, result)
    assert is_complete(tmp_path, result.config)  # finished: a sweep does not redo it by itself ...
    assert not is_complete(tmp_path, result.config, retry_failed=True)
    assert run_status(tmp_path, result.config) == ("failed", "boom")  # ... but counts it as failed
    row = load(tmp_path).iloc[0]
    assert row["status"] == "failed" and row["reason"] == "boom"


def test_load_has_status_and_reason_columns_even_when_empty(tmp_path):
    assert list(load(tmp_path).columns) == ["run", "path", "status", "reason"]
    write_run(tmp_path, _result())
    row = load(tmp_path).iloc[0]
    assert (row["status"], row["reason"]) == ("ok", "")
    assert run_status(tmp_path, _result(seed=5).config) is None


def test_prepare_root_creates_and_checks_the_folder(tmp_path):
    assert prepare_root(tmp_path / "a" / "b").is_dir()
    assert not list((tmp_path / "a" / "b").iterdir())  # the write check leaves nothing behind
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"results folder .*file/sub: cannot create or write it"):
        prepare_root(tmp_path / "file" / "sub")


def test_load_one_row_per_run_with_config_and_summary(tmp_path):
    for seed in (0, 1):
        for cell, acc in (("gru", 0.6), ("lstm", 0.7)):
            write_run(tmp_path, _result(seed=seed, cell=cell, accuracy=acc))
    df = load(tmp_path)
    assert len(df) == 4
    assert set(df["model.cell"]) == {"gru", "lstm"}
    assert df.groupby("model.cell")["test_accuracy"].mean().to_dict() == {"gru": 0.6, "lstm": 0.7}
    assert set(df["seed"]) == {0, 1}


def test_load_metrics_long_format(tmp_path):
    write_run(tmp_path, _result())
    m = load_metrics(tmp_path)
    assert list(m.columns[:2]) == ["run", "study"]
    assert len(m) == 4 and set(m["name"]) == {"loss", "accuracy"}
    nan_row = m[(m["name"] == "loss") & (m["epoch"] == 2)]
    assert math.isnan(nan_row["value"].iloc[0])


def test_a_folder_inside_a_results_folder_is_refused_naming_the_results_folder(tmp_path):
    folder = write_run(tmp_path, _result())  # tmp_path/st/<hash>/seed_0
    for inner, kind in ((tmp_path / "st", "study"), (folder.parent, "run"), (folder, "seed")):
        message = re.escape(
            f"{inner} is a {kind} folder inside the results folder {tmp_path}; give the results"
        )
        with pytest.raises(DataError, match=message):
            load(inner)
        with pytest.raises(DataError, match=message):
            load_metrics(inner)
    assert len(load(tmp_path)) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load(empty).empty  # a results folder without finished runs: an empty table


def test_missing_results_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load(tmp_path / "nope")
