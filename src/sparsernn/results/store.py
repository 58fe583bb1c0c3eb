"""The run store: one folder per run, ``<root>/<study>/<hash>/seed_<k>/``.

A folder holds ``config.json``, ``metrics.jsonl``, artifact files (``model.safetensors``, ...) and,
written last and atomically, ``summary.json``. The presence of ``summary.json`` is the one and only
sign that a run is complete: a folder without it is the remains of an interrupted write and is
cleared and redone. Only the sweep driver writes here.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

from sparsernn import __version__
from sparsernn._io import write_atomic
from sparsernn.studies.config import RunConfig, run_hash
from sparsernn.studies.recorder import RunResult

SUMMARY = "summary.json"


def run_dir(root: str | Path, config: RunConfig) -> Path:
    """The folder of the run described by ``config``."""
    return Path(root) / config.study / run_hash(config) / f"seed_{config.seed}"


def read_summary(folder: Path) -> dict[str, Any] | None:
    """The summary of a complete run folder, or None if the run is not complete."""
    path = folder / SUMMARY
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None  # cannot happen for files written by write_atomic; treat as incomplete


def is_complete(root: str | Path, config: RunConfig, *, retry_failed: bool = False) -> bool:
    """Whether the run has a summary (and, with ``retry_failed``, did not fail)."""
    summary = read_summary(run_dir(root, config))
    if summary is None:
        return False
    return not (retry_failed and summary.get("status") == "failed")


def finite(data: Any) -> Any:
    """``data`` with every NaN or infinite float replaced by None (strict JSON has neither)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [finite(value) for value in data]
    return data


def _json(data: object) -> bytes:
    return (json.dumps(finite(data), indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


def write_run(root: str | Path, result: RunResult) -> Path:
    """Write a finished run into its folder, summary last; returns the folder."""
    folder = run_dir(root, result.config)
    if folder.exists():
        shutil.rmtree(folder)  # remains of an interrupted write (or a failed run being redone)
    folder.mkdir(parents=True)
    config = result.config.model_dump(mode="json")
    write_atomic(folder / "config.json", _json({**config, "hash": run_hash(result.config)}))
    lines = "".join(json.dumps(row, sort_keys=True) + "\n" for row in result.rows)
    write_atomic(folder / "metrics.jsonl", lines.encode())
    for name, data in result.files.items():
        write_atomic(folder / name, data)
    summary = {
        "status": result.status,
        "reason": result.reason,
        "wall_s": round(result.wall_s, 3),
        "version": __version__,
        **result.summary,
    }
    write_atomic(folder / SUMMARY, _json(summary))
    _fsync_dir(folder)
    return folder


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def complete_runs(root: str | Path) -> list[Path]:
    """Folders of all complete runs under ``root`` (sorted)."""
    return sorted(p.parent for p in Path(root).glob(f"*/*/seed_*/{SUMMARY}"))
