"""The masks of the sparse recurrent modules: torch's fused RNN/LSTM/GRU with one bool mask per weight.

:class:`SparseRNNBase` holds what SparseRNN, SparseLSTM and SparseGRU share. Each of them *is* a
``torch.nn.RNN`` / ``LSTM`` / ``GRU`` (same constructor, forward contract and parameter names) with one
extra bool buffer ``<param>_mask`` per weight matrix (``weight_ih_l0_mask``, ``weight_hh_l0_mask``, ...,
the naming of ``torch.nn.utils.prune``); True = kept, False = pruned.

How the masks hold whatever the training loop does (and why the library does not mask through
``torch.nn.utils.parametrize``: re-parametrized RNN weights silently stop updating in PyTorch). The
parameters stay plain leaf tensors that any optimizer (foreach, fused, weight decay, clipping, AMP)
updates in place. An optimizer whose state predates the masks (momentum, Adam moments) writes into
pruned entries at each step. Those values never leave the module:

- After every ``optimizer.step()``, the pruned entries are 0 again. The first sparse module installs
  one global torch hook (``register_optimizer_step_post_hook``); after each step of any optimizer it
  zeroes the pruned entries of the masked weights that this optimizer holds. So ``torch.export``,
  ``torch.jit.trace`` and any code that reads the parameters see zeros. Training is bit-identical to
  zeroing at the next forward. :func:`sparsernn.nn.keep_masks` does the same for one optimizer; it is
  no longer needed.
- ``forward`` first sets the pruned entries of the stored parameters to 0 in place (through
  ``.data``, so autograd is not disturbed). Then it hands torch's fused kernel the masked weights for
  the duration of the call: exact zeros whatever the stored entry held (NaN and inf included), and a
  gradient that is exactly 0 at every pruned entry. Masking is a bit-wise AND of the float bits with
  the mask (all bits cleared = +0.0): exact like ``torch.where`` and as fast as a product, where a
  bool ``where``/``masked_fill`` is tens of times slower on CPU for scattered masks.
  While ``torch.compile``, ``torch.export`` or ``torch.jit`` trace the forward, the graph holds
  ``torch.where(mask, weight, 0)`` instead (no in-place write and no data-dependent branch, so the
  graph exports and compiles; the exported program computes with exact zeros).
- ``state_dict()`` zeroes the pruned entries in place before emitting the tensors (so the
  checkpoint, ``save_checkpoint`` and a plain torch module loading it see zeros); so do
  ``apply_masks_``, ``reset_parameters``, ``load_state_dict`` (after loading), ``copy.deepcopy`` (on
  the copy) and the conversions of ``.to()`` / ``.double()`` / ``.cuda()``. Zeroing never
  multiplies, so a NaN or inf at a pruned position becomes exactly 0.
- ``set_mask`` zeroes the pruned entries under the old mask, then under the new one: a weight that a
  new mask brings back (regrowth) starts at exactly 0.
- Only a value written into a parameter by hand (not by an optimizer step) stays until the next
  forward, ``state_dict()`` or ``apply_masks_()``.

Every use reads the mask buffer itself, so an edit of any kind (``set_mask``, an in-place ``copy_``,
a write through ``.data``) takes effect at once in ``forward``, ``state_dict`` and ``density``.

A torch parametrization on a masked weight (``parametrizations.weight_norm``, ``spectral_norm``, your
own ``register_parametrization``) is masked too: ``forward`` masks the weight the parametrization
computes, and its gradient is 0 at pruned entries. The state dict then holds the parametrization's
original tensors, untouched (zeroing them would change a norm); ``to_torch``, ``StreamingRNN`` and
``effective_weight`` hold the masked weight. ``torch.nn.utils.prune`` on a masked weight is refused
with a :class:`~sparsernn.errors.MaskError` (it would replace the bool mask): use ``set_mask`` or
``sparsernn.prune``, or prune the torch module before ``from_torch``.

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
from sparsernn.nn.mask_ops import BITS, MaskedWeight, mask_bits, same_mask, tracing, track, zero_in_place

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
        self._in_forward = False  # True while torch's forward runs on the masked weights
        # name -> (a copy of the mask, whether it keeps every entry, its bits for the weight or None):
        # checked against the mask at each use, so any edit takes effect at once (see _mask_state).
        self._mask_copies: dict[str, tuple[Tensor, bool, Tensor | None]] = {}
        for name in self._masked_names:
            weight = getattr(self, name)
            self.register_buffer(name + MASK_SUFFIX, torch.ones_like(weight, dtype=torch.bool))
        track(self)

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
        self._zero_pruned(name)  # under the old mask first: regrown entries start at exactly 0
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

        A weight under a torch parametrization is left alone: its stored original is not the weight
        (the forward masks the weight the parametrization computes).

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
        # torch rebuilds its weight list when a weight is a new tensor (after functional_call or a
        # parameter swap; at every read of a parametrized weight): rebuild it here, once, mask it, and
        # keep super().forward from rebuilding it from the unmasked weights (_update_flat_weights).
        self._update_flat_weights()
        raw = self._flat_weights
        traced = tracing()
        self._flat_weights = [self._masked(n, w, traced) for n, w in zip(self._flat_weights_names, raw)]
        self._in_forward = True
        try:
            return super().forward(input, hx)
        finally:
            self._flat_weights, self._in_forward = raw, False

    def _update_flat_weights(self) -> None:
        if not getattr(self, "_in_forward", False):  # absent from modules pickled by older versions
            # Not zero-argument super(): torch 2.15's compiler resumes this frame after a graph break
            # without the class cell super() needs (InternalTorchDynamoError under torch.compile).
            torch.nn.RNNBase._update_flat_weights(self)

    def register_parameter(self, name: str, param: torch.nn.Parameter | None) -> None:
        # torch.nn.utils.prune first moves <weight> to <weight>_orig, then replaces the bool mask with
        # its own: refuse at that first step, before anything has changed.
        weight = name.removesuffix("_orig")
        if weight != name and weight in getattr(self, "_masked_names", ()):
            raise MaskError(
                f"torch.nn.utils.prune cannot prune {weight} of a {type(self).__name__}: it would replace "
                f"the mask {weight}{MASK_SUFFIX}; change masks with set_mask or sparsernn.prune, or prune "
                "a torch module and convert it with from_torch"
            )
        super().register_parameter(name, param)

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

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("_mask_copies", {})  # absent from modules pickled by older versions
        track(self)  # copies and unpickled modules are re-zeroed after optimizer steps too

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
        mask = self._mask(name)
        if tracing:  # no in-place write, no data-dependent branch: the graph always masks
            return torch.where(mask, weight, 0.0)
        keeps_all, bits = self._mask_state(name, weight)
        if keeps_all:
            return weight
        # Clean the stored parameter; never write into tensors that functional_call or a replica
        # passes in, or that a parametrization computes (none is this module's Parameter).
        if weight is self._parameters.get(name):
            zero_in_place(weight, mask, bits)
        if bits is None:  # a dtype without an integer twin: slower, equally exact
            return torch.where(mask, weight, 0.0)
        return MaskedWeight.apply(weight, bits)

    def _zero_pruned(self, name: str) -> None:
        weight = self._parameters.get(name)  # None under a parametrization: see apply_masks_
        if weight is not None:
            keeps_all, bits = self._mask_state(name, weight)
            if not keeps_all:
                zero_in_place(weight, self._mask(name), bits)

    def _mask_state(self, name: str, weight: Tensor) -> tuple[bool, Tensor | None]:
        """Whether the mask of ``name`` keeps every entry, and its ``mask_bits`` for ``weight``.

        On CPU both are kept with a copy of the mask and reused while the mask equals the copy: the
        comparison (about 10 µs per 100k entries) catches every edit, ``.data`` writes included (they leave
        the version counter alone). On other devices they are made afresh, never compared: comparing
        would make the host wait for the device.
        """
        mask = self._mask(name)
        if mask.device.type != "cpu":
            return False, mask_bits(mask, weight)
        hit = self._mask_copies.get(name)
        if hit is None or not same_mask(mask, hit[0]):
            hit = (mask.clone(), bool(mask.all()), None)
        copy, keeps_all, bits = hit
        stale = bits is None or bits.dtype != BITS.get(weight.dtype) or bits.device != weight.device
        if not keeps_all and stale:  # made for another dtype or device, or not yet
            bits = mask_bits(copy, weight)
        self._mask_copies[name] = (copy, keeps_all, bits)
        return keeps_all, bits

    def _zero_stepped(self, stepped: set[int]) -> None:
        """Zero the pruned entries of the masked weights whose ``id`` is in ``stepped`` (an optimizer's)."""
        for name in self._masked_names:
            if id(self._parameters.get(name)) in stepped:
                self._zero_pruned(name)


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
