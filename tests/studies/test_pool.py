"""The process pool shared by sweeps and by protocols that split a run into jobs."""

from __future__ import annotations

import contextlib
import operator
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from sparsernn.studies.pool import map_ordered, one_thread


def test_map_ordered_keeps_order_in_workers_and_in_process():
    items = [(-3, 1), (5, -2), (0, 7), (4, 4)]
    expected = [operator.mul(*pair) for pair in items]
    assert map_ordered(_product, items, workers=2) == expected
    assert map_ordered(_product, items) == expected
    assert map_ordered(_product, [], workers=2) == []


def test_one_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def _product(pair: tuple[int, int]) -> int:
    return pair[0] * pair[1]


_DRIVER = """
import sys, time
from sparsernn.studies.pool import pool
executor = pool(1)
executor.submit(time.sleep, 120)
while not executor._processes:
    time.sleep(0.05)
time.sleep(1.0)  # let the worker start the task
print(*executor._processes, flush=True)
time.sleep(120)
"""


def test_workers_exit_when_their_driver_is_killed():
    # A bug until then: `kill <driver>` left the pool's workers running their tasks to the end.
    driver = subprocess.Popen([sys.executable, "-c", _DRIVER], stdout=subprocess.PIPE, text=True)
    try:
        (worker,) = (int(pid) for pid in driver.stdout.readline().split())
        assert _alive(worker)
        driver.send_signal(signal.SIGKILL)
        driver.wait(10)
        deadline = time.monotonic() + 20
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the pool worker outlived its driver"
    finally:
        driver.kill()
        driver.wait(10)


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie left to an init that does not reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True
