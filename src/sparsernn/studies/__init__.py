"""Studies as recipes: typed configs, protocols, sweeps over backends, reports.

``run`` runs a recipe; ``load_recipe`` / ``expand`` turn recipes into validated :class:`RunConfig`
objects; ``run_sweep`` runs a list of configs on a backend (``BACKENDS``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparsernn.studies.config import DataConfig, ModelConfig, RunConfig, TrainConfig, run_hash
from sparsernn.studies.recipe import expand, load_recipe, parse_recipe, read_recipe

if TYPE_CHECKING:
    from sparsernn.studies.sweep import SweepOutcome


def run(
    recipe: str | Path | Mapping[str, Any],
    *,
    results: str | Path = "results",
    backend: str = "local",
    workers: int = 1,
    progress: bool = True,
    **options: Any,
) -> SweepOutcome:
    """Run a recipe (a path to a YAML file, or a mapping) and return the sweep's outcome.

    Complete runs already in ``results`` are skipped, so calling it again resumes a sweep.

    Examples
    --------
    >>> import sparsernn as sr
    >>> outcome = sr.studies.run("recipes/smoke.yaml", results="results")  # doctest: +SKIP
    >>> outcome.ok + outcome.skipped == outcome.total  # doctest: +SKIP
    True
    """
    from sparsernn.studies.sweep import run_sweep

    if isinstance(recipe, Mapping):
        configs = expand(parse_recipe(recipe))
    else:
        _, configs = load_recipe(recipe)
    return run_sweep(configs, results, backend=backend, workers=workers, progress=progress, **options)


def __getattr__(name: str) -> Any:
    # The sweep machinery imports the store, which imports the config types above: load it lazily.
    if name in ("BACKENDS", "SweepOutcome", "run_sweep"):
        from sparsernn.studies import sweep

        return getattr(sweep, name)
    raise AttributeError(f"module 'sparsernn.studies' has no attribute {name!r}")


__all__ = [
    "BACKENDS",
    "DataConfig",
    "ModelConfig",
    "RunConfig",
    "SweepOutcome",
    "TrainConfig",
    "expand",
    "load_recipe",
    "parse_recipe",
    "read_recipe",
    "run",
    "run_hash",
    "run_sweep",
]
