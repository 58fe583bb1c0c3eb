"""Strict reader and writer of IDX files, the format of (Fashion-)MNIST, gzip-compressed or raw.

An IDX file is a 4-byte magic number ``0x00 0x00 <dtype code> <ndim>``, then ``ndim`` big-endian
uint32 sizes, then the values in C order, big-endian. Every deviation (bad magic, unknown dtype,
sizes that disagree with the file length, corrupt gzip) raises :class:`DataError` naming the file.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from sparsernn.errors import DataError

#: IDX type code → big-endian NumPy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_file_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of ``path``, gunzipped when the file starts with the gzip magic number.

    Examples
    --------
    >>> import gzip, pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.gz"
    >>> _ = p.write_bytes(gzip.compress(b"abc"))
    >>> read_file_bytes(p)
    b'abc'
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from None


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse the (uncompressed) bytes of an IDX file into an array in native byte order.

    Examples
    --------
    >>> parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9])).tolist()
    [7, 8, 9]
    """
    if len(data) < 4:
        raise DataError(f"{source}: {len(data)} bytes is too short for an IDX header (expected at least 4)")
    if data[0] != 0 or data[1] != 0:
        raise DataError(f"{source}: bad IDX magic number 0x{data[:4].hex()}; expected 0x0000<type><ndim>")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(f"{source}: unknown IDX type code 0x{code:02X}; expected one of {known}")
    if ndim == 0:
        raise DataError(f"{source}: IDX file declares 0 dimensions; expected at least 1")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{source}: truncated IDX header: {len(data)} bytes, expected {header} for {ndim} dims"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = header + math.prod(shape) * dtype.itemsize  # exact: np.prod wraps around at 2**63
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise DataError(
            f"{source}: IDX data {what}: {len(data)} bytes, expected {expected} for shape {shape} of {dtype.name}"
        )
    if math.prod(d for d in shape if d) * dtype.itemsize > np.iinfo(np.intp).max:  # empty, yet no array
        raise DataError(f"{source}: IDX shape {shape} is too large for an array")
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip or raw, detected from its content) into a NumPy array.

    Examples
    --------
    >>> import numpy as np, pathlib, tempfile
    >>> p = write_idx(pathlib.Path(tempfile.mkdtemp()) / "x-idx2-ubyte.gz", np.eye(2, dtype=np.uint8))
    >>> read_idx(p).tolist()
    [[1, 0], [0, 1]]
    """
    return parse_idx(read_file_bytes(path), str(path))


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``.

    Examples
    --------
    >>> import numpy as np, pathlib, tempfile
    >>> p = write_idx(pathlib.Path(tempfile.mkdtemp()) / "y-idx1-ubyte", np.array([3, 1], np.uint8))
    >>> p.read_bytes().hex()
    '00000801000000020301'
    """
    path = Path(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    key = array.dtype.newbyteorder("=")
    if key not in codes or array.ndim == 0 or array.ndim > 255:
        raise DataError(f"{path}: cannot write an array of dtype {array.dtype} with {array.ndim} dims as IDX")
    code = codes[key]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if path.name.endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
    return path
