"""The mask API of the sparse modules: names, validation, density, in-place zeroing, state_dict."""

from __future__ import annotations

import pytest
import torch

from sparsernn.errors import MaskError, SparsernnError
from sparsernn.nn import SparseGRU, SparseLSTM, SparseRNN


def test_one_bool_mask_buffer_per_weight_named_like_torch_prune():
    lstm = SparseLSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    weights = [n for n in lstm._flat_weights_names if n.startswith("weight_")]
    assert sorted(lstm.masks) == sorted(weights)
    buffers = dict(lstm.named_buffers())
    for name in weights:
        assert buffers[f"{name}_mask"].dtype == torch.bool
        assert buffers[f"{name}_mask"].shape == getattr(lstm, name).shape
        assert buffers[f"{name}_mask"].all()
    assert not any(n.startswith("bias") for n in lstm.masks)


def test_state_dict_is_torch_keys_plus_mask_buffers():
    sparse, ref = SparseGRU(3, 4, num_layers=2), torch.nn.GRU(3, 4, num_layers=2)
    masks = {f"{n}_mask" for n in sparse.masks}
    assert set(sparse.state_dict()) == set(ref.state_dict()) | masks


@pytest.mark.parametrize(
    ("name", "mask", "message"),
    [
        ("weight_ih_l1", torch.ones(8, 3, dtype=torch.bool), "unknown mask name 'weight_ih_l1'; choose from"),
        ("bias_ih_l0", torch.ones(8, dtype=torch.bool), "unknown mask name 'bias_ih_l0'"),
        ("weight_ih_l0", torch.ones(8, 4, dtype=torch.bool), r"shape \(8, 4\); expected \(8, 3\)"),
        ("weight_ih_l0", torch.ones(8, 3), "dtype torch.float32; expected torch.bool"),
        ("weight_ih_l0", [[True] * 3] * 8, "must be a torch bool tensor, not list"),
    ],
)
def test_set_mask_rejects_bad_names_shapes_and_dtypes(name, mask, message):
    rnn = SparseRNN(3, 8)
    before = rnn.state_dict()
    with pytest.raises(MaskError, match=message) as info:
        rnn.set_mask(name, mask)
    assert isinstance(info.value, SparsernnError) and isinstance(info.value, ValueError)
    for key, value in rnn.state_dict().items():  # nothing changed
        assert torch.equal(value, before[key]), key


def test_set_mask_zeroes_pruned_weights_and_keeps_the_rest():
    rnn = SparseRNN(3, 4)
    before = rnn.weight_hh_l0.detach().clone()
    mask = torch.rand(4, 4, generator=torch.Generator().manual_seed(0)) < 0.5
    rnn.set_mask("weight_hh_l0", mask)
    assert torch.equal(rnn.weight_hh_l0.detach(), torch.where(mask, before, 0.0))
    assert not torch.signbit(rnn.weight_hh_l0[~mask]).any()  # +0.0, not -0.0
    assert torch.equal(rnn.masks["weight_hh_l0"], mask)


def test_density_and_sparsity_count_weight_entries_only():
    gru = SparseGRU(2, 3)  # weight_ih (9, 2) = 18 entries, weight_hh (9, 3) = 27 entries
    gru.set_mask("weight_hh_l0", torch.zeros(9, 3, dtype=torch.bool))
    assert gru.density() == pytest.approx(18 / 45)
    assert gru.sparsity() == pytest.approx(27 / 45)
    mask = torch.zeros(9, 2, dtype=torch.bool)
    mask[:3] = True
    gru.set_mask("weight_ih_l0", mask)
    assert gru.density() == pytest.approx(6 / 45)


def test_masks_property_returns_copies():
    rnn = SparseRNN(2, 2)
    rnn.masks["weight_ih_l0"].zero_()
    assert rnn.density() == 1.0


def test_apply_masks_and_reset_parameters_keep_pruned_entries_zero():
    lstm = SparseLSTM(3, 4)
    mask = torch.eye(16, 4, dtype=torch.bool)
    lstm.set_mask("weight_hh_l0", mask)
    with torch.no_grad():
        lstm.weight_hh_l0.add_(1.0)
    lstm.apply_masks_()
    assert torch.count_nonzero(lstm.weight_hh_l0[~mask]) == 0
    lstm.reset_parameters()
    assert torch.count_nonzero(lstm.weight_hh_l0[~mask]) == 0
    assert torch.count_nonzero(lstm.weight_hh_l0[mask]) == mask.sum()


