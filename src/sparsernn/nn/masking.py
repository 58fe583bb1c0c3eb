"""Model-level helpers for the sparse recurrent modules: find them, convert to and from them, keep masks."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch.utils.hooks import RemovableHandle

from sparsernn.errors import ConfigError, MaskError
from sparsernn.nn.base import SparseRNNBase, constructor_args, effective_parameter
from sparsernn.nn.recurrent import from_torch

_CONVERTIBLE = (torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU)


def sparse_modules(model: torch.nn.Module) -> Iterator[tuple[str, SparseRNNBase]]:
    """Yield ``(qualified_name, module)`` for every sparse recurrent module in ``model`` (itself included).

    The name is the prefix of the module's keys in ``model.state_dict()`` (``""`` for ``model`` itself).

    Examples
    --------
    >>> from sparsernn.nn import SparseGRU
    >>> model = torch.nn.ModuleDict({"enc": SparseGRU(3, 4), "head": torch.nn.Linear(4, 2)})
    >>> [name for name, _ in sparse_modules(model)]
    ['enc']
    """
    for name, module in model.named_modules():
        if isinstance(module, SparseRNNBase):
            yield name, module


def apply_masks_(model: torch.nn.Module) -> torch.nn.Module:
    """Zero the pruned weights of every sparse module in ``model`` in place; returns ``model``.

    Examples
    --------
    >>> from sparsernn.nn import SparseRNN
    >>> model = torch.nn.Sequential(SparseRNN(2, 2))
    >>> model[0].set_mask("weight_hh_l0", torch.zeros(2, 2, dtype=torch.bool))
    >>> with torch.no_grad():
    ...     _ = model[0].weight_hh_l0.add_(1.0)
    >>> apply_masks_(model)[0].weight_hh_l0.count_nonzero().item()
    0
    """
    for _, module in sparse_modules(model):
        module.apply_masks_()
    return model


def keep_masks(optimizer: torch.optim.Optimizer, model: torch.nn.Module) -> RemovableHandle:
    """Re-apply the masks of ``model``'s sparse modules after every step of ``optimizer``.

    No longer needed: every sparse module is already zeroed after each step of any torch optimizer
    that holds its weights (one global hook, installed with the first sparse module). This
    per-optimizer hook stays as a second guard, for code that relies on it. It zeroes every sparse
    module of ``model`` after each step of this optimizer only; ``handle.remove()`` detaches it.

    Raises
    ------
    MaskError
        If ``model`` contains no sparse recurrent module.

    Examples
    --------
    >>> from sparsernn.nn import SparseLSTM
    >>> lstm = SparseLSTM(3, 4)
    >>> opt = torch.optim.SGD(lstm.parameters(), lr=0.1, momentum=0.9)
    >>> handle = keep_masks(opt, lstm)
    >>> handle.remove()
    """
    if next(sparse_modules(model), None) is None:
        raise MaskError(f"{type(model).__name__} has no sparse recurrent module whose masks could be kept")

    def reapply(_optimizer: torch.optim.Optimizer, _args: object, _kwargs: object) -> None:
        apply_masks_(model)

    return optimizer.register_step_post_hook(reapply)


def sparsify(model: torch.nn.Module) -> torch.nn.Module:
    """Turn every torch RNN/LSTM/GRU in ``model`` into its sparse class, in place; returns ``model``.

    Each module is converted by ``SparseLSTM.from_torch`` & co.: it stays the same object with the
    same Parameter objects (an optimizer created before the conversion goes on training the model),
    gains all-True mask buffers, and a ``torch.nn.utils.prune`` pruning is folded into its weights and
    masks. Sparse modules already in ``model`` are left as they are. To keep the original, convert a
    copy: ``sparsify(copy.deepcopy(model))``. The way back is :func:`to_torch`.

    Raises
    ------
    ConfigError
        If ``model`` holds no recurrent module, or a recurrent module is a subclass of torch's class
        (its own code would be lost).

    Examples
    --------
    >>> model = torch.nn.Sequential(torch.nn.LSTM(3, 4))
    >>> weight = model[0].weight_hh_l0
    >>> sparsify(model) is model, type(model[0]).__name__, model[0].weight_hh_l0 is weight
    (True, 'SparseLSTM', True)
    """
    modules = list(model.modules())
    if not any(isinstance(m, (*_CONVERTIBLE, SparseRNNBase)) for m in modules):
        raise ConfigError(f"{type(model).__name__} holds no torch.nn.RNN, LSTM or GRU to sparsify")
    for module in modules:
        if _needs_wrapping(module):
            from_torch(module)
    return model


def to_torch(model: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of ``model`` in which every sparse module is the plain torch class, masks folded in.

    For deployment or any tool that expects torch's own modules: the copy of a ``SparseLSTM`` is a
    ``torch.nn.LSTM`` with the same configuration whose pruned weights are exactly 0, no mask buffers
    and no sparsernn code, so its ``state_dict()`` loads into a plain torch model with
    ``strict=True``. The same route serves a checkpoint:
    ``to_torch(sparsernn.nn.load_model(path)).state_dict()``. (A sparse module's own ``state_dict()``
    already holds the zeros; dropping its ``*_mask`` keys makes it load strictly too.) ``model`` is not
    modified.

    Examples
    --------
    >>> from sparsernn.nn import SparseGRU
    >>> gru = SparseGRU(3, 4)
    >>> gru.set_mask("weight_hh_l0", torch.zeros(12, 4, dtype=torch.bool))
    >>> plain = to_torch(torch.nn.Sequential(gru))
    >>> type(plain[0]).__name__, plain[0].weight_hh_l0.count_nonzero().item()
    ('GRU', 0)
    >>> _ = torch.nn.GRU(3, 4).load_state_dict(plain[0].state_dict(), strict=True)
    """
    if isinstance(model, SparseRNNBase):
        return _plain(model)
    memo = {id(m): _plain(m) for _, m in sparse_modules(model)}
    return copy.deepcopy(model, memo)


def _plain(module: SparseRNNBase) -> torch.nn.RNNBase:
    """The torch module of ``module``'s class and configuration holding its masked weights."""
    weight = getattr(module, module._flat_weights_names[0])
    plain = module._wraps(**constructor_args(module), device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        for name in module._flat_weights_names:
            getattr(plain, name).copy_(effective_parameter(module, name)[0])
    return plain.train(module.training)


def _needs_wrapping(module: torch.nn.Module) -> bool:
    return isinstance(module, _CONVERTIBLE) and not isinstance(module, SparseRNNBase)
