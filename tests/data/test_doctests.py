"""Every Examples section of the dataset modules runs (network examples are marked +SKIP)."""

import importlib
import pkgutil

import pytest

import sparsernn.data as package
from sparsernn.data.synthetic_speech import espeak_available

MODULES = [package.__name__] + [
    f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)
]
NEEDS_ESPEAK = {
    "sparsernn.data.registry",
    "sparsernn.data.synthetic_speech",
    "sparsernn.data.synthetic_speech_corpus",
}


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name, run_examples, monkeypatch, tmp_path):
    if name in NEEDS_ESPEAK and not espeak_available():
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    monkeypatch.setenv("SPARSERNN_DATA", str(tmp_path))  # examples never write into the real data home
    monkeypatch.chdir(tmp_path)
    result = run_examples(importlib.import_module(name))
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"
