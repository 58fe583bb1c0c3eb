"""recovery_epochs: hand-computed cases and edges."""

from __future__ import annotations

import math

import pytest

from sparsernn.errors import ConfigError
from sparsernn.prune import recovery_epochs


@pytest.mark.parametrize(
    "accuracies, reference, tolerance, expected",
    [
        ([0.50, 0.97, 0.985, 0.99], 0.99, 0.01, 2),  # first epoch >= 0.98
        ([0.99, 0.5], 0.99, 0.0, 0),  # pruning lost nothing: epoch 0
        ([0.50, 1.00], 0.99, 0.0, 1),  # exceeding the reference counts
        ([0.50, 0.89], 0.90, 0.01, 1),  # exactly at the tolerance (0.90 - 0.01 is not 0.89 in floats)
        ([0.50, 0.60, 0.70], 0.99, 0.01, None),  # never
        ([math.nan, 0.99], 0.99, 0.0, 1),  # NaN never counts
        ([], 0.99, 0.01, None),
        ([50.0, 98.5], 99.0, 1.0, 1),  # percent works in one unit
    ],
)
def test_recovery_epochs(accuracies, reference, tolerance, expected):
    assert recovery_epochs(accuracies, reference, tolerance=tolerance) == expected


@pytest.mark.parametrize(
    "args, message",
    [
        (([0.5], 0.9, -0.1), "tolerance must be >= 0"),
        (([0.5], math.nan, 0.1), "reference must be a finite number"),
        ((["0.5"], 0.9, 0.1), "accuracies must be numbers"),
    ],
)
def test_bad_arguments(args, message):
    accuracies, reference, tolerance = args
    with pytest.raises(ConfigError, match=message):
        recovery_epochs(accuracies, reference, tolerance=tolerance)
