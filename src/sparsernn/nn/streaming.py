"""Step-by-step inference of a sparse recurrent module with compressed-sparse-row weights.

At batch size 1 a recurrent step is a few matrix–vector products, and their cost is reading the
weights. The fused torch kernels read every weight, kept or pruned; :class:`StreamingRNN` stores only
the kept ones (CSR, 32-bit indices) so a 90 %-sparse layer reads about a sixth of the bytes. Each
layer's input-to-hidden and hidden-to-hidden weights are joined into one matrix, so a step costs one
sparse product per layer:

- RNN and LSTM: ``[W_ih | W_hh] · [x; h] + (b_ih + b_hh)``, rows = gate pre-activations;
- GRU: rows ``r, z`` as above, then ``W_in · x + b_in`` and ``W_hn · h + b_hn`` as separate row blocks,
  because torch's GRU multiplies only the hidden part of the candidate by the reset gate:
  ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``, ``h' = (1 − z) ⊙ n + z ⊙ h``.

Inference only: no gradients, no dropout, one direction, no LSTM projections.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import Tensor

from sparsernn.errors import ConfigError
from sparsernn.nn.base import _effective

State = Tensor | tuple[Tensor, Tensor]


class StreamingRNN(torch.nn.Module):
    """Inference-only copy of a recurrent module that steps through time with sparse weights.

    Build it with :meth:`from_module` from a :class:`~sparsernn.nn.SparseRNN`/``LSTM``/``GRU`` (its masks
    give the sparsity pattern), a plain ``torch.nn.RNN``/``LSTM``/``GRU`` (its exactly-zero weights are
    left out) or one pruned with ``torch.nn.utils.prune``. :meth:`step` advances one time step — the
    call for streams whose samples arrive one at a time — and :meth:`forward` runs a whole sequence
    step by step with the arguments and results of the torch module. Outputs equal the module's up to
    float rounding (the sums run in a different order). Later changes to the source module are not
    seen: build a new one.

    Examples
    --------
    >>> from sparsernn.nn import SparseLSTM
    >>> lstm = SparseLSTM(8, 16, num_layers=2)
    >>> lstm.set_mask("weight_hh_l0", torch.rand(64, 16) > 0.9)
    >>> stream = StreamingRNN.from_module(lstm)
    >>> state = None
    >>> for x in torch.randn(5, 8):          # samples arriving one at a time
    ...     y, state = stream.step(x, state)
    >>> y.shape, state[0].shape
    (torch.Size([16]), torch.Size([2, 16]))
    >>> out, _ = stream(torch.randn(5, 8))   # or a whole sequence, as lstm(...) takes it
    >>> out.shape
    torch.Size([5, 16])
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int, batch_first: bool):
        super().__init__()
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.batch_first = num_layers, batch_first
        self._activate: Callable[..., tuple[Tensor, Tensor | None]] = _CELLS[mode]
        self._names = [(f"weight_l{layer}", f"bias_l{layer}") for layer in range(num_layers)]

    @classmethod
    @torch.no_grad()
    def from_module(cls, module: torch.nn.RNNBase) -> StreamingRNN:
        """Copy the kept weights of ``module`` (an RNN, LSTM or GRU, sparse or not) into CSR form.

        Raises
        ------
        ConfigError
            For anything but a one-direction torch ``RNN``/``LSTM``/``GRU`` without LSTM projections.
        """
        if not isinstance(module, torch.nn.RNNBase) or module.mode not in _CELLS:
            raise ConfigError(
                f"StreamingRNN.from_module expects an RNN, LSTM or GRU module, got {type(module).__name__}"
            )
        if module.bidirectional:
            raise ConfigError("StreamingRNN cannot stream a bidirectional module (it needs the future)")
        if getattr(module, "proj_size", 0):
            raise ConfigError("StreamingRNN does not support LSTM projections (proj_size > 0)")
        stream = cls(
            module.mode, module.input_size, module.hidden_size, module.num_layers, module.batch_first
        )
        for layer, (weight_name, bias_name) in enumerate(stream._names):
            weight, bias = _joined_layer(module, layer)
            stream.register_buffer(weight_name, weight, persistent=False)
            stream.register_buffer(bias_name, bias, persistent=False)
        return stream.eval()

    def nnz(self) -> int:
        """Number of stored weights (kept entries of all layers)."""
        return sum(int(self._weight(layer).values().numel()) for layer in range(self.num_layers))

    def initial_state(self, batch: int | None = None) -> State:
        """Zero state in torch's layout: ``(num_layers, H)`` (or ``(num_layers, batch, H)``), a pair for LSTM."""
        weight = self._weight(0).values()
        shape = (
            (self.num_layers, self.hidden_size)
            if batch is None
            else (self.num_layers, batch, self.hidden_size)
        )
        h = torch.zeros(shape, dtype=weight.dtype, device=weight.device)
        return (h, torch.zeros_like(h)) if self.mode == "LSTM" else h

    def step(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Advance one time step (no gradients are recorded).

        Parameters
        ----------
        x : Tensor
            Input of shape ``(input_size,)``, or ``(batch, input_size)``.
        state : Tensor or (Tensor, Tensor), optional
            State in torch's layout (``h`` of shape ``(num_layers, [batch,] hidden)``; ``(h, c)`` for an
            LSTM); zeros when omitted.

        Returns
        -------
        (Tensor, state)
            The last layer's new hidden state, ``(hidden,)`` or ``(batch, hidden)``, and the new state.
        """
        # Per-call overhead matters here (a step at batch 1 is tens of microseconds): no grad-mode
        # context per call, only a detach when a gradient could be recorded at all.
        if x.dim() not in (1, 2) or x.shape[-1] != self.input_size:
            raise ConfigError(
                f"step expects input of shape ({self.input_size},) or (batch, {self.input_size}), "
                f"got {tuple(x.shape)}"
            )
        if x.requires_grad:
            x = x.detach()
        batch = None if x.dim() == 1 else x.shape[0]
        state = self.initial_state(batch) if state is None else state
        h_all, c_all = state if isinstance(state, tuple) else (state, None)
        new_h, new_c = [], []
        for layer, (weight_name, bias_name) in enumerate(self._names):
            h, c = h_all[layer], None if c_all is None else c_all[layer]
            joined = torch.cat((x, h), dim=-1)
            weight, bias = self._buffers[weight_name], self._buffers[bias_name]
            if batch is None:
                pre = torch.addmv(bias, weight, joined)
            else:
                pre = torch.addmm(bias.unsqueeze(1), weight, joined.T).T
            x, c = self._activate(pre, h, c, self.hidden_size)
            new_h.append(x)
            new_c.append(c)
        h_out = torch.stack(new_h)
        return x, (h_out, torch.stack(new_c)) if self.mode == "LSTM" else h_out

    @torch.no_grad()
    def forward(self, input: Tensor, hx: State | None = None) -> tuple[Tensor, State]:
        """Run a whole sequence step by step; same arguments and results as the torch module's forward."""
        if not isinstance(input, Tensor) or input.dim() not in (2, 3):
            raise ConfigError(
                "StreamingRNN expects a (seq, input) or (seq, batch, input) tensor (batch first if so "
                "built); packed sequences are not supported"
            )
        if input.dim() == 3 and self.batch_first:
            input = input.transpose(0, 1)
        state = hx
        outputs = []
        for x in input:
            y, state = self.step(x, state)
            outputs.append(y)
        output = torch.stack(outputs)
        if input.dim() == 3 and self.batch_first:
            output = output.transpose(0, 1)
        return output, state

    def extra_repr(self) -> str:
        dense = sum(self._weight(layer).numel() for layer in range(self.num_layers))
        return (
            f"{self.mode}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"stored={self.nnz()} of {dense}"
        )

    def _weight(self, layer: int) -> Tensor:
        return self._buffers[self._names[layer][0]]


