"""Edge expansion of an undirected graph: exact values for small graphs, spectral bounds for any size.

Two definitions are used, and every function says which one it computes or bounds. For a node set S
with complement S̄, ``∂S`` is the (weighted) set of edges between them and ``vol S`` the sum of the
degrees in S.

- **Edge expansion** (isoperimetric number) ``h(G) = min_S |∂S| / min(|S|, |S̄|)``.
  Bounds: ``a/2 ≤ h(G) ≤ d_max · sqrt(2 λ2)``, with ``a`` the second smallest eigenvalue of the
  Laplacian ``L = D − A`` (Mohar's lower bound) and the upper bound following from
  ``h ≤ d_max · φ`` and Cheeger's inequality below.
- **Conductance** ``φ(G) = min_S |∂S| / min(vol S, vol S̄)``.
  Cheeger's inequality: ``λ2/2 ≤ φ(G) ≤ sqrt(2 λ2)``, with ``λ2`` the second smallest eigenvalue of
  the normalized Laplacian ``I − D^{-1/2} A D^{-1/2}``.

The sweep cuts are real cuts, hence upper bounds: the best prefix of the nodes sorted by the Fiedler
vector (of ``D^{-1/2}``-scaled normalized Laplacian for φ, where the proof of Cheeger's inequality
guarantees ``φ(sweep) ≤ sqrt(2 λ2)``; of ``L`` for h).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import eigsh

from sparsernn.errors import ConfigError, GraphError

EXACT_MAX_NODES = 20
DENSE_MAX_NODES = 1000


@dataclass(frozen=True)
class CheegerBounds:
    """Spectral bounds and sweep cuts for conductance φ and edge expansion h (module docstring).

    Attributes
    ----------
    lambda2 : float
        Second smallest eigenvalue of the normalized Laplacian.
    conductance_lower, conductance_upper : float
        ``λ2 / 2 ≤ φ ≤ sqrt(2 λ2)`` (Cheeger's inequality).
    sweep_conductance, sweep_conductance_set : float, tuple
        Conductance of the best Fiedler sweep cut, and its smaller-volume side: ``φ ≤ sweep ≤ upper``.
    laplacian_lambda2 : float
        Algebraic connectivity ``a``: second smallest eigenvalue of ``L = D − A``.
    expansion_lower, expansion_upper : float
        ``a / 2 ≤ h ≤ d_max · sqrt(2 λ2)``.
    sweep_expansion, sweep_expansion_set : float, tuple
        ``|∂S| / min(|S|, |S̄|)`` of the best sweep cut of L's Fiedler vector, and S: ``h ≤ sweep``.

    Examples
    --------
    >>> b = cheeger_bounds(nx.complete_graph(4))
    >>> round(b.lambda2, 4), round(b.laplacian_lambda2, 4), round(b.sweep_expansion, 4)
    (1.3333, 4.0, 2.0)
    """

    lambda2: float
    conductance_lower: float
    conductance_upper: float
    sweep_conductance: float
    sweep_conductance_set: tuple
    laplacian_lambda2: float
    expansion_lower: float
    expansion_upper: float
    sweep_expansion: float
    sweep_expansion_set: tuple


def _adjacency(graph: Any, weight: str | None) -> tuple[sp.csr_array, list]:
    """Symmetric nonnegative adjacency (CSR) and node list of a networkx graph or square matrix."""
    if isinstance(graph, nx.Graph):
        if graph.is_multigraph():
            raise GraphError("multigraphs are not supported; expected a simple graph")
        nodes = list(graph.nodes)
        undirected = graph.to_undirected(as_view=True) if graph.is_directed() else graph
        matrix = sp.csr_array(
            nx.to_scipy_sparse_array(undirected, nodelist=nodes, weight=weight), dtype=float
        )
    else:
        try:
            array = graph if sp.issparse(graph) else np.asarray(graph, dtype=float)
        except (TypeError, ValueError):
            raise GraphError(
                f"adjacency must be a matrix of real numbers; got a {type(graph).__name__} with other entries"
            ) from None
        if array.ndim != 2 or array.shape[0] != array.shape[1]:
            raise GraphError(f"adjacency must be a square matrix; got shape {array.shape}")
        matrix = sp.csr_array(array, dtype=float)
        _check_weights(matrix)  # before symmetry: NaN is not equal to itself
        if (matrix != matrix.T).nnz:
            raise GraphError("adjacency matrix is not symmetric; expected an undirected graph")
        nodes = list(range(matrix.shape[0]))
    if len(nodes) < 2:
        raise GraphError(f"graph has {len(nodes)} node(s); edge expansion needs at least 2")
    if matrix.diagonal().any():
        raise GraphError("graph has self-loops; expected a simple graph")
    _check_weights(matrix)
    return matrix, nodes


def _check_weights(matrix: sp.csr_array) -> None:
    if matrix.nnz and (not np.isfinite(matrix.data).all() or matrix.data.min() < 0):
        raise GraphError("edge weights must be finite and nonnegative")


def _enumerate(matrix: sp.csr_array, denominator: str) -> float:
    """Minimum of ``cut(S) / min(size or volume of S, of S̄)`` over all cuts, by doubling tables.

    Subset S ⊆ {0 .. k − 1} is the integer whose bit j says j ∈ S; adding node k to every subset
    doubles the tables: ``cut(S ∪ {k}) = cut(S) + deg(k) − 2 w(k, S)``. Node n − 1 never enters S,
    so every cut {S, S̄} is visited once; the whole table costs O(2^n) array operations.
    """
    n = matrix.shape[0]
    if n > EXACT_MAX_NODES:
        raise GraphError(f"graph has {n} nodes; exact enumeration is limited to {EXACT_MAX_NODES}")
    dense = matrix.toarray()
    degree = dense.sum(axis=1)
    cut, measure = np.zeros(1), np.zeros(1)
    step = np.ones(n) if denominator == "size" else degree
    for k in range(n - 1):
        to_k = np.zeros(1)  # w(k, S) for every S ⊆ {0 .. k − 1}
        for j in range(k):
            to_k = np.concatenate([to_k, to_k + dense[k, j]])
        cut = np.concatenate([cut, cut + degree[k] - 2.0 * to_k])
        measure = np.concatenate([measure, measure + step[k]])
    small = np.minimum(measure, step.sum() - measure)[1:]  # drop S = ∅
    return float((cut[1:] / small).min())


def edge_expansion(graph: Any, *, weight: str | None = None) -> float:
    """Exact edge expansion ``h(G) = min_S |∂S| / min(|S|, |S̄|)`` by enumerating all cuts.

    Parameters
    ----------
    graph : networkx graph or square symmetric matrix
        Directed graphs are read as undirected. At most 20 nodes.
    weight : str, optional
        Edge attribute holding weights (networkx input); None counts edges.

    Raises
    ------
    GraphError
        For more than 20 nodes, fewer than 2, self-loops or negative weights.

    Examples
    --------
    >>> import networkx as nx
    >>> edge_expansion(nx.cycle_graph(8)), edge_expansion(nx.complete_graph(5))
    (0.5, 3.0)
    """
    return _enumerate(_adjacency(graph, weight)[0], "size")


def conductance(graph: Any, *, weight: str | None = None) -> float:
    """Exact conductance ``φ(G) = min_S |∂S| / min(vol S, vol S̄)`` by enumerating all cuts.

    Same input rules as :func:`edge_expansion`; a node without edges makes φ undefined (GraphError).

    Examples
    --------
    >>> import networkx as nx
    >>> conductance(nx.cycle_graph(8))
    0.25
    """
    matrix, _ = _adjacency(graph, weight)
    _require_no_isolated(matrix)
    return _enumerate(matrix, "volume")


def _require_no_isolated(matrix: sp.csr_array) -> None:
    isolated = int(np.count_nonzero(np.asarray(matrix.sum(axis=1)).ravel() == 0))
    if isolated:
        raise GraphError(f"graph has {isolated} node(s) without edges; conductance needs every degree > 0")


def _fiedler(matrix: sp.csr_array, normalized: bool, solver: str) -> tuple[float, np.ndarray]:
    """Second smallest eigenvalue and eigenvector of L (or of the normalized Laplacian)."""
    degree = np.asarray(matrix.sum(axis=1)).ravel()
    n = matrix.shape[0]
    if normalized:
        scale = sp.diags_array(1.0 / np.sqrt(degree))
        operator, shift = scale @ matrix @ scale, 1.0  # eigenvalues 1 − λ(normalized Laplacian)
    else:
        shift = 2.0 * degree.max()  # ≥ λ_max(L), so shift − L is positive semi-definite
        operator = sp.diags_array(shift - degree) + matrix
    if solver == "dense" or (solver == "auto" and n <= DENSE_MAX_NODES):
        values, vectors = np.linalg.eigh(operator.toarray())
        value, vector = values[-2], vectors[:, -2]
    else:
        start = np.random.default_rng(0).standard_normal(n)  # private generator: deterministic
        values, vectors = eigsh(operator, k=2, which="LA", v0=start)
        value, vector = values[0], vectors[:, 0]
    lam = max(float(shift) - float(value), 0.0)
    return lam, (vector / np.sqrt(degree) if normalized else vector)


def _sweep(matrix: sp.csr_array, vector: np.ndarray, denominator: str) -> tuple[float, np.ndarray]:
    """Best prefix cut of the nodes sorted by ``vector``: (value, node indices of the prefix)."""
    order = np.argsort(vector, kind="stable")
    ordered = sp.csr_array(matrix[order][:, order])
    degree = np.asarray(ordered.sum(axis=1)).ravel()
    inner = np.asarray(sp.tril(ordered, k=-1).sum(axis=1)).ravel()  # weight to earlier nodes
    cut = np.cumsum(degree - 2.0 * inner)[:-1]
    if denominator == "size":
        size = np.arange(1, len(order))
        small = np.minimum(size, len(order) - size).astype(float)
    else:
        volume = np.cumsum(degree)[:-1]
        small = np.minimum(volume, degree.sum() - volume)
    k = int(np.argmin(cut / small))
    return float(cut[k] / small[k]), order[: k + 1]


def cheeger_bounds(graph: Any, *, weight: str | None = None, solver: str = "auto") -> CheegerBounds:
    """Spectral bounds and Fiedler sweep cuts for conductance φ and edge expansion h, any size.

    ``conductance_lower ≤ φ ≤ sweep_conductance ≤ conductance_upper`` and
    ``expansion_lower ≤ h ≤ sweep_expansion``, ``h ≤ expansion_upper`` (module docstring). A
    disconnected graph has λ2 = a = 0 and sweep cuts of value 0 (its smallest component).

    Parameters
    ----------
    graph : networkx graph or square symmetric matrix
        Every node needs an edge (conductance is undefined otherwise).
    weight : str, optional
        Edge attribute holding weights (networkx input).
    solver : {"auto", "dense", "sparse"}
        Dense ``eigh`` up to 1000 nodes, ARPACK beyond (or as asked).

    Examples
    --------
    >>> import networkx as nx
    >>> b = cheeger_bounds(nx.cycle_graph(8))
    >>> b.conductance_lower <= 0.25 <= b.sweep_conductance <= b.conductance_upper
    True
    >>> b.sweep_conductance, b.sweep_expansion
    (0.25, 0.5)
    """
    if solver not in ("auto", "dense", "sparse"):
        raise ConfigError(f"unknown solver {solver!r}; choose from auto, dense, sparse")
    matrix, nodes = _adjacency(graph, weight)
    _require_no_isolated(matrix)
    n_comp, labels = connected_components(matrix, directed=False)
    if n_comp > 1:
        return _disconnected(matrix, nodes, labels)
    lam, vector = _fiedler(matrix, True, solver)
    lap, lap_vector = _fiedler(matrix, False, solver)
    phi, phi_set = _sweep(matrix, vector, "volume")
    h, h_set = _sweep(matrix, lap_vector, "size")
    d_max = float(np.asarray(matrix.sum(axis=1)).max())
    return CheegerBounds(
        lambda2=lam,
        conductance_lower=lam / 2.0,
        conductance_upper=math.sqrt(2.0 * lam),
        sweep_conductance=phi,
        sweep_conductance_set=tuple(nodes[i] for i in phi_set),
        laplacian_lambda2=lap,
        expansion_lower=lap / 2.0,
        expansion_upper=d_max * math.sqrt(2.0 * lam),
        sweep_expansion=h,
        sweep_expansion_set=tuple(nodes[i] for i in h_set),
    )


def _disconnected(matrix: sp.csr_array, nodes: list, labels: np.ndarray) -> CheegerBounds:
    degree = np.asarray(matrix.sum(axis=1)).ravel()
    by_volume = np.argmin(np.bincount(labels, weights=degree))
    by_size = np.argmin(np.bincount(labels))
    return CheegerBounds(
        lambda2=0.0,
        conductance_lower=0.0,
        conductance_upper=0.0,
        sweep_conductance=0.0,
        sweep_conductance_set=tuple(nodes[i] for i in np.flatnonzero(labels == by_volume)),
        laplacian_lambda2=0.0,
        expansion_lower=0.0,
        expansion_upper=0.0,
        sweep_expansion=0.0,
        sweep_expansion_set=tuple(nodes[i] for i in np.flatnonzero(labels == by_size)),
    )
