"""Studies as recipes: typed configs, protocols, sweeps over backends, reports.

``run`` runs a recipe; ``load_recipe`` / ``expand`` turn recipes into validated :class:`RunConfig`
objects; ``run_sweep`` runs a list of configs on a backend (``BACKENDS``).

The machinery lives in this folder (``config``, ``recipe``, ``registry``, ``runner``, ``recorder``,
``pool``, ``sweep`` and ``ray_backend``, ``report``); the protocols in
:mod:`sparsernn.studies.protocols`, their reports in :mod:`sparsernn.studies.reports`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sparsernn.studies.builtin import builtin_recipes, find_recipe
from sparsernn.studies.config import DataConfig, ModelConfig, RunConfig, TrainConfig, run_hash
from sparsernn.studies.overrides import apply_overrides
from sparsernn.studies.recipe import (
    expand,
    load_recipe,
    load_recipe_text,
    parse_recipe,
    parse_recipe_text,
    read_recipe,
)
from sparsernn.studies.sweep import BACKENDS, SweepOutcome, run_sweep


def run(
    recipe: str | Path | Mapping[str, Any],
    *,
    results: str | Path = "results",
    backend: str = "local",
    workers: int = 1,
    progress: bool = True,
    overrides: str | Iterable[str] = (),
    **options: Any,
) -> SweepOutcome:
    """Run a recipe (a built-in name such as ``"smoke"``, a YAML file, or a mapping); return the outcome.

    ``overrides`` are ``KEY=VALUE`` strings (``["train.epochs=3", "seeds=[0, 1]"]``, or one string
    alone) applied to the recipe before it is checked, as editing the file would (:mod:`sparsernn.studies.overrides`).

    Complete runs already in ``results`` are skipped, so calling it again resumes a sweep. Runs that
    failed before stay failed (counted in ``outcome.failed``) unless ``retry_failed=True``. The whole
    recipe and the results folder are checked before the first run starts.

    Examples
    --------
    >>> import sparsernn as sr
    >>> outcome = sr.studies.run("smoke", results="results", overrides=["train.epochs=1"])  # doctest: +SKIP
    >>> outcome.skipped + outcome.ok + outcome.failed == outcome.total  # doctest: +SKIP
    True
    """
    if isinstance(recipe, Mapping):
        configs = expand(parse_recipe(recipe, overrides=overrides))
    else:
        _, configs = load_recipe(recipe, overrides=overrides)
    return run_sweep(configs, results, backend=backend, workers=workers, progress=progress, **options)


__all__ = [
    "BACKENDS",
    "DataConfig",
    "ModelConfig",
    "RunConfig",
    "SweepOutcome",
    "TrainConfig",
    "apply_overrides",
    "builtin_recipes",
    "expand",
    "find_recipe",
    "load_recipe",
    "load_recipe_text",
    "parse_recipe",
    "parse_recipe_text",
    "read_recipe",
    "run",
    "run_hash",
    "run_sweep",
]
