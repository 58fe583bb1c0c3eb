"""What a ``controlled_pruning`` run records beyond its accuracies: the masks of every level (they
reproduce the logged densities and expansion), the noisy accuracy of the scratch models (never taken
for a path's), and the guard's decisions (logged without changing its masks)."""

from __future__ import annotations

import itertools

import pytest
import torch

from sparsernn import prune
from sparsernn.nn import SequenceClassifier
from sparsernn.results import load, load_masks, load_metrics, write_run
from sparsernn.studies import expand, parse_recipe
from sparsernn.studies.pool import one_thread
from sparsernn.studies.protocols import controlled_jobs
from sparsernn.studies.protocols.common import make_model
from sparsernn.studies.protocols.controlled import ControlledParams
from sparsernn.studies.protocols.controlled_jobs import (
    PathJob,
    job_seed,
    make_shared,
    path_levels,
    prune_level,
)
from sparsernn.studies.protocols.controlled_records import log_expansion
from sparsernn.studies.protocols.pruning import prune_masks
from sparsernn.studies.recorder import Recorder
from sparsernn.studies.registry import parse_params
from sparsernn.studies.reports.controlled import _noisy_section
from sparsernn.studies.reports.controlled_paths import all_paths, criteria
from sparsernn.studies.runner import execute

CRITERIA = ["magnitude", "random", "degree_floor", "ramanujan_guard", "magnitude@global"]
LEVELS = [1.0, 0.6, 0.3, 0.1]
INITS = ["expander", "erdos_renyi"]
MATRICES = {"rnn.weight_ih_l0", "rnn.weight_hh_l0"}
RECIPE = {
    "study": "t",
    "protocol": "controlled_pruning",
    "data": {"name": "mnist1d", "options": {"n_train": 150, "n_val": 30, "n_test": 60}, "batch_size": 32},
    "model": {"cell": "gru", "hidden_size": 8},
    "train": {"epochs": 1, "lr": 0.01},
    "params": {
        "densities": LEVELS,
        "criteria": CRITERIA,
        "robustness": {"kind": "gaussian", "levels": [0.5]},
        "scratch": {"inits": INITS, "densities": [0.2], "epochs": 1},
    },
}


def _config(recipe: dict = RECIPE):
    (config,) = expand(parse_recipe(recipe))
    return config, parse_params(config)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """One small run of every criterion and both scratch wirings, written to a store."""
    config, params = _config()
    with one_thread():
        result = execute(config)
    assert result.status == "ok", result.reason
    root = tmp_path_factory.mktemp("controlled")
    folder = write_run(root, result)
    return {
        "config": config,
        "params": params,
        "rows": result.rows,
        "root": root,
        "masks": load_masks(folder),
    }


def _kept(masks: dict) -> int:
    return sum(int(m.sum()) for m in masks.values())


def _density(masks: dict) -> float:
    return _kept(masks) / sum(m.numel() for m in masks.values())


def test_every_level_and_scratch_model_keeps_masks_of_its_recorded_density(stored):
    rows, masks = stored["rows"], stored["masks"]
    levels = {(r["path"], r["level"]): r["values"]["density"] for r in rows if r["phase"] == "level"}
    scratch = {
        (f"scratch:{r['init']}", r["level"]): r["values"]["density"] for r in rows if r["phase"] == "scratch"
    }
    assert len(levels) == len(CRITERIA) * len(LEVELS) and len(scratch) == len(INITS)
    assert list(masks) == [
        *((c, q) for c in CRITERIA for q in LEVELS),
        *((f"scratch:{init}", 0.2) for init in INITS),
    ]
    for key, density in (levels | scratch).items():
        assert set(masks[key]) == MATRICES
        assert _density(masks[key]) == density, key  # exactly: the same counts
    model = make_model(stored["config"], make_shared(stored["config"], stored["params"]).loaders.splits)
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert all(tuple(m.shape) == shapes[name] for named in masks.values() for name, m in named.items())


def test_expansion_of_the_loaded_masks_is_the_recorded_one(stored):
    config, params, rows = stored["config"], stored["params"], stored["rows"]
    splits = make_shared(config, params).loaders.splits
    for (path, level), masks in stored["masks"].items():
        model = make_model(config, splits)  # other weights: the unweighted rows depend on the masks only
        prune.apply(model, masks)
        again = Recorder()
        log_expansion(model, params, again, path=path, level=level)
        recorded = [
            r
            for r in rows
            if r["phase"] == "expansion" and r["path"] == path and r["level"] == level and not r["weighted"]
        ]
        assert recorded and [r for r in again.rows if not r["weighted"]] == recorded, (path, level)


def test_masks_only_shrink_along_each_path(stored):
    masks = stored["masks"]
    for criterion in CRITERIA:
        for dense, sparse in itertools.pairwise(LEVELS):
            before, after = masks[(criterion, dense)], masks[(criterion, sparse)]
            assert all(not (after[n] & ~before[n]).any() for n in MATRICES), (criterion, sparse)
            assert _kept(after) < _kept(before)
    assert all(bool(m.all()) for c in CRITERIA for m in masks[(c, 1.0)].values())  # the dense base


