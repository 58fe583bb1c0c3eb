"""Checks of the masks a sparse module is given: by ``set_mask`` and inside a loaded state dict."""

from __future__ import annotations

import torch
from torch import Tensor

from sparsernn.errors import MaskError


def check_mask(name: str, mask: object, shape: tuple[int, ...]) -> None:
    """Raise MaskError unless ``mask`` is a dense bool tensor of ``shape`` holding real values."""
    if not isinstance(mask, Tensor):
        raise MaskError(f"mask for {name} must be a torch bool tensor, not {type(mask).__name__}")
    _check_storage(name, mask)
    if mask.dtype != torch.bool:
        raise MaskError(f"mask for {name} has dtype {mask.dtype}; expected torch.bool")
    if tuple(mask.shape) != shape:
        raise MaskError(f"mask for {name} has shape {tuple(mask.shape)}; expected {shape}")


def check_loaded_mask(key: str, mask: object) -> None:
    """Raise MaskError unless the state-dict entry ``key`` is a dense mask of bools or exact 0/1 values."""
    if not isinstance(mask, Tensor):
        raise MaskError(f"mask {key} must be a tensor, not {type(mask).__name__}")
    _check_storage(key, mask)
    if mask.dtype != torch.bool and not bool(((mask == 0) | (mask == 1)).all()):
        raise MaskError(f"mask {key} holds values other than 0 and 1; expected a bool (or exact 0/1) mask")


def _check_storage(name: str, mask: Tensor) -> None:
    if mask.layout != torch.strided:
        raise MaskError(f"mask for {name} has layout {mask.layout}; expected a dense (strided) tensor")
    if mask.is_meta:
        raise MaskError(f"mask for {name} is on the meta device (it holds no values); expected real values")
