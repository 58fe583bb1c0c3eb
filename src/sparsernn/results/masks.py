"""Masks of a run's pruning levels, bit-packed in one file of the run folder (``masks.npz``).

A run that prunes level by level (the ``controlled_pruning`` protocol) keeps no weights, but it keeps
every mask it reached: the masks of each level of each pruning path, and of each model born sparse,
so the graphs behind every logged number can be analysed again without rerunning anything. A mask is
one bit per weight (``numpy.packbits``): a hidden-128 LSTM with 40 inputs takes 10,752 bytes a level.

The file is a compressed NumPy archive (``numpy.savez_compressed``; read with ``allow_pickle=False``)
holding one table of N masks, in the order they were written:

========= ============= =========================================================================
array     dtype, shape  what
========= ============= =========================================================================
``path``  str (N,)      the path the mask belongs to (a criterion, ``"scratch:<init>"``, ...)
``level`` float64 (N,)  the level (density q) of that path
``param`` str (N,)      qualified parameter name in the model (``"rnn.weight_hh_l0"``)
``shape`` int64 (N, 2)  the weight's shape (rows, columns)
``start`` int64 (N+1,)  mask i is ``bits[start[i]:start[i + 1]]``
``bits``  uint8         each mask flattened row-major and packed (``numpy.packbits``, big bit order)
========= ============= =========================================================================
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from sparsernn.errors import DataError, MaskError

MASKS = "masks.npz"  # the file's name in a run folder
_ARRAYS = ("path", "level", "param", "shape", "start", "bits")


def pack_masks(masks: Mapping[tuple[str, float], Mapping[str, torch.Tensor]]) -> bytes:
    """The bytes of a ``masks.npz`` file (module docs) holding ``masks``, one bit per weight.

    Parameters
    ----------
    masks : mapping
        ``(path, level) -> {parameter name: 2-D bool tensor}`` (True = kept), in the order to keep.

    Returns
    -------
    bytes
        A compressed NumPy archive; the same masks always give the same bytes.

    Examples
    --------
    >>> import torch
    >>> data = pack_masks({("magnitude", 0.5): {"rnn.weight_hh_l0": torch.eye(3, dtype=torch.bool)}})
    >>> unpack_masks(data)[("magnitude", 0.5)]["rnn.weight_hh_l0"].sum().item()
    3
    """
    entries = [
        (path, float(level), name, m) for (path, level), named in masks.items() for name, m in named.items()
    ]
    for path, level, name, mask in entries:
        if mask.dtype != torch.bool or mask.dim() != 2:
            raise MaskError(
                f"mask {name!r} of ({path!r}, {level}): expected a 2-D bool tensor, got {mask.dim()}-D {mask.dtype}"
            )
    packed = [np.packbits(mask.detach().cpu().numpy().ravel()) for *_, mask in entries]
    arrays = {
        "path": np.array([e[0] for e in entries], dtype=str),
        "level": np.array([e[1] for e in entries], dtype=np.float64),
        "param": np.array([e[2] for e in entries], dtype=str),
        "shape": np.array([tuple(e[3].shape) for e in entries], dtype=np.int64).reshape(-1, 2),
        "start": np.cumsum([0, *(p.size for p in packed)], dtype=np.int64),
        "bits": np.concatenate(packed) if packed else np.zeros(0, dtype=np.uint8),
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # members dated 1980-01-01 by zipfile: no clock in the bytes
    return buffer.getvalue()


def _check_table(table: dict[str, np.ndarray]) -> None:
    """DataError unless the arrays of a masks file agree: one entry per mask, each holding exactly the
    bytes its shape needs (a damaged table must not give masks padded with pruned entries)."""
    n = len(table["path"])
    shape, start, bits = table["shape"], table["start"], table["bits"]
    consistent = (
        len(table["level"]) == len(table["param"]) == n
        and shape.shape == (n, 2)
        and start.shape == (n + 1,)
        and np.issubdtype(shape.dtype, np.integer)
        and np.issubdtype(start.dtype, np.integer)
        and bits.ndim == 1
        and bool((shape >= 0).all())
        and int(start[0]) == 0
        and int(start[-1]) == bits.size
        and bool((np.diff(start) == (shape.prod(axis=1) + 7) // 8).all())
    )
    if not consistent:
        raise DataError("masks file is damaged: its table of shapes and offsets does not fit its bits")


def unpack_masks(data: bytes) -> dict[tuple[str, float], dict[str, torch.Tensor]]:
    """The masks of the bytes of a ``masks.npz`` file, as :func:`load_masks` returns them.

    Raises
    ------
    DataError
        If ``data`` is not such a file (not an archive, or an array missing).
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            table = {name: archive[name] for name in _ARRAYS if name in archive.files}
    except (OSError, ValueError, EOFError, NotImplementedError, zipfile.BadZipFile, zlib.error) as error:
        raise DataError(
            f"not a masks file ({type(error).__name__}: {error}); expected a NumPy archive written by pack_masks"
        ) from None
    missing = [name for name in _ARRAYS if name not in table]
    if missing:
        raise DataError(f"masks file lacks the arrays {', '.join(missing)}; expected {', '.join(_ARRAYS)}")
    _check_table(table)
    masks: dict[tuple[str, float], dict[str, torch.Tensor]] = {}
    for i, (path, level, name) in enumerate(zip(table["path"], table["level"], table["param"], strict=True)):
        rows, cols = (int(n) for n in table["shape"][i])
        bits = np.unpackbits(table["bits"][table["start"][i] : table["start"][i + 1]], count=rows * cols)
        mask = torch.from_numpy(bits.reshape(rows, cols).astype(bool))
        masks.setdefault((str(path), float(level)), {})[str(name)] = mask
    return masks


