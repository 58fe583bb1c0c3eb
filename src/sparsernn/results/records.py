"""What the store knows of a run: its key ``(study, hash, seed)`` and a record of plain JSON data.

The store never sees a study's config types. Whatever describes a run (``RunConfig`` in
:mod:`sparsernn.studies`) hands it a :class:`RunKey` (its ``key`` attribute) and, once finished, a
:class:`RunRecord` (its ``record()`` method): the config as a JSON mapping, the status, the summary,
the metric rows and the artifact files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True, order=True)
class RunKey:
    """The identity of one run: its study, the hash of its config and its seed.

    Examples
    --------
    >>> key = RunKey("demo", "0123456789ab", 2)
    >>> key.name, key.folder("results").as_posix()
    ('0123456789ab/seed_2', 'results/demo/0123456789ab/seed_2')
    """

    study: str
    hash: str
    seed: int

    @property
    def name(self) -> str:
        """``<hash>/seed_<k>``: the ``run`` column of loaded results."""
        return f"{self.hash}/seed_{self.seed}"

    def folder(self, root: str | Path) -> Path:
        """The run's folder under the results folder ``root``: ``<root>/<study>/<hash>/seed_<k>``."""
        return Path(root) / self.study / self.hash / f"seed_{self.seed}"

    @classmethod
    def of_config(cls, config: dict[str, Any]) -> RunKey:
        """The key of a stored ``config.json`` (which holds ``study``, ``hash`` and ``seed``)."""
        return cls(str(config["study"]), str(config["hash"]), int(config["seed"]))


@dataclass(frozen=True)
class RunRecord:
    """A finished run as the store writes it: the contents of its files.

    ``config`` is the run's config as JSON data (the hash comes from ``key``); ``summary`` holds at
    least ``status`` (``"ok"`` or ``"failed"``) and, for a failed run, the ``reason``; ``rows`` are
    the metric rows (index fields plus ``values``); ``files`` are the artifacts by file name.
    """

    key: RunKey
    config: dict[str, Any]
    summary: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)


class Keyed(Protocol):
    """Anything that names a run (a study's config): it has a :class:`RunKey` as ``key``."""

    @property
    def key(self) -> RunKey: ...


class Recordable(Protocol):
    """Anything that becomes a :class:`RunRecord` (a study's run result)."""

    def record(self) -> RunRecord: ...


def key_of(run: RunKey | Keyed) -> RunKey:
    """``run`` itself if it is a :class:`RunKey`, else its ``key``."""
    return run if isinstance(run, RunKey) else run.key


def record_of(run: RunRecord | Recordable) -> RunRecord:
    """``run`` itself if it is a :class:`RunRecord`, else its ``record()``."""
    return run if isinstance(run, RunRecord) else run.record()
