"""A dry run: the runs a recipe expands to and the state of each in a results folder, nothing run.

``sparsernn run --dry-run RECIPE [KEY=VALUE ...]`` prints :func:`format_plan` of :func:`plan_runs`.
Reading the results folder only looks for ``summary.json`` files: nothing is created or written.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparsernn.results.records import RunKey
from sparsernn.results.store import run_status
from sparsernn.studies.config import RunConfig
from sparsernn.studies.recipe import Recipe

#: What a run's state in the store is called: finished ok, finished failed, not finished.
STATES = ("complete", "failed", "pending")


@dataclass(frozen=True)
class PlannedRun:
    """One run of a recipe: its place in the store, its swept values and its state there."""

    study: str
    hash: str
    seed: int
    values: dict[str, Any]
    state: str


def swept_values(recipe: Recipe) -> list[dict[str, Any]]:
    """The sweep values of each run, in the order of :func:`~sparsernn.studies.expand` (sweep product × seeds).

    Examples
    --------
    >>> from sparsernn.studies import parse_recipe
    >>> recipe = parse_recipe({"study": "s", "seeds": [0, 1], "sweep": {"model.cell": ["lstm", "gru"]}})
    >>> swept_values(recipe)
    [{'model.cell': 'lstm'}, {'model.cell': 'lstm'}, {'model.cell': 'gru'}, {'model.cell': 'gru'}]
    """
    keys = list(recipe.sweep)
    points = itertools.product(*(recipe.sweep[key] for key in keys))
    return [dict(zip(keys, values)) for values in points for _ in recipe.seeds]


def _state(results: str | Path | None, config: RunConfig) -> str:
    found = None if results is None else run_status(results, config)
    if found is None:
        return "pending"
    return "complete" if found[0] == "ok" else "failed"


def plan_runs(
    recipe: Recipe, configs: Sequence[RunConfig], results: str | Path | None = None
) -> list[PlannedRun]:
    """Every run of ``recipe`` (``configs`` = its expansion) with its state in ``results`` (None: all pending).

    Examples
    --------
    >>> from sparsernn.studies import load_recipe
    >>> recipe, configs = load_recipe("smoke")
    >>> runs = plan_runs(recipe, configs, "no-such-folder")
    >>> len(runs), runs[0].values, runs[0].state, len(runs[0].hash)
    (4, {'model.cell': 'rnn_tanh'}, 'pending', 12)
    """
    values = swept_values(recipe)
    planned: dict[RunKey, PlannedRun] = {}  # sweep points that make the same run are one run, as in the sweep
    for c, point in zip(configs, values):
        if c.key not in planned:
            planned[c.key] = PlannedRun(c.study, c.key.hash, c.seed, point, _state(results, c))
    return list(planned.values())


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def format_plan(runs: Sequence[PlannedRun], results: str | Path | None = None) -> str:
    """A table of the planned runs (study, hash, seed, one column per swept key, state) under a count line.

    Examples
    --------
    >>> print(format_plan([PlannedRun("s", "0123456789ab", 0, {"model.cell": "gru"}, "pending")]))
    dry run: 1 runs (0 complete, 0 failed, 1 pending); nothing was run
    study  hash          seed  model.cell  state
    s      0123456789ab  0     gru         pending
    """
    counts = Counter(run.state for run in runs)
    where = "" if results is None else f" in {results}"
    head = ", ".join(f"{counts[state]} {state}" for state in STATES)
    keys = list(runs[0].values) if runs else []
    rows = [["study", "hash", "seed", *keys, "state"]]
    rows += [[r.study, r.hash, str(r.seed), *(_shown(r.values[k]) for k in keys), r.state] for r in runs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return "\n".join([f"dry run: {len(runs)} runs ({head}){where}; nothing was run", *lines])
