"""A graph's wiring (layers and masks) lives in sr.graphs and is computed once per graph; layered
expanders are a public generator; sr.graphs depends on neither the models nor the analysis."""

from __future__ import annotations

import subprocess
import sys

import networkx as nx
import numpy as np
import pytest

import sparsernn.graphs.dag as dag_module
import sparsernn.graphs.layering as layering_module
from sparsernn.errors import ConfigError, GraphError
from sparsernn.graphs import Wiring, dag_layers, layer_connections, layered_expander, wiring
from sparsernn.nn import GraphClassifier, GraphRNN

GRAPH = nx.Graph([(0, 1), (1, 2), (0, 2), (0, 3), (3, 4), (2, 4)])


@pytest.fixture
def layering_calls(monkeypatch):
    calls = []

    def counted(graph):
        calls.append(graph)
        return dag_layers(graph)

    monkeypatch.setattr(dag_module, "dag_layers", counted)
    monkeypatch.setattr(layering_module, "dag_layers", counted)
    return calls


def test_wiring_is_the_layering_and_the_connections():
    w = wiring(GRAPH)
    assert isinstance(w, Wiring) and [list(layer) for layer in w.layers] == dag_layers(GRAPH)
    assert w.masks.keys() == layer_connections(GRAPH).keys()
    assert all(np.array_equal(w.masks[k], m) for k, m in layer_connections(GRAPH).items())


@pytest.mark.parametrize(
    "build",
    [
        lambda: wiring(GRAPH),
        lambda: GraphRNN.from_graph(GRAPH, cell="gru"),
        lambda: GraphClassifier.from_graph(GRAPH, "lstm", vocab_size=128),
    ],
)
def test_a_graph_is_layered_once(build, layering_calls):
    build()
    assert len(layering_calls) == 1


def test_from_graph_keeps_its_checks():
    with pytest.raises(GraphError, match="2 connected components"):
        GraphClassifier.from_graph(nx.Graph([(0, 1), (2, 3)]), vocab_size=128)
    with pytest.raises(GraphError, match="graph has 1 node"):
        GraphClassifier.from_graph(nx.empty_graph(1), vocab_size=128)
    with pytest.raises(GraphError, match="longest path from a source puts it in layer 1"):
        GraphClassifier.from_graph(GRAPH, vocab_size=128, layers=[[0], [1], [3, 2], [4]])


@pytest.mark.parametrize(("layers", "width", "degree"), [(3, 4, 2), (5, 6, 3), (2, 3, 3)])
def test_layered_expander_is_layered_biregular_and_connected(layers, width, degree):
    graph = layered_expander(layers, width, degree, seed=1)
    assert nx.is_connected(graph) and graph.number_of_edges() == (layers - 1) * width * degree
    assert dag_layers(graph) == [list(range(t * width, (t + 1) * width)) for t in range(layers)]
    assert not wiring(graph).skips
    for t in range(layers - 1):  # every node has `degree` edges into each neighbouring layer
        block = wiring(graph).masks[(t, t + 1)]
        assert set(block.sum(0)) == set(block.sum(1)) == {degree}
    again = layered_expander(layers, width, degree, seed=1)
    assert sorted(again.edges) == sorted(graph.edges)


def test_layered_expander_errors():
    with pytest.raises(ConfigError, match="layers must be an integer >= 1"):
        layered_expander(0, 3)
    with pytest.raises(ConfigError, match="d_left <= n_right"):
        layered_expander(3, 2, 3)
    with pytest.raises(GraphError, match=r"no connected layered expander \(3 × 4\) in 2 draws"):
        layered_expander(3, 4, 1, seed=0, tries=2)  # a perfect matching between layers: disconnected


def test_layered_expander_equals_the_structure_study_family():
    """The study's ``layered_expander`` family: the depth drawn first, then this generator's draws."""
    try:
        from sparsernn.studies.protocols.graph_families import FAMILIES
    except ImportError:  # the study code before its restructuring
        from sparsernn.studies.structure_graphs import FAMILIES
    for seed in range(8):
        for n in (10, 23, 50):
            study = FAMILIES["layered_expander"](n, np.random.default_rng(seed))
            rng = np.random.default_rng(seed)
            layers = int(rng.integers(3, 7))
            width = max(2, n // layers)
            ours = layered_expander(layers, width, min(3, width), seed=rng)
            assert sorted(study.nodes) == sorted(ours.nodes) and sorted(study.edges) == sorted(ours.edges)


def test_graphs_import_neither_models_nor_analysis():
    code = (
        "import sys, sparsernn.graphs; "
        "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('sparsernn.') and '.' in m}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "analysis" not in out and "'nn'" not in out
