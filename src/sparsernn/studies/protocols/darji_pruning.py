"""Protocol ``darji_pruning``: the pruning study of Darji (2021) on Reber-grammar strings.

Train a base classifier (3 × 50 units in the original), then for each weight kind (both, ih, hh)
and each sparsity p: reload the base model, prune with one magnitude threshold (the p-th
percentile of |w| pooled over the selected weights of all layers, ``scope="global"``), evaluate
(retraining epoch 0), retrain with a fresh Adam and frozen masks, and evaluate after every epoch.
One run covers one cell and seed; the base model is trained once per run and reused for all 30
(kind, p) pairs. Those 30 prune-and-recover jobs are independent and run in parallel when the run is
given several workers, with results identical to one sequential pass (each job resumes the training
shuffle where the sequential pass would have it). The base model and every finished job are kept in
the run's :class:`~sparsernn.studies.partial.Partial` folder, so a killed run resumes from them.

``criterion`` (default ``magnitude``, the study's) names another pruning criterion of
:mod:`sparsernn.prune` (e.g. ``random``, the control at the same density), with the same threshold rule.

Every accuracy it records is a **test** accuracy, as the thesis reports them, and so are the
``safe_sparsity_*`` and ``recovered_sparsity_*`` levels of its summary: a faithful reproduction of the
thesis' numbers (it has no validation split), not a decision to build on. The controlled protocol
(:mod:`~sparsernn.studies.protocols.controlled`) decides on a validation split instead.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, field_validator
from torch.utils.data import DataLoader

from sparsernn import prune
from sparsernn._seed import torch_seeded
from sparsernn.studies.config import MAX_EPOCHS, RunConfig
from sparsernn.studies.partial import Partial
from sparsernn.studies.pool import map_ordered
from sparsernn.studies.protocols.common import Loaders, make_loaders, make_model, save_model, train
from sparsernn.studies.protocols.pruning import Criterion, PruningParams, prune_masks
from sparsernn.studies.recorder import Recorder
from sparsernn.train import evaluate

MAX_LEVELS = 1_000  # sparsity levels per run (each is a prune-and-recover job)
DEFAULT_SPARSITIES = tuple(round(0.1 * k, 1) for k in range(1, 11))


class DarjiPruningParams(PruningParams):
    """Weight kinds, sparsity levels (fractions removed), pruning criterion, retraining epochs, recovery
    tolerance."""

    kinds: list[Literal["both", "ih", "hh"]] = Field(
        default_factory=lambda: ["both", "ih", "hh"], min_length=1
    )
    sparsities: list[float] = Field(
        default_factory=lambda: list(DEFAULT_SPARSITIES), min_length=1, max_length=MAX_LEVELS
    )
    scope: Literal["global", "layer"] = "global"
    criterion: Criterion = "magnitude"
    recovery_epochs: int = Field(default=10, ge=0, le=MAX_EPOCHS)
    tolerance: float = Field(default=0.01, ge=0.0, le=1.0)
    save_model: bool = True

    @field_validator("sparsities")
    @classmethod
    def _in_range(cls, values: list[float]) -> list[float]:
        if any(not 0.0 <= s <= 1.0 for s in values):
            raise ValueError("every sparsity must lie in [0, 1] (a fraction, e.g. 0.8 for 80 %)")
        return values


@dataclass(frozen=True)
class _Job:
    """One prune-and-recover job; ``shuffle_state`` is where the sequential run's training shuffle would be."""

    config: RunConfig
    params: DarjiPruningParams
    base_state: dict[str, Any]
    kind: str
    sparsity: float
    shuffle_state: torch.Tensor
    partial: Partial

    @property
    def name(self) -> str:
        """The job's name among the run's finished pieces."""
        return f"job_{self.kind}_{self.sparsity!r}"


@dataclass(frozen=True)
class _Outcome:
    curve: list[float]  # accuracy right after pruning (index 0), then after each retraining epoch
    rows: list[dict[str, Any]]


def _prune_and_recover(job: _Job, loaders: Loaders | None = None) -> _Outcome:
    """Prune the base model, evaluate, retrain with frozen masks; self-contained so a worker can run it.

    An outcome kept by an earlier attempt of the run is returned as it is."""
    kept = job.partial.kept(job.name, lambda: asdict(_recover(job, loaders or make_loaders(job.config))))
    return _Outcome(**kept)


