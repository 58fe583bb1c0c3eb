"""The guard's fast search: the same steps as an exact reference, fewer Δ evaluations, magnitude's masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

import sparsernn.prune as sp
import sparsernn.prune.ramanujan as rg
from sparsernn.analysis import expansion
from sparsernn.errors import MaskError


def lstm(scale_hh: float = 1.0, seed: int = 0) -> torch.nn.LSTM:
    """LSTM(48, 128): W_hh (512 × 128) is large enough for the Lanczos route, W_ih for the dense one."""
    model = torch.nn.LSTM(48, 128)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-1.0, 1.0, generator=gen)
        model.weight_hh_l0.mul_(scale_hh)
    return model


def exact_gap(pattern, measure, *, sign_only=False):
    with threadpool_limits(limits=1, user_api="blas"):
        value = getattr(expansion(pattern.toarray() > 0, solver="dense"), measure)
    return -math.inf if math.isnan(value) else value


def reference_allocate(matrices, start):
    """The allocation loop before the fallback shortcut: every crossing matrix is bisected."""
    budget, safe, caps, unguarded, amounts = (
        sum(start.values()),
        dict.fromkeys(matrices, 0),
        {},
        set(),
        dict(start),
    )
    while True:
        crossed = False
        for name, matrix in matrices.items():
            amount = amounts[name]
            if name in caps or name in unguarded or amount <= safe[name]:
                continue
            if matrix.ok(amount):
                safe[name] = amount
            elif safe[name] == 0 and not matrix.ok(0):
                unguarded.add(name)
            else:
                caps[name] = rg._cap(matrix.ok, safe[name], amount)
                crossed = True
        if not crossed:
            return amounts, set(caps)
        free = [n for n in matrices if n not in caps]
        rest = rg._by_magnitude(matrices, free, budget - sum(caps.values()))
        if rest is None:
            return None, set(caps)
        amounts = {n: caps[n] if n in caps else rest[n] for n in matrices}


def iterate(model, levels, **kwargs):
    current, steps = None, []
    for level in levels:
        step = rg.guard_step(model, level, current=current, **kwargs)  # the module patched below
        steps.append(step)
        current = step.masks
    return steps


@pytest.mark.parametrize(
    ("scale_hh", "measure", "gates"),
    [
        (0.05, "delta_s", "stack"),
        (0.3, "delta_r", "stack"),
        (0.05, "delta_s", "per_gate"),
        (1.0, "delta_s", "stack"),
    ],
)
def test_same_steps_as_the_exact_reference(monkeypatch, scale_hh, measure, gates):
    model = lstm(scale_hh)
    levels = [0.3, 0.6, 0.8, 0.9, 0.95]
    fast = iterate(model, levels, measure=measure, gates=gates)
    monkeypatch.setattr(rg, "pattern_gap", exact_gap)
    monkeypatch.setattr(rg, "_allocate", reference_allocate)
    exact = iterate(model, levels, measure=measure, gates=gates)
    for a, b in zip(fast, exact, strict=True):
        assert all(torch.equal(a.masks[k], b.masks[k]) for k in b.masks)
        assert (a.pruned, a.capped, a.fallback) == (b.pruned, b.capped, b.fallback)
        assert a.evaluations <= b.evaluations
    assert any(s.capped for s in exact)  # the cases do exercise the guard


def test_a_certain_fallback_skips_the_bisections(monkeypatch):
    # At 95 % the only matrix with weights left to take budget is too small for what W_ih's cap
    # would give up: the step falls back whatever the cap, so W_ih is not bisected.
    levels = [0.3, 0.6, 0.8, 0.9, 0.95]
    last = iterate(lstm(0.05), levels)[-1]
    assert last.fallback and last.capped == {"weight_ih_l0"} and last.evaluations == 2
    monkeypatch.setattr(rg, "_allocate", reference_allocate)
    before = iterate(lstm(0.05), levels)[-1]
    assert (before.fallback, before.capped, before.pruned) == (last.fallback, last.capped, last.pruned)
    assert before.evaluations > 2 + 5  # Δ at the share, before the step, and a bisection


@pytest.mark.parametrize("level", [0.0, 0.25, 0.5, 0.77, 1.0])
def test_magnitude_share_is_magnitude_exactly(level, masked):
    # Ties (weights on a grid), exact zeros, the module's own mask and current masks.
    model = masked["gru"](5, 7, num_layers=2)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("weight"):
                p.copy_(torch.randint(-4, 5, p.shape, generator=gen) / 4.0)
    model.set_mask("weight_hh_l1", torch.rand(21, 7, generator=gen) > 0.3)
    current = sp.magnitude(model, 0.2, weights="both")
    targets = rg.select_targets(model, "both")
    prior = rg.prior_masks(targets, model, current)
    matrices = {t.name: rg._matrix(t, prior[t.name], 1, "delta_s") for t in targets}
    start = rg._magnitude_start(matrices, level)
    plain = sp.magnitude(model, level, current=current)
    for name, matrix in matrices.items():
        assert np.array_equal(matrix.mask(start[name]), plain[name].numpy())


def test_nan_weights_raise_like_magnitude(lopsided):
    model = lopsided()
    with torch.no_grad():
        model.weight_hh_l0[0, 0] = math.nan
    with pytest.raises(MaskError, match="cannot prune 'weight_hh_l0': its scores are not all finite"):
        sp.magnitude(model, 0.5)
    with pytest.raises(MaskError, match="cannot prune 'weight_hh_l0': its scores are not all finite"):
        sp.guard_step(model, 0.5)
