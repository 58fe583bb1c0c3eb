"""Cheeger: exact edge expansion and conductance vs brute force, and the spectral inequalities."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest

from sparsernn.analysis import cheeger_bounds, conductance, edge_expansion, expansion
from sparsernn.errors import ConfigError, GraphError
from sparsernn.graphs import biadjacency, bipartite_expander, from_biadjacency, random_regular, watts_strogatz


def brute_force(graph: nx.Graph, weight: str | None = None) -> tuple[float, float]:
    """(h, φ) by trying every proper subset with itertools (the independent reference)."""
    nodes = list(graph)
    best_h = best_phi = math.inf
    total = sum(d for _, d in graph.degree(weight=weight))
    for size in range(1, len(nodes)):
        for subset in itertools.combinations(nodes, size):
            cut = nx.cut_size(graph, subset, weight=weight)
            volume = nx.volume(graph, subset, weight=weight)
            best_h = min(best_h, cut / min(size, len(nodes) - size))
            if 0 < volume < total:
                best_phi = min(best_phi, cut / min(volume, total - volume))
    return best_h, best_phi


def random_graph(seed: int, weighted: bool = False) -> nx.Graph:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 10))
    graph = nx.gnp_random_graph(n, 0.5, seed=seed)
    graph.add_edges_from((v, (v + 1) % n) for v in range(n))  # no isolated nodes
    if weighted:
        for u, v in graph.edges:
            graph[u][v]["weight"] = float(rng.uniform(0.1, 3.0))
    return graph


@pytest.mark.parametrize("seed", range(25))
def test_exact_values_match_brute_force(seed):
    weighted = seed % 2 == 1
    graph = random_graph(seed, weighted)
    weight = "weight" if weighted else None
    h, phi = brute_force(graph, weight)
    assert edge_expansion(graph, weight=weight) == pytest.approx(h, rel=1e-12)
    assert conductance(graph, weight=weight) == pytest.approx(phi, rel=1e-12)


@pytest.mark.parametrize("n", [2, 3, 6, 9])
def test_closed_forms(n):
    assert edge_expansion(nx.complete_graph(n)) == math.ceil(n / 2)
    assert edge_expansion(nx.path_graph(n)) == pytest.approx(1 / (n // 2))
    if n >= 3:
        assert edge_expansion(nx.cycle_graph(n)) == pytest.approx(2 / (n // 2))
        assert conductance(nx.cycle_graph(n)) == pytest.approx(1 / (n // 2))


def test_matrix_input_and_twenty_nodes():
    graph = nx.circulant_graph(20, [1, 3])
    assert edge_expansion(nx.to_numpy_array(graph)) == edge_expansion(graph)
    assert edge_expansion(graph) == pytest.approx(8 / 10)  # half the ring: 8 edges cross


@pytest.mark.parametrize("seed", range(15))
def test_spectral_bounds_hold_on_small_graphs(seed):
    graph = random_graph(100 + seed, weighted=seed % 3 == 0)
    weight = "weight" if seed % 3 == 0 else None
    b = cheeger_bounds(graph, weight=weight)
    phi, h = conductance(graph, weight=weight), edge_expansion(graph, weight=weight)
    eps = 1e-9
    assert b.conductance_lower - eps <= phi <= b.sweep_conductance + eps
    assert b.sweep_conductance <= b.conductance_upper + eps
    assert b.expansion_lower - eps <= h <= b.sweep_expansion + eps
    assert h <= b.expansion_upper + eps
    # the sweep sets really have the reported values
    sub = b.sweep_conductance_set
    volume = nx.volume(graph, sub, weight=weight)
    total = sum(d for _, d in graph.degree(weight=weight))
    assert nx.cut_size(graph, sub, weight=weight) / min(volume, total - volume) == pytest.approx(
        b.sweep_conductance
    )
    sub = b.sweep_expansion_set
    denominator = min(len(sub), len(graph) - len(sub))
    assert nx.cut_size(graph, sub, weight=weight) / denominator == pytest.approx(b.sweep_expansion)


def test_eigenvalues_match_networkx():
    graph = watts_strogatz(30, 4, 0.3, seed=2)
    b = cheeger_bounds(graph)
    normalized = np.sort(np.linalg.eigvalsh(nx.normalized_laplacian_matrix(graph).toarray()))
    assert b.lambda2 == pytest.approx(normalized[1], rel=1e-10)
    assert b.laplacian_lambda2 == pytest.approx(
        nx.algebraic_connectivity(graph, method="tracemin_lu"), rel=1e-6
    )


@pytest.mark.parametrize(
    "make", [lambda: random_regular(4, 300, seed=1), lambda: watts_strogatz(200, 6, 0.2, seed=3)]
)
def test_large_graphs_bounds_and_solvers(make):
    graph = make()
    dense, sparse = cheeger_bounds(graph, solver="dense"), cheeger_bounds(graph, solver="sparse")
    assert sparse.lambda2 == pytest.approx(dense.lambda2, rel=1e-6)
    assert sparse.laplacian_lambda2 == pytest.approx(dense.laplacian_lambda2, rel=1e-6)
    for b in (dense, sparse):
        assert b.conductance_lower <= b.sweep_conductance <= b.conductance_upper + 1e-9
        assert b.expansion_lower <= b.sweep_expansion


def test_bipartite_layer_graph_links_cheeger_and_expansion():
    # For a (d_L, d_R)-biregular layer, the normalized adjacency has eigenvalues ±σ/sqrt(d_L d_R),
    # so λ2 of the normalized Laplacian is 1 − μ̂/μ0.
    mask = biadjacency(bipartite_expander(40, 20, 3, seed=5))
    e = expansion(mask)
    b = cheeger_bounds(from_biadjacency(mask))
    assert b.lambda2 == pytest.approx(1 - e.mu_hat / e.mu0, rel=1e-10)


def test_disconnected_graphs_expand_zero():
    graph = nx.disjoint_union(nx.complete_graph(4), nx.cycle_graph(5))
    assert edge_expansion(graph) == 0.0 and conductance(graph) == 0.0
    b = cheeger_bounds(graph)
    assert (b.lambda2, b.sweep_conductance, b.conductance_upper, b.sweep_expansion) == (0.0, 0.0, 0.0, 0.0)
    assert set(b.sweep_conductance_set) == {4, 5, 6, 7, 8}  # the cycle has the smaller volume
    assert set(b.sweep_expansion_set) == {0, 1, 2, 3}


def test_errors():
    with pytest.raises(GraphError, match="21 nodes; exact enumeration is limited to 20"):
        edge_expansion(nx.path_graph(21))
    with pytest.raises(GraphError, match="at least 2"):
        conductance(nx.empty_graph(1))
    with pytest.raises(GraphError, match="without edges"):
        conductance(nx.empty_graph(3))
    with pytest.raises(GraphError, match="without edges"):
        cheeger_bounds(nx.empty_graph(3))
    with pytest.raises(GraphError, match="self-loops"):
        edge_expansion(nx.Graph([(0, 0), (0, 1)]))
    with pytest.raises(GraphError, match="symmetric"):
        edge_expansion(np.array([[0, 1], [0, 0]]))
    with pytest.raises(ConfigError, match="auto, dense, sparse"):
        cheeger_bounds(nx.path_graph(3), solver="lanczos")
    nan = float("nan")
    with pytest.raises(GraphError, match="finite and nonnegative"):  # NaN is not "not symmetric"
        edge_expansion(np.array([[0, nan], [nan, 0]]))
    with pytest.raises(GraphError, match="matrix of real numbers"):
        conductance(np.array([["0", "a"], ["a", "0"]]))
    assert edge_expansion(nx.empty_graph(3)) == 0.0  # h is defined: an isolated node cuts nothing
