"""Companion studies: seeds a study does not train itself, taken from another study of the same graphs.

The seed study of the Darji structure study (``darji-seeds``) trains thesis graphs 0–24 of every cell
and family with seeds 1 and 2; seed 0 of the same graphs, with the same settings, is already trained
by ``darji-structure-thesis`` (and the same seed gives the same model). :data:`COMPANIONS` declares
that relation, in this one place. When a study with a companion is reported, its report reads the
companion's complete runs from the same results folder as the study's own runs (the folder their
``path`` lies in) and, if their settings agree, adds the companion's models of the same (cell,
family, graph) for the seeds the study did not train. Settings agree when every config field
(``data.*``, ``model.*``, ``train.*``, ``params.*``, ``protocol``) is the same for the runs of the
same cell and family, except the fields in :data:`IGNORED`, which choose the graphs of a run and what
it keeps on disk. Otherwise nothing is mixed and the report says why, in one line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from sparsernn._registry import registry
from sparsernn.results import load, load_metrics

COMPANIONS: Mapping[str, str] = registry(
    {"darji-seeds": "darji-structure-thesis", "darji-seeds-small": "darji-structure-thesis-small"}
)
"""Study → the study whose models of the same graphs supply the seeds it does not train."""
IGNORED = frozenset({"params.first", "params.count", "params.save_models"})
CONFIG_PREFIXES = ("data.", "model.", "train.", "params.")
KEYS = ["cell", "family", "graph"]


def _settings(runs: pd.DataFrame) -> list[str]:
    columns = [c for c in runs.columns if c.startswith(CONFIG_PREFIXES) or c == "protocol"]
    return sorted(c for c in columns if c not in IGNORED)


def _value(series: pd.Series) -> object:
    values = {repr(v) for v in series if not (isinstance(v, float) and pd.isna(v)) and v is not None}
    return values.pop() if len(values) == 1 else ("several: " + ", ".join(sorted(values)) if values else None)


def settings_difference(ours: pd.DataFrame, theirs: pd.DataFrame) -> str | None:
    """The first setting in which the runs of a shared (cell, family) differ, or None when none does.

    Examples
    --------
    >>> a = pd.DataFrame({"model.cell": ["gru"], "params.family": ["ba"], "train.epochs": [15], "params.first": [0]})
    >>> settings_difference(a, a.assign(**{"params.first": 5})) is None
    True
    >>> settings_difference(a, a.assign(**{"train.epochs": 10}))
    'train.epochs (15 vs 10) for gru, ba'
    """
    columns = sorted(set(_settings(ours)) | set(_settings(theirs)))
    group = [c for c in ("model.cell", "params.family") if c in ours and c in theirs]
    shared = ours[group].drop_duplicates().merge(theirs[group].drop_duplicates()) if group else None
    for key in [] if shared is None else shared.itertuples(index=False):
        mine = ours[(ours[group] == list(key)).all(axis=1)]
        other = theirs[(theirs[group] == list(key)).all(axis=1)]
        for column in columns:
            a = _value(mine[column]) if column in mine else None
            b = _value(other[column]) if column in other else None
            if a != b:
                return f"{column} ({a} vs {b}) for {', '.join(map(str, key))}"
    return None


def pool_seeds(table: pd.DataFrame, theirs: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``table`` plus the rows of ``theirs`` of the same (cell, family, graph) with a seed ``table`` lacks.

    Returns the pooled table and the number of graphs that got a seed from ``theirs``.

    Examples
    --------
    >>> ours = pd.DataFrame({"cell": "gru", "family": "ba", "graph": [0, 0, 1], "seed": [1, 2, 1]})
    >>> theirs = pd.DataFrame({"cell": "gru", "family": "ba", "graph": [0, 1, 7], "seed": 0})
    >>> pooled, added = pool_seeds(ours, theirs)
    >>> added, sorted(pooled[pooled["graph"] == 0]["seed"]), 7 in set(pooled["graph"])
    (2, [0, 1, 2], False)
    """
    mine = table[KEYS].drop_duplicates()
    extra = theirs.merge(mine, on=KEYS)  # only graphs this study trained
    present = set(table[[*KEYS, "seed"]].itertuples(index=False, name=None))
    extra = extra[[row not in present for row in extra[[*KEYS, "seed"]].itertuples(index=False, name=None)]]
    pooled = pd.concat([table, extra], ignore_index=True)
    return pooled, len(extra[KEYS].drop_duplicates())


