"""The 23 properties: igraph route vs the networkx reference, hand-computed values and errors."""

from __future__ import annotations

import math
import time

import networkx as nx
import numpy as np
import pytest

from sparsernn.errors import GraphError
from sparsernn.graphs import (
    EXTRA_PROPERTY_NAMES,
    PROPERTY_NAMES,
    barabasi_albert,
    orient_dag,
    properties,
    properties_networkx,
    watts_strogatz,
)
from sparsernn.graphs.properties import MAX_EDGES, MAX_NODES

SPEC = [
    "layers",
    "nodes",
    "edges",
    "source_nodes",
    "sink_nodes",
    "diameter",
    "density",
    "average_shortest_path_length",
] + [
    f"{m}_{s}"
    for m in ("eccentricity", "degree", "closeness", "nodes_betweenness", "edge_betweenness")
    for s in ("mean", "var", "std")
]


def darji_graph(seed: int) -> nx.Graph:
    """The structure study's draws: n in [10, 50]; WS k = n // 5, p = 1; BA m = n // 10 (nx2.5)."""
    n = int(np.random.default_rng(seed).integers(10, 51))
    if seed % 2:
        return watts_strogatz(n, n // 5, 1.0, seed=seed)
    return barabasi_albert(n, n // 10, seed=seed)


def test_names_are_the_23_of_the_spec():
    assert list(PROPERTY_NAMES) == SPEC and len(PROPERTY_NAMES) == 23
    assert EXTRA_PROPERTY_NAMES == ("density_standard",)


@pytest.mark.parametrize("seed", range(60))
def test_igraph_matches_networkx(seed):
    graph = darji_graph(seed)
    fast, reference = properties(graph, extra=True), properties_networkx(graph, extra=True)
    assert list(fast) == [*PROPERTY_NAMES, *EXTRA_PROPERTY_NAMES]
    assert fast == pytest.approx(reference, rel=1e-10, abs=1e-15)


def test_hand_computed_path_graph():
    # P4: 0-1-2-3, a chain: 4 layers, one source, one sink, distances 1,1,1,2,2,3.
    p = properties(nx.path_graph(4), extra=True)
    ecc = np.array([3, 2, 2, 3])
    closeness = 3 / np.array([6, 4, 4, 6])
    node_btw = np.array([0, 2, 2, 0]) / 3  # pairs through the node / ((n-1)(n-2)/2)
    edge_btw = np.array([3, 4, 3]) / 6  # pairs using the edge / (n(n-1)/2)
    expected = {
        "layers": 4,
        "nodes": 4,
        "edges": 3,
        "source_nodes": 1,
        "sink_nodes": 1,
        "diameter": 3,
        "density": 3 / 12,
        "density_standard": 6 / 12,
        "average_shortest_path_length": 20 / 12,
    }
    for name, values in [("eccentricity", ecc), ("closeness", closeness), ("nodes_betweenness", node_btw)]:
        expected |= {f"{name}_mean": values.mean(), f"{name}_var": values.var(ddof=1)}
        expected[f"{name}_std"] = values.std(ddof=1)
    expected |= {"edge_betweenness_mean": edge_btw.mean(), "edge_betweenness_std": edge_btw.std(ddof=1)}
    expected |= {"degree_mean": 0.5, "degree_var": np.var([1, 2, 2, 1], ddof=1) / 9}
    assert {k: p[k] for k in expected} == pytest.approx(expected, rel=1e-12)


def test_dag_features_follow_the_layering():
    # Star with centre 3: edges oriented 0→3, 1→3, 2→3, 3→4: layers [[0, 1, 2], [3], [4]].
    star = nx.star_graph([3, 0, 1, 2, 4])
    p = properties(star)
    assert (p["layers"], p["source_nodes"], p["sink_nodes"]) == (3, 3, 1)
    # The same graph given as a DAG with other directions: layering follows the DAG.
    dag = nx.DiGraph([(3, 0), (3, 1), (3, 2), (3, 4)])
    q = properties(dag)
    assert (q["layers"], q["source_nodes"], q["sink_nodes"]) == (2, 1, 4)
    assert q == pytest.approx(properties_networkx(dag))
    assert {k: q[k] for k in SPEC[5:]} == pytest.approx({k: p[k] for k in SPEC[5:]})  # undirected part


def test_relabelled_graphs_use_label_order():
    graph = barabasi_albert(20, 2, seed=3)
    relabelled = nx.relabel_nodes(graph, {v: f"n{v:02d}" for v in graph})
    assert properties(relabelled) == pytest.approx(properties(graph))
    assert properties(orient_dag(graph)) == pytest.approx(properties(graph))


def test_two_nodes():
    p = properties(nx.path_graph(2))
    assert p["nodes_betweenness_mean"] == 0.0 and p["edge_betweenness_mean"] == 1.0
    assert math.isnan(p["edge_betweenness_var"])  # one edge: no sample variance


@pytest.mark.parametrize(
    ("graph", "match"),
    [
        (nx.Graph(), "0 node"),
        (nx.empty_graph(1), "1 node"),
        (nx.disjoint_union(nx.path_graph(3), nx.path_graph(2)), "disconnected"),
        (nx.Graph([(0, 1), (1, 1)]), "self-loop"),
        (nx.MultiGraph([(0, 1), (0, 1)]), "multigraph"),
        (nx.DiGraph([(0, 1), (1, 2), (2, 0)]), "cycle"),
    ],
)
def test_bad_graphs(graph, match):
    for fn in (properties, properties_networkx):
        with pytest.raises(GraphError, match=match):
            fn(graph)


def test_graphs_above_the_size_limit_are_refused_at_once():
    big = nx.path_graph(100_000)  # igraph's all-pairs distances ran out of memory (80 GB)
    for fn in (properties, properties_networkx):
        start = time.perf_counter()
        with pytest.raises(
            GraphError, match=f"graph has 100000 nodes and 99999 edges; .* at most {MAX_NODES}"
        ):
            fn(big)
        assert time.perf_counter() - start < 1.0
    dense = nx.complete_graph(700)  # few nodes, too many edges for betweenness
    with pytest.raises(GraphError, match=f"at most {MAX_NODES} nodes and {MAX_EDGES} edges"):
        properties(dense)


def test_size_limit_boundary(monkeypatch):
    monkeypatch.setitem(properties.__globals__, "MAX_NODES", 10)  # the limit the function reads
    assert properties(nx.path_graph(10))["nodes"] == 10.0
    with pytest.raises(GraphError, match="graph has 11 nodes"):
        properties(nx.path_graph(11))
