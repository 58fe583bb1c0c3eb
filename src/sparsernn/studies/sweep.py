"""Running many runs: skip complete ones, hand the rest to a backend, write results as they arrive.

Backends are functions ``backend(configs, on_result, *, workers, progress, **options)`` that execute
every config somewhere and call ``on_result`` in the driver process for each finished run; the
driver alone writes the store. ``local`` (default) uses a process pool with one model per core and
one intra-op thread per worker; a single pending run gets all the workers for its own jobs. Local
runs keep finished pieces under the results folder (:mod:`sparsernn.studies.partial`), so a run
killed midway resumes from them; the sweep deletes them once the run is stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from sparsernn._registry import lookup, registry
from sparsernn.data.registry import check_files
from sparsernn.errors import ConfigError, SparsernnError
from sparsernn.results import prepare_root, run_dir, run_status, write_run
from sparsernn.results.store import stored_protocol
from sparsernn.studies.config import RunConfig, unique_runs
from sparsernn.studies.loggers import check_loggers, log_run, swept_fields
from sparsernn.studies.partial import discard
from sparsernn.studies.pool import one_thread, pool
from sparsernn.studies.recorder import RunResult
from sparsernn.studies.runner import execute

OnResult = Callable[[RunResult], None]
POOL_RESTARTS = 2  # a worker killed from outside breaks the pool; unfinished runs get a fresh one


def _run_in_pool(
    configs: list[RunConfig], on_result: OnResult, workers: int, partial_root: str | Path | None
) -> list[RunConfig]:
    """Run ``configs`` in one process pool; return those left unfinished if the pool broke."""
    remaining = {c.key: c for c in configs}
    with pool(workers) as executor:
        futures = {executor.submit(execute, c, partial_root=partial_root): c.key for c in configs}
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
    configs: Sequence[RunConfig],
    on_result: OnResult,
    *,
    workers: int = 1,
    progress: bool = False,
    partial_root: str | Path | None = None,
) -> None:
    """Execute ``configs`` in this process (``workers=1``) or in a pool of ``workers`` processes.

    ``partial_root``: the results folder under which runs keep finished pieces (none if ``None``).

    Every run gets one intra-op thread wherever it runs (here or in a pool worker), so its numbers
    do not depend on ``workers``. A single config runs in this process and
    gets ``workers`` passed on, so a protocol that splits its run into independent jobs (e.g.
    ``darji_pruning``) uses every core.
    """
    if workers == 1 or len(configs) == 1:
        with one_thread():  # as in a pool worker: results never depend on the worker count
            for config in configs:
                on_result(execute(config, progress=progress, workers=workers, partial_root=partial_root))
        return
    remaining = list(configs)
    for _ in range(POOL_RESTARTS + 1):
        remaining = _run_in_pool(remaining, on_result, workers, partial_root)
        if not remaining:
            return
    raise SparsernnError(
        f"worker processes kept dying; {len(remaining)} runs left unfinished (re-run to resume)"
    )


def _run_ray(configs: Sequence[RunConfig], on_result: OnResult, **options: Any) -> None:
    from sparsernn.studies.ray_backend import run_ray  # optional extra: imported only when asked for

    run_ray(configs, on_result, **options)


def _check_ray(**options: Any) -> None:
    from sparsernn.studies.ray_backend import check_ready

    check_ready(**options)


BACKENDS = registry({"local": run_local, "ray": _run_ray})
#: Backend name → checks run before anything else (a missing optional dependency, invalid options).
PREFLIGHT = registry({"ray": _check_ray})


@dataclass(frozen=True)
class SweepOutcome:
    """What a sweep did, one count per run of the recipe: ``skipped`` (complete before, ok), ``ok``
    (finished now), ``failed`` (failed now or before, ``failed_before`` of them before and not retried);
    ``failures`` holds one ``<run folder>: <reason>`` line per failed run; ``log_failures`` one line
    per run a tracker (``sparsernn.studies.loggers``) could not take (the run itself is stored)."""

    total: int
    skipped: int
    ok: int
    failed: int
    failures: list[str] = field(default_factory=list)
    failed_before: int = 0
    log_failures: list[str] = field(default_factory=list)


def _split(
    root: str | Path, configs: Sequence[RunConfig], retry_failed: bool
) -> tuple[list[RunConfig], int, list[str]]:
    """The runs to run, the number complete, and one line per failed run not retried (reads only)."""
    pending, skipped, failures = [], 0, []
    for config in configs:
        status = run_status(root, config)
        if status is None or (status[0] == "failed" and retry_failed):
            pending.append(config)
        elif status[0] == "failed":
            failures.append(f"{run_dir(root, config)}: {_first_line(status[1])} (failed before)")
        else:
            skipped += 1
    return pending, skipped, failures


def check_data(configs: Sequence[RunConfig], *, fetch: bool = False) -> None:
    """DataError naming the ``sparsernn data prepare`` command when a run's data files are missing;
    with ``fetch``, data the runs ask to download is downloaded here, once."""
    seen = set()
    for config in configs:
        key = (config.data.name, json.dumps(config.data.options, sort_keys=True, default=str))
        if key not in seen:
            seen.add(key)
            check_files(config.data.name, config.data.options, fetch=fetch)


def check_protocols(root: str | Path, configs: Sequence[RunConfig]) -> None:
    """Raise a one-line ConfigError when a study of ``configs`` already holds, under ``root``, runs of
    another protocol (a study name used again): one study's reports read all its runs as one protocol's."""
    for study in sorted({c.study for c in configs}):
        mine = sorted({c.protocol for c in configs if c.study == study})
        stored = stored_protocol(root, study)
        if stored is not None and stored not in mine:
            raise ConfigError(
                f"study {study!r} in {root} already holds runs of protocol {stored!r}; this recipe runs "
                f"{', '.join(map(repr, mine))}: give it another study name or results folder"
            )


def _on_this_machine(backend: str, address: str | None) -> bool:
    """Whether the runs read this machine's files: the local backend, or a Ray instance started here
    (no ``address``); a Ray cluster's nodes hold their own."""
    return backend == "local" or (backend == "ray" and address is None)


