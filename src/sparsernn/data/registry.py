"""The dataset registry: name → builder, plus the functions behind ``sparsernn data list|prepare``.

Every builder has the signature ``build_<name>(*, seed, root=None, **options) -> DataSplits``;
:func:`build` looks one up by name (``-`` and ``_`` are interchangeable) and checks the option
names before calling it. What is known about each dataset is its :class:`~sparsernn.data.catalog.Dataset`
record in :data:`~sparsernn.data.catalog.CATALOG`; everything here reads those records.
"""

from __future__ import annotations

import inspect
import math
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparsernn._registry import lookup, registry
from sparsernn.data import audio, mnist, speech, validation
from sparsernn.data.arrays import check_option_names, keyword_names
from sparsernn.data.batch import DataSplits
from sparsernn.data.catalog import CATALOG, Dataset, build_darji_reber
from sparsernn.errors import ConfigError, DataError

__all__ = [
    "DATASETS",
    "MAX_CHANNELS",
    "MAX_ITEMS",
    "TOKEN_DATASETS",
    "DatasetInfo",
    "accepts_option",
    "build",
    "build_darji_reber",
    "check_files",
    "check_options",
    "data_folder",
    "is_token_data",
    "list_datasets",
    "prepare",
]

#: Dataset name → builder (from the :data:`~sparsernn.data.catalog.CATALOG` records).
DATASETS: Mapping[str, Callable[..., DataSplits]] = registry({d.name: d.builder for d in CATALOG.values()})


def _canonical(name: object) -> object:
    return name.replace("-", "_") if isinstance(name, str) else name


def _check_options(name: str, builder: Callable[..., DataSplits], options: Mapping[str, Any]) -> None:
    params = inspect.signature(builder).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):  # else it checks its own
        check_option_names(f"dataset {name!r}", keyword_names(builder, "seed"), options)


#: Documented maxima of the size options (items per split, valid strings, spectrogram channels).
MAX_ITEMS = 1_000_000
MAX_CHANNELS = 512
_COUNTS = {
    "n_train": MAX_ITEMS,
    "n_test": MAX_ITEMS,
    "n_valid": MAX_ITEMS,
    "n_mels": MAX_CHANNELS,
    "n_mfcc": MAX_CHANNELS,
}
_CHOICES = {
    "layout": mnist.LAYOUTS,
    "features": audio.FEATURE_KINDS,
    "test_split": ("testing", "validation"),
    "noise_on": speech.NOISE_SPLITS,
    "source": ("files", "generated"),  # darji_reber: sparsernn.data.reber.DARJI_SOURCES
}
#: Datasets whose items are token codes (an embedding reads them), not float signals.
TOKEN_DATASETS = frozenset(d.name for d in CATALOG.values() if d.tokens)


def _record(name: object) -> Dataset:
    return lookup(CATALOG, _canonical(name), "dataset")


