"""CIFAR-10 from its **binary** distribution (never the pickled one), as row or pixel sequences.

The binary files ``data_batch_1.bin`` … ``data_batch_5.bin`` (training) and ``test_batch.bin``
are sequences of 3073-byte records: one label byte (0–9), then 3072 pixel bytes — the 1024 red
values of the 32 × 32 image in row-major order, then the 1024 green, then the 1024 blue. Items:

- ``layout="rows"``: ``x`` is ``(T=32, F=96)``; time step r holds image row r as
  ``[R(32), G(32), B(32)]`` (channel-major within the row);
- ``layout="pixels"``: ``x`` is ``(T=1024, F=3)``, one pixel ``(R, G, B)`` per step, row-major.

Values are ``byte / 255`` (``normalize="unit"``) or standardized per channel with the mean and
std of the training pixels used (``normalize="standard"``).
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from sparsernn._seed import numpy_rng
from sparsernn.data.arrays import ArrayDataset, choice_option, count_option, subset_indices
from sparsernn.data.batch import DataSplits
from sparsernn.data.download import fetch
from sparsernn.data.paths import dataset_root
from sparsernn.data.validation import with_validation
from sparsernn.errors import DataError

RECORD_BYTES = 1 + 3 * 32 * 32
FILES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)}
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: The binary distribution: a tar.gz whose folder ``cifar-10-batches-bin`` holds the files above.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
ARCHIVE_FOLDER = "cifar-10-batches-bin"
LAYOUTS = ("rows", "pixels")


def cifar_folder(root: str | os.PathLike[str]) -> Path:
    """``root`` itself when it holds the ``.bin`` files, else ``root/cifar-10-batches-bin`` when that does."""
    root = Path(root)
    nested = root / ARCHIVE_FOLDER
    if not (root / FILES["test"][0]).exists() and (nested / FILES["test"][0]).exists():
        return nested
    return root


def read_cifar_records(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 ``(N, 3, 32, 32)`` and labels uint8 ``(N,)`` of one binary file, strictly checked.

    Examples
    --------
    >>> import numpy as np, pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "test_batch.bin"
    >>> _ = p.write_bytes(bytes([7]) + bytes(range(256)) * 12)
    >>> images, labels = read_cifar_records(p)
    >>> images.shape, labels.tolist(), int(images[0, 1, 0, 0])
    ((1, 3, 32, 32), [7], 0)
    """
    path = Path(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; expected the CIFAR-10 binary files there") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc})") from None
    if raw.size == 0 or raw.size % RECORD_BYTES:
        raise DataError(
            f"{path}: {raw.size} bytes is not a positive multiple of the {RECORD_BYTES}-byte CIFAR-10 record "
            f"(truncated or not a CIFAR-10 binary file)"
        )
    records = raw.reshape(-1, RECORD_BYTES)
    labels = records[:, 0].copy()
    if int(labels.max()) >= len(CLASS_NAMES):
        bad = int(np.argmax(labels >= len(CLASS_NAMES)))
        raise DataError(f"{path}: record {bad} has label {int(labels[bad])}; expected 0..9")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def _arrange(x: torch.Tensor, layout: str) -> torch.Tensor:
    """``(N, 3, 32, 32)`` → rows ``(N, 32, 96)`` (channel-major in a row) or pixels ``(N, 1024, 3)``."""
    n = x.shape[0]
    if layout == "rows":
        return x.permute(0, 2, 1, 3).reshape(n, 32, 96).contiguous()  # (N, row, channel · column)
    return x.reshape(n, 3, 1024).permute(0, 2, 1).contiguous()  # (N, pixel, channel)


def to_sequences(images: np.ndarray, layout: str) -> torch.Tensor:
    """uint8 ``(N, 3, 32, 32)`` → float32 in [0, 1]: rows ``(N, 32, 96)`` or pixels ``(N, 1024, 3)``.

    Examples
    --------
    >>> import numpy as np
    >>> to_sequences(np.zeros((2, 3, 32, 32), np.uint8), "rows").shape
    torch.Size([2, 32, 96])
    """
    return _arrange(torch.from_numpy(np.asarray(images, dtype=np.float32)) / 255.0, layout)


