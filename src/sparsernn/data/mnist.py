"""Sequential MNIST and Fashion-MNIST from IDX files, row by row or pixel by pixel.

A ``root`` folder holds the four files of the original distribution, each raw or gzipped
(``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``,
``t10k-labels-idx1-ubyte[.gz]``). Images are read as uint8 ``(N, H, W)`` (28 × 28 for MNIST) and
turned into sequences:

- ``layout="rows"``: ``x`` is ``(T=H, F=W)``, one image row per time step (28 × 28);
- ``layout="pixels"``: ``x`` is ``(T=H·W, F=1)``, one pixel per time step in row-major order (784 × 1).

``permute=True`` applies one fixed permutation of the H·W pixel positions (drawn from
``permutation_seed``, the same for train and test and for every run seed) before the layout
reshape: the "permuted sequential MNIST" task. Values are ``pixel / 255`` in [0, 1]
(``normalize="unit"``), or standardized with the mean and std of the training pixels used
(``normalize="standard"``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from sparsernn._seed import numpy_rng
from sparsernn.data.arrays import ArrayDataset, choice_option, count_option, subset_indices
from sparsernn.data.batch import DataSplits
from sparsernn.data.download import fetch
from sparsernn.data.idx import read_idx
from sparsernn.data.paths import dataset_root
from sparsernn.data.validation import with_validation
from sparsernn.errors import ConfigError, DataError

#: split → (images file, labels file), without the optional ``.gz``.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: Mirrors of the original MNIST files, tried in order (the same bytes everywhere).
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
#: SHA-256 of the gzipped MNIST files.
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
#: Where Debian's package ``dataset-fashion-mnist`` installs the Fashion-MNIST files.
FASHION_MNIST_DEBIAN_ROOT = Path("/usr/share/datasets/fashion-mnist")
NUM_CLASSES = 10
LAYOUTS = ("rows", "pixels")
NORMALIZATIONS = ("unit", "standard")


def find_idx_file(root: Path, name: str) -> Path:
    """``root/name`` or ``root/name.gz``, whichever exists (raw first); DataError when neither does."""
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{root / name}: file not found (neither raw nor .gz); expected the IDX files in {root}")


def idx_files_present(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` holds all four IDX files (raw or gzipped); their content is not checked."""
    names = [name for pair in IDX_FILES.values() for name in pair]
    return all((Path(root) / n).is_file() or (Path(root) / f"{n}.gz").is_file() for n in names)


