"""Many graph-structured RNNs run as one: packed parameters and a wavefront recurrence.

:class:`PackedModels` holds the parameters of K :class:`~sparsernn.nn.GraphClassifier` models (same
cell kind) in a few packed tensors laid out by :func:`sparsernn.nn.wavefront_plan.plan`, and
computes all K models' logits in one pass of ``T + depth − 1`` waves (see that module for the
layout). The backward pass is written by hand (backpropagation through the waves), so no autograd
graph is built per time step.

Kernel. On the CPU, in float32 and float64, the waves run in a compiled kernel
(:mod:`sparsernn.nn.wavefront_native`: one C call per batch and direction, inputs read where they
lie in the history); elsewhere, without a C compiler, with ``PackedModels(..., native=False)`` or
``SPARSERNN_WAVEFRONT_KERNEL=0``, they run as torch operations (``_forward_waves``,
``_backward_waves``). Both compute the same functions; results agree to rounding.

Exactness. The packed forward computes the same functions as the K models one by one: every packed
weight entry is one model weight, and padding entries and pruned weights are masked in the forward
itself (bit-wise AND, as the sparse modules do: exact zeros whatever the packed tensors hold, NaN
included, and exactly zero gradient there), so stale values written by an optimizer never reach
the logits or the models (:meth:`PackedModels.store_into` writes the masked values). The models
share no parameter, so the gradient of the sum of the K losses is, per model, the gradient of that
model's own loss. Only the order of floating-point operations differs (block matmuls, tanh through a
sigmoid), so results agree to rounding, not bit for bit.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from sparsernn.errors import ConfigError
from sparsernn.nn.base import SparseRNNBase
from sparsernn.nn.cells import cell_kind
from sparsernn.nn.graph_rnn import GraphClassifier
from sparsernn.nn.inputs import checked_lengths
from sparsernn.nn.mask_ops import MaskedWeight, mask_bits, masked_and
from sparsernn.nn.wavefront_kernels import KERNELS
from sparsernn.nn.wavefront_native import activation_buffers, backward_waves, forward_waves, library
from sparsernn.nn.wavefront_plan import Plan, grouped_maps, plan


class _Workspace:
    """Buffers reused from batch to batch: fresh multi-megabyte tensors cost page faults every step."""

    def __init__(self) -> None:
        self.buffers: dict[str, Tensor] = {}
        self.generation = 0  # which forward the training buffers belong to
        self.clean: dict[str, int] = {}  # name: how many leading values are known to be zero

    def get(self, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        size = math.prod(shape)
        buffer = self.buffers.get(name)
        if buffer is None or buffer.numel() < size or buffer.dtype != dtype:
            buffer = self.buffers[name] = torch.empty(size, dtype=dtype)
            self.clean.pop(name, None)
        return buffer[:size].view(shape)

    def zeros(self, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> tuple[Tensor, int]:
        """A buffer of zeros, cleared only where it is not known to be zero, and how many of its
        leading values were known zero. It counts as dirty until :meth:`mark_clean`."""
        buffer = self.get(name, shape, dtype)
        clean = self.clean.pop(name, 0)
        if clean < buffer.numel():
            buffer.zero_()
            clean = buffer.numel()
        return buffer, clean

    def mark_clean(self, name: str, clean: int) -> None:
        """Record that the first ``clean`` values of buffer ``name`` are zero again."""
        self.clean[name] = clean


class _State:
    """The forward state of one batch: history slabs and per-bucket views into them."""

    def __init__(self, p: Plan, steps: int, emb_seq: Tensor, ws: _Workspace, prefix: str) -> None:
        self.p, self.steps = p, steps
        batch, slabs = emb_seq.shape[-1], p.waves(steps) + p.delay
        self.hist = ws.get(prefix + "hist", (slabs, p.rows, batch), emb_seq.dtype)
        self.hist[:, : p.node_rows[1]].zero_()  # zero row, trash row, inputs, node outputs (summed into)
        self.hist[p.delay - 1 : p.delay - 1 + steps, p.emb_rows[0] : p.emb_rows[1]] = emb_seq
        self.units = [self.hist[:, b.unit_row : b.unit_row + len(b.levels) * p.block] for b in p.buckets]
        self.units = [u.view(slabs, -1, p.block, batch) for u in self.units]  # (S, n, P, B) per bucket
        self.cells = None
        if cell_kind(p.cell).cell_state:
            self.cells = [
                ws.get(f"{prefix}cell{k}", (slabs, len(b.levels), p.block, batch), emb_seq.dtype)
                for k, b in enumerate(p.buckets)
            ]
        for k, bucket in enumerate(p.buckets):  # the state before a block's first step is zero
            for level, lo, hi in bucket.level_slices:
                self.units[k][level - 1 + p.delay, lo:hi].zero_()
                if self.cells is not None:
                    self.cells[k][level - 1 + p.delay, lo:hi].zero_()


def _forward_waves(state: _State, weights, biases, keep: bool) -> list:
    """Run every wave, writing states into the history; return what the backward needs (if ``keep``)."""
    p, hist, steps = state.p, state.hist, state.steps
    forward = KERNELS[p.cell][0]
    batch = hist.shape[-1]
    flat = hist.view(-1, batch)
    node_end = p.node_rows[1]
    saved = []
    for wave in range(p.waves(steps)):
        slab = wave + p.delay
        offset = slab * p.rows
        outputs = hist[slab, :node_end]
        for k, bucket in enumerate(p.buckets):
            lo, hi = bucket.active(wave, steps)
            if lo == hi:
                continue
            width = bucket.width
            x = flat.index_select(0, bucket.index[lo * width : hi * width] + offset).view(
                hi - lo, width, batch
            )
            pre = torch.baddbmm(biases[k][lo:hi], weights[k][lo:hi], x)  # (n, G·P, B)
            units = state.units[k]
            c = (
                None
                if state.cells is None
                else (state.cells[k][slab - 1, lo:hi], state.cells[k][slab, lo:hi])
            )
            extra = forward(pre, units[slab, lo:hi], units[slab - 1, lo:hi], c)
            # node outputs: layer units plus the skip units that target them
            outputs.index_add_(
                0, bucket.node_dst[lo * p.block : hi * p.block], units[slab, lo:hi].flatten(0, 1)
            )
            if keep:
                saved.append((wave, k, lo, hi, x, extra))
    return saved


def _backward_waves(state: _State, dhist: Tensor, saved: list, weights, d_weights, d_biases) -> None:
    p, hist = state.p, state.hist
    backward = KERNELS[p.cell][1]
    batch = hist.shape[-1]
    dflat = dhist.view(-1, batch)
    d_units = [dhist[:, b.unit_row : b.unit_row + len(b.levels) * p.block] for b in p.buckets]
    d_units = [d.view(dhist.shape[0], -1, p.block, batch) for d in d_units]
    carries = None
    if state.cells is not None:
        carries = [hist.new_zeros(len(b.levels), p.block, batch) for b in p.buckets]
    for wave, k, lo, hi, x, extra in reversed(saved):
        slab = wave + p.delay
        bucket, units = p.buckets[k], state.units[k]
        # the node outputs were sums of unit states: their gradient reaches every unit summed in
        d_units[k][slab, lo:hi] += (
            dhist[slab]
            .index_select(0, bucket.node_dst[lo * p.block : hi * p.block])
            .view(hi - lo, p.block, batch)
        )
        c = None if carries is None else (state.cells[k][slab - 1, lo:hi], carries[k][lo:hi])
        dpre = backward(
            extra,
            d_units[k][slab, lo:hi],
            units[slab, lo:hi],
            units[slab - 1, lo:hi],
            d_units[k][slab - 1, lo:hi],
            c,
        )
        dx = torch.bmm(weights[k][lo:hi].transpose(1, 2), dpre)  # (n, F, B)
        index = bucket.index[lo * bucket.width : hi * bucket.width] + slab * p.rows
        dflat.index_add_(0, index, dx.view(-1, batch))
        d_weights[k][lo:hi].baddbmm_(dpre, x.transpose(1, 2))
        d_biases[k][lo:hi] += dpre.sum(-1, keepdim=True)


def _run_forward(state: _State, weights, biases, ws: _Workspace, lib, prefix: str, keep: bool) -> list:
    """All waves, by the compiled kernel (``lib``) or by torch operations; what the backward reads."""
    if lib is None:
        return _forward_waves(state, weights, biases, keep)
    acts = activation_buffers(state, ws.get, prefix, keep)
    forward_waves(lib, state, list(weights), list(biases), acts)
    return acts


def _masked_copy(tensor: Tensor, bits: Tensor | None) -> Tensor:
    """A new tensor: ``tensor`` with +0.0 where ``bits`` is 0 (whatever it held, NaN included)."""
    return tensor.clone() if bits is None else masked_and(tensor, bits)


def _masked_params(n: int, params, bits) -> tuple[list[Tensor], list[Tensor]]:
    """Every bucket's masked weight and masked bias sum ``bih + bhh``, from ``params`` (w, bih, bhh)."""
    masked = [p if b is None else masked_and(p, b) for p, b in zip(params, bits)]
    return masked[:n], [i + h for i, h in zip(masked[n : 2 * n], masked[2 * n :])]


