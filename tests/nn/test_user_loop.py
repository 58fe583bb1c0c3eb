"""The drop-in promise: after pruning, the user's own training loop never leaks pruned weights.

Train dense with a plain ``torch.optim`` optimizer, prune 80 % with ``sparsernn.prune``, keep training
with the same optimizer (its state predates the masks; no ``keep_masks``, no library loop), then check
everything that leaves the module: ``state_dict()``, a plain torch module built from it, a checkpoint
round trip and a streaming copy.
"""

from __future__ import annotations

import copy
import itertools

import networkx as nx
import pytest
import torch

import sparsernn as sr
from sparsernn.nn import SparseGRU, SparseLSTM, SparseRNN, StreamingRNN, sparse_modules, to_torch

B, T, IN, H = 3, 4, 3, 6


def _opt(cls, **kwargs):
    return lambda params: cls(params, **kwargs)


SGD = dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)
OPTIMIZERS = {
    "sgd": _opt(torch.optim.SGD, **SGD),
    "sgd_foreach": _opt(torch.optim.SGD, foreach=True, **SGD),
    "sgd_fused": _opt(torch.optim.SGD, fused=True, **SGD),
    "adam": _opt(torch.optim.Adam, lr=0.02),
    "adam_foreach": _opt(torch.optim.Adam, lr=0.02, foreach=True),
    "adam_fused": _opt(torch.optim.Adam, lr=0.02, fused=True),
    "adamw": _opt(torch.optim.AdamW, lr=0.02, weight_decay=0.1),
    "adamw_fused": _opt(torch.optim.AdamW, lr=0.02, weight_decay=0.1, fused=True),
    "rmsprop": _opt(torch.optim.RMSprop, lr=0.01, momentum=0.5, weight_decay=0.01),
    "rmsprop_foreach": _opt(torch.optim.RMSprop, lr=0.01, momentum=0.5, foreach=True),
    "adagrad": _opt(torch.optim.Adagrad, lr=0.05, weight_decay=0.01),
    "adagrad_fused": _opt(torch.optim.Adagrad, lr=0.05, fused=True),
    "nadam": _opt(torch.optim.NAdam, lr=0.02, weight_decay=0.01),
    "nadam_foreach": _opt(torch.optim.NAdam, lr=0.02, foreach=True),
}


def _graph_rnn() -> sr.nn.GraphRNN:
    return sr.nn.GraphRNN.from_graph(nx.Graph([(0, 1), (1, 2), (0, 2), (0, 3), (2, 4)]), "gru", input_size=IN)


MODELS = {
    "rnn_tanh": lambda: SparseRNN(IN, H, num_layers=2, batch_first=True),
    "rnn_relu": lambda: SparseRNN(IN, H, nonlinearity="relu", batch_first=True),
    "lstm": lambda: SparseLSTM(IN, H, num_layers=2, batch_first=True),
    "gru": lambda: SparseGRU(IN, H, batch_first=True),
    "graph_rnn": _graph_rnn,
}


