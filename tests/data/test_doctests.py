"""Every Examples section of the dataset modules runs (network examples are marked +SKIP)."""

import doctest
import importlib

import pytest

from sparsernn.data.synthetic_speech import espeak_available

MODULES = [
    "sparsernn.data",
    "sparsernn.data.arrays",
    "sparsernn.data.audio",
    "sparsernn.data.cifar",
    "sparsernn.data.download",
    "sparsernn.data.feature_cache",
    "sparsernn.data.idx",
    "sparsernn.data.mnist",
    "sparsernn.data.mnist_1d",
    "sparsernn.data.paths",
    "sparsernn.data.registry",
    "sparsernn.data.speech",
    "sparsernn.data.speech_layout",
    "sparsernn.data.synthetic_speech",
]
NEEDS_ESPEAK = {"sparsernn.data.registry", "sparsernn.data.synthetic_speech"}


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name, monkeypatch, tmp_path):
    if name in NEEDS_ESPEAK and not espeak_available():
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    monkeypatch.setenv("SPARSERNN_DATA", str(tmp_path))  # examples never write into the real data home
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"
