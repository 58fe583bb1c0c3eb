"""Magnitude pruning with a degree floor: no input or output node of a layer graph drops below ``d_min``.

Each weight matrix is a bipartite graph (columns = inputs, rows = outputs, as in :func:`sparsernn.analysis.expansion`); for
LSTM and GRU weights each gate's row block is its own graph (the ``per_gate`` view), so a unit keeps
``d_min`` inputs in every gate, and every input reaches ``d_min`` units through every gate.

The rule
--------
A node's *demand* is ``b(v) = min(d, degree of v among the kept weights)`` (a node already below the
floor keeps all its weights). For a floor ``d``:

1. the *floor set* is a set of kept weights meeting every demand: the union, over nodes, of each
   node's ``d`` largest kept ``|w|`` (heavy, found in one vectorised pass); if that is more weights
   than the budget keeps, a *minimum* floor set instead (a maximum b-matching by max-flow, each
   node's shortfall then filled with its largest remaining weights: ``sum b(v) - matching`` weights,
   the fewest any floor set can have);
2. every weight outside the floor set is prunable; the smallest ``|w|`` among them are pruned until
   exactly ``round(sparsity * n)`` weights of the pool are pruned (weights pruned before count).

If even the minimum floor sets of ``d = d_min`` do not fit in the budget, no mask of that density
keeps the floor, and the floor drops one degree at a time to the largest ``d`` that fits (``d = 0``
is plain magnitude pruning). With ``scope="global"`` one floor and one budget cover all selected
matrices; with ``scope="layer"`` each matrix has its own. Masks only shrink (kept ⊆ previously kept);
the model is never changed.

References
----------
A. Schrijver, *Combinatorial Optimization: Polyhedra and Efficiency*, Springer 2003 (b-matchings
and b-edge covers in bipartite graphs: a minimum b-edge cover has ``sum b(v) - ν_b`` edges, ``ν_b``
the size of a maximum b-matching).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import maximum_flow

from sparsernn.errors import ConfigError
from sparsernn.prune.targets import Target, check_scope, check_sparsity, prior_masks, select_targets

#: How the rows of a gated weight are split into graphs: one graph per gate, or the whole matrix.
GATE_SPLITS = ("per_gate", "stack")
_GATE_BLOCKS = {"LSTM": 4, "GRU": 3}


def check_gates(gates: str) -> str:
    """Return ``gates`` if it is ``"per_gate"`` or ``"stack"``, else raise ConfigError."""
    if gates not in GATE_SPLITS:
        raise ConfigError(f"unknown gate split {gates!r}; choose from {', '.join(GATE_SPLITS)}")
    return gates


def gate_blocks(target: Target, gates: str) -> int:
    """Number of row blocks (graphs) of a target: its gate count with ``"per_gate"`` (LSTM 4, GRU 3)."""
    return _GATE_BLOCKS.get(getattr(target.module, "mode", ""), 1) if gates == "per_gate" else 1


def check_d_min(d_min: int) -> int:
    """Return ``d_min`` if it is an integer >= 1, else raise ConfigError."""
    if isinstance(d_min, bool) or not isinstance(d_min, Integral) or d_min < 1:
        raise ConfigError(f"d_min must be an integer >= 1 (the degree floor), got {d_min!r}")
    return int(d_min)


def _top_per_row(values: np.ndarray, d: int) -> np.ndarray:
    """Bool mask of the ``d`` largest entries of each row (all of them when a row is shorter)."""
    out = np.zeros(values.shape, dtype=bool)
    if d >= values.shape[1]:
        out[:] = True
        return out
    top = np.argpartition(-values, d - 1, axis=1)[:, :d]
    np.put_along_axis(out, top, True, axis=1)
    return out


def _heavy_floor(kept: np.ndarray, values: np.ndarray, d: int) -> np.ndarray:
    """Union over nodes of each node's ``d`` largest kept weights (pruned ones score -inf)."""
    scores = np.where(kept, values, -np.inf)
    return (_top_per_row(scores, d) | _top_per_row(scores.T, d).T) & kept


def _minimum_floor(kept: np.ndarray, values: np.ndarray, d: int) -> np.ndarray:
    """A floor set of the fewest weights: a maximum b-matching (max-flow) plus each node's shortfall."""
    n_rows, n_cols = kept.shape
    need_rows = np.minimum(kept.sum(axis=1), d)
    need_cols = np.minimum(kept.sum(axis=0), d)
    rows, cols = np.nonzero(kept)
    sink = n_rows + n_cols + 1  # nodes: 0 = source, 1.. rows, then columns, then the sink
    tail = np.concatenate([np.zeros(n_rows, int), 1 + rows, 1 + n_rows + np.arange(n_cols)])
    head = np.concatenate([1 + np.arange(n_rows), 1 + n_rows + cols, np.full(n_cols, sink)])
    capacity = np.concatenate([need_rows, np.ones(rows.size, int), need_cols]).astype(np.int32)
    network = sp.csr_array((capacity, (tail, head)), shape=(sink + 1, sink + 1))
    flow = maximum_flow(network, 0, sink, method="dinic").flow.tocoo()
    edge = (flow.data > 0) & (flow.row >= 1) & (flow.row <= n_rows) & (flow.col > n_rows)
    chosen = np.zeros(kept.shape, dtype=bool)
    chosen[flow.row[edge] - 1, flow.col[edge] - 1 - n_rows] = True
    # No unchosen kept weight joins two nodes short of their demand (the matching is maximum), so
    # filling each node's shortfall with its own largest weights adds one weight per missing unit.
    for axis, need in ((1, need_rows), (0, need_cols)):
        short = need - chosen.sum(axis=axis)
        for node in np.flatnonzero(short > 0):
            line = (slice(node, node + 1), slice(None)) if axis == 1 else (slice(None), slice(node, node + 1))
            free = np.where(kept[line] & ~chosen[line], values[line], -np.inf).ravel()
            best = np.argsort(-free, kind="stable")[: short[node]]
            picked = np.zeros(free.size, dtype=bool)
            picked[best] = True
            chosen[line] |= picked.reshape(kept[line].shape)
    return chosen


