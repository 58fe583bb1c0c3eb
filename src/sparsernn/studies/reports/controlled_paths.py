"""Recorded pruning paths of the ``controlled_pruning`` protocol, rebuilt from its metric rows.

A run of the protocol is one (dataset, cell, seed); it logs one path per pruning criterion
(``phase="level"`` rows: accuracies at each remaining fraction q) and the expansion of every layer
view at every level (``phase="expansion"`` rows). :func:`paths_from_metrics` turns those rows into
the :class:`~sparsernn.prune.stopping.PruningPath` records the stopping rules are evaluated on,
keyed by :class:`~sparsernn.prune.stopping.PathKey` (dataset, cell, seed).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import pandas as pd

from sparsernn.errors import ConfigError, DataError
from sparsernn.prune.stopping import PathKey, PruningPath

#: Config columns naming a run's dataset, cell and seed (as :func:`sparsernn.results.load` writes them).
KEY_COLUMNS = ("data.name", "model.cell", "seed")
#: Logged expansion value → trace name of :data:`sparsernn.prune.stopping.TRACES`, unweighted rows.
UNWEIGHTED = {"delta_s": "delta_s", "delta_r": "delta_r", "d_left": "d_left", "d_right": "d_right"}
#: The same for weighted rows: their Δ_S is the weighted Δ_S.
WEIGHTED = {"delta_s": "delta_s_weighted", "gap_weighted": "gap_weighted"}


def with_run_keys(metrics: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """``metrics`` with the :data:`KEY_COLUMNS` of each row's run (joined from ``runs`` when missing).

    Examples
    --------
    >>> runs = pd.DataFrame({"run": ["r"], "data.name": ["mnist1d"], "model.cell": ["gru"], "seed": [0]})
    >>> with_run_keys(pd.DataFrame({"run": ["r"], "value": [0.5]}), runs).columns.tolist()
    ['run', 'value', 'data.name', 'model.cell', 'seed']
    """
    missing = [c for c in KEY_COLUMNS if c not in metrics.columns]
    if not missing:
        return metrics
    if runs is None or any(c not in runs.columns for c in (*missing, "run")):
        raise DataError(
            f"metrics lack the run columns {', '.join(missing)}; expected them (load_metrics(..., "
            "with_config=True)) or a runs frame that has them"
        )
    return metrics.merge(runs[["run", *missing]].drop_duplicates("run"), on="run", how="left")


def criteria(metrics: pd.DataFrame) -> list[str]:
    """The pruning criteria with recorded levels, magnitude first, then in name order.

    Examples
    --------
    >>> criteria(pd.DataFrame({"phase": ["level", "level", "dense"], "path": ["random", "magnitude", None]}))
    ['magnitude', 'random']
    """
    if "path" not in metrics.columns or "phase" not in metrics.columns:
        return []
    names = set(metrics.loc[metrics["phase"] == "level", "path"].dropna().astype(str))
    return sorted(names, key=lambda c: (c != "magnitude", c))


def _expected_levels(runs: pd.DataFrame | None, run: str) -> tuple[float, ...] | None:
    """The levels a run was asked for (``params.densities``), when the runs frame records them."""
    if runs is None or "params.densities" not in runs.columns:
        return None
    values = runs.loc[runs["run"] == run, "params.densities"].dropna()
    if values.empty:
        return None
    value = values.iloc[0]
    return tuple(float(q) for q in (json.loads(value) if isinstance(value, str) else value))


def _accuracies(rows: pd.DataFrame) -> tuple[tuple[float, ...], dict[str, dict[float, float]]]:
    """Levels in recorded order and ``{"val_accuracy" | "test_accuracy": {q: value}}``."""
    levels = tuple(dict.fromkeys(float(q) for q in rows["level"]))
    values = {
        name: {float(q): _float(v) for q, v in zip(group["level"], group["value"])}
        for name, group in rows[rows["name"].isin(("val_accuracy", "test_accuracy"))].groupby("name")
    }
    return levels, values


def _float(value: object) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)


def _layer_name(module: object, layer: object, direction: object) -> str:
    """``"rnn.l0"`` (``"rnn.l0_reverse"`` for the backward direction of a bidirectional layer)."""
    suffix = "_reverse" if str(direction) in ("backward", "reverse") else ""
    prefix = f"{module}." if isinstance(module, str) and module else ""
    return f"{prefix}l{int(layer)}{suffix}"


def _traces(rows: pd.DataFrame, levels: tuple[float, ...]) -> dict[tuple[str, str], dict[str, tuple]]:
    """``(layer, view) -> {trace: values per level}`` from the stack-gate expansion rows of one path.

    Raises ``KeyError`` naming the first trace that misses a level.
    """
    if rows.empty or not {"gates", "weighted", "view"} <= set(rows.columns):
        return {}  # a path recorded without any layer view
    rows = rows[rows["gates"].astype(str) == "stack"]
    weighted = rows["weighted"].fillna(False).astype(bool)
    traces: dict[tuple[str, str], dict[str, dict[float, float]]] = {}
    for is_weighted, names in ((False, UNWEIGHTED), (True, WEIGHTED)):
        mine = rows[(weighted == is_weighted) & rows["name"].isin(names)]
        for (module, layer, direction, view, name), group in mine.groupby(
            ["module", "layer", "direction", "view", "name"], sort=True, dropna=False
        ):
            key = (_layer_name(module, layer, direction), str(view))
            trace = traces.setdefault(key, {}).setdefault(names[name], {})
            trace |= {float(q): _float(v) for q, v in zip(group["level"], group["value"])}
    out = {}
    for key, measures in traces.items():
        for name, trace in measures.items():
            missing = [q for q in levels if q not in trace]
            if missing:
                raise KeyError(f"{name} of {key[0]} {key[1]} at q={missing[0]:g}")
        out[key] = {name: tuple(trace[q] for q in levels) for name, trace in measures.items()}
    return out


def _build(level_rows: pd.DataFrame, expansion_rows: pd.DataFrame, expected: tuple | None) -> PruningPath:
    """One path; raises :class:`DataError` saying what is missing when it is incomplete."""
    levels, acc = _accuracies(level_rows)
    if expected is not None and levels != expected:
        raise DataError(f"{len(levels)} of {len(expected)} levels recorded; expected {list(expected)}")
    for name in ("val_accuracy", "test_accuracy"):
        missing = [q for q in levels if q not in acc.get(name, {})]
        if missing:
            raise DataError(f"no {name} at q={missing[0]:g}; expected one at every level")
    try:
        traces = _traces(expansion_rows, levels)
    except KeyError as error:
        raise DataError(f"no expansion value for {error.args[0]}; expected one at every level") from None
    val = tuple(acc["val_accuracy"][q] for q in levels)
    test = tuple(acc["test_accuracy"][q] for q in levels)
    try:
        return PruningPath(levels, val, test, traces)
    except ConfigError as error:  # e.g. an undefined dense accuracy: the path cannot be scored
        raise DataError(str(error)) from None


def _key(rows: pd.DataFrame) -> PathKey:
    first = rows.iloc[0]
    return PathKey(str(first["data.name"]), str(first["model.cell"]), int(first["seed"]))


def paths_from_metrics(
    metrics: pd.DataFrame,
    *,
    criterion: str = "magnitude",
    runs: pd.DataFrame | None = None,
    skip_incomplete: bool = False,
) -> dict[PathKey, PruningPath]:
    """The pruning paths of one ``criterion``, one per run, keyed by (dataset, cell, seed).

    Each path holds the levels q in recorded order (dense first), the validation and test accuracy
    after fine-tuning (``phase="level"`` rows of ``path=criterion``) and, per (layer, view) of the
    stacked-gate graphs, the traces unweighted Δ_S, Δ_R, d_L, d_R and weighted Δ_S, λ_w
    (``phase="expansion"`` rows; the weighted rows' Δ_S is the weighted one). Layers are named
    ``"<module>.l<index>"``.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Long-format metrics (:func:`sparsernn.results.load_metrics`); the run columns ``data.name``,
        ``model.cell`` and ``seed`` are read from it, or joined from ``runs`` by ``run``.
    criterion : str
        Which path of each run (a pruning criterion's name).
    runs : pandas.DataFrame, optional
        Loaded runs (:func:`sparsernn.results.load`): their ``params.densities`` are the levels a
        complete path must hold (without them, the levels of the run's longest path).
    skip_incomplete : bool
        Leave out an incomplete path (a run still in progress) instead of raising.

    Raises
    ------
    DataError
        When a path is incomplete (and ``skip_incomplete`` is false), or two runs share a key.

    Examples
    --------
    >>> rows = [{"run": "r", "phase": "level", "path": "magnitude", "level": q, "name": n, "value": v}
    ...         for q, val, test in ((1.0, 0.9, 0.88), (0.5, 0.85, 0.86))
    ...         for n, v in (("val_accuracy", val), ("test_accuracy", test))]
    >>> m = pd.DataFrame(rows).assign(**{"data.name": "mnist1d", "model.cell": "lstm", "seed": 0})
    >>> (key, path), = paths_from_metrics(m).items()
    >>> key, path.levels, path.val_acc, path.test_acc
    (PathKey(dataset='mnist1d', cell='lstm', seed=0), (1.0, 0.5), (0.9, 0.85), (0.88, 0.86))
    """
    metrics = with_run_keys(metrics, runs)
    if "path" not in metrics.columns:
        return {}
    mine = metrics[metrics["path"].astype(object) == criterion]
    levels = mine[mine["phase"] == "level"]
    expansion = mine[mine["phase"] == "expansion"]
    longest = metrics[metrics["phase"] == "level"].groupby(["run", "path"])["level"].nunique()
    paths: dict[PathKey, PruningPath] = {}
    for run, rows in levels.groupby("run", sort=True):
        expected = _expected_levels(runs, str(run))
        if expected is None and longest[run].nunique() > 1:
            expected = _longest_levels(metrics, str(run))
        try:
            path = _build(rows, expansion[expansion["run"] == run], expected)
        except DataError as error:
            if skip_incomplete:
                continue
            raise DataError(f"path {criterion!r} of run {run} is incomplete: {error}") from None
        key = _key(rows)
        if key in paths:
            raise DataError(f"two runs are {key}; expected one run per dataset, cell and seed")
        paths[key] = path
    return paths


def _longest_levels(metrics: pd.DataFrame, run: str) -> tuple[float, ...]:
    rows = metrics[(metrics["run"] == run) & (metrics["phase"] == "level")]
    by_path = {p: tuple(dict.fromkeys(g["level"].astype(float))) for p, g in rows.groupby("path")}
    return max(by_path.values(), key=len)


def all_paths(
    metrics: pd.DataFrame, runs: pd.DataFrame | None = None
) -> tuple[dict[str, dict[PathKey, PruningPath]], dict[str, int]]:
    """Every criterion's complete paths (:func:`paths_from_metrics`) and how many were incomplete.

    Examples
    --------
    >>> all_paths(pd.DataFrame({"run": [], "phase": [], "path": [], "data.name": [], "model.cell": [],
    ...                         "seed": []}))
    ({}, {})
    """
    paths, skipped = {}, {}
    for name in criteria(metrics):
        found = paths_from_metrics(metrics, criterion=name, runs=runs, skip_incomplete=True)
        recorded = metrics.loc[(metrics["phase"] == "level") & (metrics["path"] == name), "run"].nunique()
        paths[name], skipped[name] = found, recorded - len(found)
    return paths, skipped


def by_cell(paths: Mapping[PathKey, PruningPath]) -> dict[tuple[str, str], dict[int, PruningPath]]:
    """``{(dataset, cell): {seed: path}}``, sorted.

    Examples
    --------
    >>> path = PruningPath((1.0, 0.5), (0.9, 0.8), (0.9, 0.8))
    >>> by_cell({PathKey("x", "gru", 1): path, PathKey("x", "gru", 0): path}) == {("x", "gru"): {0: path, 1: path}}
    True
    """
    out: dict[tuple[str, str], dict[int, PruningPath]] = {}
    for key in sorted(paths):
        out.setdefault((key.dataset, key.cell), {})[key.seed] = paths[key]
    return out
