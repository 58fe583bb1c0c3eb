"""Pruning by criterion name: the registries of every criterion, and :func:`prune` choosing by name.

Score criteria (:data:`~sparsernn.prune.criteria.CRITERIA`: ``magnitude``, ``random``) follow the
percentile rule of :mod:`sparsernn.prune.criteria`; mask criteria (:data:`MASK_CRITERIA`:
``degree_floor``, ``ramanujan_guard``) choose whole masks. A recipe's ``criterion`` field names one
of either kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from sparsernn._registry import lookup, registry
from sparsernn._seed import Seed
from sparsernn.prune.criteria import CRITERIA, Score, score_masks
from sparsernn.prune.floor import degree_floor
from sparsernn.prune.ramanujan import ramanujan_guard
from sparsernn.prune.targets import check_sparsity

#: Criteria that choose whole masks rather than score weights one by one, by name; each is called as
#: ``fn(model, sparsity, weights=..., scope=..., current=...)`` and returns masks like :func:`prune`.
MASK_CRITERIA: Mapping[str, Callable[..., dict[str, torch.Tensor]]] = registry(
    {"degree_floor": degree_floor, "ramanujan_guard": ramanujan_guard}
)
#: Criteria that split one global budget across weight matrices: they refuse ``scope="layer"``.
GLOBAL_ONLY_CRITERIA: frozenset[str] = frozenset({"ramanujan_guard"})


def check_criterion(criterion: str | Score) -> str | Score:
    """The :data:`Score` of a score criterion's name, a mask criterion's name as is, or a callable as is.

    Raises ConfigError for an unknown name, listing the names of both registries.

    Examples
    --------
    >>> from sparsernn.prune.criteria import magnitude_score
    >>> check_criterion("magnitude") is magnitude_score, check_criterion("degree_floor")
    (True, 'degree_floor')
    """
    if callable(criterion) or (isinstance(criterion, str) and criterion in MASK_CRITERIA):
        return criterion
    return lookup(registry({**CRITERIA, **MASK_CRITERIA}), criterion, "pruning criterion")


def prune(
    model: torch.nn.Module,
    sparsity: float,
    *,
    criterion: str | Score = "magnitude",
    weights: str = "both",
    scope: str = "global",
    current: Mapping[str, torch.Tensor] | None = None,
    seed: Seed = None,
) -> dict[str, torch.Tensor]:
    """Masks that prune ``sparsity`` of the selected recurrent weights by ``criterion`` (see module docs).

    Parameters
    ----------
    model : torch.nn.Module
        Any module containing ``torch.nn.RNNBase`` modules; it is read, never changed.
    sparsity : float
        Fraction of the selected weights to remove, in [0, 1] (a fraction, not a percentage).
    criterion : str or callable
        A name in :data:`~sparsernn.prune.criteria.CRITERIA` ("magnitude", "random") or a :data:`Score` function, or a name
        in :data:`MASK_CRITERIA` ("degree_floor", "ramanujan_guard"), called with its defaults.
    weights : {"both", "ih", "hh"}
        Which recurrent weight matrices to prune.
    scope : {"global", "layer"}
        One threshold over all selected matrices, or one per matrix.
    current : mapping, optional
        Masks of an earlier pruning step (qualified name -> bool tensor); their pruned weights stay
        pruned, as do those of the modules' own masks.
    seed : int, numpy Generator or None
        Random source of criteria that need one ("random").

    Returns
    -------
    dict[str, torch.Tensor]
        Qualified parameter name -> new bool mask (True = kept), on the weight's device.

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> lstm = torch.nn.LSTM(4, 8, num_layers=2)
    >>> masks = prune(lstm, 0.5, criterion="random", seed=0, scope="layer")
    >>> sorted(masks)
    ['weight_hh_l0', 'weight_hh_l1', 'weight_ih_l0', 'weight_ih_l1']
    >>> [round(1 - m.float().mean().item(), 2) for m in masks.values()]
    [0.5, 0.5, 0.5, 0.5]
    """
    level = check_sparsity(sparsity)
    score = check_criterion(criterion)
    if isinstance(score, str):
        return MASK_CRITERIA[score](model, level, weights=weights, scope=scope, current=current)
    return score_masks(model, level, score, weights=weights, scope=scope, current=current, seed=seed)
