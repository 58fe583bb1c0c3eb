"""Finished pieces of an unfinished run, kept so that a killed run resumes from them.

A run is the store's unit: it is written whole or not at all. Some runs are long (the Darji pruning
run trains a base model, then 30 prune-and-recover jobs: up to two hours for a GRU on two cores), and
a run killed near its end would otherwise be redone from the start. A protocol may keep each
finished piece (the trained base model, one job's outcome) under a name in the run's
:class:`Partial` folder and, when the run is started again, load it instead of computing it anew.
This never changes a result: a piece is kept only once it is complete (written atomically), and it
is used only by the same run (same config) with the same code:

- the folder is ``<results>/.partial/<study>/<hash>/seed_<k>``, outside the run's own folder (which
  the store replaces whole) and invisible to the store's listing of runs;
- its ``fingerprint`` is a hash of the run's full config, of the source of every module that can
  change a run's numbers (the whole package but its reports) and of the versions of Python, torch
  and NumPy; a folder with another fingerprint is emptied before use;
- the sweep deletes the folder once the run is stored ok; a failed run keeps its pieces, so that
  ``--retry-failed`` (after a transient failure, e.g. memory) resumes from them as a killed run does;
- its ``elapsed_s`` is the wall-clock time the attempts so far spent up to their last kept piece, so
  that a resumed run's ``wall_s`` counts the earlier attempts too (the time an attempt spent after its
  last kept piece was lost with it and is not counted).

Pieces are saved with :func:`torch.save` and read back with ``weights_only=True``: tensors, numbers,
strings, lists and dicts, never arbitrary objects. The local backend gives runs a folder; elsewhere
(Ray) a run gets :data:`NONE` and resumes from its start.
"""

from __future__ import annotations

import functools
import hashlib
import io
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from sparsernn._io import write_atomic
from sparsernn.studies.config import RunConfig

FOLDER = ".partial"  # under the results folder
FINGERPRINT = "fingerprint"
ELAPSED = "elapsed_s"
_PACKAGE = Path(__file__).resolve().parents[1]  # src/sparsernn
_NOT_RESULTS = ("studies/reports/",)  # modules that only read stored runs
T = TypeVar("T")


@dataclass(frozen=True)
class Partial:
    """A run's folder of finished pieces; ``folder=None`` keeps nothing (every load misses).

    ``earlier_s``: wall-clock seconds the earlier attempts spent up to their last kept piece;
    ``opened``: when this attempt opened the folder (:func:`time.time`, the same clock in every worker).
    """

    folder: Path | None = None
    earlier_s: float = 0.0
    opened: float = field(default_factory=time.time)

    def load(self, name: str) -> Any | None:
        """The piece saved under ``name``, or ``None`` if there is none."""
        if self.folder is None or not (self.folder / f"{name}.pt").is_file():
            return None
        return torch.load(self.folder / f"{name}.pt", weights_only=True)

    def save(self, name: str, value: Any) -> None:
        """Keep ``value`` (tensors, numbers, strings, lists, dicts) under ``name``, atomically."""
        if self.folder is None:
            return
        buffer = io.BytesIO()
        torch.save(value, buffer)
        write_atomic(self.folder / f"{name}.pt", buffer.getvalue())
        elapsed = self.earlier_s + time.time() - self.opened
        write_atomic(self.folder / ELAPSED, f"{elapsed:.3f}".encode())

    def kept(self, name: str, compute: Callable[[], T]) -> T:
        """The piece kept under ``name``; if there is none, ``compute()``, keep its value, return it."""
        value = self.load(name)
        if value is None:
            value = compute()
            self.save(name, value)
        return value


NONE = Partial()


def partial_dir(root: str | Path, config: RunConfig) -> Path:
    """Where the run of ``config`` keeps its pieces under the results folder ``root``."""
    return config.key.folder(Path(root) / FOLDER)


@functools.cache
def code_fingerprint() -> str:
    """Hash of the package's source files that can change a run's numbers (all but the reports) and
    of the versions of Python, torch and NumPy."""
    digest = hashlib.sha256(f"{sys.version}|{torch.__version__}|{np.__version__}".encode())
    for path in sorted(_PACKAGE.rglob("*.py")):
        relative = path.relative_to(_PACKAGE).as_posix()
        if not relative.startswith(_NOT_RESULTS):
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def fingerprint(config: RunConfig) -> str:
    """Hash of the run's full config and of the code (see module docstring)."""
    text = config.model_dump_json(exclude={"log"}) + "\0" + code_fingerprint()
    return hashlib.sha256(text.encode()).hexdigest()


def open_partial(root: str | Path | None, config: RunConfig) -> Partial:
    """The run's :class:`Partial` under ``root`` (``None``: :data:`NONE`), emptied if it was left by
    another config or code version."""
    if root is None:
        return NONE
    opened = time.time()
    folder = partial_dir(root, config)
    mark = fingerprint(config)
    stamp = folder / FINGERPRINT
    if folder.exists() and (not stamp.is_file() or stamp.read_text() != mark):
        shutil.rmtree(folder)
    if not stamp.is_file():
        write_atomic(stamp, mark.encode())
    elapsed = folder / ELAPSED
    earlier_s = float(elapsed.read_text()) if elapsed.is_file() else 0.0
    return Partial(folder, earlier_s=earlier_s, opened=opened)


def discard(root: str | Path, config: RunConfig) -> None:
    """Delete the run's pieces (after the store took the run) and the folders left empty above them."""
    folder = partial_dir(root, config)
    shutil.rmtree(folder, ignore_errors=True)
    top = Path(root) / FOLDER
    for parent in (folder.parent, folder.parent.parent, top):
        try:
            parent.rmdir()  # only when empty
        except OSError:
            break
