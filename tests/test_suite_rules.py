"""The suite's own rules (set in ``conftest.py``) hold: property tests are reproducible."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.skipif(
    os.environ.get("HYPOTHESIS_PROFILE", "fixed") != "fixed", reason="another Hypothesis profile was chosen"
)

_drawn: list[list[int]] = []


@settings(max_examples=5)
@given(st.integers())
def _draw(value: int) -> None:
    _drawn[-1].append(value)


def test_property_tests_draw_the_same_examples_on_every_run() -> None:
    assert settings.default.derandomize
    assert settings.default.database is None
    for _ in range(2):
        _drawn.append([])
        _draw()
    assert _drawn[0] == _drawn[1]
