"""The library's own exceptions.

Every error a user can cause derives from :class:`SparsernnError` and from the matching built-in
(``ValueError``, ``TypeError``, ...), so ``except ValueError`` keeps working. The CLI turns any
:class:`SparsernnError` into a one-line message and exit status 2.
"""

from __future__ import annotations


class SparsernnError(Exception):
    """Base class of every error raised for bad user input."""


class ConfigError(SparsernnError, ValueError):
    """An invalid recipe, config field or option value."""


class DataError(SparsernnError, ValueError):
    """A missing, corrupt, truncated or mismatched data file."""


class GraphError(SparsernnError, ValueError):
    """A graph that cannot be used as asked (empty, disconnected, cannot be layered, ...)."""


class MaskError(SparsernnError, ValueError):
    """A mask of the wrong shape, dtype or name."""


class CheckpointError(SparsernnError, ValueError):
    """A checkpoint file that is missing, corrupt or does not match the model."""
