"""Pruning criteria: score every selected weight, keep the scores at or above a percentile.

The rule, shared by every criterion
-----------------------------------
1. Each selected weight gets a non-negative score (``magnitude``: ``|w|``; ``random``: uniform on
   (0, 1]). Weights that are already pruned (False in the module's own mask or in ``current``)
   score 0, whatever their value.
2. The threshold is the ``sparsity``-quantile of the scores, ``numpy.quantile(scores, sparsity)``
   with NumPy's default ``method="linear"`` (Hyndman & Fan type 7; the same as
   ``numpy.percentile(scores, 100 * sparsity)``, which is what the Darji study used). Scope
   ``"global"`` pools the scores of all selected weights of all layers into one threshold; scope
   ``"layer"`` computes one threshold per weight matrix.
3. A weight is pruned iff its score is *strictly* below the threshold (``mask = score >= t``) or it
   was pruned before. So ``sparsity=0`` prunes nothing new, and ``sparsity=1`` keeps only the
   largest score(s) of each pool.

With n distinct scores the number pruned is ``ceil(sparsity * (n - 1))``, within one weight of
``sparsity * n``; tied scores at the threshold are all kept. Because pruned weights score 0 and
count in the pool, ``sparsity`` is the level of the *total*: pruning a model already at 50 %
to 70 % prunes 20 % more of all weights, and asking for less than what is already pruned changes
nothing. Masks only ever shrink (kept ⊆ previously kept). No function here mutates the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from sparsernn._registry import registry
from sparsernn._seed import Seed, numpy_rng
from sparsernn.errors import MaskError
from sparsernn.prune.targets import check_scope, check_sparsity, prior_masks, select_targets

#: A criterion: ``score(weight, rng) -> scores`` (same shape, finite, >= 0; higher = more worth keeping).
Score = Callable[[torch.Tensor, np.random.Generator], torch.Tensor]


def magnitude_score(weight: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Score = ``|w|`` (``rng`` is unused).

    Examples
    --------
    >>> import numpy as np, torch
    >>> magnitude_score(torch.tensor([-2.0, 0.5]), np.random.default_rng(0)).tolist()
    [2.0, 0.5]
    """
    return weight.detach().abs()


def random_score(weight: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Score = an independent uniform draw on (0, 1] per weight, from ``rng`` (CPU, device-independent).

    Examples
    --------
    >>> import numpy as np, torch
    >>> s = random_score(torch.zeros(2, 3), np.random.default_rng(0))
    >>> s.shape, bool(((s > 0) & (s <= 1)).all())
    (torch.Size([2, 3]), True)
    """
    # 1 - U[0, 1) lies in (0, 1]: no live weight can tie with the 0 score of a pruned one.
    return torch.from_numpy(1.0 - rng.random(tuple(weight.shape))).to(weight.device)


#: Pruning criteria by name.
CRITERIA: Mapping[str, Score] = registry({"magnitude": magnitude_score, "random": random_score})


def _scores(
    score: Score, name: str, weight: torch.Tensor, rng: np.random.Generator, kept: torch.Tensor
) -> torch.Tensor:
    values = torch.as_tensor(score(weight.detach(), rng)).to(device=weight.device, dtype=torch.float64)
    if values.shape != weight.shape:
        raise MaskError(f"criterion scores for {name!r} have shape {tuple(values.shape)}, not the weight's")
    if not bool(torch.isfinite(values).all()) or bool((values < 0).any()):
        raise MaskError(
            f"cannot prune {name!r}: its scores are not all finite and >= 0 (NaN or inf weights?)"
        )
    return values.masked_fill(~kept, 0.0)


def _threshold(pool: list[torch.Tensor], sparsity: float) -> float:
    flat = np.concatenate([s.detach().cpu().numpy().ravel() for s in pool])
    return float(np.quantile(flat, sparsity, method="linear"))


def score_masks(
    model: torch.nn.Module,
    sparsity: float,
    score: Score,
    *,
    weights: str = "both",
    scope: str = "global",
    current: Mapping[str, torch.Tensor] | None = None,
    seed: Seed = None,
) -> dict[str, torch.Tensor]:
    """Masks by the rule of this module for a :data:`Score` function (see :func:`prune` for the rest).

    Examples
    --------
    >>> import torch
    >>> masks = score_masks(torch.nn.RNN(2, 4), 0.5, magnitude_score, scope="layer")
    >>> [int(m.sum()) for m in masks.values()]
    [4, 8]
    """
    level = check_sparsity(sparsity)
    check_scope(scope)
    targets = select_targets(model, weights)
    kept = prior_masks(targets, model, current)
    rng = numpy_rng(seed)
    scores = {t.name: _scores(score, t.name, t.weight, rng, kept[t.name]) for t in targets}
    pools = [list(scores)] if scope == "global" else [[name] for name in scores]
    masks = {}
    for pool in pools:
        threshold = _threshold([scores[name] for name in pool], level)
        for name in pool:
            masks[name] = (scores[name] >= threshold) & kept[name]
    return masks


def magnitude(
    model: torch.nn.Module,
    sparsity: float,
    *,
    weights: str = "both",
    scope: str = "global",
    current: Mapping[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Magnitude pruning: prune the weights with ``|w|`` strictly below the ``sparsity``-quantile.

    ``scope="global"`` is the Darji study's rule: one threshold, the ``100 * sparsity``-th percentile
    of ``|w|`` pooled over the selected weights of all layers (``numpy.percentile``, linear
    interpolation), and ``mask = |w| >= threshold``. See :func:`sparsernn.prune.prune` for the arguments and the
    module documentation for how already-pruned weights count.

    Examples
    --------
    >>> import torch
    >>> rnn = torch.nn.RNN(1, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = rnn.weight_ih_l0.copy_(torch.tensor([[0.1], [-0.4]]))
    ...     _ = rnn.weight_hh_l0.copy_(torch.tensor([[0.3, -0.2], [0.6, -0.5]]))
    >>> masks = magnitude(rnn, 0.5)
    >>> masks["weight_ih_l0"].tolist(), masks["weight_hh_l0"].tolist()
    ([[False], [True]], [[False, False], [True, True]])
    >>> magnitude(rnn, 1.0, weights="hh")["weight_hh_l0"].tolist()  # p = 100 keeps the largest
    [[False, False], [True, False]]
    """
    return score_masks(model, sparsity, magnitude_score, weights=weights, scope=scope, current=current)


def random(
    model: torch.nn.Module,
    sparsity: float,
    *,
    weights: str = "both",
    scope: str = "global",
    current: Mapping[str, torch.Tensor] | None = None,
    seed: Seed,
) -> dict[str, torch.Tensor]:
    """Random pruning (the baseline): the same rule as :func:`magnitude` with uniform random scores.

    Every weight is equally likely to go; with ``scope="global"`` the count per matrix varies, with
    ``scope="layer"`` each matrix loses the same fraction: as many weights as :func:`magnitude` at
    the same level (``ceil(sparsity * (n - 1))``, random scores never tie), except when two ``|w|``
    tie exactly at magnitude's threshold, where magnitude keeps the tied ones (a weight more). The same
    ``seed`` draws the same scores, so pruning one model at rising levels with one seed gives nested
    masks.

    Examples
    --------
    >>> import torch
    >>> gru = torch.nn.GRU(3, 5)
    >>> a = random(gru, 0.3, seed=1)
    >>> b = random(gru, 0.6, seed=1)
    >>> all(bool((b[k] <= a[k]).all()) for k in a)  # nested
    True
    """
    return score_masks(
        model, sparsity, random_score, weights=weights, scope=scope, current=current, seed=seed
    )
