"""The time-unfolded graph: layered structure, and its slices carry exactly the layer-view spectra."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch import nn

from sparsernn.analysis import expansion, layer_expansions, unfold_layer, unfolded_graph
from sparsernn.errors import ConfigError, MaskError


def random_layer(inputs: int, hidden: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ih = rng.standard_normal((hidden, inputs)) * (rng.random((hidden, inputs)) < 0.4)
    hh = rng.standard_normal((hidden, hidden)) * (rng.random((hidden, hidden)) < 0.3)
    return ih, hh


@pytest.mark.parametrize("steps", [1, 2, 5])
def test_layered_structure(steps):
    ih, hh = random_layer(3, 6, seed=steps)
    g = unfolded_graph(ih, hh, steps)
    assert g.adjacency.shape == (steps * 9 + 6,) * 2
    assert [len(s) for s in g.slices] == [9] * steps + [6]
    assert g.adjacency.nnz == steps * (np.count_nonzero(ih) + np.count_nonzero(hh))
    slice_of = np.empty(g.adjacency.shape[0], dtype=int)
    for t, nodes in enumerate(g.slices):
        slice_of[nodes] = t
    coo = g.adjacency.tocoo()
    assert (slice_of[coo.col] == slice_of[coo.row] + 1).all()  # edges only go one slice forward
    labels = g.labels
    assert all(labels[v][0] == "h" for v in coo.col)  # only hidden units receive edges


@pytest.mark.parametrize("steps", [1, 3])
def test_slices_carry_the_spectra_of_the_layer_views(steps):
    ih, hh = random_layer(4, 5, seed=10 + steps)
    g = unfolded_graph(ih, hh, steps)
    step = np.hstack([ih, hh])
    for t in range(1, steps + 1):
        block = g.biadjacency(t)
        np.testing.assert_array_equal(block.toarray(), np.abs(step))
        for weighted in (False, True):
            assert expansion(block, weighted=weighted) == expansion(step, weighted=weighted)
            assert expansion(block[:, 4:], weighted=weighted) == expansion(hh, weighted=weighted)
            assert expansion(block[:, :4], weighted=weighted) == expansion(ih, weighted=weighted)


def test_networkx_graph_matches_sparse_adjacency():
    ih, hh = random_layer(2, 4, seed=3)
    g = unfolded_graph(ih, hh, 3)
    graph = g.to_networkx()
    assert nx.is_directed_acyclic_graph(graph)
    assert list(graph.nodes) == g.labels
    rebuilt = nx.to_scipy_sparse_array(graph, nodelist=g.labels, weight="weight")
    assert abs(rebuilt - g.adjacency).max() == 0
    assert graph.nodes[("h", 3, 0)]["slice"] == 3 and graph.nodes[("x", 1, 1)]["slice"] == 0


def test_unfold_layer_of_an_lstm_matches_the_union_rows():
    gen = torch.Generator().manual_seed(0)
    model = nn.LSTM(3, 5, num_layers=2)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("weight"):
                param.mul_(torch.rand(param.shape, generator=gen) < 0.35)
    table = layer_expansions(model, view=["ih", "hh", "step"], gates="union")
    for layer in range(2):
        g = unfold_layer(model, steps=4, layer=layer)
        block = g.biadjacency(2)
        inputs = g.n_inputs
        got = {
            "step": expansion(block),
            "ih": expansion(block[:, :inputs]),
            "hh": expansion(block[:, inputs:]),
        }
        for view, figures in got.items():
            expected = table[(table["layer"] == layer) & (table["view"] == view)].iloc[0]
            assert figures.mu0 == pytest.approx(expected["mu0"], rel=1e-12)
            assert figures.mu_hat == pytest.approx(expected["mu_hat"], rel=1e-12, abs=1e-12)
            assert figures.n_edges == expected["n_edges"]


def test_weighted_unfolding_sums_gate_magnitudes():
    model = nn.GRU(2, 3)
    g = unfold_layer(model, steps=1, weighted=True)
    expected = model.weight_hh_l0.detach().abs().reshape(3, 3, 3).sum(0).double().numpy()
    np.testing.assert_allclose(g.biadjacency(1)[:, 2:].toarray(), expected)


def test_errors():
    with pytest.raises(ConfigError, match="steps"):
        unfolded_graph(np.ones((2, 2)), np.eye(2), 0)
    with pytest.raises(MaskError, match="hh must have shape"):
        unfolded_graph(np.ones((2, 2)), np.eye(3), 1)
    with pytest.raises(ConfigError, match="out of range"):
        unfolded_graph(np.ones((2, 2)), np.eye(2), 2).biadjacency(3)
    with pytest.raises(ConfigError, match="modules: ''"):
        unfold_layer(nn.RNN(2, 2), steps=2, module="encoder")
    with pytest.raises(
        ConfigError, match="the model is an LSTM with proj_size=2; unfolded graphs of projected"
    ):
        unfold_layer(nn.LSTM(3, 6, proj_size=2), steps=2)
    assert isinstance(unfolded_graph(sp.eye(2), sp.eye(2), 1).adjacency, sp.csr_array)