def _joined_layer(module: torch.nn.RNNBase, layer: int) -> tuple[Tensor, Tensor]:
    """Layer ``layer``'s joined CSR weight ``[ih | hh]`` and bias, rows in the order :data:`_CELLS` reads.

    LSTM rows become ``i, f, o, g`` (torch: ``i, f, g, o``) so the three sigmoid gates are contiguous;
    GRU rows are ``r, z`` joined, then the candidate's input part and its hidden part, apart.
    """
    w_ih, keep_ih = _effective(module, f"weight_ih_l{layer}")
    w_hh, keep_hh = _effective(module, f"weight_hh_l{layer}")
    keep_ih = w_ih != 0 if keep_ih is None else keep_ih
    keep_hh = w_hh != 0 if keep_hh is None else keep_hh
    if module.bias:
        b_ih = _effective(module, f"bias_ih_l{layer}")[0]
        b_hh = _effective(module, f"bias_hh_l{layer}")[0]
    else:
        b_ih = b_hh = w_ih.new_zeros(w_ih.shape[0])
    weight, keep = torch.cat((w_ih, w_hh), 1), torch.cat((keep_ih, keep_hh), 1)
    bias = b_ih + b_hh
    hidden, inputs = module.hidden_size, w_ih.shape[1]
    if module.mode == "LSTM":
        order = torch.cat([torch.arange(k * hidden, (k + 1) * hidden) for k in (0, 1, 3, 2)])
        weight, keep, bias = weight[order], keep[order], bias[order]
    elif module.mode == "GRU":
        candidate = slice(2 * hidden, 3 * hidden)
        hidden_part = torch.zeros_like(keep[candidate])
        hidden_part[:, inputs:] = keep[candidate, inputs:]
        input_part = keep[candidate] & ~hidden_part
        weight = torch.cat((weight, weight[candidate]))
        keep = torch.cat((keep[: 2 * hidden], input_part, hidden_part))
        bias = torch.cat((bias[: 2 * hidden], b_ih[candidate], b_hh[candidate]))
    return _csr(weight, keep), bias.detach().clone()


