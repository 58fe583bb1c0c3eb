"""Every shipped recipe parses, validates and expands; each study has a -small variant."""

from __future__ import annotations

from pathlib import Path

import pytest

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
