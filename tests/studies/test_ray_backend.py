"""The Ray sweep backend against real Ray: a private loopback instance and a two-node loopback cluster.

- a new local instance listens on 127.0.0.1 only;
- a run whose worker process dies is retried; one that kills its worker every time is recorded as
  failed with the reason and the sweep goes on;
- the smoke recipe through Ray gives exactly the metrics, summaries and checkpoints of the local
  backend (same seeds), and Ray is shut down afterwards;
- on a real cluster (``ray start --head`` + a worker node, both on 127.0.0.1, private auth token and
  temp dir) a sweep started with ``sparsernn run --backend ray --address`` completes with the
  reference results although a worker process executing a run is SIGKILLed mid-run and then the
  worker node's raylet is SIGKILLed while it executes another.

Every Ray process started here is ended by its process id in a finalizer (never ``ray stop``, which
would end every Ray process of the user on the machine); every test has a time limit.
"""

from __future__ import annotations

import contextlib
import doctest
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparsernn.errors import ConfigError
from sparsernn.results import complete_runs, load
from sparsernn.studies import load_recipe, ray_backend, run_sweep
from sparsernn.studies.config import make_config, run_hash
from sparsernn.studies.ray_backend import _crashed, _stream, connect, is_loopback, run_ray
from sparsernn.studies.recorder import RunResult

ray = pytest.importorskip("ray")
# One xdist worker runs every test here (`make test` uses --dist loadgroup): two Ray instances started
# at once on a loaded 2-core machine once starved a retried task's new worker for the whole timeout.
pytestmark = [pytest.mark.timeout(60), pytest.mark.xdist_group(name="ray")]

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "recipes" / "smoke.yaml"
TASK_TITLE = "ray::execute_in_worker"  # Ray's process title of a worker while it executes a run


# --- helpers: processes, sockets, results --------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    """Process ids of every descendant of ``pid`` (read from /proc)."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def title(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _socket_inodes(pids: list[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    return inodes


def _decode(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    # /proc/net/tcp* print each 32-bit word of the address in host (little-endian) order
    ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if len(ordered) == 4 else socket.AF_INET6, ordered)


def listening_addresses(pids: list[int]) -> set[str]:
    """Local addresses of every listening TCP socket owned by ``pids``."""
    inodes, found = _socket_inodes(pids), set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                found.add(_decode(fields[1].split(":")[0]))
    return found


def is_loopback_ip(address: str) -> bool:
    return address == "::1" or address.startswith("127.") or address.startswith("::ffff:127.")


def short_tempdir() -> str:
    # Ray's unix socket paths live under its temp dir and are limited to ~107 bytes.
    return tempfile.mkdtemp(prefix="sr-ray-", dir="/tmp")


# --- no Ray processes needed ---------------------------------------------------------------------


def test_is_loopback():
    assert is_loopback(None) and is_loopback("127.0.0.1:6379") and is_loopback("127.3.2.1:1")
    assert is_loopback("localhost:6379") and is_loopback("[::1]:6379")
    assert not is_loopback("10.1.2.3:6379") and not is_loopback("head-node:6379")
    assert not is_loopback("ray://127.0.0.1:10001")  # the Ray client protocol: left to Ray


def test_examples_run():
    result = doctest.testmod(ray_backend, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 4


@pytest.mark.timeout(30)
def test_unreachable_or_malformed_addresses_fail_fast_with_config_error():
    config = make_config({"study": "s"})
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound but not listening: connections are refused
        started = time.monotonic()
        with pytest.raises(ConfigError, match=f"cannot reach the Ray cluster at 127.0.0.1:{port}"):
            run_ray([config], lambda result: None, address=f"127.0.0.1:{port}")
    assert time.monotonic() - started < 10  # ray.init alone would retry for minutes
    for address in ("nohost", "10.0.0.1:", "10.0.0.1:http", "head:70000"):
        with pytest.raises(ConfigError, match="host:port"):
            run_ray([config], lambda result: None, address=address)
    assert not ray.is_initialized()


def test_missing_ray_is_a_config_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    config = make_config({"study": "s"})
    with pytest.raises(ConfigError, match=r"pip install 'sparsernn\[ray\]'"):
        run_ray([config], lambda result: None)
    with pytest.raises(ConfigError, match="optional dependency ray"):
        run_sweep([config], tmp_path / "results", backend="ray", progress=False)  # lazy dispatch
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"workers": 0}, "workers"),
        ({"num_cpus_per_run": 0}, "num_cpus_per_run"),
        ({"num_cpus_per_run": float("inf")}, "num_cpus_per_run"),  # overflowed Ray's CPU count
        ({"num_gpus_per_run": float("nan")}, "num_gpus_per_run"),
        ({"num_gpus_per_run": -1}, "num_gpus_per_run"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
    ],
)
def test_invalid_options_are_config_errors(options, field):
    with pytest.raises(ConfigError, match=field):
        run_ray([make_config({"study": "s"})], lambda result: None, **options)


