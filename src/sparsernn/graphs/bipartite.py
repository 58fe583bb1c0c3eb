"""Between a bipartite networkx graph and its (out × in) biadjacency matrix, the library's mask layout.

Left nodes are the inputs (columns), right nodes the outputs (rows). In networkx the side of a node is
its ``bipartite`` attribute: 0 = left, 1 = right.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp

from sparsernn.errors import GraphError


def biadjacency(graph: nx.Graph, *, weight: str | None = None) -> sp.csr_array:
    """The (n_right × n_left) biadjacency of a bipartite graph, sides read from ``bipartite`` (0 / 1).

    Rows and columns follow the sorted node labels of each side. With ``weight`` the entries are
    that edge attribute (default 1), else 1.

    Raises
    ------
    GraphError
        If a node has no ``bipartite`` attribute in {0, 1} or an edge joins two nodes of one side.

    Examples
    --------
    >>> g = from_biadjacency([[1, 0, 1], [0, 1, 1]])
    >>> biadjacency(g).toarray().astype(int).tolist()
    [[1, 0, 1], [0, 1, 1]]
    """
    sides = nx.get_node_attributes(graph, "bipartite")
    if len(sides) != graph.number_of_nodes() or not set(sides.values()) <= {0, 1}:
        raise GraphError("every node needs the attribute bipartite = 0 (left/input) or 1 (right/output)")
    left = sorted(v for v, side in sides.items() if side == 0)
    right = sorted(v for v, side in sides.items() if side == 1)
    column, row = {v: i for i, v in enumerate(left)}, {v: j for j, v in enumerate(right)}
    rows, cols, values = [], [], []
    for u, v, data in graph.edges(data=True):
        if sides[u] == sides[v]:
            raise GraphError(
                f"edge ({u!r}, {v!r}) joins two nodes of the same side; expected a bipartite graph"
            )
        a, b = (u, v) if sides[u] == 0 else (v, u)
        rows.append(row[b])
        cols.append(column[a])
        values.append(float(data.get(weight, 1.0)) if weight else 1.0)
    return sp.csr_array((values, (rows, cols)), shape=(len(right), len(left)))


def from_biadjacency(matrix: Any) -> nx.Graph:
    """The bipartite graph of an (out × in) matrix: nodes ``range(n_in)`` are the inputs (bipartite=0),
    the next ``n_out`` nodes the outputs (bipartite=1); every nonzero entry is an edge with ``weight = |w|``.

    Examples
    --------
    >>> g = from_biadjacency([[0.5, 0.0], [0.0, -2.0]])
    >>> sorted(g.edges(data="weight"))
    [(0, 2, 0.5), (1, 3, 2.0)]
    """
    csr = _entries(matrix)
    n_out, n_in = csr.shape
    graph = nx.Graph()
    graph.add_nodes_from(range(n_in), bipartite=0)
    graph.add_nodes_from(range(n_in, n_in + n_out), bipartite=1)
    graph.add_weighted_edges_from(
        (int(i), n_in + int(j), float(w)) for i, j, w in zip(csr.col, csr.row, np.abs(csr.data))
    )
    return graph


def _entries(matrix: Any) -> sp.coo_array:
    """The nonzero entries of a 2-D real matrix (NumPy, torch, SciPy sparse, nested lists), row-major."""
    if sp.issparse(matrix):
        coo = sp.coo_array(matrix, dtype=np.float64)
    else:
        if hasattr(matrix, "detach"):  # a torch tensor: graphs does not depend on torch
            matrix = matrix.detach().cpu().float().numpy()
        try:
            array = np.asarray(matrix)
        except (ValueError, TypeError):
            raise GraphError("matrix is not a rectangular array; expected a 2-D (out × in) matrix") from None
        if array.ndim != 2 or array.dtype.kind not in "biuf":
            raise GraphError(
                f"matrix has shape {array.shape} and dtype {array.dtype}; expected a 2-D real (out × in) matrix"
            )
        coo = sp.coo_array(array.astype(np.float64))
    coo.sum_duplicates()
    coo.eliminate_zeros()
    if not np.isfinite(coo.data).all():
        raise GraphError("matrix has non-finite entries (NaN or inf); expected finite weights")
    return coo
