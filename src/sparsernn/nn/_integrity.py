"""Integrity checks of checkpoints: per-tensor checksums, and stored shapes against a model's.

A tensor's checksum is the SHA-256 of its dtype and shape (as JSON) followed by its bytes, so a flipped
bit in the data, a changed dtype or a reshaped tensor are all caught.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from sparsernn.errors import CheckpointError


def tensor_digest(tensor: torch.Tensor) -> str:
    """SHA-256 (hex) of a tensor's dtype, shape and bytes: the per-tensor checksum of a checkpoint.

    Examples
    --------
    >>> a = tensor_digest(torch.zeros(2, 3))
    >>> len(a), a == tensor_digest(torch.zeros(3, 2)), a == tensor_digest(torch.zeros(2, 3))
    (64, False, True)
    """
    tensor = tensor.detach().to("cpu").contiguous()
    digest = hashlib.sha256(json.dumps([str(tensor.dtype), list(tensor.shape)]).encode())
    digest.update(tensor.reshape(-1).view(torch.uint8).numpy())  # the bytes, without a copy
    return digest.hexdigest()


def verify_digests(path: Path, state: dict[str, torch.Tensor], digests: dict) -> None:
    """CheckpointError naming ``path`` unless every tensor of ``state`` matches its digest."""
    if digests.keys() != state.keys():
        odd = sorted(digests.keys() ^ state.keys())[0]
        raise CheckpointError(
            f"checkpoint {path} is corrupt: tensor {odd[:100]!r} has no checksum or no data"
        )
    for key, tensor in state.items():
        if digests[key] != tensor_digest(tensor):
            raise CheckpointError(f"checkpoint {path} is corrupt: tensor {key!r} does not match its checksum")


def check_shapes(path: Path, name: str, state: dict, expected: dict[str, tuple[int, ...]]) -> None:
    """CheckpointError unless ``state`` has exactly the tensor names and shapes of ``expected``."""
    missing = sorted(expected.keys() - state.keys())
    extra = sorted(state.keys() - expected.keys())
    if missing or extra:
        what = f"lacks {missing[0]!r}" if missing else f"has an unexpected tensor {extra[0]!r}"
        raise CheckpointError(f"checkpoint {path} does not match its {name}: it {what}")
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise CheckpointError(
                f"checkpoint {path} does not match its {name}: {key} has shape "
                f"{tuple(state[key].shape)}; the model's arguments declare {shape}"
            )


def one_line(err: BaseException) -> str:
    """The first lines of an exception's message joined into one line of at most 300 characters."""
    lines = str(err).strip().splitlines()
    text = " ".join(line.strip() for line in lines[:3]) if lines else type(err).__name__
    return text[:300]
