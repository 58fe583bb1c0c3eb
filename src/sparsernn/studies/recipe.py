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
Every expanded config is validated before anything runs (sections, protocol parameters, dataset name
and options, noise settings), so a typo fails at once with the field name.

Limits, checked before anything is expanded or run: a recipe is at most :data:`MAX_RECIPE_BYTES` of
safe YAML without anchors or aliases (``&a`` / ``*a``: a few hundred bytes of nested aliases expand
to billions of values); it expands to at most :data:`MAX_RUNS` runs (the product of the sweep list
lengths times the number of seeds); ``study`` is a plain name (``config.STUDY_NAME``); sizes have
documented maxima (``config.MAX_*``, ``sparsernn.data.registry.MAX_ITEMS``, ``structure.MAX_*``).
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationError

from sparsernn._registry import lookup
from sparsernn.data.registry import DATASETS, check_options
from sparsernn.errors import ConfigError
from sparsernn.studies.config import (
    MAX_SEED,
    RunConfig,
    Section,
    describe_validation_error,
    make_config,
)
from sparsernn.studies.protocols.robustness import check_robustness
from sparsernn.studies.registry import parse_params

MAX_RUNS = 100_000  # runs one recipe may expand to (sweep values × seeds); split bigger studies
MAX_RECIPE_BYTES = 1_000_000  # a recipe is a page of YAML; anything bigger is a mistake


class Recipe(Section):
    """The top level of a recipe file (sections stay plain mappings until expanded)."""

    study: str
    protocol: str = "train"
    seeds: list[Annotated[int, Field(ge=0, le=MAX_SEED)]] = Field(default_factory=lambda: [0], min_length=1)
    data: dict[str, Any] = Field(default_factory=dict)
    model: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    sweep: dict[str, list[Any]] = Field(default_factory=dict)
    description: str = ""


class _AliasFound(Exception):
    """Raised by :class:`_RecipeLoader` at the first anchor or alias (carries its position)."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _RecipeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` without anchors and aliases (``&a`` / ``*a``).

    An alias shares a node, so a few hundred bytes of nested aliases (an "alias bomb") expand into
    billions of values once the config is dumped and hashed. Recipes never need them: refused.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _AliasFound(event.start_mark.line + 1)
        return super().compose_node(parent, index)


def _read_bytes(path: Path) -> bytes:
    """The bytes of a recipe file, read once (so a pipe such as ``<(...)`` = ``/dev/fd/N`` works too)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_RECIPE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"recipe {path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"recipe {path}: is a folder, expected a YAML file") from None
    except OSError as error:
        raise ConfigError(f"recipe {path}: cannot read ({error.strerror or type(error).__name__})") from None
    return data


def parse_recipe_text(data: str | bytes, *, source: str = "recipe") -> Recipe:
    """Parse and check recipe text (YAML, safe subset without anchors or aliases)."""
    if len(data) > MAX_RECIPE_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_RECIPE_BYTES} bytes; a recipe is a short YAML file")
    try:
        raw = yaml.load(data, Loader=_RecipeLoader)  # a SafeLoader subclass
    except _AliasFound as found:
        raise ConfigError(
            f"{source}: YAML anchors and aliases (&name, *name) are not allowed in recipes (line {found.line})"
        ) from None
    except yaml.YAMLError as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        where = f" at line {line + 1}" if line is not None else ""
        raise ConfigError(f"{source}: not valid YAML{where}") from None
    except (ValueError, RecursionError) as error:
        # Undecodable bytes, impossible dates or bad !!int/!!float tags (PyYAML raises ValueError),
        # nesting deeper than the parser's recursion.
        raise ConfigError(f"{source}: not valid YAML ({type(error).__name__})") from None
    return parse_recipe(raw, source=source)


def read_recipe(path: str | Path) -> Recipe:
    """Read and check the top level of a recipe file (safe YAML, never arbitrary objects, no aliases).

    The file is read once, so a process substitution (``<(...)``, a ``/dev/fd/N`` pipe) works.
    """
    path = Path(path)
    return parse_recipe_text(_read_bytes(path), source=f"recipe {path}")


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
    count = math.prod(len(values) for values in recipe.sweep.values()) * len(recipe.seeds)
    if count > MAX_RUNS:
        raise ConfigError(
            f"{source}: sweep: {count} runs (sweep values × seeds) exceed the maximum of {MAX_RUNS}; "
            "split the study into several recipes"
        )
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


def _check_data(config: RunConfig, source: str, seen: dict[str, None]) -> None:
    """Dataset name and options (once per distinct data section): ConfigError naming the field."""
    key = repr((config.data.name, sorted(config.data.options.items(), key=lambda item: item[0])))
    if key in seen:
        return
    try:
        lookup(DATASETS, config.data.name.replace("-", "_"), "dataset")
    except ConfigError as error:
        raise ConfigError(f"{source}: data.name: {error}") from None
    try:
        check_options(config.data.name, config.data.options)
    except ConfigError as error:
        raise ConfigError(f"{source}: data.options: {error}") from None
    seen[key] = None


def check_run(config: RunConfig, params: Section, *, source: str = "recipe") -> None:
    """What only the combination of sections can tell: the data can take the protocol's noise, etc."""
    robustness = getattr(params, "robustness", None)
    if robustness is not None:
        try:
            check_robustness(config, robustness)
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None


def expand(recipe: Recipe, *, source: str = "recipe") -> list[RunConfig]:
    """All runs of a recipe: sweep product × seeds, each validated (params by its protocol, data by
    the dataset registry), so every mistake is found before the first run starts."""
    keys = list(recipe.sweep)
    configs = []
    seen: dict[str, None] = {}
    for values in itertools.product(*(recipe.sweep[k] for k in keys)):
        tree = {
            "data": copy.deepcopy(recipe.data),
            "model": copy.deepcopy(recipe.model),
            "train": copy.deepcopy(recipe.train),
            "params": copy.deepcopy(recipe.params),
        }
        for key, value in zip(keys, values):
            _set_path(tree, key, value, source)
        # Seeds change nothing that is validated (the recipe checked their range): validate once.
        raw = {"study": recipe.study, "protocol": recipe.protocol, "seed": recipe.seeds[0], **tree}
        config = make_config(raw, source=source)
        params = parse_params(config, source=source)
        _check_data(config, source, seen)
        check_run(config, params, source=source)
        config = config.model_copy(update={"params": params.model_dump(mode="json", exclude_defaults=True)})
        configs += [config.model_copy(update={"seed": seed}) for seed in recipe.seeds]
    return configs


def load_recipe(path: str | Path) -> tuple[Recipe, list[RunConfig]]:
    """Read, check and expand a recipe file."""
    recipe = read_recipe(path)
    return recipe, expand(recipe, source=f"recipe {path}")


def load_recipe_text(data: str | bytes, *, source: str = "recipe <stdin>") -> tuple[Recipe, list[RunConfig]]:
    """Parse, check and expand recipe text (e.g. read from standard input)."""
    return (recipe := parse_recipe_text(data, source=source)), expand(recipe, source=source)
