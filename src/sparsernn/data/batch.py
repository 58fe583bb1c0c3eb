"""The one batch format every dataset and training loop of the library shares.

A dataset item is ``(x, y)``: ``x`` a float tensor ``(T, F)`` (frames, pixels, rows) or a long tensor
``(T,)`` of token codes, ``y`` an int class label. :func:`collate` right-pads a list of items with
zeros into a :class:`Batch` (batch first) and keeps the true lengths, so a model can either read the
last (possibly padded) time step, as the original studies did, or pack the sequences.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from sparsernn.errors import DataError


@dataclass(frozen=True)
class Batch:
    """A padded, batch-first batch: ``x`` (B, T, F) float or (B, T) long, ``lengths`` (B,), ``y`` (B,).

    It unpacks as ``x, y`` (inputs and targets, like the ``(inputs, targets)`` pairs of a plain torch
    loop); ``lengths`` is read by name.

    Examples
    --------
    >>> import torch
    >>> batch = Batch(torch.zeros(2, 3), torch.tensor([3, 1]), torch.tensor([1, 0]))
    >>> x, y = batch
    >>> tuple(x.shape), y.tolist(), batch.lengths.tolist()
    ((2, 3), [1, 0], [3, 1])
    """

    x: torch.Tensor
    lengths: torch.Tensor
    y: torch.Tensor

    def __iter__(self) -> Iterator[torch.Tensor]:
        """Iterate over ``(x, y)``, so that ``x, y = batch`` works."""
        return iter((self.x, self.y))

    def to(self, device: torch.device | str) -> Batch:
        """Return the batch moved to ``device`` (lengths stay on the CPU, as packing requires)."""
        return Batch(self.x.to(device), self.lengths, self.y.to(device))


def collate(items: Sequence[tuple[torch.Tensor, int]]) -> Batch:
    """Right-pad ``(x, y)`` items with zeros into one :class:`Batch`.

    Examples
    --------
    >>> import torch
    >>> b = collate([(torch.tensor([3, 4, 5]), 1), (torch.tensor([7]), 0)])
    >>> b.x.tolist(), b.lengths.tolist(), b.y.tolist()
    ([[3, 4, 5], [7, 0, 0]], [3, 1], [1, 0])
    """
    if not items:
        raise DataError("cannot collate an empty list of items")
    xs = [torch.as_tensor(x) for x, _ in items]
    lengths = torch.tensor([len(x) for x in xs], dtype=torch.long)
    if int(lengths.min()) == 0:
        raise DataError("cannot collate a sequence of length 0")
    x = torch.nn.utils.rnn.pad_sequence(xs, batch_first=True, padding_value=0)
    y = torch.tensor([int(label) for _, label in items], dtype=torch.long)
    return Batch(x, lengths, y)


@dataclass(frozen=True)
class DataSplits:
    """What a dataset builder returns: the splits and what a model needs to know to read them.

    ``input_size`` is the feature width F of float inputs (None for token inputs); ``vocab_size`` the
    number of token codes for token inputs (None for float inputs).
    """

    name: str
    train: Dataset
    test: Dataset
    num_classes: int
    input_size: int | None = None
    vocab_size: int | None = None
