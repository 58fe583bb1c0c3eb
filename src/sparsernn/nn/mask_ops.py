"""The primitives that keep pruned entries exactly zero: masking by bit-wise AND, in and out of autograd.

A float with all bits cleared is +0.0, so AND-ing a weight's bits with a mask's bits (all ones where
kept, all zeros where pruned) gives exact zeros at pruned entries whatever they held, NaN and inf
included, at the cost of a product. :class:`SparseRNNBase <sparsernn.nn.base.SparseRNNBase>` uses
these for its forward, its state dict and its conversions.
"""

from __future__ import annotations

import torch
from torch import Tensor

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
        return masked_and(grad, bits), None


def zero_in_place(weight: Tensor, pruned: Tensor, bits: Tensor | None) -> None:
    """Set the pruned entries of ``weight`` to +0.0 in place, invisibly to autograd.

    Writing through ``.data`` leaves the parameter's version counter alone, so a graph that saved the
    weight earlier (say a penalty term computed before the forward) can still run its backward (it
    then sees 0 at the pruned entries, the value they stand for).
    """
    if bits is None:
        weight.data.masked_fill_(pruned.to(weight.device), 0.0)
    else:
        weight.data.view(bits.dtype).bitwise_and_(bits)


def tracing() -> bool:
    """True while torch.compile, torch.export or the TorchScript tracer runs the forward."""
    return torch.compiler.is_compiling() or torch.compiler.is_exporting() or torch.jit.is_tracing()
