"""Step-by-step inference of a sparse recurrent module, each weight matrix stored dense or as CSR.

At batch size 1 a recurrent step is a few matrix–vector products, and their cost is reading the
weights. The fused torch kernels read every weight, kept or pruned; :class:`StreamingRNN` stores each
weight matrix in the cheaper of two layouts (:mod:`sparsernn.nn.streaming_blocks`): dense, or only the
kept weights in compressed sparse rows with 16-bit column indices (6 bytes per kept float32 weight, so
a 90 %-sparse matrix reads 15 % of the dense bytes). A whole step — every layer's products, biases and
activations — is one call of a small compiled kernel (:mod:`sparsernn.nn.streaming_kernels`); where it
cannot be built, the same step runs as torch operations. The cell equations are torch's:

- RNN: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``;
- LSTM: gates ``i, f, g, o`` from the sum of both products, ``c' = f ⊙ c + i ⊙ g``, ``h' = o ⊙ tanh(c')``;
- GRU: ``r, z`` from the sum of both products, ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``,
  ``h' = (1 − z) ⊙ n + z ⊙ h``.

Inference only: no gradients, no dropout, one direction, no LSTM projections.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from sparsernn.errors import CheckpointError, ConfigError
from sparsernn.nn import streaming_blocks as blocks
from sparsernn.nn import streaming_io
from sparsernn.nn import streaming_kernels as kernels
from sparsernn.nn.cells import mode_kind

State = Tensor | tuple[Tensor, Tensor]
BACKENDS = ("auto", "compiled", "torch")


class StreamingRNN(torch.nn.Module):
    """Inference-only copy of a recurrent module that steps through time with sparse weights.

    Build it with :meth:`from_module` from a :class:`~sparsernn.nn.SparseRNN`/``LSTM``/``GRU`` (its masks
    give the sparsity pattern), a plain ``torch.nn.RNN``/``LSTM``/``GRU`` (its exactly-zero weights are
    left out) or one pruned with ``torch.nn.utils.prune``; or :meth:`load` one saved with :meth:`save`.
    :meth:`step` advances one time step — the call for streams whose samples arrive one at a time — and
    :meth:`forward` runs a whole sequence step by step with the arguments and results of the torch
    module. Outputs equal the module's up to float rounding (the sums run in a different order). Later
    changes to the source module are not seen: build a new one.

    Attributes
    ----------
    layouts : dict[str, str]
        Storage of each weight matrix by torch parameter name: ``"dense"``, ``"csr16"`` or ``"csr32"``.
    backend : str
        ``"compiled"`` when steps run in the compiled kernel, ``"torch"`` when in torch operations.

    Examples
    --------
    >>> from sparsernn.nn import SparseLSTM
    >>> lstm = SparseLSTM(8, 16, num_layers=2)
    >>> lstm.set_mask("weight_hh_l0", torch.rand(64, 16) > 0.9)
    >>> stream = StreamingRNN.from_module(lstm)
    >>> stream.layouts["weight_hh_l0"], stream.layouts["weight_ih_l0"]
    ('csr16', 'dense')
    >>> state = None
    >>> for x in torch.randn(5, 8):          # samples arriving one at a time
    ...     y, state = stream.step(x, state)
    >>> y.shape, state[0].shape
    (torch.Size([16]), torch.Size([2, 16]))
    >>> out, _ = stream(torch.randn(5, 8))   # or a whole sequence, as lstm(...) takes it
    >>> out.shape
    torch.Size([5, 16])
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        batch_first: bool = False,
        backend: str = "auto",
    ):
        super().__init__()
        self._kind = mode_kind(mode)
        if backend not in BACKENDS:
            raise ConfigError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.batch_first = num_layers, batch_first
        self.layouts: dict[str, str] = {}
        self._requested, self.backend = backend, "torch"
        self._plan: Tensor | None = None
        self._plan_dtype: torch.dtype | None = None
        self._kernel = None
        self._fixed: tuple[int, ...] = ()
        self._lstm, self._mode_code = self._kind.cell_state, kernels.MODES[mode]
        self._state_shape = (num_layers, hidden_size)
        self._csr: dict[str, Tensor] = {}
        self._sell: list[dict[str, Tensor] | None] = []

    @classmethod
    @torch.no_grad()
    def from_module(
        cls, module: torch.nn.RNNBase, *, layout: str = "auto", backend: str = "auto"
    ) -> StreamingRNN:
        """Copy the kept weights of ``module`` (an RNN, LSTM or GRU, sparse or not).

        Parameters
        ----------
        module : torch.nn.RNNBase
            The module to copy (masks or exact zeros give the pruned weights).
        layout : {"auto", "dense", "csr", "csr16", "csr32"}
            Storage of every weight matrix. ``"auto"`` picks the faster one: with the compiled
            kernel it times both layouts of each matrix of at least 65,536 entries whose density lies
            in :data:`~sparsernn.nn.streaming_blocks.MEASURED_BAND`, for one sample and for 16, and
            keeps CSR only if it wins both (milliseconds per matrix); else
            CSR at density at most :data:`~sparsernn.nn.streaming_blocks.CSR_CROSSOVER`.
            ``"csr"`` is CSR with the narrowest column index that fits. :attr:`layouts` says which.
        backend : {"auto", "compiled", "torch"}
            ``"auto"`` uses the compiled kernel when it can be built and the weights are float32 or
            float64 on the CPU; ``"compiled"`` insists on it; ``"torch"`` always steps in torch.

        Raises
        ------
        ConfigError
            For anything but a one-direction torch ``RNN``/``LSTM``/``GRU`` without LSTM projections,
            or an unknown layout or backend.
        """
        if not isinstance(module, torch.nn.RNNBase) or module.mode not in kernels.MODES:
            raise ConfigError(
                f"StreamingRNN.from_module expects an RNN, LSTM or GRU module, got {type(module).__name__}"
            )
        if module.bidirectional:
            raise ConfigError("StreamingRNN cannot stream a bidirectional module (it needs the future)")
        if getattr(module, "proj_size", 0):
            raise ConfigError("StreamingRNN does not support LSTM projections (proj_size > 0)")
        stream = cls(
            module.mode, module.input_size, module.hidden_size, module.num_layers, module.batch_first, backend
        )
        library = kernels.kernel(module.weight_ih_l0.dtype) if backend != "torch" else None
        measure = layout == "auto" and library is not None and module.weight_ih_l0.device.type == "cpu"
        for name in stream._matrix_names():
            weight, keep = blocks.kept(module, name)
            stream.layouts[name] = blocks.choose_layout(keep, layout)
            if measure and blocks.measured(keep):
                stream.layouts[name] = kernels.faster_layout(
                    library, weight.detach(), keep, stream.layouts[name]
                )
            for suffix, array in blocks.store(weight, keep, stream.layouts[name]).items():
                stream.register_buffer(name + suffix, array, persistent=False)
            bias_name = name.replace("weight", "bias")
            bias = blocks.kept(module, bias_name)[0] if module.bias else weight.new_zeros(weight.shape[0])
            stream.register_buffer(bias_name, bias.detach().clone(), persistent=False)
        return stream._refresh().eval()

    def save(self, path: str | Path) -> None:
        """Write the stored arrays and the configuration to a safetensors file (no pickle).

        The file holds each matrix's arrays (dense, or CSR row pointers, column indices and values),
        the biases, and the configuration and layouts as JSON metadata: see
        :mod:`sparsernn.nn.streaming_io`. :meth:`load` reads it back without the training stack.
        """
        streaming_io.write(self, path)

    @classmethod
    def load(cls, path: str | Path, *, backend: str = "auto") -> StreamingRNN:
        """Read a file written by :meth:`save`; every array is checked before the kernel may read it.

        Raises
        ------
        CheckpointError
            For a missing, corrupt or foreign file, naming the file and what is wrong.
        """
        config, layouts, tensors = streaming_io.read(path)
        try:
            stream = cls(**config, backend=backend)
            for name in stream._matrix_names():
                arrays = streaming_io.checked_matrix(name, stream._shape(name), layouts[name], tensors)
                stream.layouts[name] = layouts[name]
                for key, array in arrays.items():
                    stream.register_buffer(key, array, persistent=False)
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{path}: invalid StreamingRNN contents: {error}") from None
        return stream._refresh().eval()

    def nnz(self) -> int:
        """Number of stored weights of the CSR matrices plus all entries of the dense ones."""
        return sum(self._matrix(name)[0].numel() for name in self.layouts)

    def initial_state(self, batch: int | None = None) -> State:
        """Zero state in torch's layout: ``(num_layers, H)`` (or ``(num_layers, batch, H)``), a pair for LSTM."""
        bias = self._buffers["bias_ih_l0"]
        shape = (
            (self.num_layers, self.hidden_size)
            if batch is None
            else (self.num_layers, batch, self.hidden_size)
        )
        h = torch.zeros(shape, dtype=bias.dtype, device=bias.device)
        return (h, torch.zeros_like(h)) if self._kind.cell_state else h

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
        # A step at batch 1 takes tens of microseconds: checks stay cheap, no grad-mode context per call.
        if x.dim() not in (1, 2) or x.shape[-1] != self.input_size:
            raise ConfigError(
                f"step expects input of shape ({self.input_size},) or (batch, {self.input_size}), "
                f"got {tuple(x.shape)}"
            )
        h, c = state if isinstance(state, tuple) else (state, None)
        batched = x.dim() == 2
        batch = x.shape[0] if batched else 1
        shape = (self.num_layers, batch, self.hidden_size) if batched else self._state_shape
        if state is not None and (
            h is None
            or h.shape != shape
            or (c is not None and c.shape != shape)
            or self._lstm != (c is not None)
        ):
            expected = f"(h, c), each of shape {shape}" if self._lstm else f"h of shape {shape}"
            raise ConfigError(f"step expects the state as {expected}, got {blocks.describe(state)}")
        if x.requires_grad or (h is not None and h.requires_grad) or (c is not None and c.requires_grad):
            x, h, c = (None if t is None else t.detach() for t in (x, h, c))
        dtype = self._plan_dtype  # None without the compiled kernel; dtypes are singletons
        if (
            x.dtype is dtype
            and x.is_cpu
            and (h is None or (h.dtype is dtype and h.is_cpu))
            and (c is None or (c.dtype is dtype and c.is_cpu))
        ):
            # The kernel reads raw memory: shapes, dtypes and devices were checked above.
            x = x.contiguous()
            h_out = torch.empty(shape, dtype=dtype)
            c_out = torch.empty(shape, dtype=dtype) if self._lstm else None
            code = self._kernel(
                *self._fixed,
                batch,
                x.data_ptr(),
                None if h is None else h.contiguous().data_ptr(),
                None if c is None else c.contiguous().data_ptr(),
                h_out.data_ptr(),
                None if c_out is None else c_out.data_ptr(),
            )
            if code:
                raise MemoryError("the streaming kernel could not allocate its work space")
        else:
            h_out, c_out = self._torch_step(x, h, c)
        return h_out[-1], (h_out, c_out) if self._lstm else h_out

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
        counts = {layout: list(self.layouts.values()).count(layout) for layout in blocks.LAYOUTS}
        return (
            f"{self.mode}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"stored={self.nnz()}, layouts={ {k: v for k, v in counts.items() if v} }, backend={self.backend}"
        )

    # -- internals -------------------------------------------------------------------------------

    def _matrix_names(self) -> list[str]:
        return [f"weight_{part}_l{layer}" for layer in range(self.num_layers) for part in blocks.PARTS]

    def _shape(self, name: str) -> tuple[int, int]:
        columns = self.input_size if name == "weight_ih_l0" else self.hidden_size
        return self._kind.gate_count * self.hidden_size, columns

    def _matrix(self, name: str) -> tuple[Tensor, ...]:
        """The stored arrays of matrix ``name``: ``(dense,)`` or ``(values, crow, col)``."""
        if self.layouts[name] == "dense":
            return (self._buffers[name],)
        return tuple(self._buffers[name + suffix] for suffix in ("_values", "_crow", "_col"))

    def _refresh(self) -> StreamingRNN:
        """Point the compiled kernel at the current arrays (after building, loading or moving them)."""
        self._csr, self._sell, self._plan, self._plan_dtype = {}, [], None, None
        dtype = self._buffers["bias_ih_l0"].dtype
        on_cpu = all(buffer.device.type == "cpu" for buffer in self._buffers.values())
        step = kernels.kernel(dtype) if self._requested != "torch" and on_cpu else None
        if step is None and self._requested == "compiled":
            raise ConfigError(
                "the compiled streaming kernel is unavailable (it needs float32 or float64 weights on the "
                "CPU, a C compiler, and SPARSERNN_STREAMING_KERNEL not set to 0); use backend='auto'"
            )
        self.backend = "torch" if step is None else "compiled"
        if step is not None:
            matrices = [
                (self.layouts[name], self._matrix(name), self._buffers[name.replace("weight", "bias")])
                for name in self._matrix_names()
            ]
            self._plan, self._sell = kernels.stack_plan(step, matrices)
            self._plan_dtype, self._kernel = dtype, step.step
            # The kernel's leading arguments, the same for every step.
            self._fixed = (
                self._plan.data_ptr(),
                self.num_layers,
                self._mode_code,
                self.input_size,
                self.hidden_size,
            )
        return self

    def __getstate__(self) -> dict:  # copy.deepcopy: no raw addresses or ctypes handles travel
        dropped = {
            "_kernel": None,
            "_plan": None,
            "_plan_dtype": None,
            "_fixed": None,
            "_csr": {},
            "_sell": [],
        }
        return self.__dict__ | dropped

    def __setstate__(self, state: dict) -> None:  # ... and the copy points the kernel at its own arrays
        super().__setstate__(state)
        if self.layouts:
            self._refresh()

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        return self._refresh() if self.layouts else self

    def _torch_step(self, x: Tensor, h: Tensor | None, c: Tensor | None) -> tuple[Tensor, Tensor | None]:
        if h is None:
            zero = self.initial_state(None if x.dim() == 1 else x.shape[0])
            h, c = zero if isinstance(zero, tuple) else (zero, None)
        matrices = [
            (self._torch_weight(name), self._buffers[name.replace("weight", "bias")])
            for name in self._matrix_names()
        ]
        return blocks.torch_step(self._kind, matrices, x, h, c)

    def _torch_weight(self, name: str) -> Tensor:
        """Matrix ``name`` as torch takes it: the dense array, or a (cached) torch CSR tensor."""
        arrays = self._matrix(name)
        if len(arrays) == 1:
            return arrays[0]
        if name not in self._csr:
            values, crow, col = arrays
            self._csr[name] = blocks.torch_csr(crow, col, values, self._shape(name))
        return self._csr[name]
