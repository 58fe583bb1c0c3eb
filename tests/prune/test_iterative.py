"""Iterative pruning: monotone masks, exact levels, the retrain callback, eager argument checks."""

from __future__ import annotations

import itertools

import pytest
import torch

import sparsernn.prune as sp
from sparsernn.errors import ConfigError, MaskError


def density(masks):
    return sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())


@pytest.mark.parametrize("criterion", ["magnitude", "random"])
@pytest.mark.parametrize("scope", ["global", "layer"])
def test_levels_are_reached_and_masks_only_shrink(classifier, masked, criterion, scope):
    model = classifier(masked["lstm"])
    levels = sp.geometric(5, factor=0.6)
    seen = []
    for level, masks in sp.iterative(model, levels, criterion=criterion, scope=scope, seed=1):
        n = sum(m.numel() for m in masks.values())
        assert abs((1 - density(masks)) * n - level * n) <= (1 if scope == "global" else len(masks))
        if seen:
            assert all(not bool((masks[k] & ~seen[-1][k]).any()) for k in masks)
        for name, mask in masks.items():  # applied: the module holds the mask and zeroed weights
            assert torch.equal(model.rnn.masks[name.split(".")[-1]], mask)
            assert not bool(dict(model.named_parameters())[name][~mask].any())
        seen.append(masks)
    assert [round(1 - density(m), 2) for m in seen] == [round(x, 2) for x in levels]


def test_retrain_runs_after_apply_and_cannot_revive_pruned_weights(classifier, masked):
    model = classifier(masked["gru"])
    calls = []
    gen = torch.Generator().manual_seed(0)

    def retrain(m, level):
        # a "training step" that moves every weight, pruned ones included (like momentum would)
        hh = torch.cat([m.rnn.weight_hh_l0.flatten(), m.rnn.weight_hh_l1.flatten()])
        calls.append((level, (hh == 0).float().mean().item()))
        with torch.no_grad():
            for p in m.rnn.parameters():
                p.add_(0.01 * torch.randn(p.shape, generator=gen))

    steps = list(sp.iterative(model, [0.2, 0.5, 0.8], weights="hh", retrain=retrain))
    assert [level for level, _ in steps] == [0.2, 0.5, 0.8]
    assert [level for level, _ in calls] == [0.2, 0.5, 0.8]
    assert all(zero_fraction >= level - 0.01 for level, zero_fraction in calls)  # applied before retrain
    for (_, before), (_, after) in itertools.pairwise(steps):
        assert all(not bool((after[k] & ~before[k]).any()) for k in after)


def test_nothing_happens_before_iteration(classifier, masked):
    model = classifier(masked["rnn"])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    steps = sp.iterative(model, [0.5])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    next(steps)
    assert not all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_arguments_are_checked_when_called(classifier, masked):
    model = classifier(masked["rnn"])
    with pytest.raises(ConfigError, match="non-decreasing"):
        sp.iterative(model, [0.5, 0.3])
    with pytest.raises(ConfigError, match="unknown pruning criterion 'l1'; choose from degree_floor, mag"):
        sp.iterative(model, [0.5], criterion="l1")
    with pytest.raises(ConfigError, match="retrain"):
        sp.iterative(model, [0.5], retrain="fine-tune")
    with pytest.raises(MaskError, match=r"sparsernn\.nn\.sparsify"):
        sp.iterative(classifier(torch.nn.RNN), [0.5])


def test_custom_score_function_is_accepted(classifier, masked):
    model = classifier(masked["rnn"])

    def row_index(weight, rng):  # keeps the last rows: a criterion unlike |w|
        return torch.arange(weight.shape[0], dtype=torch.float64)[:, None].expand(weight.shape) + 1.0

    ((_, masks),) = sp.iterative(model, [0.5], criterion=row_index, scope="layer", weights="hh")
    assert masks["rnn.weight_hh_l0"][:, 0].tolist() == [False] * 3 + [True] * 3
