"""What a run hands the store: its key, its full parameters, final metrics from its own histories."""

from __future__ import annotations

import json

import pytest

from sparsernn.results import RunKey, RunRecord, read_config, run_dir, write_run
from sparsernn.studies import expand, parse_recipe
from sparsernn.studies.config import run_hash
from sparsernn.studies.protocols import structure
from sparsernn.studies.recorder import Recorder
from sparsernn.studies.registry import default_params, parse_params
from sparsernn.studies.runner import execute

pytestmark = pytest.mark.usefixtures("one_torch_thread")

STRUCTURE = {
    "study": "s",
    "protocol": "darji_structure",
    "data": {"name": "darji_reber", "options": {"n_valid": 40}, "batch_size": 16, "eval_batch_size": 32},
    "model": {"cell": "gru"},
    "train": {"epochs": 2, "lr": 0.01},
}


def test_a_config_key_is_study_hash_and_seed(tmp_path):
    (config,) = expand(parse_recipe({"study": "k", "seeds": [3], "params": {"sparsity": 0.5}}))
    assert config.key == RunKey("k", run_hash(config), 3)
    assert (
        run_dir(tmp_path, config)
        == run_dir(tmp_path, config.key)
        == tmp_path / "k" / run_hash(config) / "seed_3"
    )


def test_the_store_writes_a_plain_record(tmp_path):
    record = RunRecord(RunKey("s", "0123456789ab", 1), {"study": "s", "seed": 1}, {"status": "ok", "x": 1.0})
    folder = write_run(tmp_path, record)
    assert folder == tmp_path / "s" / "0123456789ab" / "seed_1"
    assert read_config(folder) == {"study": "s", "seed": 1, "hash": "0123456789ab"}


def test_config_json_records_every_parameter_but_the_hash_leaves_defaults_out(tmp_path):
    recipe = {
        "study": "p",
        "data": {"name": "mnist1d", "options": {"n_train": 60, "n_test": 20}},
        "model": {"hidden_size": 4},
        "train": {"epochs": 0},
        "params": {"sparsity": 0.5, "save_model": False},
    }
    (config,) = expand(parse_recipe(recipe))
    assert config.params == {"sparsity": 0.5, "save_model": False}  # the identity: non-defaults only
    folder = write_run(tmp_path, execute(config))
    stored = read_config(folder)
    assert stored["params"] == {**default_params("train"), "sparsity": 0.5, "save_model": False}
    assert stored["params"]["criterion"] == "magnitude" and stored["params"]["scope"] == "global"
    assert stored["hash"] == run_hash(config) == folder.parent.name
    assert json.loads((folder / "summary.json").read_text())["status"] == "ok"


class _KeepsNoEpochs(Recorder):
    """A recorder that drops the per-epoch rows (as one that logs elsewhere would)."""

    def log(self, values, **index):
        if index.get("phase") != "train":
            super().log(values, **index)


@pytest.mark.parametrize(
    ("engine", "epochs"),
    [("packed", 2), ("modules", 2), ("packed", 0)],
    ids=["packed", "modules", "untrained"],
)
def test_structure_final_metrics_come_from_the_training_histories(engine, epochs):
    recipe = {
        **STRUCTURE,
        "train": {**STRUCTURE["train"], "epochs": epochs},
        "params": {"n_min": 6, "n_max": 8, "count": 2, "engine": engine, "save_models": False},
    }
    (config,) = expand(parse_recipe(recipe))
    recorder = _KeepsNoEpochs()
    summary = structure.run(config, parse_params(config), recorder)
    assert summary["trained"] == 2 and summary["accuracy_mean"] is not None
    finals = [row for row in recorder.rows if row["phase"] == "final"]
    assert [row["graph"] for row in finals] == [0, 1]
    assert not any(row["phase"] == "train" for row in recorder.rows)
