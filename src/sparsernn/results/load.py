"""Loading a results folder as tidy pandas tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from sparsernn.errors import DataError
from sparsernn.results.store import complete_runs, read_summary


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{name}."))
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
    """One row per complete run under ``root``: config fields (dotted names) + summary fields.

    Examples
    --------
    >>> import sparsernn as sr
    >>> df = sr.results.load("results")  # doctest: +SKIP
    >>> df.groupby("model.cell")["test_accuracy"].mean()  # doctest: +SKIP
    """
    rows = []
    for folder in _runs(root):
        config = json.loads((folder / "config.json").read_text())
        summary = read_summary(folder) or {}
        row = {"run": f"{config['hash']}/seed_{config['seed']}", "path": str(folder)}
        row.update(_flatten(config))
        row.update(_flatten({k: v for k, v in summary.items() if not isinstance(v, list | dict)}))
        rows.append(row)
    return pd.DataFrame(rows)


def load_metrics(root: str | Path) -> pd.DataFrame:
    """All logged metrics in long format: ``run, study, <index columns...>, name, value``."""
    frames = []
    for folder in _runs(root):
        config = json.loads((folder / "config.json").read_text())
        run = f"{config['hash']}/seed_{config['seed']}"
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
