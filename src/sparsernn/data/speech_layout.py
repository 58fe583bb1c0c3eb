"""The Google Speech Commands v0.02 folder layout: word folders, the official split lists, the noises.

``root/<word>/<speaker>_nohash_<n>.wav`` are 1-second 16 kHz clips; ``validation_list.txt`` and
``testing_list.txt`` name clips (``word/file.wav``, one per line); ``_background_noise_/`` holds long
noise recordings. :func:`read_layout` scans a folder and checks that the lists name existing
clips and do not overlap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from sparsernn.data.paths import dataset_root
from sparsernn.errors import ConfigError, DataError

COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN, SILENCE = "_unknown_", "_silence_"
NOISE_FOLDER = "_background_noise_"
VALIDATION_LIST, TESTING_LIST = "validation_list.txt", "testing_list.txt"
SPEECH_COMMANDS_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"


@dataclass(frozen=True)
class SpeechLayout:
    """The files of a Speech Commands folder: word → clip paths (``word/file.wav``), the lists, the noises."""

    root: Path
    files: Mapping[str, tuple[str, ...]]
    validation: frozenset[str]
    testing: frozenset[str]
    noise_files: tuple[Path, ...]


def _read_list(root: Path, name: str, known: set[str]) -> frozenset[str]:
    path = root / name
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected the Speech Commands v0.02 layout in {root}")
    entries = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        entry = line.strip()
        if entry and entry not in known:
            raise DataError(f"{path}: line {number}: {entry!r} is not a clip of the dataset (word/file.wav)")
        entries.add(entry)
    entries.discard("")
    return frozenset(entries)


def read_layout(root: str | os.PathLike[str]) -> SpeechLayout:
    """Scan a Speech Commands folder and check that its lists name existing clips.

    Examples
    --------
    >>> read_layout("/nonexistent")
    Traceback (most recent call last):
    ...
    sparsernn.errors.DataError: /nonexistent: folder not found; expected the Speech Commands v0.02 layout
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: folder not found; expected the Speech Commands v0.02 layout")
    files = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name[0] not in "_."):
        files[folder.name] = tuple(sorted(f"{folder.name}/{f.name}" for f in folder.glob("*.wav")))
    known = {path for paths in files.values() for path in paths}
    validation, testing = _read_list(root, VALIDATION_LIST, known), _read_list(root, TESTING_LIST, known)
    both = validation & testing
    if both:
        raise DataError(
            f"{root / TESTING_LIST}: {min(both)!r} is also in {VALIDATION_LIST}; expected disjoint lists"
        )
    noise_files = tuple(sorted((root / NOISE_FOLDER).glob("*.wav")))
    return SpeechLayout(root, MappingProxyType(files), validation, testing, noise_files)


def speech_classes(
    words: Sequence[str] | None = COMMANDS,
    *,
    unknown: bool = False,
    silence: bool = False,
    root: str | os.PathLike[str] | None = None,
) -> tuple[str, ...]:
    """Class names in label order; ``words=None`` means every word folder of ``root``.

    Examples
    --------
    >>> speech_classes(("yes", "no"), unknown=True, silence=True)
    ('yes', 'no', '_unknown_', '_silence_')
    """
    if words is None:
        words = tuple(read_layout(dataset_root("speech_commands", root)).files)
    is_list = isinstance(words, Sequence) and not isinstance(words, str)
    if (
        not is_list
        or not words
        or not all(isinstance(w, str) for w in words)
        or len(set(words)) != len(words)
    ):
        raise ConfigError(f"words must be a non-empty list of distinct words, got {words!r}")
    return tuple(words) + ((UNKNOWN,) if unknown else ()) + ((SILENCE,) if silence else ())
