"""The ``controlled_pruning`` protocol: validation split required, recorded format, control criteria,
sparse-from-scratch training, results independent of the number of workers."""

from __future__ import annotations

import copy

import pytest
import torch
from pydantic import ValidationError

from sparsernn import prune
from sparsernn._seed import torch_seeded
from sparsernn.errors import ConfigError
from sparsernn.results.masks import unpack_masks
from sparsernn.studies import expand, load_recipe, parse_recipe
from sparsernn.studies.protocols import controlled_jobs
from sparsernn.studies.protocols.common import make_model
from sparsernn.studies.protocols.controlled import ControlledParams
from sparsernn.studies.protocols.controlled_jobs import (
    PathJob,
    ScratchJob,
    job_seed,
    make_shared,
    path_levels,
    run_path,
    scratch_model,
    split_path,
    train_scratch,
)
from sparsernn.studies.registry import parse_params
from sparsernn.studies.runner import execute

TINY = {
    "study": "t",
    "protocol": "controlled_pruning",
    "data": {"name": "mnist1d", "options": {"n_train": 150, "n_val": 30, "n_test": 60}, "batch_size": 32},
    "model": {"cell": "gru", "hidden_size": 8},
    "train": {"epochs": 1, "lr": 0.01},
    "params": {"densities": [1.0, 0.6, 0.3], "criteria": ["magnitude", "random"]},
}


def _config(**changes):
    recipe = copy.deepcopy(TINY)
    for key, value in changes.items():
        recipe[key] = value
    (config,) = expand(parse_recipe(recipe))
    return config, parse_params(config)


def test_a_dataset_without_validation_split_fails_before_any_run():
    recipe = {**TINY, "data": {"name": "mnist1d", "options": {"n_train": 150, "n_test": 60}}}
    with pytest.raises(ConfigError, match="validation split") as error:
        expand(parse_recipe(recipe))
    assert "\n" not in str(error.value) and "n_val or val_fraction" in str(error.value)


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"criteria": []}, "params.criteria", "at least one criterion"),
        ({"criteria": ["random", "random"]}, "params.criteria", "repeated: random"),
        ({"criteria": ["magnitud"]}, "params.criteria", "magnitude"),
        ({"densities": [0.9, 0.5]}, "params.densities", "start at 1.0"),
        ({"densities": [1.0, 0.5, 0.7]}, "params.densities", "strictly decreasing"),
        ({"scratch": {"densities": [0.1, 1.0]}}, "params.scratch.densities", "(0, 1)"),
        ({"scratch": {"densities": [0.0]}}, "params.scratch.densities", "(0, 1)"),
        ({"scratch": {"inits": ["expander", "expander"]}}, "params.scratch.inits", "repeated"),
    ],
)
def test_bad_params_are_one_line_config_errors(params, field, words):
    with pytest.raises(ConfigError) as error:
        _config(params={**TINY["params"], **params})
    message = str(error.value)
    assert "\n" not in message and field in message and words in message


def test_params_defaults_follow_the_contract():
    params = ControlledParams()
    assert params.criteria == ["magnitude", "random"] and params.scope == "layer" and params.weights == "both"
    assert params.densities[0] == 1.0 and params.densities[-1] == 0.01 and len(params.densities) == 15
    assert params.scratch is None and params.robustness is None and not params.save_model


def _layer_densities(rows, path):
    """(level, matrix) -> density of each weight matrix, read from the logged ih / hh expansion rows."""
    return {
        (r["level"], r["layer"], r["view"]): r["values"]["density"]
        for r in rows
        if r["phase"] == "expansion" and r["path"] == path and r["view"] in ("ih", "hh")
        if r["gate"] == "stack" and not r["weighted"]
    }


def test_random_path_has_the_magnitude_paths_per_layer_densities(one_torch_thread):
    config, params = _config(params={"densities": [1.0, 0.7, 0.4, 0.15, 0.05], "finetune_epochs": 1})
    shared = make_shared(config, params)
    with torch_seeded(0):
        base = make_model(config, shared.loaders.splits).state_dict()
    rows = {
        c: run_path(PathJob(config, params, base, c, job_seed(0, c)), shared)["rows"]
        for c in ("magnitude", "random")
    }
    magnitude, random = (_layer_densities(rows[c], c) for c in ("magnitude", "random"))
    assert len(magnitude) == 4 * 2 and magnitude == random  # exactly, matrix by matrix, level by level
    for q in (0.7, 0.4, 0.15, 0.05):
        # within one weight of q: W_ih has 24 weights
        assert all(abs(d - q) <= 1 / 24 for (level, *_), d in magnitude.items() if level == q)
    levels = [r for r in rows["random"] if r["phase"] == "level"]
    assert [r["level"] for r in levels] == [0.7, 0.4, 0.15, 0.05]
    assert all(r["values"]["density"] == pytest.approx(r["level"], abs=0.01) for r in levels)