def output(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    return out[0] if isinstance(out, tuple) else out  # (B, T, H)


def user_loop(model, optimizer, x, steps: int) -> list[float]:
    """The loop a user writes: plain loss, clipping, optimizer step; nothing from sparsernn."""
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = (output(model, x) - 0.5).pow(2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        losses.append(loss.item())
    return losses


def trained_then_pruned(kind: str, opt: str) -> tuple[torch.nn.Module, torch.Tensor]:
    """Dense steps, 80 % magnitude pruning, more steps with the same (stale-state) optimizer."""
    torch.manual_seed(0)
    model, x = MODELS[kind](), torch.randn(B, T, IN)
    optimizer = OPTIMIZERS[opt](model.parameters())
    user_loop(model, optimizer, x, steps=3)
    sr.prune.apply(model, sr.prune.magnitude(model, 0.8))
    user_loop(model, optimizer, x, steps=2)
    return model, x


def assert_state_dict_clean(model: torch.nn.Module) -> None:
    state = model.state_dict()
    pruned = 0
    for prefix, module in sparse_modules(model):
        dot = f"{prefix}." if prefix else ""
        for name, mask in module.masks.items():
            leaked = state[dot + name][~mask]
            pruned += leaked.numel()
            assert torch.count_nonzero(leaked) == 0, dot + name
    assert pruned > 0


def plain_torch_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A torch.nn.RNN/LSTM/GRU loaded from the sparse module's state_dict (the documented non-strict way)."""
    kind = {SparseRNN: torch.nn.RNN, SparseLSTM: torch.nn.LSTM, SparseGRU: torch.nn.GRU}[type(module)]
    args = sr.nn.base.constructor_args(module)
    plain = kind(**args)
    plain.load_state_dict(module.state_dict(), strict=False)
    return plain


@pytest.mark.parametrize(("kind", "opt"), list(itertools.product(MODELS, OPTIMIZERS)))
def test_pruned_entries_never_leak_from_a_user_loop(kind, opt, tmp_path):
    model, x = trained_then_pruned(kind, opt)
    model.eval()
    assert_state_dict_clean(model)
    with torch.no_grad():
        expected = output(model, x)
        torch.testing.assert_close(output(to_torch(model), x), expected, rtol=0, atol=1e-6)
        if not isinstance(model, sr.nn.GraphRNN):
            torch.testing.assert_close(output(plain_torch_copy(model), x), expected, rtol=0, atol=1e-6)
        # checkpoint round trip
        path = sr.nn.save_checkpoint(tmp_path / "model.safetensors", model)
        if isinstance(model, sr.nn.GraphRNN):
            loaded = _graph_rnn()
            loaded.load_state_dict(sr.nn.load_checkpoint(path)[0])
        else:
            loaded = sr.nn.load_model(path)
        torch.testing.assert_close(output(loaded.eval(), x), expected, rtol=0, atol=1e-6)
        assert_state_dict_clean(loaded)
        # streaming copy of every sparse module
        for _, module in sparse_modules(model):
            inputs = torch.randn(B, T, module.input_size)
            stream = StreamingRNN.from_module(module, backend="torch")
            torch.testing.assert_close(stream(inputs)[0], module(inputs)[0], rtol=0, atol=1e-5)


def test_gradients_of_pruned_entries_are_exactly_zero():
    model, x = trained_then_pruned("lstm", "adam")
    model.zero_grad()
    output(model, x).pow(2).sum().backward()
    for name, mask in model.masks.items():
        assert torch.count_nonzero(getattr(model, name).grad[~mask]) == 0, name


@pytest.mark.parametrize("opt", ["sgd", "adam_fused"])  # fused optimizers do not bump tensor versions
def test_parameters_are_zeroed_in_place_at_the_next_training_forward(opt):
    model, x = trained_then_pruned("gru", opt)  # momentum from dense training moves pruned entries
    output(model, x)
    for name, mask in model.masks.items():
        assert torch.count_nonzero(getattr(model, name).detach()[~mask]) == 0, name


def test_deepcopy_and_dtype_conversion_carry_no_pruned_values():
    model, x = trained_then_pruned("lstm", "sgd")  # parameters moved since the last forward
    clone = copy.deepcopy(model)
    for name, mask in clone.masks.items():
        assert torch.count_nonzero(getattr(clone, name).detach()[~mask]) == 0, name
    double = copy.deepcopy(model).to(torch.float64)
    for name, mask in double.masks.items():
        assert torch.count_nonzero(getattr(double, name).detach()[~mask]) == 0, name
    with torch.no_grad():
        expected = output(model, x)
        torch.testing.assert_close(output(clone, x), expected, rtol=0, atol=0)
        torch.testing.assert_close(output(double, x.double()).float(), expected, rtol=1e-5, atol=1e-6)


# Under CPU autocast torch runs RNN-tanh/ReLU natively in bfloat16 (on any CPU) and the LSTM through
# oneDNN in bfloat16, which only CPUs with bfloat16 support can do: elsewhere torch.nn.LSTM itself fails
# ("could not create a primitive descriptor"), a limit of the hardware, not of the mask.
AUTOCAST_CELLS = {"rnn_tanh": SparseRNN, "lstm": SparseLSTM}
NO_BF16_LSTM = "needs a CPU whose oneDNN runs an LSTM in bfloat16 (torch.nn.LSTM fails under autocast here)"


def _torch_autocast_dtype(cell: str) -> torch.dtype | None:
    """The dtype torch's own module of ``cell`` outputs under bfloat16 autocast; None where it cannot run."""
    plain = {SparseRNN: torch.nn.RNN, SparseLSTM: torch.nn.LSTM}[AUTOCAST_CELLS[cell]](IN, H)
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return plain(torch.randn(T, B, IN))[0].dtype
    except RuntimeError:
        return None


@pytest.mark.parametrize("cell", AUTOCAST_CELLS)
def test_amp_autocast_bfloat16_training(cell):
    expected_dtype = _torch_autocast_dtype(cell)
    if expected_dtype is None:
        pytest.skip(NO_BF16_LSTM)
    torch.manual_seed(0)
    model, x = AUTOCAST_CELLS[cell](IN, H, batch_first=True), torch.randn(B, T, IN)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for step in range(5):
        if step == 2:
            sr.prune.apply(model, sr.prune.magnitude(model, 0.8))
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = output(model, x)
        assert out.dtype == expected_dtype  # as torch's module computes (bfloat16 for RNN-tanh)
        out.float().pow(2).mean().backward()
        optimizer.step()
    assert_state_dict_clean(model)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        torch.testing.assert_close(output(to_torch(model), x), output(model, x), rtol=0, atol=0)


# By default dynamo runs RNN modules eagerly (a graph break); allow_rnn=True traces their forward.
@pytest.mark.parametrize("allow_rnn", [False, True])
def test_torch_compile_training(allow_rnn):
    torch._dynamo.reset()  # no compiled code cached under the other setting
    torch.manual_seed(0)
    model, x = SparseGRU(IN, H, batch_first=True), torch.randn(B, T, IN)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    user_loop(model, optimizer, x, steps=2)
    sr.prune.apply(model, sr.prune.magnitude(model, 0.8))
    # aot_eager traces the forward and backward like the default backend but needs no C++ compiler.
    compiled = torch.compile(model, backend="aot_eager")
    try:
        with torch._dynamo.config.patch(allow_rnn=allow_rnn):
            user_loop(compiled, optimizer, x, steps=2)
    except Exception as err:  # any failure of the compiler stack itself
        if "sparsernn" in repr(err):
            raise
        pytest.skip(f"torch.compile does not run on this machine: {type(err).__name__}: {err}")
    assert_state_dict_clean(model)
    for name, mask in model.masks.items():
        assert torch.count_nonzero(getattr(model, name).grad[~mask]) == 0, name
    with torch.no_grad():
        torch.testing.assert_close(output(compiled, x), output(to_torch(model), x), rtol=0, atol=1e-6)


# torch notes that the forward swaps the module's _flat_weights list (restored at the end of the call).
@pytest.mark.filterwarnings("ignore:The tensor attributes .*_flat_weights")
@pytest.mark.parametrize("kind", ["lstm", "graph_rnn"])
def test_torch_export(kind):
    model, x = trained_then_pruned(kind, "adam")
    model.eval()
    exported = torch.export.export(model, (x,))
    assert "where" in str(exported.graph)  # the masks are part of the exported computation
    with torch.no_grad():
        torch.testing.assert_close(output(exported.module(), x), output(model, x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_onnx_export_computes_what_the_module_computes(tmp_path, kind):
    pytest.importorskip("onnx", reason="the onnx package is not installed (ONNX export needs it)")
    pytest.importorskip("onnxscript", reason="the onnxscript package is not installed (torch.onnx needs it)")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (it runs the export)")
    model, x = trained_then_pruned(kind, "adam")
    model.eval()
    path = tmp_path / f"{kind}.onnx"
    torch.onnx.export(model, (x,), str(path))  # torch's default exporter
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got, *_) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(got), output(model, x), rtol=0, atol=1e-5)
