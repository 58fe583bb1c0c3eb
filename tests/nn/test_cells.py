"""The cell registry: names, factories, errors, and the gate layout of each kind."""

from __future__ import annotations

import pytest
import torch

from sparsernn.errors import ConfigError
from sparsernn.nn import CELLS, GATES, SparseGRU, SparseLSTM, SparseRNN, cell_of, make_rnn


def test_cells_are_a_read_only_mapping_of_the_four_kinds():
    assert sorted(CELLS) == ["gru", "lstm", "rnn_relu", "rnn_tanh"]
    with pytest.raises(TypeError):
        CELLS["lstn"] = SparseLSTM  # type: ignore[index]


@pytest.mark.parametrize(
    ("cell", "cls", "mode"),
    [
        ("rnn_tanh", SparseRNN, "RNN_TANH"),
        ("rnn_relu", SparseRNN, "RNN_RELU"),
        ("lstm", SparseLSTM, "LSTM"),
        ("gru", SparseGRU, "GRU"),
    ],
)
def test_make_rnn_builds_the_named_kind_with_torch_arguments(cell, cls, mode):
    module = make_rnn(cell, 3, 5, 2, batch_first=True, bidirectional=True, bias=False)
    assert type(module) is cls and module.mode == mode
    assert (module.num_layers, module.batch_first, module.bidirectional, module.bias) == (
        2,
        True,
        True,
        False,
    )
    assert cell_of(module) == cell
    # weight rows = gates x hidden: what pruning and graph analysis rely on
    assert module.weight_ih_l0.shape == (GATES[cell] * 5, 3)
    assert module.weight_hh_l1_reverse.shape == (GATES[cell] * 5, 5)


def test_unknown_cell_lists_the_choices():
    with pytest.raises(ConfigError) as info:
        make_rnn("lstn", 3, 5)
    assert str(info.value) == "unknown cell 'lstn'; choose from gru, lstm, rnn_relu, rnn_tanh"


def test_nonlinearity_comes_from_the_cell_name():
    with pytest.raises(ConfigError, match="the cell name 'rnn_tanh' chooses it"):
        make_rnn("rnn_tanh", 3, 5, nonlinearity="relu")
    with pytest.raises(ConfigError, match="unknown nonlinearity 'gelu'; choose from relu, tanh"):
        SparseRNN(3, 5, nonlinearity="gelu")


def test_cell_of_torch_modules_and_rejects_others():
    assert cell_of(torch.nn.RNN(2, 2)) == "rnn_tanh" and cell_of(torch.nn.GRU(2, 2)) == "gru"
    with pytest.raises(ConfigError, match="got Linear"):
        cell_of(torch.nn.Linear(2, 2))
