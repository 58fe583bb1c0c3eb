"""Storage of :class:`~sparsernn.nn.StreamingRNN`'s weight matrices, and its pure-torch step.

Each torch weight matrix (``weight_ih_l0``, ``weight_hh_l0``, ...) is stored on its own, in one of three
layouts (:data:`LAYOUTS`):

- ``dense``: the masked matrix, row-major (read in full; fastest when most weights are kept);
- ``csr16``: compressed sparse rows with 16-bit column indices (6 bytes per kept float32 weight), when
  the matrix has at most 32,768 columns;
- ``csr32``: the same with 32-bit column indices (8 bytes per kept float32 weight).

``auto`` picks the faster layout. With the compiled kernel it times both on the matrix itself at build
time, for one sample and for a group of 16, and keeps CSR only if it wins both
(:func:`sparsernn.nn.streaming_kernels.faster_layout`), when the density is in :data:`MEASURED_BAND`; otherwise CSR when the density is at most :data:`CSR_CROSSOVER`, the density at
which the compiled CSR and dense products of a 4096 × 1280 matrix took the same time at batch 1 on one
thread (see ``docs/streaming.md``). Below it the CSR product reads fewer bytes than its index work
costs.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from sparsernn.errors import ConfigError
from sparsernn.nn.base import effective_parameter
from sparsernn.nn.cells import CellKind

CSR_CROSSOVER = 0.4
"""Highest density at which ``layout="auto"`` stores a matrix as CSR when it is not measured."""
MEASURED_BAND = (0.1, 0.6)
"""Densities at which ``layout="auto"`` times both layouts with the compiled kernel: outside it the
faster layout is clear; inside it depends on the matrix (small ones run dense from cache, so their
crossover lies lower) and on the machine."""
MEASURED_SIZE = 2**16
"""Smallest matrix (entries) that ``layout="auto"`` times: smaller ones take microseconds either way."""
LAYOUTS = ("dense", "csr16", "csr32")
CHOICES = ("auto", "csr", *LAYOUTS)
PARTS = ("ih", "hh")
_INT16_COLUMNS = 2**15


def kept(module: torch.nn.RNNBase, name: str) -> tuple[Tensor, Tensor]:
    """``(value, keep)`` of weight ``name``: masked value, and where it is kept (non-zero if unmasked)."""
    value, keep = effective_parameter(module, name)
    return value, value != 0 if keep is None else keep


def choose_layout(keep: Tensor, layout: str) -> str:
    """The layout of a matrix with kept entries ``keep`` when ``layout`` (one of :data:`CHOICES`) is asked.

    ``csr`` is CSR with the narrowest column index that fits; ``auto`` is ``csr`` at density at most
    :data:`CSR_CROSSOVER`, else ``dense``.
    """
    if layout not in CHOICES:
        raise ConfigError(f"unknown layout {layout!r}; choose from {', '.join(CHOICES)}")
    narrow = keep.shape[1] <= _INT16_COLUMNS
    if layout == "csr16" and not narrow:
        raise ConfigError(f"layout 'csr16' holds at most {_INT16_COLUMNS} columns, got {keep.shape[1]}")
    if layout in LAYOUTS:
        return layout
    density = float(keep.float().mean()) if keep.numel() else 0.0
    if layout == "dense" or (layout == "auto" and density > CSR_CROSSOVER):
        return "dense"
    return "csr16" if narrow else "csr32"


def measured(keep: Tensor) -> bool:
    """Whether ``layout="auto"`` times both layouts of a matrix with kept entries ``keep``."""
    low, high = MEASURED_BAND
    return keep.numel() >= MEASURED_SIZE and low <= float(keep.float().mean()) <= high


def store(weight: Tensor, keep: Tensor, layout: str) -> dict[str, Tensor]:
    """The arrays of one matrix in ``layout`` (a concrete one of :data:`LAYOUTS`), keyed by suffix."""
    weight = weight.detach()
    if layout == "dense":
        return {"": torch.where(keep, weight, torch.zeros_like(weight)).contiguous()}
    crow = torch.zeros(weight.shape[0] + 1, dtype=torch.int64, device=weight.device)
    crow[1:] = torch.cumsum(keep.sum(1), 0)
    cols = keep.nonzero()[:, 1]
    return {
        "_crow": crow.to(torch.int32),
        "_col": cols.to(torch.int16 if layout == "csr16" else torch.int32),
        "_values": weight[keep].clone(),
    }


def sell(crow: Tensor, col: Tensor, values: Tensor, lanes: int = 16) -> dict[str, Tensor]:
    """The CSR matrix in SELL-``lanes`` order, for the compiled batch-1 product.

    Rows sorted by length (longest first) and cut into slices of ``lanes`` rows; within a slice the
    entries are stored column-major (entry ``j`` of the slice's rows side by side), padded with zeros
    to the slice's longest row, so one vector op advances ``lanes`` rows at once. ``perm`` gives the row
    of each lane (``-1`` for padding rows), ``offsets`` and ``widths`` each slice's start and length.
    """
    lengths = crow.diff().long()
    rows = lengths.numel()
    slices = -(-rows // lanes)
    order = torch.sort(lengths, descending=True, stable=True).indices
    perm = torch.full((slices * lanes,), -1, dtype=torch.int64)
    perm[:rows] = order
    sorted_lengths = torch.zeros(slices * lanes, dtype=torch.int64)
    sorted_lengths[:rows] = lengths[order]
    widths = sorted_lengths.view(slices, lanes)[:, 0]
    offsets = torch.zeros(slices, dtype=torch.int64)
    offsets[1:] = torch.cumsum(widths * lanes, 0)[:-1]
    position = torch.empty(rows, dtype=torch.int64)
    position[order] = torch.arange(rows)
    row_of = torch.repeat_interleave(torch.arange(rows), lengths)
    within = torch.arange(col.numel()) - crow.long()[row_of]
    slot = offsets[position[row_of] // lanes] + lanes * within + position[row_of] % lanes
    total = int((widths * lanes).sum())
    sell_col, sell_values = col.new_zeros(total), values.new_zeros(total)
    sell_col[slot], sell_values[slot] = col, values
    return {
        "offsets": offsets.to(torch.int32),
        "widths": widths.to(torch.int32),
        "perm": perm.to(torch.int32),
        "col": sell_col,
        "values": sell_values,
    }


def check_csr(name: str, crow: Tensor, col: Tensor, values: Tensor, shape: tuple[int, int]) -> None:
    """Raise ``ValueError`` naming ``name`` unless the CSR arrays describe a valid ``shape`` matrix.

    The compiled kernel trusts its arrays: a corrupt file must be refused here, not read out of bounds.
    """
    rows, cols = shape
    if crow.dim() != 1 or crow.numel() != rows + 1 or col.dim() != 1 or values.shape != col.shape:
        raise ValueError(f"{name}: CSR arrays of the wrong shape for a {rows} × {cols} matrix")
    if int(crow[0]) != 0 or int(crow[-1]) != col.numel() or bool((crow.diff() < 0).any()):
        raise ValueError(f"{name}: row pointers are not non-decreasing from 0 to {col.numel()}")
    if col.numel() and (int(col.min()) < 0 or int(col.max()) >= cols):
        raise ValueError(f"{name}: column indices outside 0..{cols - 1}")


def torch_csr(crow: Tensor, col: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    """A torch sparse CSR tensor of the stored arrays (32-bit indices, as torch's kernels want)."""
    with warnings.catch_warnings():  # torch notes once that its CSR support is "beta"
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, col.to(torch.int32), values, size=shape, check_invariants=False)


def product(weight: Tensor, bias: Tensor, x: Tensor) -> Tensor:
    """``W x + b`` for ``x`` of shape ``(in,)`` or ``(batch, in)``; ``weight`` dense or sparse CSR."""
    if x.dim() == 1:
        return torch.addmv(bias, weight, x)
    if weight.layout == torch.strided:
        return torch.addmm(bias, x, weight.T)
    return torch.addmm(bias.unsqueeze(1), weight, x.T).T


def torch_step(
    kind: CellKind, matrices: list[tuple[Tensor, Tensor]], x: Tensor, h: Tensor, c: Tensor | None
) -> tuple[Tensor, Tensor | None]:
    """One step of a stack in torch operations: new ``(h, c)`` in torch's layout (``c`` for an LSTM).

    ``matrices`` holds ``(weight, bias)`` per layer, the input-to-hidden one first; a weight is a dense
    tensor or a torch sparse CSR tensor.
    """
    new_h, new_c = [], []
    for layer in range(h.shape[0]):
        (w_ih, b_ih), (w_hh, b_hh) = matrices[2 * layer : 2 * layer + 2]
        gi, gh = product(w_ih, b_ih, x), product(w_hh, b_hh, h[layer])
        x, c_new = activate(kind, gi, gh, h[layer], None if c is None else c[layer])
        new_h.append(x)
        new_c.append(c_new)
    return torch.stack(new_h), torch.stack(new_c) if kind.cell_state else None


def describe(state: object) -> str:
    """Shapes of a state argument, for error messages."""
    if isinstance(state, tuple):
        return "(" + ", ".join(describe(part) for part in state) + ")"
    return f"shape {tuple(state.shape)}" if isinstance(state, Tensor) else type(state).__name__


def activate(
    kind: CellKind, gi: Tensor, gh: Tensor, h: Tensor, c: Tensor | None
) -> tuple[Tensor, Tensor | None]:
    """New ``(h, c)`` of one cell from its input part ``gi`` and hidden part ``gh`` (torch's gate order)."""
    if kind.nonlinearity is not None:
        return (torch.tanh if kind.nonlinearity == "tanh" else torch.relu)(gi + gh), None
    if kind.cell_state:
        i, f, g, o = (gi + gh).chunk(kind.gate_count, dim=-1)
        c = torch.addcmul(torch.sigmoid(f) * c, torch.sigmoid(i), torch.tanh(g))
        return torch.sigmoid(o) * torch.tanh(c), c
    split = kind.split_row(h.shape[-1])  # GRU: r, z summed; the candidate's two parts kept apart
    i_rz, i_n = gi.tensor_split((split,), dim=-1)
    h_rz, h_n = gh.tensor_split((split,), dim=-1)
    r, z = torch.sigmoid(i_rz + h_rz).chunk(2, dim=-1)
    n = torch.tanh(torch.addcmul(i_n, r, h_n))
    return torch.lerp(n, h, z), None  # (1 − z) ⊙ n + z ⊙ h
