"""The masks of the sparse recurrent modules: torch's fused RNN/LSTM/GRU with one bool mask per weight.

:class:`SparseRNNBase` holds what SparseRNN, SparseLSTM and SparseGRU share. Each of them *is* a
``torch.nn.RNN`` / ``LSTM`` / ``GRU`` (same constructor, forward contract and parameter names) with one
extra bool buffer ``<param>_mask`` per weight matrix (``weight_ih_l0_mask``, ``weight_hh_l0_mask``, ...,
the naming of ``torch.nn.utils.prune``); True = kept, False = pruned.

How the masks hold whatever the training loop does (and why not ``torch.nn.utils.parametrize``:
re-parametrized RNN weights silently stop updating in PyTorch). The parameters stay plain leaf
tensors that any optimizer (foreach, fused, weight decay, clipping, AMP) updates in place; an
optimizer whose state predates the masks (momentum, Adam moments) may write into pruned entries
between two forwards. Those values never leave the module:

- ``forward`` first sets the pruned entries of the stored parameters to 0 in place (through
  ``.data``, so autograd is not disturbed), then hands torch's fused kernel the masked weights for
  the duration of the call: exact zeros whatever the stored entry held (NaN and inf included), and a
  gradient that is exactly 0 at every pruned entry. Masking is a bit-wise AND of the float bits with
  the mask (all bits cleared = +0.0): exact like ``torch.where`` and as fast as a product, where a
  bool ``where``/``masked_fill`` is tens of times slower on CPU for scattered masks.
  While ``torch.compile``, ``torch.export`` or ``torch.jit`` trace the forward, the graph holds
  ``torch.where(mask, weight, 0)`` instead (no in-place write and no data-dependent branch, so the
  graph exports and compiles; the exported program computes with exact zeros).
- ``state_dict()`` zeroes the pruned entries in place before emitting the tensors (so the
  checkpoint, ``save_checkpoint`` and a plain torch module loading it see zeros); so do ``set_mask``,
  ``apply_masks_``, ``reset_parameters``, ``load_state_dict`` (after loading), ``copy.deepcopy`` (on
  the copy) and the conversions of ``.to()`` / ``.double()`` / ``.cuda()``. Zeroing never
  multiplies, so a NaN or inf at a pruned position becomes exactly 0.
- So the parameters themselves hold stale values in pruned entries only between an optimizer step
  and the next forward (or ``state_dict()``); :func:`sparsernn.nn.keep_masks` re-zeroes them right
  after every step, for code that reads the parameters directly in between.

Masks are validated when set and when loaded: bool tensors, or 0/1 tensors in a state dict (the
float masks of ``torch.nn.utils.prune``); anything else (0.3, NaN, a sparse or meta tensor) is a
:class:`~sparsernn.errors.MaskError`.

The swap of ``_flat_weights`` makes one module instance unsafe to call from two threads at once, and
TorchScript cannot compile these modules. On CUDA the masked weights are not cuDNN's flattened
buffer, so cuDNN copies them into one at each call (torch may warn about it); CPU is what is tested.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from sparsernn.errors import ConfigError, MaskError
from sparsernn.nn.mask_checks import check_loaded_mask, check_mask
from sparsernn.nn.mask_ops import BITS, MaskedWeight, tracing, zero_in_place

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
        # name -> (bool mask object, its version, its complement or None if it keeps everything):
        # recomputed only when the mask buffer is replaced or edited, never while tracing.
        self._mask_cache: dict[str, tuple[Tensor, int, Tensor | None]] = {}
        # name -> (the complement it was made from, the mask as bits: -1 kept, 0 pruned, in the
        # integer type of the weight's width): masking by bit-wise AND is exact (+0.0 whatever the
        # entry held, NaN included) and as fast as a product, unlike a bool where/masked_fill.
        self._bits_cache: dict[str, tuple[Tensor, Tensor]] = {}
        for name in self._masked_names:
            weight = getattr(self, name)
            self.register_buffer(name + MASK_SUFFIX, torch.ones_like(weight, dtype=torch.bool))

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

    @property
    def masked_names(self) -> tuple[str, ...]:
        """Names of the masked weights, in torch's parameter order (biases are never masked).

        Examples
        --------
        >>> from sparsernn.nn import SparseGRU
        >>> SparseGRU(2, 3).masked_names
        ('weight_ih_l0', 'weight_hh_l0')
        """
        return self._masked_names

    def mask(self, name: str) -> Tensor:
        """The mask of weight ``name`` itself, not a copy (True = kept): read it, never modify it.

        Cheap enough for every step. Writing into it would bypass the checks and the zeroing of
        :meth:`set_mask`; use :meth:`set_mask` to change a mask, :attr:`masks` for copies.

        Raises
        ------
        MaskError
            If ``name`` is not a masked weight.

        Examples
        --------
        >>> from sparsernn.nn import SparseRNN
        >>> rnn = SparseRNN(2, 3)
        >>> rnn.mask("weight_hh_l0").dtype, rnn.mask("weight_hh_l0").shape
        (torch.bool, torch.Size([3, 3]))
        """
        return self._mask_for_update(name)

    def effective_weight(self, name: str) -> Tensor:
        """Weight ``name`` as the forward uses it: a detached copy with pruned entries exactly 0.

        Exact whatever the stored parameter holds at pruned entries (stale optimizer updates, NaN).
        An unknown ``name`` is a :class:`~sparsernn.errors.MaskError`, as for :meth:`mask`.

        Examples
        --------
        >>> from sparsernn.nn import SparseRNN
        >>> rnn = SparseRNN(2, 2)
        >>> rnn.set_mask("weight_ih_l0", torch.tensor([[True, False], [True, True]]))
        >>> with torch.no_grad():
        ...     _ = rnn.weight_ih_l0.fill_(float("nan"))
        >>> rnn.effective_weight("weight_ih_l0").isnan().tolist()
        [[True, False], [True, True]]
        """
        self._mask_for_update(name)
        return effective_parameter(self, name)[0]

    def set_mask(self, name: str, mask: Tensor) -> None:
        """Replace the mask of weight ``name`` and zero the weight's pruned entries in place.

        Parameters
        ----------
        name : str
            A weight parameter name, e.g. ``"weight_hh_l0"``.
        mask : torch.Tensor
            Bool tensor of the weight's shape (dense, on any real device); True = kept, False = pruned.

        Raises
        ------
        MaskError
            If ``name`` is not a masked weight, or ``mask`` is not a dense bool tensor of the weight's shape.

        Examples
        --------
        >>> from sparsernn.nn import SparseRNN
        >>> rnn = SparseRNN(2, 2)
        >>> rnn.set_mask("weight_hh_l0", torch.tensor([[True, False], [False, True]]))
        >>> rnn.weight_hh_l0[0, 1].item(), rnn.density()
        (0.0, 0.75)
        """
        target = self._mask_for_update(name)
        check_mask(name, mask, tuple(target.shape))
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
        """Set the pruned weights to exactly 0 in place (whatever they held, NaN included); returns self.

        Examples
        --------
        >>> from sparsernn.nn import SparseRNN
        >>> rnn = SparseRNN(2, 2)
        >>> rnn.set_mask("weight_ih_l0", torch.zeros(2, 2, dtype=torch.bool))
        >>> with torch.no_grad():
        ...     _ = rnn.weight_ih_l0.fill_(float("nan"))
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
        traced = tracing()
        self._flat_weights = [self._masked(n, w, traced) for n, w in zip(self._flat_weights_names, raw)]
        try:
            return super().forward(input, hx)
        finally:
            self._flat_weights = raw

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, density={self.density():.4g}"

    @classmethod
    def from_torch(cls, module: torch.nn.RNNBase) -> SparseRNNBase:
        """Turn a torch ``RNN``/``LSTM``/``GRU`` into this sparse class *in place*; returns the same object.

        The module keeps its Parameter objects (an optimizer built before the conversion goes on
        training it), its configuration, mode and hooks; it gains the mask buffers (all True). A module
        pruned with ``torch.nn.utils.prune`` first has the pruning folded in (``torch.nn.utils.prune.remove``:
        ``<name>_orig`` becomes ``<name>`` again, holding ``orig * mask``) and its weight masks become
        the sparse masks (``mask != 0``); pruned biases keep their masked values, without a mask. A
        module that already is sparse is returned as it is. For an untouched original, convert a copy:
        ``from_torch(copy.deepcopy(module))``.

        Raises
        ------
        ConfigError
            If ``module`` is not the torch class this class extends (``torch.nn.LSTM`` for SparseLSTM, ...),
            or is a subclass of it (converting would drop the subclass's own code).

        Examples
        --------
        >>> from sparsernn.nn import SparseLSTM
        >>> lstm = torch.nn.LSTM(3, 4, num_layers=2)
        >>> weight = lstm.weight_hh_l1
        >>> sparse = SparseLSTM.from_torch(lstm)
        >>> sparse is lstm, sparse.weight_hh_l1 is weight, type(lstm).__name__, sparse.density()
        (True, True, 'SparseLSTM', 1.0)
        """
        if cls._wraps is None:
            raise ConfigError("call from_torch on SparseRNN, SparseLSTM or SparseGRU, or use sparsify")
        if not isinstance(module, cls._wraps):
            raise ConfigError(
                f"{cls.__name__}.from_torch expects a torch.nn.{cls._wraps.__name__}, got {type(module).__name__}"
            )
        if isinstance(module, SparseRNNBase):
            return module
        if type(module) is not cls._wraps:
            raise ConfigError(
                f"{cls.__name__}.from_torch converts a torch.nn.{cls._wraps.__name__} in place; "
                f"{type(module).__name__} is a subclass whose own code would be lost"
            )
        keep = _fold_torch_pruning(module)
        module.__class__ = cls
        module._init_masks()
        with torch.no_grad():
            for name, mask in keep.items():
                if name in module._masked_names:
                    module._mask(name).copy_(mask)
        return module.apply_masks_()

    # -- what leaves the module: state_dict, load_state_dict, deepcopy, dtype/device conversion ------

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        self.apply_masks_()  # in place, so the emitted tensors (views of the parameters) hold zeros
        super()._save_to_state_dict(destination, prefix, keep_vars)

    def _load_from_state_dict(
        self, state_dict: dict, prefix: str, local_metadata: dict, strict: bool, *args: object
    ) -> None:
        for name in self._masked_names:
            key = prefix + name + MASK_SUFFIX
            if key in state_dict:
                check_loaded_mask(key, state_dict[key])
                # torch's load_state_dict hands each module a copy of the mapping: safe to convert in
                # it, so that even assign=True stores a bool mask
                state_dict[key] = state_dict[key] != 0
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, *args)
        self.apply_masks_()  # loaded weights obey the (possibly loaded) masks

    def __deepcopy__(self, memo: dict) -> SparseRNNBase:
        # What copy.deepcopy does for any module, then the copy's pruned entries are zeroed.
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        clone.__setstate__(copy.deepcopy(self.__getstate__(), memo))
        return clone.apply_masks_()

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> SparseRNNBase:
        if hasattr(self, "_masked_names"):
            self.apply_masks_()  # .to(dtype) / .double() / .cuda() convert the zeroed values
        return super()._apply(fn, recurse)

    # -- internals -------------------------------------------------------------------------------

    def _mask(self, name: str) -> Tensor:
        return self._buffers[name + MASK_SUFFIX]

    def _mask_for_update(self, name: str) -> Tensor:
        if not isinstance(name, str) or name not in self._masked_names:
            choices = ", ".join(sorted(self._masked_names))
            raise MaskError(f"unknown mask name {name!r}; choose from {choices}")
        return self._mask(name)

    def _masked(self, name: str, weight: Tensor, tracing: bool) -> Tensor:
        """The weight the kernel reads: pruned entries exactly +0.0 (``weight`` if nothing is pruned)."""
        if name not in self._masked_names:
            return weight
        if tracing:  # no in-place write, no data-dependent branch: the graph always masks
            return torch.where(self._mask(name), weight, 0.0)
        pruned = self._pruned(name)
        if pruned is None:
            return weight
        bits = self._bits(name, weight)
        # Clean the stored parameter; never write into tensors that functional_call or a replica
        # passes in (those are not this module's Parameter objects).
        if isinstance(weight, torch.nn.Parameter) and weight is self._parameters.get(name):
            zero_in_place(weight, pruned, bits)
        if bits is None:  # a dtype without an integer twin: slower, equally exact
            return torch.where(pruned, 0.0, weight)
        return MaskedWeight.apply(weight, bits)

    def _pruned(self, name: str) -> Tensor | None:
        """The complement of the mask (True = pruned), or None if the mask keeps every entry."""
        mask = self._mask(name)
        hit = self._mask_cache.get(name)
        # Identity plus version counter catch replaced buffers and in-place edits (copy_, load).
        if hit is not None and hit[0] is mask and hit[1] == mask._version:
            return hit[2]
        pruned = None if mask.is_meta or bool(mask.all()) else ~mask
        self._mask_cache[name] = (mask, mask._version, pruned)
        return pruned

    def _bits(self, name: str, weight: Tensor) -> Tensor | None:
        """The mask as bits for ``weight``'s dtype and device (None for a dtype without integer twin)."""
        pruned, bits_type = self._pruned(name), BITS.get(weight.dtype)
        if pruned is None or bits_type is None:
            return None
        hit = self._bits_cache.get(name)
        if hit is not None and hit[0] is pruned:
            bits = hit[1]
            if bits.dtype == bits_type and bits.device == weight.device:
                return bits
        bits = torch.where(pruned, 0, -1).to(device=weight.device, dtype=bits_type)
        self._bits_cache[name] = (pruned, bits)
        return bits

    def _zero_pruned(self, name: str) -> None:
        pruned = self._pruned(name)
        if pruned is not None:
            weight = getattr(self, name)
            zero_in_place(weight, pruned, self._bits(name, weight))