def test_plain_torch_module_loads_the_state_dict_and_gives_identical_outputs():
    sparse = SparseLSTM(3, 5, num_layers=2, batch_first=True)
    gen = torch.Generator().manual_seed(2)
    for name, mask in sparse.masks.items():
        sparse.set_mask(name, torch.rand(mask.shape, generator=gen) < 0.3)
    plain = torch.nn.LSTM(3, 5, num_layers=2, batch_first=True)
    result = plain.load_state_dict(sparse.state_dict(), strict=False)
    assert result.missing_keys == [] and all(k.endswith("_mask") for k in result.unexpected_keys)
    x = torch.randn(2, 7, 3)
    for got, expected in zip(plain(x), sparse(x), strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_loading_a_state_dict_applies_the_loaded_masks():
    source = SparseRNN(3, 4)
    source.set_mask("weight_ih_l0", torch.zeros(4, 3, dtype=torch.bool))
    state = source.state_dict()
    state["weight_ih_l0"] = torch.ones(4, 3)  # weights that disagree with their mask
    target = SparseRNN(3, 4)
    x = torch.randn(5, 2, 3)
    target(x)  # a forward before loading caches the old (all-ones) mask
    target.load_state_dict(state)
    assert torch.count_nonzero(target.weight_ih_l0) == 0
    assert target.density() == pytest.approx(16 / 28)
    torch.testing.assert_close(target(x)[0], source(x)[0])


def test_loading_a_parent_model_applies_the_masks_of_its_sparse_children():
    from sparsernn.nn import SequenceClassifier

    model = SequenceClassifier("gru", 2, 4, input_size=3)
    model.rnn.set_mask("weight_ih_l0", torch.zeros(12, 3, dtype=torch.bool))
    state = model.state_dict()
    state["rnn.weight_ih_l0"] = torch.ones(12, 3)
    model.load_state_dict(state)
    assert torch.count_nonzero(model.rnn.weight_ih_l0) == 0


def test_forward_follows_in_place_edits_of_a_mask_buffer():
    rnn = SparseRNN(3, 4)
    x = torch.randn(5, 2, 3)
    dense_out = rnn(x)[0]  # caches the all-kept mask
    with torch.no_grad():
        rnn.get_buffer("weight_hh_l0_mask")[:, 0] = False
    ref = torch.nn.RNN(3, 4)
    ref.load_state_dict(rnn.state_dict(), strict=False)
    with torch.no_grad():
        ref.weight_hh_l0[:, 0] = 0.0
    torch.testing.assert_close(rnn(x)[0], ref(x)[0])
    assert not torch.allclose(rnn(x)[0], dense_out)


def test_dense_torch_state_dict_loads_non_strictly_and_keeps_existing_masks():
    dense = torch.nn.GRU(3, 4)
    sparse = SparseGRU(3, 4)
    sparse.set_mask("weight_hh_l0", torch.zeros(12, 4, dtype=torch.bool))
    result = sparse.load_state_dict(dense.state_dict(), strict=False)
    assert sorted(result.missing_keys) == ["weight_hh_l0_mask", "weight_ih_l0_mask"]
    assert torch.count_nonzero(sparse.weight_hh_l0) == 0
    assert torch.equal(sparse.weight_ih_l0, dense.weight_ih_l0)


def test_dtype_conversion_keeps_bool_masks_and_masked_forward():
    rnn = SparseRNN(3, 4)
    rnn.set_mask("weight_hh_l0", torch.eye(4, dtype=torch.bool))
    x = torch.randn(5, 2, 3)
    out32 = rnn(x)[0]
    rnn = rnn.double()
    assert rnn.masks["weight_hh_l0"].dtype == torch.bool
    out64 = rnn(x.double())[0]
    assert out64.dtype == torch.float64
    torch.testing.assert_close(out64.float(), out32)


def test_all_zero_masks_are_allowed():
    # The Darji pruning study goes up to 100 % pruning of the selected weights.
    gru = SparseGRU(3, 4)
    for name, mask in gru.masks.items():
        gru.set_mask(name, torch.zeros_like(mask))
    assert gru.density() == 0.0 and gru.sparsity() == 1.0
    out, _ = gru(torch.randn(5, 2, 3))
    assert torch.isfinite(out).all()


def test_repr_shows_density():
    assert "density=0.5" in repr(_half_pruned_rnn())


def _half_pruned_rnn() -> SparseRNN:
    rnn = SparseRNN(2, 2)
    rnn.set_mask("weight_ih_l0", torch.zeros(2, 2, dtype=torch.bool))
    return rnn


# -- NaN and inf at pruned positions, mask validation on load (issue 14, section 3) ------------------


def _poisoned_lstm() -> tuple[SparseLSTM, torch.Tensor]:
    torch.manual_seed(0)
    lstm = SparseLSTM(3, 4, batch_first=True)
    mask = torch.rand(16, 4, generator=torch.Generator().manual_seed(1)) < 0.5
    lstm.set_mask("weight_hh_l0", mask)
    return lstm, mask


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_or_inf_at_a_pruned_position_never_reaches_outputs_or_gradients(bad):
    lstm, mask = _poisoned_lstm()
    reference = torch.nn.LSTM(3, 4, batch_first=True)
    reference.load_state_dict(lstm.state_dict(), strict=False)
    with torch.no_grad():
        lstm.weight_hh_l0[~mask] = bad  # as an optimizer or a user might leave it
    x = torch.randn(2, 5, 3)
    out = lstm(x)[0]
    torch.testing.assert_close(out, reference(x)[0], rtol=0, atol=1e-6)
    out.sum().backward()
    grad = lstm.weight_hh_l0.grad
    assert torch.isfinite(grad).all() and torch.count_nonzero(grad[~mask]) == 0
    assert torch.count_nonzero(lstm.weight_hh_l0.detach()[~mask]) == 0  # zeroed in place, not NaN


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_apply_masks_and_load_state_dict_turn_nan_into_exact_zeros(bad):
    lstm, mask = _poisoned_lstm()
    with torch.no_grad():
        lstm.weight_hh_l0[~mask] = bad
    lstm.apply_masks_()
    assert torch.count_nonzero(lstm.weight_hh_l0.detach()[~mask]) == 0
    state = {k: v.clone() for k, v in lstm.state_dict().items()}
    state["weight_hh_l0"][~mask] = bad
    target = SparseLSTM(3, 4, batch_first=True)
    target.load_state_dict(state)
    assert torch.isfinite(target.weight_hh_l0).all()
    assert torch.count_nonzero(target.weight_hh_l0.detach()[~mask]) == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (torch.full((4, 4), 0.3), "holds values other than 0 and 1"),
        (torch.full((4, 4), float("nan")), "holds values other than 0 and 1"),
        (-torch.ones(4, 4), "holds values other than 0 and 1"),
        (torch.ones(4, 4, dtype=torch.bool).to_sparse(), "layout torch.sparse_coo; expected a dense"),
        (torch.ones(4, 4, dtype=torch.bool, device="meta"), "on the meta device"),
    ],
)
def test_load_state_dict_refuses_masks_that_are_not_0_or_1(value, message):
    rnn = SparseRNN(3, 4)
    state = rnn.state_dict()
    state["weight_hh_l0_mask"] = value
    with pytest.raises(MaskError, match=message):
        rnn.load_state_dict(state)
    assert rnn.density() == 1.0


def test_load_state_dict_accepts_exact_0_1_float_masks_like_torch_prune():
    rnn = SparseRNN(3, 4)
    state = rnn.state_dict()
    state["weight_hh_l0_mask"] = torch.eye(4)
    rnn.load_state_dict(state)
    assert torch.equal(rnn.masks["weight_hh_l0"], torch.eye(4, dtype=torch.bool))


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (torch.ones(4, 4, dtype=torch.bool).to_sparse(), "layout torch.sparse_coo"),
        (torch.ones(4, 4, dtype=torch.bool, device="meta"), "meta device"),
    ],
)
def test_set_mask_refuses_sparse_and_meta_masks(mask, message):
    rnn = SparseRNN(3, 4)
    with pytest.raises(MaskError, match=message):
        rnn.set_mask("weight_hh_l0", mask)
    assert rnn.density() == 1.0
