"""What a run produces, collected in memory by the worker and written to the store by the driver.

Keeping the worker side free of file writes means a sweep backend (process pool, Ray) only has to
ship a :class:`RunResult` back; the driver alone writes run folders, so a crash can never leave two
writers on one folder. (The one exception is the run's own :class:`~sparsernn.studies.partial.Partial`
folder of finished pieces, outside the store, which only that run writes.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sparsernn.results.records import RunRecord
from sparsernn.studies.config import RunConfig
from sparsernn.studies.partial import NONE, Partial


class Recorder:
    """Collects metric rows and artifact files of one run (the only mutable object of a run).

    It also carries the run's execution settings, which never change its results: ``progress``
    (draw progress bars), ``workers`` (processes the protocol may use for independent jobs) and
    ``partial`` (where the run keeps finished pieces to resume from, :mod:`sparsernn.studies.partial`).
    """

    def __init__(self, *, progress: bool = False, workers: int = 1) -> None:
        self.progress = progress
        self.workers = workers
        self.partial: Partial = NONE  # set by the runner
        self.rows: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}

    def log(self, values: Mapping[str, float], **index: Any) -> None:
        """Record ``values`` (name → number) at ``index`` (e.g. ``epoch=3, split="test"``)."""
        clean = {name: _number(v) for name, v in values.items()}
        self.rows.append({**index, "values": clean})

    def merge(self, rows: list[dict[str, Any]]) -> None:
        """Append rows that another recorder collected (a job of this run done in a worker process)."""
        self.rows.extend(rows)

    def add_file(self, name: str, data: bytes) -> None:
        """Attach a file (e.g. ``model.safetensors``) written into the run folder by the store."""
        if "/" in name or name.startswith(".") or name in {"config.json", "summary.json", "metrics.jsonl"}:
            raise ValueError(f"invalid artifact name {name!r}")
        self.files[name] = data


def _number(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


@dataclass(frozen=True)
class RunResult:
    """The outcome of one run: ``status`` is ``"ok"`` or ``"failed"`` (then ``reason`` says why).

    ``code`` is the fingerprint of the code that computed it (:func:`~sparsernn.studies.partial.code_fingerprint`:
    the package's sources and the versions of Python, torch and NumPy), stored as ``code_fingerprint``
    in the summary, so that runs computed by different code can be told apart.

    ``params`` are the run's full validated protocol parameters, defaults included (``config.params``
    holds only the non-default ones, which identify the run); the store records them in ``config.json``
    so that reports read every parameter from the run itself.

    ``resumed_s`` (part of ``wall_s``, :mod:`sparsernn.studies.partial`) is in the summary only when not 0.
    """

    config: RunConfig
    status: str
    summary: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    reason: str = ""
    wall_s: float = 0.0
    resumed_s: float = 0.0
    params: dict[str, Any] | None = None
    code: str = ""

    def record(self) -> RunRecord:
        """The run as the store writes it: its key, its config as JSON (with the full params), its results."""
        config = self.config.model_dump(mode="json", exclude={"log"})  # how it was watched is not the run
        if self.params is not None:
            config["params"] = self.params
        outcome = {"status": self.status, "reason": self.reason, "wall_s": round(self.wall_s, 3)}
        if self.resumed_s:
            outcome["resumed_s"] = round(self.resumed_s, 3)
        if self.code:
            outcome["code_fingerprint"] = self.code
        return RunRecord(self.config.key, config, {**outcome, **self.summary}, self.rows, self.files)
