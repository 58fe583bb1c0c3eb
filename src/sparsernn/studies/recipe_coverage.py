"""How much of its built-in recipe a study's results folder holds, so that a partial study reads as partial.

A study named like a built-in recipe (``kalra-controlled``, ``darji-pruning-thesis``, ...) is compared
with the runs that recipe plans, by run key (config hash and seed): how many are complete, failed or not
yet run, and which configurations and seeds are missing. A long study can then be reported (and
published) while it is still running without its tables passing for the whole study. Runs of other
settings (a recipe run with overrides that change configs) are counted apart, never matched.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from sparsernn.errors import SparsernnError
from sparsernn.results.load import flatten
from sparsernn.studies.builtin import builtin_recipes
from sparsernn.studies.config import RunConfig, unique_runs
from sparsernn.studies.headline import headline
from sparsernn.studies.recipe import load_recipe
from sparsernn.studies.tables import markdown_table, varying_columns, with_defaults

#: Column names (last dotted part) tried first when naming a planned configuration.
NAMING_FIRST = ("name", "cell")
STATES = {"ok": "complete", "failed": "failed"}
NOT_YET = "not yet"


def planned_frame(configs: Sequence[RunConfig]) -> pd.DataFrame:
    """One row per planned run: ``run`` (its key name, as loaded results have it), ``seed`` and its
    config as dotted columns (:func:`~sparsernn.results.flatten`)."""
    rows = [
        {"run": c.key.name, "seed": c.seed, **flatten(c.model_dump(mode="json", exclude={"log", "seed"}))}
        for c in unique_runs(configs)  # sweep points that make the same run are one run, as in the sweep
    ]
    return pd.DataFrame(rows)


def naming_columns(planned: pd.DataFrame) -> list[str]:
    """The fewest swept columns that tell the planned configurations apart.

    Columns named ``name`` or ``cell`` come first; a further swept column is kept only where the kept
    ones do not already determine it (a batch size that each dataset sets is not a column of its own).

    Examples
    --------
    >>> planned = pd.DataFrame({"data.batch_size": [32, 32, 64, 64], "data.name": ["a", "a", "b", "b"],
    ...                         "model.cell": ["gru", "lstm", "gru", "lstm"]})
    >>> naming_columns(planned)
    ['data.name', 'model.cell']
    """
    swept = varying_columns(planned)
    ordered = sorted(swept, key=lambda c: c.split(".")[-1] not in NAMING_FIRST)
    text = planned[ordered].astype(str)
    kept: list[str] = []
    for column in ordered:
        if not kept or text.groupby(kept)[column].nunique().max() > 1:
            kept.append(column)
    return kept


def coverage_frame(planned: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """``planned`` with the ``state`` of each run in ``runs``: complete, failed or not yet.

    Examples
    --------
    >>> planned = pd.DataFrame({"run": ["h/seed_0", "h/seed_1", "h/seed_2"], "seed": [0, 1, 2]})
    >>> runs = pd.DataFrame({"run": ["h/seed_0", "h/seed_2", "x/seed_0"], "status": ["ok", "failed", "ok"]})
    >>> coverage_frame(planned, runs)["state"].tolist()
    ['complete', 'not yet', 'failed']
    """
    status = dict(zip(runs["run"], runs["status"], strict=True))
    return planned.assign(state=[STATES.get(status.get(run, ""), NOT_YET) for run in planned["run"]])


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)  # 5.0 of a column with gaps: 5


def _seeds(frame: pd.DataFrame, state: str) -> str:
    seeds = sorted(frame.loc[frame["state"] == state, "seed"])
    return ", ".join(map(str, seeds)) or "–"


def coverage_table(coverage: pd.DataFrame) -> pd.DataFrame:
    """Per planned configuration (named by :func:`naming_columns`): the seeds complete, failed, not yet."""
    columns = naming_columns(coverage.drop(columns=["run", "state"]))
    shown = coverage.assign(**{c: with_defaults(coverage[c]).map(_shown) for c in columns})
    groups = list(shown.groupby(columns, sort=False)) if columns else [("all runs", coverage)]
    rows = []
    for values, group in groups:
        values = values if isinstance(values, tuple) else (values,)
        named = dict(zip([c.split(".")[-1] for c in columns] or ["runs"], values, strict=True))
        rows.append(named | {state: _seeds(group, state) for state in ("complete", "failed", NOT_YET)})
    return pd.DataFrame(rows)


def plan_of(study: str) -> pd.DataFrame | None:
    """The planned runs of the built-in recipe named ``study`` (None: no such recipe, or another study)."""
    if study not in builtin_recipes():
        return None
    try:
        _, configs = load_recipe(study)
    except SparsernnError:  # e.g. a recipe reading a data folder this machine does not have
        return None
    if not configs or any(c.study != study for c in configs):
        return None
    return planned_frame(configs)


def coverage_sentence(study: str, coverage: pd.DataFrame, runs: pd.DataFrame) -> str:
    """``"Against the built-in recipe `s`: 3 of its 4 planned runs are complete here."`` and more."""
    counts = coverage["state"].value_counts()
    total, complete = len(coverage), int(counts.get("complete", 0))
    text = f"Against the built-in recipe `{study}`: {complete} of its {total} planned runs are complete here"
    if complete < total:
        text += (
            f", {int(counts.get('failed', 0))} failed and {int(counts.get(NOT_YET, 0))} not yet run: "
            "**this study is partial**, and every table and figure covers only its complete runs"
        )
    others = int((~runs["run"].isin(coverage["run"])).sum())
    if others:
        text += f"; {others} run{'s are' if others != 1 else ' is'} here of other settings than the recipe's"
    return text + "."


def coverage_lines(study: str, runs: pd.DataFrame, planned: pd.DataFrame | None) -> list[str]:
    """The report's lines on how much of the built-in recipe ``study`` (its :func:`plan_of`, ``planned``;
    None: no lines) the ``runs`` cover: a sentence, one of the page's headlines, and the missing seeds per
    configuration while it is partial."""
    if planned is None:
        return []
    coverage = coverage_frame(planned, runs)
    lines = [*headline([coverage_sentence(study, coverage, runs)]), ""]
    if (coverage["state"] != "complete").any():
        lines += ["Seeds per configuration of the recipe:", "", *markdown_table(coverage_table(coverage)), ""]
    return lines
