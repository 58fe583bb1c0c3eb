"""A small on-disk cache of computed feature arrays, keyed by everything that determines them.

Entries are ``<folder>/v<CACHE_VERSION>/<key>.safetensors`` where ``key`` is a SHA-256 of the
canonical JSON of the inputs (options, file names, sizes and modification times), so changing an
option or a file makes a new entry instead of reusing a stale one. Bumping :data:`CACHE_VERSION`
when the feature code changes retires every old entry. Entries are written to a temporary file
and renamed, so a reader never sees a half-written one; an unreadable entry is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sparsernn.data.paths import data_home

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``data_home() / "cache"``."""
    return data_home() / "cache"


def cache_key(inputs: Mapping[str, Any]) -> str:
    """Hex key of a JSON-serializable mapping (order-independent).

    Examples
    --------
    >>> cache_key({"a": 1, "b": [2, 3]}) == cache_key({"b": [2, 3], "a": 1})
    True
    """
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def cached_array(
    folder: str | os.PathLike[str], inputs: Mapping[str, Any], compute: Callable[[], np.ndarray]
) -> np.ndarray:
    """Return the cached array for ``inputs`` under ``folder``, computing and storing it on a miss.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> cached_array(folder, {"x": 1}, lambda: np.arange(3.0)).tolist()
    [0.0, 1.0, 2.0]
    >>> cached_array(folder, {"x": 1}, lambda: np.zeros(3)).tolist()  # a hit: not recomputed
    [0.0, 1.0, 2.0]
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file, save_file

    directory = Path(folder) / f"v{CACHE_VERSION}"
    path = directory / f"{cache_key(inputs)}.safetensors"
    if path.is_file():
        try:
            return load_file(path)["array"]
        except (SafetensorError, OSError, KeyError, ValueError):
            pass  # unreadable entry: recompute and replace it below
    array = np.ascontiguousarray(compute())
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        save_file({"array": array}, tmp, metadata={"inputs": json.dumps(inputs, sort_keys=True, default=str)})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return array
