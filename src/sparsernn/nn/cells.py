"""The cell registry: recurrent cell kinds by name, and the factory that builds them."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from sparsernn._registry import lookup, registry
from sparsernn.errors import ConfigError
from sparsernn.nn.base import SparseRNNBase
from sparsernn.nn.recurrent import SparseGRU, SparseLSTM, SparseRNN


def _rnn_tanh(input_size: int, hidden_size: int, num_layers: int = 1, **kwargs: object) -> SparseRNN:
    return SparseRNN(input_size, hidden_size, num_layers, nonlinearity="tanh", **kwargs)


def _rnn_relu(input_size: int, hidden_size: int, num_layers: int = 1, **kwargs: object) -> SparseRNN:
    return SparseRNN(input_size, hidden_size, num_layers, nonlinearity="relu", **kwargs)


CELLS: Mapping[str, Callable[..., SparseRNNBase]] = registry(
    {"rnn_tanh": _rnn_tanh, "rnn_relu": _rnn_relu, "lstm": SparseLSTM, "gru": SparseGRU}
)
"""Cell name → factory ``(input_size, hidden_size, num_layers=1, **kwargs) -> sparse module``."""

GATES: Mapping[str, int] = registry({"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3})
"""Cell name → number of gate blocks stacked in its weight rows (weight rows = gates × hidden)."""


def make_rnn(
    cell: str, input_size: int, hidden_size: int, num_layers: int = 1, **kwargs: object
) -> SparseRNNBase:
    """Build the sparse recurrent module of kind ``cell``.

    Parameters
    ----------
    cell : str
        One of ``CELLS``: ``"rnn_tanh"``, ``"rnn_relu"``, ``"lstm"``, ``"gru"``.
    input_size, hidden_size, num_layers
        As in torch's recurrent modules.
    **kwargs
        Further constructor arguments (``bias``, ``batch_first``, ``dropout``, ``bidirectional``, ...).

    Raises
    ------
    ConfigError
        For an unknown cell name, or a ``nonlinearity`` argument (the cell name chooses it).

    Examples
    --------
    >>> make_rnn("gru", 3, 8, num_layers=2, batch_first=True)
    SparseGRU(3, 8, num_layers=2, batch_first=True, density=1)
    >>> make_rnn("lstn", 3, 8)
    Traceback (most recent call last):
    ...
    sparsernn.errors.ConfigError: unknown cell 'lstn'; choose from gru, lstm, rnn_relu, rnn_tanh
    """
    factory = lookup(CELLS, cell, "cell")
    if "nonlinearity" in kwargs:
        raise ConfigError(f"make_rnn takes no nonlinearity argument; the cell name {cell!r} chooses it")
    return factory(input_size, hidden_size, num_layers, **kwargs)


def cell_of(module: torch.nn.RNNBase) -> str:
    """The ``CELLS`` name of a torch or sparse recurrent module.

    Examples
    --------
    >>> cell_of(torch.nn.RNN(2, 3, nonlinearity="relu")), cell_of(make_rnn("lstm", 2, 3))
    ('rnn_relu', 'lstm')
    """
    names = {"RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu", "LSTM": "lstm", "GRU": "gru"}
    mode = getattr(module, "mode", None)
    if not isinstance(module, torch.nn.RNNBase) or mode not in names:
        raise ConfigError(f"expected a torch.nn.RNN, LSTM or GRU, got {type(module).__name__}")
    return names[mode]
