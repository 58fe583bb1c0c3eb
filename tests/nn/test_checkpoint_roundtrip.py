"""What a checkpoint gives back computes what the saved module computed: its dtypes, its pruning,
its read-out as changed after construction, its node labels (review of the checkpoint round trips).

Reference: the saved module itself; loaded outputs must be ``torch.equal`` to its outputs.
"""

from __future__ import annotations

import subprocess
import sys

import networkx as nx
import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from torch.nn.utils import prune

from sparsernn.errors import CheckpointError, ConfigError
from sparsernn.nn import (
    GraphClassifier,
    SequenceClassifier,
    SparseGRU,
    SparseLSTM,
    load_classifier,
    load_model,
    save_checkpoint,
)
from sparsernn.nn.checkpoint import load_recurrent
from sparsernn.nn.from_state import recurrent_from_state

TOKENS = torch.randint(1, 20, (3, 6), generator=torch.Generator().manual_seed(0))
LENGTHS = torch.tensor([6, 4, 2])


def _pruned(module: nn.Module, seed: int = 0) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    for name, mask in module.masks.items():
        module.set_mask(name, torch.rand(mask.shape, generator=gen) < 0.5)
    return module


def _dtypes(module: nn.Module) -> dict[str, torch.dtype]:
    return {name: tensor.dtype for name, tensor in module.state_dict().items()}


def _sequence_classifier() -> SequenceClassifier:
    torch.manual_seed(0)
    model = SequenceClassifier("gru", 2, 8, 2, vocab_size=20, embedding_dim=4)
    _pruned(model.rnn)
    return model


def _graph_classifier(graph: nx.Graph | None = None) -> GraphClassifier:
    torch.manual_seed(0)
    return GraphClassifier.from_graph(nx.path_graph(4) if graph is None else graph, "lstm", vocab_size=20)


# -- 1. dtypes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
@pytest.mark.parametrize("build", [_sequence_classifier, _graph_classifier], ids=["sequence", "graph"])
def test_classifiers_come_back_in_their_stored_dtype(tmp_path, build, dtype):
    model = build().to(dtype)
    loaded = load_model(save_checkpoint(tmp_path / "m.safetensors", model))
    assert _dtypes(loaded) == _dtypes(model)
    assert torch.equal(loaded(TOKENS, LENGTHS), model(TOKENS, LENGTHS))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
def test_sparse_modules_come_back_in_their_stored_dtype(tmp_path, dtype):
    model = _pruned(SparseLSTM(4, 6, num_layers=2)).to(dtype)
    loaded = load_model(save_checkpoint(tmp_path / "m.safetensors", model))
    assert _dtypes(loaded) == _dtypes(model) and loaded.masks.keys() == model.masks.keys()
    x = torch.randn(5, 3, 4, dtype=dtype)
    assert torch.equal(loaded(x)[0], model(x)[0])


def test_mixed_dtypes_keep_each_tensors_dtype(tmp_path):
    model = _sequence_classifier()
    model.rnn.to(torch.float64)  # embedding and head stay float32
    loaded = load_classifier(save_checkpoint(tmp_path / "m.safetensors", model))
    assert _dtypes(loaded) == _dtypes(model)
    assert loaded.embedding.weight.dtype == torch.float32 and loaded.rnn.weight_ih_l0.dtype == torch.float64