def _recover(job: _Job, loaders: Loaders) -> _Outcome:
    config, params = job.config, job.params
    loaders.train.generator.set_state(job.shuffle_state)
    recorder = Recorder()
    with torch_seeded(config.seed):  # the model's initial weights are overwritten by the base state
        model = make_model(config, loaders.splits)
    model.load_state_dict(job.base_state)
    seed = _job_seed(config.seed, job.kind, job.sparsity)
    masks = prune_masks(
        model, job.sparsity, criterion=params.criterion, weights=job.kind, scope=params.scope, seed=seed
    )
    prune.apply(model, masks)
    index = {"phase": "recovery", "kind": job.kind, "sparsity": job.sparsity}
    first = evaluate(model, loaders.test)
    recorder.log({**first, "density": model.rnn.density()}, epoch=0, **index)
    with torch_seeded(seed):  # dropout, if any
        history = train(config, model, loaders, recorder, epochs=params.recovery_epochs, log_as=index)
    return _Outcome([first["accuracy"], *(m["accuracy"] for m in history)], recorder.rows)


def _job_seed(seed: int, kind: str, sparsity: float) -> int:
    key = [seed, ["both", "ih", "hh"].index(kind), round(sparsity * 1_000_000)]
    return int(np.random.SeedSequence(key).generate_state(1)[0])


def _skip_epochs(loader: DataLoader, epochs: int) -> None:
    """Advance ``loader``'s shuffling generator exactly as ``epochs`` passes over it would, loading nothing."""
    shadow = DataLoader(
        range(len(loader.dataset)),  # type: ignore[arg-type]
        batch_size=loader.batch_size,
        shuffle=True,
        generator=loader.generator,
        collate_fn=_discard,
    )
    for _ in range(epochs):
        for _ in shadow:
            pass


def _discard(batch: list[int]) -> None:
    return None


def safe_level(curves: dict[float, list[float]], reference: float, tolerance: float, *, epochs: int) -> float:
    """Highest sparsity such that it and every lower one reach ``reference − tolerance`` within ``epochs``.

    ``epochs=0`` asks for no loss right after pruning; returns 0.0 when even the lowest level fails.

    Examples
    --------
    >>> safe_level({0.1: [0.9, 0.9], 0.2: [0.5, 0.9], 0.3: [0.5, 0.6]}, 0.9, 0.01, epochs=1)
    0.2
    >>> safe_level({0.1: [0.9, 0.9], 0.2: [0.5, 0.9], 0.3: [0.5, 0.6]}, 0.9, 0.01, epochs=0)
    0.1
    """
    best = 0.0
    for sparsity in sorted(curves):
        recovered = prune.recovery_epochs(curves[sparsity], reference, tolerance=tolerance)
        if recovered is None or recovered > epochs:
            break
        best = sparsity
    return best


def _train_base(config: RunConfig, base: torch.nn.Module, loaders: Loaders, recorder: Recorder) -> None:
    """Train the base model, or restore it (weights, logged rows, shuffle position) from an earlier attempt."""
    kept = recorder.partial.load("base")
    if kept is None:
        train(config, base, loaders, recorder, log_as={"phase": "base"})
        shuffle = loaders.train.generator.get_state()
        recorder.partial.save("base", {"state": base.state_dict(), "rows": recorder.rows, "shuffle": shuffle})
        return
    base.load_state_dict(kept["state"])
    recorder.merge(kept["rows"])
    loaders.train.generator.set_state(kept["shuffle"])


def run(config: RunConfig, params: DarjiPruningParams, recorder: Recorder) -> dict[str, Any]:
    """Train the base model, then prune-and-recover for every (kind, sparsity).

    The 30 jobs are independent: they run in ``recorder.workers`` processes. Each starts the
    training shuffle where a sequential run would have it, so the results do not depend on the
    number of workers.
    """
    with torch_seeded(config.seed):
        loaders = make_loaders(config)
        base = make_model(config, loaders.splits)
        _train_base(config, base, loaders, recorder)
    base_accuracy = evaluate(base, loaders.test)["accuracy"]
    base_state = copy.deepcopy(base.state_dict())
    jobs = []
    for kind in params.kinds:
        for sparsity in params.sparsities:
            state = loaders.train.generator.get_state()
            jobs.append(_Job(config, params, base_state, kind, sparsity, state, recorder.partial))
            _skip_epochs(loaders.train, params.recovery_epochs)
    # In this process the jobs share the loaders; a worker process builds its own.
    work = partial(_prune_and_recover, loaders=loaders) if recorder.workers == 1 else _prune_and_recover
    outcomes = map_ordered(work, jobs, workers=recorder.workers, progress=recorder.progress, desc="recovery")
    summary: dict[str, Any] = {"base_accuracy": base_accuracy}
    for outcome in outcomes:
        recorder.merge(outcome.rows)
    for kind in params.kinds:
        curves = {
            job.sparsity: out.curve for job, out in zip(jobs, outcomes, strict=True) if job.kind == kind
        }
        summary[f"safe_sparsity_{kind}"] = safe_level(curves, base_accuracy, params.tolerance, epochs=0)
        summary[f"recovered_sparsity_{kind}"] = safe_level(
            curves, base_accuracy, params.tolerance, epochs=params.recovery_epochs
        )
    if params.save_model:
        save_model(recorder, base, config)
    return summary
