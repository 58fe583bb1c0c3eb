"""Random pruning: exact counts, seeds, nesting, independence from the weights' values."""

from __future__ import annotations

import pytest
import torch

import sparsernn.prune as sp


def pruned(masks):
    return sum(int((~m).sum()) for m in masks.values())


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("weights", ["both", "ih", "hh"])
def test_sparsity_within_one_weight(classifier, scope, weights):
    model = classifier(torch.nn.LSTM)
    for sparsity in (0.0, 0.25, 0.61, 1.0):
        masks = sp.random(model, sparsity, weights=weights, scope=scope, seed=0)
        pools = [masks] if scope == "global" else [{n: m} for n, m in masks.items()]
        for pool in pools:
            n = sum(m.numel() for m in pool.values())
            assert abs(pruned(pool) - sparsity * n) <= 1


def test_same_seed_same_masks_other_seed_other_masks(classifier):
    model = classifier(torch.nn.GRU)
    a, b = sp.random(model, 0.5, seed=7), sp.random(model, 0.5, seed=7)
    c = sp.random(model, 0.5, seed=8)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert any(not torch.equal(a[n], c[n]) for n in a)


def test_scores_ignore_weight_values(classifier):
    one, other = classifier(torch.nn.RNN, seed=1), classifier(torch.nn.RNN, seed=2)
    a, b = sp.random(one, 0.4, seed=3), sp.random(other, 0.4, seed=3)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert not torch.equal(one.rnn.weight_hh_l0, other.rnn.weight_hh_l0)


def test_rising_levels_with_one_seed_are_nested(classifier):
    model = classifier(torch.nn.LSTM)
    previous = None
    for level in (0.1, 0.3, 0.5, 0.9):
        masks = sp.random(model, level, seed=11)
        if previous is not None:
            assert all(not bool((masks[n] & ~previous[n]).any()) for n in masks)
        previous = masks


def test_global_random_spreads_pruning_evenly_in_expectation(classifier):
    model = classifier(torch.nn.LSTM, hidden_size=32, num_layers=1)
    masks = sp.random(model, 0.5, seed=0)
    for mask in masks.values():  # 512 and 4096 weights: 5 standard deviations is about 0.11 / 0.04
        assert abs(1 - mask.float().mean().item() - 0.5) < 0.12


def test_random_respects_current(classifier):
    model = classifier(torch.nn.GRU)
    current = sp.magnitude(model, 0.5)
    masks = sp.random(model, 0.6, seed=0, current=current)
    assert all(not bool((masks[n] & ~current[n]).any()) for n in masks)
    assert abs(pruned(masks) - 0.6 * sum(m.numel() for m in masks.values())) <= 1
