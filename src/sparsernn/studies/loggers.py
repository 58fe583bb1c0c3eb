"""Experiment trackers: every finished run's metrics also sent to TensorBoard, CSV or MLflow.

The sweep driver forwards each finished run (its :class:`~sparsernn.results.records.RunRecord`:
config, metric rows, summary) to the chosen loggers right after the store has written it, so the
same code serves every backend (process pool, Ray) and the run store stays the source of truth: a
logger that fails is reported (``SweepOutcome.log_failures``) and never loses a run. Choose
loggers with ``sparsernn run --log NAME`` (several allowed) or a recipe's ``log: [csv, tensorboard]``;
a recipe's logging choice is not part of its runs' identity (not in the hash, not in ``config.json``).

Each logger writes one tracker run per study run under ``<results>/_trackers/<logger>/`` (a folder
no study can be named: study names start with a letter or digit):

- ``csv`` (always available): ``<study>/<hash>/seed_<k>.csv``, one tidy row per metric value with
  the columns ``run`` (``<hash>/seed_<k>``, as in :func:`sparsernn.results.load_metrics`), ``study,
  seed, status``, the swept config fields, the row's index fields (``epoch``, ``phase``, ...),
  ``name, value``.
- ``tensorboard`` (extra ``sparsernn[tensorboard]``): torch's ``SummaryWriter`` into
  ``<study>/<hash>/seed_<k>/``; browse with ``tensorboard --logdir <results>/_trackers/tensorboard``.
- ``mlflow`` (extra ``sparsernn[mlflow]``): a local SQLite store ``mlflow.db``, one experiment per
  study, one MLflow run per study run named ``<hash>/seed_<k>``; browse with
  ``mlflow ui --backend-store-uri sqlite:///<results>/_trackers/mlflow/mlflow.db``. MLflow cannot
  store ±inf (it would keep ±1.8e308), so an infinite value (a weighted Δ_S of a layer with μ0 < 1) is
  logged as NaN there; CSV and TensorBoard keep it.

TensorBoard and MLflow take scalar series ``(tag, step, value)`` (:func:`points`): the tag is the
metric name followed by the row's other index fields as ``key:value`` (``accuracy/phase:dense``);
the step is the row's ``step``, ``epoch`` or ``graph_epoch`` field, or else the point's position
among the points of its tag. Both are tagged with the config: the flattened config as parameters
(TensorBoard hparams, MLflow params) and ``study``, ``hash``, ``seed``, ``status`` and the swept
values as tags. Re-running a failed run replaces its tracker run; runs already complete when a
sweep starts are skipped, so they are not sent again (their metrics stay in the store:
:func:`sparsernn.results.load_metrics`).

From Python: ``sr.studies.run(recipe, loggers=["csv"])`` or ``run_sweep(configs, root, loggers=...)``.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparsernn._io import write_atomic
from sparsernn._registry import lookup, registry
from sparsernn.errors import ConfigError
from sparsernn.results.load import flatten
from sparsernn.results.records import RunKey, RunRecord

TRACKERS_FOLDER = "_trackers"
STEP_FIELDS = ("step", "epoch", "graph_epoch")  # index fields that are a series' x axis
TIMINGS = ("wall_s", "resumed_s")  # how long a run took, not what it computed: never logged as metrics


@dataclass(frozen=True)
class TrackedRun:
    """What a logger receives for one finished run.

    ``params`` is the flattened config (:func:`~sparsernn.results.flatten`: dotted names, lists as
    JSON text); ``tags`` names the run:
    ``study``, ``hash``, ``seed``, ``run``, ``status`` and each swept field with its value;
    ``swept`` are the swept field names; ``summary`` the run's scalar summary values.
    """

    key: RunKey
    status: str
    params: dict[str, Any]
    tags: dict[str, str]
    swept: tuple[str, ...]
    rows: list[dict[str, Any]]
    summary: dict[str, float]


@dataclass(frozen=True)
class Logger:
    """A tracker: ``write(folder, run)`` writes one run under ``folder``; ``requires`` are the modules
    it imports, installed by the package extra ``extra``."""

    write: Callable[[Path, TrackedRun], None]
    requires: tuple[str, ...] = ()
    extra: str = ""


def swept_fields(configs: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The dotted config fields whose values differ between ``configs`` (seed and hash left out).

    Examples
    --------
    >>> swept_fields([{"seed": 0, "model": {"cell": "gru"}}, {"seed": 1, "model": {"cell": "lstm"}}])
    ('model.cell',)
    """
    flats = [flatten(dict(c)) for c in configs]
    names = {name for flat in flats for name in flat} - {"seed", "hash", "log"}
    names -= {name.rsplit(".", 1)[0] for name in names}  # an empty section ({}) where others have fields
    missing = object()
    return tuple(sorted(n for n in names if len({repr(f.get(n, missing)) for f in flats}) > 1))


