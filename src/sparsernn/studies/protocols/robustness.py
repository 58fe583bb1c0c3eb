"""Robustness evaluation: accuracy under input noise, at every pruning level.

Two kinds of noise, chosen by the data:

- ``gaussian``: additive Gaussian noise of standard deviation σ on every input value (images,
  MNIST-1D signals). The noise of each level is drawn from its own fixed seed, so every pruning
  level sees exactly the same noisy inputs.
- ``snr``: the test split rebuilt with background noise mixed in at a signal-to-noise ratio in dB
  (Speech Commands and the synthetic corpus: the builder's ``snr_db`` option).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from pydantic import Field, model_validator
from torch.utils.data import DataLoader

from sparsernn.data import Batch, build, collate
from sparsernn.errors import ConfigError
from sparsernn.studies.config import RunConfig, Section

MAX_LEVELS = 100  # noise levels per run (each is a full evaluation at every pruning level)


class Robustness(Section):
    """Noise kind and levels: σ ≥ 0 for ``gaussian``, a finite SNR in dB for ``snr`` (NaN, inf rejected)."""

    kind: Literal["gaussian", "snr"] = "gaussian"
    levels: list[float] = Field(min_length=1, max_length=MAX_LEVELS)

    @model_validator(mode="after")
    def _levels(self) -> Robustness:
        if self.kind == "gaussian" and any(level < 0 for level in self.levels):
            raise ValueError(f"gaussian noise levels are standard deviations σ ≥ 0, got {self.levels}")
        return self


def check_robustness(config: RunConfig, robustness: Robustness) -> None:
    """Fail before any run starts when the data cannot take the noise (called by recipe expansion)."""
    from sparsernn.data.registry import accepts_option, is_token_data

    if robustness.kind == "gaussian" and is_token_data(config.data.name):
        raise ConfigError(
            f"params.robustness: gaussian noise needs float inputs; dataset {config.data.name!r} "
            "holds tokens (use no robustness, or kind snr on speech data)"
        )
    if robustness.kind == "snr" and not accepts_option(config.data.name, "snr_db"):
        raise ConfigError(
            f"params.robustness: kind snr needs speech data (an snr_db option); "
            f"dataset {config.data.name!r} has none (use kind gaussian)"
        )


@dataclass(frozen=True)
class NoisyBatches:
    """Re-iterable test batches with fixed Gaussian noise of std ``sigma`` added to ``x``."""

    loader: DataLoader
    sigma: float
    seed: int

    def __iter__(self) -> Iterator[Batch]:
        generator = torch.Generator().manual_seed(self.seed)
        for batch in self.loader:
            noise = torch.randn(batch.x.shape, generator=generator, dtype=batch.x.dtype)
            yield Batch(batch.x + self.sigma * noise, batch.lengths, batch.y)


def noisy_test_sets(config: RunConfig, robustness: Robustness, test: DataLoader) -> dict[float, object]:
    """Test batches per noise level, built once and reused at every pruning level."""
    if robustness.kind == "gaussian":
        if not test.dataset or torch.as_tensor(test.dataset[0][0]).is_floating_point() is False:
            raise ConfigError("gaussian robustness needs float inputs; token data (e.g. Reber) has none")
        return {
            level: NoisyBatches(test, level, seed=config.seed * 1000 + i)
            for i, level in enumerate(robustness.levels)
        }
    sets = {}
    for level in robustness.levels:
        options = {**config.data.options, "snr_db": level}
        splits = build(config.data.name, seed=config.seed, **options)
        sets[level] = DataLoader(splits.test, batch_size=config.data.eval_batch_size, collate_fn=collate)
    return sets
