"""ramanujan_guard: keeps matrices Ramanujan where magnitude does not, equals magnitude elsewhere."""

from __future__ import annotations

import math

import pytest
import torch

import sparsernn.prune as sp
from sparsernn.analysis import expansion
from sparsernn.errors import ConfigError


def delta(mask: torch.Tensor, measure: str = "delta_s") -> float:
    value = getattr(expansion(mask), measure)
    return -math.inf if math.isnan(value) else value


def pruned(masks) -> int:
    return sum(int((~m).sum()) for m in masks.values())


@pytest.mark.parametrize("measure", ["delta_s", "delta_r"])
def test_keeps_every_matrix_ramanujan_where_magnitude_breaks_one(measure, lopsided):
    model = lopsided()
    for sparsity in (0.5, 0.6, 0.7):
        plain = sp.magnitude(model, sparsity)
        assert min(delta(m, measure) for m in plain.values()) < 0  # magnitude breaks W_hh
        step = sp.guard_step(model, sparsity, measure=measure)
        assert all(delta(m, measure) >= 0 for m in step.masks.values())
        assert pruned(step.masks) == pruned(plain)  # same density as magnitude
        assert step.capped == {"weight_hh_l0"} and not step.fallback
        assert pruned(step.masks) == sum(step.pruned.values())


def test_equals_magnitude_where_no_matrix_is_near_crossing(classifier):
    model = classifier(torch.nn.LSTM, hidden_size=16, input_size=4)
    for sparsity in (0.0, 0.2, 0.4):
        plain = sp.magnitude(model, sparsity)
        step = sp.guard_step(model, sparsity)
        assert not step.capped and not step.fallback
        assert all(torch.equal(step.masks[k], plain[k]) for k in plain)


def test_iterative_steps_are_monotone_and_stay_ramanujan(masked, lopsided):
    model = masked["rnn"](16, 16, bias=False)
    model.load_state_dict(lopsided().state_dict(), strict=False)
    previous = None
    for level, masks in sp.iterative(model, [0.3, 0.5, 0.65], criterion="ramanujan_guard"):
        assert pruned(masks) == pruned(sp.magnitude(model, level, current=previous))
        assert all(delta(m) >= 0 for m in masks.values())
        if previous is not None:
            assert all(bool((masks[k] <= previous[k]).all()) for k in masks)  # kept ⊆ previously kept
        previous = masks


def test_falls_back_to_magnitude_when_no_allocation_keeps_all_ramanujan(lopsided):
    model = lopsided(8)
    step = sp.guard_step(model, 0.97)  # 4 edges left of 128: no graph stays an expander
    plain = sp.magnitude(model, 0.97)
    assert step.fallback
    assert all(torch.equal(step.masks[k], plain[k]) for k in plain)


def test_a_matrix_already_below_zero_is_not_guarded(lopsided):
    model = lopsided()
    ones = torch.ones(4, 4, dtype=torch.bool)
    broken = {"weight_ih_l0": torch.block_diag(ones, ones, ones, ones)}  # 4 equal parts: Δ_S < 0
    assert delta(broken["weight_ih_l0"]) < 0
    step = sp.guard_step(model, 0.88, current=broken)
    plain = sp.magnitude(model, 0.88, current=broken)
    assert delta(plain["weight_hh_l0"]) < 0 <= delta(step.masks["weight_hh_l0"])
    assert step.capped == {"weight_hh_l0"} and not step.fallback
    assert step.pruned["weight_ih_l0"] > 0  # the unguarded matrix took the budget W_hh gave up
    assert pruned(step.masks) == pruned(plain)


def test_per_gate_guards_every_gate_block():
    torch.manual_seed(0)
    model = torch.nn.LSTM(16, 16)
    with torch.no_grad():
        model.weight_hh_l0[:16].mul_(0.01)  # the input gate of W_hh: the smallest weights
    step = sp.guard_step(model, 0.2, gates="per_gate")
    assert all(delta(block) >= 0 for m in step.masks.values() for block in m.view(4, 16, 16))
    assert pruned(step.masks) == pruned(sp.magnitude(model, 0.2))
    # Stacked, the emptied input gate is only isolated rows, dropped before Δ: nothing is capped.
    stacked = sp.guard_step(model, 0.2, gates="stack")
    assert not stacked.capped and stacked.masks["weight_hh_l0"][:16].sum() == 0


def test_by_registry_name(classifier, lopsided):
    model = lopsided()
    assert sp.MASK_CRITERIA["ramanujan_guard"] is sp.ramanujan_guard
    by_name = sp.prune(model, 0.5, criterion="ramanujan_guard")
    direct = sp.ramanujan_guard(model, 0.5)
    assert all(torch.equal(by_name[k], direct[k]) for k in direct)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"measure": "delta_x"}, "unknown expansion measure 'delta_x'; choose from delta_s, delta_r"),
        ({"scope": "layer"}, "ramanujan_guard splits one global budget; scope must be 'global', got 'layer'"),
        ({"scope": "model"}, "unknown pruning scope 'model'"),
        ({"gates": "union"}, "unknown gate split 'union'; choose from per_gate, stack"),
    ],
)
def test_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        sp.ramanujan_guard(torch.nn.GRU(3, 4), 0.5, **kwargs)
    with pytest.raises(ConfigError, match="sparsity must be a fraction in"):
        sp.ramanujan_guard(torch.nn.GRU(3, 4), -0.1)
