"""Generators: counts, degrees, connectivity, construction details and determinism per seed."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from sparsernn.errors import ConfigError, GraphError
from sparsernn.graphs import (
    GENERATORS,
    barabasi_albert,
    biadjacency,
    bipartite_expander,
    erdos_renyi,
    generate,
    random_regular,
    watts_strogatz,
)

SAMPLES = {
    "watts_strogatz": {"n": 30, "k": 6, "p": 0.5},
    "barabasi_albert": {"n": 30, "m": 3},
    "erdos_renyi": {"n": 30, "p": 0.2},
    "random_regular": {"d": 3, "n": 30},
    "bipartite_expander": {"n_left": 20, "n_right": 10, "d_left": 3},
}


def edges(graph: nx.Graph) -> list[tuple]:
    return sorted(tuple(sorted(e)) for e in graph.edges)


def test_registry_and_generate():
    assert set(GENERATORS) == set(SAMPLES)
    with pytest.raises(ConfigError, match="unknown graph generator 'ws'; choose from barabasi_albert"):
        generate("ws", n=3)
    with pytest.raises(TypeError):
        GENERATORS["extra"] = watts_strogatz  # type: ignore[index]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_same_seed_same_graph_and_generator_seeds(name):
    params = SAMPLES[name]
    first = generate(name, seed=5, **params)
    assert edges(first) == edges(generate(name, seed=5, **params))
    assert edges(first) != edges(generate(name, seed=6, **params))
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    assert edges(generate(name, seed=rng_a, **params)) == edges(generate(name, seed=rng_b, **params))
    assert sorted(first.nodes) == list(range(first.number_of_nodes()))


@pytest.mark.parametrize("seed", range(20))
def test_watts_strogatz_darji_parameters(seed):
    n = 10 + 2 * seed
    k = n // 5
    graph = watts_strogatz(n, k, 1.0, seed=seed)
    assert graph.number_of_nodes() == n and graph.number_of_edges() == n * (k // 2)
    assert nx.is_connected(graph) and nx.number_of_selfloops(graph) == 0


def test_watts_strogatz_without_rewiring_is_the_ring_lattice():
    graph = watts_strogatz(12, 5, 0.0, seed=0)  # k odd: k // 2 = 2 neighbours per side
    assert edges(graph) == edges(nx.circulant_graph(12, [1, 2]))


def test_watts_strogatz_gives_up_after_tries():
    with pytest.raises(GraphError, match=r"no connected Watts–Strogatz graph .* in 3 tries"):
        watts_strogatz(40, 1, 0.5, seed=0, tries=3)  # k // 2 = 0: no edges, never connected
    with pytest.raises(ConfigError, match="k must be smaller than n"):
        watts_strogatz(5, 5, 0.1)
    with pytest.raises(ConfigError, match="probability"):
        watts_strogatz(10, 2, 1.5)


@pytest.mark.parametrize(("n", "m"), [(10, 1), (25, 2), (50, 5), (12, 11)])
def test_barabasi_albert_nx25_construction(n, m):
    graph = barabasi_albert(n, m, seed=n + m)
    assert graph.number_of_nodes() == n and graph.number_of_edges() == (n - m) * m
    assert set(graph[m]) >= set(range(m))  # node m links to all the m initial nodes
    assert all(v >= m for u in range(m) for v in graph[u])  # initial nodes start isolated
    for v in range(m, n):
        assert sum(u < v for u in graph[v]) == m  # every new node brings exactly m edges
    assert nx.is_connected(graph)


@pytest.mark.parametrize(("n", "m"), [(10, 1), (30, 3)])
def test_barabasi_albert_modern_construction(n, m):
    graph = barabasi_albert(n, m, seed=1, variant="modern")
    assert graph.number_of_edges() == (n - m) * m
    assert set(graph.subgraph(range(m + 1)).edges) == {(0, v) for v in range(1, m + 1)}  # the star
    for v in range(m + 1, n):
        assert sum(u < v for u in graph[v]) == m


def test_barabasi_albert_attaches_preferentially():
    # Old nodes collect far more edges than young ones (uniform attachment would give ~2x, not ~5x).
    degrees = np.mean(
        [[d for _, d in sorted(barabasi_albert(200, 2, seed=s).degree())] for s in range(20)], axis=0
    )
    assert degrees[2:12].mean() > 4 * degrees[-50:].mean()


def test_barabasi_albert_errors():
    with pytest.raises(ConfigError, match="m must be smaller than n"):
        barabasi_albert(3, 3)
    with pytest.raises(
        ConfigError, match=r"unknown Barabási–Albert variant 'nx3'; choose from modern, nx2\.5"
    ):
        barabasi_albert(10, 2, variant="nx3")


def test_erdos_renyi_counts():
    assert erdos_renyi(8, 0.0, seed=0).number_of_edges() == 0
    assert edges(erdos_renyi(8, 1.0, seed=0)) == edges(nx.complete_graph(8))
    counts = [erdos_renyi(60, 0.1, seed=s).number_of_edges() for s in range(30)]
    pairs = 60 * 59 / 2
    sd = np.sqrt(pairs * 0.1 * 0.9 / 30)
    assert abs(np.mean(counts) - pairs * 0.1) < 5 * sd
    assert erdos_renyi(0, 0.5, seed=0).number_of_nodes() == 0


@pytest.mark.parametrize(("d", "n"), [(0, 4), (1, 10), (3, 20), (6, 7), (10, 40), (15, 20)])
def test_random_regular(d, n):
    graph = random_regular(d, n, seed=d * n)
    assert graph.number_of_nodes() == n and {deg for _, deg in graph.degree()} <= {d}
    assert graph.number_of_edges() == n * d // 2 and nx.number_of_selfloops(graph) == 0


def test_random_regular_errors():
    with pytest.raises(ConfigError, match="n·d even"):
        random_regular(3, 7)
    with pytest.raises(ConfigError, match="d < n"):
        random_regular(5, 5)


@pytest.mark.parametrize(("n_left", "n_right", "d_left"), [(8, 4, 3), (30, 20, 4), (20, 20, 19), (12, 18, 6)])
def test_bipartite_expander_is_biregular(n_left, n_right, d_left):
    graph = bipartite_expander(n_left, n_right, d_left, seed=0)
    mask = biadjacency(graph).toarray()
    d_right = n_left * d_left // n_right
    assert mask.shape == (n_right, n_left) and set(np.unique(mask)) <= {0.0, 1.0}
    assert (mask.sum(axis=0) == d_left).all() and (mask.sum(axis=1) == d_right).all()
    assert nx.is_bipartite(graph) and graph.graph == {"n_left": n_left, "n_right": n_right}
    assert {graph.nodes[v]["bipartite"] for v in range(n_left)} == {0}


def test_bipartite_expander_errors():
    with pytest.raises(ConfigError, match="biregular"):
        bipartite_expander(10, 4, 3)  # 30 stubs cannot be split over 4 right nodes
    with pytest.raises(ConfigError, match="biregular"):
        bipartite_expander(10, 4, 6)  # d_left > n_right
    with pytest.raises(ConfigError, match="n_left must be an integer"):
        bipartite_expander(2.5, 4, 1)
