"""MNIST-1D: the ten-class 1-D signal benchmark, generated locally with the ``mnist1d`` package.

Only the package's generator (``mnist1d.data.make_dataset``) is used, never its download or its
pickle cache, so building the dataset touches neither the network nor the file system.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from sparsernn.data.arrays import ArrayDataset, count_option
from sparsernn.data.batch import DataSplits
from sparsernn.data.validation import with_validation
from sparsernn.errors import ConfigError

SEQUENCE_LENGTH = 40
NUM_CLASSES = 10


@contextmanager
def _global_rng_restored() -> Iterator[None]:
    # mnist1d seeds the global `random` and `numpy.random` states; put them back so the caller's
    # global RNG is untouched (library rule). Not thread-safe, like the package itself.
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def _generate(n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_samples`` (a multiple of ten) signals ``(N, 40)`` and labels from the package generator."""
    from mnist1d.data import get_dataset_args, make_dataset  # slow import (matplotlib): keep it lazy

    args = get_dataset_args()
    args.num_samples = n_samples
    args.train_split = 1.0  # we split ourselves, so the test part below is empty
    args.seed = seed
    with _global_rng_restored():
        data = make_dataset(args)
    return data["x"], data["y"]


def build_mnist1d(
    *,
    seed: int,
    root: str | Path | None = None,
    n_train: int = 4000,
    n_test: int = 1000,
    n_val: int = 0,
    val_fraction: float = 0.0,
) -> DataSplits:
    """MNIST-1D splits: items ``(x, y)`` with ``x`` float32 ``(T=40, F=1)`` and ``y`` in 0..9.

    The package generator makes ``n_train + n_test`` signals (rounded up to a multiple of ten,
    since it draws the same number per class), shuffles them, standardizes the whole set to mean 0
    and std 1, and we take the first ``n_train`` as training and the next ``n_test`` as test
    items. With the defaults and ``seed=42`` this equals the package's own default dataset
    (``make_dataset(get_dataset_args())``: 4000 train, 1000 test).

    Parameters
    ----------
    seed : int
        Generator seed (0 ≤ seed < 2**32); the same seed gives the same data.
    root : ignored
        Accepted for the common builder signature; nothing is read or written.
    n_train, n_test : int
        Number of training and test items.
    n_val, val_fraction : int, float
        Hold out this many (or this fraction of the) training items as a validation split, drawn
        with ``seed`` (:mod:`sparsernn.data.validation`); 0 keeps the training set whole.

    Returns
    -------
    DataSplits
        ``input_size=1``, ``num_classes=10``.

    Examples
    --------
    >>> splits = build_mnist1d(seed=0, n_train=30, n_test=10)
    >>> len(splits.train), len(splits.test)
    (30, 10)
    >>> x, y = splits.train[0]
    >>> x.shape, x.dtype, 0 <= y < 10
    (torch.Size([40, 1]), torch.float32, True)
    """
    n_train = count_option(n_train, "n_train", allow_none=False)
    n_test = count_option(n_test, "n_test", allow_none=False)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise ConfigError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    total = n_train + n_test
    x, y = _generate(-(-total // NUM_CLASSES) * NUM_CLASSES, int(seed))
    x = torch.from_numpy(np.ascontiguousarray(x[:total], dtype=np.float32)).unsqueeze(-1)  # (N, T, 1)
    y = torch.from_numpy(np.asarray(y[:total], dtype=np.int64))
    data = DataSplits(
        name="mnist1d",
        train=ArrayDataset(x[:n_train], y[:n_train]),
        test=ArrayDataset(x[n_train:], y[n_train:]),
        num_classes=NUM_CLASSES,
        input_size=1,
    )
    return with_validation(data, seed=int(seed), n_val=n_val, val_fraction=val_fraction)
