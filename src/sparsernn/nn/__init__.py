"""Sparse recurrent modules: torch's fused RNN/LSTM/GRU with per-weight masks, and what goes with them.

- :class:`SparseRNN`, :class:`SparseLSTM`, :class:`SparseGRU` (base :class:`SparseRNNBase`): drop-in
  subclasses of ``torch.nn.RNN``/``LSTM``/``GRU`` with ``.masks``, ``.set_mask``, ``.density()``,
  ``.sparsity()``, ``.apply_masks_()`` and ``from_torch`` (also :func:`from_torch` for any kind).
- :func:`sparsify` (in place) and :func:`to_torch` (a plain torch copy, masks folded in), :func:`keep_masks`,
  :func:`apply_masks_`, :func:`sparse_modules`: model-level helpers.
- :class:`CellKind`, :data:`CELL_KINDS`, :func:`cell_kind`, :func:`kind_of`: one record per cell kind
  (torch mode, gates and their rows, display name); :data:`CELLS`, :func:`make_rnn`, :func:`cell_of`,
  :data:`GATES`: the factories and gate counts by name, read from those records.
- :class:`SequenceClassifier`: embedding → sparse recurrent stack → linear read-out.
- :class:`GraphRNN`, :class:`GraphClassifier`: DAG-structured sparse RNNs built from a graph
  (its layering: :func:`sparsernn.graphs.wiring`); :class:`PackedModels`: K graph classifiers run
  as one wavefront recurrence (:mod:`sparsernn.nn.wavefront`, layout in :mod:`~sparsernn.nn.wavefront_plan`).
- :class:`StreamingRNN`: step-by-step inference with compressed-sparse-row weights (fast at batch 1).
- :func:`save_checkpoint`, :func:`checkpoint_bytes`, :func:`load_checkpoint`, :func:`load_model`,
  :func:`load_classifier`, :func:`load_recurrent` (any checkpoint's recurrent layers): safetensors
  checkpoints (weights, masks, config, model description, checksums).
"""

from sparsernn.nn.base import SparseRNNBase
from sparsernn.nn.cells import CELL_KINDS, CELLS, GATES, CellKind, cell_kind, cell_of, kind_of, make_rnn
from sparsernn.nn.checkpoint import (
    checkpoint_bytes,
    load_checkpoint,
    load_classifier,
    load_model,
    load_recurrent,
    save_checkpoint,
)
from sparsernn.nn.classifier import SequenceClassifier
from sparsernn.nn.graph_rnn import GraphClassifier, GraphRNN
from sparsernn.nn.masking import apply_masks_, keep_masks, sparse_modules, sparsify, to_torch
from sparsernn.nn.recurrent import SparseGRU, SparseLSTM, SparseRNN, from_torch
from sparsernn.nn.streaming import StreamingRNN
from sparsernn.nn.wavefront import PackedModels

__all__ = [
    "CELLS",
    "CELL_KINDS",
    "GATES",
    "CellKind",
    "GraphClassifier",
    "GraphRNN",
    "PackedModels",
    "SequenceClassifier",
    "SparseGRU",
    "SparseLSTM",
    "SparseRNN",
    "SparseRNNBase",
    "StreamingRNN",
    "apply_masks_",
    "cell_kind",
    "cell_of",
    "checkpoint_bytes",
    "from_torch",
    "keep_masks",
    "kind_of",
    "load_checkpoint",
    "load_classifier",
    "load_model",
    "load_recurrent",
    "make_rnn",
    "save_checkpoint",
    "sparse_modules",
    "sparsify",
    "to_torch",
]
