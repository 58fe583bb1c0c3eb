"""Pruning recurrent weights: criteria return masks, :func:`apply` sets them, schedules list levels.

Pruning functions never change a model: they read its recurrent weights (those of every
``torch.nn.RNNBase`` inside it) and return ``{qualified parameter name: bool mask}`` with True =
kept. :func:`apply` is the one step that changes the model. ``sparsity`` is always the fraction
removed, in [0, 1].

Beyond magnitude and random pruning: :func:`degree_floor` keeps every node of
every layer graph at degree >= d_min, :func:`ramanujan_guard` splits each step's budget so that
every matrix stays Ramanujan, and :func:`expander_masks` / :func:`erdos_renyi_masks` draw masks
for sparse-from-scratch training.

Examples
--------
>>> import torch
>>> import sparsernn.prune as sp
>>> model = torch.nn.Sequential(torch.nn.LSTM(3, 6, num_layers=2))
>>> masks = sp.magnitude(model, 0.8, weights="hh")
>>> sorted(masks)
['0.weight_hh_l0', '0.weight_hh_l1']
>>> n = sum(m.numel() for m in masks.values())
>>> abs(sum(int((~m).sum()) for m in masks.values()) - 0.8 * n) <= 1
True
"""

from sparsernn.prune.by_name import GLOBAL_ONLY_CRITERIA, MASK_CRITERIA, check_criterion, prune
from sparsernn.prune.criteria import (
    CRITERIA,
    Score,
    magnitude,
    magnitude_score,
    random,
    random_score,
    score_masks,
)
from sparsernn.prune.floor import degree_floor
from sparsernn.prune.init import erdos_renyi_masks, expander_masks
from sparsernn.prune.masking import apply
from sparsernn.prune.ramanujan import GuardStep, guard_step, ramanujan_guard
from sparsernn.prune.recovery import Retrain, iterative, recovery_epochs
from sparsernn.prune.schedules import SCHEDULES, cubic, cubic_at, explicit, geometric
from sparsernn.prune.stopping import Guarded, guard_expansion
from sparsernn.prune.targets import SCOPES, WEIGHT_KINDS

__all__ = [
    "CRITERIA",
    "GLOBAL_ONLY_CRITERIA",
    "MASK_CRITERIA",
    "SCHEDULES",
    "SCOPES",
    "WEIGHT_KINDS",
    "GuardStep",
    "Guarded",
    "Retrain",
    "Score",
    "apply",
    "check_criterion",
    "cubic",
    "cubic_at",
    "degree_floor",
    "erdos_renyi_masks",
    "expander_masks",
    "explicit",
    "geometric",
    "guard_expansion",
    "guard_step",
    "iterative",
    "magnitude",
    "magnitude_score",
    "prune",
    "ramanujan_guard",
    "random",
    "random_score",
    "recovery_epochs",
    "score_masks",
]
