"""Magnitude pruning against a NumPy reference: keys, thresholds, exact sparsity, priors, purity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import sparsernn.prune as sp
from sparsernn.errors import MaskError

CELLS = [
    (torch.nn.RNN, {"nonlinearity": "tanh"}),
    (torch.nn.RNN, {"nonlinearity": "relu"}),
    (torch.nn.LSTM, {}),
    (torch.nn.GRU, {}),
]
KINDS = {"both": ("weight_ih_l", "weight_hh_l"), "ih": ("weight_ih_l",), "hh": ("weight_hh_l",)}


def selected(model, weights):
    """Reference selection straight from named_parameters."""
    return {
        n: p.detach().double().numpy()
        for n, p in model.named_parameters()
        if any(n.split(".")[-1].startswith(k) for k in KINDS[weights])
    }


def reference(model, sparsity, weights, scope):
    """Masks computed with numpy.percentile (the Darji study's rule), |w| >= threshold."""
    ws = selected(model, weights)
    if scope == "global":
        t = np.percentile(np.concatenate([np.abs(w).ravel() for w in ws.values()]), 100 * sparsity)
        return {n: np.abs(w) >= t for n, w in ws.items()}
    return {n: np.abs(w) >= np.percentile(np.abs(w), 100 * sparsity) for n, w in ws.items()}


def pruned(masks):
    return sum(int((~m).sum()) for m in masks.values())


def total(masks):
    return sum(m.numel() for m in masks.values())


@pytest.mark.parametrize("cell, kwargs", CELLS)
@pytest.mark.parametrize("weights", ["both", "ih", "hh"])
@pytest.mark.parametrize("scope", ["global", "layer"])
def test_matches_numpy_percentile_and_exact_sparsity(classifier, cell, kwargs, weights, scope):
    model = classifier(cell, bidirectional=True, **kwargs)
    for sparsity in (0.1, 0.37, 0.9):
        masks = sp.magnitude(model, sparsity, weights=weights, scope=scope)
        ref = reference(model, sparsity, weights, scope)
        assert list(masks) == list(ref)  # qualified names, in parameter order
        for name, mask in masks.items():
            assert mask.dtype == torch.bool and mask.shape == dict(model.named_parameters())[name].shape
            np.testing.assert_array_equal(mask.numpy(), ref[name])
        pools = [masks] if scope == "global" else [{n: m} for n, m in masks.items()]
        for pool in pools:  # within one weight of the promised level, per threshold pool
            assert abs(pruned(pool) - sparsity * total(pool)) <= 1


def test_keys_are_qualified_recurrent_weights(classifier):
    model = classifier(torch.nn.LSTM, bidirectional=True)
    expected = [n for n, _ in model.named_parameters() if ".weight_ih_l" in n or ".weight_hh_l" in n]
    assert list(sp.magnitude(model, 0.5)) == expected
    assert "rnn.weight_hh_l1_reverse" in expected and "head.weight" not in expected
    assert list(sp.magnitude(model, 0.5, weights="ih")) == [n for n in expected if "_ih_" in n]


def test_projection_weights_and_biases_are_never_selected():
    lstm = torch.nn.LSTM(3, 6, proj_size=2)
    assert set(sp.magnitude(lstm, 0.5)) == {"weight_ih_l0", "weight_hh_l0"}


def _tiny_rnn(ih, hh):
    rnn = torch.nn.RNN(1, 2, bias=False)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(ih))
        rnn.weight_hh_l0.copy_(torch.tensor(hh))
    return rnn


def test_threshold_is_strict_and_ties_at_it_are_kept():
    # pooled |w| = 1, 2, 2, 3, 4, 5; linear percentile 20 % and 40 % both land on 2.0 exactly
    rnn = _tiny_rnn([[1.0], [-2.0]], [[2.0, -3.0], [4.0, 5.0]])
    for sparsity in (0.2, 0.4):
        masks = sp.magnitude(rnn, sparsity)
        assert masks["weight_ih_l0"].tolist() == [[False], [True]]
        assert masks["weight_hh_l0"].tolist() == [[True, True], [True, True]]
    # 30 %: index 1.5 -> threshold 2.0 as well; 50 %: index 2.5 -> 2.5, both 2s go
    assert pruned(sp.magnitude(rnn, 0.3)) == 1
    assert pruned(sp.magnitude(rnn, 0.5)) == 3


