"""Explicit layerings: the longest-path layers with the nodes of each layer in a chosen order."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from sparsernn.errors import GraphError
from sparsernn.graphs import dag_layers, layer_connections, orient_dag
from sparsernn.graphs.dag import check_layering

# Oriented lower → higher: 0→1, 0→2, 1→2, 1→4, 2→3. Longest paths: 0:0, 1:1, 2:2, 4:2, 3:3.
GRAPH = nx.Graph([(0, 2), (0, 1), (1, 2), (2, 3), (1, 4)])


def test_any_order_inside_a_layer_is_accepted():
    assert dag_layers(GRAPH) == [[0], [1], [2, 4], [3]]
    assert check_layering(GRAPH, [[0], [1], [4, 2], [3]]) == [[0], [1], [4, 2], [3]]
    assert check_layering(GRAPH, ((0,), (1,), (2, 4), (3,))) == dag_layers(GRAPH)
    assert check_layering(orient_dag(GRAPH), [[0], [1], [4, 2], [3]]) == [[0], [1], [4, 2], [3]]


def test_the_order_permutes_the_connection_masks():
    default = layer_connections(GRAPH)
    chosen = layer_connections(GRAPH, [[0], [1], [4, 2], [3]])
    assert sorted(chosen) == sorted(default)
    np.testing.assert_array_equal(chosen[(1, 2)], default[(1, 2)][::-1])  # rows: nodes 4, 2
    np.testing.assert_array_equal(chosen[(2, 3)], default[(2, 3)][:, ::-1])  # columns: nodes 4, 2
    assert chosen[(2, 3)].tolist() == [[False, True]]


@pytest.mark.parametrize(
    "layers, message",
    [
        ([[0], [1], [2], [3]], r"layers miss 1 node\(s\) of the graph: 4$"),
        ([[0], [1], [2, 4, 2], [3]], r"node 2 is listed twice in layers \(layers\[2\] and layers\[2\]\)"),
        ([[0], [1, 1], [2, 4], [3]], r"node 1 is listed twice"),
        ([[0], [1], [2, 4], [3, 7]], r"layers\[3\] holds node 7, which is not in the graph"),
        (
            [[0], [1, 4], [2], [3]],
            r"node 4 is in layers\[1\], but its longest path from a source puts it in layer 2",
        ),
        ([[0, 1], [], [2, 4], [3]], r"node 1 is in layers\[0\]"),
        ([[0], [1], [2, 4], [3], []], r"layers has 5 layers; the graph's DAG has 4"),
        ([[0], [1], [[2]], [3]], r"layers\[2\] holds \[2\], which is not a node label"),
        ([[0], [1], "24", [3]], r"layers\[2\] must be a list of nodes; got str"),
        ({0: [0]}, r"layers must be a list of node lists, layer by layer; got dict"),
        ("0124", r"layers must be a list of node lists"),
    ],
)
def test_bad_layerings_are_named(layers, message):
    with pytest.raises(GraphError, match=message):
        check_layering(GRAPH, layers)
    with pytest.raises(GraphError, match=message):
        layer_connections(GRAPH, layers)


def test_layering_errors_are_one_line():
    many = nx.path_graph(9)
    with pytest.raises(GraphError) as info:
        check_layering(many, [[0]])
    assert "\n" not in str(info.value) and str(info.value).endswith("1, 2, 3, 4, 5, ...")