def _option_defaults(dataset: Dataset) -> dict[str, Any]:
    """Keyword defaults of the builder (or of the function it passes its options on to), ``root`` first."""
    builder = dataset.builder if dataset.options_of is None else dataset.options_of()
    params = inspect.signature(builder).parameters.values()
    defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    defaults.pop("seed", None)
    return {"root": None} | defaults | dict.fromkeys(dataset.extra_options)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_value(option: str, value: Any, default: Any) -> str | None:
    """What is wrong with one option value (None when nothing is known to be wrong)."""
    if value is None:
        return None if default is None else "must not be null"
    if option in validation.VAL_OPTIONS:
        return validation.option_problem(option, value)
    if option in _COUNTS and not (_is_int(value) and 1 <= value <= _COUNTS[option]):
        return f"must be an integer in [1, {_COUNTS[option]}], got {value!r}"
    if option in _CHOICES and value not in _CHOICES[option]:
        return f"must be one of {', '.join(_CHOICES[option])}, got {value!r}"
    if isinstance(default, bool) and not isinstance(value, bool):
        return f"must be true or false, got {value!r}"
    if option == "normalize" and isinstance(default, str) and value not in mnist.NORMALIZATIONS:
        return f"must be one of {', '.join(mnist.NORMALIZATIONS)}, got {value!r}"
    if option == "snr_db" and not (_is_number(value) and math.isfinite(value)):
        return f"must be a finite number of dB, got {value!r}"
    if option == "train_fraction" and not (_is_number(value) and 0 < value < 1):
        return f"must be a fraction in (0, 1), got {value!r}"
    if option == "permutation_seed" and not (_is_int(value) and 0 <= value < 2**32):
        return f"must be an integer in [0, 2**32), got {value!r}"
    if option in ("root", "cache_dir", "path") and not (isinstance(value, str) and value.strip()):
        return f"must be a folder path, got {value!r}"
    if option == "words" and not (
        isinstance(value, list | tuple) and all(isinstance(w, str) and w for w in value)
    ):
        return f"must be a list of words, got {value!r}"
    if option == "corpus" and not isinstance(value, Mapping):
        return f"must be a mapping of corpus options, got {type(value).__name__}"
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_options(name: str, options: Mapping[str, Any]) -> str:
    """Check a dataset name and its builder options without building anything; return the canonical name.

    Names, sizes (:data:`MAX_ITEMS`, :data:`MAX_CHANNELS`), choices and flags are checked, so a recipe
    fails before its first run starts. Raises a one-line :class:`ConfigError` naming the option.

    Examples
    --------
    >>> check_options("darji-reber", {"n_valid": 40})
    'darji_reber'
    >>> check_options("mnist1d", {"n_train": 1e30})
    Traceback (most recent call last):
    ...
    sparsernn.errors.ConfigError: option n_train of dataset 'mnist1d' must be an integer in [1, 1000000], got 1e+30
    """
    dataset = _record(name)
    name = dataset.name
    defaults = _option_defaults(dataset)
    check_option_names(f"dataset {name!r}", sorted(defaults), options)
    for option, value in options.items():
        problem = _check_value(option, value, defaults[option])
        if problem is not None:
            raise ConfigError(f"option {option} of dataset {name!r} {problem}")
    if options.get("corpus") and dataset.prepare is not None:  # the options of the corpus it prepares
        accepted = keyword_names(dataset.prepare, "root")
        check_option_names(f"the {name.replace('_', ' ')} corpus", accepted, options["corpus"])
        if dataset.check_corpus is not None:
            try:
                dataset.check_corpus(options["corpus"])
            except ConfigError as error:
                raise ConfigError(f"option corpus of dataset {name!r}: {error}") from None
    return name


def accepts_option(name: str, option: str) -> bool:
    """Whether the builder of dataset ``name`` takes ``option`` (e.g. ``snr_db``: speech data)."""
    dataset = CATALOG.get(_canonical(name))
    return dataset is not None and option in _option_defaults(dataset)


def is_token_data(name: str) -> bool:
    """Whether dataset ``name`` yields token codes rather than float signals (no Gaussian input noise)."""
    return _canonical(name) in TOKEN_DATASETS


def data_folder(name: str, options: Mapping[str, Any]) -> Path | None:
    """The absolute folder dataset ``name`` reads (and, with ``download``, writes); None for generated data.

    Examples
    --------
    >>> data_folder("cifar10", {"root": "/data/cifar"})
    PosixPath('/data/cifar')
    >>> data_folder("mnist1d", {}) is None
    True
    """
    dataset = _record(name)
    if dataset.folder is None:
        return None
    return Path(os.path.abspath(dataset.folder(options.get("root"))))


