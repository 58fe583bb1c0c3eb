"""Immutable name → object registries with errors that list the valid names."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeVar

from sparsernn.errors import ConfigError

T = TypeVar("T")


def registry(entries: Mapping[str, T]) -> Mapping[str, T]:
    """Freeze ``entries`` into a read-only mapping (the extension points of the library)."""
    return MappingProxyType(dict(entries))


def lookup(entries: Mapping[str, T], name: str, what: str) -> T:
    """Return ``entries[name]`` or raise ``ConfigError("unknown <what> 'name'; choose from a, b, c")``."""
    try:
        return entries[name]
    except (KeyError, TypeError):
        choices = ", ".join(sorted(entries))
        raise ConfigError(f"unknown {what} {name!r}; choose from {choices}") from None
