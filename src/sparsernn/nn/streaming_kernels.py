"""Compiled step of :class:`~sparsernn.nn.StreamingRNN`: one C call per time step, all layers.

The kernel (``streaming_kernel.c``, next to this module) does a whole step — every layer's input and
hidden products (dense rows, or CSR with 16- or 32-bit column indices), biases and the cell's
activations — in one call, so a step costs one Python→C transition instead of a dozen torch
dispatches. On CPUs with AVX-512 the batch-1 products use 16-wide gathers (CSR) and four rows at once
(dense), batches go through 16 samples side by side, and the activations use a vectorised ``exp``;
elsewhere the same C compiles to portable loops. It is compiled on first use with the system C
compiler (``$CC``, else ``cc``; about a second per dtype) into ``$SPARSERNN_CACHE/kernels`` (default
``~/.cache/sparsernn/kernels``), keyed by the source, the compiler flags and the CPU, and loaded with
:mod:`ctypes`. Without a compiler, or with ``SPARSERNN_STREAMING_KERNEL=0``, :func:`kernel` returns
``None`` and the module steps with torch operations instead (same results up to float rounding).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from sparsernn.nn import streaming_blocks as blocks

SOURCE_FILE = Path(__file__).with_name("streaming_kernel.c")
"""The kernel's C source, shipped next to this module."""
FLAGS = ("-O3", "-march=native", "-fopenmp-simd", "-fPIC", "-shared")
"""Compiler flags; a compiler that refuses one gets them without ``-march=native`` (and other ``-m`` options)."""
PLAN = 11
LANES = 16
"""Samples the kernel's batched products carry side by side."""
"""int64 entries per matrix in the kernel's plan (see :func:`plan`)."""
FORMATS = {"dense": 0, "csr16": 1, "csr32": 2}
"""Storage layout of one weight matrix → the kernel's format code."""
MODES = {"RNN_TANH": 0, "RNN_RELU": 1, "LSTM": 2, "GRU": 3}
_DEFINES = {torch.float32: ("-DREAL=float", "-DFAST_EXP"), torch.float64: ("-DREAL=double",)}


def enabled() -> bool:
    """Whether the compiled kernel may be used (``SPARSERNN_STREAMING_KERNEL=0`` turns it off)."""
    return os.environ.get("SPARSERNN_STREAMING_KERNEL", "1") != "0"


def kernel(dtype: torch.dtype) -> ctypes.CDLL | None:
    """The compiled library for ``dtype`` (float32 or float64), or ``None`` when unavailable.

    Its ``step(plan, layers, mode, input_size, hidden, batch, x, h, c, h_out, c_out)`` runs one time
    step; ``matvec(plan, rows, cols, batch, x, y)`` one product (``plan``: 5 int64 per matrix — format,
    dense array or row pointers, column indices, values, bias — see :func:`plan`).
    """
    if not enabled() or dtype not in _DEFINES:
        return None
    return _load(dtype)


def plan(
    layout: str, arrays: tuple[torch.Tensor, ...], bias: torch.Tensor | None, sell: dict | None = None
) -> list[int]:
    """The kernel's :data:`PLAN` entries for one matrix: ``arrays`` is ``(dense,)`` or
    ``(values, crow, col)``; ``sell`` the same CSR matrix in SELL-16 order
    (:func:`~sparsernn.nn.streaming_blocks.sell`) for the batch-1 product, when the build has it.

    The kernel keeps raw addresses: the caller keeps the tensors alive (and rebuilds the plan when
    they move).
    """
    if len(arrays) == 1:
        pointers = [arrays[0].data_ptr(), 0, 0]
    else:
        values, crow, col = arrays
        pointers = [crow.data_ptr(), col.data_ptr(), values.data_ptr()]
    entries = [FORMATS[layout], *pointers, 0 if bias is None else bias.data_ptr()]
    if sell is None:
        return [*entries, 0, 0, 0, 0, 0, 0]
    keys = ("offsets", "widths", "perm", "col", "values")
    return [*entries, *(sell[key].data_ptr() for key in keys), sell["offsets"].numel()]


def stack_plan(
    library: ctypes.CDLL, matrices: list[tuple[str, tuple[torch.Tensor, ...], torch.Tensor]]
) -> tuple[torch.Tensor, list[dict | None]]:
    """The plan of a whole stack for ``library.step``, and the SELL-16 copies it points at.

    ``matrices`` holds ``(layout, arrays, bias)`` per matrix in the kernel's order (per layer, the
    input-to-hidden one first). Batch-1 CSR products read a SELL-16 copy of each CSR matrix when the
    build has the SELL product; batched steps and the torch path read the CSR arrays. The caller keeps
    the returned copies alive as long as the plan.
    """
    sells = [
        blocks.sell(*arrays[1:], arrays[0]) if layout != "dense" and library.has_sell() else None
        for layout, arrays, _ in matrices
    ]
    entries = [
        entry
        for (layout, arrays, bias), sell in zip(matrices, sells, strict=True)
        for entry in plan(layout, arrays, bias, sell)
    ]
    return torch.tensor(entries, dtype=torch.int64), sells


