"""Recipes: a YAML study description expanded into validated run configs.

A recipe names a study and a protocol, gives the base config sections, the seeds, and optionally
values to sweep, addressed by dotted paths::

    study: demo
    protocol: train
    seeds: [0, 1]
    data: {name: mnist1d, options: {n_train: 2000}}
    model: {cell: lstm, hidden_size: 32}
    train: {epochs: 5}
    sweep:
      model.cell: [rnn_tanh, lstm]
      train.lr: [0.001, 0.01]

expands to the cartesian product of the sweep values times the seeds (here 2 × 2 × 2 = 8 runs).
Every expanded config is validated before anything runs, so a typo fails at once with the field name.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from sparsernn.errors import ConfigError
from sparsernn.studies.config import RunConfig, Section, describe_validation_error, make_config
from sparsernn.studies.protocols import normalize_params


class Recipe(Section):
    """The top level of a recipe file (sections stay plain mappings until expanded)."""

    study: str
    protocol: str = "train"
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    data: dict[str, Any] = Field(default_factory=dict)
    model: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    sweep: dict[str, list[Any]] = Field(default_factory=dict)
    description: str = ""


def read_recipe(path: str | Path) -> Recipe:
    """Read and check the top level of a recipe file (``yaml.safe_load``, never arbitrary objects)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe {path}: no such file")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        where = f" at line {line + 1}" if line is not None else ""
        raise ConfigError(f"recipe {path}: not valid YAML{where}") from None
    except (OSError, ValueError, RecursionError) as error:
        # Undecodable bytes, impossible dates or bad !!int/!!float tags (PyYAML raises ValueError),
        # nesting deeper than the parser's recursion, an unreadable file.
        raise ConfigError(f"recipe {path}: not valid YAML ({type(error).__name__})") from None
    return parse_recipe(raw, source=f"recipe {path}")


def parse_recipe(raw: object, *, source: str = "recipe") -> Recipe:
    """Check a recipe given as a mapping (what ``yaml.safe_load`` returned)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, source)) from None
    for key, values in recipe.sweep.items():
        if not values:
            raise ConfigError(f"{source}: sweep.{key}: needs at least one value")
    return recipe


def _set_path(tree: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    head, *rest = dotted.split(".")
    if head not in ("data", "model", "train", "params") or not rest:
        raise ConfigError(
            f"{source}: sweep key {dotted!r} must start with data., model., train. or params. and name a field"
        )
    node = tree[head]
    for part in rest[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{source}: sweep key {dotted!r} goes through a non-mapping value")
    node[rest[-1]] = value


def expand(recipe: Recipe, *, source: str = "recipe") -> list[RunConfig]:
    """All runs of a recipe: sweep product × seeds, each validated (params by its protocol)."""
    keys = list(recipe.sweep)
    configs = []
    for values in itertools.product(*(recipe.sweep[k] for k in keys)):
        tree = {
            "data": copy.deepcopy(recipe.data),
            "model": copy.deepcopy(recipe.model),
            "train": copy.deepcopy(recipe.train),
            "params": copy.deepcopy(recipe.params),
        }
        for key, value in zip(keys, values):
            _set_path(tree, key, value, source)
        for seed in recipe.seeds:
            raw = {"study": recipe.study, "protocol": recipe.protocol, "seed": seed, **tree}
            configs.append(normalize_params(make_config(raw, source=source), source=source))
    return configs


def load_recipe(path: str | Path) -> tuple[Recipe, list[RunConfig]]:
    """Read, check and expand a recipe file."""
    recipe = read_recipe(path)
    return recipe, expand(recipe, source=f"recipe {path}")
