"""Crossing detection and accuracy-drop detection on constructed sequences."""

from __future__ import annotations

import math

import pytest

from sparsernn.errors import ConfigError
from sparsernn.studies.protocols.iterative import first_zero_crossing
from sparsernn.studies.recipe import expand, parse_recipe
from sparsernn.studies.reports.iterative import crossings, first_drop

LEVELS = [1.0, 0.5, 0.25, 0.1, 0.05]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5.0, 3.0, 1.0, 0.5, 0.1], None),  # never crosses
        ([5.0, 3.0, -0.1, 0.5, -1.0], 0.25),  # first crossing, not the last one
        ([-1.0, 3.0, 1.0, 0.5, 0.1], 1.0),  # negative already when dense
        ([5.0, 0.0, 1.0, 0.5, 0.1], None),  # zero is not negative (Δ ≥ 0 is Ramanujan)
        ([5.0, 3.0, math.nan, 0.5, 0.1], 0.25),  # undefined counts as lost
        ([5.0, None, 1.0, 0.5, 0.1], 0.5),
    ],
)
def test_first_zero_crossing(values, expected):
    assert first_zero_crossing(LEVELS, values) == expected


def test_crossings_order_levels_dense_to_sparse():
    curve = {0.05: -2.0, 1.0: 4.0, 0.1: -1.0, 0.5: 2.0}  # unordered mapping
    assert crossings({"a": curve}) == {"a": 0.1}


def test_first_drop_is_relative_to_densest_level():
    accuracy = {1.0: 0.90, 0.5: 0.91, 0.25: 0.86, 0.1: 0.84, 0.05: 0.5}
    assert first_drop(accuracy) == 0.1  # 0.86 is 4 points down, 0.84 is 6
    assert first_drop({1.0: 0.9, 0.5: 0.9}) is None


@pytest.mark.parametrize(
    ("densities", "message"),
    [
        ([1.0, 0.5, 0.5], "strictly decreasing"),
        ([1.0, 0.0], r"in \(0, 1\]"),
        ([0.5, 1.0], "strictly decreasing"),
    ],
)
def test_bad_levels(densities, message):
    with pytest.raises(ConfigError, match=message):
        expand(
            parse_recipe({"study": "s", "protocol": "iterative_pruning", "params": {"densities": densities}})
        )
