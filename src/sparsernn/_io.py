"""Atomic file writes: a reader sees either the old file, or nothing, or the whole new file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, fsync, then rename.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = write_atomic(pathlib.Path(tempfile.mkdtemp()) / "a" / "x.txt", b"hello")
    >>> path.read_bytes()
    b'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
