"""DAG orientation, longest-path layering and the layer-to-layer masks."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from sparsernn.errors import GraphError
from sparsernn.graphs import (
    barabasi_albert,
    dag_layers,
    layer_biadjacency,
    layer_connections,
    layer_index,
    orient_dag,
    watts_strogatz,
)


def longest_path_depth(dag: nx.DiGraph) -> dict:
    """Reference: the longest path ending at v, by brute force over all sources."""
    depth = {}
    for v in dag:
        lengths = [len(p) - 1 for s in dag if dag.in_degree(s) == 0 for p in nx.all_simple_paths(dag, s, v)]
        depth[v] = max(lengths, default=0)
    return depth


def test_orientation_goes_from_lower_to_higher_label():
    graph = nx.Graph([(3, 1), (2, 0), (1, 0)])
    graph.add_node(7, colour="red")
    graph[3][1]["weight"] = 2.0
    dag = orient_dag(graph)
    assert sorted(dag.edges) == [(0, 1), (0, 2), (1, 3)]
    assert dag[1][3]["weight"] == 2.0 and dag.nodes[7]["colour"] == "red"
    assert nx.is_directed_acyclic_graph(dag)


def test_hand_example():
    graph = nx.Graph([(0, 1), (1, 2), (2, 3), (0, 3), (0, 4)])
    assert dag_layers(graph) == [[0], [1, 4], [2], [3]]  # 3 is reached by 0→1→2→3, not only 0→3


@pytest.mark.parametrize("seed", range(8))
def test_layering_is_longest_path(seed):
    graph = watts_strogatz(14, 4, 0.5, seed=seed) if seed % 2 else barabasi_albert(14, 2, seed=seed)
    dag = orient_dag(graph)
    layers = dag_layers(graph)
    index = layer_index(layers)
    assert index == longest_path_depth(dag)
    assert sorted(v for layer in layers for v in layer) == sorted(graph)
    for u, v in dag.edges:
        assert index[v] >= index[u] + 1
    for v in graph:
        if index[v] > 0:
            assert any(index[u] == index[v] - 1 for u in dag.predecessors(v))


def test_directed_input_is_used_as_is_and_cycles_are_refused():
    dag = nx.DiGraph([(5, 1), (1, 0)])
    assert dag_layers(dag) == [[5], [1], [0]]
    with pytest.raises(GraphError, match="cycle"):
        dag_layers(nx.DiGraph([(0, 1), (1, 0)]))
    with pytest.raises(GraphError, match="no nodes"):
        dag_layers(nx.Graph())
    with pytest.raises(GraphError, match="comparable"):
        dag_layers(nx.Graph([(0, "a")]))
    with pytest.raises(GraphError, match="self-loop"):
        dag_layers(nx.Graph([(0, 0)]))


def test_layer_masks():
    graph = nx.Graph([(0, 1), (1, 2), (2, 3), (0, 3), (0, 4), (0, 2)])
    connections = layer_connections(graph)
    # layers [[0], [1, 4], [2], [3]]: edges 0→1, 0→4 (0→1), 1→2 (1→2), 2→3 (2→3), skips 0→2, 0→3
    assert sorted(connections) == [(0, 1), (0, 2), (0, 3), (1, 2), (2, 3)]
    np.testing.assert_array_equal(connections[(0, 1)], [[True], [True]])
    np.testing.assert_array_equal(connections[(1, 2)], [[True, False]])
    np.testing.assert_array_equal(connections[(0, 3)], [[True]])
    dag = orient_dag(graph)
    total = sum(int(m.sum()) for m in connections.values())
    assert total == dag.number_of_edges()  # every edge in exactly one mask
    assert layer_biadjacency(dag, dag_layers(dag), 1, 3).shape == (1, 2)


@pytest.mark.parametrize("seed", range(5))
def test_every_edge_lands_in_its_mask(seed):
    graph = barabasi_albert(30, 3, seed=seed)
    layers = dag_layers(graph)
    index = layer_index(layers)
    connections = layer_connections(graph)
    for u, v in orient_dag(graph).edges:
        mask = connections[(index[u], index[v])]
        assert mask[layers[index[v]].index(v), layers[index[u]].index(u)]
    assert sum(int(m.sum()) for m in connections.values()) == graph.number_of_edges()
