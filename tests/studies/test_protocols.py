"""Protocols end to end on tiny data: summaries, stored models, determinism, resume, failures."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import safetensors.torch
import torch

from sparsernn import prune
from sparsernn._seed import torch_seeded
from sparsernn.nn import load_classifier
from sparsernn.results import load, load_metrics, run_dir
from sparsernn.studies import expand, parse_recipe, run_sweep
from sparsernn.studies.protocols.common import make_loaders, make_model, train
from sparsernn.studies.recorder import Recorder
from sparsernn.studies.registry import parse_params
from sparsernn.studies.runner import execute
from sparsernn.train import evaluate

TINY = {
    "data": {"name": "mnist1d", "options": {"n_train": 120, "n_test": 60}, "batch_size": 32},
    "model": {"hidden_size": 8},
    "train": {"epochs": 2, "lr": 0.01},
}


def _configs(**recipe):
    return expand(parse_recipe({"study": "t", **TINY, **recipe}))


def test_train_protocol_summary_and_model(tmp_path):
    (config,) = _configs(
        model={"cell": "gru", "hidden_size": 8}, params={"sparsity": 0.5, "finetune_epochs": 1}
    )
    result = execute(config)
    assert result.status == "ok", result.reason
    assert result.summary["density"] == pytest.approx(0.5, abs=0.02)
    run_sweep([config], tmp_path, progress=False)
    model = load_classifier(run_dir(tmp_path, config) / "model.safetensors")
    assert model.rnn.density() == pytest.approx(result.summary["density"])
    phases = {row["phase"] for row in result.rows}
    assert phases == {"dense", "pruned", "finetune"}


def test_same_seed_same_results_and_caller_rng_untouched():
    (config,) = _configs()
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    first = execute(config)
    after = torch.rand(3)
    second = execute(config)
    assert torch.equal(before, after)  # library code restored the global RNG
    assert first.rows == second.rows and first.summary == second.summary
    # safetensors orders metadata keys arbitrarily, so compare the tensors, not the bytes
    a, b = (safetensors.torch.load(r.files["model.safetensors"]) for r in (first, second))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_iterative_tables_have_one_row_per_level_layer_view(tmp_path):
    densities = [1.0, 0.5, 0.2]
    configs = _configs(
        protocol="iterative_pruning",
        model={"cell": "lstm", "hidden_size": 8, "num_layers": 2},
        params={
            "densities": densities,
            "finetune_epochs": 1,
            "views": ["ih", "hh", "step"],
            "gates": ["stack"],
        },
    )
    run_sweep(configs, tmp_path, progress=False)
    metrics = load_metrics(tmp_path)
    expansion = metrics[(metrics["phase"] == "expansion") & (metrics["name"] == "delta_s")]
    keys = expansion[["level", "layer", "view", "weighted"]].drop_duplicates()
    assert len(keys) == len(expansion) == len(densities) * 2 * 3 * 2
    summary = load(tmp_path).iloc[0]
    assert summary["final_density"] == pytest.approx(0.2, abs=0.01)


def test_iterative_dense_accuracy_is_the_dense_model_s_even_when_the_first_level_prunes():
    (config,) = _configs(
        protocol="iterative_pruning",
        model={"cell": "gru", "hidden_size": 6},
        params={"densities": [0.05], "finetune_epochs": 0, "views": ["hh"], "gates": ["stack"]},
    )
    result = execute(config)
    assert result.status == "ok", result.reason
    dense = [r for r in result.rows if r["phase"] == "dense"][-1]["values"][
        "accuracy"
    ]  # its last epoch, on test
    assert result.summary["dense_accuracy"] == dense
    assert (
        result.summary["accuracies"][0]
        == next(r for r in result.rows if r["phase"] == "finetuned")["values"]["accuracy"]
    )


@pytest.mark.parametrize("protocol", ["train", "iterative_pruning", "darji_pruning"])
def test_a_global_only_criterion_with_layer_scope_is_refused_by_the_recipe(protocol):
    from sparsernn.errors import ConfigError

    params = {"criterion": "ramanujan_guard", "scope": "layer"}
    with pytest.raises(
        ConfigError,
        match=r"params\.criterion: ramanujan_guard splits one global budget; expected scope: global",
    ):
        _configs(protocol=protocol, params=params)
    _configs(protocol=protocol, params={**params, "scope": "global"})  # accepted


def test_darji_pruning_protocol_records_every_kind_and_level():
    (config,) = _configs(
        protocol="darji_pruning",
        data={"name": "darji_reber", "options": {"n_valid": 100}, "batch_size": 16},
        model={"cell": "rnn_tanh", "hidden_size": 6, "num_layers": 2, "embedding_dim": 4},
        train={"epochs": 1},
        params={"kinds": ["both", "hh"], "sparsities": [0.5, 1.0], "recovery_epochs": 2},
    )
    result = execute(config)
    assert result.status == "ok", result.reason
    rows = pd.DataFrame([r for r in result.rows if r["phase"] == "recovery"])
    assert len(rows) == 2 * 2 * 3  # kinds × levels × (pruned + 2 epochs)
    assert set(rows["epoch"]) == {0, 1, 2}
    full = [
        r for r in result.rows if r["phase"] == "recovery" and r["kind"] == "both" and r["sparsity"] == 1.0
    ]
    assert full[0]["values"]["density"] < 0.01  # p = 100 % keeps only the largest weight(s)
    assert {"safe_sparsity_both", "recovered_sparsity_hh"} <= set(result.summary)


def _darji_sequential(config):
    """The Darji pruning protocol as one plain loop: a single training shuffle stream runs through the
    base model and then through every (kind, p) job in turn (the order the worker split must honour)."""
    params = parse_params(config)
    recorder = Recorder()
    with torch_seeded(config.seed):
        loaders = make_loaders(config)
        base = make_model(config, loaders.splits)
        train(config, base, loaders, recorder, log_as={"phase": "base"})
        state = base.state_dict()
        for kind in params.kinds:
            for sparsity in params.sparsities:
                model = make_model(config, loaders.splits)
                model.load_state_dict(state)
                prune.apply(model, prune.magnitude(model, sparsity, weights=kind, scope=params.scope))
                index = {"phase": "recovery", "kind": kind, "sparsity": sparsity}
                first = evaluate(model, loaders.test)
                recorder.log({**first, "density": model.rnn.density()}, epoch=0, **index)
                train(config, model, loaders, recorder, epochs=params.recovery_epochs, log_as=index)
    return recorder.rows


def test_darji_pruning_jobs_in_workers_match_one_sequential_run(one_torch_thread):
    (config,) = _configs(
        protocol="darji_pruning",
        data={"name": "darji_reber", "options": {"n_valid": 60}, "batch_size": 16},
        model={"cell": "gru", "hidden_size": 5, "num_layers": 1, "embedding_dim": 3},
        train={"epochs": 1, "lr": 0.05},
        params={"kinds": ["ih", "hh"], "sparsities": [0.3, 0.6], "recovery_epochs": 2, "save_model": False},
    )
    reference = _darji_sequential(config)
    in_process = execute(config)
    in_workers = execute(config, workers=2)
    assert in_process.status == in_workers.status == "ok", in_process.reason + in_workers.reason
    assert in_process.rows == reference  # bit for bit: every job resumed the shuffle stream exactly
    assert in_workers.rows == reference
    assert in_workers.summary == in_process.summary


def test_sweep_resumes_after_a_crash(tmp_path):
    configs = _configs(sweep={"model.cell": ["gru", "rnn_relu"]})
    first = run_sweep(configs, tmp_path, progress=False)
    assert (first.total, first.ok, first.skipped) == (2, 2, 0)
    stamp = (run_dir(tmp_path, configs[0]) / "summary.json").stat().st_mtime_ns
    (run_dir(tmp_path, configs[1]) / "summary.json").unlink()  # as if killed before completion
    second = run_sweep(configs, tmp_path, progress=False)
    assert (second.total, second.ok, second.skipped) == (2, 1, 1)
    assert (run_dir(tmp_path, configs[0]) / "summary.json").stat().st_mtime_ns == stamp
    assert len(load(tmp_path)) == 2


def test_diverging_run_is_marked_failed_and_sweep_goes_on(tmp_path):
    configs = _configs(
        model={"cell": "rnn_relu", "hidden_size": 8},
        train={"epochs": 2, "lr": 1e30, "clip": None, "optimizer": "sgd"},
    ) + _configs(model={"cell": "gru", "hidden_size": 8})
    outcome = run_sweep(configs, tmp_path, progress=False)
    assert (outcome.ok, outcome.failed) == (1, 1)
    summary = json.loads((run_dir(tmp_path, configs[0]) / "summary.json").read_text())
    assert summary["status"] == "failed" and "TrainingDiverged: loss became" in summary["reason"]
    assert not (run_dir(tmp_path, configs[0]) / "model.safetensors").exists()