def test_a_local_ray_instance_checks_this_machine_s_data_files_before_it_starts(tmp_path, monkeypatch):
    from sparsernn.errors import DataError

    config = make_config(
        {"study": "s", "data": {"name": "fashion_mnist", "options": {"root": str(tmp_path / "none")}}}
    )
    monkeypatch.setattr(ray_backend, "run_ray", lambda *a, **k: pytest.fail("Ray started"))
    with pytest.raises(DataError, match="fashion_mnist"):
        run_sweep([config], tmp_path / "results", backend="ray", progress=False)
    assert not (tmp_path / "results").exists() and not ray.is_initialized()


def test_crashed_run_result_names_the_reason():
    config = make_config({"study": "s"})
    result = _crashed(config, ray.exceptions.WorkerCrashedError(), max_retries=2)
    assert result.status == "failed" and result.config == config and result.files == {}
    assert result.reason.startswith("WorkerCrashedError: worker died on all 3 attempts")


# --- a private local instance ---------------------------------------------------------------------


@pytest.fixture
def local_ray() -> Iterator[str]:
    """A new local Ray instance started the way the backend starts one; always shut down."""
    assert not ray.is_initialized()
    folder = short_tempdir()
    try:
        assert connect(ray, None, num_cpus=2, temp_dir=folder) is True
        yield folder
    finally:
        ray.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.timeout(300)  # a loaded 2-core machine needs minutes to start a cluster
def test_local_instance_listens_on_loopback_only_and_retries_dead_workers(local_ray, tmp_path):
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    ours = [os.getpid(), *descendants(os.getpid())]
    assert any("raylet" in title(pid) for pid in ours)  # the instance's processes are ours
    addresses = listening_addresses(ours)
    assert addresses and all(is_loopback_ip(a) for a in addresses), addresses
    assert connect(ray, None, num_cpus=2) is False  # a running session is used, and left running

    attempts = tmp_path / "attempts"
    attempts.mkdir()

    def flaky(config):
        # Counts its attempts in a file; seed 0 dies on its first attempt, seed 1 on every one.
        marker = attempts / str(config.seed)
        with marker.open("a") as handle:
            handle.write("x")
        count = len(marker.read_text())
        if config.seed == 1 or (config.seed == 0 and count == 1):
            os.kill(os.getpid(), signal.SIGKILL)
        return RunResult(config, "ok", {"attempts": count})

    task = ray.remote(flaky).options(num_cpus=1, max_retries=2, retry_exceptions=False)
    configs = [make_config({"study": "s", "seed": seed}) for seed in (0, 1, 2)]
    results: list[RunResult] = []
    _stream(ray, task, configs, results.append, workers=2, max_retries=2)

    by_seed = {r.config.seed: r for r in results}
    assert len(results) == 3 and sorted(by_seed) == [0, 1, 2]  # each run reported exactly once
    assert by_seed[0].status == "ok" and by_seed[0].summary == {"attempts": 2}  # retried once
    assert by_seed[2].status == "ok" and by_seed[2].summary == {"attempts": 1}
    assert by_seed[1].status == "failed" and "died on all 3 attempts" in by_seed[1].reason
    assert len((attempts / "1").read_text()) == 3  # 1 + max_retries attempts, then given up


