"""Properties of the masks under bad inputs: poisoned pruned entries, arbitrary mask values on load."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sparsernn.errors import MaskError
from sparsernn.nn import make_rnn, to_torch

CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
POISON = st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e30, -1e30])


@settings(max_examples=40, deadline=None)
@given(
    cell=st.sampled_from(CELLS),
    hidden=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    poison=POISON,
    keep=st.floats(0.0, 1.0),
)
def test_whatever_a_pruned_entry_holds_outputs_and_gradients_ignore_it(cell, hidden, seed, poison, keep):
    gen = torch.Generator().manual_seed(seed)
    rnn = make_rnn(cell, 2, hidden, batch_first=True)
    masks = {name: torch.rand(m.shape, generator=gen) < keep for name, m in rnn.masks.items()}
    for name, mask in masks.items():
        rnn.set_mask(name, mask)
    reference = to_torch(rnn)
    with torch.no_grad():
        for name, mask in masks.items():
            getattr(rnn, name)[~mask] = poison
    x = torch.randn(2, 3, 2, generator=gen)
    out = rnn(x)[0]
    torch.testing.assert_close(out, reference(x)[0], rtol=0, atol=1e-6)
    out.sum().backward()
    for name, mask in masks.items():
        grad = getattr(rnn, name).grad
        assert torch.isfinite(grad).all() and torch.count_nonzero(grad[~mask]) == 0, name
        assert torch.count_nonzero(rnn.state_dict()[name][~mask]) == 0, name


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.sampled_from([0.0, 1.0, 0.3, -1.0, 2.0, float("nan"), float("inf")]), min_size=4, max_size=4
    )
)
def test_a_loaded_mask_is_accepted_only_when_every_entry_is_0_or_1(values):
    rnn = make_rnn("rnn_tanh", 1, 2)
    state = rnn.state_dict()
    state["weight_hh_l0_mask"] = torch.tensor(values).reshape(2, 2)
    if all(v in (0.0, 1.0) for v in values):
        rnn.load_state_dict(state)
        assert torch.equal(rnn.masks["weight_hh_l0"], torch.tensor(values).reshape(2, 2) == 1)
    else:
        with pytest.raises(MaskError, match="other than 0 and 1"):
            rnn.load_state_dict(state)
        assert rnn.density() == 1.0
