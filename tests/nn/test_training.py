"""Pruned weights stay exactly zero through training with every common optimizer, and kept ones learn."""

from __future__ import annotations

import itertools

import pytest
import torch

from sparsernn.nn import SequenceClassifier, keep_masks, make_rnn, mask_ops, sparse_modules

OPTIMIZERS = {
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    "sgd_weight_decay": lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.1),
    "sgd_nesterov_wd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01),
    "adam_weight_decay": lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5),
}
CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def model_and_data(cell: str):
    torch.manual_seed(0)
    model = SequenceClassifier(cell, 3, 8, num_layers=2, input_size=4)
    x, y = torch.randn(16, 6, 4), torch.randint(0, 3, (16,))
    return model, x, y


def prune_half(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Random 50 % masks on every weight (one weight fully pruned), keyed by qualified name."""
    gen = torch.Generator().manual_seed(1)
    masks = {}
    for prefix, module in sparse_modules(model):
        for name, shape in ((n, m.shape) for n, m in module.masks.items()):
            mask = (
                torch.zeros(shape, dtype=torch.bool)
                if name == "weight_hh_l1"
                else torch.rand(shape, generator=gen) < 0.5
            )
            module.set_mask(name, mask)
            masks[f"{prefix}.{name}"] = mask
    return masks


def train(model, x, y, optimizer, steps: int) -> None:
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)  # clipping rescales grads
        optimizer.step()


def pruned_values(model, masks) -> torch.Tensor:
    params = dict(model.named_parameters())
    return torch.cat([params[name].detach()[~mask] for name, mask in masks.items()])


def kept_values(model, masks) -> dict[str, torch.Tensor]:
    params = dict(model.named_parameters())
    return {name: params[name].detach()[mask].clone() for name, mask in masks.items() if mask.any()}


@pytest.mark.parametrize(("cell", "opt"), list(itertools.product(CELLS, OPTIMIZERS)))
def test_pruned_weights_stay_zero_when_masks_predate_the_optimizer(cell, opt):
    model, x, y = model_and_data(cell)
    masks = prune_half(model)
    kept_before = kept_values(model, masks)
    optimizer = OPTIMIZERS[opt](model.parameters())
    train(model, x, y, optimizer, steps=4)
    pruned = pruned_values(model, masks)
    assert pruned.numel() > 0 and torch.count_nonzero(pruned) == 0
    # Every weight matrix keeps learning (re-parametrized RNN weights are known to silently stop updating).
    for name, kept in kept_values(model, masks).items():
        assert not torch.equal(kept, kept_before[name]), name


@pytest.mark.parametrize(("cell", "opt"), list(itertools.product(["lstm", "gru"], OPTIMIZERS)))
def test_keep_masks_holds_zeros_with_stale_optimizer_state(cell, opt):
    model, x, y = model_and_data(cell)
    optimizer = OPTIMIZERS[opt](model.parameters())
    train(model, x, y, optimizer, steps=3)  # dense steps build momentum / moments everywhere
    masks = prune_half(model)
    handle = keep_masks(optimizer, model)
    train(model, x, y, optimizer, steps=3)
    assert torch.count_nonzero(pruned_values(model, masks)) == 0
    handle.remove()


@pytest.mark.parametrize("opt", ["sgd_momentum", "adam"])
def test_stale_state_is_zeroed_right_after_each_step_and_nothing_leaks(opt):
    # Masked gradients alone do not stop momentum built before the masks: every optimizer step moves
    # pruned entries, and torch's global step hook that sparsernn installs zeroes them right after.
    model, x, y = model_and_data("lstm")
    optimizer = OPTIMIZERS[opt](model.parameters())
    train(model, x, y, optimizer, steps=3)
    masks = prune_half(model)
    train(model, x, y, optimizer, steps=1)
    assert torch.count_nonzero(pruned_values(model, masks)) == 0
    # Values written by hand between steps: state_dict() (and every forward) zeroes them first.
    with torch.no_grad():
        model.rnn.weight_hh_l0.add_(1.0)
    state = model.state_dict()
    assert all(torch.count_nonzero(state[name][~mask]) == 0 for name, mask in masks.items())
    assert torch.count_nonzero(pruned_values(model, masks)) == 0


def test_keep_masks_hook_belongs_to_one_optimizer_and_can_be_removed():
    model, x, y = model_and_data("gru")
    mask_ops._LIVE.discard(model.rnn)  # switch off the global step hook for this model: keep_masks alone
    first = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    second = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train(model, x, y, first, steps=2)
    train(model, x, y, second, steps=2)
    masks = prune_half(model)
    handle = keep_masks(first, model)
    train(model, x, y, second, steps=1)  # no hook on this one: its stale momentum revives weights
    assert torch.count_nonzero(pruned_values(model, masks)) > 0
    train(model, x, y, first, steps=1)  # the hook re-zeroes after this step
    assert torch.count_nonzero(pruned_values(model, masks)) == 0
    handle.remove()
    train(model, x, y, first, steps=1)
    assert torch.count_nonzero(pruned_values(model, masks)) > 0


def test_keep_masks_rejects_a_model_without_sparse_modules():
    from sparsernn.errors import MaskError

    linear = torch.nn.Linear(2, 2)
    with pytest.raises(MaskError, match="no sparse recurrent module"):
        keep_masks(torch.optim.SGD(linear.parameters(), lr=0.1), linear)


def test_masked_module_trains_like_torch_module_with_masked_gradients():
    # Independent reference: a torch LSTM whose pruned weights start at zero and whose gradients are
    # multiplied by the masks by hand follows exactly the same Adam trajectory.
    sparse = make_rnn("lstm", 4, 6)
    gen = torch.Generator().manual_seed(5)
    masks = {n: torch.rand(m.shape, generator=gen) < 0.3 for n, m in sparse.masks.items()}
    for name, mask in masks.items():
        sparse.set_mask(name, mask)
    ref = torch.nn.LSTM(4, 6)
    ref.load_state_dict(sparse.state_dict(), strict=False)
    opts = [torch.optim.Adam(m.parameters(), lr=0.05) for m in (sparse, ref)]
    x = torch.randn(7, 5, 4)
    for _ in range(5):
        for module, optimizer in zip((sparse, ref), opts, strict=True):
            optimizer.zero_grad()
            module(x)[0].pow(2).mean().backward()
            if module is ref:
                for name, mask in masks.items():
                    getattr(ref, name).grad.mul_(mask)
            optimizer.step()
    for name, p in ref.named_parameters():
        torch.testing.assert_close(getattr(sparse, name), p, msg=name)
