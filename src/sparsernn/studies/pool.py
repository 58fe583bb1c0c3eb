"""Processes for independent work: one model per core, one intra-op thread per process.

Both levels of parallelism use it: the local sweep backend runs whole runs in a pool, and a
protocol whose run splits into independent jobs (the 30 prune-and-recover jobs of the Darji
pruning study) maps them over the cores a run was given (:attr:`Recorder.workers`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

import torch
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

Item = TypeVar("Item")
Out = TypeVar("Out")


def init_worker() -> None:
    """Set up a pool process: one intra-op thread for torch and for NumPy/SciPy's BLAS, and an exit
    as soon as the process that started it dies (:func:`exit_with_parent`)."""
    torch.set_num_threads(1)
    threadpool_limits(1)
    exit_with_parent()


def exit_with_parent() -> None:
    """End this process as soon as its parent process dies, however it died.

    A driver killed with ``SIGTERM`` or ``SIGKILL`` does not stop its pool's workers: they would go on
    training (minutes to hours) for results nobody collects. A daemon thread blocks on the parent's
    sentinel (``multiprocessing.parent_process()``, ready when the parent is gone) and then exits the
    process at once. Does nothing in a process not started by ``multiprocessing``.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="sparsernn-exit-with-parent", daemon=True).start()


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run a block with one torch thread and one BLAS thread, as a pool worker would."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(threads)


def pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes with :func:`init_worker` (fork + torch threads can deadlock)."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=init_worker)


def map_ordered(
    fn: Callable[[Item], Out],
    items: Sequence[Item],
    *,
    workers: int = 1,
    progress: bool = False,
    desc: str = "jobs",
) -> list[Out]:
    """``[fn(item) for item in items]``, in ``workers`` processes when ``workers > 1``; order is kept.

    ``fn`` and the items must pickle (``fn`` a module-level function). With one worker (or one item)
    everything runs in this process, so the results are the same either way for deterministic ``fn``.

    Examples
    --------
    >>> map_ordered(abs, [-2, 3, -1])
    [2, 3, 1]
    """
    bar = tqdm(total=len(items), desc=desc, disable=not progress)
    try:
        if workers == 1 or len(items) <= 1:
            results = []
            for item in items:
                results.append(fn(item))
                bar.update(1)
            return results
        with pool(min(workers, len(items))) as executor:
            futures = [executor.submit(fn, item) for item in items]
            for future in futures:
                future.add_done_callback(lambda _: bar.update(1))
            return [future.result() for future in futures]
    finally:
        bar.close()