def complete_graphs(table: pd.DataFrame) -> tuple[int, int, list[int]]:
    """(graphs with every seed of the table, graphs, the seeds), over (cell, family, graph).

    Examples
    --------
    >>> t = pd.DataFrame({"cell": "gru", "family": "ba", "graph": [0, 0, 1], "seed": [0, 1, 1]})
    >>> complete_graphs(t)
    (1, 2, [0, 1])
    """
    seeds = sorted(int(s) for s in table["seed"].unique())
    per_graph = table.groupby(KEYS)["seed"].nunique()
    return int((per_graph == len(seeds)).sum()), len(per_graph), seeds


def load_companion(study: str, runs: pd.DataFrame) -> tuple[str, pd.DataFrame, pd.DataFrame] | None:
    """The companion of ``study``, its complete runs and their metrics, from the folder of ``runs``.

    None when ``study`` has no companion, or its runs have no ``path``, or the companion has no
    complete run in that folder (a run folder is ``<root>/<study>/<hash>/seed_<k>``).
    """
    companion = COMPANIONS.get(study)
    if companion is None or "path" not in runs or runs["path"].dropna().empty:
        return None
    root = Path(str(runs["path"].dropna().iloc[0])).parents[2]
    if not (root / companion).is_dir():
        return None
    theirs = load(root)
    theirs = theirs[(theirs["study"] == companion) & (theirs["status"] == "ok")]
    if theirs.empty:
        return None
    metrics = load_metrics(root)
    return companion, theirs, metrics[metrics["run"].isin(theirs["run"])]


def _with_defaults(runs: pd.DataFrame, defaults: Mapping[str, object]) -> pd.DataFrame:
    runs = runs.copy()
    for column, value in defaults.items():
        if value is None:
            continue
        if column not in runs:
            runs[column] = pd.Series(None, index=runs.index, dtype=object)
        runs[column] = runs[column].where(runs[column].notna(), value)
    return runs


def with_companion(
    study: str,
    runs: pd.DataFrame,
    table: pd.DataFrame,
    build: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame],
    found: tuple[str, pd.DataFrame, pd.DataFrame] | None = None,
    *,
    defaults: Mapping[str, object] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """``table`` (one row per model, with ``seed``) pooled with its companion's models, and a note.

    ``build(runs, metrics)`` turns the companion's runs into the same kind of table; ``found`` is
    what :func:`load_companion` returned (loaded here when not given); ``defaults`` (dotted name →
    value) fill in the parameters older runs did not record, on both sides, before the settings are
    compared. Without a companion the table is returned as is and the note is empty.
    """
    found = found if found is not None else load_companion(study, runs)
    if found is None:
        return table, []
    companion, theirs, metrics = found
    runs, theirs = _with_defaults(runs, defaults or {}), _with_defaults(theirs, defaults or {})
    difference = settings_difference(runs, theirs)
    if difference is not None:
        return table, [
            f"Seeds not pooled with `{companion}`: its runs differ in {difference}; expected the same settings.",
            "",
        ]
    built = build(theirs, metrics)
    if built.empty:
        return table, []
    pooled, added = pool_seeds(table, built)
    complete, graphs, seeds = complete_graphs(pooled)
    shown = ", ".join(map(str, seeds))
    note = (
        f"Seeds the study does not train taken from `{companion}` (same results folder, same settings) "
        f"for {added} of its {graphs} graphs; {complete} of the {graphs} graphs have all {len(seeds)} "
        f"seeds ({shown})."
    )
    return pooled, [note, ""]
