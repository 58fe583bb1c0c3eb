"""Bad checkpoints (property-based): random model descriptions, random recurrent state dicts and
corrupted bytes give a model or a CheckpointError naming the file, in bounded time and memory."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from sparsernn.analysis import layer_expansions
from sparsernn.cli import main
from sparsernn.errors import CheckpointError, SparsernnError
from sparsernn.nn import SparseGRU, SparseLSTM, load_model, save_checkpoint
from sparsernn.nn.checkpoint import load_recurrent
from sparsernn.nn.from_state import recurrent_from_state

pytestmark = pytest.mark.timeout(120)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, 1, 2, 3, 6000, 10**9])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
    | st.sampled_from(["gru", "lstm", "rnn_tanh", "last", "blocked", "relu"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
ARG_NAMES = [
    "input_size", "hidden_size", "num_layers", "bias", "dropout", "bidirectional", "proj_size",
    "nonlinearity", "cell", "num_classes", "vocab_size", "embedding_dim", "readout", "nodes", "edges",
    "gate_masks", "layers", "batch_first",
]  # fmt: skip
CLASSES = ["SparseRNN", "SparseLSTM", "SparseGRU", "SequenceClassifier", "GraphClassifier"]


def _expect_model_or_checkpoint_error(load, path: Path) -> None:
    try:
        load(path)
    except CheckpointError as error:
        assert str(path) in str(error) and "\n" not in str(error)


@FAST
@given(
    st.sampled_from(CLASSES) | values,
    st.dictionaries(st.sampled_from(ARG_NAMES) | st.text(max_size=4), values, max_size=6),
)
@example("SparseLSTM", {"input_size": 3, "hidden_size": 6000})
@example("SparseGRU", {"input_size": 3, "hidden_size": 4, "num_layers": 10**9})
@example("GraphClassifier", {"cell": "gru", "nodes": [0, 1], "edges": [[0, 1], [1, 0]], "input_size": 3})
def test_random_model_descriptions_give_a_model_or_checkpoint_error(name, args):
    tensors = {k: v.contiguous() for k, v in SparseLSTM(3, 4).state_dict().items()}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.safetensors"
        save_file(tensors, str(path), metadata={"sparsernn.model": json.dumps({"class": name, "args": args})})
        _expect_model_or_checkpoint_error(load_model, path)


KINDS = ["weight_ih", "weight_hh", "weight_hr", "bias_ih", "bias_hh"]


@st.composite
def recurrent_states(draw):
    """A real RNN/GRU/LSTM state dict under a prefix, with masks added and a few mutations."""
    kind = draw(st.sampled_from([torch.nn.RNN, torch.nn.GRU, torch.nn.LSTM]))
    sizes = draw(st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 2)))
    module = kind(
        *sizes[:2], num_layers=sizes[2], bidirectional=draw(st.booleans()), bias=draw(st.booleans())
    )
    prefix = draw(st.sampled_from(["", "rnn.", "a.b.", "0.", "line\nbreak."]))
    state = {prefix + k: v.detach() for k, v in module.state_dict().items()}
    for _ in range(draw(st.integers(0, 3))):
        if not state:  # two "drop"s empty a bias-free one-layer RNN's state: nothing left to mutate
            break
        key = draw(st.sampled_from(sorted(state)))
        action = draw(st.sampled_from(["mask", "mask", "orig", "drop", "reshape", "dtype", "add"]))
        if action == "mask":
            fill = draw(st.sampled_from([True, 0.0, 1.0, 0.3, float("nan")]))
            mask = torch.rand(state[key].shape) < 0.5 if fill is True else torch.full(state[key].shape, fill)
            state[key + "_mask"] = mask
        elif action == "orig":
            state[key + "_orig"] = state.pop(key)
        elif action == "drop":
            del state[key]
        elif action == "reshape":
            state[key] = torch.ones(draw(st.sampled_from([(1,), (2, 2), (0, 3), (state[key].numel(), 1)])))
        elif action == "dtype":
            state[key] = state[key].to(draw(st.sampled_from([torch.float16, torch.bool, torch.int64])))
        else:
            index = draw(st.sampled_from(["", "_l0", "_l1_reverse", "_l3"]))
            state[draw(st.sampled_from(["", ".", prefix])) + draw(st.sampled_from(KINDS)) + index] = (
                torch.ones(2, 2)
            )
    return state


@FAST
@given(recurrent_states(), st.sampled_from([None, "rnn_tanh", "rnn_relu", "lstm", "gru"]))
@example({"weight_ih_l0": torch.ones(4, 2), "weight_hh_l0": torch.ones(4, 2)}, None)
@example(
    {"weight_ih": torch.ones(3, 2), "weight_hh": torch.ones(3, 3), "weight_hh_l0": torch.ones(3, 3)}, None
)
def test_random_recurrent_states_give_modules_or_checkpoint_error(state, cell):
    try:
        model, notes = recurrent_from_state(state, cell=cell)
    except CheckpointError as error:
        assert "\n" not in str(error)
        return
    assert notes and all("\n" not in note for note in notes)
    with contextlib.suppress(SparsernnError):  # a degenerate layer may be refused, by the library
        layer_expansions(model, view=["ih", "hh", "step"], gates=["stack", "union", "per_gate"])


@pytest.fixture(scope="module")
def checkpoint_data() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        gru = SparseGRU(2, 3)
        gru.set_mask("weight_hh_l0", torch.rand(9, 3, generator=torch.Generator().manual_seed(0)) > 0.5)
        return save_checkpoint(Path(folder) / "m.safetensors", gru).read_bytes()


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_corrupted_checkpoints_give_only_checkpoint_error_in_analyze(checkpoint_data, data):
    corrupted = bytearray(checkpoint_data)
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(corrupted) - 1))
        corrupted[position] = data.draw(st.integers(0, 255))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.safetensors"
        path.write_bytes(bytes(corrupted))
        for load in (load_model, load_recurrent):
            _expect_model_or_checkpoint_error(load, path)
        out = CliRunner().invoke(main, ["analyze", str(path), "--view", "hh"])
        assert out.exit_code in (0, 2), out.output