def test_scratch_model_keeps_its_masks_at_the_requested_density(one_torch_thread):
    config, params = _config(params={**TINY["params"], "scratch": {"densities": [0.25], "epochs": 2}})
    shared = make_shared(config, params)
    for init in ("expander", "erdos_renyi"):
        job = ScratchJob(config, params, init, 0.25, job_seed(0, init))
        before = {k: m.clone() for k, m in scratch_model(job, shared).rnn.masks.items()}
        model, history = train_scratch(job, shared)
        assert len(history) == 2
        for name, mask in model.rnn.masks.items():
            assert torch.equal(mask, before[name])  # fixed from the first step to the last
            assert mask.float().mean().item() == pytest.approx(0.25, abs=0.01)
            assert not getattr(model.rnn, name)[~mask].any()  # dropped weights stayed zero


def test_run_rows_and_summary_are_independent_of_the_workers(one_torch_thread):
    config, params = _config(
        params={
            "densities": [1.0, 0.5, 0.2],
            "criteria": ["magnitude", "random", "degree_floor", "ramanujan_guard"],
            "robustness": {"kind": "gaussian", "levels": [0.5]},
            "scratch": {"inits": ["expander", "erdos_renyi"], "densities": [0.2], "epochs": 1},
        }
    )
    one = execute(config)
    two = execute(config, workers=2)
    assert one.status == two.status == "ok", one.reason + two.reason
    assert one.rows == two.rows and one.summary == two.summary
    assert set(one.files) == {"masks.npz"} and one.files == two.files  # the same masks, byte for byte
    rows = one.rows
    criteria = params.criteria
    levels = {(r["path"], r["level"]): r["values"] for r in rows if r["phase"] == "level"}
    assert set(levels) == {(c, q) for c in criteria for q in (1.0, 0.5, 0.2)}
    assert all(levels[(c, 1.0)] == levels[("magnitude", 1.0)] for c in criteria)  # one dense level
    assert all(levels[(c, 0.2)]["density"] == pytest.approx(0.2, abs=0.01) for c in criteria)
    noisy = {(r["path"], r["level"], r["noise"]) for r in rows if r["phase"] == "noisy" and "init" not in r}
    assert len(noisy) == 4 * 3
    noisy_scratch = {(r["init"], r["level"]) for r in rows if r["phase"] == "noisy" and "init" in r}
    assert noisy_scratch == {("expander", 0.2), ("erdos_renyi", 0.2)}
    masks = unpack_masks(one.files["masks.npz"])
    assert set(masks) == {*levels, ("scratch:expander", 0.2), ("scratch:erdos_renyi", 0.2)}
    scratch = {(r["init"], r["level"]): r["values"] for r in rows if r["phase"] == "scratch"}
    assert set(scratch) == {("expander", 0.2), ("erdos_renyi", 0.2)}
    assert all(v["density"] == pytest.approx(0.2, abs=0.01) for v in scratch.values())
    paths = {r["path"] for r in rows if r["phase"] == "expansion"}
    assert paths == {*criteria, "scratch:expander", "scratch:erdos_renyi"}
    dense = [r for r in rows if r["phase"] == "dense"]
    assert [r["epoch"] for r in dense] == [1] and set(dense[0]["values"]) == {
        "loss",
        "val_accuracy",
        "test_accuracy",
    }
    assert one.summary["dense_val_accuracy"] == dense[-1]["values"]["val_accuracy"]
    for c in criteria:
        assert one.summary[f"{c}_final_val_accuracy"] == levels[(c, 0.2)]["val_accuracy"]


def test_a_sweep_over_whole_data_sections():
    recipe = {
        **TINY,
        "data": {"batch_size": 16},
        "sweep": {
            "data": [
                {"name": "mnist1d", "options": {"n_train": 100, "n_val": 20}},
                {"name": "fashion_mnist", "options": {"layout": "rows", "n_train": 100, "val_fraction": 0.1}},
            ]
        },
    }
    configs = expand(parse_recipe(recipe))
    assert [(c.data.name, c.data.batch_size) for c in configs] == [("mnist1d", 16), ("fashion_mnist", 16)]
    bad = {**recipe, "sweep": {"data": [{"name": "mnist1d", "options": {"n_train": 100}}]}}
    with pytest.raises(ConfigError, match="validation split"):
        expand(parse_recipe(bad))


def test_path_specs_name_a_scope():
    params = ControlledParams(criteria=["magnitude", "magnitude@global", "ramanujan_guard"])
    assert [split_path(c, params.scope) for c in params.criteria] == [
        ("magnitude", "layer"),
        ("magnitude", "global"),
        ("ramanujan_guard", "global"),
    ]
    for bad, message in [
        ("magnitude@row", "global or layer"),
        ("ramanujan_guard@layer", "no layer scope"),
        ("magnitud@global", "magnitud"),
    ]:
        with pytest.raises(ValidationError, match=message):
            ControlledParams(criteria=[bad])


