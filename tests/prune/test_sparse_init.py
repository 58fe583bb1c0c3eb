"""Sparse-from-scratch masks: biregular degrees, equal edge counts, seeds, applying them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sparsernn.prune as sp
from sparsernn.analysis import expansion
from sparsernn.errors import ConfigError

DRAWS = [sp.expander_masks, sp.erdos_renyi_masks]


def blocks(masks, gates: int):
    """Every graph of the masks: each matrix split into ``gates`` row blocks."""
    return [b for m in masks.values() for b in m.view(gates, -1, m.shape[1])]


@pytest.mark.parametrize("cell, gates", [(torch.nn.LSTM, 4), (torch.nn.GRU, 3), (torch.nn.RNN, 1)])
@pytest.mark.parametrize("density", [0.25, 0.5, 0.75])
def test_expander_blocks_are_biregular_with_the_requested_degrees(cell, gates, density):
    masks = sp.expander_masks(cell(16, 8, num_layers=2), density, seed=0)
    for block in blocks(masks, gates):  # (8 outputs × 16 or 8 inputs) each
        rows, cols = block.shape
        assert block.sum(0).unique().tolist() == [density * rows]  # d_L of every input
        assert block.sum(1).unique().tolist() == [density * cols]  # d_R of every output


@pytest.mark.parametrize("density", [0.0, 0.1, 0.37, 0.62, 1.0])
def test_near_biregular_when_degrees_cannot_be_equal(density):
    masks = sp.expander_masks(torch.nn.GRU(13, 7), density, seed=3)
    for block in blocks(masks, 3):
        rows, cols = block.shape
        assert int(block.sum()) == round(density * rows * cols)
        for degrees in (block.sum(0), block.sum(1)):
            assert int(degrees.max() - degrees.min()) <= 1


def test_stack_draws_one_graph_per_matrix():
    masks = sp.expander_masks(torch.nn.LSTM(8, 4), 0.5, gates="stack", seed=1)
    ih = masks["weight_ih_l0"]  # 16 × 8
    assert ih.sum(0).unique().tolist() == [8] and ih.sum(1).unique().tolist() == [4]


@pytest.mark.parametrize("draw", DRAWS)
def test_equal_edge_counts_seeds_and_no_global_rng(draw):
    model = torch.nn.LSTM(12, 10)
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()[1].copy()
    a, b = draw(model, 0.1, seed=7), draw(model, 0.1, seed=7)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)
    assert all(torch.equal(a[k], b[k]) for k in a)  # same seed, same masks
    c = draw(model, 0.1, seed=8)
    assert any(not torch.equal(a[k], c[k]) for k in a)
    for block in blocks(a, 4):
        assert int(block.sum()) == round(0.1 * block.numel())  # 12, equal for both wirings
    assert draw(model, 0.1, seed=np.random.default_rng(7)).keys() == a.keys()


def test_expander_wiring_is_ramanujan_and_at_least_as_good_as_erdos_renyi():
    model = torch.nn.RNN(64, 64)
    exp = sp.expander_masks(model, 0.1, seed=0)["weight_hh_l0"]
    er = sp.erdos_renyi_masks(model, 0.1, seed=0)["weight_hh_l0"]
    assert expansion(exp).delta_r >= 0
    assert expansion(exp).mu_hat < expansion(er).mu_hat


def test_masks_apply_to_a_sparse_module(masked):
    model = masked["gru"](6, 5)
    masks = sp.expander_masks(model, 0.4, weights="hh", seed=0)
    sp.apply(model, masks)
    assert torch.equal(model.masks["weight_hh_l0"], masks["weight_hh_l0"])
    assert bool((model.weight_hh_l0[~masks["weight_hh_l0"]] == 0).all())
    assert list(masks) == ["weight_hh_l0"]


@pytest.mark.parametrize("draw", DRAWS)
@pytest.mark.parametrize(
    "density, kwargs, message",
    [
        (1.5, {}, r"density must be a fraction in \[0, 1\] \(the fraction kept\), got 1.5"),
        (10, {}, r"a percentage\? use 0.1"),
        (-0.1, {}, "density must be a fraction"),
        ("0.1", {}, "density must be a number in"),
        (0.1, {"gates": "union"}, "unknown gate split 'union'; choose from per_gate, stack"),
        (0.1, {"weights": "hx"}, "unknown weight kind 'hx'"),
    ],
)
def test_errors(draw, density, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        draw(torch.nn.LSTM(3, 4), density, seed=0, **kwargs)


@pytest.mark.parametrize("draw", DRAWS)
def test_a_one_input_matrix_is_a_star_on_round_density_rows_units_per_gate(draw):
    # MNIST-1D's W_ih (4 gates of 128 x 1) at 2 %: 3 units per gate hear the input, the rest none.
    masks = draw(torch.nn.LSTM(1, 128), 0.02, seed=0)
    for block in blocks({"ih": masks["weight_ih_l0"]}, 4):
        assert int(block.sum()) == round(0.02 * 128) == 3 and int(block.sum(1).max()) == 1
