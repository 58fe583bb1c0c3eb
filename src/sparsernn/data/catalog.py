"""The dataset catalog: one :class:`Dataset` record per registered dataset.

A record says everything the library knows about a dataset: its builder, a description, what one
item is, where its files go, whether it can be built now, how to prepare it, which options it takes,
and whether its items are token codes. :mod:`sparsernn.data.registry` (``build``, ``check_options``,
``sparsernn data list|prepare``) reads only these records, so a new dataset is one new record.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparsernn._registry import registry
from sparsernn.data import cifar, mnist, speech, speech_layout, synthetic_speech
from sparsernn.data.arrays import check_option_names, keyword_names
from sparsernn.data.batch import DataSplits
from sparsernn.data.mnist_1d import build_mnist1d
from sparsernn.data.paths import data_home, dataset_root
from sparsernn.errors import DataError

Root = str | os.PathLike[str] | None


@dataclass(frozen=True)
class Dataset:
    """One registered dataset.

    Attributes
    ----------
    name : str
        The registry name (``-`` and ``_`` are interchangeable when looked up).
    builder : callable
        ``(*, seed, root=None, **options) -> DataSplits``.
    description, items : str
        What ``sparsernn data list`` shows: the dataset, and one ``(x, y)`` item.
    folder : callable or None
        ``folder(root) -> Path``: the folder the builder reads (``root=None``: the default one);
        None for generated data.
    home : callable or None
        The default folder ``sparsernn data list`` shows, when it is not ``folder(None)``.
    available : callable or None
        ``available(folder) -> bool``: whether the data can be built now from that folder; None
        for data that is always available (generated).
    prepare : callable or None
        ``prepare(root, **options) -> Path``: downloads, synthesizes or checks the files; None when
        there is nothing to prepare.
    prepare_makes : bool
        Whether ``prepare`` makes the files (downloads or synthesizes them) rather than only checking
        files obtained elsewhere.
    on_demand : bool
        Whether the builder makes missing files itself, offline (the synthetic speech corpus), so
        nothing is checked before a study's first run.
    options_of : callable or None
        Returns the function whose keyword defaults are the builder's options, for a builder that
        passes its options on (None: the builder's own keywords).
    extra_options : tuple of str
        Options taken beyond those keywords (default None).
    check_corpus : callable or None
        ``check_corpus(corpus)``: ConfigError for bad values of the ``corpus`` option (the options of
        the corpus ``prepare`` makes), so a recipe fails when it is checked, not in every run.
    tokens : bool
        Whether the items are token codes (an embedding reads them), not float signals.
    """

    name: str
    builder: Callable[..., DataSplits]
    description: str
    items: str
    folder: Callable[[Root], Path] | None = None
    home: Callable[[], Path] | None = None
    available: Callable[[Path], bool] | None = None
    prepare: Callable[..., Path] | None = None
    prepare_makes: bool = False
    on_demand: bool = False
    options_of: Callable[[], Callable[..., Any]] | None = None
    extra_options: tuple[str, ...] = field(default=())
    check_corpus: Callable[[Mapping[str, Any]], object] | None = None
    tokens: bool = False

    def where(self) -> tuple[Path | None, bool]:
        """The default folder of the files (None for generated data) and whether it can be built now.

        Examples
        --------
        >>> CATALOG["mnist1d"].where()
        (None, True)
        """
        if self.folder is None:
            return None, True
        root = self.home() if self.home is not None else self.folder(None)
        return root, self.available is None or self.available(root)


def _darji_reber_dataset() -> Callable[..., Any]:
    # Imported on first use: sparsernn.data.text is loaded lazily (see sparsernn.data).
    from sparsernn.data.text import darji_reber_dataset

    return darji_reber_dataset


def build_darji_reber(*, seed: int, root: str | Path | None = None, **options: Any) -> DataSplits:
    """Darji's Reber-grammar classification data (generated; ``root`` is ignored).

    Delegates to :func:`sparsernn.data.text.darji_reber_dataset`, imported here lazily.

    Examples
    --------
    >>> splits = build_darji_reber(seed=0, n_valid=40)
    >>> splits.num_classes, splits.vocab_size
    (2, 128)
    """
    builder = _darji_reber_dataset()
    check_option_names("dataset 'darji_reber'", keyword_names(builder, "seed"), options)
    return builder(seed=seed, **options)


def _folder_of(name: str) -> Callable[[Root], Path]:
    return lambda root: dataset_root(name, root)


def _speech_available(root: Path) -> bool:
    return (root / speech_layout.VALIDATION_LIST).is_file() and (root / speech_layout.TESTING_LIST).is_file()


def _cifar_available(root: Path) -> bool:  # every file: a study trains on all five batches
    folder = cifar.cifar_folder(root)
    return all((folder / name).is_file() for name in cifar.FILES["train"] + cifar.FILES["test"])


def _synthetic_folder(root: Root) -> Path:
    return dataset_root("synthetic_speech", root) if root is not None else data_home() / "synthetic_speech"


def _synthetic_available(root: Path) -> bool:  # built on demand where espeak-ng is installed
    return _speech_available(root) or synthetic_speech.espeak_available()


def _prepare_speech_commands(root: Root) -> Path:
    folder = dataset_root("speech_commands", root)
    if not _speech_available(folder):
        raise DataError(
            f"{folder}: no Speech Commands v0.02 layout (validation_list.txt, testing_list.txt); "
            f"download {speech_layout.SPEECH_COMMANDS_URL} and extract it there"
        )
    return folder


def _prepare_fashion_mnist(root: Root) -> Path:
    folder = mnist.fashion_mnist_root(root)
    if not mnist.idx_files_present(folder):
        raise DataError(
            f"{folder}: no Fashion-MNIST IDX files; install them with "
            f"'apt-get install dataset-fashion-mnist' or copy the four files there"
        )
    return folder


_SPEECH_ITEMS = "x (101, F) float, y a class index"
_MNIST_ITEMS = "x (28, 28) or (784, 1) float, y 0..9"

CATALOG: Mapping[str, Dataset] = registry(
    {
        d.name: d
        for d in (
            Dataset(
                "mnist1d",
                build_mnist1d,
                "MNIST-1D, generated by the mnist1d package",
                "x (40, 1) float, y 0..9",
            ),
            Dataset(
                "sequential_mnist",
                mnist.build_sequential_mnist,
                "MNIST IDX files, row- or pixel-wise, optional fixed permutation; prepare downloads them",
                _MNIST_ITEMS,
                folder=_folder_of("sequential_mnist"),
                available=mnist.idx_files_present,
                prepare=mnist.download_mnist,
                prepare_makes=True,
            ),
            Dataset(
                "fashion_mnist",
                mnist.build_fashion_mnist,
                "Fashion-MNIST IDX files (Debian package dataset-fashion-mnist)",
                _MNIST_ITEMS,
                folder=mnist.fashion_mnist_root,
                available=mnist.idx_files_present,
                prepare=_prepare_fashion_mnist,
            ),
            Dataset(
                "cifar10",
                cifar.build_cifar10,
                "CIFAR-10 binary distribution, row- or pixel-wise; prepare downloads it",
                "x (32, 96) or (1024, 3) float, y 0..9",
                folder=_folder_of("cifar10"),
                available=_cifar_available,
                prepare=cifar.download_cifar10,
                prepare_makes=True,
            ),
            Dataset(
                "speech_commands",
                speech.build_speech_commands,
                "Google Speech Commands v0.02 layout -> log-mel / MFCC frames",
                _SPEECH_ITEMS,
                folder=_folder_of("speech_commands"),
                available=_speech_available,
                prepare=_prepare_speech_commands,
            ),
            Dataset(
                "synthetic_speech",
                synthetic_speech.build_synthetic_speech,
                "the ten command words synthesized offline with espeak-ng, Speech Commands layout",
                _SPEECH_ITEMS,
                folder=_synthetic_folder,
                home=synthetic_speech.default_root,
                available=_synthetic_available,
                prepare=synthetic_speech.prepare_synthetic_speech,
                prepare_makes=True,
                on_demand=True,
                options_of=lambda: speech.build_speech_commands,  # it passes its options on
                extra_options=("corpus", "words"),
                check_corpus=synthetic_speech.check_corpus,
            ),
            Dataset(
                "darji_reber",
                build_darji_reber,
                "Darji's Reber-grammar strings, valid vs invalid (generated, or the thesis' files: "
                "source=files, path=DIR)",
                "x (T,) long, y 0 or 1",
                options_of=_darji_reber_dataset,  # it passes its options on to the string generator
                tokens=True,
            ),
        )
    }
)
"""Dataset name → :class:`Dataset` record: the one place that describes each dataset."""
