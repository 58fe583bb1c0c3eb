"""Where datasets live on disk when a builder is given no ``root``.

Every file-based dataset has one folder under the *data home*: ``$SPARSERNN_DATA`` when that
environment variable is set, else ``~/.cache/sparsernn/data``. A builder's ``root=`` argument
overrides the folder of that one dataset.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_HOME_ENV = "SPARSERNN_DATA"


def data_home() -> Path:
    """Return the folder that holds every dataset's default folder.

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"SPARSERNN_DATA": "/tmp/sparsernn-data"}):
    ...     print(data_home())
    /tmp/sparsernn-data
    """
    env = os.environ.get(DATA_HOME_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "sparsernn" / "data"


def dataset_root(name: str, root: str | os.PathLike[str] | None) -> Path:
    """Return ``root`` as a Path, or the default folder ``data_home() / name`` when it is None.

    Examples
    --------
    >>> str(dataset_root("cifar10", "/data/cifar"))
    '/data/cifar'
    >>> dataset_root("cifar10", None).name
    'cifar10'
    """
    if root is None:
        return data_home() / name
    return Path(root).expanduser()
