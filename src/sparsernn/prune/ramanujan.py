"""Ramanujan guard: split one pruning step's budget across weight matrices so each stays an expander.

A step prunes as many weights as global magnitude pruning would (:func:`sparsernn.prune.magnitude`
at the same ``sparsity``), but chooses how many come from each matrix so that every matrix keeps
``Δ ≥ 0`` (``delta_s`` or ``delta_r`` of its unweighted bipartite graph, see :func:`sparsernn.analysis.expansion`) for as
long as possible. Within a matrix the smallest ``|w|`` always go first.

The allocation (water-filling)
------------------------------
1. Start from the magnitude allocation ``a_m`` (the matrix's share of the globally smallest
   weights) and compute Δ of every matrix pruned by its ``a_m``.
2. A matrix whose Δ falls below zero gets a *cap*: the largest amount, found by bisection between
   the last amount known to keep Δ ≥ 0 and ``a_m`` (to 1/64 of that range, at most 7 more Δ
   evaluations), at which Δ is still ≥ 0. Δ is treated as non-increasing in the amount pruned;
   a cap is always an amount at which Δ was measured ≥ 0.
3. The budget the capped matrices give up goes to the others, again by magnitude (the smallest
   kept weights pooled over the uncapped matrices), and step 2 repeats for the matrices whose
   amount grew, until no new matrix crosses. Matrices whose Δ is already negative before the step
   are not guarded: they take budget by magnitude like matrices with margin.
4. If every matrix is capped and the caps add up to less than the budget, no allocation found this
   way keeps all matrices Ramanujan: the step falls back to plain magnitude pruning.

Where no matrix crosses, the masks equal :func:`~sparsernn.prune.magnitude`'s exactly (one Δ per
matrix is the whole cost). The total pruned equals magnitude's, so the density is magnitude's
(within one weight of ``sparsity``); masks only shrink (kept ⊆ previously kept).

References
----------
B. Pal, A. Biswas, S. Kolay, P. Mitra and B. Basu, "A study on the Ramanujan graph property of
winning lottery tickets", ICML 2022 (pruning that keeps layers Ramanujan, feed-forward networks).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from sparsernn.errors import ConfigError
from sparsernn.prune.criteria import magnitude
from sparsernn.prune.floor import check_gates, gate_blocks
from sparsernn.prune.stopping import MEASURES, gap
from sparsernn.prune.targets import check_scope, check_sparsity, prior_masks, select_targets

_BISECTION_STEPS = 64  # caps are found to 1/64 of the range searched


@dataclass(frozen=True)
class GuardStep:
    """One guarded step, as :func:`guard_step` returns it.

    ``masks``: the new masks; ``pruned``: weights newly pruned per matrix; ``capped``: matrices
    given less than their magnitude share (on a fallback, those capped before giving up);
    ``fallback``: True when the step is plain magnitude pruning because no allocation kept every
    guarded matrix Ramanujan; ``evaluations``: Δ computations the step needed.
    """

    masks: dict[str, torch.Tensor]
    pruned: dict[str, int]
    capped: frozenset[str]
    fallback: bool
    evaluations: int


class _Matrix:
    """One weight matrix: its kept entries (flat indices, |w|) and Δ after pruning its a smallest."""

    def __init__(self, kept: np.ndarray, values: np.ndarray, blocks: int, measure: str) -> None:
        self.kept, self.blocks, self.measure = kept, blocks, measure
        self.index = np.flatnonzero(kept)
        self.values = values.ravel()[self.index]
        self.cache: dict[int, float] = {}

    def mask(self, amount: int) -> np.ndarray:
        """The kept mask with the ``amount`` smallest kept weights pruned."""
        mask = self.kept.copy()
        if amount > 0:
            smallest = np.argpartition(self.values, amount - 1)[:amount]
            mask.ravel()[self.index[smallest]] = False
        return mask

    def delta(self, amount: int) -> float:
        """Δ (minimum over gate blocks) after pruning ``amount``; NaN when undefined."""
        if amount not in self.cache:
            blocks = np.split(self.mask(amount), self.blocks)
            self.cache[amount] = min((gap(b, self.measure) for b in blocks), key=_nan_low)
        return self.cache[amount]


def _nan_low(value: float) -> float:
    return -math.inf if math.isnan(value) else value


def _ok(value: float) -> bool:
    return bool(value >= 0.0)  # NaN (undefined) is not Ramanujan


def _cap(delta: Callable[[int], float], low: int, high: int) -> int:
    """Largest amount in [low, high) with Δ >= 0, given Δ(low) >= 0 and Δ(high) < 0 (to the resolution)."""
    resolution = max(1, (high - low) // _BISECTION_STEPS)
    while high - low > resolution:
        middle = (low + high) // 2
        low, high = (middle, high) if _ok(delta(middle)) else (low, middle)
    return low


def _by_magnitude(matrices: dict[str, _Matrix], names: list[str], budget: int) -> dict[str, int] | None:
    """Split ``budget`` over ``names`` by pooled magnitude (ties by order); None if it does not fit."""
    sizes = [matrices[n].values.size for n in names]
    if budget > sum(sizes):
        return None
    if budget == 0:
        return dict.fromkeys(names, 0)
    pool = np.concatenate([matrices[n].values for n in names])
    threshold = np.partition(pool, budget - 1)[budget - 1]
    below = {n: int((matrices[n].values < threshold).sum()) for n in names}
    extra = budget - sum(below.values())
    amounts = {}
    for n in names:
        take = min(extra, int((matrices[n].values == threshold).sum()))
        amounts[n], extra = below[n] + take, extra - take
    return amounts


def _allocate(matrices: dict[str, _Matrix], start: dict[str, int]) -> tuple[dict[str, int] | None, set[str]]:
    """Water-filling of the module docs: (amounts, capped names); amounts None when no allocation
    keeps every guarded matrix Ramanujan."""
    budget = sum(start.values())
    safe = dict.fromkeys(matrices, 0)  # per matrix, an amount known to keep Δ >= 0
    caps: dict[str, int] = {}
    unguarded: set[str] = set()  # already below zero before the step
    amounts = dict(start)
    while True:
        crossed = False
        for name, matrix in matrices.items():
            amount = amounts[name]
            if name in caps or name in unguarded or amount <= safe[name]:
                continue
            if _ok(matrix.delta(amount)):
                safe[name] = amount
            elif safe[name] == 0 and not _ok(matrix.delta(0)):
                unguarded.add(name)
            else:
                caps[name] = _cap(matrix.delta, safe[name], amount)
                crossed = True
        if not crossed:
            return amounts, set(caps)
        free = [n for n in matrices if n not in caps]
        rest = _by_magnitude(matrices, free, budget - sum(caps.values()))
        if rest is None:
            return None, set(caps)
        amounts = {n: caps[n] if n in caps else rest[n] for n in matrices}


def guard_step(
    model: torch.nn.Module,
    sparsity: float,
    *,
    measure: str = "delta_s",
    weights: str = "both",
    gates: str = "stack",
    current: Mapping[str, torch.Tensor] | None = None,
) -> GuardStep:
    """:func:`ramanujan_guard` with the allocation's details (amounts, capped matrices, fallback)."""
    level = check_sparsity(sparsity)
    if measure not in MEASURES:
        raise ConfigError(f"unknown expansion measure {measure!r}; choose from {', '.join(MEASURES)}")
    check_gates(gates)
    targets = select_targets(model, weights)
    prior = prior_masks(targets, model, current)
    plain = magnitude(model, level, weights=weights, current=current)
    matrices = {
        t.name: _Matrix(
            prior[t.name].cpu().numpy(),
            t.weight.detach().cpu().to(torch.float64).abs().numpy(),
            gate_blocks(t, gates),
            measure,
        )
        for t in targets
    }
    start = {t.name: int((prior[t.name] & ~plain[t.name]).sum()) for t in targets}
    amounts, capped = _allocate(matrices, start)
    evaluations = sum(len(m.cache) for m in matrices.values())
    if amounts is None or amounts == start:
        return GuardStep(plain, start, frozenset(capped), amounts is None, evaluations)
    masks = {
        t.name: torch.from_numpy(matrices[t.name].mask(amounts[t.name])).to(t.weight.device) for t in targets
    }
    return GuardStep(masks, amounts, frozenset(capped), False, evaluations)


