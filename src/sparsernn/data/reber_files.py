"""The thesis' Reber files: ``reber_sequences.csv``, ``train_data.csv``, ``test_data.csv``, checked.

H. Darji's thesis repository (harshildarji/thesis) publishes its Reber data as three CSV files with
the columns ``string`` and ``label``: all 25,000 pairs, and its own 75/25 split. These readers load a
user's copy, plain or gzipped, and check every row (a string ``B...E`` of letters A–Z, a label 0 or
1 that agrees with the Reber automaton), so a malformed file is a one-line :class:`DataError` naming
the file and line, never a silently different dataset. Also importable from
:mod:`sparsernn.data.reber`; :func:`sparsernn.data.reber.darji_data` chooses between these files and
generated strings.
"""

from __future__ import annotations

import csv
import gzip
import os
import re
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from sparsernn.data.reber_grammar import is_valid
from sparsernn.errors import ConfigError, DataError

#: The thesis' Reber files by role, its own name first, then the name in ../shared/data/darji-thesis/;
#: each may be plain (``.csv``) or gzipped (``.csv.gz``).
DARJI_FILE_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "strings": ("reber_sequences", "reber_strings"),
        "train": ("train_data", "reber_train"),
        "test": ("test_data", "reber_test"),
    }
)

_WORD = re.compile(r"B[A-Z]*E")


def _shown(s: str) -> str:
    return repr(s if len(s) <= 60 else s[:57] + "...")


def _check_row(s: str, label: str, where: str, is_valid: Callable[[str], bool]) -> tuple[str, int]:
    """The pair of one file row, or DataError naming the row and what is wrong with it."""
    if label.strip() not in ("0", "1"):
        raise DataError(f"{where}: label {_shown(label)}; expected 0 or 1")
    if not _WORD.fullmatch(s):
        bad = next((c for c in s if not "A" <= c <= "Z"), None)
        if bad is not None:
            raise DataError(
                f"{where}: string {_shown(s)} has the character {bad!r}; expected letters A-Z only"
            )
        raise DataError(f"{where}: string {_shown(s)} does not start with B and end with E")
    valid, label_int = is_valid(s), int(label)
    if valid != bool(label_int):
        raise DataError(
            f"{where}: label {label_int}, but {_shown(s)} is {'' if valid else 'not '}a Reber string"
        )
    return s, label_int


def read_pairs(path: str | os.PathLike[str]) -> list[tuple[str, int]]:
    """The ``(string, label)`` rows of one of the thesis' CSV files, in file order.

    The file is gzipped when its name ends in ``.gz``. Its header names the columns ``string`` and
    ``label`` (other columns, e.g. an index, are ignored); every row has a string ``B<A-Z letters>E``
    and the label 1 exactly when it is a Reber string (:func:`sparsernn.data.reber.is_valid`), 0 otherwise.

    Raises
    ------
    DataError
        For a missing, unreadable, empty or headerless file, a missing column, or a bad row (naming
        the file, the line and what is wrong).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "test_data.csv"
    >>> _ = path.write_text("string,label\\nBTXSE,1\\nBPTXSE,0\\n")
    >>> read_pairs(path)
    [('BTXSE', 1), ('BPTXSE', 0)]
    >>> _ = path.write_text("string,label\\nBTXSE,0\\n")
    >>> read_pairs(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sparsernn.errors.DataError: .../test_data.csv, line 2: label 0, but 'BTXSE' is a Reber string
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, EOFError, UnicodeDecodeError, zlib.error, csv.Error) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"{path}: not a readable CSV file ({reason})") from None
    if not rows:
        raise DataError(f"{path}: empty file; expected a header with the columns string, label and rows")
    header = [name.strip() for name in rows[0]]
    missing = [name for name in ("string", "label") if name not in header]
    if missing:
        raise DataError(f"{path}: no column {' or '.join(missing)} in the header; expected string, label")
    if len(rows) == 1:
        raise DataError(f"{path}: no rows after the header; expected one (string, label) row per string")
    at_s, at_label = header.index("string"), header.index("label")
    pairs = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(f"{path}, line {line}: {len(row)} fields; the header has {len(header)}")
        pairs.append(_check_row(row[at_s], row[at_label], f"{path}, line {line}", is_valid))
    return pairs


def _darji_file(folder: Path, role: str, *, required: bool = True) -> Path | None:
    """The one file of ``role`` in ``folder`` (see :data:`DARJI_FILE_NAMES`), or DataError."""
    names = [stem + ext for stem in DARJI_FILE_NAMES[role] for ext in (".csv", ".csv.gz")]
    found = [folder / name for name in names if (folder / name).is_file()]
    if len(found) > 1:
        raise DataError(f"{folder}: both {found[0].name} and {found[1].name} hold the {role}; keep one")
    if not found and required:
        raise DataError(
            f"{folder}: no {names[0]} (nor {', '.join(names[1:])}); expected the thesis' Reber files"
        )
    return found[0] if found else None


def _darji_folder(folder: str | os.PathLike[str]) -> Path:
    if not isinstance(folder, str | os.PathLike):
        raise ConfigError(f"path must be a folder name, got {type(folder).__name__}")
    path = Path(folder)
    if not path.is_dir():
        raise DataError(
            f"{path}: no such folder; expected the thesis' Reber files (train_data.csv, test_data.csv)"
        )
    return path


def load_darji_strings(folder: str | os.PathLike[str]) -> list[tuple[str, int]]:
    """The thesis' 25,000 pairs before the split, from ``reber_sequences.csv`` in ``folder``.

    Read with :func:`read_pairs`; the gzipped file and the name ``reber_strings`` do as well.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "reber_sequences.csv").write_text("string,label\\nBTXSE,1\\n")
    >>> load_darji_strings(folder)
    [('BTXSE', 1)]
    """
    return read_pairs(_darji_file(_darji_folder(folder), "strings"))


def load_darji_split(
    folder: str | os.PathLike[str],
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """The thesis' own split: the pairs of ``train_data.csv`` and ``test_data.csv`` in ``folder``.

    Read with :func:`read_pairs`, in file order. When ``reber_sequences.csv`` is there too, the two
    files must hold exactly its rows (DataError otherwise).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "train_data.csv").write_text("string,label\\nBTXSE,1\\nBPTXSE,0\\n")
    >>> _ = (folder / "test_data.csv").write_text("string,label\\nBPVVE,1\\n")
    >>> load_darji_split(folder)
    ([('BTXSE', 1), ('BPTXSE', 0)], [('BPVVE', 1)])
    """
    path = _darji_folder(folder)
    files = [_darji_file(path, role) for role in ("train", "test")]
    train, test = (read_pairs(file) for file in files)
    strings = _darji_file(path, "strings", required=False)
    if strings is not None and Counter(train + test) != Counter(read_pairs(strings)):
        raise DataError(
            f"{path}: {files[0].name} and {files[1].name} do not hold exactly the rows of {strings.name}"
        )
    return train, test
