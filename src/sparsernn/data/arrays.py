"""The in-memory dataset every builder returns, and small checks shared by the builders."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch.utils.data import Dataset

from sparsernn.errors import ConfigError, DataError


class ArrayDataset(Dataset):
    """Items ``(x[i], int(y[i]))`` over a stacked input tensor and a label tensor.

    Parameters
    ----------
    x : torch.Tensor
        ``(N, T, F)`` float inputs or ``(N, T)`` long token codes.
    y : torch.Tensor
        ``(N,)`` integer class labels.

    Examples
    --------
    >>> import torch
    >>> ds = ArrayDataset(torch.zeros(3, 5, 2), torch.tensor([0, 1, 1]))
    >>> len(ds), ds[1][0].shape, ds[1][1]
    (3, torch.Size([5, 2]), 1)
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if x.shape[0] != y.shape[0]:
            raise DataError(
                f"inputs hold {x.shape[0]} items but labels hold {y.shape[0]}; expected equal counts"
            )
        self._x = x
        self._y = y.to(torch.long)

    @property
    def x(self) -> torch.Tensor:
        """All inputs, ``(N, T, F)`` or ``(N, T)``."""
        return self._x

    @property
    def y(self) -> torch.Tensor:
        """All labels, ``(N,)`` long."""
        return self._y

    def __len__(self) -> int:
        return int(self._y.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self._x[index], int(self._y[index])


def count_option(value: object, name: str, *, allow_none: bool = True) -> int | None:
    """Check a sample-count option: a positive int (or None where allowed).

    Examples
    --------
    >>> count_option(5, "n_train"), count_option(None, "n_test")
    (5, None)
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def choice_option(value: object, name: str, choices: Iterable[str]) -> str:
    """Check that a string option is one of ``choices``.

    Examples
    --------
    >>> choice_option("rows", "layout", ("rows", "pixels"))
    'rows'
    """
    allowed = tuple(choices)
    if value not in allowed:
        raise ConfigError(f"unknown {name} {value!r}; choose from {', '.join(sorted(allowed))}")
    return str(value)


def check_option_names(what: str, accepted: Iterable[str], given: Iterable[str]) -> None:
    """ConfigError for the first name of ``given`` not in ``accepted``.

    Examples
    --------
    >>> check_option_names("dataset 'x'", ["n_train"], ["n_test"])
    Traceback (most recent call last):
    ...
    sparsernn.errors.ConfigError: unknown option 'n_test' for dataset 'x'; choose from n_train
    """
    accepted = sorted(accepted)
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r} for {what}; choose from {', '.join(accepted)}")


def keyword_names(function: Callable[..., object], *exclude: str) -> list[str]:
    """Names of the keyword parameters of ``function``, less ``exclude``.

    Examples
    --------
    >>> keyword_names(lambda *, seed, root=None, n=1: None, "seed")
    ['root', 'n']
    """
    params = inspect.signature(function).parameters.values()
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds and p.name not in exclude]


def subset_indices(n_items: int, n: int | None, rng: np.random.Generator, what: str) -> np.ndarray:
    """Indices of a random subset of ``n`` of ``n_items`` items, in their original order (all when None).

    Examples
    --------
    >>> import numpy as np
    >>> idx = subset_indices(10, 4, np.random.default_rng(0), "n_train")
    >>> len(idx), bool((np.diff(idx) > 0).all())
    (4, True)
    """
    if n is None:
        return np.arange(n_items)
    if n > n_items:
        raise ConfigError(f"{what}={n} is more than the {n_items} items available")
    return np.sort(rng.choice(n_items, size=n, replace=False))