def faster_layout(library: ctypes.CDLL, weight: torch.Tensor, keep: torch.Tensor, csr: str) -> str:
    """The CSR layout ``csr`` if it computes ``weight @ x`` faster than ``"dense"`` both for one sample
    and for a group of 16 (the kernel's batched form), else ``"dense"``.

    Both products are timed on the matrix itself (process CPU time, five interleaved rounds of at
    least a million dense weights each); ties go to dense. Milliseconds per matrix.
    """
    if csr == "dense":
        csr = "csr16" if keep.shape[1] <= 2**15 else "csr32"
    rows, cols = weight.shape
    x, y = torch.randn(cols * LANES, dtype=weight.dtype), torch.empty(rows * LANES, dtype=weight.dtype)
    calls, times = {}, {}
    for layout in ("dense", csr):
        arrays = blocks.store(weight, keep, layout)
        ordered = (arrays[""],) if layout == "dense" else (arrays["_values"], arrays["_crow"], arrays["_col"])
        sell = None if layout == "dense" or not library.has_sell() else blocks.sell(*ordered[1:], ordered[0])
        entries = torch.tensor(plan(layout, ordered, None, sell), dtype=torch.int64)
        for lanes in (1, LANES):
            args = (entries.data_ptr(), rows, cols, lanes, x.data_ptr(), y.data_ptr())
            calls[(layout, lanes)] = (arrays, sell, entries, args)
            times[(layout, lanes)] = []
    repeat = max(1, 10**6 // max(rows * cols, 1))  # at least a million dense weights per round
    for _ in range(5):
        for key, (*_, args) in calls.items():
            start = time.process_time()
            for _ in range(repeat // (1 if key[1] == 1 else 4) or 1):
                library.matvec(*args)
            times[key].append(time.process_time() - start)
    median = {key: statistics.median(values) for key, values in times.items()}
    faster = all(median[(csr, lanes)] < median[("dense", lanes)] for lanes in (1, LANES))
    return csr if faster else "dense"


def load_library(source_file: Path, flags: tuple[str, ...], defines: tuple[str, ...]) -> ctypes.CDLL | None:
    """The C kernel in ``source_file`` built with ``flags`` (or, if that fails, without the
    machine-specific ``-m`` options) and loaded; ``None`` without a source file or a working compiler."""
    try:
        source = source_file.read_text()
    except OSError:  # an installation without the source file: the torch path
        return None
    portable = tuple(f for f in flags if not f.startswith("-m"))
    path = _compile(source, flags, defines) or _compile(source, portable, defines)
    try:
        return ctypes.CDLL(str(path)) if path else None
    except OSError:
        return None


@functools.cache
def _load(dtype: torch.dtype) -> ctypes.CDLL | None:
    library = load_library(SOURCE_FILE, FLAGS, _DEFINES[dtype])
    if library is None:
        return None
    library.step.restype = ctypes.c_int
    library.step.argtypes = [ctypes.c_void_p, *[ctypes.c_int] * 5, *[ctypes.c_void_p] * 5]
    library.has_sell.restype = ctypes.c_int
    library.has_sell.argtypes = []
    library.matvec.restype = None
    library.matvec.argtypes = [ctypes.c_void_p, *[ctypes.c_int] * 3, *[ctypes.c_void_p] * 2]
    return library


def _compile(source: str, flags: tuple[str, ...], defines: tuple[str, ...]) -> Path | None:
    """Path of the shared library built from C ``source`` (built if missing); ``None`` if it fails."""
    compiler = os.environ.get("CC", "cc")
    key = "\n".join((source, compiler, *flags, *defines, platform.machine(), _cpu_flags()))
    root = Path(os.environ.get("SPARSERNN_CACHE", Path.home() / ".cache" / "sparsernn")) / "kernels"
    target = root / f"streaming-{hashlib.sha256(key.encode()).hexdigest()[:16]}.so"
    if target.exists():
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            source_path, built = Path(tmp) / "streaming.c", Path(tmp) / "streaming.so"
            source_path.write_text(source)
            command = [compiler, *flags, *defines, str(source_path), "-o", str(built), "-lm"]
            subprocess.run(command, check=True, capture_output=True, timeout=120)
            built.replace(target)  # atomic: concurrent builders each install a complete file
    except (OSError, subprocess.SubprocessError):
        return None
    return target


def _cpu_flags() -> str:
    """The CPU's feature flags (``-march=native`` code must not run on another CPU sharing the cache)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    return next((line for line in text.splitlines() if line.startswith(("flags", "Features"))), "")
