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
   way keeps all matrices Ramanujan: the step falls back to plain magnitude pruning. When that is
   certain before bisecting (each new cap is below its amount, and even ``amount - 1`` each would
   leave more budget than the uncapped matrices hold), the bisections are skipped: same step,
   fewer Δ evaluations.

Where no matrix crosses, the masks equal :func:`~sparsernn.prune.magnitude`'s exactly (one Δ per
matrix is the whole cost). The total pruned equals magnitude's, so the density is magnitude's
(within one weight of ``sparsity``); masks only shrink (kept ⊆ previously kept).

Cost
----
Only the sign of each Δ matters, so each evaluation is
:func:`sparsernn.analysis.top_singular.pattern_gap` with ``sign_only=True``: Lanczos on BᵀB that
stops once the sign is certain (at once for a clearly negative Δ, at a moderate residual for a
positive one), on a CSR pattern built from the kept entries without a dense pass. The magnitude
share comes from the same ``|w|`` arrays (the threshold is ``numpy.quantile`` of the same pool as
:func:`~sparsernn.prune.magnitude`'s, so the masks are identical), not a second pass over the model.

References
----------
B. Pal, A. Biswas, S. Kolay, P. Mitra and B. Basu, "A study on the Ramanujan graph property of
winning lottery tickets", ICML 2022 (pruning that keeps layers Ramanujan, feed-forward networks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from sparsernn.analysis.top_singular import csr_from_coords, pattern_gap
from sparsernn.errors import ConfigError, MaskError
from sparsernn.prune.floor import check_gates, gate_blocks
from sparsernn.prune.stopping import MEASURES
from sparsernn.prune.targets import Target, check_scope, check_sparsity, prior_masks, select_targets

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
    """One weight matrix: its kept entries (flat indices, |w|) and whether Δ >= 0 after pruning its a smallest."""

    def __init__(self, kept: np.ndarray, values: np.ndarray, blocks: int, measure: str) -> None:
        self.kept, self.blocks, self.measure = kept, blocks, measure
        self.index = np.flatnonzero(kept)  # sorted: row-major order
        self.values = values.ravel()[self.index]
        rows, cols = np.divmod(self.index, kept.shape[1])
        small = np.int32 if max(kept.shape) < np.iinfo(np.int32).max else np.int64
        self.rows, self.cols = rows.astype(small), cols.astype(small)  # half the traffic per Δ
        self.cache: dict[int, bool] = {}

    def _keep(self, amount: int) -> np.ndarray:
        """Which kept entries stay after pruning the ``amount`` smallest |w| (by ``argpartition``)."""
        keep = np.ones(self.values.size, dtype=bool)
        if amount > 0:
            keep[np.argpartition(self.values, amount - 1)[:amount]] = False
        return keep

    def mask(self, amount: int) -> np.ndarray:
        """The kept mask with the ``amount`` smallest kept weights pruned."""
        mask = np.zeros_like(self.kept)
        mask.ravel()[self.index[self._keep(amount)]] = True
        return mask

    def ok(self, amount: int) -> bool:
        """Δ >= 0 in every gate block after pruning ``amount`` (undefined Δ is not Ramanujan)."""
        if amount not in self.cache:
            keep = self._keep(amount)
            rows, cols = self.rows[keep], self.cols[keep]  # still sorted by row
            self.cache[amount] = all(_ok(self._block_gap(rows, cols, b)) for b in range(self.blocks))
        return self.cache[amount]

    def _block_gap(self, rows: np.ndarray, cols: np.ndarray, block: int) -> float:
        """Δ of one gate block (its rows only), computed only as far as its sign."""
        n_rows, n_cols = self.kept.shape
        size = n_rows // self.blocks
        lo, hi = np.searchsorted(rows, [block * size, (block + 1) * size])
        pattern = csr_from_coords(rows[lo:hi] - block * size, cols[lo:hi], (size, n_cols))
        return pattern_gap(pattern, self.measure, sign_only=True)


def _ok(value: float) -> bool:
    return bool(value >= 0.0)  # NaN (undefined) is not Ramanujan


def _cap(ok: Callable[[int], bool], low: int, high: int) -> int:
    """Largest amount in [low, high) with Δ >= 0, given Δ(low) >= 0 and Δ(high) < 0 (to the resolution)."""
    resolution = max(1, (high - low) // _BISECTION_STEPS)
    while high - low > resolution:
        middle = (low + high) // 2
        low, high = (middle, high) if ok(middle) else (low, middle)
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
        crossing = {}
        for name, matrix in matrices.items():
            amount = amounts[name]
            if name in caps or name in unguarded or amount <= safe[name]:
                continue
            if matrix.ok(amount):
                safe[name] = amount
            elif safe[name] == 0 and not matrix.ok(0):
                unguarded.add(name)
            else:
                crossing[name] = amount
        if not crossing:
            return amounts, set(caps)
        free = [n for n in matrices if n not in caps and n not in crossing]
        # Every cap is below its amount: when even amount - 1 each leaves more than the free
        # matrices hold, no cap can make the rest fit, and the bisections are skipped.
        left = budget - sum(caps.values()) - sum(a - 1 for a in crossing.values())
        if left > sum(matrices[n].values.size for n in free):
            return None, set(caps) | set(crossing)
        for name, amount in crossing.items():
            caps[name] = _cap(matrices[name].ok, safe[name], amount)
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
    matrices = {t.name: _matrix(t, prior[t.name], gate_blocks(t, gates), measure) for t in targets}
    start = _magnitude_start(matrices, level)
    amounts, capped = _allocate(matrices, start)
    evaluations = sum(len(m.cache) for m in matrices.values())
    final = start if amounts is None else amounts
    masks = {
        t.name: torch.from_numpy(matrices[t.name].mask(final[t.name])).to(t.weight.device) for t in targets
    }
    return GuardStep(masks, final, frozenset(capped), amounts is None, evaluations)


def _matrix(target: Target, prior: torch.Tensor, blocks: int, measure: str) -> _Matrix:
    values = target.weight.detach().cpu().to(torch.float64).abs().numpy()
    if not np.isfinite(values).all():  # magnitude's own check and message
        raise MaskError(
            f"cannot prune {target.name!r}: its scores are not all finite and >= 0 (NaN or inf weights?)"
        )
    return _Matrix(prior.cpu().numpy(), values, blocks, measure)


def _magnitude_start(matrices: dict[str, _Matrix], level: float) -> dict[str, int]:
    """Each matrix's share of :func:`~sparsernn.prune.magnitude` at ``level``, by its exact rule.

    The threshold is ``numpy.quantile`` of the same pool (every selected weight, pruned ones
    scoring 0), so it is bit-identical; a kept weight goes iff its ``|w|`` is strictly below it,
    which are exactly the ``amount`` smallest kept weights that :meth:`_Matrix.mask` prunes.
    Computed here from the ``|w|`` already at hand instead of a second pass over the model.
    """
    pool = np.zeros(sum(m.kept.size for m in matrices.values()))
    offset = 0
    for m in matrices.values():
        pool[offset + m.index] = m.values
        offset += m.kept.size
    threshold = float(np.quantile(pool, level, method="linear"))
    return {name: int(np.count_nonzero(m.values < threshold)) for name, m in matrices.items()}


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
