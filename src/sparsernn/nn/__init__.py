"""Sparse recurrent modules: torch's fused RNN/LSTM/GRU with per-weight masks, and what goes with them.

- :class:`SparseRNN`, :class:`SparseLSTM`, :class:`SparseGRU` (base :class:`SparseRNNBase`): drop-in
  subclasses of ``torch.nn.RNN``/``LSTM``/``GRU`` with ``.masks``, ``.set_mask``, ``.density()``,
  ``.sparsity()``, ``.apply_masks_()`` and ``from_torch`` (also :func:`from_torch` for any kind).
- :func:`keep_masks`, :func:`apply_masks_`, :func:`sparse_modules`, :func:`sparsify`: model-level helpers.
- :data:`CELLS`, :func:`make_rnn`, :func:`cell_of`, :data:`GATES`: cell kinds by name.
- :class:`SequenceClassifier`: embedding → sparse recurrent stack → linear read-out.
- :class:`GraphRNN`, :class:`GraphClassifier`: DAG-structured sparse RNNs built from a graph.
- :class:`StreamingRNN`: step-by-step inference with compressed-sparse-row weights (fast at batch 1).
- :func:`save_checkpoint`, :func:`checkpoint_bytes`, :func:`load_checkpoint`, :func:`load_model`,
  :func:`load_classifier`: safetensors checkpoints (weights, masks, config, model description).
"""

from sparsernn.nn.base import SparseRNNBase
from sparsernn.nn.cells import CELLS, GATES, cell_of, make_rnn
from sparsernn.nn.checkpoint import (
    checkpoint_bytes,
    load_checkpoint,
    load_classifier,
    load_model,
    save_checkpoint,
)
from sparsernn.nn.classifier import SequenceClassifier
from sparsernn.nn.graph_rnn import GraphClassifier, GraphRNN
from sparsernn.nn.masking import apply_masks_, keep_masks, sparse_modules, sparsify
from sparsernn.nn.recurrent import SparseGRU, SparseLSTM, SparseRNN, from_torch
from sparsernn.nn.streaming import StreamingRNN

__all__ = [
    "CELLS",
    "GATES",
    "GraphClassifier",
    "GraphRNN",
    "SequenceClassifier",
    "SparseGRU",
    "SparseLSTM",
    "SparseRNN",
    "SparseRNNBase",
    "StreamingRNN",
    "apply_masks_",
    "cell_of",
    "checkpoint_bytes",
    "from_torch",
    "keep_masks",
    "load_checkpoint",
    "load_classifier",
    "load_model",
    "make_rnn",
    "save_checkpoint",
    "sparse_modules",
    "sparsify",
]
