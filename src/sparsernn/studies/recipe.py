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
The key ``data`` alone sweeps whole data sections (several datasets, each with its own options;
each entry's keys replace those of the recipe's ``data``). The key ``cases`` sweeps settings that go
together: each entry maps sweep keys to values, all applied to the same runs (a zipped sweep), e.g.
``cases: [{data: {name: mnist1d}, train.epochs: 30}, {data: {name: fashion_mnist}, train.epochs: 15}]``
gives each dataset its own epochs. Several such groups are named ``cases.<label>`` (``cases.data``,
``cases.cell``); the sweep is the product of the groups.
Every expanded config is validated before anything runs (sections, protocol parameters, dataset name
and options, noise settings), so a typo fails at once with the field name.

A recipe is a file, or the name of one that ships with the package (``smoke``, ``darji-pruning``, ...;
:mod:`sparsernn.studies.builtin`). ``KEY=VALUE`` overrides (``train.epochs=3``, ``seeds=[0,1,2]``;
:mod:`sparsernn.studies.overrides`) edit the recipe's mapping before it is checked, exactly as editing
the file would: same runs, same hashes, same error messages.

Limits, checked before anything is expanded or run: a recipe is at most
:data:`~sparsernn.studies.safe_yaml.MAX_RECIPE_BYTES` of safe YAML without anchors or aliases
(``&a`` / ``*a``: a few hundred bytes of nested aliases expand to billions of values); it expands
to at most :data:`MAX_RUNS` runs (the product of the sweep list lengths times the number of seeds);
``study`` is a plain name (``config.STUDY_NAME``); sizes have documented maxima (``config.MAX_*``,
``sparsernn.data.registry.MAX_ITEMS``, ``structure.MAX_*``).
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError

from sparsernn._registry import lookup
from sparsernn.data.registry import DATASETS, check_options
from sparsernn.errors import ConfigError
from sparsernn.studies.builtin import builtin_recipes, find_recipe
from sparsernn.studies.config import (
    MAX_SEED,
    RunConfig,
    Section,
    describe_validation_error,
    make_config,
)
from sparsernn.studies.overrides import apply_overrides, override_list
from sparsernn.studies.protocols.robustness import check_robustness
from sparsernn.studies.registry import get_protocol, parse_params
from sparsernn.studies.safe_yaml import MAX_RECIPE_BYTES, load_yaml

MAX_RUNS = 100_000  # runs one recipe may expand to (sweep values × seeds); split bigger studies


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
    log: list[str] = Field(default_factory=list)  # trackers (sparsernn.studies.loggers); not in run hashes


def _read_bytes(path: Path) -> bytes:
    """The bytes of a recipe file, read once (so a pipe such as ``<(...)`` = ``/dev/fd/N`` works too)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_RECIPE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"recipe {path}: no such file{_builtin_hint(path)}") from None
    except IsADirectoryError:
        raise ConfigError(f"recipe {path}: is a folder, expected a YAML file") from None
    except OSError as error:
        raise ConfigError(f"recipe {path}: cannot read ({error.strerror or type(error).__name__})") from None
    return data


def _builtin_hint(path: Path) -> str:
    """For a missing ``recipes/smoke.yaml``: the built-in recipe of that name, which runs anywhere."""
    if path.suffix in (".yaml", ".yml") and path.stem in builtin_recipes():
        return f"; the built-in recipe of that name runs with: sparsernn run {path.stem}"
    return ""


def parse_recipe_text(
    data: str | bytes, *, source: str = "recipe", overrides: str | Iterable[str] = ()
) -> Recipe:
    """Parse and check recipe text (YAML, safe subset without anchors or aliases), after ``overrides``."""
    return parse_recipe(load_yaml(data, source=source), source=source, overrides=overrides)


def read_recipe(path: str | Path, *, overrides: str | Iterable[str] = ()) -> Recipe:
    """Read and check the top level of a recipe file (safe YAML, never arbitrary objects, no aliases).

    ``path`` is a file, or the name of a built-in recipe (``"smoke"``, see
    :func:`~sparsernn.studies.builtin.find_recipe`). The file is read once, so a process
    substitution (``<(...)``, a ``/dev/fd/N`` pipe) works. ``overrides`` (``KEY=VALUE`` strings,
    :mod:`sparsernn.studies.overrides`) edit the recipe before it is checked.
    """
    found = find_recipe(path)
    return parse_recipe_text(_read_bytes(found), source=f"recipe {path}", overrides=overrides)


def parse_recipe(raw: object, *, source: str = "recipe", overrides: str | Iterable[str] = ()) -> Recipe:
    """Check a recipe given as a mapping (what ``yaml.safe_load`` returned), after ``overrides``.

    Examples
    --------
    >>> recipe = parse_recipe({"study": "s", "model": {"cell": "gru"}}, overrides=["seeds=[0, 1]"])
    >>> recipe.seeds, recipe.model
    ([0, 1], {'cell': 'gru'})
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    overrides = override_list(overrides)
    if overrides:
        try:
            raw = apply_overrides(raw, overrides, keys=tuple(Recipe.model_fields))
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, source)) from None
    repeated = _repeated(recipe.seeds)
    if repeated is not None:
        raise ConfigError(f"{source}: seeds: {repeated} is given twice; expected distinct seeds")
    for key, values in recipe.sweep.items():
        if not values:
            raise ConfigError(f"{source}: sweep.{key}: needs at least one value")
        repeated = _repeated(values)
        if repeated is not None:
            raise ConfigError(f"{source}: sweep.{key}: {repeated!r} is given twice; expected distinct values")
    count = math.prod(len(values) for values in recipe.sweep.values()) * len(recipe.seeds)
    if count > MAX_RUNS:
        raise ConfigError(
            f"{source}: sweep: {count} runs (sweep values × seeds) exceed the maximum of {MAX_RUNS}; "
            "split the study into several recipes"
        )
    return recipe