def load_idx_split(root: str | os.PathLike[str], split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 ``(N, H, W)`` and labels uint8 ``(N,)`` of one split, with consistency checks.

    Examples
    --------
    >>> import numpy as np, pathlib, tempfile
    >>> from sparsernn.data.idx import write_idx
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_idx(root / "t10k-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    >>> _ = write_idx(root / "t10k-labels-idx1-ubyte", np.array([4, 2], np.uint8))
    >>> images, labels = load_idx_split(root, "test")
    >>> images.shape, labels.tolist()
    ((2, 28, 28), [4, 2])
    """
    image_file, label_file = (find_idx_file(Path(root), name) for name in IDX_FILES[split])
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DataError(
            f"{image_file}: IDX holds {images.dtype} of shape {images.shape}; expected uint8 (N, H, W)"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(
            f"{label_file}: IDX holds {labels.dtype} of shape {labels.shape}; expected uint8 (N,)"
        )
    if len(labels) != len(images):
        raise DataError(
            f"{label_file}: {len(labels)} labels for the {len(images)} images of {image_file.name}"
        )
    if len(labels) and int(labels.max()) >= NUM_CLASSES:
        raise DataError(
            f"{label_file}: label {int(labels.max())} out of range; expected 0..{NUM_CLASSES - 1}"
        )
    return images, labels


def pixel_permutation(n_pixels: int, seed: int) -> np.ndarray:
    """The fixed permutation of pixel positions used by ``permute=True``.

    Examples
    --------
    >>> p = pixel_permutation(784, 0)
    >>> sorted(p.tolist()) == list(range(784))
    True
    """
    return numpy_rng(seed).permutation(n_pixels)


def to_sequences(images: np.ndarray, layout: str, permutation: np.ndarray | None) -> torch.Tensor:
    """uint8 images ``(N, H, W)`` → float32 sequences in [0, 1]: rows ``(N, H, W)`` or pixels ``(N, H·W, 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
    >>> to_sequences(img, "pixels", None).shape, to_sequences(img, "rows", None).shape
    (torch.Size([1, 6, 1]), torch.Size([1, 2, 3]))
    """
    n, height, width = images.shape
    flat = images.reshape(n, height * width)
    if permutation is not None:
        flat = flat[:, permutation]
    x = torch.from_numpy(flat.astype(np.float32) / 255.0)
    return x.reshape(n, height, width) if layout == "rows" else x.reshape(n, height * width, 1)


def _build_idx(name: str, root: Path, *, seed: int, options: dict) -> DataSplits:
    layout = choice_option(options["layout"], "layout", LAYOUTS)
    normalize = choice_option(options["normalize"], "normalize", NORMALIZATIONS)
    counts = {s: count_option(options[f"n_{s}"], f"n_{s}") for s in IDX_FILES}
    rng = numpy_rng(seed)
    splits = {}
    for split in IDX_FILES:
        images, labels = load_idx_split(root, split)
        keep = subset_indices(len(labels), counts[split], rng, f"n_{split}")
        splits[split] = (images[keep], labels[keep])
    shapes = {s: images.shape[1:] for s, (images, _) in splits.items()}
    if shapes["train"] != shapes["test"]:
        raise DataError(f"{root}: train images are {shapes['train']} but test images {shapes['test']}")
    permutation = None
    if options["permute"]:
        permutation = pixel_permutation(int(np.prod(shapes["train"])), options["permutation_seed"])
    data = {s: to_sequences(images, layout, permutation) for s, (images, _) in splits.items()}
    if normalize == "standard":  # statistics of the training pixels actually used
        mean, std = float(data["train"].mean()), float(data["train"].std())
        data = {s: (x - mean) / (std if std > 0 else 1.0) for s, x in data.items()}
    datasets = {s: ArrayDataset(data[s], torch.from_numpy(splits[s][1].astype(np.int64))) for s in data}
    built = DataSplits(
        name, datasets["train"], datasets["test"], NUM_CLASSES, input_size=data["train"].shape[-1]
    )
    return with_validation(built, seed=seed, n_val=options["n_val"], val_fraction=options["val_fraction"])


def download_mnist(
    root: str | os.PathLike[str] | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
) -> Path:
    """Download the four gzipped MNIST files into ``root`` (verified, resumable; see :func:`fetch`).

    ``mirrors`` (URL prefixes, tried in order) and ``checksums`` (file name → SHA-256) default to
    :data:`MNIST_MIRRORS` and :data:`MNIST_SHA256`; tests point them at a local server.

    Examples
    --------
    >>> download_mnist("/tmp/mnist")  # doctest: +SKIP
    PosixPath('/tmp/mnist')
    """
    root = dataset_root("sequential_mnist", root)
    mirrors = MNIST_MIRRORS if mirrors is None else mirrors
    for name, digest in (MNIST_SHA256 if checksums is None else checksums).items():
        fetch([mirror + name for mirror in mirrors], root / name, digest)
    return root


def _check_common(permute: bool, permutation_seed: int) -> None:
    if not isinstance(permute, bool):
        raise ConfigError(f"permute must be true or false, got {permute!r}")
    if isinstance(permutation_seed, bool) or not isinstance(permutation_seed, int | np.integer):
        raise ConfigError(f"permutation_seed must be an integer, got {permutation_seed!r}")


def build_sequential_mnist(
    *,
    seed: int,
    root: str | Path | None = None,
    layout: str = "rows",
    permute: bool = False,
    permutation_seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    normalize: str = "unit",
    download: bool = False,
    n_val: int = 0,
    val_fraction: float = 0.0,
) -> DataSplits:
    """Sequential MNIST splits from IDX files (see the module docstring for layouts and values).

    Parameters
    ----------
    seed : int
        Draws the ``n_train`` / ``n_test`` subsets (the pixel permutation has its own seed).
    root : path, optional
        Folder with the IDX files; default ``data_home() / "sequential_mnist"``.
    layout : {"rows", "pixels"}
        ``(28, 28)`` or ``(784, 1)`` items.
    permute, permutation_seed : bool, int
        Apply one fixed pixel permutation.
    n_train, n_test : int, optional
        Random subsets (kept in file order) of the training / test files; all items when None.
    normalize : {"unit", "standard"}
        ``pixel / 255``, or that standardized with the training mean and std.
    download : bool
        Fetch the files (SHA-256 verified, resumable) when ``root`` does not hold them.
    n_val, val_fraction : int, float
        Hold out this many (or this fraction of the) training items as a validation split, drawn
        with ``seed`` (:mod:`sparsernn.data.validation`); 0 keeps the training set whole.

    Examples
    --------
    >>> import numpy as np, pathlib, tempfile
    >>> from sparsernn.data.idx import write_idx
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for prefix, n in (("train", 6), ("t10k", 2)):
    ...     _ = write_idx(root / f"{prefix}-images-idx3-ubyte.gz", np.full((n, 28, 28), 255, np.uint8))
    ...     _ = write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8))
    >>> splits = build_sequential_mnist(seed=0, root=root, layout="pixels", n_train=4)
    >>> len(splits.train), splits.train[0][0].shape, float(splits.train[0][0].max())
    (4, torch.Size([784, 1]), 1.0)
    """
    _check_common(permute, permutation_seed)
    root = dataset_root("sequential_mnist", root)
    if download and not idx_files_present(root):
        download_mnist(root)
    options = dict(layout=layout, permute=permute, permutation_seed=permutation_seed)
    options.update(
        n_train=n_train, n_test=n_test, normalize=normalize, n_val=n_val, val_fraction=val_fraction
    )
    return _build_idx("sequential_mnist", root, seed=seed, options=options)


def fashion_mnist_root(root: str | os.PathLike[str] | None = None) -> Path:
    """``root``, else the Debian package's folder when installed, else ``data_home() / "fashion_mnist"``."""
    if root is None and idx_files_present(FASHION_MNIST_DEBIAN_ROOT):
        return FASHION_MNIST_DEBIAN_ROOT
    return dataset_root("fashion_mnist", root)


def build_fashion_mnist(
    *,
    seed: int,
    root: str | Path | None = None,
    layout: str = "rows",
    permute: bool = False,
    permutation_seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    normalize: str = "unit",
    n_val: int = 0,
    val_fraction: float = 0.0,
) -> DataSplits:
    """Sequential Fashion-MNIST splits; same options as :func:`sparsernn.data.sequential_mnist`, no download.

    The default ``root`` is ``/usr/share/datasets/fashion-mnist`` when Debian's package
    ``dataset-fashion-mnist`` is installed (``apt-get install dataset-fashion-mnist``), else
    ``data_home() / "fashion_mnist"``.

    Examples
    --------
    >>> import numpy as np, pathlib, tempfile
    >>> from sparsernn.data.idx import write_idx
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for prefix, n in (("train", 3), ("t10k", 2)):
    ...     _ = write_idx(root / f"{prefix}-images-idx3-ubyte", np.zeros((n, 28, 28), np.uint8))
    ...     _ = write_idx(root / f"{prefix}-labels-idx1-ubyte", np.ones(n, np.uint8))
    >>> splits = build_fashion_mnist(seed=0, root=root)
    >>> splits.train[0][0].shape, splits.test[1][1]
    (torch.Size([28, 28]), 1)
    """
    _check_common(permute, permutation_seed)
    options = dict(layout=layout, permute=permute, permutation_seed=permutation_seed)
    options.update(
        n_train=n_train, n_test=n_test, normalize=normalize, n_val=n_val, val_fraction=val_fraction
    )
    return _build_idx("fashion_mnist", fashion_mnist_root(root), seed=seed, options=options)
