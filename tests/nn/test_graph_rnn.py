"""GraphRNN and GraphClassifier: wiring counted by hand, gate masks, equivalence with stacked modules."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from torch.testing import assert_close

from sparsernn.errors import ConfigError, DataError, GraphError, MaskError
from sparsernn.nn import GraphClassifier, GraphRNN, load_model, make_rnn, save_checkpoint
from sparsernn.nn.graph_rnn import gate_mask, wiring

CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}

# 0→1, 1→2, 0→2, 0→3, 3→4, 2→4, 0→4 (labels orient the edges). Longest paths: 0:0, 1:1, 3:1, 2:2, 4:3.
# Consecutive pairs: (0,1) both of [1, 3] read 0; (1,2) 2 reads 1 only; (2,3) 4 reads 2.
# Skips: (0,2) edge 0→2, (0,3) edge 0→4, (1,3) edge 3→4.
HAND = nx.Graph([(0, 1), (1, 2), (0, 2), (0, 3), (3, 4), (2, 4), (0, 4)])


def node_masks(rnn: GraphRNN) -> dict[str, list]:
    """The input masks of every layer, reduced to one gate block (rows of the first gate)."""
    out = {}
    for name, layer in rnn.sparse_layers():
        mask = layer.masks["weight_ih_l0"]
        out[name] = mask[: layer.hidden_size].int().tolist()
    return out


@pytest.mark.parametrize("cell", CELLS)
def test_wiring_of_a_hand_layered_graph(cell):
    rnn = GraphRNN.from_graph(HAND, cell=cell)
    assert rnn.layers == [[0], [1, 3], [2], [4]]
    assert [(m.input_size, m.hidden_size) for m in rnn.recurrent] == [(1, 1), (1, 2), (2, 1), (1, 1)]
    assert {k: (m.input_size, m.hidden_size) for k, m in rnn.skips.items()} == {
        "0_2": (1, 1),
        "0_3": (1, 1),
        "1_3": (2, 1),
    }
    assert node_masks(rnn) == {
        "recurrent.0": [[1]],  # layer 0 reads the whole input
        "recurrent.1": [[1], [1]],
        "recurrent.2": [[1, 0]],
        "recurrent.3": [[1]],
        "skips.0_2": [[1]],
        "skips.0_3": [[1]],
        "skips.1_3": [[0, 1]],
    }
    gates = GATES[cell]
    ih = {
        k: int(v.sum())
        for k, v in rnn.masks.items()
        if k.endswith("weight_ih_l0") and k != "recurrent.0.weight_ih_l0"
    }
    assert sum(ih.values()) == gates * HAND.number_of_edges()  # every edge once per gate
    hh = [v for k, v in rnn.masks.items() if k.endswith("weight_hh_l0")]
    assert all(bool(v.all()) for v in hh) and len(hh) == 7  # dense within every layer


def test_wiring_counts_of_a_generated_graph_match_networkx():
    graph = nx.gnm_random_graph(14, 30, seed=3)
    graph = graph.subgraph(max(nx.connected_components(graph), key=len)).copy()
    structure = wiring(graph)
    kept = sum(int(m.sum()) for m in structure.masks.values())
    assert kept == graph.number_of_edges()  # every edge lands in exactly one layer pair
    index = {v: t for t, layer in enumerate(structure.layers) for v in layer}
    for u, v in graph.edges():
        s, t = sorted((index[u], index[v]))
        assert s < t and (s, t) in structure.masks
    assert set(structure.skips) == {p for p in structure.masks if p[1] - p[0] >= 2}


def test_blocked_and_interleaved_gate_masks():
    node = torch.tensor([[1, 0], [1, 1], [0, 1]], dtype=torch.bool)
    blocked, interleaved = gate_mask(node, 3), gate_mask(node, 3, "interleaved")
    assert np.array_equal(blocked.numpy(), np.tile(node.numpy(), (3, 1)))
    assert np.array_equal(interleaved.numpy(), np.repeat(node.numpy(), 3, axis=0))
    assert int(blocked.sum()) == int(interleaved.sum())
    for g in range(3):  # blocked: unit j keeps its own row in every gate
        assert torch.equal(blocked[g * 3 : g * 3 + 3], node)
    assert torch.equal(gate_mask(node, 1), gate_mask(node, 1, "interleaved"))
    with pytest.raises(ConfigError, match="gate_masks"):
        gate_mask(node, 3, "shuffled")


def test_interleaved_networks_differ_only_in_their_masks():
    dag = nx.DiGraph([(0, 2), (1, 3), (0, 3)])  # layer 1 rows differ: 2 reads 0, 3 reads 0 and 1
    blocked = GraphRNN.from_graph(dag, cell="lstm")
    inter = GraphRNN.from_graph(dag, cell="lstm", gate_masks="interleaved")
    mask_b = blocked.masks["recurrent.1.weight_ih_l0"].int().tolist()
    mask_i = inter.masks["recurrent.1.weight_ih_l0"].int().tolist()
    assert mask_b == [[1, 0], [1, 1]] * 4
    assert mask_i == [[1, 0]] * 4 + [[1, 1]] * 4
    assert blocked.density() == inter.density()


def copy_into_stack(rnn: GraphRNN, stack: torch.nn.RNNBase) -> None:
    with torch.no_grad():
        for t, layer in enumerate(rnn.recurrent):
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(stack, f"{kind}_l{t}").copy_(getattr(layer, f"{kind}_l0"))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("graph", [nx.path_graph(4), nx.complete_multipartite_graph(2, 2, 2)])
def test_a_graph_without_skips_equals_the_stacked_sparse_module(cell, graph):
    if graph.number_of_nodes() == 6:  # three layers of two nodes, consecutive layers fully joined
        graph = nx.Graph([(u, v) for u in range(6) for v in range(6) if v // 2 == u // 2 + 1])
    torch.manual_seed(0)
    rnn = GraphRNN.from_graph(graph, cell=cell, input_size=3)
    assert len(rnn.skips) == 0 and len({m.hidden_size for m in rnn.recurrent}) == 1
    stack = make_rnn(cell, 3, rnn.recurrent[0].hidden_size, len(rnn.recurrent), batch_first=True)
    copy_into_stack(rnn, stack)
    x = torch.randn(2, 5, 3, requires_grad=True)
    ours, theirs = rnn(x), stack(x)[0]
    assert_close(ours, theirs)
    grad = torch.autograd.grad(ours.square().sum(), x)[0]
    assert_close(grad, torch.autograd.grad(theirs.square().sum(), x)[0])


def test_skip_outputs_are_added_to_their_target_layer():
    torch.manual_seed(0)
    rnn = GraphRNN.from_graph(nx.Graph([(0, 1), (1, 2), (0, 2)]), cell="gru", input_size=2)
    x = torch.randn(3, 4, 2)
    plain = [torch.nn.GRU(m.input_size, m.hidden_size, batch_first=True) for m in rnn.recurrent]
    skip = torch.nn.GRU(1, 1, batch_first=True)
    for ref, layer in [*zip(plain, rnn.recurrent), (skip, rnn.skips["0_2"])]:
        ref.load_state_dict({k: v for k, v in layer.state_dict().items() if not k.endswith("_mask")})
    out0 = plain[0](x)[0]
    out1 = plain[1](out0)[0]
    expected = plain[2](out1)[0] + skip(out0)[0]
    assert_close(rnn(x), expected)


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        (nx.Graph(), "0 node"),
        (nx.empty_graph(1), "1 node"),
        (nx.Graph([(0, 1), (2, 3)]), "connected"),
        (nx.empty_graph(3), "connected"),
        (nx.DiGraph([(0, 1), (1, 0)]), "cycle"),
    ],
)
def test_graphs_that_cannot_be_layered_are_graph_errors(graph, message):
    with pytest.raises(GraphError, match=message):
        GraphRNN.from_graph(graph)


def test_bad_names_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown cell"):
        GraphRNN.from_graph(nx.path_graph(3), cell="lstn")
    with pytest.raises(ConfigError, match="gate_masks"):
        GraphRNN.from_graph(nx.path_graph(3), gate_masks="tiled")
    rnn = GraphRNN.from_graph(nx.path_graph(3))
    with pytest.raises(MaskError, match="unknown mask name"):
        rnn.set_mask("skips.0_9.weight_ih_l0", torch.ones(3, 1, dtype=torch.bool))


def test_set_mask_reaches_skip_layers_and_density_counts_everything():
    rnn = GraphRNN.from_graph(HAND, cell="rnn_tanh")
    total = sum(m.numel() for m in rnn.masks.values())
    kept = sum(int(m.sum()) for m in rnn.masks.values())
    assert rnn.density() == pytest.approx(kept / total)
    rnn.set_mask("skips.1_3.weight_ih_l0", torch.zeros(1, 2, dtype=torch.bool))
    assert rnn.skips["1_3"].weight_ih_l0.abs().sum() == 0
    assert rnn.density() == pytest.approx((kept - 1) / total)


def test_last_valid_readout_equals_reading_each_sequence_alone():
    torch.manual_seed(0)
    model = GraphClassifier.from_graph(HAND, "lstm", vocab_size=128, readout="last_valid")
    x = torch.tensor([[66, 84, 88, 69], [66, 80, 0, 0]])
    batch = model(x, torch.tensor([4, 2]))
    alone = torch.cat([model(x[:1]), model(x[1:, :2])])
    assert_close(batch, alone)
    with pytest.raises(DataError, match="lengths"):
        model(x, torch.tensor([5, 2]))
    last = GraphClassifier(**{**model.config, "readout": "last"})
    last.load_state_dict(model.state_dict())
    assert not torch.allclose(last(x, torch.tensor([4, 2]))[1], batch[1])  # reads the padding


def test_classifier_checkpoint_round_trip(tmp_path):
    model = GraphClassifier.from_graph(HAND, "gru", vocab_size=128, gate_masks="interleaved")
    path = save_checkpoint(tmp_path / "g.safetensors", model, {"seed": 1})
    loaded = load_model(path)
    x = torch.tensor([[66, 84, 69]])
    assert isinstance(loaded, GraphClassifier) and loaded.rnn.layers == model.rnn.layers
    assert torch.equal(loaded(x), model(x))
    assert all(torch.equal(loaded.rnn.masks[k], v) for k, v in model.rnn.masks.items())
    assert model.embedding.embedding_dim == 1  # #sources
