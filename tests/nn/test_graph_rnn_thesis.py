"""Explicit layerings in GraphRNN / GraphClassifier, and the thesis' 800 networks rebuilt mask for mask.

The thesis' data (``../shared/data/darji-thesis/``, see its README) holds the 800 graphs of its structure
study with their layers in its unit order (``thesis_layers``) and the input-to-hidden masks saved in its
trained models. With that order and ``gate_masks="interleaved"`` our masks must equal them exactly.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import torch

from sparsernn.errors import GraphError
from sparsernn.nn import GraphClassifier, GraphRNN, load_model, save_checkpoint
from sparsernn.nn.graph_rnn import input_masks, wiring

THESIS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "darji-thesis"
GRAPHS = THESIS / "structure_graphs.jsonl.gz"
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}

# Oriented lower → higher: 0→1, 0→2, 1→2, 1→4, 2→3; layers [[0], [1], [2, 4], [3]]; the edge 0→2 skips
# from layer 0 to layer 2.
GRAPH = nx.Graph([(0, 2), (0, 1), (1, 2), (2, 3), (1, 4)])
ORDER = [[0], [1], [4, 2], [3]]


def test_explicit_layering_orders_the_units():
    default = GraphRNN.from_graph(GRAPH, cell="lstm", gate_masks="interleaved")
    chosen = GraphRNN.from_graph(GRAPH, cell="lstm", gate_masks="interleaved", layers=ORDER)
    assert default.layers == [[0], [1], [2, 4], [3]] and chosen.layers == ORDER
    # the skip 0 → 2 reaches node 2 only: unit 0 of layer 2 by default, unit 1 in the chosen order
    node = {"default": [[1], [0]], "chosen": [[0], [1]]}
    for name, rnn in (("default", default), ("chosen", chosen)):
        expected = np.repeat(np.array(node[name], dtype=bool), 4, axis=0)  # the interleaving bug
        np.testing.assert_array_equal(rnn.masks["skips.0_2.weight_ih_l0"].numpy(), expected)
    assert chosen.masks["recurrent.3.weight_ih_l0"].any(dim=0).tolist() == [False, True]


def _permuted(state: dict, perm: torch.Tensor, gates: int) -> dict:
    """``state`` of the default GRAPH network with layer 2's two units reordered by ``perm``."""
    rows = torch.cat([perm + 2 * g for g in range(gates)])  # gate-blocked rows of layer 2's units
    out = {key: value.clone() for key, value in state.items()}
    for prefix in ("recurrent.2.", "skips.0_2."):  # the layers whose units are layer 2's nodes
        for key in [k for k in out if k.startswith(prefix)]:
            out[key] = out[key][rows]
            if "weight_hh" in key:
                out[key] = out[key][:, perm]
    for key in ("recurrent.3.weight_ih_l0", "recurrent.3.weight_ih_l0_mask"):  # reads layer 2
        out[key] = out[key][:, perm]
    return out


def test_explicit_layering_keeps_the_function_up_to_the_unit_order():
    # blocked masks: the same network with its units permuted computes the same function
    default = GraphRNN.from_graph(GRAPH, cell="gru")
    chosen = GraphRNN.from_graph(GRAPH, cell="gru", layers=ORDER)
    chosen.load_state_dict(_permuted(default.state_dict(), torch.tensor([1, 0]), 3))
    built = GraphRNN.from_graph(GRAPH, cell="gru", layers=ORDER).masks
    for name, mask in chosen.masks.items():  # the permuted masks are the ones chosen built itself
        assert torch.equal(mask, built[name]), name
    x = torch.randn(2, 6, 1)
    torch.testing.assert_close(chosen(x), default(x))


def test_classifier_takes_layers_and_keeps_them_in_its_config():
    model = GraphClassifier.from_graph(GRAPH, "gru", vocab_size=128, gate_masks="interleaved", layers=ORDER)
    assert model.rnn.layers == ORDER and model.config["layers"] == ORDER
    assert GraphClassifier.from_graph(GRAPH, "gru", vocab_size=128).config["layers"] is None
    rebuilt = GraphClassifier(**model.config)
    assert rebuilt.rnn.layers == ORDER
    for name, mask in model.rnn.masks.items():
        assert torch.equal(rebuilt.rnn.masks[name], mask), name


def test_classifier_checkpoint_keeps_the_layering(tmp_path):
    model = GraphClassifier.from_graph(GRAPH, "gru", vocab_size=128, gate_masks="interleaved", layers=ORDER)
    loaded = load_model(save_checkpoint(tmp_path / "g.safetensors", model))
    assert loaded.rnn.layers == ORDER and loaded.config == model.config
    for name, mask in model.rnn.masks.items():
        assert torch.equal(loaded.rnn.masks[name], mask), name


