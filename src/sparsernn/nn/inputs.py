"""Checks shared by the classifiers: input kind, read-out name, input tensors and sequence lengths."""

from __future__ import annotations

import torch
from torch import Tensor

from sparsernn.errors import ConfigError, DataError
from sparsernn.nn.mask_ops import tracing

READOUTS = ("last", "last_valid")


def check_classifier_args(input_size: int | None, vocab_size: int | None, readout: str) -> None:
    """Exactly one of ``input_size`` / ``vocab_size``, and a known ``readout``."""
    if (input_size is None) == (vocab_size is None):
        raise ConfigError("give exactly one of input_size (float inputs) and vocab_size (token inputs)")
    if readout not in READOUTS:
        raise ConfigError(f"unknown readout {readout!r}; choose from {', '.join(READOUTS)}")


def check_input(x: Tensor, *, vocab_size: int | None, input_size: int | None) -> None:
    """``x`` must be integer tokens (B, T) in ``0..vocab_size-1`` when ``vocab_size`` is given, else
    features (B, T, input_size). (The token range is not checked while the forward is traced.)

    Examples
    --------
    >>> check_input(torch.tensor([[1, 7]]), vocab_size=5, input_size=None)
    Traceback (most recent call last):
    ...
    sparsernn.errors.DataError: token 7 is outside the vocabulary 0..4 (vocab_size 5)
    """
    if vocab_size is not None:
        if x.dim() != 2 or x.is_floating_point():
            raise DataError(f"token input must be an integer tensor (B, T), got {x.dtype} {tuple(x.shape)}")
        if x.numel() and not tracing():
            low, high = (int(v) for v in torch.aminmax(x))
            if low < 0 or high >= vocab_size:
                bad = low if low < 0 else high
                raise DataError(
                    f"token {bad} is outside the vocabulary 0..{vocab_size - 1} (vocab_size {vocab_size})"
                )
    elif x.dim() != 3 or x.shape[-1] != input_size:
        raise DataError(f"float input must have shape (B, T, {input_size}), got {tuple(x.shape)}")


def check_num_classes(num_classes: int) -> None:
    """A classifier needs at least one output class."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"num_classes must be a positive integer, got {num_classes!r}")


def checked_lengths(lengths: Tensor, batch: int, steps: int) -> Tensor:
    """``lengths`` as a CPU long tensor (packing needs it there), each within 1..steps.

    Examples
    --------
    >>> checked_lengths(torch.tensor([3, 1]), 2, 3).tolist()
    [3, 1]
    """
    lengths = torch.as_tensor(lengths).to("cpu", torch.long)
    if lengths.shape != (batch,):
        raise DataError(f"lengths must have shape ({batch},), got {tuple(lengths.shape)}")
    if int(lengths.min()) < 1 or int(lengths.max()) > steps:
        raise DataError(f"lengths must lie in 1..{steps} (the padded length), got {lengths.tolist()}")
    return lengths