def _floor_sets(blocks: list[tuple[np.ndarray, np.ndarray]], budget: int, d_min: int) -> list[np.ndarray]:
    """The floor sets of every block at the largest floor ``d <= d_min`` whose sets fit in ``budget``."""
    for d in range(d_min, 0, -1):
        for build in (_heavy_floor, _minimum_floor):
            sets = [build(kept, values, d) for kept, values in blocks]
            if sum(int(s.sum()) for s in sets) <= budget:
                return sets
    return [np.zeros(kept.shape, dtype=bool) for kept, _ in blocks]


def _prune_pool(
    kept: dict[str, np.ndarray],
    values: dict[str, np.ndarray],
    blocks: Mapping[str, int],
    level: float,
    d_min: int,
) -> dict[str, np.ndarray]:
    """New masks of one pool of matrices sharing one budget and one floor."""
    n_total = sum(k.size for k in kept.values())
    n_kept = sum(int(k.sum()) for k in kept.values())
    budget = min(n_kept, n_total - math.floor(level * n_total + 0.5))  # weights left after this call
    split = {
        name: (np.split(kept[name], blocks[name]), np.split(values[name], blocks[name])) for name in kept
    }
    pairs = [pair for name in kept for pair in zip(*split[name])]
    sets = iter(_floor_sets(pairs, budget, d_min))
    floor = {name: np.concatenate([next(sets) for _ in range(blocks[name])]) for name in kept}
    prunable = {name: kept[name] & ~floor[name] for name in kept}
    flat = np.concatenate([values[name][prunable[name]] for name in kept])
    n_prune = n_kept - budget
    chosen = np.zeros(flat.size, dtype=bool)
    if n_prune > 0:
        chosen[np.argpartition(flat, n_prune - 1)[:n_prune]] = True
    masks, start = {}, 0
    for name in kept:
        mask = kept[name].copy()
        count = int(prunable[name].sum())
        mask[prunable[name]] = ~chosen[start : start + count]
        masks[name], start = mask, start + count
    return masks


def degree_floor(
    model: torch.nn.Module,
    sparsity: float,
    *,
    d_min: int = 3,
    weights: str = "both",
    scope: str = "global",
    gates: str = "per_gate",
    current: Mapping[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Magnitude pruning that keeps every input and output node at degree >= ``d_min`` (module docs).

    Parameters
    ----------
    model : torch.nn.Module
        Any module containing ``torch.nn.RNNBase`` modules; it is read, never changed.
    sparsity : float
        Fraction of the selected weights pruned afterwards, in [0, 1]: exactly ``round(sparsity * n)``
        of each pool (``n`` weights), or those already pruned if more.
    d_min : int
        The degree floor, >= 1 (default 3, the ``degree_ok`` threshold of the expansion analysis).
    weights : {"both", "ih", "hh"}
    scope : {"global", "layer"}
        One budget and floor over all selected matrices, or one per matrix.
    gates : {"per_gate", "stack"}
        Each gate's row block of an LSTM/GRU weight is its own graph, or the whole matrix is one.
    current : mapping, optional
        Masks of an earlier step; their pruned weights stay pruned, as do the modules' own.

    Returns
    -------
    dict[str, torch.Tensor]
        Qualified parameter name -> bool mask (True = kept), on the weight's device.

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> lstm = torch.nn.LSTM(8, 8)
    >>> masks = degree_floor(lstm, 0.7, d_min=2)
    >>> sum(int((~m).sum()) for m in masks.values()), round(0.7 * 2 * 32 * 8)  # pruned: exact
    (358, 358)
    >>> gates = [block for m in masks.values() for block in m.view(4, 8, 8)]
    >>> min(min(g.sum(0).min().item(), g.sum(1).min().item()) for g in gates)  # every gate, every node
    2
    """
    level = check_sparsity(sparsity)
    d_min, gates = check_d_min(d_min), check_gates(gates)
    check_scope(scope)
    targets = select_targets(model, weights)
    prior = prior_masks(targets, model, current)
    kept = {t.name: prior[t.name].cpu().numpy() for t in targets}
    values = {t.name: t.weight.detach().cpu().to(torch.float64).abs().numpy() for t in targets}
    blocks = {t.name: gate_blocks(t, gates) for t in targets}
    pools = [list(kept)] if scope == "global" else [[name] for name in kept]
    masks = {}
    for pool in pools:
        masks |= _prune_pool({n: kept[n] for n in pool}, values, blocks, level, d_min)
    return {t.name: torch.from_numpy(masks[t.name]).to(t.weight.device) for t in targets}
