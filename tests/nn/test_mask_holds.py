"""The masks hold where a review found they did not: parametrized weights, regrowth, stale values after
an optimizer step (seen by torch.export and jit.trace), mask edits through ``.data``, torch's pruning.

Each test reproduces a reported case; the rule checked is the library's first one: what leaves a module
equals what it computes, and pruned weights are exactly zero in both.
"""

from __future__ import annotations

import copy
import gc
import weakref

import pytest
import torch
from torch.nn.utils import parametrizations, parametrize, prune

from sparsernn.errors import MaskError
from sparsernn.nn import SparseGRU, SparseLSTM, SparseRNN, load_model, mask_ops, save_checkpoint, to_torch
from sparsernn.nn.base import constructor_args

KINDS = {"rnn": SparseRNN, "lstm": SparseLSTM, "gru": SparseGRU}
T, B, IN, H = 5, 3, 4, 6


def pruned(module, keep: float = 0.6, seed: int = 0):
    """``module`` with random masks on every weight."""
    gen = torch.Generator().manual_seed(seed)
    for name in module.masked_names:
        module.set_mask(name, torch.rand(module.mask(name).shape, generator=gen) < keep)
    return module


def train_steps(module, x, optimizer, steps: int) -> None:
    for _ in range(steps):
        optimizer.zero_grad()
        module(x)[0].pow(2).sum().backward()
        optimizer.step()


def hand_masked(module) -> torch.nn.RNNBase:
    """A plain torch module holding the weights ``module``'s forward reads, pruned entries set to 0 by hand."""
    plain = module._wraps(**constructor_args(module))
    with torch.no_grad():
        for name in module._flat_weights_names:
            value = getattr(module, name)
            if name in module.masked_names:
                value = torch.where(module.mask(name), value, 0.0)
            getattr(plain, name).copy_(value)
    return plain.eval()


def stale_pruned(module) -> int:
    """How many pruned entries of the stored parameters are not exactly 0."""
    return sum(int(getattr(module, n).detach()[~module.mask(n)].count_nonzero()) for n in module.masked_names)


# -- 1. a torch parametrization on a masked weight ------------------------------------------------


class Double(torch.nn.Module):
    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return 2 * weight


