"""Compiled waves of :class:`~sparsernn.nn.wavefront.PackedModels`: one C call per batch and direction.

The torch path of :mod:`sparsernn.nn.wavefront` spends a wave in about ten tensor operations per
bucket (gather the inputs, batched products, activations, scatter the outputs; twice as many going
back), each of which writes its result to memory. The kernel (``wavefront_kernel.c``, next to this
module) runs all waves of a batch in one call, forward or backward: per block it reads the inputs
where they lie in the history and keeps the block's sums in registers; the same functions and the
same layout (:mod:`sparsernn.nn.wavefront_plan`), gradients by the formulas of
:mod:`sparsernn.nn.wavefront_kernels`. Results agree with the torch path to rounding (float32:
within about 1e-6; float64: about 1e-15).

It is compiled on first use like the streaming kernel (:mod:`sparsernn.nn.streaming_kernels`: the
system C compiler, a cache keyed by source, flags and CPU). Without a compiler, for dtypes other
than float32 and float64, or with ``SPARSERNN_WAVEFRONT_KERNEL=0``, :func:`library` returns ``None``
and the torch path runs.

Examples
--------
>>> import networkx as nx
>>> from sparsernn.nn import GraphClassifier, PackedModels
>>> models = [GraphClassifier.from_graph(nx.path_graph(4), "gru", vocab_size=128)]
>>> x = torch.tensor([[66, 84, 69], [66, 69, 0]])
>>> torch.allclose(PackedModels(models)(x), PackedModels(models, native=False)(x), atol=1e-6)
True
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from sparsernn.nn.streaming_kernels import FLAGS as _BASE_FLAGS
from sparsernn.nn.streaming_kernels import load_library

SOURCE_FILE = Path(__file__).with_name("wavefront_kernel.c")
"""The kernel's C source, shipped next to this module."""
LANES = 16
"""Partial sums the kernel keeps per weight gradient (``LANES`` in the C source)."""
CELL_CODES = {"rnn_tanh": 0, "rnn_relu": 1, "lstm": 2, "gru": 3}
FLAGS = (*_BASE_FLAGS, "-mprefer-vector-width=512")
"""Compiler flags (those of the streaming kernel, full-width vectors); a compiler that refuses one
gets the portable subset."""
_DEFINES = {torch.float32: ("-DREAL=float", "-DFAST_EXP"), torch.float64: ("-DREAL=double",)}
_INT, _PTR, _I64 = ctypes.c_int, ctypes.c_void_p, ctypes.c_int64


def enabled() -> bool:
    """Whether the compiled kernel may be used (``SPARSERNN_WAVEFRONT_KERNEL=0`` turns it off).

    Examples
    --------
    >>> enabled() == (os.environ.get("SPARSERNN_WAVEFRONT_KERNEL", "1") != "0")
    True
    """
    return os.environ.get("SPARSERNN_WAVEFRONT_KERNEL", "1") != "0"


def library(dtype: torch.dtype) -> ctypes.CDLL | None:
    """The compiled kernel for ``dtype`` (float32 or float64), or ``None`` when unavailable.

    Examples
    --------
    >>> library(torch.float16) is None  # no build for other dtypes: the torch path runs
    True
    >>> lib = library(torch.float32)
    >>> lib is None or hasattr(lib, "forward_waves")
    True
    """
    if not enabled() or dtype not in _DEFINES:
        return None
    return _load(dtype)


@functools.cache
def _load(dtype: torch.dtype) -> ctypes.CDLL | None:
    lib = load_library(SOURCE_FILE, FLAGS, _DEFINES[dtype])
    if lib is None:
        return None
    sizes = [_INT, _INT, _PTR, *[_INT] * 6, _I64]
    lib.forward_waves.restype = None
    lib.forward_waves.argtypes = [*sizes, _PTR]
    lib.backward_waves.restype = None
    lib.backward_waves.argtypes = [*sizes, _PTR, _PTR, _PTR, _I64, _I64]
    return lib


