"""Plain ``torch.nn`` recurrent modules rebuilt from the weights in any state dict, for analysis.

A checkpoint of a user's own model carries no description the library can rebuild, but its recurrent
layers are recognisable by their parameter names, under any prefix (``""``, ``"encoder.rnn."``, ...):
``weight_ih_l<k>``, ``weight_hh_l<k>`` (``_reverse`` for the second direction), optional ``bias_ih_l<k>``,
``bias_hh_l<k>`` and, for an LSTM with projections, ``weight_hr_l<k>``; a cell's are ``weight_ih``,
``weight_hh``, ``bias_ih``, ``bias_hh``. Masks are read from ``<name>_mask`` tensors: the library's bool
buffers, or ``torch.nn.utils.prune``'s 0/1 float masks, whose weight is then stored as ``<name>_orig``.
A masked tensor is rebuilt with the mask folded in (pruned entries exactly 0, whatever the file holds
there), so the plain module computes what the pruned source computed; the mask is kept beside it as
a ``<name>_mask`` bool buffer. Every tensor keeps its stored dtype.

**Cell kind from shapes.** ``W_hh`` has ``gates × hidden`` rows and ``hidden`` columns (``proj_size``
with projections, where ``weight_hr`` is ``proj_size × hidden``), so ``gates = rows / hidden``:
1 = Elman RNN, 3 = GRU, 4 = LSTM; nothing else is accepted. The nonlinearity of an Elman RNN is not in
its weights: ``rnn_tanh`` is assumed unless ``cell`` says ``rnn_relu`` (no graph figure depends on it).
"""

from __future__ import annotations

import re
from collections import defaultdict

import torch
from torch import nn

from sparsernn.errors import CheckpointError
from sparsernn.nn.cells import CELL_KINDS

CELLS: tuple[str, ...] = tuple(CELL_KINDS)
# Gate count -> the kind inferred from W_hh's shape (the first kind of that count: rnn_tanh for 1).
_INFERRED = {g: k for k, g in reversed([(k.name, k.gate_count) for k in CELL_KINDS.values()])}
_KEY = re.compile(
    r"^(?P<prefix>(?:.*\.)?)(?P<kind>weight_ih|weight_hh|weight_hr|bias_ih|bias_hh)"
    r"(?P<index>_l(?P<layer>\d+)(?P<reverse>_reverse)?)?(?P<role>_orig|_mask)?$",
    re.DOTALL,  # any prefix, even one with a line break
)
Slot = tuple[int, bool]  # (layer, reverse); layer -1 for a cell


def recurrent_from_state(
    state: dict[str, torch.Tensor], *, cell: str | None = None
) -> tuple[nn.Module, list[str]]:
    """Plain recurrent modules holding the recurrent weights (and masks) found in ``state``.

    Parameters
    ----------
    state : dict of str to torch.Tensor
        A state dict, as read from a checkpoint.
    cell : {"rnn_tanh", "rnn_relu", "lstm", "gru"}, optional
        The cell kind of every recurrent module; by default inferred from the shapes (module doc).

    Returns
    -------
    (torch.nn.Module, list of str)
        The module (the only recurrent module when its prefix is ``""``, else a container whose
        ``named_modules`` names are the prefixes without the final dot) and one note per recurrent
        module saying what was inferred or assumed. Masked tensors hold their masks folded in
        (pruned entries exactly 0); the masks are ``<name>_mask`` bool buffers.

    Raises
    ------
    CheckpointError
        No recurrent weights, shapes that are no RNN/GRU/LSTM (or disagree with ``cell``), or masks
        that are not boolean or 0/1.

    Examples
    --------
    >>> lstm = nn.LSTM(3, 4, num_layers=2)
    >>> state = {f"rnn.{k}": v for k, v in lstm.state_dict().items()}
    >>> model, notes = recurrent_from_state(state)
    >>> type(model.rnn).__name__, model.rnn.num_layers
    ('LSTM', 2)
    >>> notes
    ['rnn: lstm (W_hh has 4 gate blocks of 4 rows), 2 layers, input 3, hidden 4, no masks']
    """
    if cell is not None and cell not in CELLS:
        raise CheckpointError(f"unknown cell {cell!r}; choose from {', '.join(sorted(CELLS))}")
    groups = _group(state)
    if not groups:
        raise CheckpointError(
            "no recurrent weights (no weight_ih_l0 / weight_hh_l0 tensors under any prefix)"
        )
    modules, notes = {}, []
    for prefix, slots in sorted(groups.items()):
        where = (prefix[:-1] if prefix[:-1].isprintable() else repr(prefix[:-1])) or "(root)"  # one line
        try:
            modules[prefix[:-1]], note = _build(slots, cell)
        except CheckpointError as err:
            raise CheckpointError(f"recurrent weights of {where}: {err}") from None
        notes.append(f"{where}: {note}")
    return _assemble(modules), notes