def _fold_torch_pruning(module: torch.nn.RNNBase) -> dict[str, Tensor]:
    """Remove ``torch.nn.utils.prune``'s re-parametrizations from ``module``: ``{name: bool mask}``."""
    keep = {}
    for hook in list(module._forward_pre_hooks.values()):
        if isinstance(hook, torch.nn.utils.prune.BasePruningMethod):
            name = hook._tensor_name
            mask = getattr(module, name + MASK_SUFFIX)
            keep[name] = mask != 0
            with torch.no_grad():  # NaN * 0 is NaN: clean the original before prune folds it in
                getattr(module, name + "_orig").masked_fill_(mask == 0, 0.0)
            torch.nn.utils.prune.remove(module, name)
    return keep


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


def effective_parameter(module: torch.nn.Module, name: str) -> tuple[Tensor, Tensor | None]:
    """``(value, keep)`` of parameter ``name``: a detached value with pruned entries exactly 0, and the
    bool mask (``keep=None`` if unmasked).

    Reads torch.nn.utils.prune's ``<name>_orig``/``<name>_mask`` pair, a sparse module's bool mask, or a
    plain parameter, without touching ``module``. For a sparse module,
    :meth:`SparseRNNBase.effective_weight` gives the value.

    Examples
    --------
    >>> from torch.nn.utils import prune
    >>> rnn = torch.nn.RNN(2, 2)
    >>> _ = prune.l1_unstructured(rnn, "weight_hh_l0", amount=2)
    >>> value, keep = effective_parameter(rnn, "weight_hh_l0")
    >>> int(keep.sum()), int((value != 0).sum())
    (2, 2)
    """
    mask = getattr(module, name + MASK_SUFFIX, None)
    orig = getattr(module, name + "_orig", None)
    value = (orig if orig is not None and mask is not None else getattr(module, name)).detach()
    if mask is None:
        return value, None
    keep = mask != 0
    return torch.where(keep, value, 0.0), keep