def activation_buffers(state: Any, get: Callable, prefix: str, keep: bool) -> list[Tensor]:
    """Per bucket, where the kernel writes the activations: every wave's when the backward pass reads
    them (``keep``, gated cells), else one wave's, overwritten wave after wave. ``get(name, shape,
    dtype)`` hands out reusable buffers (the packed models' workspace)."""
    p, hist = state.p, state.hist
    per_wave = (p.waves(state.steps),) if keep and p.row_blocks > 1 else ()
    return [
        get(f"{prefix}act{k}", (*per_wave, len(b.levels), p.row_blocks * p.block, hist.shape[-1]), hist.dtype)
        for k, b in enumerate(p.buckets)
    ]


def _ptr(t: Tensor | None) -> int:
    """Address of the contiguous tensor ``t`` (0 for no tensor)."""
    return 0 if t is None else t.data_ptr()


def _table(state: Any, weights, biases, acts, grads=None, carries=None) -> tuple[Tensor, list]:
    """The kernel's bucket table (see ``wavefront_kernel.c``) and the tensors it points at."""
    p, entries, alive = state.p, [], []
    for k, bucket in enumerate(p.buckets):
        levels = torch.tensor(bucket.levels, dtype=torch.int64)
        cells = None if state.cells is None else state.cells[k]
        d_w, d_b = (None, None) if grads is None else (grads[0][k], grads[1][k])
        carry = None if carries is None else carries[k]
        bias = None if biases is None else biases[k]
        alive += [levels, weights[k], bias, acts[k]]
        entries += [len(bucket.levels), bucket.width, bucket.unit_row, _ptr(levels)]
        entries += [_ptr(bucket.index), _ptr(bucket.node_dst), _ptr(weights[k]), _ptr(bias)]
        entries += [_ptr(cells), _ptr(acts[k]), int(acts[k].dim() == 4), _ptr(d_w), _ptr(d_b), _ptr(carry)]
    return torch.tensor(entries, dtype=torch.int64), alive


def _shape(state: Any) -> tuple[int, ...]:
    p = state.p
    return (
        CELL_CODES[p.cell],
        len(p.buckets),
        p.waves(state.steps),
        state.steps,
        p.delay,
        p.block,
        p.row_blocks * p.block,
        state.hist.shape[-1],
        p.rows,
    )


def forward_waves(
    lib: ctypes.CDLL, state: Any, weights: list[Tensor], biases: list[Tensor], acts: list
) -> None:
    """Run every wave of ``state`` (a ``wavefront._State``) through the kernel.

    ``acts[k]`` receives bucket k's activations: (waves, blocks, R, B) to keep them for the backward
    pass, or (blocks, R, B) reused at every wave (evaluation).
    """
    weights, biases = [w.contiguous() for w in weights], [b.contiguous() for b in biases]
    table, _alive = _table(state, weights, biases, acts)
    cell, buckets, *sizes = _shape(state)
    lib.forward_waves(cell, buckets, table.data_ptr(), *sizes, state.hist.data_ptr())


def backward_waves(
    lib: ctypes.CDLL,
    state: Any,
    dhist: Tensor,
    acts: list[Tensor],
    weights: list[Tensor],
    d_weights: list[Tensor],
    d_biases: list[Tensor],
) -> None:
    """Backpropagate through every wave, last first, accumulating into ``dhist`` and the gradients.

    Every slab of ``dhist`` from the first wave's on is cleared once the kernel is done with it, but
    for the input (embedding) rows, which the caller reads and clears.
    """
    p, hist = state.p, state.hist
    batch = hist.shape[-1]
    weights = [w.contiguous() for w in weights]
    carries = None
    if state.cells is not None:
        carries = [hist.new_zeros(len(b.levels), p.block, batch) for b in p.buckets]
    lanes = [hist.new_zeros(*w.shape, LANES) for w in d_weights]  # partial sums of the weight gradients
    table, _alive = _table(state, weights, None, acts, (lanes, d_biases), carries)
    scratch = hist.new_empty(p.row_blocks * p.block, batch)  # one block's pre-activation gradient
    cell, buckets, *sizes = _shape(state)
    lib.backward_waves(
        cell,
        buckets,
        table.data_ptr(),
        *sizes,
        hist.data_ptr(),
        dhist.data_ptr(),
        scratch.data_ptr(),
        *p.emb_rows,
    )
    for d_w, partial in zip(d_weights, lanes):
        d_w += partial.sum(-1)
