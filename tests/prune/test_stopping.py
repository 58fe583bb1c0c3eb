"""Expansion-aware stopping: matrices whose gap turns negative keep their previous mask."""

from __future__ import annotations

import pytest
import torch

from sparsernn.analysis import expansion
from sparsernn.errors import ConfigError
from sparsernn.prune import guard_expansion


def _random_mask(rows, cols, density, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(rows, cols, generator=g) < density


def test_expanding_masks_pass_and_failing_ones_revert():
    current = {"a": torch.ones(8, 8, dtype=torch.bool), "b": torch.ones(8, 8, dtype=torch.bool)}
    good = _random_mask(8, 8, 0.6, 0)
    assert expansion(good).delta_s >= 0
    bad = torch.eye(8, dtype=torch.bool)  # perfect matching: μ0 = μ̂ = 1, Δ_S = -1
    result = guard_expansion({"a": good, "b": bad}, current)
    assert torch.equal(result.masks["a"], good)
    assert torch.equal(result.masks["b"], current["b"])
    assert result.newly_frozen == result.frozen == frozenset({"b"})


def test_frozen_matrices_are_never_pruned_again():
    current = {"a": _random_mask(8, 8, 0.6, 1)}
    proposed = {"a": current["a"] & _random_mask(8, 8, 0.9, 2)}
    result = guard_expansion(proposed, current, frozenset({"a"}))
    assert torch.equal(result.masks["a"], current["a"]) and result.newly_frozen == frozenset()


def test_delta_r_measure_and_unknown_measure():
    current = {"a": torch.ones(6, 6, dtype=torch.bool)}
    sparse = {"a": torch.eye(6, dtype=torch.bool)}  # degrees 1: Δ_R = 0 + 0 − 1 < 0
    assert guard_expansion(sparse, current, measure="delta_r").frozen == {"a"}
    with pytest.raises(ConfigError, match="unknown expansion measure 'gap'"):
        guard_expansion(sparse, current, measure="gap")
