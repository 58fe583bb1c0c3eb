"""The sparse modules against torch.nn: same outputs and gradients, with all-ones and with real masks."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sparsernn.nn import SparseGRU, SparseLSTM, SparseRNN

IN, HID, T, B = 3, 4, 5, 3


def make_pair(cell: str, **kwargs) -> tuple[torch.nn.RNNBase, torch.nn.RNNBase]:
    """A torch module and a sparse module of the same kind holding the same weights."""
    torch.manual_seed(0)
    if cell in ("rnn_tanh", "rnn_relu"):
        kwargs["nonlinearity"] = cell[4:]
        ref, sparse = torch.nn.RNN(IN, HID, **kwargs), SparseRNN(IN, HID, **kwargs)
    elif cell == "lstm":
        ref, sparse = torch.nn.LSTM(IN, HID, **kwargs), SparseLSTM(IN, HID, **kwargs)
    else:
        ref, sparse = torch.nn.GRU(IN, HID, **kwargs), SparseGRU(IN, HID, **kwargs)
    sparse.load_state_dict(ref.state_dict(), strict=False)
    return ref, sparse


def initial_state(ref: torch.nn.RNNBase, batch: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    dirs = 2 if ref.bidirectional else 1
    out_size = ref.proj_size if getattr(ref, "proj_size", 0) else ref.hidden_size
    h = torch.randn(ref.num_layers * dirs, batch, out_size)
    if isinstance(ref, torch.nn.LSTM):
        return h, torch.randn(ref.num_layers * dirs, batch, ref.hidden_size)
    return h


def flat(result) -> list[torch.Tensor]:
    """Output and final state(s) of a forward as a list of tensors (packed outputs unpacked)."""
    out, state = result
    if isinstance(out, torch.nn.utils.rnn.PackedSequence):
        out = pad_packed_sequence(out)[0]
    states = list(state) if isinstance(state, tuple) else [state]
    return [out, *states]


def loss_of(tensors: list[torch.Tensor]) -> torch.Tensor:
    """A loss that weighs every output entry differently, so every gradient path is exercised."""
    gen = torch.Generator().manual_seed(1)
    return sum((t * torch.randn(t.shape, generator=gen)).sum() for t in tensors)


def run_both(ref, sparse, make_input):
    results = []
    for module in (ref, sparse):
        torch.manual_seed(2)  # same inputs, same dropout draws
        results.append(flat(module(*make_input())))
        loss_of(results[-1]).backward()
    return results


def assert_same_grads(ref, sparse, masks=None):
    for name, p in ref.named_parameters():
        expected = p.grad if masks is None or name not in masks else p.grad * masks[name]
        torch.testing.assert_close(getattr(sparse, name).grad, expected, msg=name)


CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


@pytest.mark.parametrize(
    ("cell", "layers", "batch_first", "with_state", "bidirectional"),
    list(itertools.product(CELLS, [1, 2, 3], [False, True], [False, True], [False, True])),
)
def test_all_ones_masks_match_torch(cell, layers, batch_first, with_state, bidirectional):
    ref, sparse = make_pair(cell, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional)

    def make_input():
        x = torch.randn((B, T, IN) if batch_first else (T, B, IN))
        return (x, initial_state(ref, B)) if with_state else (x,)

    expected, got = run_both(ref, sparse, make_input)
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e)
    assert_same_grads(ref, sparse)


@pytest.mark.parametrize(
    ("cell", "layers", "bidirectional"), list(itertools.product(CELLS, [1, 3], [False, True]))
)
def test_packed_sequences_match_torch(cell, layers, bidirectional):
    ref, sparse = make_pair(cell, num_layers=layers, batch_first=True, bidirectional=bidirectional)
    lengths = torch.tensor([T, 2, 4])  # unsorted on purpose: exercises the permutation of the state

    def make_input():
        x = torch.randn(B, T, IN)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        return packed, initial_state(ref, B)

    expected, got = run_both(ref, sparse, make_input)
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e)
    assert_same_grads(ref, sparse)


@pytest.mark.parametrize("cell", CELLS)
def test_dropout_between_layers_matches_torch(cell):
    ref, sparse = make_pair(cell, num_layers=3, dropout=0.5)
    expected, got = run_both(ref, sparse, lambda: (torch.randn(T, B, IN),))
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e)
    assert_same_grads(ref, sparse)


@pytest.mark.parametrize("cell", CELLS)
def test_unbatched_input_matches_torch(cell):
    ref, sparse = make_pair(cell, num_layers=2)
    expected, got = run_both(ref, sparse, lambda: (torch.randn(T, IN),))
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e)


def random_masks(module, density: float, seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {n: torch.rand(m.shape, generator=gen) < density for n, m in module.masks.items()}


@pytest.mark.parametrize(("cell", "bidirectional"), list(itertools.product(CELLS, [False, True])))
def test_masked_module_matches_torch_with_masked_weights(cell, bidirectional):
    ref, sparse = make_pair(cell, num_layers=2, bidirectional=bidirectional)
    masks = random_masks(sparse, 0.4, seed=3)
    for name, mask in masks.items():
        sparse.set_mask(name, mask)
    with torch.no_grad():
        for name, mask in masks.items():
            getattr(ref, name).mul_(mask)
    expected, got = run_both(ref, sparse, lambda: (torch.randn(T, B, IN), initial_state(ref, B)))
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e)
    # The reference's weight gradient is dense; the sparse module's is that gradient times the mask.
    assert_same_grads(ref, sparse, masks)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")
def test_lstm_projection_weights_are_masked():
    torch.manual_seed(0)
    ref = torch.nn.LSTM(IN, 6, proj_size=2, num_layers=2)
    sparse = SparseLSTM.from_torch(copy.deepcopy(ref))  # from_torch converts in place
    assert "weight_hr_l1" in sparse.masks
    masks = random_masks(sparse, 0.5, seed=4)
    for name, mask in masks.items():
        sparse.set_mask(name, mask)
    with torch.no_grad():
        for name, mask in masks.items():
            getattr(ref, name).mul_(mask)
    expected, got = run_both(ref, sparse, lambda: (torch.randn(T, B, IN),))
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e)
    assert_same_grads(ref, sparse, masks)


def test_forward_sees_zeros_even_if_weights_are_edited_behind_the_mask():
    ref, sparse = make_pair("gru")
    mask = torch.zeros_like(sparse.weight_hh_l0, dtype=torch.bool)
    sparse.set_mask("weight_hh_l0", mask)
    with torch.no_grad():
        sparse.weight_hh_l0.fill_(5.0)  # bypasses set_mask; forward must still use zeros
        ref.weight_hh_l0.zero_()
    x = torch.randn(T, B, IN)
    torch.testing.assert_close(sparse(x)[0], ref(x)[0])


def test_functional_call_uses_masks():
    _, sparse = make_pair("lstm")
    sparse.set_mask("weight_ih_l0", torch.zeros_like(sparse.weight_ih_l0, dtype=torch.bool))
    x = torch.randn(T, B, IN)
    params = {n: p.detach().clone() + 1.0 for n, p in sparse.named_parameters()}
    out = torch.func.functional_call(sparse, params, (x,))[0]
    ref = torch.nn.LSTM(IN, HID)
    ref.load_state_dict(params)
    with torch.no_grad():
        ref.weight_ih_l0.zero_()
    torch.testing.assert_close(out, ref(x)[0])
    assert not torch.equal(sparse(x)[0], out)  # the module's own parameters are used again afterwards


@pytest.mark.parametrize("cell", CELLS)
def test_second_order_gradients_match_torch_with_masked_weights(cell):
    """Hessian-vector products (Hessian-based pruning, gradient penalties) through the masks."""
    ref, sparse = make_pair(cell)
    ref, sparse = ref.double(), sparse.double()
    masks = random_masks(sparse, 0.5, seed=5)
    for name, mask in masks.items():
        sparse.set_mask(name, mask)
    x = torch.randn(T, B, IN, dtype=torch.double)

    def masked_ref(params):
        params = {n: torch.where(masks[n], p, 0.0) if n in masks else p for n, p in params.items()}
        return torch.func.functional_call(ref, params, (x,))[0].pow(3).sum()

    directions = {n: torch.randn_like(p) for n, p in sparse.named_parameters()}
    hv = {}
    for label, module, loss in (
        ("ref", ref, lambda: masked_ref(dict(ref.named_parameters()))),
        ("sparse", sparse, lambda: sparse(x)[0].pow(3).sum()),
    ):
        names, params = zip(*module.named_parameters(), strict=True)
        grads = torch.autograd.grad(loss(), params, create_graph=True)
        product = sum((g * directions[n]).sum() for n, g in zip(names, grads, strict=True))
        hv[label] = dict(zip(names, torch.autograd.grad(product, params), strict=True))
    for name in hv["ref"]:
        torch.testing.assert_close(hv["sparse"][name], hv["ref"][name], msg=name)
