"""Protocol ``controlled_pruning``: one dense base, several pruning paths, sparse-from-scratch controls.

One run is one (dataset, cell, seed). It trains one dense model, then, from that same base, runs one
iterative pruning *path* per criterion of ``criteria`` (``magnitude``, and ``random`` at the same
per-layer density as its control, ``degree_floor``, ``ramanujan_guard``, ...; ``magnitude@global``
prunes with one global threshold whatever ``scope`` says, the baseline of the guard, which always
splits one global budget): at each level q < 1
prune to density q (monotone: kept ⊆ previously kept), evaluate, fine-tune ``finetune_epochs`` with
frozen masks and a fresh optimizer, evaluate again (validation, test and noisy test), and log the
expansion of every layer view (as the ``iterative_pruning`` protocol). With ``scratch`` it also
trains models born sparse, masks drawn as bipartite expanders or Erdős–Rényi graphs at each density
and fixed throughout training.

Every decision reads the validation split (a recipe must give ``data.options.n_val`` or
``val_fraction``: checked before anything runs); test accuracy is only recorded. Paths and scratch
trainings are independent jobs (:mod:`~sparsernn.studies.protocols.controlled_jobs`), run in
``recorder.workers`` processes with results independent of that number. Jobs compared with each
other share their training randomness: every path fine-tunes on one data order, every scratch model
trains on one, so paths differ only by criterion and scratch models only by wiring. Noisy accuracy
(``robustness``) is measured on the test split with the same noisy inputs at every level of every
path. The dense base and every finished job are kept in the run's
:class:`~sparsernn.studies.partial.Partial` folder: a run killed midway resumes from them.

Logged rows (index → values): ``phase="dense", epoch`` → ``loss, val_accuracy, test_accuracy``;
``phase="level", path, level`` → ``val_accuracy, test_accuracy, val_accuracy_pruned,
test_accuracy_pruned, density`` (the dense level 1.0 is the same for every path);
``phase="noisy", path, level, noise`` → ``accuracy``; ``phase="expansion", path, level, ...`` as
``iterative_pruning`` logs them; ``phase="scratch", init, level`` → ``val_accuracy, test_accuracy,
density, best_val_accuracy``, with noisy rows under ``path="scratch:<init>", init, level, noise``
and expansion rows under ``path="scratch:<init>"``; on ``ramanujan_guard`` paths, the guard's
decisions at each level, ``phase="guard", path, level`` → ``fallback, capped, evaluations`` and
``phase="guard_matrix", path, level, matrix`` → ``capped, pruned``
(:func:`~sparsernn.studies.protocols.controlled_records.log_guard`).

The run's file ``masks.npz`` (:func:`sparsernn.results.load_masks`) keeps the masks of every level of
every path, the dense level included, under ``(criterion, level)``, and of every scratch model under
``("scratch:<init>", density)``: one bit per weight, ~11 KB a level for a hidden-128 LSTM.
"""

from __future__ import annotations

import copy
import itertools
from functools import partial
from typing import Any, Literal

from pydantic import Field, field_validator

from sparsernn._seed import torch_seeded
from sparsernn.data.validation import VAL_OPTIONS
from sparsernn.errors import ConfigError
from sparsernn.results.masks import MASKS, pack_masks
from sparsernn.studies.config import MAX_EPOCHS, RunConfig, Section
from sparsernn.studies.partial import Partial
from sparsernn.studies.pool import map_ordered
from sparsernn.studies.protocols.common import make_model, optimizer_for, save_model
from sparsernn.studies.protocols.controlled_jobs import (
    PathJob,
    ScratchJob,
    Shared,
    job_seed,
    make_shared,
    run_job,
    split_path,
)
from sparsernn.studies.protocols.controlled_records import log_level, model_masks
from sparsernn.studies.protocols.pruning import known_criterion
from sparsernn.studies.protocols.robustness import Robustness
from sparsernn.studies.recorder import Recorder
from sparsernn.train import evaluate, fit

