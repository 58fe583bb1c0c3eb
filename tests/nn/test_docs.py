"""Every docstring example of sparsernn.nn runs and prints what it shows."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import sparsernn.nn

MODULES = [sparsernn.nn.__name__] + [
    f"{sparsernn.nn.__name__}.{info.name}" for info in pkgutil.iter_modules(sparsernn.nn.__path__)
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, run_examples):
    result = run_examples(importlib.import_module(name))
    assert result.failed == 0


def test_every_public_name_has_an_example():
    missing = [
        name
        for name in sparsernn.nn.__all__
        if callable(getattr(sparsernn.nn, name)) and ">>>" not in (getattr(sparsernn.nn, name).__doc__ or "")
    ]
    assert missing == []
