"""What the ``controlled_pruning`` protocol records of a model: one level's rows and its masks.

Rows (:func:`log_level`, :func:`log_noisy`, :func:`log_expansion`, :func:`log_guard`) go to a
:class:`~sparsernn.studies.recorder.Recorder`; masks (:func:`kept_masks`) travel in a job's outcome
to the run's ``masks.npz`` (:func:`sparsernn.results.pack_masks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from sparsernn import prune
from sparsernn.nn import SequenceClassifier, sparse_modules
from sparsernn.studies.protocols.iterative import _log_expansion
from sparsernn.studies.recorder import Recorder
from sparsernn.train import evaluate

if TYPE_CHECKING:  # the jobs module imports this one
    from sparsernn.studies.protocols.controlled_jobs import Shared


def log_level(
    model: SequenceClassifier,
    shared: Shared,
    params: Any,
    recorder: Recorder,
    *,
    path: str,
    level: float,
    pruned: dict[str, float] | None = None,
) -> float:
    """Log one level of a path (accuracies, density, noisy accuracies, expansion); return val accuracy.

    ``pruned`` holds the accuracies right after pruning; None (the dense level) means the same as after.
    """
    now = {
        "val_accuracy": evaluate(model, shared.val)["accuracy"],
        "test_accuracy": evaluate(model, shared.loaders.test)["accuracy"],
    }
    before = pruned or now
    values = {
        **now,
        "val_accuracy_pruned": before["val_accuracy"],
        "test_accuracy_pruned": before["test_accuracy"],
        "density": model.rnn.density(),
    }
    recorder.log(values, phase="level", path=path, level=level)
    log_noisy(model, shared, recorder, path=path, level=level)
    log_expansion(model, params, recorder, path=path, level=level)
    return now["val_accuracy"]


def log_noisy(model: SequenceClassifier, shared: Shared, recorder: Recorder, **index: Any) -> None:
    """Accuracy on each of the run's noisy test sets: ``phase="noisy", **index, noise`` → ``accuracy``."""
    for noise, batches in shared.noisy.items():
        accuracy = evaluate(model, batches)["accuracy"]
        recorder.log({"accuracy": accuracy}, phase="noisy", **index, noise=noise)


def log_expansion(
    model: SequenceClassifier, params: Any, recorder: Recorder, *, path: str, level: float
) -> None:
    """Expansion rows of every layer view, exactly as the ``iterative_pruning`` protocol logs them, plus ``path``."""
    rows = Recorder()
    _log_expansion(model, params, level, rows)
    recorder.merge([{**row, "path": path} for row in rows.rows])


def log_guard(step: prune.GuardStep, recorder: Recorder, *, path: str, level: float) -> None:
    """The guard's decisions at one level (:class:`~sparsernn.prune.GuardStep`).

    ``phase="guard", path, level`` → ``fallback`` (1: the step fell back to plain magnitude
    pruning), ``capped`` (how many matrices got less than their magnitude share; on a fallback,
    those capped before giving up), ``evaluations`` (Δ computations); and per weight matrix
    ``phase="guard_matrix", path, level, matrix`` → ``capped`` (0/1), ``pruned`` (weights newly
    pruned by the step).
    """
    values = {"fallback": float(step.fallback), "capped": len(step.capped), "evaluations": step.evaluations}
    recorder.log(values, phase="guard", path=path, level=level)
    for name, amount in step.pruned.items():
        values = {"capped": float(name in step.capped), "pruned": amount}
        recorder.log(values, phase="guard_matrix", path=path, level=level, matrix=name)


def model_masks(model: SequenceClassifier) -> dict[str, torch.Tensor]:
    """Copies of the masks of ``model``, by qualified parameter name (``"rnn.weight_hh_l0"``)."""
    return {
        f"{prefix}.{name}" if prefix else name: mask
        for prefix, module in sparse_modules(model)
        for name, mask in module.masks.items()
    }


def kept_masks(path: str, level: float, model: SequenceClassifier) -> dict[str, Any]:
    """``{"path": path, "level": level, "masks": model_masks(model)}``: one entry of a job's outcome."""
    return {"path": path, "level": level, "masks": model_masks(model)}
