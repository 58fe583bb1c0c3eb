"""Crash safety of the local backend: SIGKILL the sweep driver at random moments, re-run, compare.

``sparsernn run recipes/smoke.yaml --workers 2`` is started as a subprocess and killed (SIGKILL, no
chance to clean up) at seeded random moments: before any run finished, between runs, right after a
write. After every kill the store may only hold complete runs (summary present, every file whole and
equal to an uninterrupted run's) and folders that are not counted; the same command re-run then
finishes exactly the missing runs, once each, with results equal to an uninterrupted run's.
A pool worker SIGKILLed mid-run breaks the pool; the sweep goes on in a fresh one. Another test
kills a writer inside ``write_run`` just before the summary is renamed into place. The kill schedule
is seeded; ``SPARSERNN_CRASH_SEED=<int>`` replays another one.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sparsernn.results import complete_runs, is_complete, load, run_dir, write_run
from sparsernn.studies.config import make_config, run_hash
from sparsernn.studies.recorder import RunResult

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "recipes" / "smoke.yaml"
KILLS = 3  # bounded: three kills, then one uninterrupted re-run
pytestmark = pytest.mark.timeout(60)
SEED = int(os.environ.get("SPARSERNN_CRASH_SEED", "20240521"))


def _descendants(pid: int) -> list[int]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _command(results: Path) -> list[str]:
    cli = Path(sys.executable).parent / "sparsernn"
    return [str(cli), "run", str(SMOKE), "--results", str(results), "--workers", "2", "--quiet"]


def _kill_after(driver: subprocess.Popen, results: Path, finished: int, extra: float, limit: float) -> bool:
    """SIGKILL ``driver`` ``extra`` seconds after ``finished`` more runs completed; False if it ended first."""
    before = len(complete_runs(results))
    deadline = time.monotonic() + limit
    while len(complete_runs(results)) < before + finished and time.monotonic() < deadline:
        if driver.poll() is not None:
            return False
        time.sleep(0.02)
    time.sleep(extra)
    workers = _descendants(driver.pid)  # the pool's processes, ended with the driver (by pid)
    if driver.poll() is not None:
        return False
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=10)
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return True


def _stamps(results: Path) -> dict[str, tuple[int, int]]:
    """Inode and modification time of every summary: a run written twice would change them."""
    stamps = {}
    for folder in complete_runs(results) if results.exists() else []:
        stat = (folder / "summary.json").stat()
        stamps[f"{folder.parent.name}/{folder.name}"] = (stat.st_ino, stat.st_mtime_ns)
    return stamps


def _check_store(results: Path, reference: dict[str, dict], snapshot) -> int:
    """Invariants after a crash: complete runs are whole and equal the reference; the rest is not counted."""
    done = snapshot(results)
    for run, content in done.items():
        assert content == reference[run], f"{run} differs from an uninterrupted run"
    folders = {f"{f.parent.name}/{f.name}" for f in results.glob("smoke/*/seed_*")}
    assert folders <= set(reference)  # no stray folders: at most one per run of the recipe
    assert len(load(results)) == len(done)  # folders without a summary are not counted
    return len(done)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sigkill_of_the_driver_at_random_moments_then_resume(reference, snapshot, tmp_path):
    rng = random.Random(SEED)
    results = tmp_path / "results"
    total = len(reference)
    log, stamps = [], {}
    for kill in range(KILLS):
        complete = len(stamps)
        if complete == total:
            break
        # A random number of runs to let finish (0 = kill during start-up or the first run), then
        # a random extra delay, so kills land before, between and right after writes.
        finished = rng.randrange(0, total - complete)
        extra = rng.choice([rng.uniform(0.0, 0.05), rng.uniform(0.0, 0.8)])  # a smoke run takes ~0.5 s
        driver = subprocess.Popen(_command(results), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        killed = _kill_after(driver, results, finished, extra, limit=90)
        _, err = driver.communicate(timeout=60)
        assert killed or driver.returncode == 0, err.decode()[-2000:]
        count = _check_store(results, reference, snapshot) if results.exists() else 0
        now = _stamps(results)
        assert {run: now[run] for run in stamps} == stamps  # complete runs are never written again
        stamps = now
        log.append((kill + 1, finished, round(extra, 3), killed, count))
    out = subprocess.run(_command(results), capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    # Exactly the missing runs are executed (each once); the complete ones are skipped, untouched.
    before = len(stamps)
    expected = f"{total} runs: {before} already complete, {total - before} finished, 0 failed"
    assert expected in out.stdout.decode().splitlines()
    assert _check_store(results, reference, snapshot) == total
    assert {run: stamp for run, stamp in _stamps(results).items() if run in stamps} == stamps
    assert snapshot(results) == reference
    for kill, finished, extra, killed, count in log:
        what = (
            f"SIGKILL after {finished} more run(s) + {extra} s" if killed else "no kill (sweep ended first)"
        )
        print(f"\nfault {kill}: {what}: {count}/{total} runs complete")
    print(f"\nre-run: {before}/{total} already complete, {total - before} finished, {total}/{total} complete")


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_sigkill_of_a_pool_worker_mid_run_the_sweep_still_completes(reference, snapshot, tmp_path):
    results = tmp_path / "results"
    total = len(reference)
    driver = subprocess.Popen(_command(results), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killed = None
    try:
        deadline = time.monotonic() + 90
        # Once a run is complete the workers are warm and busy with the next runs: kill one of them.
        while killed is None and driver.poll() is None and time.monotonic() < deadline:
            if results.exists() and complete_runs(results):
                workers = [p for p in _descendants(driver.pid) if "spawn_main" in _cmdline(p)]
                if workers:
                    os.kill(workers[0], signal.SIGKILL)
                    killed = len(complete_runs(results))
            time.sleep(0.02)
        out, err = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert killed is not None and killed < total, "the sweep ended before a worker could be killed"
    assert driver.returncode == 0, err.decode()[-2000:]
    assert f"{total} runs: 0 already complete, {total} finished, 0 failed" in out.decode().splitlines()
    assert snapshot(results) == reference  # the runs redone in a fresh pool equal uninterrupted ones
    print(f"\npool worker SIGKILLed with {killed}/{total} complete: sweep finished {total}/{total}")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from sparsernn.results import store
    from sparsernn.studies.config import make_config
    from sparsernn.studies.recorder import RunResult

    real_replace = os.replace

    def replace(src, dst):
        # Die (SIGKILL: no cleanup) at the very moment the summary would become visible.
        if os.path.basename(dst) == "summary.json":
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)

    store.os.replace = replace
    config = make_config({"study": "crash", "seed": 3})
    rows = [{"epoch": 1, "values": {"loss": 1.0}}]
    store.write_run(sys.argv[1], RunResult(config, "ok", {"acc": 0.5}, rows, {"model.safetensors": b"weights"}))
    """
)


