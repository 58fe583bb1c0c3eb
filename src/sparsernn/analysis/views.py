"""Bipartite views of the recurrent layers of a model.

Views: ``ih`` = W_ih (left = x_t), ``hh`` = W_hh (left = h_{t−1}), ``step`` = one unfolded time step
``[W_ih | W_hh]`` (left = x_t ∪ h_{t−1}, right = h_t). Gate handling for the row blocks of LSTM
(i, f, g, o) and GRU (r, z, n) weights: ``stack`` keeps every gate row as its own right node,
``union`` merges the rows of one unit (connected if any gate row is; weighted: the sum of the gate
magnitudes), ``per_gate`` gives one view per gate. An Elman RNN has one block, named ``h``.

Masks: a module with a ``masks`` mapping (the library's Sparse modules, True = kept) is read through
it; a module pruned with ``torch.nn.utils.prune`` through its ``<name>_mask`` buffers; any other
module through ``W != 0``. Weighted views are ``|W ⊙ M|``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sparsernn._registry import lookup, registry
from sparsernn.errors import ConfigError, MaskError
from sparsernn.nn.cells import CELL_KINDS


@dataclass(frozen=True)
class LayerView:
    """One bipartite view: its mask (True = edge) and magnitudes ``|W ⊙ M|``, both (out × in).

    Examples
    --------
    >>> import torch
    >>> (v,) = layer_views(torch.nn.RNN(2, 3), view="hh")
    >>> v.module, v.layer, v.direction, v.view, v.gate, v.mask.shape, v.density
    ('', 0, 'forward', 'hh', 'stack', (3, 3), 1.0)
    """

    module: str
    layer: int
    direction: str
    view: str
    gate: str
    mask: np.ndarray
    weight: np.ndarray

    @property
    def density(self) -> float:
        """Fraction of kept entries of the view matrix (0 for an empty matrix)."""
        return float(self.mask.mean()) if self.mask.size else 0.0


@dataclass(frozen=True)
class _Layer:
    """The raw weights of one layer and direction of a recurrent module."""

    module: str
    layer: int
    direction: str
    gates: tuple[str, ...]
    ih: tuple[np.ndarray, np.ndarray]  # (mask, |W ⊙ M|)
    hh: tuple[np.ndarray, np.ndarray]


def _stack(mask: np.ndarray, weight: np.ndarray, gates: tuple[str, ...]) -> list[tuple[str, tuple]]:
    return [("stack", (mask, weight))]


def _union(mask: np.ndarray, weight: np.ndarray, gates: tuple[str, ...]) -> list[tuple[str, tuple]]:
    blocks = len(gates)
    rows = mask.shape[0] // blocks
    merged_mask = mask.reshape(blocks, rows, -1).any(axis=0)
    merged_weight = weight.reshape(blocks, rows, -1).sum(axis=0)
    return [("union", (merged_mask, merged_weight))]


def _per_gate(mask: np.ndarray, weight: np.ndarray, gates: tuple[str, ...]) -> list[tuple[str, tuple]]:
    return list(zip(gates, zip(np.split(mask, len(gates)), np.split(weight, len(gates)))))


GATE_MODES: Mapping[str, Callable] = registry({"stack": _stack, "union": _union, "per_gate": _per_gate})
VIEWS: tuple[str, ...] = ("ih", "hh", "step")


def recurrent_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """All ``torch.nn`` recurrent modules and cells (and subclasses) inside ``model``, by name.

    Examples
    --------
    >>> from torch import nn
    >>> [name for name, _ in recurrent_modules(nn.Sequential(nn.LSTM(3, 4), nn.GRUCell(4, 2)))]
    ['0', '1']
    """
    return [
        (name, mod) for name, mod in model.named_modules() if isinstance(mod, nn.RNNBase | nn.RNNCellBase)
    ]


def _gate_names(module: nn.Module) -> tuple[str, ...]:
    """The gates of a module's row blocks, from its cell kind (``("h",)`` for an Elman RNN)."""
    for kind in CELL_KINDS.values():
        if isinstance(module, kind.torch_module | kind.torch_cell):
            return kind.gates
    raise ConfigError(f"expected a torch.nn.RNN, LSTM or GRU (or cell), got {type(module).__name__}")


