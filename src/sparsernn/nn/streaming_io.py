"""File format of :class:`~sparsernn.nn.StreamingRNN`: one safetensors file, no pickle.

Tensors, per weight matrix ``weight_{ih,hh}_l{k}`` (torch's names): the dense matrix under its own name
(layout ``dense``), or ``<name>_crow`` (int32 row pointers), ``<name>_col`` (int16 for ``csr16``, int32
for ``csr32``) and ``<name>_values``; and the biases ``bias_{ih,hh}_l{k}`` (zeros for a module without
biases). Metadata: ``format`` = ``sparsernn.StreamingRNN/1`` and ``config``, a JSON object with
``mode`` (torch's: ``RNN_TANH``, ``RNN_RELU``, ``LSTM``, ``GRU``), ``input_size``, ``hidden_size``,
``num_layers``, ``batch_first`` and ``layouts`` (matrix name → layout). Reading checks every shape,
dtype and index, since the compiled kernel trusts its arrays.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor

from sparsernn.errors import CheckpointError
from sparsernn.nn import streaming_blocks as blocks

if TYPE_CHECKING:
    from sparsernn.nn.streaming import StreamingRNN

FORMAT = "sparsernn.StreamingRNN/1"
CONFIG = ("mode", "input_size", "hidden_size", "num_layers", "batch_first")


def write(stream: StreamingRNN, path: str | Path) -> None:
    """Save ``stream``'s arrays (on the CPU) and configuration to ``path``."""
    config = {key: getattr(stream, key) for key in CONFIG} | {"layouts": stream.layouts}
    tensors = {key: array.detach().cpu().contiguous() for key, array in stream._buffers.items()}
    save_file(tensors, str(path), metadata={"format": FORMAT, "config": json.dumps(config)})


def read(path: str | Path) -> tuple[dict, dict[str, str], dict[str, Tensor]]:
    """``(config, layouts, tensors)`` of a file written by :func:`write` (arrays not yet checked)."""
    try:
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (OSError, SafetensorError) as error:
        raise CheckpointError(f"cannot read StreamingRNN file {path}: {error}") from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a StreamingRNN file (format {metadata.get('format')!r})")
    try:
        config = json.loads(metadata["config"])
        layouts = config.pop("layouts")
        if set(config) != set(CONFIG) or not isinstance(layouts, dict):
            raise ValueError(f"config keys {sorted(config)}, expected {sorted(CONFIG)} and layouts")
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: invalid StreamingRNN metadata: {error}") from None
    return config, layouts, tensors


def checked_matrix(
    name: str, shape: tuple[int, int], layout: str, tensors: dict[str, Tensor]
) -> dict[str, Tensor]:
    """The arrays of matrix ``name`` and its bias, keyed by buffer name; ``ValueError`` if any is bad."""
    rows, columns = shape
    bias_name = name.replace("weight", "bias")
    bias = tensors[bias_name]
    if layout not in blocks.LAYOUTS:
        raise ValueError(f"{name}: unknown layout {layout!r}; expected one of {', '.join(blocks.LAYOUTS)}")
    if bias.shape != (rows,) or not bias.is_floating_point():
        raise ValueError(f"{bias_name}: a bias of the wrong shape or dtype (expected {rows} floats)")
    if layout == "dense":
        arrays = {name: tensors[name]}
        if arrays[name].shape != shape or arrays[name].dtype != bias.dtype:
            raise ValueError(f"{name}: expected a {rows} × {columns} matrix of {bias.dtype}")
    else:
        arrays = {name + suffix: tensors[name + suffix] for suffix in ("_crow", "_col", "_values")}
        crow, col, values = arrays.values()
        index = torch.int16 if layout == "csr16" else torch.int32
        if (crow.dtype, col.dtype, values.dtype) != (torch.int32, index, bias.dtype):
            raise ValueError(f"{name}: CSR arrays of the wrong dtypes for {layout}")
        blocks.check_csr(name, crow, col, values, shape)
    return arrays | {bias_name: bias}
