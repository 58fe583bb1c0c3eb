"""Expansion-aware stopping: stop pruning a weight matrix once its bipartite graph stops expanding.

During iterative pruning, each new mask is checked with the spectral gap of section 4 of the
design (Δ_S or Δ_R of the whole matrix, gate rows stacked). A matrix whose gap would turn negative
(or undefined) keeps its previous mask and is frozen from then on: it stays at the sparsest level
at which it was still an expander.

Stopping rules *evaluated* on recorded pruning paths (design section 10) live in
:mod:`sparsernn.prune.stopping_rules` (the path record, the knee, the expansion, degree,
validation and density-only rules) and :mod:`sparsernn.prune.stopping_eval` (errors against the
knee, bootstrap CIs, paired verdicts against the density-only rule, Spearman ρ across criteria);
their public names are re-exported here, so ``sr.prune.stopping.knee`` etc. work.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from sparsernn.errors import ConfigError
from sparsernn.prune.stopping_eval import (
    MIN_SEEDS,
    PathKey,
    bootstrap_mean,
    compare,
    criteria_spearman,
    evaluate,
    spearman_ci,
    summarize,
)
from sparsernn.prune.stopping_rules import (
    CROSSING_MEASURES,
    TRACES,
    PruningPath,
    density_choice,
    density_flag,
    expansion_flags,
    first_crossing,
    kept_level,
    knee,
    nearest_level,
    rule_flags,
)

MEASURES = ("delta_s", "delta_r")

__all__ = [
    "CROSSING_MEASURES",
    "MEASURES",
    "MIN_SEEDS",
    "TRACES",
    "Guarded",
    "PathKey",
    "PruningPath",
    "bootstrap_mean",
    "compare",
    "criteria_spearman",
    "density_choice",
    "density_flag",
    "evaluate",
    "expansion_flags",
    "first_crossing",
    "gap",
    "guard_expansion",
    "kept_level",
    "knee",
    "nearest_level",
    "rule_flags",
    "spearman_ci",
    "summarize",
]


@dataclass(frozen=True)
class Guarded:
    """The masks to apply and the names frozen so far (``newly_frozen`` ⊆ ``frozen``)."""

    masks: dict[str, torch.Tensor]
    frozen: frozenset[str]
    newly_frozen: frozenset[str]


def gap(mask: torch.Tensor, measure: str, *, sign_only: bool = False) -> float:
    """Unweighted Δ_S or Δ_R of a mask (``-inf`` / NaN when undefined), as :func:`sparsernn.analysis.expansion`.

    Computed by :func:`sparsernn.analysis.top_singular.mask_gap` (Lanczos on BᵀB for large
    connected masks, the expansion's own route otherwise; within 1e-6 relative of it). With
    ``sign_only=True`` the value is only guaranteed to have the right sign (faster).

    Examples
    --------
    >>> import torch
    >>> round(gap(torch.ones(3, 4, dtype=torch.bool), "delta_s"), 4)  # K_{4,3}: 2·sqrt(sqrt(12) − 1) − 0
    3.1395
    """
    from sparsernn.analysis.top_singular import mask_gap  # analysis imports scipy; keep prune light

    if measure not in MEASURES:
        raise ConfigError(f"unknown expansion measure {measure!r}; choose from {', '.join(MEASURES)}")
    return mask_gap(mask, measure, sign_only=sign_only)


def guard_expansion(
    proposed: Mapping[str, torch.Tensor],
    current: Mapping[str, torch.Tensor],
    frozen: frozenset[str] = frozenset(),
    *,
    measure: str = "delta_s",
) -> Guarded:
    """Keep ``current[name]`` instead of ``proposed[name]`` for frozen matrices and for those whose gap fails.

    Examples
    --------
    >>> import torch
    >>> dense = {"w": torch.ones(6, 6, dtype=torch.bool)}
    >>> empty = {"w": torch.eye(6, dtype=torch.bool)}  # a perfect matching: μ0 = 1, Δ_S = -1
    >>> result = guard_expansion(empty, dense)
    >>> bool(result.masks["w"].all()), sorted(result.newly_frozen)
    (True, ['w'])
    """
    masks, newly = {}, set()
    for name, mask in proposed.items():
        if name in frozen:
            masks[name] = current[name]
            continue
        value = gap(mask, measure, sign_only=True)  # only the sign decides
        if math.isnan(value) or value < 0:
            masks[name] = current[name]
            newly.add(name)
        else:
            masks[name] = mask
    return Guarded(masks, frozenset(frozen | newly), frozenset(newly))
