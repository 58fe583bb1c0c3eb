"""Fast Δ_S and Δ_R of a 0/1 mask: σ1, σ2 by Lanczos on BᵀB, and early answers to "is Δ ≥ 0?".

What the Ramanujan guard and the expansion stopping rule ask of a mask B (out × in, True = edge) is
Δ_S = 2·sqrt(μ0 − 1) − μ̂ or Δ_R = sqrt(d_L − 1) + sqrt(d_R − 1) − μ̂, with μ0 = σ1(B), μ̂ = σ2(B)
and the degrees of B with isolated nodes removed: exactly the definitions of
:func:`sparsernn.analysis.expansion` (its unweighted fields), computed faster:

- **Lanczos on the Gram matrix** G = BᵀB (or BBᵀ, whichever side is smaller), whose eigenvalues are
  σ_i²; one step is a product with B and one with Bᵀ (CSR and its free CSC transpose, no
  conversion). The basis is fully re-orthogonalised and the start vector is drawn from a private,
  seeded generator, so the result is deterministic. It stops when the residual bound of both Ritz
  pairs is at most ``TOLERANCE · θ_k``: each σ_k is then within ``TOLERANCE / 2`` relative of the
  true value by the residual bound alone, and in practice within ~1e-12 (Ritz values converge
  quadratically in the residual). Tests check agreement with the dense SVD to 1e-6 relative.
- **Decisions**: with ``sign_only=True`` the iteration also stops as soon as the interval that the
  Ritz values and residual bounds give for Δ (``θ_k ≤ σ_k² ≤ θ_k + r_k``) lies on one side of zero; the
  returned value then has the sign of the true Δ but is only an estimate. Far from a crossing this
  takes a fraction of the steps of a full solve.
- **Exact route**: small matrices (dense SVD is faster), disconnected graphs (a single Lanczos
  sequence cannot see a repeated σ1, which two equal components have), rank-one patterns (σ2 is
  below what the Gram matrix resolves) and the rare non-converged iteration go through
  :func:`sparsernn.analysis.singular.top_two`, the path :func:`~sparsernn.analysis.expansion` uses.
  Connectivity is checked by a few Boolean products (reachability from the highest-degree input);
  a graph whose diameter needs more rounds also takes the exact route.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.linalg import eigh_tridiagonal
from threadpoolctl import threadpool_limits

from sparsernn.analysis._matrix import drop_isolated, edge_matrix
from sparsernn.analysis.singular import DENSE_MAX_ENTRIES, top_two
from sparsernn.errors import ConfigError

MEASURES = ("delta_s", "delta_r")
#: Stop when every Ritz residual bound is at most this fraction of its Ritz value (σ² scale).
TOLERANCE = 1e-6
_MAX_STEPS = 400  # Lanczos steps before the exact route takes over (typical: 30-80)
_REACH_ROUNDS = 8  # Boolean reachability rounds before connectivity is left to the exact route
_RANK_FLOOR = 1e-6  # θ2 / θ1 below this: σ2 is under what BᵀB resolves, use the exact route
_MIN_SIDE = 8  # Lanczos only when both sides have more non-isolated nodes than this
_TRUST = 1e-3  # residual bounds are trusted below this fraction of θ (see _upper)
_WIDEN = 4.0  # and widened by this factor

#: Given ``(lo, hi)`` bounds on (σ1, σ2), True when the question asked is answered.
Settled = Callable[[tuple[float, float], tuple[float, float]], bool]


def mask_gap(mask: Any, measure: str, *, sign_only: bool = False) -> float:
    """Unweighted Δ_S or Δ_R of a mask, as :func:`~sparsernn.analysis.expansion` defines them (module docs).

    Parameters
    ----------
    mask : array-like, torch.Tensor or scipy sparse matrix
        The (out × in) mask; nonzero entries are edges.
    measure : {"delta_s", "delta_r"}
    sign_only : bool
        Stop as soon as the sign of Δ is certain (Δ ≥ 0 or not); the value returned then has the
        right sign but may be off in its digits.

    Returns
    -------
    float
        Δ; ``-inf`` for Δ_S and NaN for Δ_R when the mask has no edges (undefined).

    Examples
    --------
    >>> import numpy as np
    >>> cycle = np.eye(4) + np.roll(np.eye(4), 1, axis=1)  # the 8-cycle: σ1 = 2, σ2 = sqrt(2)
    >>> round(mask_gap(cycle, "delta_s"), 4), round(mask_gap(cycle, "delta_r"), 4)
    (0.5858, 0.5858)
    >>> mask_gap(np.zeros((3, 3)), "delta_s")
    -inf
    """
    pattern = edge_matrix(mask, what="mask")
    pattern.data[:] = 1.0  # the 0/1 pattern, whatever the stored magnitudes
    return pattern_gap(pattern, measure, sign_only=sign_only)


def pattern_gap(pattern: sp.csr_array, measure: str, *, sign_only: bool = False) -> float:
    """:func:`mask_gap` of a CSR pattern whose stored entries (all 1.0) are the edges.

    Examples
    --------
    >>> import numpy as np
    >>> pattern = csr_from_coords(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), (2, 2))  # K_{2,2}
    >>> pattern_gap(pattern, "delta_s"), pattern_gap(pattern, "delta_r")
    (2.0, 2.0)
    """
    if measure not in MEASURES:
        raise ConfigError(f"unknown expansion measure {measure!r}; choose from {', '.join(MEASURES)}")
    if pattern.nnz == 0:
        return -math.inf if measure == "delta_s" else math.nan
    n_right = int(np.count_nonzero(np.diff(pattern.indptr)))
    n_left = int(np.count_nonzero(np.bincount(pattern.indices, minlength=pattern.shape[1])))
    offset = _offset(measure, pattern.nnz / n_left, pattern.nnz / n_right)
    settled = _sign_settled(measure, offset) if sign_only else None
    # One BLAS thread: the products here are small, and a multi-threaded LAPACK/BLAS call on a
    # busy machine runs 10-50x slower when its threads are descheduled (measured: 0.3 s instead of
    # 8 ms for the SVD of a 512 × 48 mask while two other processes ran).
    with threadpool_limits(limits=1, user_api="blas"):
        mu0, mu_hat = top_two_pattern(pattern, settled=settled)
    return _delta(measure, offset, mu0, mu_hat)


def csr_from_coords(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_array:
    """The 0/1 CSR matrix of ``shape`` with edges ``(rows[k], cols[k])``; ``rows`` sorted, no repeats.

    Examples
    --------
    >>> csr_from_coords(np.array([0, 1]), np.array([1, 0]), (2, 2)).toarray().tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    n_rows, n_cols = shape
    index = np.int32 if max(rows.size, n_cols) < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(n_rows + 1, dtype=index)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return sp.csr_array((np.ones(rows.size), cols.astype(index), indptr), shape=shape)


