"""StreamingRNN.save / load: a safetensors file (arrays + metadata, no pickle) that loads back the same
module, and files that are corrupt or foreign are refused before the kernel reads them."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sparsernn.errors import CheckpointError
from sparsernn.nn import StreamingRNN, make_rnn


def pruned(cell: str, layers: int = 2, sparsity: float = 0.8) -> torch.nn.Module:
    torch.manual_seed(0)
    module = make_rnn(cell, 6, 9, num_layers=layers)
    gen = torch.Generator().manual_seed(1)
    for name, mask in module.masks.items():
        module.set_mask(name, torch.rand(mask.shape, generator=gen) >= sparsity)
    module.set_mask("weight_hh_l0", torch.rand(module.masks["weight_hh_l0"].shape, generator=gen) >= 0.1)
    return module.eval()


@pytest.mark.parametrize("cell", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("layout", ["auto", "csr32"])
def test_round_trip_gives_the_same_module(cell, layout, tmp_path):
    stream = StreamingRNN.from_module(pruned(cell), layout=layout)
    path = tmp_path / "stream.safetensors"
    stream.save(path)
    loaded = StreamingRNN.load(path)
    assert loaded.layouts == stream.layouts and loaded.backend == stream.backend
    sizes = ("mode", "input_size", "hidden_size", "num_layers", "batch_first")
    assert [getattr(loaded, k) for k in sizes] == [getattr(stream, k) for k in sizes]
    x = torch.randn(5, 3, 6)
    for got, want in zip(loaded(x), stream(x)):
        for a, b in zip(
            got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)
        ):
            assert torch.equal(a, b)
    on_torch = StreamingRNN.load(path, backend="torch")
    torch.testing.assert_close(on_torch(x)[0], stream(x)[0], rtol=1e-5, atol=1e-5)


def test_the_file_is_plain_safetensors_with_the_layouts_in_its_metadata(tmp_path):
    stream = StreamingRNN.from_module(pruned("lstm", layers=1))
    path = tmp_path / "stream.safetensors"
    stream.save(path)
    with safe_open(str(path), "pt") as handle:
        metadata, keys = handle.metadata(), set(handle.keys())
    config = json.loads(metadata["config"])
    assert metadata["format"] == "sparsernn.StreamingRNN/1"
    assert config["layouts"] == {"weight_ih_l0": "csr16", "weight_hh_l0": "dense"}
    assert keys == {
        "weight_ih_l0_crow",
        "weight_ih_l0_col",
        "weight_ih_l0_values",
        "bias_ih_l0",
        "weight_hh_l0",
        "bias_hh_l0",
    }
    assert b"pickle" not in path.read_bytes()[:64] and path.read_bytes()[8:9] == b"{"


def test_batch_first_and_dtype_survive(tmp_path):
    module = make_rnn("gru", 4, 5, batch_first=True, dtype=torch.float64).eval()
    stream = StreamingRNN.from_module(module)
    stream.save(tmp_path / "s.safetensors")
    loaded = StreamingRNN.load(tmp_path / "s.safetensors")
    assert loaded.batch_first and loaded._buffers["bias_ih_l0"].dtype == torch.float64
    x = torch.randn(2, 7, 4, dtype=torch.float64)
    torch.testing.assert_close(loaded(x)[0], module(x)[0], rtol=1e-12, atol=1e-12)


def tampered(tmp_path, change) -> str:
    """A saved file whose tensors (or metadata) ``change`` edits in place."""
    stream = StreamingRNN.from_module(pruned("rnn_tanh", layers=1), layout="csr16")
    path = tmp_path / "s.safetensors"
    stream.save(path)
    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    change(tensors, metadata)
    save_file(tensors, str(path), metadata=metadata)
    return path


def _set(tensors: dict, key: str, index: int, value: int) -> None:
    tensors[key] = tensors[key].clone()
    tensors[key][index] = value


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t, m: _set(t, "weight_hh_l0_col", 0, 9), r"column indices outside 0\.\.8"),
        (lambda t, m: _set(t, "weight_hh_l0_col", 0, -1), r"column indices outside"),
        (lambda t, m: _set(t, "weight_hh_l0_crow", 3, 10**6), "row pointers are not non-decreasing"),
        (lambda t, m: t.pop("bias_hh_l0"), "bias_hh_l0"),
        (lambda t, m: t.update(bias_hh_l0=torch.zeros(4)), "bias of the wrong shape"),
        (lambda t, m: t.update(weight_hh_l0_col=t["weight_hh_l0_col"].int()), "wrong dtypes for csr16"),
        (lambda t, m: m.update(config=m["config"].replace("csr16", "ell")), "unknown layout 'ell'"),
        (lambda t, m: m.update(format="something else"), "is not a StreamingRNN file"),
    ],
)
def test_corrupt_or_foreign_files_are_refused(tmp_path, change, message):
    path = tampered(tmp_path, change)
    with pytest.raises(CheckpointError, match=message):
        StreamingRNN.load(path)


def test_truncated_and_missing_files_are_refused(tmp_path):
    path = tmp_path / "s.safetensors"
    StreamingRNN.from_module(pruned("gru")).save(path)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="cannot read StreamingRNN file"):
        StreamingRNN.load(path)
    with pytest.raises(CheckpointError, match="cannot read StreamingRNN file"):
        StreamingRNN.load(tmp_path / "missing.safetensors")
