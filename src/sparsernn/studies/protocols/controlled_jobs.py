"""The jobs of the ``controlled_pruning`` protocol: one pruning path per criterion, one sparse-from-scratch
training per (init, density).

Every job is self-contained (the base state dict, the config, the params and a job seed derived from
the run's seed and the job's name), so it runs the same in this process or in a worker: it reseeds
the training shuffle itself and never reads state another job changed. Results are therefore
independent of the number of workers. In this process the jobs share the parent's :class:`Shared`
data; a worker builds its own from the config (same seed, same data).

Jobs that are compared with each other share their training randomness (common random numbers):
every path fine-tunes on the same shuffle (:data:`FINETUNE`), every scratch model trains on the same
one (:data:`SCRATCH`), so two paths of a run differ only by their criterion and two scratch models
only by their masks. The job's own seed draws only what is its own: random scores, scratch masks.

A job's outcome (:func:`run_job`) is its rows and the masks of each of its levels (:data:`Outcome`),
plain data that a worker sends back and the run's :class:`~sparsernn.studies.partial.Partial` keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader

from sparsernn import prune
from sparsernn._seed import torch_seeded
from sparsernn.data import collate, splits
from sparsernn.errors import ConfigError
from sparsernn.nn import SequenceClassifier
from sparsernn.studies.config import RunConfig, Section
from sparsernn.studies.partial import NONE, Partial
from sparsernn.studies.protocols.common import Loaders, make_loaders, make_model, optimizer_for, train
from sparsernn.studies.protocols.controlled_records import (
    kept_masks,
    log_expansion,
    log_guard,
    log_level,
    log_noisy,
)
from sparsernn.studies.protocols.pruning import prune_masks
from sparsernn.studies.protocols.robustness import noisy_test_sets
from sparsernn.studies.recorder import Recorder
from sparsernn.train import evaluate, fit

#: Sparse-from-scratch wirings by name (:mod:`sparsernn.prune.init`).
SCRATCH_INITS: dict[str, Callable[..., dict[str, torch.Tensor]]] = {
    "expander": prune.expander_masks,
    "erdos_renyi": prune.erdos_renyi_masks,
}
#: Criteria that split one global budget across matrices, whatever the recipe's scope.
GLOBAL_ONLY = prune.GLOBAL_ONLY_CRITERIA
#: Names of the training randomness every path (fine-tuning) and every scratch model share (:func:`job_seed`).
FINETUNE, SCRATCH = "finetune", "scratch"
#: A job's outcome: ``{"rows": [...], "masks": [{"path": str, "level": float, "masks": {name: bool tensor}}]}``.
Outcome = dict[str, Any]


@dataclass(frozen=True)
class Shared:
    """The data of one run: loaders (shuffled training, fixed-order test), validation batches, noisy tests."""

    loaders: Loaders
    val: DataLoader
    noisy: dict[float, Any]


def make_shared(config: RunConfig, params: Section) -> Shared:
    """Build the run's data (as :func:`~sparsernn.studies.protocols.common.make_loaders`) with its validation split."""
    loaders = make_loaders(config)
    val = splits(loaders.splits).val
    if val is None or len(val) == 0:
        raise ConfigError(
            f"dataset {config.data.name!r} was built without a validation split; "
            "expected data.options.n_val or val_fraction > 0"
        )
    robustness = getattr(params, "robustness", None)
    noisy = noisy_test_sets(config, robustness, loaders.test) if robustness else {}
    batches = DataLoader(val, batch_size=config.data.eval_batch_size, collate_fn=collate)
    return Shared(loaders, batches, noisy)


def job_seed(seed: int, name: str) -> int:
    """A 32-bit seed of the job called ``name`` in the run of ``seed`` (``numpy.random.SeedSequence``).

    Examples
    --------
    >>> job_seed(0, "path:magnitude") == job_seed(0, "path:magnitude") != job_seed(0, "path:random")
    True
    """
    return int(np.random.SeedSequence([int(seed), *name.encode()]).generate_state(1)[0])


