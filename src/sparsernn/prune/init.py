"""Sparse from scratch: masks drawn before training, as bipartite expanders or Erdős–Rényi graphs.

Both functions return ``{qualified parameter name: bool mask}`` for the selected recurrent weights,
like the pruning criteria, so :func:`sparsernn.prune.apply` sets them (and zeroes the weights they
drop); train afterwards with the masks fixed. The model's current masks and weights are ignored:
these are initial wirings, not pruning steps.

Each weight matrix is a bipartite graph (columns = inputs, rows = outputs). With ``gates="per_gate"``
(the default) every gate's row block of an LSTM/GRU weight is drawn as its own graph, so every gate
has the same wiring density and every input reaches every gate; with ``gates="stack"`` the whole
matrix is one graph. Each graph gets ``round(density · rows · cols)`` edges, so the two wirings have
equal edge counts block by block:

- :func:`expander_masks`: a random near-biregular bipartite graph: input degrees differ by at most
  one, as do output degrees, and are exactly ``(d_L, d_R)`` whenever the edge count is a multiple
  of both side sizes (then the same family as :func:`sparsernn.graphs.bipartite_expander`; random
  biregular graphs are near-Ramanujan with high probability). Drawn by pairing degree "stubs" at
  random in vectorised rounds, the last few by degree-preserving switches; which
  nodes get the extra edge is random too. A 1,024-unit LSTM's masks take well under a second.
- :func:`erdos_renyi_masks`: the edge set is a uniform random subset of that size (the G(n, m) model).

Low densities leave some nodes without edges: below ``density = 1 / cols`` a graph has fewer edges
than output units (``d_R < 1``), so some units get no input from that matrix. A one-column graph (an
input of size 1, e.g. MNIST-1D's ``W_ih``) is a star: both wirings then connect the input to
``round(density · rows)`` random units, the same distribution, and differ on the other matrices only.

Seeds as everywhere in the library (``seed=`` an int, a NumPy Generator or None); one generator
draws every block in parameter order, so the same seed gives the same masks.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sparsernn._seed import Seed, numpy_rng
from sparsernn.errors import GraphError
from sparsernn.prune.floor import check_gates, gate_blocks
from sparsernn.prune.targets import check_fraction, select_targets


def _check_density(density: float) -> float:
    return check_fraction(density, "density", " (the fraction kept)")


def _degrees(edges: int, nodes: int, rng: np.random.Generator) -> np.ndarray:
    """``edges`` spread over ``nodes`` as evenly as possible, the extra ones on random nodes."""
    base, extra = divmod(edges, nodes)
    degrees = np.full(nodes, base, dtype=np.int64)
    degrees[rng.permutation(nodes)[:extra]] += 1
    return degrees


def _pair(in_degrees: np.ndarray, out_degrees: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random simple bipartite graph with these degrees, as a flat (rows · cols) bool mask.

    Stubs are paired by shuffling; pairs that repeat an edge are re-shuffled among themselves
    (vectorised rounds), and the few a round cannot place are placed by degree-preserving switches:
    a stuck pair (column u, row v) and a random edge (x, y) become the edges (u, y) and (x, v).
    """
    rows, cols = out_degrees.size, in_degrees.size
    mask = np.zeros(rows * cols, dtype=bool)
    left, right = np.repeat(np.arange(cols), in_degrees), np.repeat(np.arange(rows), out_degrees)
    while left.size:
        codes = rng.permutation(right) * cols + left
        unique, first = np.unique(codes, return_index=True)
        placed = first[~mask[unique]]
        if placed.size == 0:
            break
        mask[codes[placed]] = True
        rest = np.ones(codes.size, dtype=bool)
        rest[placed] = False
        left, right = left[rest], codes[rest] // cols
    for u, v in zip(left.tolist(), right.tolist()):
        y, x = np.divmod(np.flatnonzero(mask), cols)
        fits = np.flatnonzero(~mask[y * cols + u] & ~mask[v * cols + x])
        if fits.size == 0:
            raise GraphError(f"no simple bipartite graph with these degrees on {cols} + {rows} nodes")
        pick = fits[rng.integers(fits.size)]
        mask[[y[pick] * cols + x[pick], y[pick] * cols + u, v * cols + x[pick]]] = [False, True, True]
    return mask


def _near_biregular(rows: int, cols: int, edges: int, rng: np.random.Generator) -> np.ndarray:
    """A random (rows × cols) bool biadjacency with ``edges`` edges and near-equal degrees per side."""
    dense = 2 * edges > rows * cols  # fewer collisions in the sparser of the graph and its complement
    drawn = rows * cols - edges if dense else edges
    mask = _pair(_degrees(drawn, cols, rng), _degrees(drawn, rows, rng), rng).reshape(rows, cols)
    return ~mask if dense else mask


def _erdos_renyi(rows: int, cols: int, edges: int, rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros(rows * cols, dtype=bool)
    mask[rng.choice(rows * cols, size=edges, replace=False)] = True
    return mask.reshape(rows, cols)


def _masks(model, density, weights, gates, seed, draw) -> dict[str, torch.Tensor]:
    level, gates = _check_density(density), check_gates(gates)
    targets = select_targets(model, weights)
    rng = numpy_rng(seed)
    masks = {}
    for t in targets:
        n_rows, cols = t.weight.shape
        blocks = gate_blocks(t, gates)
        rows = n_rows // blocks
        edges = math.floor(level * rows * cols + 0.5)
        mask = np.concatenate([draw(rows, cols, edges, rng) for _ in range(blocks)])
        masks[t.name] = torch.from_numpy(mask).to(t.weight.device)
    return masks


def expander_masks(
    model: torch.nn.Module,
    density: float,
    *,
    weights: str = "both",
    gates: str = "per_gate",
    seed: Seed = None,
) -> dict[str, torch.Tensor]:
    """Random near-biregular bipartite expander masks of ``density`` per weight matrix (module docs).

    Parameters
    ----------
    model : torch.nn.Module
        Any module containing ``torch.nn.RNNBase`` modules; it is read, never changed.
    density : float
        Fraction of each graph's weights kept, in [0, 1].
    weights : {"both", "ih", "hh"}
    gates : {"per_gate", "stack"}
        One graph per gate block of an LSTM/GRU weight, or one per matrix.
    seed : int, numpy Generator or None

    Returns
    -------
    dict[str, torch.Tensor]
        Qualified parameter name -> bool mask (True = kept), on the weight's device.

    Examples
    --------
    >>> import torch
    >>> masks = expander_masks(torch.nn.LSTM(8, 4), 0.5, seed=0)
    >>> ih = masks["weight_ih_l0"].view(4, 4, 8)  # (gate, unit, input)
    >>> ih.sum(2).unique().tolist(), ih.sum(1).unique().tolist()  # d_R = 4, d_L = 2 in every gate
    ([4], [2])
    """
    return _masks(model, density, weights, gates, seed, _near_biregular)


def erdos_renyi_masks(
    model: torch.nn.Module,
    density: float,
    *,
    weights: str = "both",
    gates: str = "per_gate",
    seed: Seed = None,
) -> dict[str, torch.Tensor]:
    """Erdős–Rényi masks: a uniform random edge set of the same size as :func:`expander_masks` draws.

    Parameters and returns as :func:`expander_masks`.

    Examples
    --------
    >>> import torch
    >>> masks = erdos_renyi_masks(torch.nn.GRU(8, 4), 0.25, seed=0)
    >>> [int(m.sum()) for m in masks.values()]  # 3 gates × round(0.25 · 4 · cols)
    [24, 12]
    """
    return _masks(model, density, weights, gates, seed, _erdos_renyi)
