"""StreamingRNN's kernel paths and layouts: every one equals the sparse module it was built from.

Paths: the compiled kernel (batch 1, and samples in groups of 16 for batch > 1, AVX-512 code where
the CPU has it) and the pure-torch fallback; layouts: dense, CSR with 16- and 32-bit column indices
and the automatic per-matrix choice. Shapes are small but cross the kernels' edges: 37 inputs (more
than the 32 entries of one unrolled CSR iteration), 20 hidden units (not a multiple of 16), batch 17
(two groups of samples; batch 3 goes sample by sample), rows and columns that keep nothing.
"""

from __future__ import annotations

import copy
import gc

import pytest
import torch

from sparsernn.errors import ConfigError
from sparsernn.nn import StreamingRNN, make_rnn
from sparsernn.nn import streaming_blocks as blocks
from sparsernn.nn import streaming_kernels as kernels

CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
SPARSITIES = [0.0, 0.5, 0.9, 0.99]
BACKENDS = ["compiled", "torch"]
needs_compiler = pytest.mark.skipif(kernels.kernel(torch.float32) is None, reason="no C compiler")


def pruned(cell: str, layers: int, sparsity: float, *, dtype=torch.float32, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    module = make_rnn(cell, 37, 20, num_layers=layers, dtype=dtype)
    gen = torch.Generator().manual_seed(seed + 1)
    for name, mask in module.masks.items():
        module.set_mask(name, torch.rand(mask.shape, generator=gen) >= sparsity)
    return module.eval()


def backend(name: str) -> str:
    if name == "compiled" and kernels.kernel(torch.float32) is None:
        pytest.skip("no C compiler")
    return name


def assert_same_run(stream: StreamingRNN, module: torch.nn.Module, batch: int | None, tol: float) -> None:
    """Whole sequence with a random initial state, and step by step from zeros, against the module."""
    dtype, layers = module.weight_ih_l0.dtype, module.num_layers
    inputs, hidden = module.input_size, module.hidden_size
    x = torch.randn((6, inputs) if batch is None else (6, batch, inputs), dtype=dtype)
    h = torch.randn((layers, hidden) if batch is None else (layers, batch, hidden), dtype=dtype)
    hx = (h, torch.randn_like(h)) if module.mode == "LSTM" else h
    with torch.no_grad():
        expected, expected_state = module(x, hx)
    output, state = stream(x, hx)
    torch.testing.assert_close(output, expected, rtol=tol, atol=tol)
    for got, want in zip(
        state if isinstance(state, tuple) else (state,),
        expected_state if isinstance(state, tuple) else (expected_state,),
    ):
        torch.testing.assert_close(got, want, rtol=tol, atol=tol)
    state = None
    for t in range(x.shape[0]):
        y, state = stream.step(x[t], state)
    with torch.no_grad():
        torch.testing.assert_close(y, module(x)[0][-1], rtol=tol, atol=tol)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("layout", ["dense", "csr16", "csr32", "auto"])
@pytest.mark.parametrize("path", BACKENDS)
def test_every_path_and_layout_equals_the_sparse_module(cell, layers, layout, path):
    for sparsity in SPARSITIES:
        module = pruned(cell, layers, sparsity)
        stream = StreamingRNN.from_module(module, layout=layout, backend=backend(path))
        assert stream.backend == path
        assert set(stream.layouts) == {n for n in module.masks if n.startswith("weight")}
        for batch in (None, 1, 3, 8, 17):
            assert_same_run(stream, module, batch, tol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("path", BACKENDS)
def test_masks_with_empty_rows_and_columns(cell, path):
    module = pruned(cell, 2, 0.6)
    for name, mask in module.masks.items():
        mask = mask.clone()
        mask[:5] = False  # outputs that read nothing: their pre-activation is the bias alone
        mask[:, :3] = False  # inputs that nothing reads
        mask[-1] = True  # a full row
        module.set_mask(name, mask)
    module.set_mask("weight_hh_l1", torch.zeros_like(module.masks["weight_hh_l1"]))  # an empty matrix
    for layout in ("csr16", "csr32", "auto"):
        stream = StreamingRNN.from_module(module, layout=layout, backend=backend(path))
        for batch in (None, 2, 8):
            assert_same_run(stream, module, batch, tol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("path", BACKENDS)
def test_float64_agrees_to_rounding(cell, path):
    module = pruned(cell, 2, 0.7, dtype=torch.float64)
    for layout in ("dense", "csr16"):
        stream = StreamingRNN.from_module(module, layout=layout, backend=backend(path))
        for batch in (None, 2, 17):
            assert_same_run(stream, module, batch, tol=1e-12)


def test_auto_layout_follows_the_crossover_and_says_so():
    module = pruned("lstm", 1, 0.0)
    keep_dense = torch.rand(80, 20, generator=torch.Generator().manual_seed(0)) < blocks.CSR_CROSSOVER + 0.3
    module.set_mask("weight_hh_l0", keep_dense)
    module.set_mask("weight_ih_l0", torch.rand(80, 37, generator=torch.Generator().manual_seed(1)) < 0.1)
    stream = StreamingRNN.from_module(module)
    assert stream.layouts == {"weight_ih_l0": "csr16", "weight_hh_l0": "dense"}
    assert "csr16" in repr(stream) and "dense" in repr(stream)
    assert blocks.choose_layout(torch.ones(2, 2**15 + 1, dtype=torch.bool), "csr") == "csr32"
    with pytest.raises(ConfigError, match="at most 32768 columns"):
        blocks.choose_layout(torch.ones(2, 2**15 + 1, dtype=torch.bool), "csr16")
    with pytest.raises(ConfigError, match="unknown layout 'ell'; choose from auto, csr, dense"):
        StreamingRNN.from_module(module, layout="ell")


@needs_compiler
def test_auto_layout_times_large_matrices_in_the_band(monkeypatch):
    torch.manual_seed(0)
    module = make_rnn("lstm", 37, 128).eval()  # weight_hh_l0: 512 × 128 = 65,536 entries: timed
    gen = torch.Generator().manual_seed(0)
    module.set_mask("weight_hh_l0", torch.rand(512, 128, generator=gen) < 0.3)
    module.set_mask("weight_ih_l0", torch.rand(512, 37, generator=gen) < 0.3)
    asked = []

    def stub(library, weight, keep, csr):
        asked.append((tuple(weight.shape), csr))
        return "dense"

    monkeypatch.setattr(kernels, "faster_layout", stub)
    stream = StreamingRNN.from_module(module)
    assert asked == [((512, 128), "csr16")]
    assert stream.layouts == {"weight_ih_l0": "csr16", "weight_hh_l0": "dense"}
    assert_same_run(stream, module, 8, tol=1e-5)
    monkeypatch.undo()
    lib = kernels.kernel(torch.float32)
    w, keep = module.weight_hh_l0.detach(), module.masks["weight_hh_l0"]
    assert kernels.faster_layout(lib, w, keep, "csr16") in ("dense", "csr16")
    module.set_mask("weight_hh_l0", torch.rand(512, 128, generator=gen) < 0.01)  # below the band: CSR
    assert StreamingRNN.from_module(module).layouts["weight_hh_l0"] == "csr16"


def test_the_fallback_runs_when_the_kernel_is_turned_off(monkeypatch):
    module = pruned("gru", 2, 0.8)
    monkeypatch.setenv("SPARSERNN_STREAMING_KERNEL", "0")
    stream = StreamingRNN.from_module(module)
    assert stream.backend == "torch"
    assert_same_run(stream, module, 8, tol=1e-5)
    with pytest.raises(ConfigError, match="compiled streaming kernel is unavailable"):
        StreamingRNN.from_module(module, backend="compiled")
    with pytest.raises(ConfigError, match="unknown backend 'c'"):
        StreamingRNN.from_module(module, backend="c")


def test_without_a_compiler_the_module_falls_back(monkeypatch, tmp_path):
    kernels._load.cache_clear()
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("SPARSERNN_CACHE", str(tmp_path))
    try:
        assert kernels.kernel(torch.float32) is None
        module = pruned("lstm", 1, 0.8)
        stream = StreamingRNN.from_module(module)
        assert stream.backend == "torch"
        assert_same_run(stream, module, None, tol=1e-5)
    finally:
        kernels._load.cache_clear()


@needs_compiler
def test_the_kernel_is_built_once_into_the_cache(monkeypatch, tmp_path):
    kernels._load.cache_clear()
    monkeypatch.setenv("SPARSERNN_CACHE", str(tmp_path))
    try:
        assert kernels.kernel(torch.float32) is not None
        built = sorted((tmp_path / "kernels").glob("streaming-*.so"))
        assert len(built) == 1
        kernels._load.cache_clear()
        assert kernels.kernel(torch.float32) is not None
        assert sorted((tmp_path / "kernels").glob("*")) == built  # reused, no temporary left behind
    finally:
        kernels._load.cache_clear()


@needs_compiler
def test_moving_the_module_repoints_the_kernel():
    module = pruned("rnn_tanh", 2, 0.7)
    stream = StreamingRNN.from_module(module).double()
    assert stream.backend == "compiled" and stream._plan_dtype == torch.float64
    assert_same_run(stream, module.double(), 8, tol=1e-12)
    stream = stream.float()
    assert_same_run(stream, module.float(), None, tol=1e-5)


@needs_compiler
def test_a_deep_copy_reads_its_own_arrays():
    module = pruned("lstm", 2, 0.7)
    stream = StreamingRNN.from_module(module)
    copied = copy.deepcopy(stream)
    del stream
    gc.collect()
    assert copied.backend == "compiled"
    assert_same_run(copied, module, 8, tol=1e-5)


@pytest.mark.parametrize("path", BACKENDS)
def test_a_state_of_the_wrong_shape_is_refused(path):
    stream = StreamingRNN.from_module(pruned("lstm", 2, 0.5), backend=backend(path))
    h = torch.zeros(2, 20)
    with pytest.raises(ConfigError, match=r"\(h, c\), each of shape \(2, 20\), got shape \(2, 20\)"):
        stream.step(torch.zeros(37), h)
    with pytest.raises(ConfigError, match=r"got \(shape \(2, 3, 20\), shape \(2, 3, 20\)\)"):
        stream.step(torch.zeros(37), (torch.zeros(2, 3, 20), torch.zeros(2, 3, 20)))
    with pytest.raises(ConfigError, match=r"each of shape \(2, 4, 20\)"):
        stream.step(torch.zeros(4, 37), (h, h))
    gru = StreamingRNN.from_module(pruned("gru", 1, 0.5), backend=backend(path))
    with pytest.raises(ConfigError, match=r"h of shape \(1, 20\)"):
        gru.step(torch.zeros(37), (torch.zeros(1, 20), torch.zeros(1, 20)))


@needs_compiler
def test_inputs_of_another_dtype_take_the_torch_path():
    stream = StreamingRNN.from_module(pruned("rnn_tanh", 1, 0.5))
    with pytest.raises(RuntimeError):  # torch's own dtype error, never the kernel reading bad memory
        stream.step(torch.zeros(37, dtype=torch.float64))


def test_sell_order_holds_every_row_once_and_pads_with_zeros():
    gen = torch.Generator().manual_seed(0)
    keep = torch.rand(37, 50, generator=gen) < torch.linspace(0.0, 0.9, 37).unsqueeze(
        1
    )  # rows of all lengths
    weight = torch.randn(37, 50, generator=gen)
    arrays = blocks.store(weight, keep, "csr16")
    sell = blocks.sell(arrays["_crow"], arrays["_col"], arrays["_values"])
    perm, widths, offsets = sell["perm"].long(), sell["widths"].long(), sell["offsets"].long()
    assert sorted(perm[perm >= 0].tolist()) == list(range(37)) and (perm[37:] == -1).all()
    assert (widths.diff() <= 0).all()  # longest rows first
    rebuilt = torch.zeros(37, 50)
    for s in range(widths.numel()):
        for lane in range(16):
            row = int(perm[16 * s + lane])
            for j in range(int(widths[s])):
                at = int(offsets[s]) + 16 * j + lane
                if row >= 0:
                    rebuilt[row, int(sell["col"][at])] += sell["values"][at]
                else:
                    assert sell["values"][at] == 0
    torch.testing.assert_close(rebuilt, torch.where(keep, weight, 0.0))


@needs_compiler
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_portable_build_without_avx512_agrees(monkeypatch, tmp_path, dtype):
    """The kernel as built for a CPU without AVX-512 (no -march=native): plain C loops everywhere."""
    kernels._load.cache_clear()
    monkeypatch.setattr(kernels, "FLAGS", tuple(f for f in kernels.FLAGS if f != "-march=native"))
    monkeypatch.setenv("SPARSERNN_CACHE", str(tmp_path))
    try:
        assert not kernels.kernel(dtype).has_sell()
        for cell in CELLS:
            module = pruned(cell, 2, 0.7, dtype=dtype)
            for layout in ("dense", "csr16", "csr32"):
                stream = StreamingRNN.from_module(module, layout=layout, backend="compiled")
                for batch in (None, 3, 17):
                    assert_same_run(stream, module, batch, tol=1e-5 if dtype == torch.float32 else 1e-12)
    finally:
        kernels._load.cache_clear()
