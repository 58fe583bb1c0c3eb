"""One CellKind record per cell kind: the registry, the row layout it describes, and who reads it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from sparsernn.analysis import layer_views
from sparsernn.errors import ConfigError
from sparsernn.nn import CELL_KINDS, CELLS, GATES, CellKind, cell_kind, kind_of, make_rnn
from sparsernn.nn.from_state import recurrent_from_state


def test_registry_is_read_only_and_names_the_choices():
    assert sorted(CELL_KINDS) == sorted(CELLS) == sorted(GATES) == ["gru", "lstm", "rnn_relu", "rnn_tanh"]
    with pytest.raises(TypeError):
        CELL_KINDS["lstn"] = CELL_KINDS["lstm"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        CELL_KINDS["lstm"].display = "Lstm"  # type: ignore[misc]
    with pytest.raises(ConfigError, match="unknown cell 'lstn'; choose from gru, lstm, rnn_relu, rnn_tanh"):
        cell_kind("lstn")


@pytest.mark.parametrize("name", sorted(CELL_KINDS))
def test_record_matches_the_modules_it_describes(name):
    kind = CELL_KINDS[name]
    assert isinstance(kind, CellKind) and kind.name == name and GATES[name] == kind.gate_count
    module = make_rnn(name, 3, 5)
    assert isinstance(module, kind.sparse_module) and isinstance(module, kind.torch_module)
    assert module.mode == kind.mode and kind_of(module) is kind
    assert module.weight_hh_l0.shape[0] == kind.gate_count * 5
    assert kind.torch_cell(3, 5).weight_hh.shape[0] == kind.gate_count * 5
    assert (kind.nonlinearity is not None) == (kind.gate_count == 1)
    assert kind.cell_state == isinstance(module, torch.nn.LSTM)


def test_gru_split_reproduces_torch_step():
    """The record's layout (gate rows, split candidate) gives torch's GRU step exactly."""
    kind, hidden = CELL_KINDS["gru"], 4
    cell = torch.nn.GRUCell(3, hidden).double()
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, hidden, dtype=torch.float64)
    gi = x @ cell.weight_ih.T + cell.bias_ih
    gh = h @ cell.weight_hh.T + cell.bias_hh
    split = kind.split_row(hidden)
    r = torch.sigmoid(gi[:, kind.gate_rows("r", hidden)] + gh[:, kind.gate_rows("r", hidden)])
    z = torch.sigmoid(gi[:, kind.gate_rows("z", hidden)] + gh[:, kind.gate_rows("z", hidden)])
    n = torch.tanh(gi[:, split:] + r * gh[:, split:])
    torch.testing.assert_close((1 - z) * n + z * h, cell(x, h), rtol=1e-12, atol=1e-12)
    parts = [part for part, _ in kind.row_blocks(hidden, np.arange(hidden))]
    assert parts == ["both", "both", "ih", "hh"] and kind.step_blocks == 4


@pytest.mark.parametrize("name", ["lstm", "rnn_tanh"])
def test_unsplit_kinds_sum_every_gate(name):
    kind = CELL_KINDS[name]
    assert kind.split_row(7) is None and kind.step_blocks == kind.gate_count
    blocks = kind.row_blocks(7, np.array([2]))
    assert [(p, r.tolist()) for p, r in blocks] == [("both", [g * 7 + 2]) for g in range(kind.gate_count)]


def test_views_and_checkpoint_reading_use_the_records():
    for kind in CELL_KINDS.values():
        views = layer_views(kind.torch_module(2, 3), view="hh", gates="per_gate")
        assert tuple(v.gate for v in views) == kind.gates
        views = layer_views(kind.torch_cell(2, 3), view="hh", gates="per_gate")
        assert tuple(v.gate for v in views) == kind.gates
    model, notes = recurrent_from_state(torch.nn.GRU(2, 3).state_dict())
    assert isinstance(model, torch.nn.GRU) and "gru (W_hh has 3 gate blocks" in notes[0]
    model, _ = recurrent_from_state(torch.nn.RNN(2, 3).state_dict(), cell="rnn_relu")
    assert model.nonlinearity == "relu"


def test_gate_rows_rejects_unknown_gates():
    with pytest.raises(ConfigError, match="unknown gate 'q' of a LSTM; choose from i, f, g, o"):
        CELL_KINDS["lstm"].gate_rows("q", 3)