@dataclass(frozen=True)
class PathJob:
    """Iterative pruning of the base model through ``params.densities`` (below 1.0) by ``criterion``, a
    path spec (:func:`split_path`: a criterion name, optionally ``@global`` or ``@layer``)."""

    config: RunConfig
    params: Any  # ControlledParams (not imported: the protocol module imports this one)
    base_state: dict[str, torch.Tensor]
    criterion: str
    seed: int
    progress: bool = False
    partial: Partial = NONE

    @property
    def name(self) -> str:
        """The job's name among the run's finished pieces."""
        return f"path_{self.criterion}"


@dataclass(frozen=True)
class ScratchJob:
    """A model born sparse: masks of ``density`` drawn by ``init``, trained with the masks fixed."""

    config: RunConfig
    params: Any
    init: str
    density: float
    seed: int
    progress: bool = False
    partial: Partial = NONE

    @property
    def name(self) -> str:
        """The job's name among the run's finished pieces."""
        return f"scratch_{self.init}_{self.density!r}"


def split_path(spec: str, scope: str) -> tuple[str, str]:
    """``(criterion, scope)`` of a path named ``spec``: ``"magnitude"`` prunes with the recipe's scope,
    ``"magnitude@global"`` with the one named after ``@``; :data:`GLOBAL_ONLY` criteria always prune
    with ``global`` (a path spec names another scope for them: ConfigError).

    Examples
    --------
    >>> split_path("random", "layer"), split_path("magnitude@global", "layer")
    (('random', 'layer'), ('magnitude', 'global'))
    >>> split_path("ramanujan_guard", "layer")
    ('ramanujan_guard', 'global')
    """
    criterion, _, named = spec.partition("@")
    if named and named not in ("global", "layer"):
        raise ConfigError(f"path {spec!r}: the scope after '@' must be global or layer, got {named!r}")
    if criterion in GLOBAL_ONLY:
        if named == "layer":
            raise ConfigError(f"path {spec!r}: {criterion} splits one global budget; it has no layer scope")
        return criterion, "global"
    return criterion, named or scope


def _load_base(job: PathJob, loaders: Loaders) -> SequenceClassifier:
    with torch_seeded(job.config.seed):  # initial weights are overwritten by the base state
        model = make_model(job.config, loaders.splits)
    model.load_state_dict(job.base_state)
    return model


class Level(NamedTuple):
    """One level of a path (:func:`path_levels`)."""

    q: float  #: the level's density
    model: SequenceClassifier  #: pruned to ``q`` and fine-tuned
    pruned: dict[str, float]  #: validation and test accuracy right after pruning, before fine-tuning
    guard: prune.GuardStep | None  #: the guard's decisions (``ramanujan_guard`` paths), else None


def prune_level(
    model: SequenceClassifier, q: float, *, criterion: str, scope: str, params: Any, seed: int
) -> tuple[dict[str, torch.Tensor], prune.GuardStep | None]:
    """Masks pruning ``model`` to density ``q`` by ``criterion``, and the step's decisions for
    ``ramanujan_guard`` (None for the others).

    The guard's masks come from :func:`sparsernn.prune.guard_step`, which
    :func:`~sparsernn.prune.ramanujan_guard` calls with the same arguments: the masks are the ones
    :func:`~sparsernn.studies.protocols.pruning.prune_masks` gives, with the decisions behind them.
    """
    if criterion == "ramanujan_guard":
        step = prune.guard_step(model, 1.0 - q, weights=params.weights)
        return step.masks, step
    masks = prune_masks(model, 1.0 - q, criterion=criterion, weights=params.weights, scope=scope, seed=seed)
    return masks, None


def path_levels(job: PathJob, shared: Shared) -> Iterator[Level]:
    """The levels of a path, dense to sparse: a :class:`Level` once the model is pruned to density
    ``q`` (kept ⊆ previously kept) and fine-tuned ``finetune_epochs`` with frozen masks and a fresh
    optimizer. One model, changed in place.

    Every path fine-tunes on the same shuffle and global seed (:data:`FINETUNE`); ``job.seed``
    draws only the criterion's own randomness (``random`` scores).
    """
    config, params = job.config, job.params
    common = job_seed(config.seed, FINETUNE)
    shared.loaders.train.generator.manual_seed(common)
    recorder = Recorder(progress=job.progress)  # progress bars only: fine-tuning logs nothing
    model = _load_base(job, shared.loaders)
    criterion, scope = split_path(job.criterion, params.scope)
    with torch_seeded(common):  # dropout, if any
        for q in (q for q in params.densities if q < 1.0):
            masks, guard = prune_level(
                model, q, criterion=criterion, scope=scope, params=params, seed=job.seed
            )
            prune.apply(model, masks)
            pruned = {
                "val_accuracy": evaluate(model, shared.val)["accuracy"],
                "test_accuracy": evaluate(model, shared.loaders.test)["accuracy"],
            }
            if params.finetune_epochs:
                train(config, model, shared.loaders, recorder, epochs=params.finetune_epochs)
            yield Level(q, model, pruned, guard)