def ramanujan_guard(
    model: torch.nn.Module,
    sparsity: float,
    *,
    measure: str = "delta_s",
    weights: str = "both",
    scope: str = "global",
    gates: str = "stack",
    current: Mapping[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Global magnitude pruning whose budget is split so every matrix keeps Δ >= 0 (module docs).

    Parameters
    ----------
    model : torch.nn.Module
        Any module containing ``torch.nn.RNNBase`` modules; it is read, never changed.
    sparsity : float
        Fraction of the selected weights pruned afterwards, in [0, 1], as for
        :func:`~sparsernn.prune.magnitude`.
    measure : {"delta_s", "delta_r"}
        The gap kept non-negative: Δ_S = 2·sqrt(μ0 − 1) − μ̂ or Δ_R = sqrt(d_L − 1) + sqrt(d_R − 1) − μ̂,
        of the 0/1 mask with isolated nodes removed.
    weights : {"both", "ih", "hh"}
    scope : {"global"}
        The guard moves budget between matrices, so only one global budget makes sense.
    gates : {"stack", "per_gate"}
        Δ of the whole matrix (gate rows stacked, as :func:`~sparsernn.prune.guard_expansion`), or
        the smallest Δ of its gate blocks.
    current : mapping, optional
        Masks of the previous step; their pruned weights stay pruned, as do the modules' own.

    Returns
    -------
    dict[str, torch.Tensor]
        Qualified parameter name -> bool mask (True = kept), on the weight's device.

    Examples
    --------
    >>> import torch
    >>> from sparsernn.analysis import expansion
    >>> rnn = torch.nn.RNN(16, 16, bias=False)
    >>> with torch.no_grad():  # W_hh holds the smallest weights: plain magnitude empties it first
    ...     _ = rnn.weight_ih_l0.uniform_(1.0, 2.0, generator=torch.Generator().manual_seed(0))
    ...     _ = rnn.weight_hh_l0.uniform_(0.0, 0.1, generator=torch.Generator().manual_seed(1))
    >>> masks = ramanujan_guard(rnn, 0.5)
    >>> [expansion(m).delta_s >= 0 for m in masks.values()]
    [True, True]
    >>> round(sum(int((~m).sum()) for m in masks.values()) / 512, 4)
    0.5
    """
    if scope != "global":
        check_scope(scope)
        raise ConfigError(f"ramanujan_guard splits one global budget; scope must be 'global', got {scope!r}")
    return guard_step(model, sparsity, measure=measure, weights=weights, gates=gates, current=current).masks
