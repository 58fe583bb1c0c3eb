"""Run store and tidy loading of results (``load`` one row per run, ``load_metrics`` long format,
``load_masks`` the masks a run kept of its pruning levels).

The store knows runs by their :class:`RunKey` ``(study, hash, seed)`` and writes them from
:class:`RunRecord` objects of plain JSON data; it imports nothing from :mod:`sparsernn.studies`.
"""

from sparsernn.results.load import flatten, load, load_metrics, tidy_dtypes
from sparsernn.results.masks import load_masks, pack_masks
from sparsernn.results.records import RunKey, RunRecord
from sparsernn.results.store import (
    complete_runs,
    finished_runs,
    is_complete,
    prepare_root,
    read_config,
    run_dir,
    run_status,
    write_run,
)

__all__ = [
    "RunKey",
    "RunRecord",
    "complete_runs",
    "finished_runs",
    "flatten",
    "is_complete",
    "load",
    "load_masks",
    "load_metrics",
    "pack_masks",
    "prepare_root",
    "read_config",
    "run_dir",
    "run_status",
    "tidy_dtypes",
    "write_run",
]
