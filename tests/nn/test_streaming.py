"""StreamingRNN: step-by-step CSR inference equals the torch module it was built from."""

from __future__ import annotations

import pytest
import torch
import torch.nn.utils.prune

from sparsernn.errors import ConfigError
from sparsernn.nn import SparseGRU, SparseLSTM, SparseRNN, StreamingRNN, make_rnn

CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def pruned(cell: str, *, sparsity: float = 0.7, dtype=torch.float64, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    module = make_rnn(cell, 5, 7, num_layers=kwargs.pop("num_layers", 2), dtype=dtype, **kwargs)
    gen = torch.Generator().manual_seed(1)
    for name, mask in module.masks.items():
        module.set_mask(name, torch.rand(mask.shape, generator=gen) >= sparsity)
    return module.eval()


def random_state(cell: str, layers: int, *shape: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    h = torch.randn(layers, *shape, 7, dtype=torch.float64)
    return (h, torch.randn_like(h)) if cell == "lstm" else h


def assert_state_close(a, b, **tol) -> None:
    if isinstance(a, tuple):
        for x, y in zip(a, b):
            torch.testing.assert_close(x, y, **tol)
    else:
        torch.testing.assert_close(a, b, **tol)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("batched", [False, True])
def test_sequence_equals_the_fused_module(cell, batched):
    module = pruned(cell)
    stream = StreamingRNN.from_module(module)
    x = torch.randn(9, 3, 5, dtype=torch.float64) if batched else torch.randn(9, 5, dtype=torch.float64)
    hx = random_state(cell, 2, 3) if batched else random_state(cell, 2)
    expected, expected_state = module(x, hx)
    output, state = stream(x, hx)
    torch.testing.assert_close(output, expected, rtol=1e-12, atol=1e-12)
    assert_state_close(state, expected_state, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_steps_carry_the_state_like_one_call(cell):
    module = pruned(cell)
    stream = StreamingRNN.from_module(module)
    x = torch.randn(6, 5, dtype=torch.float64)
    state = None
    for t in range(6):
        y, state = stream.step(x[t], state)
    expected, expected_state = module(x)
    torch.testing.assert_close(y, expected[-1], rtol=1e-12, atol=1e-12)
    assert_state_close(state, expected_state, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("batched", [False, True])
def test_step_leaves_its_inputs_untouched_and_outputs_are_fresh(cell, batched):
    stream = StreamingRNN.from_module(pruned(cell))
    x = torch.randn(3, 5, dtype=torch.float64) if batched else torch.randn(5, dtype=torch.float64)
    state = random_state(cell, 2, 3) if batched else random_state(cell, 2)
    before = [t.clone() for t in (state if isinstance(state, tuple) else (state,))]
    y, new = stream.step(x.clone(), state)
    after = state if isinstance(state, tuple) else (state,)
    assert all(torch.equal(a, b) for a, b in zip(after, before, strict=True))
    kept = y.clone()
    stream.step(x, new)  # a later step must not overwrite what an earlier one returned
    assert torch.equal(y, kept)


def test_stores_only_the_kept_weights():
    module = pruned("gru", sparsity=0.9)
    kept = sum(int(mask.sum()) for mask in module.masks.values())
    assert StreamingRNN.from_module(module, layout="csr").nnz() == kept
    assert "stored=" in repr(StreamingRNN.from_module(module))


def test_batch_first_and_float32():
    module = pruned("lstm", dtype=torch.float32, batch_first=True)
    stream = StreamingRNN.from_module(module)
    x = torch.randn(3, 8, 5)
    torch.testing.assert_close(stream(x)[0], module(x)[0], rtol=1e-5, atol=1e-5)


def test_plain_torch_module_leaves_out_its_zero_weights_and_no_bias():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(5, 7, bias=False, dtype=torch.float64)
    with torch.no_grad():
        lstm.weight_hh_l0[:, :4] = 0.0
    stream = StreamingRNN.from_module(lstm, layout="csr")
    assert stream.nnz() == 28 * 5 + 28 * 3
    assert StreamingRNN.from_module(lstm, layout="dense").nnz() == 28 * 5 + 28 * 7  # dense stores all
    x = torch.randn(4, 5, dtype=torch.float64)
    torch.testing.assert_close(stream(x)[0], lstm(x)[0], rtol=1e-12, atol=1e-12)


def test_module_pruned_with_torch_prune():
    torch.manual_seed(0)
    gru = torch.nn.GRU(5, 7, dtype=torch.float64)
    torch.nn.utils.prune.l1_unstructured(gru, "weight_hh_l0", amount=0.5)
    stream = StreamingRNN.from_module(gru, layout="csr")
    assert stream.nnz() == 21 * 5 + int(gru.weight_hh_l0_mask.sum()) == 21 * 5 + 73
    x = torch.randn(4, 5, dtype=torch.float64)
    torch.testing.assert_close(stream(x)[0], gru(x)[0], rtol=1e-12, atol=1e-12)


def test_is_a_snapshot_and_moves_with_to():
    module = pruned("rnn_tanh")
    stream = StreamingRNN.from_module(module).float()
    with torch.no_grad():
        module.weight_hh_l0.mul_(2.0)  # later changes to the source are not seen
    x = torch.randn(4, 5)
    assert stream(x)[0].dtype == torch.float32
    assert not torch.allclose(stream(x)[0].double(), module(x.double())[0], atol=1e-3)


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (torch.nn.Linear(3, 4), "expects an RNN, LSTM or GRU"),
        (SparseGRU(3, 4, bidirectional=True), "bidirectional"),
        (torch.nn.LSTM(3, 4, proj_size=2), "proj_size"),
    ],
)
def test_unsupported_modules_are_refused(module, message):
    with pytest.raises(ConfigError, match=message):
        StreamingRNN.from_module(module)


def test_bad_inputs_are_refused():
    stream = StreamingRNN.from_module(SparseRNN(3, 4))
    with pytest.raises(ConfigError, match=r"input of shape \(3,\)"):
        stream.step(torch.randn(4))
    with pytest.raises(ConfigError, match=r"\(seq, input\)"):
        stream(torch.randn(2, 2, 2, 3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_the_fused_module():
    module = SparseLSTM(5, 7, num_layers=2).cuda().eval()
    module.set_mask("weight_hh_l0", torch.rand(28, 7, device="cuda") > 0.5)
    stream = StreamingRNN.from_module(module)
    x = torch.randn(6, 2, 5, device="cuda")
    torch.testing.assert_close(stream(x)[0], module(x)[0], rtol=1e-4, atol=1e-5)