def _repeated(values: list[Any]) -> Any | None:
    """The first value of ``values`` that occurs again (compared as canonical JSON), or None.

    Examples
    --------
    >>> _repeated([0, 1, 0]), _repeated([{"a": 1}, {"a": 2}]), _repeated([[1], [1]])
    (0, None, [1])
    """
    seen = set()
    for value in values:
        text = json.dumps(value, sort_keys=True, default=str)
        if text in seen:
            return value
        seen.add(text)
    return None


def _set_path(tree: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    head, *rest = dotted.split(".")
    if head == "cases":  # settings that go together, applied to the same runs
        if not isinstance(value, dict) or not value or any(str(k).split(".")[0] == "cases" for k in value):
            raise ConfigError(
                f"{source}: sweep key {dotted!r} takes mappings of sweep keys to values "
                f"(e.g. {{data: {{name: mnist1d}}, train.epochs: 30}}), got {value!r}"
            )
        for key, item in value.items():
            _set_path(tree, str(key), item, source)
        return
    if dotted == "data":  # whole data sections (several datasets, each with its own options) over the base
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: sweep key 'data' takes data sections (mappings), got {value!r}")
        tree["data"] = {**tree["data"], **copy.deepcopy(value)}
        return
    if head not in ("data", "model", "train", "params") or not rest:
        raise ConfigError(
            f"{source}: sweep key {dotted!r} must start with data., model., train. or params. and name a field "
            "(or be data: whole data sections)"
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
    check = get_protocol(config.protocol).check
    try:
        if robustness is not None:
            check_robustness(config, robustness)
        if check is not None:
            check(config, params)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def expand(recipe: Recipe, *, source: str = "recipe") -> list[RunConfig]:
    """All runs of a recipe: sweep product × seeds, each validated (params by its protocol, data by
    the dataset registry), so every mistake is found before the first run starts.

    ``recipe`` is a checked :class:`Recipe` (:func:`read_recipe`, :func:`parse_recipe`);
    :func:`load_recipe` reads and expands in one step.
    """
    if not isinstance(recipe, Recipe):
        raise ConfigError(
            f"expand takes a Recipe (from read_recipe or parse_recipe), got {type(recipe).__name__}; "
            "load_recipe already returns (recipe, configs)"
        )
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
        raw["log"] = recipe.log
        config = make_config(raw, source=source)
        params = parse_params(config, source=source)
        _check_data(config, source, seen)
        check_run(config, params, source=source)
        config = config.model_copy(update={"params": params.model_dump(mode="json", exclude_defaults=True)})
        configs += [config.model_copy(update={"seed": seed}) for seed in recipe.seeds]
    return configs


def load_recipe(path: str | Path, *, overrides: str | Iterable[str] = ()) -> tuple[Recipe, list[RunConfig]]:
    """Read, check and expand a recipe file (or a built-in recipe by name), after ``overrides``.

    Examples
    --------
    >>> recipe, configs = load_recipe("smoke", overrides=["seeds=[0, 1]", "train.epochs=1"])
    >>> len(configs), sorted({c.model.cell for c in configs}), configs[0].train.epochs
    (8, ['gru', 'lstm', 'rnn_relu', 'rnn_tanh'], 1)
    """
    recipe = read_recipe(path, overrides=overrides)
    return recipe, expand(recipe, source=f"recipe {path}")


def load_recipe_text(
    data: str | bytes, *, source: str = "recipe <stdin>", overrides: str | Iterable[str] = ()
) -> tuple[Recipe, list[RunConfig]]:
    """Parse, check and expand recipe text (e.g. read from standard input), after ``overrides``."""
    recipe = parse_recipe_text(data, source=source, overrides=overrides)
    return recipe, expand(recipe, source=source)
