"""sparsernn — sparse recurrent neural networks in PyTorch.

Prune trained RNN/LSTM/GRU models and recover their accuracy, read every sparse layer as a graph
(spectral gaps, Ramanujan and Cheeger bounds, graph properties), build RNNs wired by random graphs,
and run whole studies as recipes.

Subpackages are imported on first use, so ``import sparsernn as sr`` is cheap::

    import sparsernn as sr
    lstm = sr.nn.SparseLSTM(8, 16)
    masks = sr.prune.magnitude(lstm, 0.9)
    sr.prune.apply(lstm, masks)
    sr.analysis.layer_expansions(lstm, view="hh")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBPACKAGES = ("analysis", "data", "graphs", "nn", "plots", "prune", "results", "studies", "train")


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"sparsernn.{name}")
    raise AttributeError(f"module 'sparsernn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBPACKAGES])


__all__ = ["__version__", *_SUBPACKAGES]
