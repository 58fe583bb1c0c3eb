"""Sequence datasets: every item is ``(x, y)``, batches come from :func:`collate`.

Builders (each ``(*, seed, root=None, **options) -> DataSplits``; the splits are torch datasets):

- :func:`mnist1d` — MNIST-1D from the ``mnist1d`` generator, ``x`` ``(40, 1)``;
- :func:`sequential_mnist`, :func:`fashion_mnist` — IDX files, ``x`` ``(28, 28)`` or ``(784, 1)``;
- :func:`cifar10` — the binary distribution, ``x`` ``(32, 96)`` or ``(1024, 3)``;
- :func:`speech_commands` — Speech Commands v0.02 layout → log-mel / MFCC ``(101, F)``;
  the ``synthetic_speech`` registry entry makes and reads an espeak-ng corpus in that layout.

:data:`CATALOG` holds one :class:`Dataset` record per registered name (those above plus
``synthetic_speech`` and ``darji_reber``): builder, description, items, folder, availability,
preparation; every builder takes ``n_val`` (and most ``val_fraction``) for a validation split,
read with :func:`splits`; :data:`DATASETS` maps the names to builders; :func:`build` looks one up. The modules :mod:`sparsernn.data.reber`
(Reber grammars) and :mod:`sparsernn.data.text` (token datasets) are loaded on first access.

Examples
--------
>>> import sparsernn as sr
>>> from torch.utils.data import DataLoader
>>> splits = sr.data.build("mnist1d", seed=0, n_train=20, n_test=10)
>>> batch = next(iter(DataLoader(splits.train, batch_size=8, collate_fn=sr.data.collate)))
>>> batch.x.shape, batch.y.shape
(torch.Size([8, 40, 1]), torch.Size([8]))
"""

from __future__ import annotations

import importlib
from types import ModuleType

from sparsernn.data.batch import Batch, DataSplits, collate
from sparsernn.data.catalog import CATALOG, Dataset
from sparsernn.data.cifar import build_cifar10 as cifar10
from sparsernn.data.mnist import build_fashion_mnist as fashion_mnist
from sparsernn.data.mnist import build_sequential_mnist as sequential_mnist
from sparsernn.data.mnist_1d import build_mnist1d as mnist1d
from sparsernn.data.registry import DATASETS, DatasetInfo, build, list_datasets, prepare
from sparsernn.data.speech import build_speech_commands as speech_commands
from sparsernn.data.validation import Splits, ValidatedSplits, splits

_LAZY_MODULES = ("reber", "text")

__all__ = [
    "CATALOG",
    "DATASETS",
    "Batch",
    "DataSplits",
    "Dataset",
    "DatasetInfo",
    "Splits",
    "ValidatedSplits",
    "build",
    "cifar10",
    "collate",
    "fashion_mnist",
    "list_datasets",
    "mnist1d",
    "prepare",
    "reber",
    "sequential_mnist",
    "speech_commands",
    "splits",
]


def __getattr__(name: str) -> ModuleType:
    # reber/text are written alongside this package; importing them on first access keeps
    # `import sparsernn.data` cheap and independent of them.
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY_MODULES])
