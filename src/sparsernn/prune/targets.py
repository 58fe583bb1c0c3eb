"""Which weights of a model pruning acts on, and the checks shared by every pruning function.

A *target* is one recurrent weight matrix: ``weight_ih_l<k>[_reverse]`` (input-to-hidden, kind
``"ih"``) or ``weight_hh_l<k>[_reverse]`` (hidden-to-hidden, kind ``"hh"``) of a module that is a
``torch.nn.RNNBase`` (``torch.nn.RNN``, ``LSTM``, ``GRU`` and the ``sparsernn.nn`` modules built on
them). Biases and LSTM projection weights (``weight_hr_l<k>``) are never pruned. Targets are named by
their qualified parameter name, as in ``model.named_parameters()`` (``"rnn.weight_ih_l0"``); a weight
pruned with ``torch.nn.utils.prune`` keeps its own name (``weight_hh_l0``, not ``weight_hh_l0_orig``),
is read as its pruned value and counts its pruned entries as already pruned; a weight under a torch
parametrization (``weight_norm``, ...) keeps its own name too and is read as the weight it computes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from numbers import Real

import torch

from sparsernn._registry import lookup, registry
from sparsernn.errors import ConfigError, MaskError

#: Weight kinds a pruning call can select, and the parameter kinds each one covers.
WEIGHT_KINDS: Mapping[str, tuple[str, ...]] = registry({"both": ("ih", "hh"), "ih": ("ih",), "hh": ("hh",)})

#: Scopes of the pruning threshold: one for all selected weights, or one per weight matrix.
SCOPES: Mapping[str, str] = registry(
    {"global": "one threshold over all selected weights", "layer": "one threshold per weight matrix"}
)

_PREFIXES = {"ih": "weight_ih_l", "hh": "weight_hh_l"}


@dataclass(frozen=True)
class Target:
    """One prunable weight matrix: qualified ``name``, owning ``module``, ``local`` name, ``kind``."""

    name: str
    local: str
    kind: str
    module: torch.nn.Module

    @property
    def weight(self) -> torch.Tensor:
        """The parameter itself (read it, never write it); for a weight pruned with
        ``torch.nn.utils.prune``, its current pruned value ``where(mask, <local>_orig, 0)``."""
        torch_mask = _torch_prune_mask(self.module, self.local)
        if torch_mask is not None:
            return torch.where(torch_mask != 0, getattr(self.module, self.local + "_orig").detach(), 0.0)
        return getattr(self.module, self.local)


def _torch_prune_mask(module: torch.nn.Module, local: str) -> torch.Tensor | None:
    """The mask buffer of ``torch.nn.utils.prune`` for weight ``local``, or None if it is not pruned so."""
    if isinstance(module._parameters.get(local + "_orig"), torch.Tensor):
        return module._buffers.get(local + "_mask")
    return None


def _kind(local: str) -> str | None:
    for kind, prefix in _PREFIXES.items():
        if local.startswith(prefix):
            return kind
    return None


def recurrent_targets(model: torch.nn.Module) -> Iterator[Target]:
    """Yield every ``ih``/``hh`` weight of every ``torch.nn.RNNBase`` in ``model``, in the module's weight order."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    for prefix, module in model.named_modules():
        if not isinstance(module, torch.nn.RNNBase):
            continue
        # The weights' own names, whoever stores them: torch.nn.utils.prune keeps `<name>_orig`, a torch
        # parametrization (weight_norm, ...) keeps `parametrizations.<name>.original*`.
        for local in module._flat_weights_names:
            kind = _kind(local)
            if kind is not None:
                yield Target(f"{prefix}.{local}" if prefix else local, local, kind, module)


def select_targets(model: torch.nn.Module, weights: str) -> list[Target]:
    """The targets of kind ``weights`` ("both", "ih" or "hh"); MaskError when the model has none."""
    kinds = lookup(WEIGHT_KINDS, weights, "weight kind")
    found = [t for t in recurrent_targets(model) if t.kind in kinds]
    if not found:
        raise MaskError(
            f"no recurrent weights to prune in {type(model).__name__}; expected a torch.nn.RNN, LSTM or GRU "
            "(or a sparsernn.nn module) inside the model"
        )
    return found


def check_scope(scope: str) -> str:
    """Return ``scope`` if it is a known scope, else raise ConfigError listing the valid ones."""
    lookup(SCOPES, scope, "pruning scope")
    return scope


def check_fraction(value: float, name: str = "sparsity", meaning: str = "") -> float:
    """Return ``value`` as a float in [0, 1], else raise ConfigError naming ``name`` (hinting at percentages)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigError(f"{name} must be a number in [0, 1], got {type(value).__name__}")
    number = float(value)
    if not (math.isfinite(number) and 0.0 <= number <= 1.0):
        hint = f" (a percentage? use {number / 100:g})" if 1.0 < number <= 100.0 else ""
        raise ConfigError(f"{name} must be a fraction in [0, 1]{meaning}, got {value!r}{hint}")
    return number


def check_sparsity(sparsity: float) -> float:
    """Return ``sparsity`` as a float in [0, 1], else raise ConfigError (hinting at percentages)."""
    return check_fraction(sparsity)


def check_mask(name: str, mask: object, weight: torch.Tensor) -> torch.Tensor:
    """Return ``mask`` if it is a bool tensor shaped like ``weight``, else raise MaskError."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise MaskError(f"mask for {name!r} must be a bool tensor (True = kept), got {got}")
    if mask.layout != torch.strided or mask.is_meta:
        got = "on the meta device" if mask.is_meta else f"of layout {mask.layout}"
        raise MaskError(f"mask for {name!r} is a tensor {got}; expected a dense tensor holding values")
    if mask.shape != weight.shape:
        raise MaskError(
            f"mask for {name!r} has shape {tuple(mask.shape)}; expected the weight's {tuple(weight.shape)}"
        )
    return mask


def unknown_name(name: object, valid: list[str]) -> MaskError:
    """The error for a mask keyed by a name that is not a maskable weight of the model."""
    return MaskError(f"unknown mask name {name!r}; valid names: {', '.join(valid)}")


def prior_masks(
    targets: list[Target], model: torch.nn.Module, current: Mapping[str, torch.Tensor] | None
) -> dict[str, torch.Tensor]:
    """What is already pruned: for each target, the AND of its module's mask and ``current[name]``.

    Keys of ``current`` must name recurrent weights of ``model`` (those outside ``targets`` are
    ignored). Every returned tensor is new, so callers may keep it without aliasing module buffers.
    """
    current = {} if current is None else current
    if not isinstance(current, Mapping):
        raise MaskError(
            f"current masks must be a mapping of name -> bool tensor, got {type(current).__name__}"
        )
    every = {t.name: t for t in recurrent_targets(model)}
    for name, mask in current.items():
        if name not in every:
            raise unknown_name(name, list(every))
        check_mask(name, mask, every[name].weight)
    prior = {}
    for t in targets:
        weight = t.weight
        kept = torch.ones(weight.shape, dtype=torch.bool, device=weight.device)
        own = getattr(t.module, "masks", None)
        if isinstance(own, Mapping) and t.local in own:
            kept &= check_mask(t.name, own[t.local], weight).to(weight.device)
        torch_mask = _torch_prune_mask(t.module, t.local)
        if torch_mask is not None:
            kept &= (torch_mask != 0).to(weight.device)
        if t.name in current:
            kept &= current[t.name].to(weight.device)
        prior[t.name] = kept
    return prior