def _param_suffixes(module: nn.Module) -> Iterator[tuple[int, str, str]]:
    """(layer, direction, parameter-name suffix) of every layer and direction of ``module``."""
    if isinstance(module, nn.RNNCellBase):
        yield 0, "forward", ""
        return
    for layer in range(module.num_layers):
        yield layer, "forward", f"_l{layer}"
        if module.bidirectional:
            yield layer, "reverse", f"_l{layer}_reverse"


def _mask_and_weight(module: nn.Module, name: str) -> tuple[np.ndarray, np.ndarray]:
    weight = getattr(module, name).detach().cpu().to(torch.float64)
    masks = getattr(module, "masks", None)
    if masks is not None and name in masks:
        mask = masks[name]
    elif isinstance(getattr(module, f"{name}_mask", None), torch.Tensor):  # torch.nn.utils.prune
        mask = getattr(module, f"{name}_mask")
    else:
        mask = weight != 0
    mask = torch.as_tensor(mask).detach().cpu().to(torch.bool)
    if mask.shape != weight.shape:
        raise MaskError(f"mask of {name} has shape {tuple(mask.shape)}; expected {tuple(weight.shape)}")
    if not torch.isfinite(weight).all():
        raise MaskError(f"{name} has non-finite weights (NaN or inf); expected finite weights")
    return mask.numpy(), (weight.abs() * mask).numpy()


def _layers(name: str, module: nn.Module) -> Iterator[_Layer]:
    for layer, direction, suffix in _param_suffixes(module):
        yield _Layer(
            module=name,
            layer=layer,
            direction=direction,
            gates=_gate_names(module),
            ih=_mask_and_weight(module, f"weight_ih{suffix}"),
            hh=_mask_and_weight(module, f"weight_hh{suffix}"),
        )


def _as_tuple(value: str | Sequence[str], what: str, choices: Sequence[str]) -> tuple[str, ...]:
    values = (value,) if isinstance(value, str) else tuple(value)
    for item in values:
        if item not in choices:
            raise ConfigError(f"unknown {what} {item!r}; choose from {', '.join(sorted(choices))}")
    if not values:
        raise ConfigError(f"empty {what} list; choose from {', '.join(sorted(choices))}")
    return values


def _view_of(raw: _Layer, view: str, gates: str) -> list[tuple[str, tuple[np.ndarray, np.ndarray]]]:
    split = lookup(GATE_MODES, gates, "gate mode")
    if view != "step":
        return split(*getattr(raw, view), raw.gates)
    ih, hh = split(*raw.ih, raw.gates), split(*raw.hh, raw.gates)
    # Gate blocks are rows, shared by W_ih and W_hh: concatenate each block along the columns.
    return [(g, (np.hstack([a[0], b[0]]), np.hstack([a[1], b[1]]))) for (g, a), (_, b) in zip(ih, hh)]


def layer_views(
    model: nn.Module,
    *,
    view: str | Sequence[str] = "ih",
    gates: str | Sequence[str] = "stack",
) -> list[LayerView]:
    """Bipartite view matrices of every recurrent layer in ``model``, one per layer × view × gate.

    Parameters
    ----------
    model : torch.nn.Module
        Any module; every ``torch.nn.RNN/LSTM/GRU`` (or cell, or subclass such as the library's Sparse
        modules) found by ``named_modules`` is read.
    view : {"ih", "hh", "step"} or a list of them
    gates : {"stack", "union", "per_gate"} or a list of them

    Examples
    --------
    >>> import torch
    >>> views = layer_views(torch.nn.LSTM(3, 5), view="step", gates="per_gate")
    >>> [(v.gate, v.mask.shape) for v in views]
    [('i', (5, 8)), ('f', (5, 8)), ('g', (5, 8)), ('o', (5, 8))]
    """
    views = _as_tuple(view, "view", VIEWS)
    modes = _as_tuple(gates, "gate mode", tuple(GATE_MODES))
    found = recurrent_modules(model)
    if not found:
        raise ConfigError(f"{type(model).__name__} has no recurrent module; expected an RNN, LSTM or GRU")
    out = []
    for name, module in found:
        for raw in _layers(name, module):
            for v in views:
                for mode in modes:
                    for gate, (mask, weight) in _view_of(raw, v, mode):
                        out.append(LayerView(raw.module, raw.layer, raw.direction, v, gate, mask, weight))
    return out