def _load_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    parts = [read_cifar_records(folder / name) for name in FILES[split]]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def build_cifar10(
    *,
    seed: int,
    root: str | Path | None = None,
    layout: str = "rows",
    n_train: int | None = None,
    n_test: int | None = None,
    normalize: str = "unit",
    download: bool = False,
    n_val: int = 0,
    val_fraction: float = 0.0,
) -> DataSplits:
    """CIFAR-10 splits from the binary files (see the module docstring for layouts and values).

    Parameters
    ----------
    seed : int
        Draws the ``n_train`` / ``n_test`` subsets.
    root : path, optional
        Folder with the ``.bin`` files (or with the extracted ``cifar-10-batches-bin`` folder);
        default ``data_home() / "cifar10"``.
    layout : {"rows", "pixels"}
        ``(32, 96)`` or ``(1024, 3)`` items.
    n_train, n_test : int, optional
        Random subsets (kept in file order); all items when None.
    normalize : {"unit", "standard"}
        ``byte / 255``, or standardized per channel with training statistics.
    download : bool
        Fetch and unpack the binary archive (SHA-256 verified, resumable) when the files are missing.
    n_val, val_fraction : int, float
        Hold out this many (or this fraction of the) training items as a validation split, drawn
        with ``seed`` (:mod:`sparsernn.data.validation`); 0 keeps the training set whole.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in FILES["train"] + FILES["test"]:
    ...     _ = (root / name).write_bytes(bytes([3]) + bytes(3072))
    >>> splits = build_cifar10(seed=0, root=root, layout="pixels")
    >>> len(splits.train), splits.train[0][0].shape, splits.test[0][1]
    (5, torch.Size([1024, 3]), 3)
    """
    layout = choice_option(layout, "layout", LAYOUTS)
    normalize = choice_option(normalize, "normalize", ("unit", "standard"))
    counts = {"train": count_option(n_train, "n_train"), "test": count_option(n_test, "n_test")}
    root = dataset_root("cifar10", root)
    if download and not (cifar_folder(root) / FILES["test"][0]).exists():
        download_cifar10(root)
    folder, rng = cifar_folder(root), numpy_rng(seed)
    pixels, labels = {}, {}
    for split in FILES:
        images, y = _load_split(folder, split)
        keep = subset_indices(len(y), counts[split], rng, f"n_{split}")
        pixels[split] = torch.from_numpy(images[keep].astype(np.float32)) / 255.0  # (N, 3, 32, 32)
        labels[split] = torch.from_numpy(y[keep].astype(np.int64))
    if normalize == "standard":  # per channel, with the statistics of the training pixels used
        mean = pixels["train"].mean(dim=(0, 2, 3), keepdim=True)
        std = pixels["train"].std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-12)
        pixels = {s: (x - mean) / std for s, x in pixels.items()}
    data = {s: _arrange(x, layout) for s, x in pixels.items()}
    train, test = (ArrayDataset(data[s], labels[s]) for s in FILES)
    built = DataSplits("cifar10", train, test, len(CLASS_NAMES), input_size=data["train"].shape[-1])
    return with_validation(built, seed=seed, n_val=n_val, val_fraction=val_fraction)


def download_cifar10(
    root: str | os.PathLike[str] | None = None, *, url: str = CIFAR10_URL, sha256: str = CIFAR10_SHA256
) -> Path:
    """Fetch the binary archive into ``root`` (verified, resumable) and unpack its six ``.bin`` files.

    Only the expected member names are read from the archive, so its paths can never write
    outside ``root``; each file is written to ``.part`` and renamed. Returns the folder holding
    the files (``root/cifar-10-batches-bin``).

    Examples
    --------
    >>> download_cifar10("/tmp/cifar10")  # doctest: +SKIP
    PosixPath('/tmp/cifar10/cifar-10-batches-bin')
    """
    root = dataset_root("cifar10", root)
    archive = fetch(url, root / "cifar-10-binary.tar.gz", sha256)
    folder = root / ARCHIVE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {f"{ARCHIVE_FOLDER}/{name}" for names in FILES.values() for name in names}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = str(PurePosixPath(member.name.removeprefix("./")))
                if member.isfile() and name in wanted:
                    part = folder / (PurePosixPath(name).name + ".part")
                    part.write_bytes(tar.extractfile(member).read())
                    os.replace(part, folder / PurePosixPath(name).name)
                    wanted.discard(name)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{archive}: cannot unpack the CIFAR-10 archive ({exc})") from None
    if wanted:
        raise DataError(f"{archive}: archive lacks {', '.join(sorted(wanted))}")
    return folder
