"""Sweep backend ``ray``: every run is a Ray task; results stream back to the driver, which alone writes.

Each run is one Ray core task with its own resources (``num_cpus_per_run``, optional GPUs and custom
resources) and ``max_retries`` automatic retries when its worker process or node dies. Finished runs
come back through ``ray.wait`` as they complete and are handed to ``on_result`` in the driver, so the
store is written by one process only (a crash of any worker can never leave a half-written folder
that counts as complete). A run is deterministic given its config, so a retried run gives the same
result as a run that never crashed.

Without ``address`` a private Ray instance is started on this machine, bound to 127.0.0.1 (no
dashboard, nothing listening on other interfaces, no network needed), and shut down afterwards.
With ``address`` the driver joins that cluster (``ray start --head ...``) and leaves it running.
Ray is an optional dependency: ``pip install 'sparsernn[ray]'``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any

import torch
from threadpoolctl import threadpool_limits

from sparsernn.errors import ConfigError, SparsernnError
from sparsernn.studies.config import RunConfig
from sparsernn.studies.recorder import RunResult
from sparsernn.studies.runner import execute

OnResult = Callable[[RunResult], None]
LOOPBACK = "127.0.0.1"


def _import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "the ray backend needs the optional dependency ray; install it with: pip install 'sparsernn[ray]'"
        ) from None
    return ray


def _check_options(workers: int, num_cpus_per_run: float, num_gpus_per_run: float, max_retries: int) -> None:
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be an integer ≥ 1, got {workers!r}")
    if not (
        isinstance(num_cpus_per_run, int | float) and math.isfinite(num_cpus_per_run) and num_cpus_per_run > 0
    ):
        raise ConfigError(
            f"num_cpus_per_run (--cpus-per-run) must be a finite number > 0, got {num_cpus_per_run!r}"
        )
    if not (
        isinstance(num_gpus_per_run, int | float)
        and math.isfinite(num_gpus_per_run)
        and num_gpus_per_run >= 0
    ):
        raise ConfigError(f"num_gpus_per_run must be a finite number ≥ 0, got {num_gpus_per_run!r}")
    if not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigError(f"max_retries must be an integer ≥ 0, got {max_retries!r}")


def check_ready(
    *,
    workers: int = 1,
    num_cpus_per_run: float = 1,
    num_gpus_per_run: float = 0,
    max_retries: int = 3,
    **_: Any,
) -> None:
    """ConfigError now, before any run or folder is made, if Ray is missing or an option is invalid."""
    _check_options(workers, num_cpus_per_run, num_gpus_per_run, max_retries)
    _import_ray()


def is_loopback(address: str | None) -> bool:
    """Whether a Ray address (``host:port``; None = a new local instance) points at this machine's loopback.

    Examples
    --------
    >>> is_loopback(None), is_loopback("127.0.0.1:6379"), is_loopback("localhost:6379")
    (True, True, True)
    >>> is_loopback("10.0.0.5:6379"), is_loopback("ray://head:10001")
    (False, False)
    """
    if address is None:
        return True
    if "://" in address:
        return False
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_port(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``[scheme://]host:port`` (IPv6 hosts in brackets)."""
    host, sep, port = address.split("://")[-1].rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"Ray address must look like host:port (e.g. 10.0.0.1:6379), got {address!r}")
    return host.strip("[]"), int(port)


def check_reachable(address: str, *, timeout: float = 5.0) -> None:
    """Raise ConfigError unless something accepts TCP connections at ``address``.

    ``ray.init`` retries an address nobody listens on for minutes; a plain connect fails at once.

    Examples
    --------
    >>> check_reachable("127.0.0.1:9", timeout=1.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sparsernn.errors.ConfigError: cannot reach the Ray cluster at 127.0.0.1:9 (...); start its head with `ray start --head --port PORT` or check the address
    """
    host, port = _host_port(address)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError(
            f"cannot reach the Ray cluster at {address} ({reason}); "
            "start its head with `ray start --head --port PORT` or check the address"
        ) from None


@contextlib.contextmanager
def _keep_loopback(ray: ModuleType) -> Iterator[None]:
    # Ray rewrites "127.0.0.1" to the machine's routable address, and then its servers listen on
    # every interface, unless its single-machine mode is on. That mode is a module constant read at
    # call time; switch it on for the duration of ``ray.init`` only (the processes Ray starts get
    # the resolved node address on their command line, so they stay on loopback too).
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    if constants is None or not hasattr(constants, "ENABLE_RAY_CLUSTER"):
        yield  # a Ray without the switch: checked after init instead
        return
    saved = constants.ENABLE_RAY_CLUSTER
    constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        constants.ENABLE_RAY_CLUSTER = saved


def connect(ray: ModuleType, address: str | None, *, num_cpus: int, temp_dir: str | None = None) -> bool:
    """Start a loopback-only local instance (``address`` None) or join a cluster; True if we must shut it down.

    An already initialised Ray session (e.g. in a notebook) is used as it is and left running.
    """
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"logging_level": "warning", "include_dashboard": False}
    if address is None:
        options.update(num_cpus=num_cpus, _node_ip_address=LOOPBACK)
        if temp_dir is not None:
            options["_temp_dir"] = temp_dir
    elif address != "auto":  # "auto": the cluster `ray start` last started on this machine
        check_reachable(address)
    # "local" always starts a new instance: never join a cluster named by RAY_ADDRESS by accident.
    target = "local" if address is None else address
    guard = _keep_loopback(ray) if is_loopback(address) else contextlib.nullcontext()
    with guard:
        try:
            ray.init(address=target, **options)
        except (ConnectionError, ValueError) as error:
            raise ConfigError(f"cannot connect to the Ray cluster at {address}: {error}") from None
    if address is None and ray.util.get_node_ip_address() != LOOPBACK:
        ray.shutdown()
        raise SparsernnError(
            "could not keep the local Ray instance on 127.0.0.1; start one with "
            "`ray start --head --node-ip-address 127.0.0.1` and pass its address"
        )
    return True