def _preflight(
    root: str | Path,
    configs: Sequence[RunConfig],
    pending: Sequence[RunConfig],
    here: bool,
    loggers: str | Sequence[str],
) -> tuple[str, ...]:
    """The studies' protocols against the stored runs, the trackers (names and packages) of every run
    and, when the runs read this machine's files (``here``), the data files of the runs to run; returns
    the tracker names."""
    check_protocols(root, configs)
    loggers = [loggers] if isinstance(loggers, str) else list(loggers)
    names = check_loggers([*loggers, *(name for config in configs for name in config.log)])
    if here:
        check_data(pending)
    return names


def check_before_running(
    configs: Sequence[RunConfig],
    root: str | Path,
    *,
    backend: str = "local",
    loggers: str | Sequence[str] = (),
    retry_failed: bool = False,
    address: str | None = None,
) -> None:
    """What :func:`run_sweep` checks before the first run, without running or writing anything
    (``sparsernn run --dry-run``): trackers, and the data files of the runs it would run."""
    configs = unique_runs(configs)
    here = _on_this_machine(backend, address)
    _preflight(root, configs, _split(root, configs, retry_failed)[0], here, loggers)


def _first_line(reason: str) -> str:
    return reason.strip().splitlines()[0] if reason.strip() else "(no reason recorded)"


def run_sweep(
    configs: Sequence[RunConfig],
    root: str | Path,
    *,
    backend: str = "local",
    workers: int = 1,
    progress: bool = True,
    retry_failed: bool = False,
    loggers: str | Sequence[str] = (),
    **options: Any,
) -> SweepOutcome:
    """Run every config not yet finished under ``root``; results are written as they arrive.

    Runs that failed before are not run again (they stay failed and are counted as failed) unless
    ``retry_failed``. The results folder is created and checked for writing before anything runs.

    Each finished run also goes to the trackers named in ``loggers`` and in the configs' ``log``
    (``sparsernn.studies.loggers``), whose packages are checked before anything runs. When the runs read
    this machine's files (the local backend, or Ray without ``address``) the data files of the runs to
    run are checked too (a run never downloads): data a recipe
    asks to download (``download: true``) is fetched once, before the first run; any other missing
    data set stops the sweep before the first run, naming the ``sparsernn data prepare`` command.
    """
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    run_backend = lookup(BACKENDS, backend, "backend")
    if backend in PREFLIGHT:
        PREFLIGHT[backend](workers=workers, **options)
    configs = unique_runs(configs)
    pending, skipped, failures = _split(root, configs, retry_failed)
    here = _on_this_machine(backend, options.get("address"))
    names = _preflight(root, configs, pending, here, loggers)
    swept = swept_fields(c.model_dump(mode="json", exclude={"study", "log"}) for c in configs)
    prepare_root(root)
    if here:
        check_data(pending, fetch=True)  # downloads what the runs ask for, once, before they start
    failed_before = len(failures)
    counts, log_failures = {"ok": 0, "failed": 0}, []
    bar = tqdm(total=len(pending), desc="runs", disable=not progress)

    def on_result(result: RunResult) -> None:
        record = result.record()
        write_run(root, record)  # the store first: it is the source of truth
        if result.status == "ok":
            discard(root, result.config)  # its finished pieces are of no further use
        # a failed run keeps them: --retry-failed resumes from its finished pieces, as after a kill
        log_failures.extend(log_run(root, names, record, swept))
        counts[result.status] += 1
        if result.status == "failed":
            failures.append(f"{run_dir(root, result.config)}: {_first_line(result.reason)}")
        bar.update(1)

    if run_backend is run_local:
        options["partial_root"] = root
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
    failed = counts["failed"] + failed_before
    return SweepOutcome(len(configs), skipped, counts["ok"], failed, failures, failed_before, log_failures)
