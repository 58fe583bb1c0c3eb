"""Schedules: hand-computed values, the Zhu & Gupta formula, validation, the registry."""

from __future__ import annotations

import itertools

import pytest

import sparsernn.prune as sp
from sparsernn._registry import lookup
from sparsernn.errors import ConfigError


def test_explicit_returns_checked_levels():
    assert sp.explicit([0.1, 0.1, 0.5, 1]) == [0.1, 0.1, 0.5, 1.0]
    assert sp.explicit(x / 10 for x in range(1, 4)) == [0.1, 0.2, 0.3]


@pytest.mark.parametrize(
    "levels, message",
    [([], "at least one"), ([0.5, 0.4], "0.4 follows 0.5"), ([0.2, 1.2], r"\[0, 1\]"), ("0.5", "list")],
)
def test_explicit_rejects_bad_levels(levels, message):
    with pytest.raises(ConfigError, match=message):
        sp.explicit(levels)


def test_geometric_multiplies_the_remaining_fraction():
    assert sp.geometric(3, factor=0.5) == [0.5, 0.75, 0.875]
    levels = sp.geometric(4, factor=0.8)
    assert levels == pytest.approx([0.2, 0.36, 0.488, 0.5904])
    remaining = [1 - s for s in levels]
    assert [b / a for a, b in zip([1.0, *remaining], remaining)] == pytest.approx([0.8] * 4)
    final = 0.9
    assert sp.geometric(5, factor=(1 - final) ** (1 / 5))[-1] == pytest.approx(final)


def test_cubic_matches_zhu_gupta_by_hand():
    # s_f = 0.8, n = 4: 0.8 - 0.8 (1 - k/4)^3 = 0.4625, 0.7, 0.7875, 0.8
    assert sp.cubic(0.8, 4) == pytest.approx([0.4625, 0.7, 0.7875, 0.8])
    # s_i = 0.1, s_f = 0.9, n = 2: 0.1, 0.9 - 0.8 / 8 = 0.8, 0.9 (k = 0 listed since s_i > 0)
    assert sp.cubic(0.9, 2, initial=0.1) == pytest.approx([0.1, 0.8, 0.9])
    levels = sp.cubic(0.95, 50)
    assert levels[-1] == 0.95 and sp.explicit(levels) == levels
    steps = [b - a for a, b in zip([0.0, *levels], levels)]
    assert all(x >= y for x, y in itertools.pairwise(steps))  # prunes fast early, slowly late


def test_cubic_at_follows_training_steps():
    kw = {"final": 0.8, "steps": 4, "start": 100, "frequency": 10}
    values = [sp.cubic_at(t, **kw) for t in (0, 99, 100, 109, 110, 125, 140, 10_000)]
    assert values == pytest.approx([0.0, 0.0, 0.0, 0.0, 0.4625, 0.7, 0.8, 0.8])
    assert sp.cubic_at(5, final=0.5, initial=0.2, steps=3, start=10) == 0.2


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sp.geometric(0, factor=0.5), "steps must be a positive integer"),
        (lambda: sp.geometric(3, factor=1.0), r"factor .* must be in \(0, 1\)"),
        (lambda: sp.cubic(0.5, 3, initial=0.6), "initial sparsity 0.6 exceeds the final sparsity 0.5"),
        (lambda: sp.cubic(80, 3), "a percentage"),
        (lambda: sp.cubic_at(3, final=0.5, steps=2, frequency=0), "positive integer"),
    ],
)
def test_bad_schedule_arguments(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


def test_registry_calls_each_schedule_with_keywords():
    assert lookup(sp.SCHEDULES, "explicit", "schedule")(levels=[0.3]) == [0.3]
    assert lookup(sp.SCHEDULES, "geometric", "schedule")(steps=1, factor=0.5) == [0.5]
    assert lookup(sp.SCHEDULES, "cubic", "schedule")(final=0.5, steps=1) == [0.5]
    with pytest.raises(
        ConfigError, match="unknown schedule 'linear'; choose from cubic, explicit, geometric"
    ):
        lookup(sp.SCHEDULES, "linear", "schedule")
    with pytest.raises(TypeError):
        sp.SCHEDULES["new"] = sp.explicit  # registries are read-only
