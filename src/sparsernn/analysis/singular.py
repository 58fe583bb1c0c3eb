"""The two largest singular values of a nonnegative biadjacency matrix, dense or sparse, same answer.

Only σ1 and σ2 are ever needed: the eigenvalues of the bipartite adjacency ``[[0, Bᵀ], [B, 0]]`` are
``±σ_i`` (plus zeros), so σ1 is its largest eigenvalue and σ2 its largest non-trivial one.

Two routes, chosen by size: a dense LAPACK SVD for small matrices, and for larger ones ARPACK through
``scipy.sparse.linalg.svds`` run once per connected component. The split by components is what makes
the two routes agree: within a connected component σ1 is simple (Perron–Frobenius), whereas a Lanczos
method started from one vector cannot see the multiplicity of a repeated top singular value (two
identical components), which the dense SVD reports. Stars (components with a single node on one side)
have one nonzero singular value, the norm of their weights, and are handled in one vectorised step.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components
from scipy.sparse.linalg import LinearOperator, svds

from sparsernn.analysis._matrix import adjacency_from
from sparsernn.errors import ConfigError

SOLVERS = ("auto", "dense", "sparse")
# Dense SVD up to this many matrix entries: below it LAPACK beats ARPACK's set-up cost.
DENSE_MAX_ENTRIES = 32_768
# svds squares this tolerance for the eigen-solver on BᵀB (Ritz residual 1e-6 relative). Ritz values
# converge quadratically in the residual, and svds ends with a Rayleigh–Ritz step: σ1, σ2 agreed with
# LAPACK to ≤ 5e-12 relative on random, banded, block and grid masks, while taking ~30 % fewer
# products than 1e-4 (the cost that decides the 4096 × 1024 target).
_SVDS_TOL = 1e-3


def check_solver(solver: str) -> str:
    """Return ``solver`` if it is one of :data:`SOLVERS`, else raise ConfigError listing them."""
    if solver not in SOLVERS:
        raise ConfigError(f"unknown solver {solver!r}; choose from {', '.join(SOLVERS)}")
    return solver


def top_two(matrix: sp.csr_array, *, solver: str = "auto") -> tuple[float, float]:
    """Return ``(σ1, σ2)`` of a nonnegative CSR matrix, with ``σ2 = 0`` when there is no second value.

    Singular values are counted with multiplicity, so ``σ2 == σ1`` when the top value is repeated.
    A σ2 below the numerical-rank tolerance ``σ1 · max(m, n) · ε`` (that of
    ``numpy.linalg.matrix_rank``) is rounding noise of a rank-one matrix and is returned as 0.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> s1, s2 = top_two(sp.csr_array(np.ones((2, 3))))  # K_{3,2}: rank 1, σ1 = sqrt(6)
    >>> round(s1, 4), s2
    (2.4495, 0.0)
    >>> [round(s, 4) for s in top_two(sp.csr_array(np.eye(3)))]  # three disjoint edges
    [1.0, 1.0]
    """
    check_solver(solver)
    matrix = sp.csr_array(matrix)
    if (matrix.data == 0).any():  # a zero weight does not couple two nodes
        matrix = matrix.copy()
        matrix.eliminate_zeros()
    if matrix.nnz == 0:
        return 0.0, 0.0
    if solver == "dense" or (solver == "auto" and matrix.shape[0] * matrix.shape[1] <= DENSE_MAX_ENTRIES):
        values = np.linalg.svd(matrix.toarray(), compute_uv=False)
    else:
        values = _by_component(matrix)
    top = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    second = float(top[1]) if top.size > 1 else 0.0
    if second <= top[0] * max(matrix.shape) * np.finfo(np.float64).eps:
        second = 0.0
    return float(top[0]), second


def _by_component(matrix: sp.csr_array) -> np.ndarray:
    """σ1 and σ2 of every connected component, concatenated (unsorted)."""
    transposed = matrix.T.tocsr()
    adjacency = adjacency_from(matrix, transposed)
    n_right, n_left = matrix.shape
    reached = breadth_first_order(adjacency, 0, directed=True, return_predecessors=False)
    if reached.size == n_left + n_right:  # connected: the common case, one BFS instead of a labelling
        return _connected_top_two(matrix, transposed)
    _, labels = connected_components(adjacency, directed=True, connection="strong")
    left, right = labels[:n_left], labels[n_left:]
    n_comp = int(labels.max()) + 1
    size_left = np.bincount(left, minlength=n_comp)
    size_right = np.bincount(right, minlength=n_comp)
    rows = np.repeat(np.arange(n_right), np.diff(matrix.indptr))
    edge_comp = right[rows]
    star = np.minimum(size_left, size_right) == 1
    present = (size_left > 0) & (size_right > 0)  # isolated nodes form edgeless components
    star_norms = np.sqrt(np.bincount(edge_comp, weights=matrix.data**2, minlength=n_comp))
    values = [star_norms[star & present]]
    for comp in np.flatnonzero(~star & present):
        block = matrix[np.flatnonzero(right == comp)][:, np.flatnonzero(left == comp)]
        block = sp.csr_array(block)
        values.append(_connected_top_two(block, block.T.tocsr()))
    return np.concatenate(values)


def _connected_top_two(matrix: sp.csr_array, transposed: sp.csr_array) -> np.ndarray:
    if min(matrix.shape) < 3 or matrix.shape[0] * matrix.shape[1] <= DENSE_MAX_ENTRIES:
        return np.linalg.svd(matrix.toarray(), compute_uv=False)[:2]
    operator = LinearOperator(
        matrix.shape,
        matvec=matrix.__matmul__,
        rmatvec=transposed.__matmul__,
        matmat=matrix.__matmul__,
        rmatmat=transposed.__matmul__,
        dtype=np.float64,
    )
    # A fixed start vector from a private generator: deterministic results, global RNG untouched.
    start = np.random.default_rng(0).standard_normal(min(matrix.shape))
    return svds(operator, k=2, tol=_SVDS_TOL, v0=start, return_singular_vectors=False)