def check_files(name: str, options: Mapping[str, Any], *, fetch: bool = False) -> None:
    """Raise a one-line DataError when dataset ``name`` with ``options`` reads files that are not there.

    Called before a study's first run on the local backend, so that missing data stops the study at
    once instead of failing every run. Data a recipe asks to download (``download: true``) is
    fetched here, once, when ``fetch`` is true (a real run; a dry run only looks), so that parallel
    runs never download into the same folder. Otherwise the error names the ``sparsernn data
    prepare`` command that gets the files or, for files obtained elsewhere, how to get them.
    Generated data, and data the builder makes itself offline, pass. Without a fetch, no folder is
    created.

    Examples
    --------
    >>> check_files("mnist1d", {})
    >>> check_files("cifar10", {"root": "/nonexistent/cifar"})
    Traceback (most recent call last):
    ...
    sparsernn.errors.DataError: dataset 'cifar10': missing files in /nonexistent/cifar; prepare them first with: sparsernn data prepare cifar10 --root /nonexistent/cifar
    """
    dataset = _record(name)
    if dataset.folder is None or dataset.available is None or dataset.on_demand:
        return
    root = options.get("root")
    folder = Path(os.path.abspath(dataset.folder(root)))
    if dataset.available(folder):
        return
    if not dataset.prepare_makes and dataset.prepare is not None:
        try:
            dataset.prepare(root)  # only checks the files; its error says how to get them
        except DataError as error:
            raise DataError(f"dataset {dataset.name!r}: {error}") from None
        return
    command = f"sparsernn data prepare {dataset.name}"
    if root is not None:
        command += f" --root {shlex.quote(str(root))}"
    if options.get("download") and dataset.prepare is not None:
        if not fetch:
            return  # the run will fetch it first
        try:
            dataset.prepare(root)
        except (DataError, OSError) as error:
            raise DataError(
                f"dataset {dataset.name!r}: download into {folder} failed ({error}); "
                f"get the files with: {command}"
            ) from None
        return
    raise DataError(
        f"dataset {dataset.name!r}: missing files in {folder}; prepare them first with: {command}"
    )


def build(name: str, *, seed: int, **options: Any) -> DataSplits:
    """Build the dataset registered as ``name`` with ``seed`` and builder ``options``.

    Examples
    --------
    >>> splits = build("mnist1d", seed=0, n_train=20, n_test=10)
    >>> splits.name, len(splits.train), splits.input_size
    ('mnist1d', 20, 1)
    """
    dataset = _record(name)
    _check_options(dataset.name, dataset.builder, options)
    return dataset.builder(seed=seed, **options)


@dataclass(frozen=True)
class DatasetInfo:
    """What ``sparsernn data list`` shows about one dataset.

    ``items`` describes one ``(x, y)`` item; ``root`` is the default folder of file-based data
    (None for generated data); ``available`` tells whether the data can be built now without
    preparing anything; ``preparable`` whether ``sparsernn data prepare NAME`` does something.
    """

    name: str
    description: str
    items: str
    root: Path | None
    available: bool
    preparable: bool


def list_datasets() -> list[DatasetInfo]:
    """Describe every registered dataset, in name order, and whether it can be built now.

    Examples
    --------
    >>> [info.name for info in list_datasets()][:3]
    ['cifar10', 'darji_reber', 'fashion_mnist']
    """
    return [
        DatasetInfo(d.name, d.description, d.items, *d.where(), d.prepare_makes)
        for d in sorted(CATALOG.values(), key=lambda d: d.name)
    ]


def prepare(name: str, root: str | os.PathLike[str] | None = None, **options: Any) -> Path:
    """Make dataset ``name`` available on disk and return its folder.

    ``sequential_mnist`` and ``cifar10`` are downloaded (SHA-256 verified, resumable);
    ``synthetic_speech`` is synthesized with espeak-ng; ``fashion_mnist`` and ``speech_commands``
    are checked (the error says how to get them). Generated datasets need nothing: ConfigError.

    Examples
    --------
    >>> import tempfile
    >>> folder = prepare("synthetic-speech", tempfile.mkdtemp() + "/speech", words=("yes",),
    ...                  voices=("en-us",), rates=(150,), pitches=(50,))
    >>> sorted(p.name for p in folder.iterdir())
    ['_background_noise_', 'sparsernn_synthetic.json', 'testing_list.txt', 'validation_list.txt', 'yes']
    """
    dataset = _record(name)
    if dataset.prepare is None:
        choices = ", ".join(sorted(d.name for d in CATALOG.values() if d.prepare is not None))
        raise ConfigError(
            f"dataset {dataset.name!r} is generated when built; nothing to prepare (preparable: {choices})"
        )
    check_option_names(f"preparing {dataset.name!r}", keyword_names(dataset.prepare, "root"), options)
    return Path(dataset.prepare(root, **options))
