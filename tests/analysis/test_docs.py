"""The Examples sections of every sparsernn.analysis module run as written."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import sparsernn.analysis as package

MODULES = [package.__name__] + [
    f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)
]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name, run_examples):
    result = run_examples(importlib.import_module(name))
    assert result.failed == 0
