"""stopping.gap (the fast Δ of a mask) against sparsernn.analysis.expansion, and its sign-only form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sparsernn.analysis import expansion
from sparsernn.prune.stopping import gap, guard_expansion


@pytest.mark.parametrize("density", [0.03, 0.08, 0.3])
@pytest.mark.parametrize("measure", ["delta_s", "delta_r"])
def test_gap_matches_expansion(density, measure):
    mask = torch.from_numpy(np.random.default_rng(4).random((600, 250)) < density)
    reference = expansion(mask, solver="dense")
    expected = getattr(reference, measure)
    assert gap(mask, measure) == pytest.approx(expected, abs=1e-6 * reference.mu0)
    assert (gap(mask, measure, sign_only=True) >= 0) == (expected >= 0)


def test_undefined_gaps():
    empty = torch.zeros(5, 4, dtype=torch.bool)
    assert gap(empty, "delta_s") == -math.inf and math.isnan(gap(empty, "delta_r"))


def test_guard_expansion_freezes_exactly_the_negative_ones():
    rng = np.random.default_rng(5)
    proposed = {f"w{i}": torch.from_numpy(rng.random((600, 250)) < d) for i, d in enumerate((0.02, 0.3))}
    current = {k: torch.ones(600, 250, dtype=torch.bool) for k in proposed}
    result = guard_expansion(proposed, current)
    negative = {k for k, m in proposed.items() if not expansion(m).delta_s >= 0}
    assert result.newly_frozen == negative and negative  # the sparse one crosses, the dense one not