def _offset(measure: str, d_left: float, d_right: float) -> float:
    """The part of Δ that does not depend on σ2 (Δ_R's degree bound; unused for Δ_S)."""
    return math.sqrt(d_left - 1.0) + math.sqrt(d_right - 1.0) if measure == "delta_r" else 0.0


def _delta(measure: str, offset: float, mu0: float, mu_hat: float) -> float:
    if measure == "delta_r":
        return offset - mu_hat
    return 2.0 * math.sqrt(mu0 - 1.0) - mu_hat if mu0 >= 1.0 else -math.inf


def _sign_settled(measure: str, offset: float) -> Settled:
    def settled(lo: tuple[float, float], hi: tuple[float, float]) -> bool:
        low = _delta(measure, offset, lo[0], hi[1])  # Δ grows with σ1 and falls with σ2
        high = _delta(measure, offset, hi[0], lo[1])
        return low >= 0.0 or high < 0.0

    return settled


def top_two_pattern(pattern: sp.csr_array, *, settled: Settled | None = None) -> tuple[float, float]:
    """``(σ1, σ2)`` of a nonnegative CSR matrix (isolated rows and columns allowed), as :func:`top_two`.

    ``settled``, when given, may stop the iteration early (see :func:`mask_gap`).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> ring = sp.csr_array(np.eye(200) + np.roll(np.eye(200), 1, axis=1))  # the 400-cycle
    >>> [round(s, 6) for s in top_two_pattern(ring)]  # 2 and 2·cos(π / 200)
    [2.0, 1.999753]
    """
    pattern = sp.csr_array(pattern)
    rows = np.diff(pattern.indptr) > 0
    cols = np.bincount(pattern.indices, minlength=pattern.shape[1]) > 0
    n_rows, n_cols = int(rows.sum()), int(cols.sum())
    small = n_rows * n_cols <= DENSE_MAX_ENTRIES or min(n_rows, n_cols) <= _MIN_SIDE
    if pattern.nnz == 0 or small or not _connected(pattern, n_cols):
        return _exact(pattern)
    if n_cols <= n_rows:
        gram, support = (lambda x: pattern.T @ (pattern @ x)), cols
    else:
        gram, support = (lambda x: pattern @ (pattern.T @ x)), rows
    found = _lanczos(gram, support, settled)
    return _exact(pattern) if found is None else found