def load_masks(run: str | Path) -> dict[tuple[str, float], dict[str, torch.Tensor]]:
    """The masks a run kept of each of its pruning levels (its ``masks.npz``).

    Runs of the ``controlled_pruning`` protocol keep the masks of every level of every pruning path
    (the dense level 1.0 included) under ``(criterion, level)`` (``"magnitude"``, ``"random"``,
    ``"magnitude@global"``, ...), and those of every model born sparse under
    ``("scratch:<init>", density)``: the same ``path`` and ``level`` as the run's logged rows.

    Parameters
    ----------
    run : str or Path
        A run folder, ``<results>/<study>/<hash>/seed_<k>`` (the ``path`` column of
        :func:`sparsernn.results.load`).

    Returns
    -------
    dict
        ``(path, level) -> {parameter name: bool tensor}`` (True = kept), in recorded order. Names
        are qualified as in the model (``"rnn.weight_ih_l0"``), so ``sr.prune.apply(model, masks)``
        sets them on a model of the run's config.

    Raises
    ------
    DataError
        If the folder holds no masks file, or a damaged one.

    Examples
    --------
    >>> import pathlib, torch
    >>> import sparsernn as sr
    >>> mask = torch.tensor([[True, False, True], [False, False, True]])
    >>> data = sr.results.pack_masks({("random", 0.5): {"rnn.weight_hh_l0": mask}})
    >>> _ = (pathlib.Path("run") / "masks.npz").parent.mkdir()
    >>> _ = (pathlib.Path("run") / "masks.npz").write_bytes(data)
    >>> masks = sr.results.load_masks("run")
    >>> list(masks), masks[("random", 0.5)]["rnn.weight_hh_l0"].tolist()
    ([('random', 0.5)], [[True, False, True], [False, False, True]])
    """
    file = Path(run) / MASKS
    if not file.is_file():
        raise DataError(
            f"{run} holds no {MASKS}; expected the folder of a run that keeps its masks "
            "(protocol controlled_pruning)"
        )
    return unpack_masks(file.read_bytes())
