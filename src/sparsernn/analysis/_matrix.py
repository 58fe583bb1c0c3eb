"""Turn a weight matrix or mask (NumPy, torch, SciPy sparse) into one validated CSR matrix.

The analysis code sees a layer as a bipartite graph whose biadjacency is the (out × in) matrix:
rows are right nodes (outputs), columns are left nodes (inputs). Everything below works on a CSR
matrix whose structure is the edge set and whose values are the edge magnitudes |w|.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from sparsernn.errors import MaskError

_NUMERIC_KINDS = "biuf"  # bool, signed int, unsigned int, float


def to_numpy(matrix: Any, what: str = "matrix") -> np.ndarray | sp.sparray:
    """Return ``matrix`` as a NumPy array or a SciPy sparse array (torch tensors are detached and copied).

    Raises
    ------
    MaskError
        For nested lists of unequal lengths (ragged) and tensors without values (meta device).

    Examples
    --------
    >>> to_numpy([[1, 0], [1]])
    Traceback (most recent call last):
    ...
    sparsernn.errors.MaskError: matrix is not a rectangular array (rows of unequal length?); expected a 2-D (out × in) matrix
    """
    if sp.issparse(matrix):
        return sp.csr_array(matrix)
    if isinstance(matrix, torch.Tensor):
        if matrix.is_meta:
            raise MaskError(f"{what} is a meta-device tensor, which holds no values; expected real values")
        tensor = matrix.detach().cpu()
        if tensor.layout != torch.strided:
            tensor = tensor.to_dense()
        if tensor.dtype in (torch.float16, torch.bfloat16):
            tensor = tensor.float()
        return tensor.numpy()
    try:
        return np.asarray(matrix)
    except (ValueError, TypeError):  # ragged nested lists; objects NumPy cannot convert
        raise MaskError(
            f"{what} is not a rectangular array (rows of unequal length?); expected a 2-D (out × in) matrix"
        ) from None


def _check(kind: str, shape: tuple[int, ...], what: str) -> None:
    if len(shape) != 2:
        raise MaskError(f"{what} must be a 2-D (out × in) matrix; got shape {tuple(shape)}")
    if kind not in _NUMERIC_KINDS:
        raise MaskError(f"{what} must hold real numbers or booleans; got dtype kind {kind!r}")


def _check_finite(values: np.ndarray, what: str) -> None:
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        bad = int(np.count_nonzero(~np.isfinite(values)))
        raise MaskError(f"{what} has {bad} non-finite entries (NaN or inf); expected finite weights")


def edge_matrix(matrix: Any, *, what: str = "matrix") -> sp.csr_array:
    """CSR matrix of ``|matrix|`` with one stored entry per nonzero entry (an edge), float64 values.

    Examples
    --------
    >>> import numpy as np
    >>> m = edge_matrix(np.array([[0.0, -2.0], [3.0, 0.0]]))
    >>> m.nnz, m.toarray().tolist()
    (2, [[0.0, 2.0], [3.0, 0.0]])
    """
    array = to_numpy(matrix, what)
    _check(array.dtype.kind, array.shape, what)
    if sp.issparse(array):
        _check_finite(array.data, what)
        csr = sp.csr_array(array, dtype=np.float64, copy=True)
        csr.sum_duplicates()
        csr.eliminate_zeros()
        csr.data = np.abs(csr.data)
        return csr
    _check_finite(array, what)
    return _dense_to_csr(array)


def _dense_to_csr(array: np.ndarray) -> sp.csr_array:
    # Built by hand from the flat nonzero positions: about twice as fast as sp.csr_array(dense)
    # on the 4096 × 1024 masks the benchmarks use. int32 indices where they fit: half the memory
    # traffic of every later product.
    array = np.ascontiguousarray(array)
    n_rows, n_cols = array.shape
    flat = np.flatnonzero(array)  # sorted, so row boundaries are found by binary search
    index = np.int32 if max(flat.size, n_cols) < np.iinfo(np.int32).max else np.int64
    indices = (flat % max(n_cols, 1)).astype(index)
    indptr = np.searchsorted(flat, np.arange(n_rows + 1, dtype=np.int64) * n_cols).astype(index)
    data = np.ones(flat.size) if array.dtype.kind == "b" else np.abs(array.ravel()[flat].astype(np.float64))
    return sp.csr_array((data, indices, indptr), shape=(n_rows, n_cols))


def masked_edge_matrix(matrix: Any, mask: Any) -> sp.csr_array:
    """CSR matrix whose structure is ``mask != 0`` and whose values are ``|matrix|`` at those entries.

    A kept weight that happens to be exactly zero stays an edge (stored explicitly with value 0).

    Examples
    --------
    >>> import numpy as np
    >>> m = masked_edge_matrix(np.array([[1.0, -2.0], [0.0, 4.0]]), np.array([[True, False], [True, True]]))
    >>> m.nnz, m.toarray().tolist()
    (3, [[1.0, 0.0], [0.0, 4.0]])
    """
    pattern = edge_matrix(mask, what="mask")
    weights = to_numpy(matrix)
    _check(weights.dtype.kind, weights.shape, "matrix")
    if tuple(weights.shape) != pattern.shape:
        raise MaskError(f"mask has shape {pattern.shape} but the matrix has shape {tuple(weights.shape)}")
    rows = np.repeat(np.arange(pattern.shape[0]), np.diff(pattern.indptr))
    if sp.issparse(weights):
        values = np.asarray(weights[rows, pattern.indices], dtype=np.float64).ravel()
    else:
        values = np.asarray(weights[rows, pattern.indices], dtype=np.float64)
    _check_finite(values, "matrix")
    return sp.csr_array((np.abs(values), pattern.indices, pattern.indptr), shape=pattern.shape)


def drop_isolated(matrix: sp.csr_array) -> sp.csr_array:
    """Remove the rows and columns without any stored entry (isolated right and left nodes)."""
    keep_rows = np.diff(matrix.indptr) > 0
    keep_cols = np.bincount(matrix.indices, minlength=matrix.shape[1]) > 0
    if keep_rows.all() and keep_cols.all():
        return matrix
    return sp.csr_array(matrix[keep_rows][:, keep_cols])


def bipartite_adjacency(matrix: Any) -> sp.csr_array:
    """Symmetric adjacency ``A = [[0, Bᵀ], [B, 0]]`` of the bipartite graph of the (out × in) matrix B.

    Nodes ``0 .. n_in − 1`` are the left (input) nodes, ``n_in .. n_in + n_out − 1`` the right (output)
    nodes; values are the edge magnitudes ``|w|``.

    Examples
    --------
    >>> import numpy as np
    >>> bipartite_adjacency(np.array([[1, 0, 1]])).toarray().astype(int).tolist()
    [[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 1], [1, 0, 1, 0]]
    """
    csr = matrix if isinstance(matrix, sp.csr_array) else edge_matrix(matrix)
    return adjacency_from(csr, csr.T.tocsr())


def adjacency_from(csr: sp.csr_array, transposed: sp.csr_array) -> sp.csr_array:
    """:func:`bipartite_adjacency` from a CSR matrix and its CSR transpose (reused by the solvers)."""
    n_right, n_left = csr.shape
    indptr = np.concatenate([transposed.indptr, csr.indptr[1:] + transposed.nnz])
    indices = np.concatenate([transposed.indices + n_left, csr.indices])
    data = np.concatenate([transposed.data, csr.data])
    size = n_left + n_right
    return sp.csr_array((data, indices, indptr), shape=(size, size))
