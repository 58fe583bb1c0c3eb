"""The fast Δ of a mask (Lanczos on BᵀB) against the dense SVD of sparsernn.analysis.expansion."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import sparsernn.analysis.top_singular as ts
from sparsernn.analysis import expansion
from sparsernn.analysis.top_singular import mask_gap, top_two_pattern
from sparsernn.errors import ConfigError

REL = 1e-6  # the documented agreement with the dense path


def random_mask(seed: int, shape: tuple[int, int], density: float) -> np.ndarray:
    return np.random.default_rng(seed).random(shape) < density


def assert_matches_dense(mask: np.ndarray) -> None:
    dense = expansion(mask, solver="dense")
    for measure in ("delta_s", "delta_r"):
        value, expected = mask_gap(mask, measure), getattr(dense, measure)
        if not math.isfinite(expected):
            assert value == expected or (math.isnan(value) and math.isnan(expected))
        else:  # Δ is a difference of σ's: relative to the scale of σ1
            assert abs(value - expected) <= REL * max(1.0, dense.mu0), (measure, value, expected)
        assert mask_gap(mask, measure, sign_only=True) >= 0 or not expected >= 0
        assert not mask_gap(mask, measure, sign_only=True) >= 0 or expected >= 0


def pattern(mask: np.ndarray) -> sp.csr_array:
    return sp.csr_array(mask.astype(np.float64))


@pytest.fixture
def lanczos_calls(monkeypatch):
    calls = []
    original = ts._lanczos

    def counted(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(ts, "_lanczos", counted)
    return calls


@pytest.mark.parametrize("shape", [(600, 150), (150, 600), (400, 400), (1200, 64)])
@pytest.mark.parametrize("density", [0.5, 0.2, 0.05])
def test_sigma_agrees_with_dense_svd_on_random_masks(shape, density, lanczos_calls):
    mask = random_mask(7, shape, density)
    sigma = np.linalg.svd(mask.astype(np.float64), compute_uv=False)[:2]
    found = top_two_pattern(pattern(mask))
    assert lanczos_calls  # large and connected: the Lanczos route, not the fallback
    np.testing.assert_allclose(found, sigma, rtol=REL)
    assert_matches_dense(mask)


@given(
    seed=st.integers(0, 2**16),
    rows=st.integers(180, 400),
    cols=st.integers(180, 400),
    density=st.floats(0.01, 0.6),
)
@settings(max_examples=25, deadline=None)
def test_gaps_agree_with_dense_on_any_random_mask(seed, rows, cols, density):
    assert_matches_dense(random_mask(seed, (rows, cols), density))


def test_sign_only_decides_like_the_dense_path_near_the_crossing():
    # Δ_S of random masks crosses zero as the density falls: the sign must be right on both sides.
    signs = []
    for density in np.linspace(0.03, 0.15, 13):
        mask = random_mask(3, (700, 300), float(density))
        expected = expansion(mask, solver="dense").delta_s
        assert (mask_gap(mask, "delta_s", sign_only=True) >= 0) == (expected >= 0)
        signs.append(expected >= 0)
    assert any(signs) and not all(signs)  # both sides covered


@pytest.mark.parametrize(
    "name",
    ["empty rows and columns", "all zero", "full", "two equal components", "unequal components", "long path"],
)
def test_degenerate_masks_take_the_exact_route_and_agree(name, lanczos_calls):
    rng = np.random.default_rng(0)
    if name == "empty rows and columns":
        mask = random_mask(1, (400, 300), 0.1)
        mask[::3] = False
        mask[:, ::5] = False
    elif name == "all zero":
        mask = np.zeros((400, 300), dtype=bool)
    elif name == "full":
        mask = np.ones((400, 300), dtype=bool)
    elif name == "two equal components":  # σ1 repeated: σ2 == σ1
        block = rng.random((200, 150)) < 0.1
        mask = np.block([[block, np.zeros_like(block)], [np.zeros_like(block), block]])
    elif name == "unequal components":
        mask = np.zeros((400, 300), dtype=bool)
        mask[:200, :150] = rng.random((200, 150)) < 0.2
        mask[200:, 150:] = rng.random((200, 150)) < 0.1
    else:  # a path: diameter far beyond the reachability rounds
        mask = (np.eye(300, dtype=bool) | np.eye(300, k=1, dtype=bool))[:, :300]
    assert_matches_dense(mask)
    if name == "two equal components":
        mu0, mu_hat = top_two_pattern(pattern(mask))
        assert mu_hat == pytest.approx(mu0, rel=1e-12)
    if name in ("empty rows and columns",):
        assert lanczos_calls  # isolated nodes alone do not force the exact route


def test_small_and_tiny_masks(lanczos_calls):
    for mask in (np.eye(3), np.ones((1, 5)), np.array([[1.0]]), random_mask(2, (30, 40), 0.3)):
        assert_matches_dense(np.asarray(mask, dtype=bool))
    assert not lanczos_calls  # small: dense SVD


def test_deterministic_and_input_types():
    mask = random_mask(5, (500, 200), 0.1)
    first = mask_gap(mask, "delta_s")
    assert mask_gap(mask, "delta_s") == first  # seeded start: bit-identical
    assert mask_gap(torch.from_numpy(mask), "delta_s") == first
    assert mask_gap(sp.csr_array(mask * 2.5), "delta_s") == first  # weights ignored: the 0/1 pattern


def test_unknown_measure():
    with pytest.raises(
        ConfigError, match="unknown expansion measure 'delta_x'; choose from delta_s, delta_r"
    ):
        mask_gap(np.eye(3), "delta_x")
