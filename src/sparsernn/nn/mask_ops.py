"""The primitives that keep pruned entries exactly zero: masking by bit-wise AND, in and out of autograd,
and the hook that zeroes them after every optimizer step.

A float with all bits cleared is +0.0, so AND-ing a weight's bits with a mask's bits (all ones where
kept, all zeros where pruned) gives exact zeros at pruned entries whatever they held, NaN and inf
included, at the cost of a product. :class:`SparseRNNBase <sparsernn.nn.base.SparseRNNBase>` uses
these for its forward, its state dict and its conversions.
"""

from __future__ import annotations

import functools
import threading
import weakref

import torch
from torch import Tensor
from torch.optim.optimizer import register_optimizer_step_post_hook
from torch.utils.hooks import RemovableHandle

#: Float dtype -> the integer dtype of the same width, for masking by bit-wise AND.
BITS = {
    torch.float64: torch.int64,
    torch.float32: torch.int32,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
}


def masked_and(tensor: Tensor, bits: Tensor) -> Tensor:
    """``tensor`` with every entry where ``bits`` is 0 set to +0.0 (all bits cleared), others unchanged.

    Examples
    --------
    >>> w = torch.tensor([1.5, float("nan"), -2.0])
    >>> bits = torch.tensor([-1, 0, 0], dtype=torch.int32)  # keep, prune, prune
    >>> masked_and(w, bits).tolist()
    [1.5, 0.0, 0.0]
    """
    return torch.bitwise_and(tensor.view(bits.dtype), bits).view(tensor.dtype)


class MaskedWeight(torch.autograd.Function):
    """The masked weight, and the gradient masked the same way: exact zeros both ways, NaN-proof."""

    @staticmethod
    def forward(weight: Tensor, bits: Tensor) -> Tensor:
        return masked_and(weight, bits)

    @staticmethod
    def setup_context(ctx: torch.autograd.function.FunctionCtx, inputs: tuple, output: Tensor) -> None:
        ctx.save_for_backward(inputs[1])

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> tuple[Tensor, None]:
        (bits,) = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph (Hessian-vector products, gradient penalties): through
            return MaskedWeight.apply(grad, bits), None  # the Function again, so the gradient keeps its graph
        return masked_and(grad, bits), None  # the usual backward: the bare bit-AND, no autograd overhead


def mask_bits(mask: Tensor, weight: Tensor) -> Tensor | None:
    """``mask`` as bits for ``weight``: -1 (all bits set) where kept, 0 where pruned, in the integer type
    of the weight's width and on its device; None for a dtype without an integer twin.

    Examples
    --------
    >>> mask_bits(torch.tensor([True, False]), torch.zeros(2)).tolist()
    [-1, 0]
    """
    bits_type = BITS.get(weight.dtype)
    if bits_type is None:
        return None
    return mask.to(device=weight.device, dtype=bits_type).neg_()


def zero_in_place(weight: Tensor, mask: Tensor, bits: Tensor | None) -> None:
    """Set the entries of ``weight`` where ``mask`` is False to +0.0 in place, invisibly to autograd.

    ``bits`` is ``mask_bits(mask, weight)``. Writing through ``.data`` leaves the parameter's version
    counter alone, so a graph that saved the weight earlier (say a penalty term computed before the
    forward) can still run its backward (it then sees 0 at the pruned entries, the value they stand for).
    """
    if bits is None:
        weight.data.masked_fill_(mask.to(weight.device).logical_not(), 0.0)
    else:
        weight.data.view(bits.dtype).bitwise_and_(bits)


def same_mask(mask: Tensor, copy: Tensor) -> bool:
    """Whether ``mask`` equals ``copy`` (a contiguous clone of a bool mask), in dtype, shape and values.

    Compared eight entries at a time where the layout allows: a bool comparison is not vectorized
    (about 9 times slower on CPU).

    Examples
    --------
    >>> mask = torch.rand(4, 6) > 0.5
    >>> copy = mask.clone()
    >>> same_mask(mask, copy), same_mask(mask, ~copy), same_mask(mask[:, :3], copy)
    (True, False, False)
    """
    if mask.dtype != copy.dtype or mask.shape != copy.shape:
        return False
    if mask.is_contiguous() and mask.numel() % 8 == 0 and mask.storage_offset() % 8 == 0:
        return torch.equal(mask.view(-1).view(torch.int64), copy.view(-1).view(torch.int64))
    return torch.equal(mask, copy)


def tracing() -> bool:
    """True while torch.compile, torch.export or the TorchScript tracer runs the forward."""
    return torch.compiler.is_compiling() or torch.compiler.is_exporting() or torch.jit.is_tracing()


# -- after every optimizer step: one global hook zeroes the masked weights the step updated ---------

#: The sparse modules alive in this process, held weakly (being tracked never keeps a module alive).
_LIVE: weakref.WeakSet[torch.nn.Module] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()  # a module made in one thread while a step in another lists them


def track(module: torch.nn.Module) -> None:
    """After every optimizer step from now on, zero the pruned entries of ``module``'s weights it updated.

    ``module`` is a sparse module: its ``_zero_stepped(ids)`` zeroes its masked weights among the
    parameters with those ids. The cost per step is a set of the optimizer's parameter ids and one
    look-up per masked weight of each live sparse module; only weights the step updated are touched.
    """
    with _LIVE_LOCK:
        _install_step_hook()
        _LIVE.add(module)


@functools.cache
def _install_step_hook() -> RemovableHandle:
    """torch's hook after every step of every optimizer: installed once, with the first sparse module."""
    return register_optimizer_step_post_hook(_zero_after_step)


def _zero_after_step(optimizer: torch.optim.Optimizer, _args: object, _kwargs: object) -> None:
    with _LIVE_LOCK:
        modules = list(_LIVE)
    if modules:
        stepped = {id(p) for group in optimizer.param_groups for p in group["params"]}
        for module in modules:
            module._zero_stepped(stepped)