def run_path(job: PathJob, shared: Shared | None = None) -> Outcome:
    """Prune level by level (:func:`path_levels`) and log each level; return the rows and each level's masks.

    The dense level (q = 1.0) is the parent's: it is the same for every path and not logged here.
    """
    shared = shared or make_shared(job.config, job.params)
    recorder = Recorder()
    masks = []
    for level in path_levels(job, shared):
        path = job.criterion
        log_level(level.model, shared, job.params, recorder, path=path, level=level.q, pruned=level.pruned)
        if level.guard is not None:
            log_guard(level.guard, recorder, path=path, level=level.q)
        masks.append(kept_masks(path, level.q, level.model))
    return {"rows": recorder.rows, "masks": masks}


def scratch_model(job: ScratchJob, shared: Shared) -> SequenceClassifier:
    """The run's model (built with the run's seed) with masks of ``job.density`` drawn by ``job.init``."""
    with torch_seeded(job.config.seed):
        model = make_model(job.config, shared.loaders.splits)
    draw = SCRATCH_INITS[job.init]
    prune.apply(model, draw(model, job.density, weights=job.params.weights, seed=job.seed))
    return model


def train_scratch(job: ScratchJob, shared: Shared) -> tuple[SequenceClassifier, list[float]]:
    """Train the scratch model with its masks fixed; return it and its validation accuracy per epoch."""
    model = scratch_model(job, shared)
    scratch = job.params.scratch
    epochs = job.config.train.epochs if scratch.epochs is None else scratch.epochs
    history: list[float] = []

    def validate(epoch: int, metrics: dict[str, Any]) -> bool:
        history.append(evaluate(model, shared.val)["accuracy"])
        return False

    common = job_seed(job.config.seed, SCRATCH)  # every scratch model: the same shuffle
    shared.loaders.train.generator.manual_seed(common)
    with torch_seeded(common):
        fit(
            model,
            shared.loaders.train,
            optimizer_for(job.config, model),
            epochs=epochs,
            clip=job.config.train.clip,
            callbacks=[validate],
            progress=job.progress,
            desc=f"scratch:{job.init}",
        )
    return model, history


def run_scratch(job: ScratchJob, shared: Shared | None = None) -> Outcome:
    """Train one sparse-from-scratch model and log its final accuracies, noisy accuracies and
    expansion; return the rows and its masks.

    Its noisy and expansion rows carry ``path="scratch:<init>"`` (and the noisy ones ``init``), so
    they are never taken for a pruning path's.
    """
    shared = shared or make_shared(job.config, job.params)
    model, history = train_scratch(job, shared)
    recorder = Recorder()
    values = {
        "val_accuracy": history[-1] if history else evaluate(model, shared.val)["accuracy"],
        "test_accuracy": evaluate(model, shared.loaders.test)["accuracy"],
        "density": model.rnn.density(),
        "best_val_accuracy": max(history) if history else float("nan"),
    }
    recorder.log(values, phase="scratch", init=job.init, level=job.density)
    path = f"scratch:{job.init}"
    log_noisy(model, shared, recorder, path=path, init=job.init, level=job.density)
    log_expansion(model, job.params, recorder, path=path, level=job.density)
    return {"rows": recorder.rows, "masks": [kept_masks(path, job.density, model)]}


def run_job(job: PathJob | ScratchJob, shared: Shared | None = None) -> Outcome:
    """Run one job (a module-level function, so a worker process can call it); return its outcome.

    An outcome kept by an earlier attempt of the run (``job.partial``) is returned as it is."""
    run = run_path if isinstance(job, PathJob) else run_scratch
    return job.partial.kept(job.name, lambda: run(job, shared))