def _base(config, shared):
    with torch_seeded(0):
        return make_model(config, shared.loaders.splits).state_dict()


def test_every_path_is_monotone_keeps_pruned_weights_zero_and_hits_its_densities(one_torch_thread):
    criteria = ["magnitude", "random", "degree_floor", "ramanujan_guard", "magnitude@global"]
    levels = [1.0, 0.7, 0.4, 0.15, 0.05, 0.02]
    config, params = _config(params={"densities": levels, "criteria": criteria})
    shared = make_shared(config, params)
    base = _base(config, shared)
    counts = {}
    for c in criteria:
        job = PathJob(config, params, base, c, job_seed(0, c))
        before = {
            name: torch.ones_like(m)
            for name, m in make_model(config, shared.loaders.splits).rnn.masks.items()
        }
        counts[c] = []
        for q, model, *_ in path_levels(job, shared):
            masks = {name: m.clone() for name, m in model.rnn.masks.items()}
            for name, mask in masks.items():
                assert not (mask & ~before[name]).any(), (c, q, name)  # kept ⊆ previously kept
                assert not getattr(model.rnn, name)[~mask].any(), (c, q, name)  # zero after fine-tuning
                if split_path(c, params.scope)[1] == "layer":
                    assert abs(int(mask.sum()) - q * mask.numel()) <= 1, (c, q, name)
            kept, total = sum(int(m.sum()) for m in masks.values()), sum(m.numel() for m in masks.values())
            assert abs(kept - q * total) <= len(masks), (c, q)  # within one weight per matrix
            counts[c].append({name: int(m.sum()) for name, m in masks.items()})
            before = masks
        assert len(counts[c]) == len(levels) - 1
    assert counts["random"] == counts["magnitude"]  # every level, matrix by matrix


def _level_values(rows, path):
    return [(r["level"], r["values"]) for r in rows if r["phase"] == "level" and r["path"] == path]


def test_paths_fine_tune_on_one_shared_data_order(one_torch_thread):
    # Two names of one criterion must give the same path: only the criterion may differ between paths.
    config, params = _config(
        params={"densities": [1.0, 0.6, 0.3], "criteria": ["magnitude", "magnitude@layer"]}
    )
    shared = make_shared(config, params)
    base = _base(config, shared)
    rows = {
        c: run_path(PathJob(config, params, base, c, job_seed(0, f"path:{c}")), shared)["rows"]
        for c in params.criteria
    }
    assert _level_values(rows["magnitude"], "magnitude") == _level_values(
        rows["magnitude@layer"], "magnitude@layer"
    )


def test_scratch_models_train_on_one_shared_data_order(one_torch_thread, monkeypatch):
    # With the same masks, two wirings must train identically: only their masks may differ.
    def same(model, density, *, weights, seed):
        return prune.expander_masks(model, density, weights=weights, seed=0)

    monkeypatch.setattr(controlled_jobs, "SCRATCH_INITS", {"expander": same, "erdos_renyi": same})
    config, params = _config(params={**TINY["params"], "scratch": {"densities": [0.25], "epochs": 2}})
    shared = make_shared(config, params)
    histories = [
        train_scratch(ScratchJob(config, params, init, 0.25, job_seed(0, f"scratch:{init}")), shared)[1]
        for init in ("expander", "erdos_renyi")
    ]
    assert histories[0] == histories[1]


def test_the_full_recipe_is_the_issues_study():
    recipe, configs = load_recipe("kalra-controlled")
    assert recipe.study == "kalra-controlled" and len(configs) == 45
    params = [parse_params(c) for c in configs]
    expected = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.07, 0.05, 0.03, 0.02, 0.01]
    assert all(p.densities == expected and p.scope == "layer" for p in params)
    assert all({"magnitude", "random", "degree_floor", "ramanujan_guard"} <= set(p.criteria) for p in params)
    assert all(
        p.scratch.inits == ["expander", "erdos_renyi"] and p.scratch.densities == [0.1, 0.05, 0.02]
        for p in params
    )
    assert {c.model.hidden_size for c in configs} == {128}
    cells = {(c.data.name, c.model.cell) for c in configs}
    assert {cell for _, cell in cells} == {"rnn_tanh", "lstm", "gru"} and len(cells) == 9
    for data, cell in cells:
        assert len({c.seed for c in configs if (c.data.name, c.model.cell) == (data, cell)}) >= 5
    for config, p in zip(configs, params, strict=True):
        assert any(config.data.options.get(k) for k in ("n_val", "val_fraction"))  # decisions on validation
        speech = config.data.name == "synthetic_speech"
        assert p.robustness.kind == ("snr" if speech else "gaussian")  # DESIGN 5: SNRs for speech
