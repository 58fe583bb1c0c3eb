"""Run store and tidy loading of results (``load`` one row per run, ``load_metrics`` long format)."""

from sparsernn.results.load import load, load_metrics
from sparsernn.results.store import complete_runs, is_complete, run_dir, write_run

__all__ = ["complete_runs", "is_complete", "load", "load_metrics", "run_dir", "write_run"]