class _Wavefront(torch.autograd.Function):
    """The waves of one training batch; masks the packed parameters (``bits``) both ways itself."""

    @staticmethod
    def forward(
        ctx, p: Plan, ws: _Workspace, lib, steps: int, emb_seq: Tensor, read_index: Tensor, bits, *params
    ):
        n = len(p.buckets)
        weights, biases = _masked_params(n, params, bits)
        state = _State(p, steps, emb_seq, ws, "train_")
        ws.generation += 1
        saved = _run_forward(state, weights, biases, ws, lib, "train_", keep=True)
        ctx.state = (state, saved, ws, ws.generation, lib, weights, bits)
        ctx.save_for_backward(read_index, *params)  # so that changing them before the backward raises
        return state.hist.view(-1, state.hist.shape[-1]).gather(0, read_index)

    @staticmethod
    @once_differentiable  # written by hand, without a graph: a second derivative raises instead of being wrong
    def backward(ctx, d_read: Tensor):
        if ctx.state is None:  # its buffers were consumed by the first backward
            raise RuntimeError(
                "PackedModels: a training forward pass can be backpropagated once "
                "(no retain_graph reuse, no second derivatives)"
            )
        state, saved, ws, generation, lib, weights, bits = ctx.state
        if generation != ws.generation:
            raise RuntimeError("PackedModels: only the latest training forward pass can be backpropagated")
        p, steps = state.p, state.steps
        read_index, *params = ctx.saved_tensors
        n = len(p.buckets)
        d_weights = [torch.zeros_like(w) for w in weights]
        d_biases = [torch.zeros_like(b) for b in params[n : 2 * n]]
        dhist, clean = ws.zeros("grad_hist", tuple(state.hist.shape), state.hist.dtype)
        dhist.view(-1, dhist.shape[-1]).scatter_add_(0, read_index, d_read)
        if lib is None:
            _backward_waves(state, dhist, saved, weights, d_weights, d_biases)
        else:
            backward_waves(lib, state, dhist, saved, weights, d_weights, d_biases)
        ctx.state = None
        d_emb_rows = dhist[p.delay - 1 : p.delay - 1 + steps, p.emb_rows[0] : p.emb_rows[1]]
        d_emb = d_emb_rows.clone()
        if lib is not None:  # the kernel cleared every slab it was done with, but for the inputs
            d_emb_rows.zero_()
            dhist[: p.delay].zero_()  # the slabs before the first wave
            ws.mark_clean("grad_hist", clean)
        for d, b in zip(d_weights, bits):  # masked entries get exactly zero gradient
            if b is not None:
                d.view(b.dtype).bitwise_and_(b)
        d_bih = [_masked_copy(d, b) for d, b in zip(d_biases, bits[n : 2 * n])]
        d_bhh = [_masked_copy(d, b) for d, b in zip(d_biases, bits[2 * n :])]
        return (None, None, None, None, d_emb, None, None, *d_weights, *d_bih, *d_bhh)


