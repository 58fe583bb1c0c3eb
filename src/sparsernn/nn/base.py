"""The masks of the sparse recurrent modules: torch's fused RNN/LSTM/GRU with one bool mask per weight.

:class:`SparseRNNBase` holds what SparseRNN, SparseLSTM and SparseGRU share. Each of them *is* a
``torch.nn.RNN`` / ``LSTM`` / ``GRU`` (same constructor, forward contract and parameter names) with one
extra bool buffer ``<param>_mask`` per weight matrix (``weight_ih_l0_mask``, ``weight_hh_l0_mask``, ...,
the naming of ``torch.nn.utils.prune``); True = kept, False = pruned.

How the masks hold (and why not ``torch.nn.utils.parametrize``: re-parametrized RNN weights silently
stop updating in PyTorch):

- ``forward`` hands torch's fused kernel the products ``weight * mask`` instead of the raw weights, for
  the duration of the call only (a mask that keeps everything is skipped). Every forward therefore
  sees exact zeros, and the gradient of every pruned entry is exactly zero by the chain rule, so SGD
  (momentum, weight decay), Adam and AdamW leave pruned weights at zero as long as their state was
  built under the mask.
- ``set_mask``, ``apply_masks_``, ``reset_parameters`` and ``load_state_dict`` zero the pruned weights in
  place, so the stored parameters hold the zeros too (what a plain torch module loads).
- Optimizer state built *before* a mask was set (momentum, Adam moments) would revive pruned weights;
  :func:`sparsernn.nn.keep_masks` re-applies the masks after every optimizer step for that case.

The swap of ``_flat_weights`` makes one module instance unsafe to call from two threads at once, and
TorchScript cannot compile these modules. On CUDA the masked weights are not cuDNN's flattened
buffer, so cuDNN copies them into one at each call (torch may warn about it); CPU is what is tested.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from sparsernn.errors import ConfigError, MaskError

MASK_SUFFIX = "_mask"


class SparseRNNBase(torch.nn.RNNBase):
    """What SparseRNN, SparseLSTM and SparseGRU share: mask buffers, masked forward, conversion.

    Not instantiated directly; use :class:`SparseRNN`, :class:`SparseLSTM` or :class:`SparseGRU`.
    ``isinstance(m, SparseRNNBase)`` tells whether a module carries masks.

    Examples
    --------
    >>> from sparsernn.nn import SparseGRU
    >>> isinstance(SparseGRU(2, 3), SparseRNNBase), isinstance(torch.nn.GRU(2, 3), SparseRNNBase)
    (True, False)
    """

    _wraps: type[torch.nn.RNNBase] | None = None  # the torch class a concrete subclass extends

    def _init_masks(self) -> None:
        # Every weight matrix gets a mask; biases are never masked.
        self._masked_names = tuple(n for n in self._flat_weights_names if n.startswith("weight_"))
        # name -> (bool mask object, its version, the mask in the weight's dtype or None if it keeps
        # everything): the float copy makes the per-forward product and the per-step re-zeroing several
        # times cheaper than a bool factor, and an all-kept mask costs nothing at all.
        self._mask_cache: dict[str, tuple[Tensor, int, Tensor | None]] = {}
        for name in self._masked_names:
            weight = getattr(self, name)
            self.register_buffer(name + MASK_SUFFIX, torch.ones_like(weight, dtype=torch.bool))
        self.register_load_state_dict_post_hook(_zero_after_load)

    @property
    def masks(self) -> dict[str, Tensor]:
        """Copies of the masks, keyed by parameter name (True = kept); change them with :meth:`set_mask`.

        Examples
        --------
        >>> from sparsernn.nn import SparseLSTM
        >>> lstm = SparseLSTM(3, 4)
        >>> sorted(lstm.masks), lstm.masks["weight_ih_l0"].shape
        (['weight_hh_l0', 'weight_ih_l0'], torch.Size([16, 3]))
        """
        return {name: self._mask(name).clone() for name in self._masked_names}

    def set_mask(self, name: str, mask: Tensor) -> None:
        """Replace the mask of weight ``name`` and zero the weight's pruned entries in place.

        Parameters
        ----------
        name : str
            A weight parameter name, e.g. ``"weight_hh_l0"``.
        mask : torch.Tensor
            Bool tensor of the weight's shape; True = kept, False = pruned.

        Raises
        ------
        MaskError
            If ``name`` is not a masked weight, or ``mask`` is not a bool tensor of the weight's shape.

        Examples
        --------
        >>> from sparsernn.nn import SparseRNN
        >>> rnn = SparseRNN(2, 2)
        >>> rnn.set_mask("weight_hh_l0", torch.tensor([[True, False], [False, True]]))
        >>> rnn.weight_hh_l0[0, 1].item(), rnn.density()
        (0.0, 0.75)
        """
        target = self._mask_for_update(name)
        _check_mask(name, mask, tuple(target.shape))
        with torch.no_grad():
            target.copy_(mask)
        self._zero_pruned(name)

    def density(self) -> float:
        """Fraction of masked-weight entries kept, over all weight matrices (biases excluded).

        Examples
        --------
        >>> from sparsernn.nn import SparseGRU
        >>> SparseGRU(3, 4).density()
        1.0
        """
        kept = sum(int(self._mask(n).sum()) for n in self._masked_names)
        total = sum(self._mask(n).numel() for n in self._masked_names)
        return kept / total

    def sparsity(self) -> float:
        """Fraction of masked-weight entries pruned: ``1 - density()``.

        Examples
        --------
        >>> from sparsernn.nn import SparseGRU
        >>> SparseGRU(3, 4).sparsity()
        0.0
        """
        return 1.0 - self.density()

    def apply_masks_(self) -> SparseRNNBase:
        """Zero the pruned weights in place (after any outside change to the parameters); returns self.

        Examples
        --------
        >>> from sparsernn.nn import SparseRNN
        >>> rnn = SparseRNN(2, 2)
        >>> rnn.set_mask("weight_ih_l0", torch.zeros(2, 2, dtype=torch.bool))
        >>> with torch.no_grad():
        ...     _ = rnn.weight_ih_l0.fill_(1.0)
        >>> rnn.apply_masks_().weight_ih_l0.abs().sum().item()
        0.0
        """
        for name in self._masked_names:
            self._zero_pruned(name)
        return self

    def reset_parameters(self) -> None:
        """Re-initialise the weights as torch does, keeping pruned entries at zero."""
        super().reset_parameters()
        if hasattr(self, "_masked_names"):  # torch's __init__ calls this before the masks exist
            self.apply_masks_()

    def forward(
        self, input: Tensor | PackedSequence, hx: Tensor | tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor | PackedSequence, Tensor | tuple[Tensor, Tensor]]:
        """Run torch's fused forward on the masked weights; same arguments and results as torch's."""
        # Let torch refresh its weight list first (it rebuilds it after functional_call or a parameter
        # swap); otherwise it would replace the masked list below with the raw weights.
        self._update_flat_weights()
        raw = self._flat_weights
        self._flat_weights = [self._masked(n, w) for n, w in zip(self._flat_weights_names, raw)]
        try:
            return super().forward(input, hx)
        finally:
            self._flat_weights = raw

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, density={self.density():.4g}"

    @classmethod
    def from_torch(cls, module: torch.nn.RNNBase) -> SparseRNNBase:
        """Wrap a torch ``RNN``/``LSTM``/``GRU``: same configuration, copied weights and masks.

        A module pruned with ``torch.nn.utils.prune`` (``<name>_orig`` parameters and ``<name>_mask``
        buffers) becomes a sparse module whose weights are ``orig * mask`` and whose masks are
        ``mask != 0``. Pruned biases are copied as their masked values; only weight masks are kept.
        ``module`` itself is not modified.

        Raises
        ------
        ConfigError
            If ``module`` is not the torch class this class extends (``torch.nn.LSTM`` for SparseLSTM, ...).

        Examples
        --------
        >>> from sparsernn.nn import SparseLSTM
        >>> lstm = torch.nn.LSTM(3, 4, num_layers=2)
        >>> sparse = SparseLSTM.from_torch(lstm)
        >>> torch.equal(sparse.weight_hh_l1, lstm.weight_hh_l1), sparse.density()
        (True, 1.0)
        """
        if cls._wraps is None:
            raise ConfigError("call from_torch on SparseRNN, SparseLSTM or SparseGRU, or use sparsify")
        if not isinstance(module, cls._wraps):
            raise ConfigError(
                f"{cls.__name__}.from_torch expects a torch.nn.{cls._wraps.__name__}, got {type(module).__name__}"
            )
        weight = _effective(module, module._flat_weights_names[0])[0]
        sparse = cls(**constructor_args(module), device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            for name in sparse._flat_weights_names:
                value, keep = _effective(module, name)
                getattr(sparse, name).copy_(value)
                if keep is not None and name in sparse._masked_names:
                    sparse._mask(name).copy_(keep)
        sparse.apply_masks_()
        return sparse.train(module.training)

    # -- internals -------------------------------------------------------------------------------

    def _mask(self, name: str) -> Tensor:
        return self._buffers[name + MASK_SUFFIX]

    def _mask_for_update(self, name: str) -> Tensor:
        if not isinstance(name, str) or name not in self._masked_names:
            choices = ", ".join(sorted(self._masked_names))
            raise MaskError(f"unknown mask name {name!r}; choose from {choices}")
        return self._mask(name)

    def _masked(self, name: str, weight: Tensor) -> Tensor:
        """``weight * mask`` for a masked weight (``weight`` itself when its mask keeps everything)."""
        if name not in self._masked_names:
            return weight
        factor = self._mask_factor(name, weight)
        return weight if factor is None else weight * factor

    def _mask_factor(self, name: str, weight: Tensor) -> Tensor | None:
        """The mask as 0/1 in ``weight``'s dtype and device, or None if it keeps every entry.

        Recomputed only when the mask buffer was replaced or edited in place.
        """
        mask = self._mask(name)
        hit = self._mask_cache.get(name)
        if hit is not None:
            cached, version, factor = hit
            # Identity plus version counter catch replaced buffers and in-place edits (copy_, load).
            fresh = cached is mask and version == mask._version
            if fresh and (
                factor is None or (factor.dtype == weight.dtype and factor.device == weight.device)
            ):
                return factor
        factor = None if bool(mask.all()) else mask.to(device=weight.device, dtype=weight.dtype)
        self._mask_cache[name] = (mask, mask._version, factor)
        return factor

    def _zero_pruned(self, name: str) -> None:
        weight = getattr(self, name)
        factor = self._mask_factor(name, weight)
        if factor is not None:
            with torch.no_grad():
                # x * 0 is -0.0 for negative x; adding +0.0 turns it into +0.0 and leaves all else.
                weight.mul_(factor).add_(0.0)


def _zero_after_load(module: SparseRNNBase, incompatible_keys: object) -> None:
    """Post-hook of ``load_state_dict``: loaded weights obey the (possibly loaded) masks."""
    module.apply_masks_()


def _check_mask(name: str, mask: object, shape: tuple[int, ...]) -> None:
    if not isinstance(mask, Tensor):
        raise MaskError(f"mask for {name} must be a torch bool tensor, not {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise MaskError(f"mask for {name} has dtype {mask.dtype}; expected torch.bool")
    if tuple(mask.shape) != shape:
        raise MaskError(f"mask for {name} has shape {tuple(mask.shape)}; expected {shape}")


def constructor_args(module: torch.nn.RNNBase) -> dict[str, object]:
    """The keyword arguments that rebuild ``module``'s architecture (JSON-serialisable)."""
    args: dict[str, object] = {
        "input_size": module.input_size,
        "hidden_size": module.hidden_size,
        "num_layers": module.num_layers,
        "bias": module.bias,
        "batch_first": module.batch_first,
        "dropout": module.dropout,
        "bidirectional": module.bidirectional,
    }
    if isinstance(module, torch.nn.LSTM):
        args["proj_size"] = module.proj_size
    if isinstance(module, torch.nn.RNN):
        args["nonlinearity"] = "relu" if module.mode == "RNN_RELU" else "tanh"
    return args


def _effective(module: torch.nn.RNNBase, name: str) -> tuple[Tensor, Tensor | None]:
    """``(value, keep)`` of parameter ``name``: pruned value and bool mask, or ``keep=None`` if unmasked.

    Reads torch.nn.utils.prune's ``<name>_orig``/``<name>_mask`` pair, a sparse module's bool mask, or a
    plain parameter, without touching ``module``.
    """
    mask = getattr(module, name + MASK_SUFFIX, None)
    orig = getattr(module, name + "_orig", None)
    if orig is not None and mask is not None:
        return orig.detach() * mask, mask != 0
    value = getattr(module, name).detach()
    return value, (None if mask is None else mask != 0)
