"""expansion(): against dense eigenvalues of the bipartite adjacency, closed forms, and edge cases."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sparsernn.analysis import EXPANSION_FIELDS, expansion, is_ramanujan
from sparsernn.errors import ConfigError, MaskError
from sparsernn.graphs import biadjacency, bipartite_expander

SPEC_FIELDS = [
    "n_left",
    "n_right",
    "n_edges",
    "d_left",
    "d_right",
    "mu0",
    "mu_hat",
    "delta_s",
    "delta_r",
    "gap_weighted",
    "degree_ok",
    "ramanujan",
]


def reference(matrix: np.ndarray) -> dict[str, float]:
    """Independent route: build A = [[0, Bᵀ], [B, 0]] densely and take its eigenvalues."""
    b = np.abs(np.asarray(matrix, dtype=float))
    b = b[(b != 0).any(axis=1)][:, (b != 0).any(axis=0)]
    n_right, n_left = b.shape
    a = np.zeros((n_left + n_right, n_left + n_right))
    a[:n_left, n_left:] = b.T
    a[n_left:, :n_left] = b
    eig = np.linalg.eigvalsh(a)
    magnitudes = np.sort(np.abs(eig))[::-1]  # σ1, σ1, σ2, σ2, ... (one ± pair per singular value)
    mu_hat = magnitudes[2] if magnitudes.size > 2 else 0.0
    return {"n_left": n_left, "n_right": n_right, "mu0": eig.max(), "mu_hat": mu_hat}


def assert_close(value: float, expected: float, scale: float, rel: float = 1e-8) -> None:
    assert abs(value - expected) <= rel * max(abs(expected), scale), (value, expected)


@pytest.mark.parametrize("seed", range(40))
def test_matches_dense_eigenvalues_of_adjacency(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 40, size=2))
    mask = rng.random(shape) < rng.uniform(0.05, 0.9)
    if not mask.any():
        mask[0, 0] = True
    ref = reference(mask)
    e = expansion(mask)
    assert (e.n_left, e.n_right, e.n_edges) == (ref["n_left"], ref["n_right"], int(mask.sum()))
    assert_close(e.mu0, ref["mu0"], ref["mu0"])
    assert_close(e.mu_hat, ref["mu_hat"], ref["mu0"])
    assert e.d_left == pytest.approx(mask.sum() / ref["n_left"])
    assert e.d_right == pytest.approx(mask.sum() / ref["n_right"])
    assert e.delta_s == pytest.approx(2 * math.sqrt(e.mu0 - 1) - e.mu_hat)
    assert e.delta_r == pytest.approx(math.sqrt(e.d_left - 1) + math.sqrt(e.d_right - 1) - e.mu_hat)
    assert e.ramanujan == (e.delta_r >= 0)
    assert e.degree_ok == (e.d_left >= 3 and e.d_right >= 3)


@pytest.mark.parametrize("seed", range(10))
def test_weighted_matches_dense_eigenvalues(seed):
    rng = np.random.default_rng(100 + seed)
    weights = rng.standard_normal((25, 17)) * (rng.random((25, 17)) < 0.3)
    ref = reference(weights)
    e = expansion(weights, weighted=True)
    assert_close(e.mu0, ref["mu0"], ref["mu0"])
    assert_close(e.mu_hat, ref["mu_hat"], ref["mu0"])
    assert e.gap_weighted == pytest.approx(ref["mu0"] - ref["mu_hat"], rel=1e-8)
    assert math.isnan(e.delta_r)
    assert e.ramanujan == (e.delta_s >= 0)
    # Unweighted analysis of the same weights: the 0/1 pattern, and the same weighted gap.
    u = expansion(weights)
    assert u.mu0 == pytest.approx(reference(weights != 0)["mu0"], rel=1e-10)
    assert u.gap_weighted == pytest.approx(e.gap_weighted, rel=1e-10)


@pytest.mark.parametrize(("a", "b"), [(1, 1), (1, 5), (3, 4), (7, 2), (10, 10)])
def test_complete_bipartite_closed_form(a, b):
    e = expansion(np.ones((b, a)))  # a left (input) nodes, b right (output) nodes
    assert (e.n_left, e.n_right, e.n_edges) == (a, b, a * b)
    assert (e.d_left, e.d_right) == (b, a)
    assert e.mu0 == pytest.approx(math.sqrt(a * b), rel=1e-12)
    assert e.mu_hat == 0.0
    assert e.delta_r == pytest.approx(math.sqrt(b - 1) + math.sqrt(a - 1))
    assert e.ramanujan


def test_disjoint_union_takes_the_two_top_components():
    union = sp.block_diag([np.ones((3, 2)), np.ones((5, 4))]).toarray()  # K_{2,3} ∪ K_{4,5}
    e = expansion(union)
    assert e.mu0 == pytest.approx(math.sqrt(20)) and e.mu_hat == pytest.approx(math.sqrt(6))
    assert (e.n_left, e.n_right, e.n_edges) == (6, 8, 26)
    padded = np.zeros((12, 9))  # isolated rows and columns change nothing
    padded[2:10, 1:7] = union
    assert expansion(padded) == e


def test_identical_components_have_zero_gap():
    e = expansion(sp.block_diag([np.ones((3, 3))] * 2).toarray())
    assert e.mu_hat == pytest.approx(e.mu0) == pytest.approx(3.0)
    assert e.gap_weighted == pytest.approx(0.0, abs=1e-12)
    assert not e.ramanujan  # Δ_R = 2·sqrt(2) − 3 < 0: a disconnected graph does not expand


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_even_cycle_closed_form(n):
    cycle = np.eye(n) + np.roll(np.eye(n), 1, axis=1)  # C_{2n}: 2-regular bipartite
    e = expansion(cycle)
    mu_hat = 2 * math.cos(math.pi / n)
    assert e.mu0 == pytest.approx(2.0) and e.mu_hat == pytest.approx(mu_hat, abs=1e-12)
    assert e.delta_r == pytest.approx(2 - mu_hat, abs=1e-12)
    assert e.delta_s == pytest.approx(2 - mu_hat, abs=1e-12)
    assert e.ramanujan


def test_fano_plane_is_ramanujan():
    lines = [(0, 1, 2), (0, 3, 4), (0, 5, 6), (1, 3, 5), (1, 4, 6), (2, 3, 6), (2, 4, 5)]
    incidence = np.zeros((7, 7))
    for row, points in enumerate(lines):
        incidence[row, list(points)] = 1
    e = expansion(incidence)
    assert e.mu0 == pytest.approx(3.0) and e.mu_hat == pytest.approx(math.sqrt(2))
    assert e.delta_r == pytest.approx(2 * math.sqrt(2) - math.sqrt(2))
    assert e.degree_ok and e.ramanujan


@pytest.mark.parametrize("d", [3, 5, 8])
def test_regular_bipartite_crown_graph(d):
    crown = np.ones((d + 1, d + 1)) - np.eye(d + 1)  # K_{d+1,d+1} minus a perfect matching
    e = expansion(crown)
    assert e.mu0 == pytest.approx(d) and e.mu_hat == pytest.approx(1.0)
    assert e.delta_r == pytest.approx(2 * math.sqrt(d - 1) - 1)
    assert e.ramanujan


@pytest.mark.parametrize(("n_left", "n_right", "d_left"), [(200, 100, 4), (300, 300, 6), (120, 360, 9)])
def test_random_biregular_graphs_are_near_ramanujan(n_left, n_right, d_left):
    e = expansion(biadjacency(bipartite_expander(n_left, n_right, d_left, seed=1)))
    d_right = n_left * d_left / n_right
    assert (e.d_left, e.d_right) == (d_left, d_right)
    assert e.mu0 == pytest.approx(math.sqrt(d_left * d_right), rel=1e-10)
    bound = math.sqrt(d_left - 1) + math.sqrt(d_right - 1)
    assert e.mu_hat <= 1.05 * bound  # Brito–Dumitriu–Harris: μ̂ → bound as n → ∞


def _solver_cases():
    rng = np.random.default_rng(7)
    block = (rng.random((250, 150)) < 0.05).astype(float)  # above DENSE_MAX_ENTRIES: svds is used
    yield "random", (rng.random((300, 200)) < 0.08).astype(float)
    yield "weighted", rng.random((300, 200)) * (rng.random((300, 200)) < 0.08)
    yield "two-copies", sp.block_diag([block, block]).toarray()
    yield "mixed", sp.block_diag([block, np.ones((1, 4)), np.eye(3), block[:100, :90]]).toarray()
    yield "banded", (np.abs(np.subtract.outer(np.arange(300), np.arange(250))) < 6).astype(float)


@pytest.mark.parametrize(("name", "matrix"), list(_solver_cases()))
def test_dense_and_sparse_solvers_agree(name, matrix):
    dense = expansion(matrix, weighted=True, solver="dense")
    sparse = expansion(matrix, weighted=True, solver="sparse")
    assert sparse.mu0 == pytest.approx(dense.mu0, rel=1e-9)
    assert sparse.mu_hat == pytest.approx(dense.mu_hat, rel=1e-9)
    unweighted = expansion(matrix, solver="sparse").to_dict()
    # Absolute tolerance too: the gap of a banded mask is a small difference of two large values.
    expected = pytest.approx(expansion(matrix, solver="dense").to_dict(), rel=1e-9, abs=1e-9 * dense.mu0)
    assert unweighted == expected


def test_auto_solver_on_a_large_mask_matches_numpy_svd():
    mask = np.random.default_rng(3).random((1500, 400)) < 0.05
    s = np.linalg.svd(mask.astype(float), compute_uv=False)
    e = expansion(mask)
    assert e.mu0 == pytest.approx(s[0], rel=1e-8) and e.mu_hat == pytest.approx(s[1], rel=1e-8)
    assert expansion(mask) == e  # deterministic: fixed start vector


def test_inputs_numpy_torch_sparse_and_lists_agree():
    rng = np.random.default_rng(11)
    weights = rng.standard_normal((30, 20)) * (rng.random((30, 20)) < 0.4)
    expected = expansion(weights, weighted=True)
    assert expansion(torch.from_numpy(weights), weighted=True) == expected
    assert expansion(sp.csr_matrix(weights), weighted=True) == expected
    assert expansion(weights.tolist(), weighted=True) == expected
    assert expansion(torch.from_numpy(weights != 0)) == expansion(weights != 0)
    mask = rng.random((30, 20)) < 0.5
    masked = expansion(weights, mask=mask, weighted=True)
    assert expansion(sp.csr_array(weights), mask=sp.csr_array(mask), weighted=True) == masked
    assert expansion(torch.from_numpy(weights), mask=torch.from_numpy(mask), weighted=True) == masked


def test_mask_argument_selects_edges_and_keeps_zero_weights():
    weights = np.array([[1.0, 5.0, 0.0], [2.0, 0.0, 3.0]])
    mask = np.array([[True, False, True], [True, False, True]])
    e = expansion(weights, mask=mask, weighted=True)
    assert e.n_edges == 4 and (e.n_left, e.n_right) == (2, 2)  # the kept zero weight still counts
    assert e.mu0 == pytest.approx(np.linalg.svd(np.abs(weights * mask))[1][0])
    with pytest.raises(MaskError, match="shape"):
        expansion(weights, mask=mask[:, :2])


def test_no_edges_gives_a_defined_result():
    for matrix in (np.zeros((0, 0)), np.zeros((0, 5)), np.zeros((4, 3)), torch.zeros(3, 3, dtype=torch.bool)):
        e = expansion(matrix)
        assert (e.n_left, e.n_right, e.n_edges, e.mu0, e.mu_hat) == (0, 0, 0, 0.0, 0.0)
        assert e.delta_s == -math.inf and math.isnan(e.delta_r) and not e.ramanujan and not e.degree_ok


def test_single_edge():
    e = expansion(np.array([[0.0, 0.0], [0.0, -0.5]]))
    assert (e.n_left, e.n_right, e.n_edges, e.mu0, e.mu_hat) == (1, 1, 1, 1.0, 0.0)
    assert (e.delta_s, e.delta_r, e.ramanujan, e.degree_ok) == (0.0, 0.0, True, False)
    w = expansion(np.array([[0.5]]), weighted=True)
    assert w.mu0 == 0.5 and w.delta_s == -math.inf and not w.ramanujan  # μ0 < 1: Δ_S undefined


@pytest.mark.parametrize(
    ("matrix", "match"),
    [
        (np.array([[1.0, np.nan]]), "non-finite"),
        (np.array([[np.inf, 1.0]]), "non-finite"),
        (sp.csr_array(np.array([[np.nan, 1.0]])), "non-finite"),
        (np.ones(3), "2-D"),
        (np.ones((2, 2, 2)), "2-D"),
        (np.ones((2, 2), dtype=complex), "dtype"),
        (np.array([["a"]]), "dtype"),
        ([[1, 0], [1]], "not a rectangular array"),
        ([[1, [0]], [1, 1]], "not a rectangular array"),
        (torch.ones(2, 2, device="meta"), "meta-device tensor"),
    ],
)
def test_bad_input_is_a_mask_error(matrix, match):
    with pytest.raises(MaskError, match=match):
        expansion(matrix)
    with pytest.raises(MaskError, match=match.replace("matrix", "mask")):
        expansion(np.ones((1, 2)), mask=matrix)


nested = st.recursive(
    st.integers(-2, 2) | st.floats(allow_nan=True) | st.booleans() | st.none() | st.text(max_size=2),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=16,
)


@settings(max_examples=80, deadline=None)
@given(nested, st.booleans(), st.booleans())
def test_any_nested_list_gives_an_expansion_or_a_mask_error(matrix, as_mask, weighted):
    try:
        if as_mask:
            result = expansion(np.ones(np.shape(matrix)) if _rectangular(matrix) else [[1]], mask=matrix)
        else:
            result = expansion(matrix, weighted=weighted)
    except MaskError as error:
        assert "\n" not in str(error)
        return
    assert result.n_edges >= 0


def _rectangular(matrix) -> bool:
    try:
        return np.asarray(matrix).ndim == 2
    except ValueError:
        return False


def test_unknown_solver_lists_choices():
    with pytest.raises(ConfigError, match="auto, dense, sparse"):
        expansion(np.eye(2), solver="lapack")
    with pytest.raises(ConfigError, match="auto, dense, sparse"):  # a fully pruned layer too
        expansion(np.zeros((3, 3)), solver="lapack")


def test_value_type():
    e = expansion(np.eye(3))
    assert list(EXPANSION_FIELDS) == SPEC_FIELDS == list(e.to_dict())
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.mu0 = 2.0  # type: ignore[misc]


def test_ramanujan_rule():
    assert is_ramanujan(-5.0, 0.0) and not is_ramanujan(5.0, -0.1)
    assert is_ramanujan(0.0, math.nan) and not is_ramanujan(-math.inf, math.nan)