def test_scratch_models_log_noisy_accuracy_that_the_report_never_takes_for_a_path(stored, tmp_path):
    noisy = [r for r in stored["rows"] if r["phase"] == "noisy"]
    scratch = {(r["path"], r["init"], r["level"], r["noise"]) for r in noisy if "init" in r}
    assert scratch == {(f"scratch:{init}", init, 0.2, 0.5) for init in INITS}
    paths = {(r["path"], r["level"], r["noise"]) for r in noisy if "init" not in r}
    assert paths == {(c, q, 0.5) for c in CRITERIA for q in LEVELS}
    assert all(0.0 <= r["values"]["accuracy"] <= 1.0 for r in noisy)
    runs, metrics = load(stored["root"]), load_metrics(stored["root"], with_config=True)
    of_scratch = (metrics["phase"] == "noisy") & metrics["init"].notna()
    assert of_scratch.sum() == 2
    assert criteria(metrics) == sorted(CRITERIA, key=lambda c: (c != "magnitude", c))
    found, skipped = all_paths(metrics, runs)
    table = _noisy_section(metrics, found, tmp_path)
    assert table and table == _noisy_section(metrics[~of_scratch], found, tmp_path)
    header = next(line for line in table if line.startswith("| noise |"))
    assert all(f" {c} |" in header for c in CRITERIA) and "scratch" not in header
    assert sorted(found) == sorted(CRITERIA) and set(skipped.values()) == {0}
    assert all(path.levels == tuple(LEVELS) for by_key in found.values() for path in by_key.values())


def test_the_guard_logs_its_decisions_at_each_level(stored):
    rows, masks = stored["rows"], stored["masks"]
    steps = {r["level"]: r["values"] for r in rows if r["phase"] == "guard"}
    per_matrix = {(r["level"], r["matrix"]): r["values"] for r in rows if r["phase"] == "guard_matrix"}
    assert {r["path"] for r in rows if r["phase"] in ("guard", "guard_matrix")} == {"ramanujan_guard"}
    assert sorted(steps, reverse=True) == LEVELS[1:]
    assert set(per_matrix) == {(q, name) for q in LEVELS[1:] for name in MATRICES}
    for dense, q in itertools.pairwise(LEVELS):
        step = steps[q]
        assert step["fallback"] in (0.0, 1.0) and step["evaluations"] >= len(MATRICES)
        assert step["capped"] == sum(per_matrix[(q, name)]["capped"] for name in MATRICES)
        for name in MATRICES:  # newly pruned = kept before the step - kept after it
            before, after = masks[("ramanujan_guard", dense)][name], masks[("ramanujan_guard", q)][name]
            assert per_matrix[(q, name)]["pruned"] == int(before.sum()) - int(after.sum()), (q, name)


def _lopsided(hidden: int) -> SequenceClassifier:
    """W_hh holds the smallest weights, so magnitude pruning empties it first and the guard caps it."""
    model = SequenceClassifier("rnn_tanh", 2, hidden, 1, input_size=hidden)
    with torch.no_grad():
        model.rnn.weight_ih_l0.uniform_(1.0, 2.0, generator=torch.Generator().manual_seed(0))
        model.rnn.weight_hh_l0.uniform_(0.0, 0.1, generator=torch.Generator().manual_seed(1))
    return model


@pytest.mark.parametrize(
    ("q", "capped", "fallback"), [(0.5, {"rnn.weight_hh_l0"}, False), (0.03, MATRICES, True)]
)
def test_a_guard_step_with_its_decisions_prunes_as_the_criterion_does(q, capped, fallback):
    model, params = _lopsided(8), ControlledParams()
    masks, step = prune_level(model, q, criterion="ramanujan_guard", scope="global", params=params, seed=0)
    assert (step.capped, step.fallback) == (capped, fallback)  # a capping step and a fallback
    plain = prune_masks(model, 1.0 - q, criterion="ramanujan_guard", weights="both", scope="global", seed=0)
    assert masks.keys() == plain.keys() and all(torch.equal(masks[k], plain[k]) for k in plain)
    assert prune_level(model, q, criterion="magnitude", scope="global", params=params, seed=0)[1] is None


def test_a_guard_path_prunes_the_same_masks_with_or_without_its_decisions(one_torch_thread, monkeypatch):
    config, params = _config({**RECIPE, "params": {"densities": LEVELS, "criteria": ["ramanujan_guard"]}})
    shared = make_shared(config, params)
    base = make_model(config, shared.loaders.splits).state_dict()
    job = PathJob(config, params, base, "ramanujan_guard", job_seed(0, "path:ramanujan_guard"))

    def masks_of_each_level() -> list[dict[str, torch.Tensor]]:
        return [
            {k: m.clone() for k, m in level.model.rnn.masks.items()} for level in path_levels(job, shared)
        ]

    logged = masks_of_each_level()

    def criterion_only(model, q, *, criterion, scope, params, seed):  # the path before it logged the guard
        return prune_masks(
            model, 1.0 - q, criterion=criterion, weights=params.weights, scope=scope, seed=seed
        ), None

    monkeypatch.setattr(controlled_jobs, "prune_level", criterion_only)
    plain = masks_of_each_level()
    assert len(logged) == len(LEVELS) - 1
    assert all(
        a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        for a, b in zip(logged, plain, strict=True)
    )