def test_full_sparsity_keeps_the_largest_weight_and_zero_keeps_all():
    rnn = _tiny_rnn([[0.0], [-2.0]], [[2.0, -3.0], [-5.0, 4.0]])
    masks = sp.magnitude(rnn, 1.0)
    assert masks["weight_hh_l0"].tolist() == [[False, False], [True, False]]
    assert pruned(masks) == 5
    layer = sp.magnitude(rnn, 1.0, scope="layer")  # the largest of each matrix
    assert layer["weight_ih_l0"].tolist() == [[False], [True]]
    assert pruned(sp.magnitude(rnn, 0.0)) == 0  # even the zero weight stays (0 >= min)
    tied = _tiny_rnn([[5.0], [-5.0]], [[1.0, 2.0], [3.0, -5.0]])
    assert pruned(sp.magnitude(tied, 1.0)) == 3  # every weight tied at the maximum is kept


def test_never_mutates_the_model_and_returns_fresh_tensors(classifier, masked):
    model = classifier(masked["gru"])
    sp.apply(model, sp.magnitude(model, 0.3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    masks = sp.magnitude(model, 0.6, scope="layer", current=sp.magnitude(model, 0.4))
    sp.random(model, 0.6, seed=0)
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    masks["rnn.weight_ih_l0"].fill_(False)  # the caller owns the result, not the module
    assert bool(model.rnn.weight_ih_l0_mask.any())


def test_existing_module_masks_stay_pruned_and_level_is_of_the_total(classifier, masked):
    model = classifier(masked["lstm"])
    first = sp.magnitude(model, 0.5, scope="layer")
    sp.apply(model, first)
    # a lower level than what is pruned changes nothing
    again = sp.magnitude(model, 0.3, scope="layer")
    assert all(torch.equal(again[n], first[n]) for n in first)
    deeper = sp.magnitude(model, 0.7, scope="layer")
    for name, mask in deeper.items():
        assert not bool((mask & ~first[name]).any())  # kept ⊆ previously kept
        assert abs(int((~mask).sum()) - 0.7 * mask.numel()) <= 1


def test_current_masks_count_as_pruned_even_when_weights_are_not_zero(classifier):
    model = classifier(torch.nn.RNN)  # plain module: nothing zeroed
    gen = torch.Generator().manual_seed(3)
    current = {n: torch.rand(m.shape, generator=gen) > 0.4 for n, m in sp.magnitude(model, 0.0).items()}
    masks = sp.magnitude(model, 0.8, current=current)
    assert all(not bool((masks[n] & ~current[n]).any()) for n in masks)
    assert abs(pruned(masks) - 0.8 * total(masks)) <= 1
    # reference: already-pruned weights score 0 in the pooled percentile
    ws = selected(model, "both")
    scores = {n: np.abs(w) * current[n].numpy() for n, w in ws.items()}
    t = np.percentile(np.concatenate([s.ravel() for s in scores.values()]), 80)
    for name, mask in masks.items():
        np.testing.assert_array_equal(mask.numpy(), (scores[name] >= t) & current[name].numpy())


def test_current_for_unselected_weights_is_ignored(classifier):
    model = classifier(torch.nn.GRU)
    hh_only = {n: torch.zeros_like(m) for n, m in sp.magnitude(model, 0.0, weights="hh").items()}
    masks = sp.magnitude(model, 0.0, weights="ih", current=hh_only)
    assert pruned(masks) == 0 and all("_ih_" in n for n in masks)


def test_non_finite_weights_are_an_error():
    rnn = _tiny_rnn([[math.nan], [1.0]], [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(MaskError, match="weight_ih_l0"):
        sp.magnitude(rnn, 0.5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_masks_live_on_the_weights_device_and_match_the_cpu(classifier):
    model = classifier(torch.nn.LSTM)
    expected = sp.magnitude(model, 0.6), sp.random(model, 0.6, seed=0)
    model = model.cuda()
    got = sp.magnitude(model, 0.6), sp.random(model, 0.6, seed=0)
    for want, have in zip(expected, got):
        assert all(have[n].is_cuda and torch.equal(have[n].cpu(), want[n]) for n in want)
