"""Applying masks to a model: the one step of pruning that changes anything."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from sparsernn.errors import MaskError
from sparsernn.prune.targets import Target, check_mask, recurrent_targets, unknown_name


def _maskable(model: torch.nn.Module) -> dict[str, Target]:
    """Qualified name -> target for every recurrent weight and every weight a module masks itself."""
    index = {t.name: t for t in recurrent_targets(model)}
    modules = {id(t.module): t for t in index.values()}
    for t in modules.values():
        own = getattr(t.module, "masks", None)
        if isinstance(own, Mapping):
            prefix = t.name[: -len(t.local)]
            for local in own:
                index.setdefault(prefix + local, Target(prefix + local, local, "other", t.module))
    return index


def apply(model: torch.nn.Module, masks: Mapping[str, torch.Tensor]) -> None:
    """Set ``masks`` (qualified parameter name -> bool tensor, True = kept) on the owning modules.

    Every recurrent module named by a key must have a ``set_mask`` method (the ``sparsernn.nn``
    modules do; it also zeroes the pruned weights). All masks are checked first, so a bad one
    leaves the model untouched. Weights without a key keep their current mask.

    Raises
    ------
    MaskError
        For a key that is not a maskable weight (the message lists the valid names), a mask of the
        wrong dtype or shape, or a plain torch module (wrap the model with ``sparsernn.nn.sparsify``).

    Examples
    --------
    >>> import torch
    >>> class Masked(torch.nn.RNN):  # stands in for sparsernn.nn.SparseRNN
    ...     def set_mask(self, name, mask):
    ...         with torch.no_grad():
    ...             getattr(self, name).mul_(mask)
    >>> model = torch.nn.Sequential(Masked(2, 2))
    >>> apply(model, {"0.weight_hh_l0": torch.tensor([[True, False], [False, True]])})
    >>> (model[0].weight_hh_l0 != 0).tolist()
    [[True, False], [False, True]]
    """
    if not isinstance(masks, Mapping):
        raise MaskError(f"masks must be a mapping of name -> bool tensor, got {type(masks).__name__}")
    index = _maskable(model)
    for name, mask in masks.items():
        if name not in index:
            raise unknown_name(name, list(index))
        target = index[name]
        if not callable(getattr(target.module, "set_mask", None)):
            prefix = target.name[: -len(target.local) - 1] or "<model>"
            raise MaskError(
                f"cannot set a mask on {name!r}: module {prefix!r} is a plain {type(target.module).__name__} "
                "without masks; wrap the model first with sparsernn.nn.sparsify(model)"
            )
        check_mask(name, mask, target.weight)
    for name, mask in masks.items():
        target = index[name]
        target.module.set_mask(target.local, mask.to(target.weight.device))
