"""``params.criterion``: every pruning protocol prunes by a criterion named in the recipe.

The default (``magnitude``) is left out of a run's identity, so runs from before the field keep their
hash; an unknown name fails when the recipe is expanded, before any run, listing the valid names.
"""

from __future__ import annotations

import pytest
import safetensors.torch

from sparsernn.errors import ConfigError
from sparsernn.studies import expand, parse_recipe
from sparsernn.studies.runner import execute

TINY = {
    "study": "c",
    "data": {"name": "mnist1d", "options": {"n_train": 100, "n_test": 40}, "batch_size": 32},
    "model": {"hidden_size": 4},
    "train": {"epochs": 1, "lr": 0.01},
}
PRUNING = ["train", "darji_pruning", "iterative_pruning"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(protocol: str, **params):
    (config,) = expand(parse_recipe({**TINY, "protocol": protocol, "params": params}))
    return config


@pytest.mark.parametrize("protocol", PRUNING)
def test_an_unknown_criterion_fails_at_expansion_on_one_line_listing_the_names(protocol):
    with pytest.raises(ConfigError) as info:
        _config(protocol, criterion="magnitud")
    message = str(info.value)
    assert "\n" not in message
    assert (
        "params.criterion: unknown pruning criterion 'magnitud'; "
        "choose from degree_floor, magnitude, ramanujan_guard, random" in message
    )


@pytest.mark.parametrize("protocol", PRUNING)
def test_the_default_criterion_leaves_the_run_identity_unchanged(protocol):
    plain, spelled, other = (
        _config(protocol, **p) for p in ({}, {"criterion": "magnitude"}, {"criterion": "random"})
    )
    assert plain.key == spelled.key != other.key
    assert "criterion" not in plain.params and other.params == {"criterion": "random"}


def _masks(result) -> dict:
    weights = safetensors.torch.load(result.files["model.safetensors"])
    return {name: t for name, t in weights.items() if "mask" in name}


def test_the_criterion_chooses_the_pruned_weights():
    results = {
        name: execute(_config("train", sparsity=0.5, **params))
        for name, params in {
            "default": {},
            "magnitude": {"criterion": "magnitude"},
            "random": {"criterion": "random"},
        }.items()
    }
    assert {r.status for r in results.values()} == {"ok"}
    masks = {name: _masks(r) for name, r in results.items()}
    assert masks["default"] and all(
        masks["default"][k].equal(masks["magnitude"][k]) for k in masks["default"]
    )
    assert not all(masks["random"][k].equal(masks["magnitude"][k]) for k in masks["magnitude"])
    assert results["random"].summary["density"] == pytest.approx(
        results["magnitude"].summary["density"], abs=0.02
    )
    assert results["random"].params["criterion"] == "random"  # recorded with the run


def test_darji_and_iterative_pruning_run_with_random_pruning():
    darji = execute(
        _config(
            "darji_pruning",
            criterion="random",
            kinds=["hh"],
            sparsities=[0.5],
            recovery_epochs=0,
            save_model=False,
        )
    )
    assert darji.status == "ok", darji.reason
    iterative = execute(
        _config(
            "iterative_pruning",
            criterion="random",
            densities=[1.0, 0.5],
            finetune_epochs=0,
            views=["hh"],
            gates=["stack"],
            save_model=False,
        )
    )
    assert iterative.status == "ok", iterative.reason
    assert iterative.summary["final_density"] == pytest.approx(0.5, abs=0.02)
