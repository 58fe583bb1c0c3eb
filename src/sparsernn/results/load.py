"""Loading a results folder as tidy pandas tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from sparsernn.errors import DataError
from sparsernn.results.records import RunKey
from sparsernn.results.store import complete_runs, read_config, read_summary


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
    return complete_runs(root)


def load(root: str | Path) -> pd.DataFrame:
    """One row per finished run under ``root``: ``run``, ``path``, ``status``, config fields (dotted
    names) and summary fields.

    ``status`` is ``"ok"`` for a complete run and ``"failed"`` for a run that failed (``reason`` says
    why; it has no results): select ``df[df.status == "ok"]`` before computing with the summaries.

    Examples
    --------
    >>> import sparsernn as sr
    >>> df = sr.results.load("results")  # doctest: +SKIP
    >>> df.groupby("model.cell")["test_accuracy"].mean()  # doctest: +SKIP
    """
    rows = []
    for folder in _runs(root):
        config = read_config(folder)
        summary = read_summary(folder) or {}
        row = {
            "run": RunKey.of_config(config).name,
            "path": str(folder),
            "status": "ok",
            "reason": "",
        }
        row.update(flatten(config))
        row.update(flatten({k: v for k, v in summary.items() if not isinstance(v, list | dict)}))
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["run", "path", "status", "reason"])


def load_metrics(root: str | Path) -> pd.DataFrame:
    """All logged metrics in long format: ``run, study, <index columns...>, name, value``."""
    frames = []
    for folder in _runs(root):
        config = read_config(folder)
        run = RunKey.of_config(config).name
        records = []
        with open(folder / "metrics.jsonl") as handle:
            for line in handle:
                row = json.loads(line)
                values = row.pop("values")
                for name, value in values.items():
                    records.append({**row, "name": name, "value": value})
        frame = pd.DataFrame(records)
        frame.insert(0, "study", config["study"])
        frame.insert(0, "run", run)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["run", "study", "name", "value"])
    return pd.concat(frames, ignore_index=True)
