"""Safetensors checkpoints: round trips, atomic writes, and clear errors for bad files."""

from __future__ import annotations

import json
import os
import re

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sparsernn.errors import CheckpointError, ConfigError
from sparsernn.nn import (
    SequenceClassifier,
    SparseGRU,
    SparseLSTM,
    SparseRNN,
    checkpoint_bytes,
    load_checkpoint,
    load_classifier,
    load_model,
    save_checkpoint,
)
from sparsernn.nn.base import constructor_args


def pruned_classifier() -> SequenceClassifier:
    torch.manual_seed(0)
    model = SequenceClassifier(
        "lstm", 3, 8, num_layers=2, vocab_size=30, embedding_dim=6, readout="last_valid"
    )
    gen = torch.Generator().manual_seed(1)
    for name, mask in model.rnn.masks.items():
        model.rnn.set_mask(name, torch.rand(mask.shape, generator=gen) < 0.4)
    return model


def test_save_load_round_trip_of_a_sparse_module(tmp_path):
    lstm = SparseLSTM(3, 5, num_layers=2)
    lstm.set_mask("weight_hh_l1", torch.eye(20, 5, dtype=torch.bool))
    path = save_checkpoint(tmp_path / "lstm.safetensors", lstm, {"seed": 3, "note": "ünïcode"})
    state, config = load_checkpoint(path)
    assert config == {"seed": 3, "note": "ünïcode"}
    assert state.keys() == lstm.state_dict().keys() and state["weight_hh_l1_mask"].dtype == torch.bool
    fresh = SparseLSTM(3, 5, num_layers=2)
    fresh.load_state_dict(state)
    x = torch.randn(4, 2, 3)
    torch.testing.assert_close(fresh(x)[0], lstm(x)[0], rtol=0, atol=0)
    assert torch.equal(fresh.masks["weight_hh_l1"], lstm.masks["weight_hh_l1"])


def test_load_classifier_rebuilds_architecture_weights_and_masks(tmp_path):
    model = pruned_classifier()
    path = save_checkpoint(tmp_path / "clf.safetensors", model, {"lr": 1e-3})
    loaded = load_classifier(path)
    assert loaded.config == model.config
    for name, mask in model.rnn.masks.items():
        assert torch.equal(loaded.rnn.masks[name], mask), name
    x, lengths = torch.randint(1, 30, (4, 7)), torch.tensor([7, 3, 5, 1])
    torch.testing.assert_close(loaded(x, lengths), model(x, lengths), rtol=0, atol=0)
    assert load_checkpoint(path)[1] == {"lr": 1e-3}


def test_checkpoint_is_plain_safetensors_with_json_metadata(tmp_path):
    model = pruned_classifier()
    path = save_checkpoint(tmp_path / "m.safetensors", model, {"a": [1, 2]})
    assert path.read_bytes()[:1] != b"\x80"  # not a pickle stream
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata()
    assert json.loads(metadata["sparsernn.config"]) == {"a": [1, 2]}
    assert json.loads(metadata["sparsernn.model"]) == {"class": "SequenceClassifier", "args": model.config}
    assert load_checkpoint(save_checkpoint(tmp_path / "n.safetensors", SparseLSTM(2, 2)))[1] == {}


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "m.safetensors"
    save_checkpoint(path, SparseLSTM(2, 2), {"version": 1})
    save_checkpoint(path, SparseLSTM(2, 2), {"version": 2})  # overwrite
    assert os.listdir(path.parent) == ["m.safetensors"] and load_checkpoint(path)[1] == {"version": 2}

    def crash(src, dst):
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk went away"):
        save_checkpoint(path, SparseLSTM(2, 2), {"version": 3})
    monkeypatch.undo()
    assert os.listdir(path.parent) == ["m.safetensors"] and load_checkpoint(path)[1] == {"version": 2}


def test_config_must_be_json(tmp_path):
    with pytest.raises(ConfigError, match="config must be JSON-serialisable"):
        save_checkpoint(tmp_path / "m.safetensors", SparseLSTM(2, 2), {"x": object()})
    assert not (tmp_path / "m.safetensors").exists()


