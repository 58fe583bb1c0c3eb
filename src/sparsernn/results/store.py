"""The run store: one folder per run, ``<root>/<study>/<hash>/seed_<k>/``.

A folder holds ``config.json``, ``metrics.jsonl``, artifact files (``model.safetensors``, ...) and,
written last and atomically, ``summary.json``. The presence of ``summary.json`` is the one and only
sign that a run is complete: a folder without it is the remains of an interrupted write and is
cleared and redone. Only the sweep driver writes here.

Runs are addressed by their :class:`~sparsernn.results.records.RunKey` (or anything with a ``key``,
such as a study's ``RunConfig``) and written from a :class:`~sparsernn.results.records.RunRecord`
(or anything with a ``record()``): the store knows nothing of studies.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sparsernn import __version__
from sparsernn._io import write_atomic
from sparsernn.errors import ConfigError, DataError
from sparsernn.results.records import Keyed, Recordable, RunKey, RunRecord, key_of, record_of

SUMMARY = "summary.json"


def run_dir(root: str | Path, run: RunKey | Keyed) -> Path:
    """The folder of the run ``run`` (a key, or a config with a ``key``)."""
    return key_of(run).folder(root)


def read_summary(folder: Path) -> dict[str, Any] | None:
    """The summary of a complete run folder, or None if the run is not complete."""
    path = folder / SUMMARY
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None  # cannot happen for files written by write_atomic; treat as incomplete
    return summary if isinstance(summary, dict) else None


def prepare_root(root: str | Path) -> Path:
    """Create the results folder ``root`` if needed and check that files can be written there.

    Called before any run starts, so an impossible or read-only folder fails at once (one line)
    instead of after the first run has trained.
    """
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".sparsernn-write-check-"):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError(
            f"results folder {root}: cannot create or write it ({reason}); expected a writable folder"
        ) from None
    return root


def run_status(root: str | Path, run: RunKey | Keyed) -> tuple[str, str] | None:
    """``(status, reason)`` of a finished run (``"ok"`` or ``"failed"``), None when it has not finished."""
    summary = read_summary(run_dir(root, run))
    if summary is None:
        return None
    return str(summary.get("status", "ok")), str(summary.get("reason") or "")


def is_complete(root: str | Path, run: RunKey | Keyed, *, retry_failed: bool = False) -> bool:
    """Whether the run has finished (a summary, ok or failed; with ``retry_failed``: finished ok)."""
    summary = read_summary(run_dir(root, run))
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


def write_run(root: str | Path, run: RunRecord | Recordable) -> Path:
    """Write a finished run (a record, or a result with a ``record()``) into its folder, summary last;
    returns the folder."""
    record = record_of(run)
    folder = record.key.folder(root)
    if folder.exists():  # remains of an interrupted write (or a failed run being redone)
        (folder / SUMMARY).unlink(missing_ok=True)  # first: a kill during the removal leaves no run
        _fsync_dir(folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    write_atomic(folder / "config.json", _json({**record.config, "hash": record.key.hash}))
    lines = "".join(json.dumps(row, sort_keys=True) + "\n" for row in record.rows)
    write_atomic(folder / "metrics.jsonl", lines.encode())
    for name, data in record.files.items():
        write_atomic(folder / name, data)
    summary = {"version": __version__, **record.summary}
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
    """Folders of all finished runs under ``root``, ok or failed (sorted; the summary holds the status).

    A folder whose summary cannot be read is not finished (:func:`read_summary`), as the sweep sees it.
    """
    folders = sorted(p.parent for p in Path(root).glob(f"*/*/seed_*/{SUMMARY}"))
    return [folder for folder in folders if read_summary(folder) is not None]


#: What to do about a damaged run folder, which the store still counts as finished.
REDO = "delete that run folder and run its recipe again"


def read_json(path: Path) -> Any:
    """The JSON data of a file in a run folder; DataError naming the file when it is missing or damaged."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"run folder {path.parent}: {path.name} is missing; {REDO}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"run folder {path.parent}: {path.name} is damaged ({error}); {REDO}") from None


def read_config(folder: Path) -> dict[str, Any]:
    """The ``config.json`` of a run folder (the config as JSON data, with its ``hash``)."""
    config = read_json(folder / "config.json")
    if not isinstance(config, dict):
        raise DataError(f"run folder {folder}: config.json holds no mapping; {REDO}")
    return config


def stored_protocol(root: str | Path, study: str) -> str | None:
    """The protocol of the runs of ``study`` under ``root`` (read from its first readable run), or None."""
    for path in sorted(Path(root).glob(f"{study}/*/seed_*/config.json")):
        try:
            return read_config(path.parent).get("protocol")
        except DataError:  # a damaged folder: the sweep redoes it; another run tells the protocol
            continue
    return None


def finished_runs(root: str | Path) -> dict[RunKey, Path]:
    """Every finished run under ``root`` (ok or failed) by its key, in key order."""
    runs = {}
    for folder in complete_runs(root):
        runs[RunKey.of_config(read_config(folder))] = folder
    return dict(sorted(runs.items()))
