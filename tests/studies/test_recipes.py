"""Every shipped recipe parses, validates and expands; each study has a -small variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparsernn.errors import ConfigError
from sparsernn.studies import load_recipe
from sparsernn.studies.demo import DEMO_RECIPE
from sparsernn.studies.recipe import expand, parse_recipe

RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_is_valid(path):
    recipe, configs = load_recipe(path)
    assert configs and all(c.study == recipe.study for c in configs)
    assert recipe.study == path.stem  # one study per file, named after it


def test_every_full_recipe_has_a_small_variant():
    names = {p.stem for p in RECIPES}
    full = {n for n in names if not n.endswith("-small") and n != "smoke"}
    for name in full:
        family = name.split("-")[0]
        assert any(n.startswith(family) and n.endswith("-small") for n in names), name


def test_demo_recipe_is_valid():
    assert len(expand(parse_recipe(DEMO_RECIPE))) == 2


def test_cases_sweep_zips_settings_that_go_together():
    recipe = {
        "study": "cases",
        "protocol": "train",
        "seeds": [0],
        "data": {"name": "mnist1d", "options": {"n_train": 100}},
        "sweep": {
            "cases": [
                {"data": {"name": "mnist1d", "options": {"n_train": 100}}, "train.epochs": 3},
                {"data": {"name": "fashion_mnist", "options": {"layout": "rows"}}, "train.epochs": 2},
            ],
            "model.cell": ["rnn_tanh", "gru"],
        },
    }
    configs = expand(parse_recipe(recipe))
    assert sorted((c.data.name, c.train.epochs, c.model.cell) for c in configs) == [
        ("fashion_mnist", 2, "gru"),
        ("fashion_mnist", 2, "rnn_tanh"),
        ("mnist1d", 3, "gru"),
        ("mnist1d", 3, "rnn_tanh"),
    ]
    bad = {**recipe, "sweep": {"cases": [{"train.epoch": 3}]}}
    with pytest.raises(ConfigError, match="epoch"):
        expand(parse_recipe(bad))
    with pytest.raises(ConfigError, match="'cases' takes mappings"):
        expand(parse_recipe({**recipe, "sweep": {"cases": [3]}}))
    named = {
        "cases.data": recipe["sweep"]["cases"],
        "cases.cell": [
            {"model.cell": "rnn_tanh", "train.lr": 0.001},
            {"model.cell": "gru", "train.lr": 0.002},
        ],
    }
    configs = expand(parse_recipe({**recipe, "sweep": named}))
    assert sorted((c.data.name, c.model.cell, c.train.lr, c.train.epochs) for c in configs) == [
        ("fashion_mnist", "gru", 0.002, 2),
        ("fashion_mnist", "rnn_tanh", 0.001, 2),
        ("mnist1d", "gru", 0.002, 3),
        ("mnist1d", "rnn_tanh", 0.001, 3),
    ]