class PackedModels(torch.nn.Module):
    """The parameters of K graph classifiers in packed tensors, and their joint forward.

    ``forward(x, lengths)`` returns the logits (K, B, C) of all models for one batch of tokens.
    :meth:`load_from` packs the models' current parameters and masks, :meth:`store_into` writes the
    packed values back into them. The forward masks padding entries and pruned weights itself, so
    whatever an optimizer writes there never reaches the logits or the models. Only the latest
    training forward can be backpropagated (the history buffers are reused). ``block`` is the
    number of units per block of the layout (speed only); ``native=False`` keeps the waves in torch
    operations instead of the compiled kernel.

    Examples
    --------
    >>> import networkx as nx
    >>> from sparsernn.nn import GraphClassifier
    >>> models = [GraphClassifier.from_graph(nx.path_graph(n), "lstm", vocab_size=128) for n in (3, 4)]
    >>> packed = PackedModels(models)
    >>> x = torch.tensor([[66, 84, 69], [66, 69, 0]])
    >>> logits = packed(x)
    >>> logits.shape, torch.allclose(logits[1], models[1](x), atol=1e-6)
    (torch.Size([2, 2, 2]), True)
    """

    def __init__(self, models: list[GraphClassifier], *, block: int = 4, native: bool = True) -> None:
        super().__init__()
        self.plan = plan(models, block=block)  # checks that the models can be packed together
        self.native = native
        self._maps = grouped_maps(self.plan.maps)
        self.readout = models[0].readout
        self._workspace = _Workspace()
        dtype = models[0].head.weight.dtype
        shapes = self.plan.shapes
        self.packed = torch.nn.ParameterDict(
            {key: torch.nn.Parameter(torch.zeros(shape, dtype=dtype)) for key, shape in shapes.items()}
        )
        for key, shape in shapes.items():  # True = a model weight kept; False = pruned or padding
            self.register_buffer(f"mask_{key}", torch.zeros(shape, dtype=torch.bool))
        self.load_from(models)

    def _mask(self, key: str) -> Tensor:
        return getattr(self, f"mask_{key}")

    def _check_count(self, models: list[GraphClassifier]) -> None:
        if len(models) != len(self.plan.depths):
            raise ConfigError(f"{len(self.plan.depths)} models were packed, got {len(models)}")

    def _mask_bits(self, key: str) -> Tensor | None:
        """The mask of packed tensor ``key`` as bits (-1 kept, 0 masked), made at every call so that
        every edit counts; None for the embedding and head bias (no padding, never pruned)."""
        if key in ("emb", "head_b"):
            return None
        return mask_bits(self._mask(key), self.packed[key])

    def _masked(self, key: str) -> Tensor:
        """Packed tensor ``key`` with exact zeros at masked entries, which get zero gradient."""
        bits = self._mask_bits(key)
        return self.packed[key] if bits is None else MaskedWeight.apply(self.packed[key], bits)

    @torch.no_grad()
    def load_from(self, models: list[GraphClassifier]) -> None:
        """Pack the current parameters and masks of ``models`` (the models given at construction).

        Masks may have lost entries since construction, not gained any: the layout has no place for
        a weight pruned at construction (a :class:`~sparsernn.errors.ConfigError` says which).
        """
        self._check_count(models)
        for key in self.plan.shapes:
            self.packed[key].zero_()
            self._mask(key).zero_()
        packed_kept: dict[tuple[int, str], int] = {}
        for k, name, key, dst, src in self._maps:
            value, keep = _parameter(models[k], name)
            keep = keep.reshape(-1)[src]
            self.packed[key].view(-1)[dst] = torch.where(keep, value.reshape(-1)[src], 0.0)
            self._mask(key).view(-1)[dst] = keep
            packed_kept[k, name] = packed_kept.get((k, name), 0) + int(keep.sum())
        for (k, name), count in packed_kept.items():
            if count != int(_parameter(models[k], name)[1].sum()):
                raise ConfigError(
                    f"model {k} keeps weights of {name} that were pruned when it was packed; "
                    "pack the models again (PackedModels) after masks gain entries"
                )

    @torch.no_grad()
    def store_into(self, models: list[GraphClassifier]) -> None:
        """Write the packed parameter values back into ``models`` (exact zeros where pruned)."""
        self._check_count(models)
        masked = {key: self._masked(key) for key in self.plan.shapes}
        for k, name, key, dst, src in self._maps:
            value, _ = _parameter(models[k], name)
            value.view(-1)[src] = masked[key].view(-1)[dst]

    def mask_gradients_(self) -> None:
        """Zero the gradients of padding entries and pruned weights.

        The forward already gives them zero gradient; this also clears what other terms (say a
        penalty computed on ``packed`` directly) put there, so the optimizer state stays clean.
        """
        for key, param in self.packed.items():
            bits = self._mask_bits(key)
            if param.grad is not None and bits is not None:
                param.grad.view(bits.dtype).bitwise_and_(bits)

    def read_index(self, steps: int, lengths: Tensor | None, batch: int) -> Tensor:
        """Flat history positions of every model's last-layer units at its read-out step (rows, B)."""
        p = self.plan
        depth = torch.tensor(p.depths).view(-1, 1, 1)
        if self.readout == "last_valid" and lengths is not None:
            last = (checked_lengths(lengths, batch, steps) - 1).view(1, 1, -1)
        else:
            last = torch.full((1, 1, batch), steps - 1, dtype=torch.long)
        slab = depth - 1 + last + p.delay  # (K, 1, B)
        rows = torch.from_numpy(p.readout_rows).unsqueeze(-1)  # (K, W, 1)
        return (slab * p.rows + rows).view(-1, batch)

    def _library(self, emb: Tensor):
        """The compiled wave kernel for this forward, or None for the torch path."""
        if not self.native or emb.device.type != "cpu":
            return None
        return library(emb.dtype)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Logits (K, B, C) of every model for tokens ``x`` (B, T)."""
        batch, steps = x.shape
        emb = F.embedding(x, self._masked("emb")).permute(1, 2, 0)  # (B, T, E) -> (T, E, B)
        n = len(self.plan.buckets)
        keys = [f"{name}{k}" for name in ("w", "bih", "bhh") for k in range(n)]
        params = [self.packed[key] for key in keys]
        bits = [self._mask_bits(key) for key in keys]
        index = self.read_index(steps, lengths, batch)
        lib = self._library(emb)
        ws = self._workspace
        if torch.is_grad_enabled():
            read = _Wavefront.apply(self.plan, ws, lib, steps, emb, index, bits, *params)
        else:  # evaluation: nothing kept for a backward pass, buffers of their own
            weights, biases = _masked_params(n, params, bits)
            state = _State(self.plan, steps, emb, ws, "eval_")
            _run_forward(state, weights, biases, ws, lib, "eval_", keep=False)
            read = state.hist.view(-1, batch).gather(0, index)
        read = read.view(len(self.plan.depths), -1, batch)  # (K·W, B) -> (K, W, B)
        logits = torch.baddbmm(self._masked("head_b").unsqueeze(-1), self._masked("head_w"), read)
        return logits.transpose(1, 2)  # (K, C, B) -> (K, B, C)


def _parameter(model: GraphClassifier, name: str) -> tuple[Tensor, Tensor]:
    """A parameter of ``model`` by qualified name, and its keep-mask (all True when unmasked)."""
    path, _, leaf = name.rpartition(".")
    module = model.get_submodule(path)
    value = getattr(module, leaf)
    if isinstance(module, SparseRNNBase) and leaf in module.masked_names:
        return value, module.mask(leaf)
    return value, torch.ones_like(value, dtype=torch.bool)
