"""Iterative pruning with recovery retraining (prune, apply, retrain, level by level) and recovery epochs."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from numbers import Real

import torch

from sparsernn._seed import Seed
from sparsernn.errors import ConfigError, MaskError
from sparsernn.prune.by_name import check_criterion, prune
from sparsernn.prune.criteria import Score
from sparsernn.prune.masking import apply
from sparsernn.prune.schedules import explicit
from sparsernn.prune.targets import check_scope, select_targets

#: ``retrain(model, level)``: called after each level's masks are applied (e.g. fine-tuning).
Retrain = Callable[[torch.nn.Module, float], object]


def iterative(
    model: torch.nn.Module,
    levels: Iterable[float],
    *,
    criterion: str | Score = "magnitude",
    weights: str = "both",
    scope: str = "global",
    seed: Seed = None,
    retrain: Retrain | None = None,
) -> Iterator[tuple[float, dict[str, torch.Tensor]]]:
    """Prune ``model`` to each of ``levels`` in turn; yield ``(level, masks)`` after each step.

    One step: compute masks for ``level`` with :func:`sparsernn.prune.prune`, starting from the
    previous step's masks (so kept ⊆ previously kept), :func:`apply` them, call
    ``retrain(model, level)`` if given, then yield. To evaluate both right after pruning and after
    retraining, leave ``retrain`` out and do both in the loop body. Unlike the other pruning
    functions this one changes ``model`` (it applies masks), so every recurrent module must have
    ``set_mask`` (wrap a plain model with ``sparsernn.nn.sparsify``). Arguments are checked when
    called, before anything is pruned; the steps run as the iterator is consumed.

    Examples
    --------
    >>> import torch
    >>> from sparsernn.prune.schedules import geometric
    >>> class Masked(torch.nn.GRU):  # stands in for sparsernn.nn.SparseGRU
    ...     def set_mask(self, name, mask):
    ...         with torch.no_grad():
    ...             getattr(self, name).mul_(mask)
    >>> gru = Masked(4, 8)
    >>> for level, masks in iterative(gru, geometric(3, factor=0.5), scope="layer"):
    ...     print(level, [round(1 - m.float().mean().item(), 3) for m in masks.values()])
    0.5 [0.5, 0.5]
    0.75 [0.75, 0.75]
    0.875 [0.875, 0.875]
    """
    checked = explicit(levels)
    score = check_criterion(criterion)
    check_scope(scope)
    for target in select_targets(model, weights):
        if not callable(getattr(target.module, "set_mask", None)):
            raise MaskError(
                f"iterative pruning applies masks, but {target.name!r} belongs to a plain "
                f"{type(target.module).__name__}; wrap the model first with sparsernn.nn.sparsify(model)"
            )
    if retrain is not None and not callable(retrain):
        raise ConfigError(f"retrain must be a callable retrain(model, level) or None, got {retrain!r}")
    return _steps(model, checked, score, weights, scope, seed, retrain)


def _steps(model, levels, score, weights, scope, seed, retrain):
    masks = None
    for level in levels:
        masks = prune(model, level, criterion=score, weights=weights, scope=scope, current=masks, seed=seed)
        apply(model, masks)
        if retrain is not None:
            retrain(model, level)
        yield level, masks


def recovery_epochs(accuracies: Sequence[float], reference: float, *, tolerance: float) -> int | None:
    """The first retraining epoch whose accuracy is within ``tolerance`` of ``reference``.

    ``accuracies[0]`` is the accuracy right after pruning (epoch 0), ``accuracies[e]`` the one
    after retraining epoch e (1-based). An epoch counts as recovered when
    ``accuracy >= reference - tolerance`` (exceeding the reference counts; a difference equal to
    ``tolerance`` up to float rounding counts). Accuracies and tolerance share one unit (fractions
    or percent). NaN accuracies never count.

    Returns
    -------
    int or None
        That epoch (0 if pruning lost nothing), or None if no epoch recovered.

    Examples
    --------
    >>> recovery_epochs([0.60, 0.95, 0.98], 0.99, tolerance=0.01)
    2
    >>> recovery_epochs([0.99], 0.99, tolerance=0.0), recovery_epochs([0.5, 0.6], 0.99, tolerance=0.01)
    (0, None)
    """
    for name, value in (("reference", reference), ("tolerance", tolerance)):
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if tolerance < 0:
        raise ConfigError(f"tolerance must be >= 0, got {tolerance!r}")
    bar = reference - tolerance
    for epoch, accuracy in enumerate(accuracies):
        if isinstance(accuracy, bool) or not isinstance(accuracy, Real):
            raise ConfigError(f"accuracies must be numbers, got {accuracy!r} at epoch {epoch}")
        if accuracy >= bar or math.isclose(accuracy, bar, rel_tol=1e-9, abs_tol=1e-12):
            return epoch
    return None
