"""Property: any level, shape, scope, kind and criterion gives masks with the promised sparsity."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import sparsernn.prune as sp

CELLS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


@settings(max_examples=60, deadline=None)
@given(
    sparsity=st.floats(0.0, 1.0),
    cell=st.sampled_from(sorted(CELLS)),
    input_size=st.integers(1, 5),
    hidden_size=st.integers(1, 6),
    num_layers=st.integers(1, 3),
    weights=st.sampled_from(["both", "ih", "hh"]),
    scope=st.sampled_from(["global", "layer"]),
    criterion=st.sampled_from(["magnitude", "random"]),
    seed=st.integers(0, 2**16),
)
def test_masks_have_the_promised_sparsity(
    sparsity, cell, input_size, hidden_size, num_layers, weights, scope, criterion, seed
):
    torch.manual_seed(seed)
    model = CELLS[cell](input_size, hidden_size, num_layers=num_layers)
    masks = sp.prune(model, sparsity, criterion=criterion, weights=weights, scope=scope, seed=seed)
    pools = [masks] if scope == "global" else [{n: m} for n, m in masks.items()]
    for pool in pools:
        n = sum(m.numel() for m in pool.values())
        removed = sum(int((~m).sum()) for m in pool.values())
        # with distinct scores ceil(s (n - 1)) are removed: within one weight of s n
        assert abs(removed - sparsity * n) <= 1
        assert removed < n  # the largest score always stays
