"""One helper that turns every accepted ``seed=`` argument into a generator.

Library code never touches the global NumPy or torch random state: functions take ``seed`` and
build their own generator from it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

Seed = int | np.random.Generator | None


def numpy_rng(seed: Seed) -> np.random.Generator:
    """Return a NumPy ``Generator`` for ``seed`` (an int, an existing Generator, or None for fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, int | np.integer) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be an int, a numpy Generator or None, not {type(seed).__name__}")


def torch_generator(seed: int) -> torch.Generator:
    """Return a CPU ``torch.Generator`` seeded with ``seed``."""
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, not {type(seed).__name__}")
    gen = torch.Generator()
    gen.manual_seed(int(seed))
    return gen


@contextlib.contextmanager
def torch_seeded(seed: int) -> Iterator[None]:
    """Run a block with torch's global RNG seeded by ``seed``, restoring the caller's state afterwards.

    Module initialisation and dropout draw from torch's global RNG; this scopes that to one run.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield
