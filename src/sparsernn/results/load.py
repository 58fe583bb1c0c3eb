"""Loading a results folder as tidy pandas tables."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from sparsernn.errors import DataError
from sparsernn.results.records import RunKey
from sparsernn.results.store import REDO, SUMMARY, complete_runs, read_config, read_summary


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested mapping as one level of dotted names; lists and empty mappings become JSON text.

    Examples
    --------
    >>> flatten({"model": {"cell": "gru"}, "params": {"levels": [1, 2], "extra": {}}})
    {'model.cell': 'gru', 'params.levels': '[1, 2]', 'params.extra': '{}'}
    """
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, list | dict):
            flat[name] = json.dumps(value)  # keep cells hashable and comparable
        else:
            flat[name] = value
    return flat


def _runs(root: str | Path) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"results folder {root} does not exist")
    runs = complete_runs(root)
    if not runs:
        _refuse_a_run_folder(root)
    return runs


#: What a folder inside a results folder holds: (glob of its finished runs, what it is, levels below the root).
_INNER_FOLDERS = ((f"*/seed_*/{SUMMARY}", "study", 1), (f"seed_*/{SUMMARY}", "run", 2), (SUMMARY, "seed", 3))


def _refuse_a_run_folder(root: Path) -> None:
    """DataError when ``root`` is a folder inside a results folder (a study, run or seed folder)."""
    for pattern, kind, depth in _INNER_FOLDERS:
        if next(root.glob(pattern), None) is not None:
            results = os.path.normpath(root.joinpath(*[".."] * depth))
            raise DataError(
                f"{root} is a {kind} folder inside the results folder {results}; give the results folder "
                "itself (it holds one folder per study)"
            )


def _frozen(value: Any) -> Any:
    """A summary value as a cell: lists (nested too) become tuples, hashable and comparable."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def tidy_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every column whose values are all booleans or missing as pandas' nullable
    ``"boolean"`` dtype.

    A field that only some rows have (``weighted`` is logged on expansion rows only) would otherwise
    mix ``True``/``False`` with NaN in an object column, where ``query("not weighted")`` raises. A
    missing value stays missing (``<NA>``): it is neither true nor false, and boolean masks treat it as
    false.

    Examples
    --------
    >>> frame = tidy_dtypes(pd.DataFrame({"weighted": [True, None, False], "x": [1, 2, 3]}))
    >>> str(frame["weighted"].dtype), frame.query("not weighted")["x"].tolist()
    ('boolean', [3])
    """
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if values.dtype == bool or values.dtype == "boolean":
            continue
        present = values[values.notna()]
        if values.dtype == object and not present.empty and present.map(type).eq(bool).all():
            frame[column] = values.astype("boolean")
    return frame


def _summary_columns(summary: dict[str, Any]) -> dict[str, Any]:
    nested = {k: v for k, v in summary.items() if isinstance(v, dict) and v}
    flat = {k: _frozen(v) for k, v in summary.items() if k not in nested}
    for key, value in nested.items():
        flat.update({f"{key}.{k}": _frozen(v) for k, v in _summary_columns(value).items()})
    return flat


def load(root: str | Path) -> pd.DataFrame:
    """One row per finished run under ``root``: ``run``, ``path``, ``status``, config fields (dotted
    names) and summary fields.

    ``status`` is ``"ok"`` for a complete run and ``"failed"`` for a run that failed (``reason`` says
    why; it has no results): select ``df[df.status == "ok"]`` before computing with the summaries.
    Config lists are JSON text (as :func:`flatten` writes them); list-valued summary fields (an
    accuracy per pruning level, ...) are kept as tuples in object columns; nested summary mappings
    become dotted names. Columns holding only booleans (and missing values) have the nullable
    ``"boolean"`` dtype (:func:`tidy_dtypes`). A results folder without finished runs gives an empty
    table.

    Raises
    ------
    DataError
        If ``root`` does not exist, or is a folder inside a results folder (a study's folder, a run's)
        rather than the results folder itself.

    Examples
    --------
    >>> import sparsernn as sr
    >>> df = sr.results.load("results")  # doctest: +SKIP
    >>> df.groupby("model.cell")["test_accuracy"].mean()  # doctest: +SKIP
    """
    rows = [_run_row(folder) for folder in _runs(root)]
    if not rows:
        return pd.DataFrame(columns=["run", "path", "status", "reason"])
    return tidy_dtypes(pd.DataFrame(rows))


def _run_row(folder: Path) -> dict[str, Any]:
    config = read_config(folder)
    row = {"run": RunKey.of_config(config).name, "path": str(folder), "status": "ok", "reason": ""}
    row.update(flatten(config))
    row.update(_summary_columns(read_summary(folder) or {}))
    return row


def _metric_rows(folder: Path) -> list[dict[str, Any]]:
    path, records = folder / "metrics.jsonl", []
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise DataError(f"run folder {folder}: metrics.jsonl is missing; {REDO}") from None
    for number, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
            values = row.pop("values")
            records += [{**row, "name": name, "value": value} for name, value in values.items()]
        except (json.JSONDecodeError, AttributeError, KeyError, TypeError):
            raise DataError(f"{path}:{number}: not a metric row; {REDO}") from None
    return records


def load_metrics(root: str | Path, *, with_config: bool = False) -> pd.DataFrame:
    """All logged metrics in long format: ``run, study, <index columns...>, name, value``.

    Index columns are the fields a run logged its values with (``epoch``, ``phase``, ``level``,
    ``gates``, ``weighted``, ...); a field only some rows have is missing (NaN, or ``<NA>`` in a
    ``"boolean"`` column: :func:`tidy_dtypes`) in the others. ``with_config=True`` joins each run's
    config fields under their dotted names, as :func:`load` writes them (``model.cell``,
    ``params.gates``, ``seed``, ...); a config field never replaces an index column of the same name.

    Examples
    --------
    >>> import sparsernn as sr
    >>> m = sr.results.load_metrics("results", with_config=True)  # doctest: +SKIP
    >>> m.query("phase == 'expansion' and not weighted").groupby("model.cell")["value"].mean()  # doctest: +SKIP
    """
    frames = []
    for folder in _runs(root):
        config = read_config(folder)
        frame = pd.DataFrame(_metric_rows(folder))
        frame.insert(0, "study", config["study"])
        frame.insert(0, "run", RunKey.of_config(config).name)
        if with_config:
            extra = {k: v for k, v in flatten(config).items() if k not in frame.columns}
            frame = frame.assign(**{k: [v] * len(frame) for k, v in extra.items()})
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["run", "study", "name", "value"])
    return tidy_dtypes(pd.concat(frames, ignore_index=True))
