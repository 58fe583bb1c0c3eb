"""The packed wavefront layout now lives in :mod:`sparsernn.nn.wavefront_plan`; this import path stays.

Examples
--------
>>> from sparsernn.train.wavefront_plan import plan
>>> plan.__module__
'sparsernn.nn.wavefront_plan'
"""

from sparsernn.nn.wavefront_plan import Bucket, Plan, plan

__all__ = ["Bucket", "Plan", "plan"]
