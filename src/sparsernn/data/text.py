"""Character-level datasets: strings as 7-bit character codes for an ``Embedding(128, d)``.

A string becomes the LongTensor of its character codes ``ord(c)``, each in 1..127; code 0 is the
padding :func:`sparsernn.data.batch.collate` adds on the right, so no string may contain NUL.
Batches carry the true lengths: a model can read the last (padded) time step, as the Darji study
did, or pack the sequences so padding is never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import torch
from torch.utils.data import Dataset

from sparsernn.data.batch import DataSplits
from sparsernn.data.reber import darji_data
from sparsernn.data.validation import with_validation
from sparsernn.errors import DataError

#: Number of character codes (0 = padding, 1..127 = 7-bit ASCII without NUL).
VOCAB_SIZE = 128


def encode(s: str, *, index: int = 0) -> torch.Tensor:
    """The character codes of ``s`` as a LongTensor ``(len(s),)``; ``index`` names ``s`` in errors.

    Raises
    ------
    DataError
        For an empty string or a character outside codes 1..127 (naming it, its position and ``index``).

    Examples
    --------
    >>> encode("BTXSE").tolist()
    [66, 84, 88, 83, 69]
    """
    if not isinstance(s, str):
        raise DataError(f"string {index} is a {type(s).__name__}, not a str")
    if not s:
        raise DataError(f"string {index} is empty; every sequence needs at least one character")
    try:
        raw = s.encode("ascii")
    except UnicodeEncodeError as err:
        raise _bad_character(s, err.start, index) from None
    if b"\0" in raw:
        raise _bad_character(s, raw.index(b"\0"), index)
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8).long()


def _bad_character(s: str, pos: int, index: int) -> DataError:
    return DataError(
        f"string {index} has character {s[pos]!r} (code {ord(s[pos])}) at position {pos}; "
        "character codes must be in 1..127 (0 is padding)"
    )


class CharDataset(Dataset):
    """``(string, label)`` pairs as items ``(LongTensor of character codes, int label)``.

    Strings are checked and encoded once, here. Use with
    ``DataLoader(ds, batch_size=32, collate_fn=sparsernn.data.batch.collate)``.

    Examples
    --------
    >>> from torch.utils.data import DataLoader
    >>> from sparsernn.data.batch import collate
    >>> ds = CharDataset([("BTXSE", 1), ("BPE", 0)])
    >>> ds[1]
    (tensor([66, 80, 69]), 0)
    >>> batch = next(iter(DataLoader(ds, batch_size=2, collate_fn=collate)))
    >>> batch.x.tolist(), batch.lengths.tolist(), batch.y.tolist()
    ([[66, 84, 88, 83, 69], [66, 80, 69, 0, 0]], [5, 3], [1, 0])
    """

    def __init__(self, pairs: Sequence[tuple[str, int]]) -> None:
        self._codes: list[torch.Tensor] = []
        self._labels: list[int] = []
        for i, pair in enumerate(pairs):
            if not (isinstance(pair, tuple | list) and len(pair) == 2):
                raise DataError(f"item {i} must be a (string, label) pair, got {pair!r}")
            s, label = pair
            if isinstance(label, bool) or not isinstance(label, Integral) or label < 0:
                raise DataError(f"item {i} has label {label!r}; labels must be integers >= 0")
            self._codes.append(encode(s, index=i))
            self._labels.append(int(label))

    def __len__(self) -> int:
        return len(self._codes)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self._codes[i], self._labels[i]


def darji_reber_dataset(
    *,
    seed: int,
    n_valid: int = 12_500,
    train_fraction: float = 0.75,
    source: str = "generated",
    path: str | None = None,
    n_val: int = 0,
    val_fraction: float = 0.0,
) -> DataSplits:
    """The Darji-Reber task: valid vs invalid Reber strings, split 75/25, as character datasets.

    Equivalent to ``darji_split(darji_strings(seed=seed, n_valid=n_valid), seed=seed)`` wrapped in
    :class:`CharDataset`; ``source="files"`` reads the thesis' own strings and split from the folder
    ``path`` instead (see :func:`sparsernn.data.reber.darji_data`). ``n_valid`` below 12,500 scales
    the invalid blocks proportionally (see :func:`sparsernn.data.reber.darji_block_sizes`), so
    classes stay balanced: ``2 * n_valid`` strings in all (18,750 train / 6,250 test at full size).
    ``n_val`` / ``val_fraction`` hold out training strings as a validation split
    (:mod:`sparsernn.data.validation`; ``n_valid`` counts grammar-valid strings, not these).

    Examples
    --------
    >>> splits = darji_reber_dataset(seed=0, n_valid=40)
    >>> splits.name, len(splits.train), len(splits.test), splits.num_classes, splits.vocab_size
    ('darji_reber', 60, 20, 2, 128)
    """
    train, test = darji_data(
        seed=seed, n_valid=n_valid, train_fraction=train_fraction, source=source, path=path
    )
    data = DataSplits(
        name="darji_reber",
        train=CharDataset(train),
        test=CharDataset(test),
        num_classes=2,
        vocab_size=VOCAB_SIZE,
    )
    return with_validation(data, seed=seed, n_val=n_val, val_fraction=val_fraction)