def _csr(weight: Tensor, keep: Tensor) -> Tensor:
    """CSR tensor of the entries of ``weight`` where ``keep``; 32-bit indices when they fit (faster kernels)."""
    index = torch.int32 if keep.numel() < 2**31 else torch.int64
    rows = torch.zeros(weight.shape[0] + 1, dtype=torch.int64, device=weight.device)
    rows[1:] = torch.cumsum(keep.sum(1), 0)
    cols = keep.nonzero()[:, 1]
    with warnings.catch_warnings():  # torch notes once that its CSR support is "beta"
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            rows.to(index),
            cols.to(index),
            weight[keep].detach().clone(),
            size=tuple(weight.shape),
            check_invariants=True,
        )


def _rnn(nonlinearity: Callable[[Tensor], Tensor]) -> Callable:
    def activate(pre: Tensor, h: Tensor, c: Tensor | None, hidden: int) -> tuple[Tensor, None]:
        return nonlinearity(pre), None

    return activate


def _lstm(pre: Tensor, h: Tensor, c: Tensor, hidden: int) -> tuple[Tensor, Tensor]:
    gates = torch.sigmoid(pre[..., : 3 * hidden])
    i, f, o = gates.tensor_split(3, dim=-1)
    c = torch.addcmul(f * c, i, torch.tanh(pre[..., 3 * hidden :]))
    return o * torch.tanh(c), c


def _gru(pre: Tensor, h: Tensor, c: None, hidden: int) -> tuple[Tensor, None]:
    r, z = torch.sigmoid(pre[..., : 2 * hidden]).tensor_split(2, dim=-1)
    n = torch.tanh(torch.addcmul(pre[..., 2 * hidden : 3 * hidden], r, pre[..., 3 * hidden :]))
    return torch.lerp(n, h, z), None  # (1 − z) ⊙ n + z ⊙ h


_CELLS = {"RNN_TANH": _rnn(torch.tanh), "RNN_RELU": _rnn(torch.relu), "LSTM": _lstm, "GRU": _gru}
"""torch's ``module.mode`` → activation of one step from the joined pre-activations."""