@pytest.mark.parametrize(
    "layers, message",
    [
        ([[0], [1], [2], [3]], r"layers miss 1 node\(s\) of the graph: 4"),
        ([[0], [1], [2, 4, 4], [3]], r"node 4 is listed twice"),
        ([[0], [1], [2, 4, 9], [3]], r"layers\[2\] holds node 9, which is not in the graph"),
        ([[0], [1, 4], [2], [3]], r"node 4 is in layers\[1\], but its longest path .* layer 2"),
    ],
)
def test_bad_explicit_layerings(layers, message):
    with pytest.raises(GraphError, match=message):
        GraphRNN.from_graph(GRAPH, cell="gru", layers=layers)
    with pytest.raises(GraphError, match=message):
        GraphClassifier.from_graph(GRAPH, "gru", vocab_size=128, layers=layers)


def _unpack(saved: dict) -> np.ndarray:
    rows, cols = saved["shape"]
    bits = np.unpackbits(np.frombuffer(base64.b64decode(saved["packbits_base64"]), dtype=np.uint8))
    return bits[: rows * cols].reshape(rows, cols).astype(bool)


@pytest.fixture(scope="module")
def thesis_graphs() -> list[dict]:
    if not GRAPHS.is_file():
        pytest.skip(f"the thesis' data is not at {THESIS.resolve()} (CI has it)")
    with gzip.open(GRAPHS, "rt") as f:
        return [json.loads(line) for line in f]


def _graph(record: dict) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(record["nodes"])
    graph.add_edges_from(record["edges"])
    return graph


def _mismatches(record: dict, layers: list | None) -> list[str]:
    """Names of the thesis' saved masks that our network of ``record`` does not reproduce."""
    structure = wiring(_graph(record), layers=layers)
    ours = {k: m.numpy() for k, m in input_masks(structure, record["cell"], "interleaved").items()}
    gates = GATES[record["cell"]]
    ours["recurrent.0.weight_ih_l0"] = np.ones((gates * structure.sizes[0], structure.sizes[0]), dtype=bool)
    names = {}
    for name in record["thesis_i2h_masks"]:
        kind, k, _ = name.split(".")
        if kind == "recurrent_layers":
            names[name] = f"recurrent.{k}.weight_ih_l0"
        else:  # skip layers: by target, then source, as Wiring.skips
            s, t = structure.skips[int(k)] if int(k) < len(structure.skips) else (-1, -1)
            names[name] = f"skips.{s}_{t}.weight_ih_l0"
    wrong = [name for name in ours if name not in names.values()]
    for name, saved in record["thesis_i2h_masks"].items():
        mine = ours.get(names[name])
        if mine is None or not np.array_equal(mine, _unpack(saved)):
            wrong.append(name)
    return wrong


def test_thesis_masks_are_rebuilt_for_all_800_graphs(thesis_graphs):
    assert len(thesis_graphs) == 800
    wrong = {
        (r["cell"], r["family"], r["index"]): m
        for r in thesis_graphs
        if (m := _mismatches(r, r["thesis_layers"]))
    }
    assert not wrong, f"{len(wrong)} graphs differ, e.g. {next(iter(wrong.items()))}"


def test_sorted_unit_order_does_not_rebuild_the_gated_networks(thesis_graphs):
    # Why the layering is needed: the interleaving bug depends on the order of the units.
    gated = [r for r in thesis_graphs if r["cell"] in ("lstm", "gru")][::4]
    differ = sum(bool(_mismatches(r, None)) for r in gated)
    assert differ > 0.9 * len(gated)


def test_the_models_use_those_masks(thesis_graphs):
    # input_masks is what the constructor applies; check on a sample of built models (all cells, both families)
    for record in thesis_graphs[::20]:
        graph, layers = _graph(record), record["thesis_layers"]
        rnn = GraphRNN.from_graph(graph, record["cell"], gate_masks="interleaved", layers=layers)
        expected = input_masks(wiring(graph, layers=layers), record["cell"], "interleaved")
        assert rnn.layers == layers
        for name, mask in expected.items():
            assert torch.equal(rnn.masks[name], mask), name
            weight = dict(rnn.named_parameters())[name]
            assert not weight[~mask].any()  # pruned weights are zero
    record = thesis_graphs[1]
    model = GraphClassifier.from_graph(
        _graph(record),
        record["cell"],
        vocab_size=128,
        gate_masks="interleaved",
        layers=record["thesis_layers"],
    )
    assert model.embedding.embedding_dim == len(record["thesis_layers"][0])
    assert _mismatches(record, model.rnn.layers) == []


def test_the_packed_engine_runs_thesis_networks_as_built(thesis_graphs):
    # the structure study trains many models packed together: same logits as the modules
    from sparsernn.train.wavefront import PackedModels

    for cell in ("gru", "lstm"):
        records = [r for r in thesis_graphs if r["cell"] == cell][:2]
        models = [
            GraphClassifier.from_graph(
                _graph(r), cell, vocab_size=128, gate_masks="interleaved", layers=r["thesis_layers"]
            )
            for r in records
        ]
        x = torch.randint(1, 128, (3, 7), generator=torch.Generator().manual_seed(0))
        logits = PackedModels(models)(x).detach()
        for k, model in enumerate(models):
            torch.testing.assert_close(logits[k], model(x).detach(), rtol=1e-5, atol=1e-5)
