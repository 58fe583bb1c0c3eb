"""The wavefront cell kernels now live in :mod:`sparsernn.nn.wavefront_kernels`; this import path stays.

Examples
--------
>>> from sparsernn.train.wavefront_cells import KERNELS
>>> sorted(KERNELS)
['gru', 'lstm', 'rnn_relu', 'rnn_tanh']
"""

from sparsernn.nn.wavefront_kernels import KERNELS

__all__ = ["KERNELS"]