@pytest.mark.timeout(60)
def test_kill_inside_write_run_leaves_an_uncounted_folder_that_is_redone(tmp_path):
    out = subprocess.run([sys.executable, "-c", WRITER, str(tmp_path)], capture_output=True, timeout=50)
    assert out.returncode == -signal.SIGKILL, out.stderr.decode()
    config = make_config({"study": "crash", "seed": 3})
    folder = run_dir(tmp_path, config)
    left = sorted(p.name for p in folder.iterdir())
    assert "summary.json" not in left and "config.json" in left and "model.safetensors" in left
    assert any(name.startswith(".summary.json.") for name in left)  # the temp file of the torn write
    assert not is_complete(tmp_path, config)
    assert complete_runs(tmp_path) == [] and len(load(tmp_path)) == 0
    # The sweep redoes it: the folder is cleared and written whole, once.
    rows = [{"epoch": 1, "values": {"loss": 1.0}}]
    write_run(tmp_path, RunResult(config, "ok", {"acc": 0.5}, rows, {"model.safetensors": b"weights"}))
    assert is_complete(tmp_path, config) and complete_runs(tmp_path) == [folder]
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "metrics.jsonl",
        "model.safetensors",
        "summary.json",
    ]
    assert json.loads((folder / "config.json").read_text())["hash"] == run_hash(config)
    assert load(tmp_path)["acc"].tolist() == [0.5]
