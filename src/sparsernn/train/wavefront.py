"""The packed wavefront models now live in :mod:`sparsernn.nn.wavefront`; this import path stays.

Examples
--------
>>> from sparsernn.train.wavefront import PackedModels
>>> PackedModels.__module__
'sparsernn.nn.wavefront'
"""

from sparsernn.nn.wavefront import (
    PackedModels,
    _parameter,  # noqa: F401  (read by tests/studies/test_structure_many.py)
)

__all__ = ["PackedModels"]
