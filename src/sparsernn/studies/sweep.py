"""Running many runs: skip complete ones, hand the rest to a backend, write results as they arrive.

Backends are functions ``backend(configs, on_result, *, workers, progress, **options)`` that execute
every config somewhere and call ``on_result`` in the driver process for each finished run; the
driver alone writes the store. ``local`` (default) uses a process pool with one model per core and
one intra-op thread per worker; a single pending run gets all the workers for its own jobs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from sparsernn._registry import lookup, registry
from sparsernn.errors import ConfigError, SparsernnError
from sparsernn.results.store import is_complete, run_dir, write_run
from sparsernn.studies.config import RunConfig, run_hash
from sparsernn.studies.pool import one_thread, pool
from sparsernn.studies.recorder import RunResult
from sparsernn.studies.runner import execute

OnResult = Callable[[RunResult], None]
POOL_RESTARTS = 2  # a worker killed from outside breaks the pool; unfinished runs get a fresh one


def _run_in_pool(configs: list[RunConfig], on_result: OnResult, workers: int) -> list[RunConfig]:
    """Run ``configs`` in one process pool; return those left unfinished if the pool broke."""
    remaining = {run_dir("", c): c for c in configs}
    with pool(workers) as executor:
        futures = {executor.submit(execute, c): run_dir("", c) for c in configs}
        try:
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    key = futures.pop(future)
                    on_result(future.result())
                    remaining.pop(key)
        except BrokenProcessPool:
            for future, key in futures.items():  # runs that finished before the pool broke still count
                if future.done() and not future.cancelled() and future.exception() is None:
                    on_result(future.result())
                    remaining.pop(key)
            return list(remaining.values())
    return []


def run_local(
    configs: Sequence[RunConfig], on_result: OnResult, *, workers: int = 1, progress: bool = False
) -> None:
    """Execute ``configs`` in this process (``workers=1``) or in a pool of ``workers`` processes.

    A single config runs in this process (with one thread, as in a pool, when ``workers > 1``) and
    gets ``workers`` passed on, so a protocol that splits its run into independent jobs (e.g.
    ``darji_pruning``) uses every core.
    """
    if workers == 1 or len(configs) == 1:
        with one_thread() if workers > 1 else contextlib.nullcontext():
            for config in configs:
                on_result(execute(config, progress=progress, workers=workers))
        return
    remaining = list(configs)
    for _ in range(POOL_RESTARTS + 1):
        remaining = _run_in_pool(remaining, on_result, workers)
        if not remaining:
            return
    raise SparsernnError(
        f"worker processes kept dying; {len(remaining)} runs left unfinished (re-run to resume)"
    )


def _run_ray(configs: Sequence[RunConfig], on_result: OnResult, **options: Any) -> None:
    from sparsernn.studies.ray_backend import run_ray  # optional extra: imported only when asked for

    run_ray(configs, on_result, **options)


BACKENDS = registry({"local": run_local, "ray": _run_ray})


@dataclass(frozen=True)
class SweepOutcome:
    """What a sweep did: runs in the recipe, skipped as complete, finished ok, failed (with reasons)."""

    total: int
    skipped: int
    ok: int
    failed: int
    failures: list[str] = field(default_factory=list)


def unique_runs(configs: Sequence[RunConfig]) -> list[RunConfig]:
    """Drop configs that describe the same run (same study, hash and seed), keeping the first."""
    seen: dict[tuple[str, str, int], RunConfig] = {}
    for config in configs:
        seen.setdefault((config.study, run_hash(config), config.seed), config)
    return list(seen.values())


def run_sweep(
    configs: Sequence[RunConfig],
    root: str | Path,
    *,
    backend: str = "local",
    workers: int = 1,
    progress: bool = True,
    retry_failed: bool = False,
    **options: Any,
) -> SweepOutcome:
    """Run every config not yet complete under ``root``; results are written as they arrive."""
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    run_backend = lookup(BACKENDS, backend, "backend")
    configs = unique_runs(configs)
    pending = [c for c in configs if not is_complete(root, c, retry_failed=retry_failed)]
    counts = {"ok": 0, "failed": 0}
    failures: list[str] = []
    bar = tqdm(total=len(pending), desc="runs", disable=not progress)

    def on_result(result: RunResult) -> None:
        write_run(root, result)
        counts[result.status] += 1
        if result.status == "failed":
            failures.append(f"{run_dir(root, result.config)}: {result.reason.splitlines()[0]}")
        bar.update(1)

    try:
        run_backend(
            pending,
            on_result,
            workers=workers,
            progress=progress and (workers == 1 or len(pending) == 1),
            **options,
        )
    finally:
        bar.close()
    return SweepOutcome(len(configs), len(configs) - len(pending), counts["ok"], counts["failed"], failures)