PARAMETRIZE = {
    "custom": lambda m, name: parametrize.register_parametrization(m, name, Double()),
    "weight_norm": lambda m, name: parametrizations.weight_norm(m, name),
    "spectral_norm": lambda m, name: parametrizations.spectral_norm(m, name),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("how", PARAMETRIZE)
def test_forward_masks_a_parametrized_weight(kind, how):
    torch.manual_seed(0)
    module, x = pruned(KINDS[kind](IN, H)), torch.randn(T, B, IN)
    PARAMETRIZE[how](module, "weight_hh_l0")
    train_steps(module, x, torch.optim.SGD(module.parameters(), lr=0.05), steps=2)
    module.eval()  # spectral_norm's power iteration runs at every read in training mode
    with torch.no_grad():
        out = module(x)[0]
        torch.testing.assert_close(out, hand_masked(module)(x)[0], rtol=0, atol=1e-6)
        torch.testing.assert_close(out, to_torch(module)(x)[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("how", PARAMETRIZE)
def test_gradient_of_a_parametrized_weight_is_zero_at_pruned_entries(how):
    torch.manual_seed(0)
    module, x = pruned(SparseGRU(IN, H)), torch.randn(T, B, IN)
    PARAMETRIZE[how](module, "weight_hh_l0")
    weights = []  # every value of the parametrized weight computed during the forward

    def keep_grad(_module, _args, weight):
        weight.retain_grad()
        weights.append(weight)

    module.parametrizations.weight_hh_l0.register_forward_hook(keep_grad)
    module(x)[0].pow(2).sum().backward()
    used = [w.grad for w in weights if w.grad is not None]
    keep = module.mask("weight_hh_l0")
    assert len(used) == 1 and used[0][~keep].count_nonzero() == 0 and used[0][keep].count_nonzero() > 0


def test_state_dict_of_a_parametrized_module_reloads_to_the_same_computation():
    torch.manual_seed(0)
    module, x = pruned(SparseLSTM(IN, H)), torch.randn(T, B, IN)
    parametrizations.weight_norm(module, "weight_hh_l0")
    train_steps(module, x, torch.optim.SGD(module.parameters(), lr=0.05, momentum=0.9), steps=2)
    state = module.state_dict()  # holds weight_norm's original0/original1 and the masks
    assert "parametrizations.weight_hh_l0.original1" in state
    twin = SparseLSTM(IN, H)
    parametrizations.weight_norm(twin, "weight_hh_l0")
    twin.load_state_dict(state)
    with torch.no_grad():
        torch.testing.assert_close(twin(x)[0], module(x)[0], rtol=0, atol=0)


# -- 2. regrowth with set_mask --------------------------------------------------------------------


def test_regrown_entries_start_at_exactly_zero():
    module = pruned(SparseGRU(IN, H))
    keep = module.mask("weight_hh_l0").clone()
    with torch.no_grad():
        module.weight_hh_l0.add_(1.0)  # stale values at pruned entries, as an optimizer step leaves them
    module.set_mask("weight_hh_l0", torch.ones_like(keep))
    assert module.weight_hh_l0.detach()[~keep].count_nonzero() == 0


def test_regrowth_does_not_depend_on_an_earlier_state_dict_call():
    def regrown(save_first: bool) -> torch.Tensor:
        torch.manual_seed(0)
        module, x = SparseGRU(IN, H), torch.randn(T, B, IN)
        optimizer = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9)
        train_steps(module, x, optimizer, steps=3)
        pruned(module)
        train_steps(module, x, optimizer, steps=3)
        if save_first:
            module.state_dict()
        module.set_mask("weight_hh_l0", torch.ones(3 * H, H, dtype=torch.bool))
        return module(x)[0].detach()

    torch.testing.assert_close(regrown(True), regrown(False), rtol=0, atol=0)


# -- 3. stale values between an optimizer step and the next forward -------------------------------

OPTIMIZERS = {
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    "adam": lambda p: torch.optim.Adam(p, lr=0.02, weight_decay=0.01),
    "adam_fused": lambda p: torch.optim.Adam(p, lr=0.02, fused=True),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.02, weight_decay=0.1),
}


def dense_then_pruned(kind: str, opt: str):
    """Dense steps build momentum everywhere, then pruning and more steps with the same optimizer."""
    torch.manual_seed(0)
    module, x = KINDS[kind](IN, H, num_layers=2), torch.randn(T, B, IN)
    optimizer = OPTIMIZERS[opt](module.parameters())
    train_steps(module, x, optimizer, steps=2)
    pruned(module)
    train_steps(module, x, optimizer, steps=2)
    return module, x, optimizer


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_parameters_are_zero_at_pruned_entries_right_after_every_step(kind, opt):
    module, _, _ = dense_then_pruned(kind, opt)  # the last thing done: optimizer.step()
    assert stale_pruned(module) == 0


@pytest.mark.filterwarnings("ignore:The tensor attributes .*_flat_weights")
def test_torch_export_after_a_training_step_holds_zeros_at_pruned_entries():
    module, x, _ = dense_then_pruned("lstm", "sgd_momentum")
    exported = torch.export.export(module, (x,))
    for name in module.masked_names:
        assert exported.state_dict[name][~module.mask(name)].count_nonzero() == 0, name
    plain = torch.nn.LSTM(IN, H, num_layers=2)
    plain.load_state_dict(exported.module().state_dict(), strict=False)
    with torch.no_grad():
        torch.testing.assert_close(plain(x)[0], module(x)[0], rtol=0, atol=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_jit_trace_after_a_training_step_holds_zeros_at_pruned_entries():
    module, x, _ = dense_then_pruned("gru", "adam")
    traced = torch.jit.trace(module, (x,), check_trace=False)
    state = traced.state_dict()
    for name in module.masked_names:
        assert state[name][~module.mask(name)].count_nonzero() == 0, name


@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_zeroing_after_the_step_trains_bit_identically_to_zeroing_at_the_next_forward(opt):
    torch.manual_seed(0)
    module, x = SparseLSTM(IN, H, num_layers=2), torch.randn(T, B, IN)
    twin = copy.deepcopy(module)
    mask_ops._LIVE.discard(twin)  # no zeroing after its steps: only at its next forward, as before
    results = []
    for model in (module, twin):
        optimizer = OPTIMIZERS[opt](model.parameters())
        train_steps(model, x, optimizer, steps=2)
        pruned(model)
        losses = []
        for _ in range(3):
            optimizer.zero_grad()
            loss = model(x)[0].pow(2).sum()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        results.append((losses, model.state_dict(), optimizer.state_dict()["state"]))
    (losses, state, moments), (twin_losses, twin_state, twin_moments) = results
    assert losses == twin_losses
    for key in state:
        assert torch.equal(state[key], twin_state[key]), key
    for index in moments:
        for key, value in moments[index].items():
            assert torch.equal(value, twin_moments[index][key]), (index, key)


def test_copies_are_cleaned_after_steps_and_dead_modules_are_not_kept_alive():
    module, x, _ = dense_then_pruned("rnn", "sgd_momentum")
    clone = copy.deepcopy(module)
    optimizer = torch.optim.SGD(clone.parameters(), lr=0.1, momentum=0.9)
    train_steps(clone, x, optimizer, steps=1)
    with torch.no_grad():
        clone.weight_hh_l0.add_(1.0)  # moves pruned entries; the next step's hook zeroes them
    optimizer.step()
    assert stale_pruned(clone) == 0
    dead = weakref.ref(clone)
    del clone, optimizer
    gc.collect()
    assert dead() is None


def test_an_optimizer_without_the_module_leaves_its_parameters_alone():
    module = pruned(SparseRNN(IN, H))
    with torch.no_grad():
        module.weight_hh_l0.add_(1.0)
    other = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(other.parameters(), lr=0.1)
    other(torch.randn(1, 2)).sum().backward()
    optimizer.step()
    assert stale_pruned(module) > 0  # not this optimizer's parameter: untouched


# -- 4. mask edits through .data ------------------------------------------------------------------


def test_mask_edited_through_data_is_seen_by_every_reader(tmp_path):
    torch.manual_seed(0)
    module, x = SparseLSTM(IN, H), torch.randn(T, B, IN)
    module(x)  # a forward with the all-kept mask first
    keep = torch.rand(4 * H, H) > 0.5
    module.weight_hh_l0_mask.data.copy_(keep)  # bypasses the version counter
    assert module.density() == pytest.approx((int(keep.sum()) + 4 * H * IN) / (4 * H * (H + IN)))
    with torch.no_grad():
        out = module(x)[0]
        torch.testing.assert_close(out, hand_masked(module)(x)[0], rtol=0, atol=1e-6)
    assert module.state_dict()["weight_hh_l0"][~keep].count_nonzero() == 0
    loaded = load_model(save_checkpoint(tmp_path / "m.safetensors", module))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)[0], out, rtol=0, atol=0)


# -- 5. torch.nn.utils.prune on a sparse module ---------------------------------------------------


def test_torch_prune_on_a_sparse_module_is_refused_before_anything_changes():
    module = pruned(SparseLSTM(IN, H))
    before = {k: v.clone() for k, v in module.state_dict().items()}
    params = dict(module.named_parameters())
    with pytest.raises(MaskError, match=r"set_mask or sparsernn.prune, or prune .* from_torch"):
        prune.l1_unstructured(module, "weight_hh_l0", amount=0.5)
    after = module.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
    assert dict(module.named_parameters()) == params
    assert not module._forward_pre_hooks
    assert module.mask("weight_hh_l0").dtype == torch.bool
    module(torch.randn(T, B, IN))  # still runs


def test_torch_prune_on_an_unmasked_name_still_works():
    module = SparseLSTM(IN, H)
    prune.l1_unstructured(module, "bias_hh_l0", amount=0.5)  # biases have no sparse mask
    assert int((module.bias_hh_l0 == 0).sum()) == 2 * H
