"""SparseRNN, SparseLSTM, SparseGRU: torch's RNN/LSTM/GRU with the masks of :class:`SparseRNNBase`."""

from __future__ import annotations

import torch

from sparsernn.errors import ConfigError
from sparsernn.nn.base import SparseRNNBase


class SparseRNN(SparseRNNBase, torch.nn.RNN):
    """Elman RNN (tanh or ReLU) on torch's fused kernel with per-weight masks.

    Same constructor and forward contract as :class:`torch.nn.RNN`; see :mod:`sparsernn.nn.recurrent`
    for how the masks are enforced.

    Parameters
    ----------
    input_size, hidden_size, num_layers, nonlinearity, bias, batch_first, dropout, bidirectional
        As in :class:`torch.nn.RNN`. ``nonlinearity`` is ``"tanh"`` or ``"relu"``.
    device, dtype
        Factory arguments, as in torch.

    Examples
    --------
    >>> rnn = SparseRNN(3, 5, nonlinearity="relu", batch_first=True)
    >>> rnn.set_mask("weight_hh_l0", torch.eye(5, dtype=torch.bool))
    >>> out, h = rnn(torch.randn(2, 7, 3))
    >>> tuple(out.shape), tuple(h.shape), round(rnn.sparsity(), 3)
    ((2, 7, 5), (1, 2, 5), 0.5)
    """

    _wraps = torch.nn.RNN

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ConfigError(f"unknown nonlinearity {nonlinearity!r}; choose from relu, tanh")
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            nonlinearity=nonlinearity,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
            device=device,
            dtype=dtype,
        )
        self._init_masks()


class SparseLSTM(SparseRNNBase, torch.nn.LSTM):
    """LSTM on torch's fused kernel with per-weight masks (``weight_hr`` included when ``proj_size > 0``).

    Same constructor and forward contract as :class:`torch.nn.LSTM`.

    Examples
    --------
    >>> lstm = SparseLSTM(3, 4, num_layers=2, batch_first=True)
    >>> keep = torch.rand(16, 4, generator=torch.Generator().manual_seed(0)) > 0.5
    >>> lstm.set_mask("weight_hh_l1", keep)
    >>> out, (h, c) = lstm(torch.randn(2, 6, 3))
    >>> tuple(out.shape), tuple(h.shape), tuple(c.shape)
    ((2, 6, 4), (2, 2, 4), (2, 2, 4))
    """

    _wraps = torch.nn.LSTM

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
            proj_size=proj_size,
            device=device,
            dtype=dtype,
        )
        self._init_masks()


class SparseGRU(SparseRNNBase, torch.nn.GRU):
    """GRU on torch's fused kernel with per-weight masks.

    Same constructor and forward contract as :class:`torch.nn.GRU`.

    Examples
    --------
    >>> gru = SparseGRU(3, 4, bidirectional=True)
    >>> sorted(gru.masks)
    ['weight_hh_l0', 'weight_hh_l0_reverse', 'weight_ih_l0', 'weight_ih_l0_reverse']
    >>> out, h = gru(torch.randn(6, 2, 3))
    >>> tuple(out.shape), tuple(h.shape)
    ((6, 2, 8), (2, 2, 4))
    """

    _wraps = torch.nn.GRU

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
            device=device,
            dtype=dtype,
        )
        self._init_masks()


def from_torch(module: torch.nn.RNNBase) -> SparseRNNBase:
    """Turn any torch RNN/LSTM/GRU into the matching sparse class in place (see ``SparseRNNBase.from_torch``).

    Examples
    --------
    >>> gru = torch.nn.GRU(2, 3)
    >>> type(from_torch(gru)).__name__, type(gru).__name__
    ('SparseGRU', 'SparseGRU')
    """
    for sparse_class in (SparseRNN, SparseLSTM, SparseGRU):
        if isinstance(module, sparse_class._wraps):
            return sparse_class.from_torch(module)
    raise ConfigError(f"expected a torch.nn.RNN, LSTM or GRU, got {type(module).__name__}")