def test_loaded_model_trains_in_its_dtype(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", _pruned(SparseGRU(3, 4)).to(torch.float64))
    loaded = load_model(path)
    assert all(p.requires_grad for p in loaded.parameters())
    loaded(torch.randn(2, 1, 3, dtype=torch.float64))[0].sum().backward()
    assert loaded.weight_hh_l0.grad.dtype == torch.float64


# A tensor that still maps the file would crash the process (SIGBUS) once the file is truncated:
# run in a child process, so that a regression is a failed test, not a dead test run.
_REWRITE = """
import pathlib, sys, torch
from sparsernn.nn import load_checkpoint, load_model
path = pathlib.Path(sys.argv[1])
state, model = load_checkpoint(path)[0], load_model(path)
path.write_bytes(b"rewritten in place")
print(float(state["weight_hh_l0"].sum()), float(model.weight_hh_l0.sum()))
"""


def test_loaded_tensors_are_copies_not_views_of_the_file(tmp_path):
    gru = SparseGRU(3, 40)
    path = save_checkpoint(tmp_path / "m.safetensors", gru)
    run = subprocess.run([sys.executable, "-c", _REWRITE, str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-500:]
    total = float(gru.weight_hh_l0.detach().sum())
    assert [float(v) for v in run.stdout.split()] == pytest.approx([total, total])


def test_plain_torch_checkpoints_keep_their_dtype(tmp_path):
    gru = nn.GRU(4, 6).to(torch.bfloat16)
    path = tmp_path / "g.safetensors"
    save_file({k: v.contiguous() for k, v in gru.state_dict().items()}, str(path))
    loaded, _ = load_recurrent(path)
    x = torch.randn(5, 3, 4, dtype=torch.bfloat16)
    assert loaded.weight_hh_l0.dtype == torch.bfloat16
    assert torch.equal(loaded(x)[0], gru(x)[0])


# -- 2. pruned weights of foreign checkpoints are folded -------------------------------------------


def test_torch_pruned_gru_is_rebuilt_sparse_and_computes_the_same(tmp_path):
    torch.manual_seed(0)
    gru = nn.GRU(4, 6)
    prune.l1_unstructured(gru, "weight_hh_l0", amount=0.6)
    prune.random_unstructured(gru, "bias_ih_l0", amount=0.5)
    x = torch.randn(5, 3, 4)
    expected = gru(x)[0]
    with torch.no_grad():  # a NaN where the mask prunes must become an exact 0, not NaN · 0
        gru.weight_hh_l0_orig[gru.weight_hh_l0_mask == 0] = float("nan")
    path = tmp_path / "g.safetensors"
    save_file({k: v.detach().contiguous() for k, v in gru.state_dict().items()}, str(path))
    loaded, notes = load_recurrent(path)
    assert torch.equal(loaded(x)[0], expected)
    for name in ("weight_hh_l0", "bias_ih_l0"):
        keep = getattr(gru, f"{name}_mask") != 0
        assert torch.equal(getattr(loaded, f"{name}_mask"), keep), name
        assert torch.equal(getattr(loaded, name), torch.where(keep, getattr(gru, f"{name}_orig"), 0.0)), name
    assert notes[0].endswith("2 masks")


def test_bool_masks_of_a_state_are_folded_into_their_weights():
    lstm = _pruned(SparseLSTM(3, 4))
    state = {k: v.clone() for k, v in lstm.state_dict().items()}
    state["weight_hh_l0"][~state["weight_hh_l0_mask"]] = 7.0  # a writer that did not zero them
    loaded, _ = recurrent_from_state(state)
    x = torch.randn(5, 2, 3)
    assert torch.equal(loaded(x)[0], lstm(x)[0])


def test_modules_rebuilt_from_a_state_do_not_share_its_tensors():
    source = nn.GRU(3, 4)
    loaded, _ = recurrent_from_state(source.state_dict())
    with torch.no_grad():
        loaded.weight_hh_l0.zero_()
    assert source.weight_hh_l0.abs().sum() > 0


# -- 3. the read-out as it is, not as it was built -------------------------------------------------


@pytest.mark.parametrize("build", [_sequence_classifier, _graph_classifier], ids=["sequence", "graph"])
def test_readout_changed_after_construction_is_saved(tmp_path, build):
    model = build()
    model.readout = "last_valid"
    assert model.config["readout"] == "last_valid"
    loaded = load_model(save_checkpoint(tmp_path / "m.safetensors", model))
    assert loaded.readout == "last_valid"
    assert torch.equal(loaded(TOKENS, LENGTHS), model(TOKENS, LENGTHS))


@pytest.mark.parametrize("build", [_sequence_classifier, _graph_classifier], ids=["sequence", "graph"])
def test_an_invalid_readout_is_refused_on_assignment(build):
    model = build()
    with pytest.raises(ConfigError, match=r"^unknown readout 'frist'; choose from last, last_valid$"):
        model.readout = "frist"
    assert model.readout == "last" and model.config["readout"] == "last"


def test_dropout_changed_after_construction_is_saved(tmp_path):
    model = _sequence_classifier()
    model.rnn.dropout = 0.25
    loaded = load_classifier(save_checkpoint(tmp_path / "m.safetensors", model))
    assert model.config["dropout"] == 0.25 and loaded.rnn.dropout == 0.25


# -- 4. node labels ------------------------------------------------------------------------------


def _relabelled(labels: list) -> nx.Graph:
    return nx.relabel_nodes(nx.cycle_graph(len(labels)), dict(enumerate(labels)))


@pytest.mark.parametrize(
    "graph",
    [
        nx.grid_2d_graph(2, 3),
        _relabelled(list("abcdef")),
        _relabelled([10, 3, 7, 1, 4]),
        _relabelled([2.5, 1, 4, 3.0, 0]),
        # labels of several types are not comparable, so a DAG keeps its own edge directions
        nx.DiGraph([("a", (0, "b")), ((0, "b"), 2), ("a", 2), (2, ((1, 2), "c")), ("a", True)]),
    ],
    ids=["tuple", "str", "int", "int-float", "mixed"],
)
def test_node_labels_round_trip(tmp_path, graph):
    model = _graph_classifier(graph)
    loaded = load_model(save_checkpoint(tmp_path / "m.safetensors", model))
    assert loaded.config == model.config and loaded.rnn.layers == model.rnn.layers
    assert torch.equal(loaded(TOKENS), model(TOKENS))


@pytest.mark.parametrize("label", [float("nan"), frozenset({1}), (1, float("nan"))])
def test_labels_that_cannot_round_trip_are_refused_at_save_time(tmp_path, label):
    model = GraphClassifier("gru", ["a", label], [["a", label]], vocab_size=5)
    path = tmp_path / "m.safetensors"
    with pytest.raises(CheckpointError, match=r"node label .* cannot be stored") as caught:
        save_checkpoint(path, model)
    assert "\n" not in str(caught.value) and repr(label) in str(caught.value)
    assert not path.exists()


def test_nodes_and_edges_given_as_iterators_are_saved(tmp_path):
    graph = nx.DiGraph([((0, 0), (0, 1)), ((0, 1), (1, 1)), ((0, 0), (1, 1))])
    model = GraphClassifier("gru", iter(graph.nodes), (e for e in graph.edges), vocab_size=20)
    assert model.config["nodes"] == list(graph.nodes) and len(model.config["edges"]) == 3
    loaded = load_model(save_checkpoint(tmp_path / "m.safetensors", model))
    assert torch.equal(loaded(TOKENS), model(TOKENS))
