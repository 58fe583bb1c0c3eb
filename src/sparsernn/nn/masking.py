"""Model-level helpers for the sparse recurrent modules: find them, convert to them, keep their masks."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch.utils.hooks import RemovableHandle

from sparsernn.errors import MaskError
from sparsernn.nn.base import SparseRNNBase
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

    Masked gradients alone keep pruned weights at zero only while the optimizer's state (momentum,
    Adam moments) was built under the current masks. State from before a mask was set, e.g. after
    dense training, moves pruned weights again; this hook puts them back to zero after each step.
    The hook belongs to this optimizer instance only; ``handle.remove()`` detaches it.

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
    """A deep copy of ``model`` in which every torch RNN/LSTM/GRU is replaced by its sparse wrapper.

    Weights and any ``torch.nn.utils.prune`` masks are carried over (see ``SparseLSTM.from_torch``);
    sparse modules already in ``model`` are copied as they are; ``model`` is not modified.

    Examples
    --------
    >>> model = torch.nn.Sequential(torch.nn.LSTM(3, 4))
    >>> type(sparsify(model)[0]).__name__, type(model[0]).__name__
    ('SparseLSTM', 'LSTM')
    """
    if _needs_wrapping(model):
        return from_torch(model)
    # Seeding deepcopy's memo with the replacements puts them in place of the torch modules, which are
    # never copied themselves (a module pruned by torch.nn.utils.prune cannot be deep-copied after a
    # forward: its pruned weights are non-leaf tensors).
    memo = {id(m): from_torch(m) for m in model.modules() if _needs_wrapping(m)}
    return copy.deepcopy(model, memo)


def _needs_wrapping(module: torch.nn.Module) -> bool:
    return isinstance(module, _CONVERTIBLE) and not isinstance(module, SparseRNNBase)