@pytest.mark.timeout(300)
def test_same_results_as_local_backend_and_instance_shut_down(reference, snapshot, tmp_path):
    assert not ray.is_initialized()
    _, configs = load_recipe(SMOKE)
    folder = short_tempdir()
    try:
        outcome = run_sweep(configs, tmp_path, backend="ray", workers=2, progress=False, temp_dir=folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert not ray.is_initialized()  # the backend shut down the instance it started
    assert not [pid for pid in descendants(os.getpid()) if "raylet" in title(pid)]
    assert (outcome.total, outcome.ok, outcome.failed) == (len(configs), len(configs), 0)
    assert snapshot(tmp_path) == reference
    assert sorted(load(tmp_path)["run"]) == sorted(f"{run_hash(c)}/seed_{c.seed}" for c in configs)


# --- a real two-node cluster on loopback -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# `ray start` for a node joining a cluster refuses Ray's single-machine mode, the only switch that
# stops Ray from rewriting 127.0.0.1 to the machine's routable address; keep its address as given.
JOIN = (
    "import sys, ray._private.services as s; s.resolve_ip_for_localhost = lambda host: host; "
    "from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()"
)


def _wait_started(process: subprocess.Popen, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if "Ray runtime started" in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"ray node did not start:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(processes: list[subprocess.Popen], marker: str) -> None:
    """End the `ray start --block` processes and everything they started, by process id."""
    pids = {pid for p in processes for pid in [p.pid, *descendants(p.pid)]}
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # `ray start --block` stops its node's processes
    deadline = time.monotonic() + 15
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
    # Anything left: our node's processes (children of the ones above, or naming our temp dir).
    left = {pid for pid in pids if Path(f"/proc/{pid}").exists()}
    left |= {
        int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and marker in title(int(p.name))
    }
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _start_node(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start one `ray start --block` node in its own session, its output going to ``log``."""
    with log.open("w") as handle:  # the child keeps its own copy of the descriptor
        node = subprocess.Popen(
            command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    return node


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict]:
    """Head + worker node on 127.0.0.1 (1 CPU each), private token and temp dir; torn down by pid."""
    folder = Path(short_tempdir())
    token = folder / "token"
    token.write_text(secrets.token_hex(32))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token), RAY_USAGE_STATS_ENABLED="0")
    port = _free_port()
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats"]
    common += ["--temp-dir", str(folder / "ray"), "--block"]
    # A free dashboard port too: even without the dashboard, its minimal server binds one.
    head_command = [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--port", str(port)]
    head_command += ["--dashboard-port", str(_free_port()), "--include-dashboard", "false", *common]
    join_command = [sys.executable, "-c", JOIN, "start", "--address", f"127.0.0.1:{port}", *common]
    processes: list[subprocess.Popen] = []
    try:
        deadline = time.monotonic() + 90
        head_env = {**env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # keeps the head on 127.0.0.1
        processes.append(_start_node(head_command, head_env, folder / "head.log"))
        _wait_started(processes[0], folder / "head.log", deadline)
        processes.append(_start_node(join_command, env, folder / "worker.log"))
        _wait_started(processes[1], folder / "worker.log", deadline)
        ours = [pid for p in processes for pid in [p.pid, *descendants(p.pid)]]
        addresses = listening_addresses(ours)
        assert addresses and all(is_loopback_ip(a) for a in addresses), addresses
        yield {"address": f"127.0.0.1:{port}", "env": env, "head": processes[0], "worker": processes[1]}
    finally:
        _stop(processes, str(folder))
        shutil.rmtree(folder, ignore_errors=True)


def _kill_a_running_task(node: subprocess.Popen, driver: subprocess.Popen, deadline: float) -> int | None:
    """SIGKILL the first worker process of ``node`` seen executing a run; its pid (None if none seen)."""
    while time.monotonic() < deadline and driver.poll() is None:
        for pid in descendants(node.pid):
            if title(pid).startswith(TASK_TITLE):
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.05)
    return None


def _kill_node_while_running(node: subprocess.Popen, driver: subprocess.Popen, deadline: float) -> int | None:
    """SIGKILL the raylet of ``node`` while one of its workers executes a run; the raylet's pid."""
    while time.monotonic() < deadline and driver.poll() is None:
        pids = descendants(node.pid)
        raylets = [pid for pid in pids if "/raylet/raylet" in title(pid)]
        if raylets and any(title(pid).startswith(TASK_TITLE) for pid in pids):
            os.kill(raylets[0], signal.SIGKILL)
            return raylets[0]
        time.sleep(0.05)
    return None


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_cluster_sweep_survives_a_killed_worker_and_a_lost_node(cluster, reference, snapshot, tmp_path):
    _, configs = load_recipe(SMOKE)
    total = len(configs)
    command = [str(Path(sys.executable).parent / "sparsernn"), "run", str(SMOKE), "--results", str(tmp_path)]
    command += ["--backend", "ray", "--address", cluster["address"], "--workers", "2", "--quiet"]
    started = time.monotonic()
    driver = subprocess.Popen(command, env=cluster["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Fault 1: a worker process dies while executing a run (the run is retried).
        worker = _kill_a_running_task(cluster["worker"], driver, time.monotonic() + 90)
        after_first = len(complete_runs(tmp_path))
        # Fault 2: the whole worker node goes away while it executes a run (retried on the head).
        raylet = _kill_node_while_running(cluster["worker"], driver, time.monotonic() + 90)
        after_second = len(complete_runs(tmp_path))
        out, err = driver.communicate(timeout=150)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert worker is not None, "no run was seen executing on the worker node"
    assert driver.returncode == 0, err.decode()[-3000:]
    # Ray's own log lines (the deaths) go to the driver's output too: find the summary line.
    assert f"{total} runs: 0 already complete, {total} finished, 0 failed" in out.decode().splitlines()
    assert snapshot(tmp_path) == reference  # retried runs equal runs that never crashed
    print(f"\nray fault 1, worker process {worker} SIGKILLed mid-run: {after_first}/{total} complete then")
    if raylet is not None:
        print(
            f"ray fault 2, worker node raylet {raylet} SIGKILLed mid-run: {after_second}/{total} complete then"
        )
    print(
        f"sweep finished: {len(complete_runs(tmp_path))}/{total} complete, {time.monotonic() - started:.1f} s"
    )
