"""Validation splits: a seeded hold-out of the training set, so decisions never look at the test set.

Every builder takes ``n_val`` (a number of training items) or ``val_fraction`` (a fraction of them);
both default to 0, which leaves the training set whole and the splits exactly as before. A hold-out
is drawn after the builder has made its training set, so ``train ∪ val`` is that training set item
for item (normalization statistics included: they stay those of the whole training set) and the
test set is untouched. The draw has its own random stream (``seed`` and a fixed salt), so the same
seed gives the same split and the builder's own draws do not change. Speech Commands layouts take
their validation clips from ``validation_list.txt`` instead (:mod:`sparsernn.data.speech`).

:func:`splits` is the accessor a protocol uses: ``train, val, test = splits(data)``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from sparsernn.data.arrays import ArrayDataset
from sparsernn.data.batch import DataSplits
from sparsernn.errors import ConfigError

#: The builder options that ask for a hold-out validation split.
VAL_OPTIONS = ("n_val", "val_fraction")
_SALT = 0x56A1  # a stream of its own: the hold-out never shifts the builder's draws


@dataclass(frozen=True)
class ValidatedSplits(DataSplits):
    """:class:`~sparsernn.data.batch.DataSplits` with a validation split ``val`` (None: none asked for)."""

    val: Dataset | None = None


class Splits(NamedTuple):
    """The three datasets of a run: ``val`` is None when the builder was asked for none."""

    train: Dataset
    val: Dataset | None
    test: Dataset


def splits(data: DataSplits) -> Splits:
    """The ``(train, val, test)`` datasets of built splits (``val`` None when there is none).

    Examples
    --------
    >>> from sparsernn.data import build
    >>> train, val, test = splits(build("mnist1d", seed=0, n_train=40, n_test=10, n_val=10))
    >>> len(train), len(val), len(test)
    (30, 10, 10)
    """
    val = data.val if isinstance(data, ValidatedSplits) else None
    return Splits(data.train, val, data.test)


def option_problem(option: str, value: object) -> str | None:
    """What is wrong with an ``n_val`` / ``val_fraction`` value (None when it is fine).

    Examples
    --------
    >>> option_problem("val_fraction", 1.5)
    'must be a fraction in [0, 1), got 1.5'
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return f"must be a number, got {value!r}"
    if option == "n_val" and not (float(value).is_integer() and value >= 0):
        return f"must be an integer >= 0, got {value!r}"
    if option == "val_fraction" and not (math.isfinite(value) and 0 <= value < 1):
        return f"must be a fraction in [0, 1), got {value!r}"
    return None


def val_size(n_train: int, *, n_val: int = 0, val_fraction: float = 0.0) -> int:
    """The number of training items to hold out (``round(val_fraction * n_train)`` or ``n_val``).

    Examples
    --------
    >>> val_size(100, val_fraction=0.1), val_size(100, n_val=7), val_size(100)
    (10, 7, 0)
    """
    for option, value in (("n_val", n_val), ("val_fraction", val_fraction)):
        problem = option_problem(option, value)
        if problem is not None:
            raise ConfigError(f"{option} {problem}")
    if n_val and val_fraction:
        raise ConfigError(f"n_val={n_val} and val_fraction={val_fraction} both given; expected one of them")
    size = int(n_val) if n_val else round(float(val_fraction) * n_train)
    if val_fraction and size == 0:
        raise ConfigError(
            f"val_fraction={val_fraction} of {n_train} training items holds out none; "
            "expected a larger fraction or n_val"
        )
    if size >= n_train and size > 0:
        raise ConfigError(
            f"a validation split of {size} items leaves no training item out of {n_train}; "
            f"expected fewer than {n_train}"
        )
    return size


def hold_out_indices(n_train: int, n_val: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted training and validation indices: ``n_val`` of ``range(n_train)`` drawn with ``seed``.

    Examples
    --------
    >>> train, val = hold_out_indices(6, 2, seed=0)
    >>> sorted([*train, *val]) == list(range(6)), len(val)
    (True, 2)
    """
    rng = np.random.default_rng([int(seed), _SALT])
    chosen = np.zeros(n_train, dtype=bool)
    chosen[rng.permutation(n_train)[:n_val]] = True
    return np.flatnonzero(~chosen), np.flatnonzero(chosen)


def take(dataset: Dataset, indices: np.ndarray) -> Dataset:
    """The items ``indices`` of ``dataset`` (an :class:`ArrayDataset` stays one).

    Examples
    --------
    >>> import numpy as np, torch
    >>> part = take(ArrayDataset(torch.zeros(4, 2, 1), torch.tensor([0, 1, 2, 3])), np.array([1, 3]))
    >>> type(part).__name__, part.y.tolist()
    ('ArrayDataset', [1, 3])
    """
    if isinstance(dataset, ArrayDataset):
        index = torch.from_numpy(np.asarray(indices, dtype=np.int64))
        return ArrayDataset(dataset.x[index], dataset.y[index])
    return Subset(dataset, [int(i) for i in indices])


def with_validation(data: DataSplits, *, seed: int, n_val: int = 0, val_fraction: float = 0.0) -> DataSplits:
    """``data`` with a seeded hold-out of its training set as ``val``; ``data`` itself when none is asked.

    Examples
    --------
    >>> import torch
    >>> data = DataSplits("toy", ArrayDataset(torch.zeros(10, 3, 1), torch.arange(10)),
    ...                   ArrayDataset(torch.zeros(2, 3, 1), torch.zeros(2)), 10, input_size=1)
    >>> train, val, test = splits(with_validation(data, seed=0, val_fraction=0.2))
    >>> len(train), len(val), len(test)
    (8, 2, 2)
    """
    size = val_size(len(data.train), n_val=n_val, val_fraction=val_fraction)
    if size == 0:
        return data
    train_index, val_index = hold_out_indices(len(data.train), size, seed=seed)
    fields = {f.name: getattr(data, f.name) for f in dataclasses.fields(DataSplits)}
    fields |= {"train": take(data.train, train_index)}
    return ValidatedSplits(**fields, val=take(data.train, val_index))