def tracked_run(record: RunRecord, swept: Sequence[str] = ()) -> TrackedRun:
    """The :class:`TrackedRun` of a finished run's record."""
    key, params = record.key, flatten({**record.config, "hash": record.key.hash})
    status = str(record.summary.get("status", "ok"))
    tags = {"study": key.study, "hash": key.hash, "seed": str(key.seed), "run": key.name, "status": status}
    tags.update({name: str(params.get(name)) for name in swept})
    summary = {
        name: float(value)
        for name, value in record.summary.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and name not in TIMINGS
    }
    return TrackedRun(key, status, params, tags, tuple(swept), list(record.rows), summary)


def points(rows: Iterable[Mapping[str, Any]]) -> list[tuple[str, int, float]]:
    """Scalar series ``(tag, step, value)`` of metric rows (index fields plus ``values``); a missing
    value (``None``) becomes NaN.

    Examples
    --------
    >>> points([{"epoch": 1, "phase": "dense", "values": {"accuracy": 0.5}},
    ...         {"phase": "pruned", "level": 0.9, "values": {"loss": None}}])
    [('accuracy/phase:dense', 1, 0.5), ('loss/phase:pruned/level:0.9', 0, nan)]
    """
    seen: dict[str, int] = {}
    out = []
    for row in rows:
        index = {k: v for k, v in row.items() if k != "values"}
        step_field = next((f for f in STEP_FIELDS if isinstance(index.get(f), int)), None)
        suffix = "".join(f"/{k}:{v}" for k, v in index.items() if k != step_field)
        for name, value in row["values"].items():
            tag = f"{name}{suffix}"
            step = index[step_field] if step_field else seen.get(tag, 0)
            seen[tag] = seen.get(tag, 0) + 1
            out.append((tag, int(step), math.nan if value is None else float(value)))
    return out


def _write_csv(folder: Path, run: TrackedRun) -> None:
    import pandas as pd

    identity = {"run": run.key.name, "study": run.key.study, "seed": run.key.seed, "status": run.status}
    identity.update({name: run.params.get(name) for name in run.swept})
    records = [
        {**identity, **{k: v for k, v in row.items() if k != "values"}, "name": name, "value": value}
        for row in run.rows
        for name, value in row["values"].items()
    ]
    frame = pd.DataFrame(records, columns=None if records else [*identity, "name", "value"])
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    write_atomic(
        folder / run.key.study / run.key.hash / f"seed_{run.key.seed}.csv", buffer.getvalue().encode()
    )


def _hparam(value: Any) -> Any:
    return value if isinstance(value, bool | int | float | str) else json.dumps(value)


def _write_tensorboard(folder: Path, run: TrackedRun) -> None:
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    target = run.key.folder(folder)
    if target.exists():
        shutil.rmtree(target)  # the run is being redone: one tracker run per study run
    writer = SummaryWriter(log_dir=str(target))
    try:
        for tag, step, value in points(run.rows):
            writer.add_scalar(tag, value, global_step=step)
        metrics = {f"summary/{name}": value for name, value in run.summary.items()}
        for tag, value in metrics.items():
            writer.add_scalar(tag, value, global_step=0)
        values = {**{k: _hparam(v) for k, v in run.params.items()}, **run.tags}
        for summary in hparams(values, metrics):
            writer.file_writer.add_summary(summary)
        writer.add_text("config", json.dumps(run.params, indent=1, sort_keys=True))
    finally:
        writer.close()