def _exact(pattern: sp.csr_array) -> tuple[float, float]:
    return top_two(drop_isolated(pattern))


def _connected(pattern: sp.csr_array, n_cols: int) -> bool:
    """True when reachability from the highest-degree column covers every non-isolated node."""
    reached = np.zeros(pattern.shape[1])
    reached[int(np.argmax(np.bincount(pattern.indices, minlength=pattern.shape[1])))] = 1.0
    count = 1
    for _ in range(_REACH_ROUNDS):
        rows = (pattern @ reached > 0).astype(np.float64)
        reached = (pattern.T @ rows > 0).astype(np.float64)
        now = int(np.count_nonzero(reached))
        if now == n_cols:  # every row with an edge touches a reached column
            return True
        if now == count:  # closed: another component exists
            return False
        count = now
    return False  # a long path: leave it to the exact route


def _ritz(alpha: list[float], beta: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """The two largest eigenvalues of the tridiagonal T and the last entries of their eigenvectors."""
    size = len(alpha)
    values, vectors = eigh_tridiagonal(
        np.asarray(alpha), np.asarray(beta), select="i", select_range=(size - 2, size - 1)
    )
    return np.maximum(values[::-1], 0.0), np.abs(vectors[-1, ::-1])  # G is PSD: clip rounding


def _upper(theta: np.ndarray, residual: np.ndarray) -> tuple[float, float]:
    """Upper bounds on σ1, σ2 from the Ritz values; inf until a residual is small enough to trust.

    θ_k ≤ σ_k² always holds (interlacing). The residual bound σ_k² ≤ θ_k + r_k assumes the k-th
    Ritz pair is near the k-th eigenpair, which fails while θ_k still stagnates below a cluster
    (seen on random masks with r_k up to ~1.5 % of θ_k): it is used only once r_k ≤ _TRUST · θ_k,
    and widened by _WIDEN.
    """
    trusted = residual <= _TRUST * theta
    bound = np.where(trusted, np.sqrt(theta + _WIDEN * residual), math.inf)
    return float(bound[0]), float(bound[1])


def _lanczos(
    gram: Callable[[np.ndarray], np.ndarray], support: np.ndarray, settled: Settled | None
) -> tuple[float, float] | None:
    """(σ1, σ2) from Lanczos on the Gram operator; None when the exact route should decide."""
    n = support.size
    steps = min(_MAX_STEPS, int(support.sum()))
    basis = np.zeros((steps + 1, n))
    start = np.zeros(n)
    start[support] = np.random.default_rng(0).standard_normal(int(support.sum()))
    basis[0] = start / np.linalg.norm(start)
    alpha: list[float] = []
    beta: list[float] = []
    for j in range(steps):
        w = gram(basis[j])
        alpha.append(float(basis[j] @ w))
        for _ in range(2):  # full re-orthogonalisation, twice is enough
            w -= basis[: j + 1].T @ (basis[: j + 1] @ w)
        norm = float(np.linalg.norm(w))
        if j == 0 and norm <= 1e-12 * abs(alpha[0]):
            return None  # the start vector is an eigenvector: rank one on its support
        if j >= 1:
            theta, last = _ritz(alpha, beta)
            residual = norm * last
            broke = norm <= 1e-12 * theta[0]  # invariant subspace: the Ritz values are exact
            if broke or bool(np.all(residual <= TOLERANCE * theta)):
                if theta[1] <= _RANK_FLOOR * theta[0]:
                    return None
                return math.sqrt(theta[0]), math.sqrt(theta[1])
            if settled is not None:
                lo = (math.sqrt(theta[0]), math.sqrt(theta[1]))
                if settled(lo, _upper(theta, residual)):
                    return lo
        beta.append(norm)
        basis[j + 1] = w / norm
    return None
