"""Checkpoints of users' own models: recurrent layers rebuilt from weight names and shapes, analysed.

Reference: the same model analysed directly with :func:`layer_expansions` (same figures), and the
rebuilt plain torch module's outputs equal to the original's.
"""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file
from torch import nn
from torch.nn.utils import prune

from sparsernn.analysis import layer_expansions
from sparsernn.cli import main
from sparsernn.errors import CheckpointError
from sparsernn.nn import SparseGRU, SparseLSTM, SparseRNN, load_model, save_checkpoint
from sparsernn.nn.checkpoint import load_recurrent
from sparsernn.nn.from_state import recurrent_from_state

FIGURES = ["layer", "direction", "view", "gate", "density", "n_edges", "mu0", "mu_hat", "delta_s"]


class Net(nn.Module):
    """A user's own model: an embedding, a sparse LSTM and a read-out."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 3)
        self.encoder = nn.Sequential(SparseLSTM(3, 5, num_layers=2))
        self.head = nn.Linear(5, 2)


def _masked(module: nn.Module, seed: int = 0) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    for name, mask in module.masks.items():
        module.set_mask(name, torch.rand(mask.shape, generator=gen) < 0.5)
    return module


def _plain(state: dict) -> dict:
    return {k: v.detach().contiguous() for k, v in state.items()}


def _same_figures(loaded: nn.Module, original: nn.Module) -> None:
    views = ["ih", "hh", "step"]
    got = layer_expansions(loaded, view=views, gates=["stack", "union"]).drop(columns="module")
    want = layer_expansions(original, view=views, gates=["stack", "union"]).drop(columns="module")
    assert got[FIGURES[:5]].values.tolist() == want[FIGURES[:5]].values.tolist()
    for column in FIGURES[5:]:
        assert got[column].tolist() == pytest.approx(want[column].tolist(), rel=1e-9), column


@pytest.mark.parametrize(
    "original",
    [
        nn.LSTM(3, 5, num_layers=2, bidirectional=True),
        nn.GRU(4, 3, bias=False),
        nn.RNN(2, 6, num_layers=3),
        nn.LSTM(3, 6, proj_size=2),
        nn.GRUCell(3, 4),
    ],
    ids=["lstm-bi", "gru-nobias", "rnn-3", "lstm-proj", "grucell"],
)
def test_plain_torch_checkpoints_are_rebuilt_and_equal(tmp_path, original):
    path = tmp_path / "m.safetensors"
    save_file(_plain(original.state_dict()), str(path))
    loaded, notes = load_recurrent(path)
    assert type(loaded) is type(original) and len(notes) == 1
    assert repr(loaded) == repr(original)
    for key, value in original.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    _same_figures(loaded, original)


def test_users_model_saved_with_save_checkpoint_is_analysed_with_its_masks(tmp_path):
    net = Net()
    _masked(net.encoder[0])
    path = save_checkpoint(tmp_path / "net.safetensors", net, {"lr": 0.1})
    loaded, notes = load_recurrent(path)
    assert notes == [
        "encoder.0: lstm (W_hh has 4 gate blocks of 5 rows), 2 layers, input 3, hidden 5, 4 masks"
    ]
    assert [name for name, _ in loaded.named_modules()] == ["", "encoder", "encoder.0"]
    for name, mask in net.encoder[0].masks.items():
        assert torch.equal(getattr(loaded.get_submodule("encoder.0"), f"{name}_mask"), mask), name
    _same_figures(loaded, net)
    table = CliRunner().invoke(main, ["analyze", str(path), "--json", "--view", "hh"])
    assert table.exit_code == 0, table.output
    rows = json.loads(table.stdout)
    expected = [net.encoder[0].masks[f"weight_hh_l{k}"].float().mean().item() for k in (0, 1)]
    assert [row["density"] for row in rows] == pytest.approx(expected, abs=1e-3)
    assert "note: encoder.0: lstm" in table.stderr


def test_load_model_names_the_true_reason_for_a_users_model(tmp_path):
    path = save_checkpoint(tmp_path / "net.safetensors", Net())
    with pytest.raises(CheckpointError) as caught:
        load_model(path)
    message = str(caught.value)
    assert "not written by save_checkpoint" not in message
    assert f"holds a {__name__}.Net, which load_model cannot rebuild" in message
    foreign = tmp_path / "foreign.safetensors"
    save_file(_plain(nn.GRU(2, 3).state_dict()), str(foreign))
    with pytest.raises(CheckpointError, match=r"holds no model description \(written by another program"):
        load_model(foreign)


def test_torch_pruned_model_uses_orig_and_its_01_mask(tmp_path):
    model = nn.Sequential(nn.GRU(3, 4))
    prune.random_unstructured(model[0], "weight_hh_l0", amount=0.5)
    prune.l1_unstructured(model[0], "bias_ih_l0", amount=0.5)
    path = tmp_path / "pruned.safetensors"
    save_file(_plain(model.state_dict()), str(path))
    loaded, _ = load_recurrent(path)
    gru = loaded._modules["0"]
    assert torch.equal(gru.weight_hh_l0_mask, model[0].weight_hh_l0_mask.bool())
    assert torch.equal(gru.weight_hh_l0, model[0].weight_hh_l0)  # folded: orig · mask, as torch computes
    assert torch.equal(gru.bias_ih_l0, model[0].bias_ih_l0)
    _same_figures(loaded, model)


def test_cell_option_for_relu_and_mismatches(tmp_path):
    path = tmp_path / "rnn.safetensors"
    save_file(_plain(nn.RNN(2, 3, nonlinearity="relu").state_dict()), str(path))
    (_, notes) = load_recurrent(path)
    assert "tanh assumed" in notes[0]
    relu, notes = load_recurrent(path, cell="rnn_relu")
    assert relu.nonlinearity == "relu" and "assumed" not in notes[0]
    runner = CliRunner()
    out = runner.invoke(main, ["analyze", str(path), "--cell", "gru"])
    assert out.exit_code == 2
    assert out.output.strip() == (
        f"error: checkpoint {path} (no model description): recurrent weights of (root): "
        "W_hh has 1 gate block(s) but cell gru has 3"
    )
    assert runner.invoke(main, ["analyze", str(path), "--cell", "rnn_relu"]).exit_code == 0


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"w": torch.zeros(2)}, "no recurrent weights"),
        ({"weight_ih_l0": torch.zeros(6, 2), "weight_hh_l0": torch.zeros(6, 3)}, "not 1, 3 or 4 gate"),
        ({"weight_ih_l0": torch.zeros(10, 2), "weight_hh_l0": torch.zeros(10, 2)}, "not 1, 3 or 4 gate"),
        ({"weight_ih_l0": torch.zeros(6, 2), "weight_hh_l0": torch.zeros(6)}, "expected a 2-D"),
        ({"weight_hh_l0": torch.zeros(3, 3)}, "weight_ih_l0 is missing"),
        (
            {
                "weight_ih_l0": torch.zeros(3, 2),
                "weight_hh_l0": torch.zeros(3, 3),
                "weight_hh_l2": torch.zeros(3, 3),
            },
            r"layers \[0, 2\] are not numbered",
        ),
        (
            {
                "weight_ih_l0": torch.zeros(3, 2),
                "weight_hh_l0": torch.zeros(3, 3),
                "bias_ih_l0": torch.zeros(4),
                "bias_hh_l0": torch.zeros(3),
            },
            r"bias_ih_l0 has shape \(4,\); expected \(3,\)",
        ),
        (
            {
                "a.weight_ih_l0": torch.zeros(3, 2),
                "a.weight_hh_l0": torch.zeros(3, 3),
                "a.weight_hh_l0_mask": torch.full((3, 3), 0.3),
            },
            "holds values other than 0 and 1",
        ),
        (
            {"weight_ih_l0": torch.zeros(3, 2, dtype=torch.int64), "weight_hh_l0": torch.zeros(3, 3)},
            "expected floating point",
        ),
    ],
)
def test_what_is_not_a_recurrent_layer_gets_a_checkpoint_error(state, message):
    with pytest.raises(CheckpointError, match=message):
        recurrent_from_state(state)


def test_inferred_modules_equal_the_originals_outputs(tmp_path):
    for module in (_masked(SparseGRU(3, 4, num_layers=2)), _masked(SparseRNN(3, 4)), nn.LSTM(3, 4)):
        loaded, _ = recurrent_from_state(_plain(module.state_dict()))
        x = torch.randn(5, 2, 3)
        torch.testing.assert_close(loaded(x)[0], module(x)[0], rtol=1e-6, atol=1e-6)