def execute_in_worker(config: RunConfig) -> RunResult:
    """The body of every Ray task: one intra-op thread (one run per core, as in the local pool), then run.

    Torch and NumPy/SciPy's BLAS are limited to one thread, exactly like the local pool's workers,
    so both backends compute the same numbers.

    Examples
    --------
    >>> from sparsernn.studies.config import make_config
    >>> execute_in_worker(make_config({"study": "s", "protocol": "train"})).status  # doctest: +SKIP
    'ok'
    """
    torch.set_num_threads(1)
    threadpool_limits(1)
    return execute(config)


def _crashed(config: RunConfig, error: BaseException, max_retries: int) -> RunResult:
    """A failed result for a run whose worker died on every one of its ``1 + max_retries`` attempts."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    reason = f"{type(error).__name__}: worker died on all {max_retries + 1} attempts ({first})"
    return RunResult(config=config, status="failed", summary={}, reason=reason)


def _collect(ray: ModuleType, ref: Any, config: RunConfig, max_retries: int) -> RunResult:
    """The result behind a finished task; a run that kept killing its worker becomes a failed run."""
    try:
        return ray.get(ref)
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.OutOfMemoryError) as error:
        # Attributable to this run (it crashed or exhausted memory every time): record it and go on.
        # Any other Ray error (lost cluster, ...) propagates: the sweep stops and a re-run resumes.
        return _crashed(config, error, max_retries)


def _stream(
    ray: ModuleType,
    task: Any,
    configs: Sequence[RunConfig],
    on_result: OnResult,
    *,
    workers: int,
    max_retries: int,
) -> None:
    """Keep at most ``workers`` runs in flight; hand each finished one to ``on_result`` as it arrives."""
    queue = list(reversed(configs))
    in_flight: dict[Any, RunConfig] = {}
    try:
        while queue or in_flight:
            while queue and len(in_flight) < workers:
                config = queue.pop()
                in_flight[task.remote(config)] = config
            done, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in done:
                on_result(_collect(ray, ref, in_flight.pop(ref), max_retries))
    finally:
        for ref in in_flight:  # after an error in the driver: do not leave tasks running on a cluster
            with contextlib.suppress(Exception):  # never hide the error that got us here
                ray.cancel(ref, force=True)


def run_ray(
    configs: Sequence[RunConfig],
    on_result: OnResult,
    *,
    workers: int = 1,
    progress: bool = False,
    address: str | None = None,
    num_cpus_per_run: float = 1,
    num_gpus_per_run: float = 0,
    resources_per_run: Mapping[str, float] | None = None,
    max_retries: int = 3,
    temp_dir: str | None = None,
) -> None:
    """Execute ``configs`` as Ray tasks and call ``on_result`` in this (driver) process for each finished run.

    Parameters
    ----------
    configs : sequence of RunConfig
        The runs to execute (the sweep driver has already left out complete ones).
    on_result : callable
        Called in the driver with each :class:`RunResult`, in completion order (it writes the store).
    workers : int
        Runs in flight at once; a new local instance also gets ``workers * num_cpus_per_run`` CPUs.
    progress : bool
        Ignored: per-run progress bars are not drawn in Ray workers (the driver shows one bar of runs).
    address : str, optional
        ``host:port`` of an existing cluster's head (``ray start --head --port PORT``), or ``"auto"``
        for the cluster last started on this machine; None starts a private instance on 127.0.0.1
        and shuts it down afterwards.
    num_cpus_per_run, num_gpus_per_run : float
        Resources Ray reserves for each run.
    resources_per_run : mapping, optional
        Custom Ray resources per run, e.g. ``{"bigmem": 1}``.
    max_retries : int
        Retries of a run whose worker process (or node) died; after the last one the run is recorded
        as failed with the reason and the sweep goes on.
    temp_dir : str, optional
        Root of a new local instance's session files (default: the system temp folder).

    Raises
    ------
    ConfigError
        Ray is not installed, an option is invalid, or the cluster cannot be reached.

    Examples
    --------
    >>> import sparsernn as sr
    >>> _, configs = sr.studies.load_recipe("recipes/smoke.yaml")  # doctest: +SKIP
    >>> sr.studies.run_sweep(configs, "results", backend="ray", workers=2)  # doctest: +SKIP
    """
    del progress  # a worker's bars would be interleaved in the driver's log
    _check_options(workers, num_cpus_per_run, num_gpus_per_run, max_retries)
    ray = _import_ray()  # even with nothing to run: asking for the backend without Ray is an error
    if not configs:
        return
    num_cpus = max(1, math.ceil(workers * num_cpus_per_run))
    owned = connect(ray, address, num_cpus=num_cpus, temp_dir=temp_dir)
    try:
        task = ray.remote(execute_in_worker).options(
            num_cpus=num_cpus_per_run,
            num_gpus=num_gpus_per_run,
            resources=dict(resources_per_run or {}),
            max_retries=max_retries,
            retry_exceptions=False,  # a run's own errors are results, never retried
        )
        _stream(ray, task, configs, on_result, workers=workers, max_retries=max_retries)
    finally:
        if owned:
            ray.shutdown()
