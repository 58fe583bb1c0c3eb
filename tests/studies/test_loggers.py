"""Experiment trackers: every metric of every run reaches CSV, TensorBoard and MLflow, read back with
each tool's own reader; logging never changes a run's identity and never loses a run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from sparsernn._registry import registry
from sparsernn.cli import main
from sparsernn.errors import ConfigError
from sparsernn.results import complete_runs, load_metrics
from sparsernn.results.records import RunKey, RunRecord
from sparsernn.studies import expand, parse_recipe, run_sweep
from sparsernn.studies import loggers as loggers_module
from sparsernn.studies.loggers import (
    LOGGERS,
    TRACKERS_FOLDER,
    Logger,
    check_loggers,
    log_run,
    mlflow_uri,
    points,
    swept_fields,
    tracked_run,
)
from sparsernn.studies.recorder import RunResult

TINY = {
    "study": "tiny",
    "protocol": "train",
    "data": {"name": "mnist1d", "options": {"n_train": 64, "n_test": 32}, "batch_size": 32},
    "model": {"hidden_size": 4},
    "train": {"epochs": 2, "lr": 0.01},
    "sweep": {"model.cell": ["rnn_tanh", "gru"]},
}


def _record(seed: int = 0, status: str = "ok", accuracy: float = 0.5) -> RunRecord:
    """A finished run as the driver hands it on: no training needed."""
    config = {"study": "s", "protocol": "train", "seed": seed, "model": {"cell": "gru"}, "params": {}}
    rows = [
        {"epoch": 1, "phase": "dense", "values": {"accuracy": accuracy, "loss": 1.5}},
        {"epoch": 2, "phase": "dense", "values": {"accuracy": accuracy + 0.1, "loss": 1.25}},
        {"phase": "pruned", "level": 0.5, "values": {"accuracy": 0.25, "loss": None}},
    ]
    summary = {"status": status, "reason": "", "wall_s": 1.0, "test_accuracy": accuracy}
    return RunRecord(RunKey("s", "0123456789ab", seed), config, summary, rows)


@pytest.fixture(scope="module")
def swept_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, list]:
    """Two tiny runs (one swept field) sent to every tracker by the sweep driver."""
    root = tmp_path_factory.mktemp("results")
    configs = expand(parse_recipe({**TINY, "log": ["csv"]}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")  # offline tests; MLflow would phone home
        outcome = run_sweep(configs, root, progress=False, loggers=["tensorboard", "mlflow"])
    return root, outcome, configs


def test_logging_is_not_part_of_a_run_identity():
    plain = expand(parse_recipe(TINY))
    logged = expand(parse_recipe({**TINY, "log": ["csv", "tensorboard"]}))
    assert [c.key for c in logged] == [c.key for c in plain]
    assert logged[0].log == ("csv", "tensorboard")
    assert "log" not in RunResult(logged[0], "ok", {}).record().config  # config.json never names it


def test_an_unknown_logger_is_a_recipe_error_naming_the_field():
    with pytest.raises(
        ConfigError, match=r"recipe: log: unknown logger 'tb'; choose from csv, mlflow, tensorboard"
    ):
        expand(parse_recipe({**TINY, "log": ["tb"]}))
    with pytest.raises(ConfigError, match="unknown logger 'tb'"):
        run_sweep([], "unused", loggers=["tb"])


def test_a_missing_package_fails_before_the_first_run(tmp_path, monkeypatch):
    needy = Logger(LOGGERS["csv"].write, ("no_such_package_sparsernn",), "needy")
    monkeypatch.setattr(loggers_module, "LOGGERS", registry({**LOGGERS, "needy": needy}))
    with pytest.raises(ConfigError, match=r"pip install 'sparsernn\[needy\]'"):
        run_sweep(expand(parse_recipe(TINY)), tmp_path / "results", loggers=["needy"], progress=False)
    assert not (tmp_path / "results").exists()  # nothing ran, nothing was created
    assert check_loggers(["csv", "tensorboard", "csv"]) == ("csv", "tensorboard")


def test_points_name_series_by_metric_and_index_with_epochs_as_steps():
    rows = _record().rows
    assert points(rows)[:2] == [("accuracy/phase:dense", 1, 0.5), ("loss/phase:dense", 1, 1.5)]
    tag, step, value = points(rows)[-1]
    assert (tag, step, math.isnan(value)) == ("loss/phase:pruned/level:0.5", 0, True)
    repeated = points([{"graph": 3, "values": {"a": 1.0}}] * 3)
    assert [step for _, step, _ in repeated] == [0, 1, 2]  # no step field: position in the series


def test_timings_are_not_logged_as_metrics():
    record = _record()
    record.summary["resumed_s"] = 900.0
    assert tracked_run(record).summary == {"test_accuracy": 0.5}


def test_swept_fields_are_the_fields_that_differ():
    configs = [{"seed": s, "model": {"cell": c, "hidden_size": 4}} for s in (0, 1) for c in ("gru", "lstm")]
    assert swept_fields(configs) == ("model.cell",)
    assert swept_fields([{"params": {}}, {"params": {"sparsity": 0.5}}]) == ("params.sparsity",)


def test_every_metric_reaches_the_csv_read_back_with_pandas(swept_run):
    root, outcome, configs = swept_run
    assert (outcome.ok, outcome.log_failures) == (2, [])
    files = sorted((root / TRACKERS_FOLDER / "csv" / "tiny").glob("*/seed_*.csv"))
    assert len(files) == 2
    logged = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    stored = load_metrics(root)
    assert len(logged) == len(stored) > 0
    assert sorted(logged["model.cell"].unique()) == ["gru", "rnn_tanh"]  # swept values as columns
    assert set(logged["run"]) == {c.key.name for c in configs}
    merged = logged.merge(stored, on=["run", "epoch", "phase", "name"])
    assert len(merged) == len(stored)
    assert merged.value_x.to_numpy() == pytest.approx(merged.value_y.to_numpy(), rel=1e-12)


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_every_metric_reaches_tensorboard_read_back_with_its_reader(swept_run):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    root, _, _ = swept_run
    for folder in complete_runs(root):
        key = RunKey("tiny", folder.parent.name, 0)
        reader = event_accumulator.EventAccumulator(str(key.folder(root / TRACKERS_FOLDER / "tensorboard")))
        reader.Reload()
        expected = points(_rows(folder))
        assert set(reader.Tags()["scalars"]) >= {tag for tag, _, _ in expected}
        for tag, step, value in expected:
            [event] = [e for e in reader.Scalars(tag) if e.step == step]
            assert event.value == pytest.approx(value, rel=1e-6)
        session = reader.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        assert b"model.cell" in session and folder.parent.name.encode() in session  # tagged with the config
        assert reader.Scalars("summary/test_accuracy")[0].value == pytest.approx(
            json.loads((folder / "summary.json").read_text())["test_accuracy"], rel=1e-6
        )


def test_every_metric_reaches_mlflow_read_back_from_the_local_store(swept_run):
    tracking = pytest.importorskip("mlflow.tracking")
    root, _, configs = swept_run
    client = tracking.MlflowClient(tracking_uri=mlflow_uri(root / TRACKERS_FOLDER / "mlflow"))
    experiment = client.get_experiment_by_name("tiny")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.tags["sparsernn.run"] for r in runs) == sorted(c.key.name for c in configs)
    for mlflow_run in runs:
        tags, params = mlflow_run.data.tags, mlflow_run.data.params
        assert tags["sparsernn.study"] == "tiny" and tags["sparsernn.seed"] == "0"
        assert tags["sparsernn.model.cell"] == params["model.cell"] in {"gru", "rnn_tanh"}
        assert mlflow_run.info.status == "FINISHED"
        folder = root / "tiny" / tags["sparsernn.hash"] / "seed_0"
        for tag, step, value in points(_rows(folder)):
            history = client.get_metric_history(mlflow_run.info.run_id, tag)
            assert [m.value for m in history if m.step == step] == [pytest.approx(value, rel=1e-12)]


def test_mlflow_gets_an_infinite_value_as_nan_not_as_a_huge_number(swept_run, monkeypatch):
    tracking = pytest.importorskip("mlflow.tracking")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    root = swept_run[0]
    plain = _record()
    rows = [*plain.rows, {"phase": "expansion", "level": 0.5, "values": {"delta_s": float("-inf")}}]
    record = RunRecord(RunKey("inf", "0123456789ab", 0), plain.config, plain.summary, rows)  # its own study
    assert log_run(root, ["mlflow"], record) == []
    client = tracking.MlflowClient(tracking_uri=mlflow_uri(root / TRACKERS_FOLDER / "mlflow"))
    (found,) = client.search_runs([client.get_experiment_by_name("inf").experiment_id])
    (metric,) = client.get_metric_history(found.info.run_id, "delta_s/phase:expansion/level:0.5")
    assert math.isnan(metric.value)


def test_a_redone_run_replaces_its_tracker_run(swept_run, monkeypatch):
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    root = swept_run[0]  # its MLflow store exists already (creating one takes MLflow seconds)
    log_run(root, ["csv", "tensorboard", "mlflow"], _record(status="failed", accuracy=0.1))
    assert log_run(root, ["csv", "tensorboard", "mlflow"], _record(accuracy=0.7)) == []
    trackers = root / TRACKERS_FOLDER
    assert set(pd.read_csv(trackers / "csv/s/0123456789ab/seed_0.csv").status) == {"ok"}
    reader = EventAccumulator(str(trackers / "tensorboard/s/0123456789ab/seed_0"))
    reader.Reload()
    assert [e.value for e in reader.Scalars("accuracy/phase:dense")] == pytest.approx([0.7, 0.8])
    client = MlflowClient(tracking_uri=mlflow_uri(trackers / "mlflow"))
    [only] = client.search_runs([client.get_experiment_by_name("s").experiment_id])
    assert only.info.status == "FINISHED" and only.data.metrics["summary/test_accuracy"] == pytest.approx(0.7)


def test_a_failing_tracker_is_reported_and_never_loses_a_run(tmp_path, monkeypatch):
    def broken(folder: Path, run: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(loggers_module, "LOGGERS", registry({**LOGGERS, "broken": Logger(broken)}))
    outcome = run_sweep(expand(parse_recipe(TINY)), tmp_path, loggers=["broken"], progress=False)
    assert (outcome.ok, outcome.failed) == (2, 0)
    assert len(complete_runs(tmp_path)) == 2
    assert len(outcome.log_failures) == 2
    assert (
        outcome.log_failures[0].startswith("broken logger, run tiny/")
        and "OSError: disk full" in (outcome.log_failures[0])
    )


def test_the_cli_takes_several_log_options(tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(json.dumps({**TINY, "sweep": {"model.cell": ["gru"]}}))  # JSON is YAML
    result = CliRunner().invoke(
        main,
        ["run", str(recipe), "--results", str(tmp_path / "r"), "--quiet", "--log", "csv", "--log", "csv"],
    )
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "r" / TRACKERS_FOLDER / "csv" / "tiny").glob("*/seed_0.csv"))) == 1
    bad = CliRunner().invoke(main, ["run", str(recipe), "--results", str(tmp_path / "r"), "--log", "wandb"])
    assert bad.exit_code == 2
    assert "unknown logger 'wandb'; choose from csv, mlflow, tensorboard" in bad.output