def _group(state: dict[str, torch.Tensor]) -> dict[str, dict[Slot, dict[str, dict[str, torch.Tensor]]]]:
    """prefix → (layer, reverse) → parameter kind → role ("" / "_orig" / "_mask") → tensor."""
    groups: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for key, tensor in state.items():
        match = _KEY.match(key)
        if match is None or not isinstance(tensor, torch.Tensor):
            continue
        layer = -1 if match["index"] is None else int(match["layer"])
        slot = (layer, match["reverse"] is not None)
        groups[match["prefix"]][slot][match["kind"]][match["role"] or ""] = tensor
    # A prefix counts when it holds recurrent weights, not only stray biases.
    return {p: s for p, s in groups.items() if any("weight_hh" in kinds for kinds in s.values())}


def _value(kind: str, roles: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The weight (``<name>`` or prune's ``<name>_orig``) and its bool mask (None when unmasked)."""
    weight = roles.get("", roles.get("_orig"))
    if weight is None:
        raise CheckpointError(f"{kind} has a mask but no weight")
    mask = roles.get("_mask")
    if mask is None:
        return weight, None
    if tuple(mask.shape) != tuple(weight.shape):
        raise CheckpointError(f"mask of {kind} has shape {tuple(mask.shape)}; expected {tuple(weight.shape)}")
    if mask.dtype != torch.bool:
        if mask.is_complex() or not bool(((mask == 0) | (mask == 1)).all()):
            raise CheckpointError(f"mask of {kind} holds values other than 0 and 1; expected a 0/1 mask")
        mask = mask != 0
    return weight, mask


def _shape_of(slots: dict) -> tuple[int, int, int, int]:
    """(gates, input_size, hidden_size, proj_size) from the first layer's weights."""
    first = slots[min(slots)]  # complete: checked by _layout
    hh, _ = _value("weight_hh", first["weight_hh"])
    ih, _ = _value("weight_ih", first["weight_ih"])
    if hh.dim() != 2 or ih.dim() != 2 or hh.shape[1] == 0:
        raise CheckpointError(
            f"weight_hh has shape {tuple(hh.shape)}; expected a 2-D gates·hidden × hidden matrix"
        )
    proj, hidden = 0, hh.shape[1]
    if "weight_hr" in first:
        hr, _ = _value("weight_hr", first["weight_hr"])
        proj, hidden = (hr.shape[0], hr.shape[1]) if hr.dim() == 2 else (0, 0)
        if proj != hh.shape[1] or hidden == 0:
            raise CheckpointError(f"weight_hr has shape {tuple(hr.shape)}; expected proj_size × hidden")
    gates, rest = divmod(hh.shape[0], hidden)
    if rest or gates not in _INFERRED or (proj and gates != 4):
        raise CheckpointError(
            f"weight_hh has shape {tuple(hh.shape)}, not 1, 3 or 4 gate blocks of {hidden} rows "
            "(expected an RNN, GRU or LSTM)"
        )
    return gates, ih.shape[1], hidden, proj


def _layout(slots: dict) -> tuple[int, bool]:
    """Number of layers (0 for a cell) and bidirectionality; every layer complete."""
    layers = sorted({layer for layer, _ in slots})
    if -1 in layers and (len(layers) > 1 or (-1, True) in slots):
        raise CheckpointError("cell weights (weight_ih, weight_hh) mixed with layer weights")
    if layers != [-1] and layers != list(range(len(layers))):
        raise CheckpointError(f"layers {layers} are not numbered 0, 1, ...")
    reverse = (0, True) in slots
    for layer in layers:
        for direction in (False, True) if reverse else (False,):
            kinds = slots.get((layer, direction), {})
            suffix = "" if layer < 0 else f"_l{layer}{'_reverse' if direction else ''}"
            for kind in ("weight_ih", "weight_hh"):
                if kind not in kinds:
                    raise CheckpointError(f"{kind}{suffix} is missing")
    return (0 if layers == [-1] else len(layers)), reverse


def _kind(gates: int, cell: str | None) -> tuple[str, str]:
    if cell is None:
        inferred = _INFERRED[gates]
        guess = (
            " (tanh assumed: the nonlinearity is not stored; --cell rnn_relu for ReLU)" if gates == 1 else ""
        )
        return inferred, guess
    expected = CELL_KINDS[cell].gate_count
    if expected != gates:
        raise CheckpointError(f"W_hh has {gates} gate block(s) but cell {cell} has {expected}")
    return cell, ""


def _build(slots: dict, cell: str | None) -> tuple[nn.Module, str]:
    num_layers, bidirectional = _layout(slots)
    gates, input_size, hidden, proj = _shape_of(slots)
    kind, guess = _kind(gates, cell)
    bias = "bias_ih" in slots[min(slots)]
    tensors, masks = {}, {}
    for (layer, reverse), kinds in slots.items():
        suffix = "" if layer < 0 else f"_l{layer}{'_reverse' if reverse else ''}"
        for name, roles in kinds.items():
            weight, mask = _value(name + suffix, roles)
            # Folded, so the module computes what the pruned source did; masked_fill, not a product,
            # so a NaN or inf where the mask prunes becomes an exact 0 (and the dtype is kept).
            tensors[name + suffix] = weight if mask is None else weight.masked_fill(~mask, 0)
            if mask is not None:
                masks[name + suffix] = mask
    args = (kind, input_size, hidden, num_layers, bias, bidirectional, proj)
    with torch.device("meta"):  # the shapes these arguments declare, without allocating them
        expected = {k: tuple(v.shape) for k, v in _make(*args).state_dict().items()}
    _check(tensors, expected, kind)
    module = _make(*args)
    # assign=True keeps the stored dtypes (bf16, float64, ...); copies: never share the caller's tensors
    module.load_state_dict({k: v.clone() for k, v in tensors.items()}, assign=True)
    for name, mask in masks.items():
        module.register_buffer(name + "_mask", mask)
    layers = "a cell" if num_layers == 0 else f"{num_layers} layer{'s' if num_layers > 1 else ''}"
    extra = (", bidirectional" if bidirectional else "") + (f", proj {proj}" if proj else "")
    how = f"{len(masks)} mask{'s' if len(masks) > 1 else ''}" if masks else "no masks"
    source = "--cell" if cell else f"W_hh has {gates} gate block{'s' if gates > 1 else ''} of {hidden} rows"
    note = f"{kind} ({source}){guess}, {layers}, input {input_size}, hidden {hidden}{extra}, {how}"
    return module, note


def _check(tensors: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]], kind: str) -> None:
    """Every weight present, of the shape the first layer implies, and floating point."""
    for name in sorted(expected.keys() ^ tensors.keys()):
        what = "is missing" if name in expected else "does not belong to it"
        raise CheckpointError(f"{name} {what} (expected the parameters of a {kind} layer)")
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != shape:
            raise CheckpointError(f"{name} has shape {tuple(tensors[name].shape)}; expected {shape}")
        if not tensors[name].is_floating_point():
            raise CheckpointError(f"{name} has dtype {tensors[name].dtype}; expected floating point")


def _make(kind: str, input_size: int, hidden: int, layers: int, bias: bool, bi: bool, proj: int) -> nn.Module:
    cell = CELL_KINDS[kind]
    extra: dict[str, object] = {} if cell.nonlinearity is None else {"nonlinearity": cell.nonlinearity}
    if layers == 0:
        return cell.torch_cell(input_size, hidden, bias=bias, **extra)
    if proj:
        extra["proj_size"] = proj
    return cell.torch_module(input_size, hidden, num_layers=layers, bias=bias, bidirectional=bi, **extra)


def _assemble(modules: dict[str, nn.Module]) -> nn.Module:
    """One module whose ``named_modules`` names are the given dotted names ("" = the root)."""
    root = modules.pop("", None) or nn.Module()
    for name, module in sorted(modules.items()):
        parent = root
        *path, last = name.split(".")
        try:
            for part in path:
                if part not in parent._modules:
                    parent.add_module(part, nn.Module())
                parent = parent._modules[part]
            parent.add_module(last, module)
        except (KeyError, TypeError):  # empty name parts, or a name that is already a parameter
            raise CheckpointError(f"recurrent weights under {name!r}: cannot place a module there") from None
    return root
