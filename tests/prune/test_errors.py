"""Bad input to the pruning functions: one clear error naming what is wrong and what was expected."""

from __future__ import annotations

import math

import pytest
import torch

import sparsernn.prune as sp
from sparsernn.errors import ConfigError, MaskError, SparsernnError


@pytest.fixture
def model(classifier):
    return classifier(torch.nn.LSTM)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"weights": "hx"}, "unknown weight kind 'hx'; choose from both, hh, ih"),
        ({"weights": None}, "unknown weight kind None"),
        ({"scope": "local"}, "unknown pruning scope 'local'; choose from global, layer"),
    ],
)
def test_unknown_names(model, kwargs, message):
    for prune in (sp.magnitude, lambda *a, **k: sp.random(*a, seed=0, **k)):
        with pytest.raises(ConfigError, match=message):
            prune(model, 0.5, **kwargs)


def test_unknown_criterion(model):
    with pytest.raises(
        ConfigError,
        match="unknown pruning criterion 'taylor'; choose from degree_floor, magnitude, ramanujan_guard, random",
    ):
        sp.prune(model, 0.5, criterion="taylor")


@pytest.mark.parametrize(
    "sparsity, message",
    [
        (-0.1, r"fraction in \[0, 1\], got -0.1"),
        (1.5, r"got 1.5 \(a percentage\? use 0.015\)"),
        (80, r"got 80 \(a percentage\? use 0.8\)"),
        (math.nan, "got nan"),
        ("0.5", "must be a number"),
        (True, "must be a number"),
    ],
)
def test_sparsity_outside_unit_interval(model, sparsity, message):
    with pytest.raises(ConfigError, match=message):
        sp.magnitude(model, sparsity)


@pytest.mark.parametrize(
    "empty", [torch.nn.Linear(3, 3), torch.nn.Sequential(), torch.nn.LSTMCell(3, 3)], ids=str
)
def test_models_without_recurrent_weights(empty):
    with pytest.raises(MaskError, match=r"no recurrent weights to prune in .*torch\.nn\.RNN, LSTM or GRU"):
        sp.magnitude(empty, 0.5)


def test_not_a_module():
    with pytest.raises(TypeError, match=r"expected a torch\.nn\.Module"):
        sp.magnitude({"weight_ih_l0": torch.ones(2, 2)}, 0.5)


def test_bad_current_masks(model):
    with pytest.raises(
        MaskError, match=r"unknown mask name 'rnn\.weight_xx'; valid names: rnn\.weight_ih_l0"
    ):
        sp.magnitude(model, 0.5, current={"rnn.weight_xx": torch.ones(1, dtype=torch.bool)})
    with pytest.raises(MaskError, match="shape"):
        sp.magnitude(model, 0.5, current={"rnn.weight_ih_l0": torch.ones(2, 2, dtype=torch.bool)})
    with pytest.raises(MaskError, match="bool tensor"):
        sp.magnitude(model, 0.5, current={"rnn.weight_ih_l0": torch.ones(24, 4)})


def test_every_error_is_a_library_error_and_a_value_error(model):
    with pytest.raises(SparsernnError) as info:
        sp.magnitude(model, 2.0)
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_criteria_registry_is_read_only():
    assert set(sp.CRITERIA) == {"magnitude", "random"}
    with pytest.raises(TypeError):
        sp.CRITERIA["taylor"] = sp.magnitude_score