MAX_LEVELS = 1_000  # pruning levels per path (each is a fine-tuning and a full evaluation)
DEFAULT_DENSITIES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.07, 0.05, 0.03, 0.02, 0.01)


def _distinct(values: list[Any], what: str) -> list[Any]:
    if not values:
        raise ValueError(f"needs at least one {what}")
    repeated = sorted({str(v) for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{what}s must be distinct; repeated: {', '.join(repeated)}")
    return values


class ScratchParams(Section):
    """Models born sparse: wirings ``inits``, densities in (0, 1), epochs (None: the recipe's ``train.epochs``)."""

    inits: list[Literal["expander", "erdos_renyi"]] = Field(
        default_factory=lambda: ["expander", "erdos_renyi"]
    )
    densities: list[float] = Field(default_factory=lambda: [0.1, 0.05, 0.02], max_length=MAX_LEVELS)
    epochs: int | None = Field(default=None, ge=1, le=MAX_EPOCHS)

    @field_validator("inits")
    @classmethod
    def _inits(cls, values: list[str]) -> list[str]:
        return _distinct(values, "init")

    @field_validator("densities")
    @classmethod
    def _densities(cls, values: list[float]) -> list[float]:
        outside = [q for q in values if not 0.0 < q < 1.0]
        if outside:
            raise ValueError(f"scratch densities must lie in (0, 1) (fractions kept), got {outside}")
        return _distinct(values, "density")


class ControlledParams(Section):
    """Criteria (one pruning path each), levels (densities from 1.0 down), fine-tuning, views, controls."""

    criteria: list[str] = Field(default_factory=lambda: ["magnitude", "random"])
    scope: Literal["global", "layer"] = "layer"
    weights: Literal["both", "ih", "hh"] = "both"
    densities: list[float] = Field(default_factory=lambda: list(DEFAULT_DENSITIES), max_length=MAX_LEVELS)
    finetune_epochs: int = Field(default=1, ge=0, le=MAX_EPOCHS)
    views: list[Literal["ih", "hh", "step"]] = Field(default_factory=lambda: ["ih", "hh", "step"])
    gates: list[Literal["stack", "union", "per_gate"]] = Field(default_factory=lambda: ["stack", "union"])
    robustness: Robustness | None = None
    scratch: ScratchParams | None = None
    save_model: bool = False

    @field_validator("criteria")
    @classmethod
    def _criteria(cls, values: list[str]) -> list[str]:
        for spec in values:
            criterion, _ = split_path(spec, "layer")
            known_criterion(criterion)
        return _distinct(values, "criterion")

    @field_validator("densities")
    @classmethod
    def _levels(cls, values: list[float]) -> list[float]:
        if not values or values[0] != 1.0:
            raise ValueError(f"densities must start at 1.0 (the dense level), got {values}")
        if any(not 0.0 < q <= 1.0 for q in values):
            raise ValueError(f"every density must lie in (0, 1], got {values}")
        if any(b >= a for a, b in itertools.pairwise(values)):
            raise ValueError("densities must be strictly decreasing (from dense towards sparse)")
        return values


def check_config(config: RunConfig, params: Section) -> None:
    """Fail before any run starts when the data has no validation split (every decision needs one).

    Examples
    --------
    >>> from sparsernn.studies.config import make_config
    >>> config = make_config({"study": "s", "data": {"name": "mnist1d", "options": {"n_train": 100}}})
    >>> check_config(config, ControlledParams())
    Traceback (most recent call last):
    ...
    sparsernn.errors.ConfigError: data.options: protocol controlled_pruning decides on a validation split, and dataset 'mnist1d' is given none; expected n_val or val_fraction > 0
    """
    options = config.data.options
    if not any(options.get(option) for option in VAL_OPTIONS):
        raise ConfigError(
            "data.options: protocol controlled_pruning decides on a validation split, and dataset "
            f"{config.data.name!r} is given none; expected {' or '.join(VAL_OPTIONS)} > 0"
        )


def _train_dense(config: RunConfig, shared: Shared, recorder: Recorder) -> Any:
    """The dense base: trained ``config.train.epochs``, validation and test accuracy logged per epoch
    (or restored, weights and logged rows, from an earlier attempt of the run)."""
    model = make_model(config, shared.loaders.splits)
    kept = recorder.partial.load("dense")
    if kept is not None:
        model.load_state_dict(kept["state"])
        recorder.merge(kept["rows"])
        return model

    def log(epoch: int, metrics: dict[str, Any]) -> bool:
        values = {
            "loss": metrics["train_loss"],
            "val_accuracy": evaluate(model, shared.val)["accuracy"],
            "test_accuracy": evaluate(model, shared.loaders.test)["accuracy"],
        }
        recorder.log(values, phase="dense", epoch=epoch)
        return False

    optimizer = optimizer_for(config, model)
    fit(
        model,
        shared.loaders.train,
        optimizer,
        epochs=config.train.epochs,
        clip=config.train.clip,
        callbacks=[log],
        progress=recorder.progress,
        desc="dense",
    )
    recorder.partial.save("dense", {"state": model.state_dict(), "rows": recorder.rows})
    return model


def _jobs(
    config: RunConfig, params: ControlledParams, base_state: dict, progress: bool, partial: Partial
) -> list[Any]:
    jobs: list[Any] = [
        PathJob(config, params, base_state, c, job_seed(config.seed, f"path:{c}"), progress, partial)
        for c in params.criteria
    ]
    if params.scratch is not None:
        for init, q in itertools.product(params.scratch.inits, params.scratch.densities):
            seed = job_seed(config.seed, f"scratch:{init}:{q!r}")
            jobs.append(ScratchJob(config, params, init, q, seed, progress, partial))
    return jobs


def _summary(params: ControlledParams, rows: list[dict[str, Any]], dense: dict[str, float]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "dense_val_accuracy": dense["val_accuracy"],
        "dense_test_accuracy": dense["test_accuracy"],
    }
    last = params.densities[-1]
    for criterion in params.criteria:
        final = [
            r["values"]["val_accuracy"]
            for r in rows
            if r.get("phase") == "level" and r.get("path") == criterion and r.get("level") == last
        ]
        summary[f"{criterion}_final_val_accuracy"] = final[-1]
    return summary


def run(config: RunConfig, params: ControlledParams, recorder: Recorder) -> dict[str, Any]:
    """Train the dense base, then run every pruning path and scratch training as independent jobs."""
    check_config(config, params)
    with torch_seeded(config.seed):
        shared = make_shared(config, params)
        base = _train_dense(config, shared, recorder)
    dense_level = Recorder()  # the level q = 1.0, the same for every path: evaluated once
    log_level(base, shared, params, dense_level, path="", level=1.0)
    base_state = copy.deepcopy(base.state_dict())
    in_process = recorder.workers == 1
    jobs = _jobs(config, params, base_state, recorder.progress and in_process, recorder.partial)
    work = partial(run_job, shared=shared) if in_process else run_job
    outcomes = map_ordered(work, jobs, workers=recorder.workers, progress=recorder.progress, desc="jobs")
    masks = {}  # (path, level) -> masks, in job order
    for job, outcome in zip(jobs, outcomes, strict=True):
        if isinstance(job, PathJob):
            recorder.merge([{**row, "path": job.criterion} for row in dense_level.rows])
            masks[(job.criterion, 1.0)] = model_masks(base)
        recorder.merge(outcome["rows"])
        masks |= {(kept["path"], kept["level"]): kept["masks"] for kept in outcome["masks"]}
    recorder.add_file(MASKS, pack_masks(masks))
    if params.save_model:
        save_model(recorder, base, config)
    return _summary(params, recorder.rows, dense_level.rows[0]["values"])
