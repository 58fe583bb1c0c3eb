"""Spectral expansion of one sparse layer seen as a bipartite graph.

A weight matrix W (out × in) with mask M is a bipartite graph: left nodes are the inputs, right nodes
the outputs, and there is an edge (i, j) iff M[j, i]. Its adjacency ``A = [[0, Bᵀ], [B, 0]]`` has the
eigenvalues ``±σ_i(B)`` (plus zeros), so only singular values of the biadjacency B are computed.

Definitions used by :func:`expansion` (isolated nodes, i.e. all-zero rows and columns, removed first):

- ``d_left``, ``d_right``: average degree of the left / right nodes (``n_edges / n_left``, ...).
- ``mu0 = σ1(B)``; ``mu_hat = σ2(B)``, the largest non-trivial singular value. It is counted with
  multiplicity: when σ1 is repeated (for example two identical disconnected components) ``mu_hat ==
  mu0``, and in general a disconnected graph has ``mu_hat`` at least the top value of its second
  strongest component. This is the usual convention (a disconnected graph has zero spectral gap, as it
  has zero edge expansion). With fewer than two singular values (a single edge or a star), ``mu_hat = 0``.
- ``delta_s = 2·sqrt(mu0 − 1) − mu_hat``, and ``-inf`` when ``mu0 < 1`` (the bound is undefined).
- ``delta_r = sqrt(d_left − 1) + sqrt(d_right − 1) − mu_hat`` (irregular bipartite Ramanujan bound);
  NaN when undefined: no edges, or ``weighted=True`` (degrees and weighted singular values are not
  commensurable, so the weighted study uses ``delta_s`` and ``gap_weighted`` only).
- ``gap_weighted = σ1(|W ⊙ M|) − σ2(|W ⊙ M|)``, always computed from the magnitudes of the input,
  whatever ``weighted`` says; for a 0/1 mask it equals ``mu0 − mu_hat``.
- ``degree_ok = d_left ≥ 3 and d_right ≥ 3`` (as in the reference code).
- ``ramanujan``: ``delta_r ≥ 0`` where ``delta_r`` is defined, else ``delta_s ≥ 0``; False without edges.

Unweighted (the default) uses the 0/1 pattern of the input; ``weighted=True`` uses ``|W ⊙ M|`` for
``mu0``, ``mu_hat`` and ``delta_s``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from sparsernn.analysis._matrix import drop_isolated, edge_matrix, masked_edge_matrix
from sparsernn.analysis.singular import check_solver, top_two


@dataclass(frozen=True)
class Expansion:
    """Expansion figures of one bipartite layer graph; see the module docstring for the definitions.

    Examples
    --------
    >>> import numpy as np
    >>> e = expansion(np.ones((3, 4)))  # K_{4,3}
    >>> e.n_left, e.n_right, e.n_edges, e.d_left, e.d_right
    (4, 3, 12, 3.0, 4.0)
    >>> round(e.mu0, 4), e.mu_hat, e.ramanujan
    (3.4641, 0.0, True)
    """

    n_left: int
    n_right: int
    n_edges: int
    d_left: float
    d_right: float
    mu0: float
    mu_hat: float
    delta_s: float
    delta_r: float
    gap_weighted: float
    degree_ok: bool
    ramanujan: bool

    def to_dict(self) -> dict[str, float | int | bool]:
        """The fields as a plain dict (Python scalars; NaN and inf kept as floats).

        Examples
        --------
        >>> import numpy as np
        >>> list(expansion(np.eye(2)).to_dict())[:3]
        ['n_left', 'n_right', 'n_edges']
        """
        return asdict(self)


EXPANSION_FIELDS: tuple[str, ...] = tuple(Expansion.__dataclass_fields__)


def expansion(matrix: Any, *, weighted: bool = False, mask: Any = None, solver: str = "auto") -> Expansion:
    """Expansion of the bipartite graph of a weight matrix or mask (out × in = right × left).

    Parameters
    ----------
    matrix : array-like, torch.Tensor or scipy sparse matrix
        The (out × in) weight matrix or mask. Its nonzero entries are the edges (unless ``mask`` is
        given) and ``|matrix|`` gives the edge weights.
    weighted : bool
        Use ``|W ⊙ M|`` instead of the 0/1 pattern for ``mu0``, ``mu_hat`` and ``delta_s``.
    mask : array-like, optional
        Boolean (out × in) mask, True = kept. When given, the edges are the mask's True entries and
        ``matrix`` only supplies their weights (entries outside the mask are ignored).
    solver : {"auto", "dense", "sparse"}
        How σ1, σ2 are computed: dense LAPACK SVD, or ARPACK ``svds`` per connected component.
        ``"auto"`` picks by size; both give the same values (to ~1e-12 relative).

    Returns
    -------
    Expansion
        See the module docstring for every definition. A matrix without edges (empty or all zero)
        gives zero counts, degrees and singular values, ``delta_s = -inf``, ``delta_r = NaN`` and
        ``ramanujan = False``.

    Raises
    ------
    MaskError
        If the input is not a 2-D real matrix, has NaN or inf entries, or the mask shape differs.

    Examples
    --------
    >>> import numpy as np
    >>> cycle = np.eye(4) + np.roll(np.eye(4), 1, axis=1)  # the 8-cycle, 2-regular bipartite
    >>> e = expansion(cycle)
    >>> round(e.mu0, 4), round(e.mu_hat, 4), round(e.delta_r, 4), e.ramanujan
    (2.0, 1.4142, 0.5858, True)
    >>> expansion(np.zeros((3, 3))).n_edges
    0
    """
    check_solver(solver)  # before the matrix: a typo fails on a layer without edges too
    edges = edge_matrix(matrix) if mask is None else masked_edge_matrix(matrix, mask)
    edges = drop_isolated(edges)
    n_right, n_left = edges.shape
    n_edges = int(edges.nnz)
    if n_edges == 0:
        return _no_edges()
    d_left, d_right = n_edges / n_left, n_edges / n_right
    weights = top_two(edges, solver=solver)
    if weighted:
        mu0, mu_hat = weights
        delta_r = math.nan
    else:
        binary = bool(np.all(edges.data == 1.0))
        pattern = sp.csr_array((np.ones(n_edges), edges.indices, edges.indptr), shape=edges.shape)
        mu0, mu_hat = weights if binary else top_two(pattern, solver=solver)
        delta_r = math.sqrt(d_left - 1) + math.sqrt(d_right - 1) - mu_hat
    delta_s = 2.0 * math.sqrt(mu0 - 1.0) - mu_hat if mu0 >= 1.0 else -math.inf
    return Expansion(
        n_left=n_left,
        n_right=n_right,
        n_edges=n_edges,
        d_left=d_left,
        d_right=d_right,
        mu0=mu0,
        mu_hat=mu_hat,
        delta_s=delta_s,
        delta_r=delta_r,
        gap_weighted=weights[0] - weights[1],
        degree_ok=d_left >= 3 and d_right >= 3,
        ramanujan=is_ramanujan(delta_s, delta_r),
    )


def is_ramanujan(delta_s: float, delta_r: float) -> bool:
    """The library's Ramanujan rule: ``delta_r ≥ 0`` when defined (not NaN), else ``delta_s ≥ 0``.

    Examples
    --------
    >>> is_ramanujan(-1.0, 0.5), is_ramanujan(0.5, float("nan")), is_ramanujan(float("-inf"), float("nan"))
    (True, True, False)
    """
    delta = delta_s if math.isnan(delta_r) else delta_r
    return bool(delta >= 0.0)


def _no_edges() -> Expansion:
    return Expansion(
        n_left=0,
        n_right=0,
        n_edges=0,
        d_left=0.0,
        d_right=0.0,
        mu0=0.0,
        mu_hat=0.0,
        delta_s=-math.inf,
        delta_r=math.nan,
        gap_weighted=0.0,
        degree_ok=False,
        ramanujan=False,
    )
