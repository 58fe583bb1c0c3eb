"""Verified, resumable downloads.

:func:`fetch` writes into ``<dest>.part`` (resuming it with an HTTP ``Range`` request when a
previous attempt was interrupted), checks the SHA-256 of the finished file, and only then renames
it atomically to ``dest``. So ``dest`` either does not exist or holds exactly the expected bytes:
a corrupt or truncated download is an error naming the file, never a silent partial dataset.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from sparsernn.errors import DataError

_CHUNK = 1 << 20


class _Interrupted(OSError):
    """A transfer that ended before the announced length (the ``.part`` file is kept to resume)."""


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 digest of a file, read in chunks.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256_of(p)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _content_range_start(value: str | None) -> int | None:
    """First byte of a ``Content-Range: bytes a-b/n`` header (None when missing or malformed)."""
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None


def _transfer(url: str, part: Path, timeout: float) -> None:
    """Download ``url`` into ``part``, resuming from its current size when the server allows it."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.build_opener().open(request, timeout=timeout)  # proxies read from env now
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # our partial file is not a prefix the server knows: restart
            part.unlink()
            return _transfer(url, part, timeout)
        raise
    with response:
        resumed = response.status == 206
        if resumed and _content_range_start(response.headers.get("Content-Range")) != offset:
            part.unlink()
            raise _Interrupted(f"server resumed at the wrong offset (asked for byte {offset})")
        length = response.headers.get("Content-Length")
        written = 0
        with open(part, "ab" if resumed else "wb") as out:
            for block in iter(lambda: response.read(_CHUNK), b""):
                out.write(block)
                written += len(block)
            out.flush()
            os.fsync(out.fileno())
        if length is not None and written < int(length):
            raise _Interrupted(f"connection closed after {written} of {length} bytes")
    return None


def fetch(
    urls: str | Sequence[str], dest: str | os.PathLike[str], sha256: str, *, timeout: float = 60.0
) -> Path:
    """Download a file to ``dest`` and verify its SHA-256; try each mirror URL in turn.

    An existing ``dest`` with the right checksum is kept (nothing is downloaded); one with a wrong
    checksum is an error (delete it to download again). An interrupted transfer leaves
    ``<dest>.part``, and the next call resumes it; a finished file with the wrong checksum is
    deleted and the next mirror is tried.

    Parameters
    ----------
    urls : str or sequence of str
        The file's URL, or mirror URLs tried in order.
    dest : path
        Where the verified file goes (parent folders are created).
    sha256 : str
        Expected hex SHA-256 digest.
    timeout : float
        Seconds to wait for the server on each network operation.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    DataError
        Every mirror failed (the message lists why), or ``dest`` exists with a wrong checksum.

    Examples
    --------
    >>> import hashlib, pathlib, tempfile
    >>> src = pathlib.Path(tempfile.mkdtemp()) / "src.bin"
    >>> _ = src.write_bytes(b"payload")
    >>> dest = fetch(src.as_uri(), src.with_name("copy.bin"), hashlib.sha256(b"payload").hexdigest())
    >>> dest.read_bytes()
    b'payload'
    """
    dest = Path(dest)
    expected = sha256.lower()
    if dest.exists():
        got = sha256_of(dest)
        if got != expected:
            raise DataError(
                f"{dest}: SHA-256 {got} does not match the expected {expected}; delete it to download again"
            )
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    failures = []
    for url in [urls] if isinstance(urls, str) else list(urls):
        try:
            _transfer(url, part, timeout)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            failures.append(f"{url}: {getattr(exc, 'reason', None) or exc}")
            continue
        got = sha256_of(part)
        if got == expected:
            os.replace(part, dest)  # atomic: dest only ever holds verified bytes
            return dest
        part.unlink()
        failures.append(f"{url}: downloaded file has SHA-256 {got}, expected {expected} (corrupt, deleted)")
    kept = f"; the partial file {part} is kept to resume" if part.exists() else ""
    raise DataError(f"{dest}: download failed: {' | '.join(failures) or 'no URL given'}{kept}")