def test_missing_truncated_and_garbage_files_name_the_file(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", pruned_classifier())
    data = path.read_bytes()
    with pytest.raises(
        CheckpointError, match=re.escape(f"checkpoint {tmp_path / 'nope.safetensors'} does not exist")
    ):
        load_checkpoint(tmp_path / "nope.safetensors")
    for name, content in [
        ("cut.safetensors", data[: len(data) // 2]),
        ("junk.safetensors", b"not a checkpoint"),
    ]:
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(
            CheckpointError, match=re.escape(f"checkpoint {bad} is not a valid safetensors file")
        ):
            load_checkpoint(bad)
        with pytest.raises(CheckpointError, match=re.escape(str(bad))):
            load_classifier(bad)


def test_unreadable_metadata_and_foreign_checkpoints(tmp_path):
    tensors = {"w": torch.zeros(2)}
    bad_json = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad_json), metadata={"sparsernn.config": "{not json"})
    with pytest.raises(CheckpointError, match=re.escape("unreadable metadata 'sparsernn.config'")):
        load_checkpoint(bad_json)
    foreign = tmp_path / "foreign.safetensors"
    save_file(tensors, str(foreign))
    assert load_checkpoint(foreign)[1] == {}
    with pytest.raises(CheckpointError, match="holds no model description"):
        load_classifier(foreign)
    with pytest.raises(CheckpointError, match="holds a SparseLSTM, not a SequenceClassifier"):
        load_classifier(save_checkpoint(tmp_path / "lstm.safetensors", SparseLSTM(2, 3)))
    unknown = tmp_path / "unknown.safetensors"
    save_file(
        tensors, str(unknown), metadata={"sparsernn.model": json.dumps({"class": "os.system", "args": {}})}
    )
    with pytest.raises(CheckpointError, match=re.escape("describes an unknown model 'os.system'")):
        load_model(unknown)


def test_classifier_checkpoint_that_does_not_match_its_config(tmp_path):
    model = pruned_classifier()
    path = tmp_path / "m.safetensors"
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    wrong = {**model.config, "hidden_size": 9}
    save_file(
        state,
        str(path),
        metadata={"sparsernn.model": json.dumps({"class": "SequenceClassifier", "args": wrong})},
    )
    with pytest.raises(CheckpointError, match="does not match its SequenceClassifier"):
        load_classifier(path)


@pytest.mark.parametrize(
    "module",
    [
        SparseRNN(3, 4, 2, nonlinearity="relu", bias=False),
        SparseGRU(3, 4, bidirectional=True, batch_first=True),
        SparseLSTM(3, 6, proj_size=2, dropout=0.0),
    ],
)
def test_load_model_rebuilds_bare_sparse_modules(tmp_path, module):
    gen = torch.Generator().manual_seed(0)
    for name, mask in module.masks.items():
        module.set_mask(name, torch.rand(mask.shape, generator=gen) < 0.5)
    path = tmp_path / "m.safetensors"
    path.write_bytes(checkpoint_bytes(module, {"k": 1}))
    loaded = load_model(path)
    assert type(loaded) is type(module) and repr(loaded) == repr(module)
    for key, value in module.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


# --- robustness: bad descriptions, memory bombs, flipped bits (issue 14, section 3) ---------------


def _with_model(path, spec, tensors=None) -> None:
    tensors = tensors if tensors is not None else {"w": torch.zeros(2)}
    save_file(tensors, str(path), metadata={"sparsernn.model": spec})


def _spec(name: str, **args) -> str:
    return json.dumps({"class": name, "args": args})


GRAPH = {"cell": "gru", "nodes": [0, 1], "input_size": 2}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (json.dumps({"class": ["SparseLSTM"], "args": {}}), "describes an unknown model"),  # TypeError
        ("[" * 100_000 + "]" * 100_000, "unreadable metadata 'sparsernn.model'"),  # RecursionError
        (
            _spec("SparseLSTM", input_size=2, hidden_size=3, dropout=5),
            "invalid SparseLSTM arguments: dropout",
        ),
        (_spec("SparseGRU", input_size=2, hidden_size=3, num_layers=0), "num_layers must be greater"),
        (_spec("SparseRNN", input_size="2", hidden_size=[3]), "invalid SparseRNN arguments"),
        (
            _spec("SparseLSTM", input_size=2, hidden_size=3, num_layers=10**9),
            "declares num_layers=1000000000",
        ),
        (
            _spec("GraphClassifier", **GRAPH, edges=[[0, 1], [1, 0]]),
            "directed graph has a cycle",
        ),  # GraphError
        (_spec("GraphClassifier", **GRAPH, edges=[[0, 0]]), "self-loop"),
        (_spec("SequenceClassifier", cell="gru", num_classes=2, hidden_size=2, input_size=2, x=1), "invalid"),
    ],
)
def test_bad_model_descriptions_become_one_line_checkpoint_errors(tmp_path, spec, message):
    from click.testing import CliRunner

    from sparsernn.cli import main

    path = tmp_path / "bad.safetensors"
    _with_model(path, spec)
    with pytest.raises(CheckpointError, match=re.escape(message)) as caught:
        load_model(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    out = CliRunner().invoke(main, ["analyze", str(path)])
    assert out.exit_code == 2 and out.output.startswith("error: checkpoint") and out.output.count("\n") == 1


def test_small_file_declaring_a_large_model_is_rejected_before_building_it(tmp_path, monkeypatch):
    small = SparseLSTM(1, 2)
    path = tmp_path / "bomb.safetensors"
    _with_model(path, _spec("SparseLSTM", input_size=1, hidden_size=6000), _state(small))
    assert path.stat().st_size < 2000
    built_on = []

    def spy(**args):
        built_on.append(torch.empty(0).device.type)
        return SparseLSTM(**args)

    # the globals load_model reads (pytest's doctest collection may import its module a second time)
    monkeypatch.setitem(load_model.__globals__, "MODELS", {"SparseLSTM": spy})
    with pytest.raises(
        CheckpointError,
        match=re.escape("weight_ih_l0 has shape (8, 1); the model's arguments declare (24000, 1)"),
    ):
        load_model(path)
    assert built_on == ["meta"]  # shapes checked without allocating the 6000-unit model


def _state(model) -> dict:
    return {k: v.contiguous() for k, v in model.state_dict().items()}


def test_flipped_bits_in_tensor_data_are_detected(tmp_path):
    model = pruned_classifier()
    path = save_checkpoint(tmp_path / "m.safetensors", model)
    data = path.read_bytes()
    start = 8 + int.from_bytes(data[:8], "little")
    gen = torch.Generator().manual_seed(0)
    for position in torch.randint(start, len(data), (20,), generator=gen).tolist():
        flipped = bytearray(data)
        flipped[position] ^= 1 << int(torch.randint(8, (1,), generator=gen))
        bad = tmp_path / "flipped.safetensors"
        bad.write_bytes(bytes(flipped))
        for load in (load_checkpoint, load_model):
            with pytest.raises(CheckpointError, match=re.escape(f"checkpoint {bad} is corrupt: tensor")):
                load(bad)


def test_checkpoints_without_checksums_still_load(tmp_path):
    lstm = SparseLSTM(3, 4)
    lstm.set_mask("weight_hh_l0", torch.eye(16, 4, dtype=torch.bool))
    old = tmp_path / "old.safetensors"  # the format as written before checksums existed
    metadata = {
        "sparsernn.format": "1",
        "sparsernn.config": "{}",
        "sparsernn.model": _spec("SparseLSTM", **constructor_args(lstm)),
    }
    save_file(_state(lstm), str(old), metadata=metadata)
    assert torch.equal(load_model(old).masks["weight_hh_l0"], lstm.masks["weight_hh_l0"])
    with safe_open(save_checkpoint(tmp_path / "new.safetensors", lstm), framework="pt") as f:
        digests = json.loads(f.metadata()["sparsernn.sha256"])
    assert sorted(digests) == sorted(lstm.state_dict()) and all(len(d) == 64 for d in digests.values())


def test_checksum_metadata_that_does_not_list_the_tensors_is_an_error(tmp_path):
    lstm = SparseLSTM(2, 2)
    digests = {k: "0" * 64 for k in list(lstm.state_dict())[1:]}
    bad = tmp_path / "bad.safetensors"
    save_file(_state(lstm), str(bad), metadata={"sparsernn.sha256": json.dumps(digests)})
    with pytest.raises(CheckpointError, match="is corrupt: tensor 'weight_ih_l0' has no checksum"):
        load_checkpoint(bad)
