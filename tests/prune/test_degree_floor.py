"""degree_floor: exact counts, monotone, and the floor checked against brute force on small matrices."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import sparsernn.prune as sp
import sparsernn.prune.floor as floor_module
from sparsernn.errors import ConfigError


def rnn(n_in: int, n_hidden: int, seed: int) -> torch.nn.RNN:
    model = torch.nn.RNN(n_in, n_hidden, bias=False)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return model


def degrees(mask: np.ndarray) -> np.ndarray:
    """Degrees of the output (row) nodes, then of the input (column) nodes."""
    return np.concatenate([mask.sum(axis=1), mask.sum(axis=0)])


def best_floor(prior: np.ndarray, keep: int, d_min: int) -> int:
    """Brute force: the largest d <= d_min such that some subset of ``keep`` kept weights gives every
    node degree >= min(d, its degree in ``prior``)."""
    rows, cols = np.nonzero(prior)
    incidence = np.zeros((rows.size, sum(prior.shape)), dtype=np.int64)
    incidence[np.arange(rows.size), rows] = 1
    incidence[np.arange(rows.size), prior.shape[0] + cols] = 1
    subsets = np.array(list(itertools.combinations(range(rows.size), keep)), dtype=np.int64)
    reached = incidence[subsets].sum(axis=1) if keep else np.zeros((1, incidence.shape[1]), int)
    for d in range(d_min, 0, -1):
        if (reached >= np.minimum(degrees(prior), d)).all(axis=1).any():
            return d
    return 0


@pytest.mark.parametrize("n_in, n_hidden, seed", [(4, 4, 0), (5, 3, 1), (4, 4, 2), (3, 4, 3)])
@pytest.mark.parametrize("with_prior", [False, True])
def test_floor_is_the_best_any_mask_of_that_density_allows(n_in, n_hidden, seed, with_prior, monkeypatch):
    calls = []
    minimum = floor_module._minimum_floor
    monkeypatch.setattr(floor_module, "_minimum_floor", lambda *a: calls.append(1) or minimum(*a))
    model = rnn(n_in, n_hidden, seed)
    current = None
    if with_prior:  # some weights already pruned: a node may start below the floor
        rng = np.random.default_rng(seed)
        current = {"weight_ih_l0": torch.from_numpy(rng.random((n_hidden, n_in)) > 0.3)}
    prior = np.ones((n_hidden, n_in), bool) if current is None else current["weight_ih_l0"].numpy()
    n = prior.size
    for keep in range(int(prior.sum()) + 1):
        masks = sp.degree_floor(model, (n - keep) / n, d_min=2, weights="ih", current=current)
        mask = masks["weight_ih_l0"].numpy()
        assert mask.sum() == keep
        assert not (mask & ~prior).any()
        floor = best_floor(prior, keep, d_min=2)
        assert (degrees(mask) >= np.minimum(degrees(prior), floor)).all(), (keep, floor)
    assert calls  # the heavy floor sets did not always fit: the minimum ones were needed and checked


@pytest.mark.parametrize("cell, blocks", [(torch.nn.LSTM, 4), (torch.nn.GRU, 3), (torch.nn.RNN, 1)])
def test_every_gate_block_keeps_the_floor_where_magnitude_does_not(cell, blocks):
    torch.manual_seed(0)
    model = cell(16, 16, num_layers=2)
    masks = sp.degree_floor(model, 0.75)  # the floor needs 3 · 16 of 256 per block
    for mask in masks.values():
        for block in mask.view(blocks, 16, 16):
            assert block.sum(0).min() >= 3 and block.sum(1).min() >= 3
    plain = sp.magnitude(model, 0.75)
    assert (
        min(int(b.sum(d).min()) for m in plain.values() for b in m.view(blocks, 16, 16) for d in (0, 1)) < 3
    )


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.77, 0.95, 1.0])
def test_exact_count_and_monotone(classifier, scope, sparsity):
    model = classifier(torch.nn.LSTM, bidirectional=True)
    first = sp.degree_floor(model, 0.5, scope=scope)
    masks = sp.degree_floor(model, max(sparsity, 0.5), scope=scope, current=first)
    pools = [list(masks)] if scope == "global" else [[name] for name in masks]
    for pool in pools:
        n = sum(masks[name].numel() for name in pool)
        pruned = sum(int((~masks[name]).sum()) for name in pool)
        assert pruned == round(max(sparsity, 0.5) * n)
    assert all(bool((masks[k] <= first[k]).all()) for k in masks)  # kept ⊆ previously kept


def test_equals_magnitude_by_count_where_the_floor_does_not_bind():
    model = rnn(64, 64, seed=4)
    weights = {n: p.detach().abs().numpy() for n, p in model.named_parameters()}
    masks = sp.degree_floor(model, 0.1, scope="layer")
    for name, w in weights.items():
        k = round(0.1 * w.size)
        reference = np.ones(w.size, bool)
        reference[np.argsort(w.ravel())[:k]] = False
        np.testing.assert_array_equal(masks[name].numpy().ravel(), reference)


def test_stack_treats_the_matrix_as_one_graph():
    torch.manual_seed(1)
    model = torch.nn.LSTM(8, 8)
    masks = sp.degree_floor(model, 0.7, d_min=2, gates="stack", weights="hh")  # needs 2 · 32 of 256
    mask = masks["weight_hh_l0"]
    assert mask.sum(0).min() >= 2 and mask.sum(1).min() >= 2


def test_by_registry_name(classifier, masked):
    model = classifier(torch.nn.GRU)
    assert sp.MASK_CRITERIA["degree_floor"] is sp.degree_floor
    by_name = sp.prune(model, 0.6, criterion="degree_floor", scope="layer")
    direct = sp.degree_floor(model, 0.6, scope="layer")
    assert all(torch.equal(by_name[k], direct[k]) for k in direct)
    sparse = classifier(masked["gru"])
    steps = list(sp.iterative(sparse, [0.3, 0.6], criterion="degree_floor"))
    assert all(bool((steps[1][1][k] <= steps[0][1][k]).all()) for k in steps[0][1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"d_min": 0}, "d_min must be an integer >= 1 .*got 0"),
        ({"d_min": 2.5}, "d_min must be an integer >= 1"),
        ({"gates": "union"}, "unknown gate split 'union'; choose from per_gate, stack"),
        ({"scope": "model"}, "unknown pruning scope 'model'"),
    ],
)
def test_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        sp.degree_floor(torch.nn.LSTM(3, 4), 0.5, **kwargs)
    with pytest.raises(ConfigError, match="sparsity must be a fraction in"):
        sp.degree_floor(torch.nn.LSTM(3, 4), 1.5)