_MLFLOW_NAME = re.compile(r"[^\w./\- :]")  # characters MLflow refuses in metric and param names
MLFLOW_PARAMS, MLFLOW_METRICS = 100, 1000  # the most MLflow takes in one batch


def mlflow_uri(folder: Path) -> str:
    """The tracking URI of the local MLflow store in ``folder`` (a SQLite database)."""
    return f"sqlite:///{(folder / 'mlflow.db').resolve()}"


def _write_mlflow(folder: Path, run: TrackedRun) -> None:
    from mlflow.entities import Metric, Param, RunStatus
    from mlflow.tracking import MlflowClient

    folder.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=mlflow_uri(folder))
    found = client.get_experiment_by_name(run.key.study)
    experiment = found.experiment_id if found else client.create_experiment(run.key.study)
    query = f"tags.`sparsernn.run` = '{run.key.name}'"
    for old in client.search_runs([experiment], filter_string=query):
        client.delete_run(old.info.run_id)  # the run is being redone: one tracker run per study run
    tags = {f"sparsernn.{k}": v for k, v in run.tags.items()}
    mlflow_run = client.create_run(experiment, tags=tags, run_name=run.key.name)
    run_id = mlflow_run.info.run_id
    params = [Param(_MLFLOW_NAME.sub("_", k), str(v)[:6000]) for k, v in run.params.items()]
    series = points(run.rows) + [(f"summary/{k}", 0, v) for k, v in run.summary.items()]
    # MLflow's store would keep ±inf as ±1.8e308, a number no run computed: they go in as NaN (undefined)
    metrics = [
        Metric(_MLFLOW_NAME.sub("_", tag), value if not math.isinf(value) else math.nan, 0, step)
        for tag, step, value in series
    ]
    for start in range(0, len(params), MLFLOW_PARAMS):
        client.log_batch(run_id, params=params[start : start + MLFLOW_PARAMS])
    for start in range(0, len(metrics), MLFLOW_METRICS):
        client.log_batch(run_id, metrics=metrics[start : start + MLFLOW_METRICS])
    status = RunStatus.FINISHED if run.status == "ok" else RunStatus.FAILED
    client.set_terminated(run_id, RunStatus.to_string(status))


#: Logger name → :class:`Logger` (the extension point of ``--log``).
LOGGERS = registry(
    {
        "csv": Logger(_write_csv),
        "tensorboard": Logger(_write_tensorboard, ("tensorboard",), "tensorboard"),
        "mlflow": Logger(_write_mlflow, ("mlflow", "sqlalchemy", "alembic"), "mlflow"),
    }
)


def check_loggers(names: Iterable[str]) -> tuple[str, ...]:
    """The distinct logger names of ``names`` in order, each known and with its packages installed.

    Called before the first run, so a missing package fails at once, naming the extra to install.

    Examples
    --------
    >>> check_loggers(["csv", "csv"])
    ('csv',)
    >>> check_loggers(["tb"])
    Traceback (most recent call last):
    ...
    sparsernn.errors.ConfigError: unknown logger 'tb'; choose from csv, mlflow, tensorboard
    """
    names = tuple(dict.fromkeys(names))
    for name in names:
        logger = lookup(LOGGERS, name, "logger")
        for module in logger.requires:
            if importlib.util.find_spec(module) is None:
                raise ConfigError(
                    f"logger {name!r} needs the package {module!r}, which is not installed; "
                    f"install it with: pip install 'sparsernn[{logger.extra}]'"
                )
    return names


def log_run(
    root: str | Path, names: Sequence[str], record: RunRecord, swept: Sequence[str] = ()
) -> list[str]:
    """Send a finished run to the loggers ``names``; return one line per logger that failed.

    Never raises: the run is already in the store, and a tracker's failure must not stop a sweep.
    """
    failures = []
    folder = Path(root) / TRACKERS_FOLDER
    for name in names:
        try:
            LOGGERS[name].write(folder / name, tracked_run(record, swept))
        except Exception as error:  # any tracker error: reported, the run itself is safe in the store
            reason = (str(error).strip().splitlines() or [""])[0]
            failures.append(
                f"{name} logger, run {record.key.study}/{record.key.name}: {type(error).__name__}: {reason}"
            )
    return failures
