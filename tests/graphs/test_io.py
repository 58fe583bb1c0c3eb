"""Graph files and conversions: round trips, and clear errors on malformed input."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sparsernn.errors import ConfigError, DataError, GraphError
from sparsernn.graphs import as_graph, barabasi_albert, biadjacency, from_biadjacency, read_graph, write_graph


def same(a: nx.Graph, b: nx.Graph) -> bool:
    return sorted(a.nodes) == sorted(b.nodes) and nx.utils.edges_equal(a.edges(data=True), b.edges(data=True))


@pytest.mark.parametrize("suffix", [".edgelist", ".txt", ".edges", ".graphml"])
def test_round_trip(tmp_path, suffix):
    graph = barabasi_albert(15, 2, seed=0)
    graph.add_node(99)  # isolated
    for u, v in list(graph.edges)[:5]:
        graph[u][v]["weight"] = 0.1 + u / 7
    back = read_graph(write_graph(graph, tmp_path / f"g{suffix}"))
    assert same(graph, back)
    assert all(isinstance(v, int) for v in back)


def test_directed_round_trip(tmp_path):
    dag = nx.DiGraph([(0, 2), (2, 1)])
    assert read_graph(write_graph(dag, tmp_path / "d.graphml")).is_directed()
    back = read_graph(write_graph(dag, tmp_path / "d.edgelist"), directed=True)
    assert sorted(back.edges) == [(0, 2), (2, 1)]


def test_edge_list_parsing(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("# a comment\n\na b 2.5  # trailing comment\nb 3\n")
    graph = read_graph(path)
    assert sorted(graph.nodes) == ["3", "a", "b"] and graph["a"]["b"]["weight"] == 2.5  # one type of label


@pytest.mark.parametrize("suffix", [".edgelist", ".graphml"])
def test_labels_that_read_as_the_same_int_stay_distinct_nodes(tmp_path, suffix):
    graph = nx.Graph([("1", "2"), ("01", "3"), ("+1", "-0")])
    back = read_graph(write_graph(graph, tmp_path / f"g{suffix}"))
    assert same(graph, back) and nx.number_connected_components(back) == 3
    assert sorted(read_graph(write_graph(nx.Graph([(-2, 10)]), tmp_path / f"i{suffix}")).nodes) == [-2, 10]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("0 1\n1 2 3 4\n", r"g.txt:2: expected 'u v' or 'u v weight'"),
        ("0 1 heavy\n", r"g.txt:1: weight 'heavy'"),
    ],
)
def test_malformed_edge_lists(tmp_path, text, match):
    path = tmp_path / "g.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        read_graph(path)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"0 1\n\xff\xfe 2\n", r"g.txt:2: not UTF-8 text \(byte 0xff\)"),
        (b"\xc3", r"g.txt:1: not UTF-8 text \(byte 0xc3\)"),
        ("0 1\nä ö\n".encode("latin-1"), r"g.txt:2: not UTF-8 text \(byte 0xe4\)"),
        (b"0 1 nan\n", r"g.txt:1: weight 'nan' is not a finite number"),
        (b"0 1 -inf\n", r"g.txt:1: weight '-inf' is not a finite number"),
    ],
)
def test_edge_lists_that_are_not_utf8_or_have_non_finite_weights(tmp_path, data, match):
    path = tmp_path / "g.txt"
    path.write_bytes(data)
    with pytest.raises(DataError, match=match):
        read_graph(path)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=80) | st.text(max_size=60).map(str.encode), st.sampled_from([".txt", ".graphml"]))
@example(b"<graphml><graph><node id='\xff'/></graph></graphml>", ".graphml")
def test_random_files_give_a_graph_or_a_data_error(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("g") / f"g{suffix}"
    path.write_bytes(data)
    try:
        graph = read_graph(path)
    except (DataError, GraphError) as error:
        assert str(path) in str(error) or isinstance(error, GraphError)
        return
    assert isinstance(graph, nx.Graph)


def test_malformed_graphml_and_missing_files(tmp_path):
    bad = tmp_path / "bad.graphml"
    bad.write_text("<graphml><graph edgedefault='undirected'><node id='0'/>")  # truncated
    with pytest.raises(DataError, match=r"bad\.graphml: not a valid GraphML file"):
        read_graph(bad)
    with pytest.raises(DataError, match="does not exist"):
        read_graph(tmp_path / "none.edgelist")
    with pytest.raises(ConfigError, match=r"unknown graph file suffix '\.gml'"):
        read_graph(tmp_path / "g.gml")
    with pytest.raises(GraphError, match="whitespace"):
        write_graph(nx.Graph([("a b", "c")]), tmp_path / "w.edgelist")


def test_as_graph():
    graph = nx.path_graph(3)
    assert as_graph(graph) is graph
    assert sorted(as_graph([(0, 1), (1, 2, 0.5)]).edges(data="weight")) == [(0, 1, None), (1, 2, 0.5)]
    assert as_graph([(0, 1)], directed=True).is_directed()
    with pytest.raises(GraphError, match="not a pair"):
        as_graph([(0, 1, 2, 3)])
    with pytest.raises(GraphError, match="cannot make a graph"):
        as_graph(42)


def test_biadjacency_round_trip():
    mask = np.random.default_rng(0).random((6, 9)) < 0.4
    graph = from_biadjacency(mask)
    assert nx.is_bipartite(graph) and graph.number_of_nodes() == 15
    np.testing.assert_array_equal(biadjacency(graph).toarray(), mask)
    weights = np.where(mask, -2.0, 0.0)
    np.testing.assert_array_equal(
        biadjacency(from_biadjacency(weights), weight="weight").toarray(), 2.0 * mask
    )
    with pytest.raises(GraphError, match="bipartite"):
        biadjacency(nx.path_graph(3))
    broken = from_biadjacency(mask)
    broken.add_edge(0, 1)
    with pytest.raises(GraphError, match="same side"):
        biadjacency(broken)
