"""The cell kinds: one :class:`CellKind` record per recurrent cell, and the factory that builds them.

Everything the library needs to know about a kind of cell is in its record: the library's name
(``"lstm"``), torch's ``mode`` (``"LSTM"``), the name shown in reports, the gates in the order of
their row blocks, the torch classes, and which gate keeps its input and hidden parts apart (GRU's
candidate ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``: ``r`` multiplies the hidden part only).
Modules, views, checkpoint reading, the packed wavefront and streaming read these records, so a new
cell kind is one new entry in :data:`CELL_KINDS` (plus its module class).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from sparsernn._registry import lookup, registry
from sparsernn.errors import ConfigError
from sparsernn.nn.base import SparseRNNBase
from sparsernn.nn.recurrent import SparseGRU, SparseLSTM, SparseRNN


@dataclass(frozen=True)
class CellKind:
    """One kind of recurrent cell.

    Attributes
    ----------
    name : str
        The library's name (a key of :data:`CELL_KINDS`), e.g. ``"rnn_tanh"``.
    mode : str
        torch's ``RNNBase.mode`` of the kind, e.g. ``"RNN_TANH"``.
    display : str
        The name shown in tables and figures, e.g. ``"RNN-tanh"``.
    gates : tuple of str
        Gate names in the order of their row blocks: rows ``g·H .. g·H + H − 1`` of a weight
        belong to gate ``gates[g]`` (``("h",)`` for an Elman RNN).
    torch_module, torch_cell : type
        torch's stacked module (``torch.nn.LSTM``) and single-step cell (``torch.nn.LSTMCell``).
    sparse_module : type
        The library's masked subclass of ``torch_module``.
    nonlinearity : str or None
        The Elman nonlinearity (``"tanh"``/``"relu"``), None for gated cells.
    split_gate : str or None
        The gate whose input part and hidden part are not summed before the nonlinearity (GRU:
        ``"n"``), None when every gate reads ``W_i x + W_h h``.
    cell_state : bool
        Whether the state holds a cell ``c`` besides ``h`` (LSTM: the state is ``(h, c)``).

    Examples
    --------
    >>> gru = CELL_KINDS["gru"]
    >>> gru.mode, gru.display, gru.gates, gru.gate_count, gru.step_blocks, gru.split_row(8)
    ('GRU', 'GRU', ('r', 'z', 'n'), 3, 4, 16)
    """

    name: str
    mode: str
    display: str
    gates: tuple[str, ...]
    torch_module: type[torch.nn.RNNBase]
    torch_cell: type[torch.nn.RNNCellBase]
    sparse_module: type[SparseRNNBase]
    nonlinearity: str | None = None
    split_gate: str | None = None
    cell_state: bool = False

    @property
    def gate_count(self) -> int:
        """Number of gate blocks stacked in the weight rows (weight rows = gates × hidden)."""
        return len(self.gates)

    def gate_rows(self, gate: str, hidden: int) -> slice:
        """The weight rows of ``gate`` for ``hidden`` units.

        Examples
        --------
        >>> CELL_KINDS["lstm"].gate_rows("g", 5)
        slice(10, 15, None)
        """
        if gate not in self.gates:
            raise ConfigError(
                f"unknown gate {gate!r} of a {self.display}; choose from {', '.join(self.gates)}"
            )
        start = self.gates.index(gate) * hidden
        return slice(start, start + hidden)

    @property
    def step_blocks(self) -> int:
        """Row blocks of a step's pre-activations: one per gate, two for the split gate (GRU: 4)."""
        return self.gate_count + (self.split_gate is not None)

    def split_row(self, hidden: int) -> int | None:
        """First row of the split gate (its input and hidden parts stay apart), None without one.

        Rows before it are summed input + hidden pre-activations (GRU: ``r`` and ``z``).
        """
        return None if self.split_gate is None else self.gate_rows(self.split_gate, hidden).start

    def row_blocks(self, hidden: int, units: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """The rows of ``units`` per gate block as a fused step computes them: ``(part, rows)`` pairs.

        ``part`` is ``"both"`` for a gate computed from ``W_ih x + W_hh h`` and, for the split gate,
        two blocks ``"ih"`` and ``"hh"`` kept apart (so a GRU has 4 blocks: r, z, n_x, n_h).

        Examples
        --------
        >>> [(part, rows.tolist()) for part, rows in CELL_KINDS["gru"].row_blocks(4, np.array([1]))]
        [('both', [1]), ('both', [5]), ('ih', [9]), ('hh', [9])]
        """
        blocks = []
        for g, gate in enumerate(self.gates):
            rows = g * hidden + np.asarray(units)
            blocks += [("ih", rows), ("hh", rows)] if gate == self.split_gate else [("both", rows)]
        return blocks

    def make(self, input_size: int, hidden_size: int, num_layers: int = 1, **kwargs: object) -> SparseRNNBase:
        """The sparse module of this kind (see :func:`make_rnn`)."""
        if self.nonlinearity is not None:
            kwargs["nonlinearity"] = self.nonlinearity
        return self.sparse_module(input_size, hidden_size, num_layers, **kwargs)


CELL_KINDS: Mapping[str, CellKind] = registry(
    {
        "rnn_tanh": CellKind(
            "rnn_tanh", "RNN_TANH", "RNN-tanh", ("h",), torch.nn.RNN, torch.nn.RNNCell, SparseRNN, "tanh"
        ),
        "rnn_relu": CellKind(
            "rnn_relu", "RNN_RELU", "RNN-ReLU", ("h",), torch.nn.RNN, torch.nn.RNNCell, SparseRNN, "relu"
        ),
        "lstm": CellKind(
            "lstm",
            "LSTM",
            "LSTM",
            ("i", "f", "g", "o"),
            torch.nn.LSTM,
            torch.nn.LSTMCell,
            SparseLSTM,
            cell_state=True,
        ),
        "gru": CellKind(
            "gru", "GRU", "GRU", ("r", "z", "n"), torch.nn.GRU, torch.nn.GRUCell, SparseGRU, split_gate="n"
        ),
    }
)
"""Cell name → :class:`CellKind`: the one place that describes each kind of recurrent cell."""

CELLS: Mapping[str, Callable[..., SparseRNNBase]] = registry({k.name: k.make for k in CELL_KINDS.values()})
"""Cell name → factory ``(input_size, hidden_size, num_layers=1, **kwargs) -> sparse module``."""

GATES: Mapping[str, int] = registry({k.name: k.gate_count for k in CELL_KINDS.values()})
"""Cell name → number of gate blocks stacked in its weight rows (weight rows = gates × hidden)."""

_BY_MODE: Mapping[str, CellKind] = registry({k.mode: k for k in CELL_KINDS.values()})


def cell_kind(name: str) -> CellKind:
    """The :class:`CellKind` called ``name``; ConfigError listing the names otherwise.

    Examples
    --------
    >>> cell_kind("lstm").gates
    ('i', 'f', 'g', 'o')
    >>> cell_kind("lstn")
    Traceback (most recent call last):
    ...
    sparsernn.errors.ConfigError: unknown cell 'lstn'; choose from gru, lstm, rnn_relu, rnn_tanh
    """
    return lookup(CELL_KINDS, name, "cell")


def kind_of(module: torch.nn.Module) -> CellKind:
    """The :class:`CellKind` of a torch or sparse recurrent module (``RNN``/``LSTM``/``GRU``), by its mode.

    Examples
    --------
    >>> kind_of(torch.nn.LSTM(2, 3)).display
    'LSTM'
    """
    mode = getattr(module, "mode", None)
    if not isinstance(module, torch.nn.RNNBase) or mode not in _BY_MODE:
        raise ConfigError(f"expected a torch.nn.RNN, LSTM or GRU, got {type(module).__name__}")
    return _BY_MODE[mode]


def mode_kind(mode: str) -> CellKind:
    """The :class:`CellKind` of torch's ``mode`` string; ConfigError listing the modes otherwise.

    Examples
    --------
    >>> mode_kind("GRU").name
    'gru'
    """
    return lookup(_BY_MODE, mode, "mode")


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
    kind = cell_kind(cell)
    if "nonlinearity" in kwargs:
        raise ConfigError(f"make_rnn takes no nonlinearity argument; the cell name {cell!r} chooses it")
    return kind.make(input_size, hidden_size, num_layers, **kwargs)


def cell_of(module: torch.nn.RNNBase) -> str:
    """The ``CELLS`` name of a torch or sparse recurrent module.

    Examples
    --------
    >>> cell_of(torch.nn.RNN(2, 3, nonlinearity="relu")), cell_of(make_rnn("lstm", 2, 3))
    ('rnn_relu', 'lstm')
    """
    return kind_of(module).name
