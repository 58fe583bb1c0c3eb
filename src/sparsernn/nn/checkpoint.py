"""Checkpoints as safetensors files: the state_dict (weights and masks) plus JSON metadata, never pickle.

The metadata of a checkpoint holds ``sparsernn.format`` (this layout's version), ``sparsernn.config``
(the caller's config as JSON) and, for a :class:`SequenceClassifier` or a bare sparse recurrent module,
``sparsernn.model``: ``{"class": ..., "args": {...constructor arguments...}}``, from which
:func:`load_model` rebuilds the model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_tensors

from sparsernn._io import write_atomic
from sparsernn._registry import registry
from sparsernn.errors import CheckpointError, ConfigError
from sparsernn.nn.base import SparseRNNBase, constructor_args
from sparsernn.nn.classifier import SequenceClassifier
from sparsernn.nn.graph_rnn import GraphClassifier
from sparsernn.nn.recurrent import SparseGRU, SparseLSTM, SparseRNN

FORMAT = "1"
_FORMAT_KEY = "sparsernn.format"
_CONFIG_KEY = "sparsernn.config"
_MODEL_KEY = "sparsernn.model"

MODELS: Mapping[str, Callable[..., torch.nn.Module]] = registry(
    {
        "SequenceClassifier": SequenceClassifier,
        "GraphClassifier": GraphClassifier,
        "SparseRNN": SparseRNN,
        "SparseLSTM": SparseLSTM,
        "SparseGRU": SparseGRU,
    }
)
"""Model classes a checkpoint can rebuild: class name → constructor taking the stored keyword arguments."""


def checkpoint_bytes(model: torch.nn.Module, config: dict | None = None) -> bytes:
    """The safetensors bytes of a checkpoint of ``model`` (what :func:`save_checkpoint` writes).

    Raises
    ------
    ConfigError
        If ``config`` is not JSON-serialisable.

    Examples
    --------
    >>> data = checkpoint_bytes(SparseGRU(3, 4), {"seed": 0})
    >>> int.from_bytes(data[:8], "little") < len(data)  # safetensors: header length, header, data
    True
    """
    metadata = {_FORMAT_KEY: FORMAT, _CONFIG_KEY: _to_json(config or {}, "config")}
    spec = _model_spec(model)
    if spec is not None:
        metadata[_MODEL_KEY] = _to_json(spec, "model arguments")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    return save_tensors(tensors, metadata=metadata)


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, config: dict | None = None) -> Path:
    """Write ``model.state_dict()`` and ``config`` to the safetensors file ``path``, atomically.

    The file is written next to ``path`` under a temporary name and renamed into place, so ``path``
    is either the old file or the complete new one, never a partial one.

    Raises
    ------
    ConfigError
        If ``config`` is not JSON-serialisable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "gru.safetensors"
    >>> _ = save_checkpoint(path, SparseGRU(3, 4), {"lr": 0.001})
    >>> state, config = load_checkpoint(path)
    >>> sorted(state)[:2], config
    (['bias_hh_l0', 'bias_ih_l0'], {'lr': 0.001})
    """
    path = Path(path)
    write_atomic(path, checkpoint_bytes(model, config))
    return path


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a checkpoint written by :func:`save_checkpoint`: ``(state_dict, config)`` on the CPU.

    ``config`` is ``{}`` when none was saved. Load the state into a model with
    ``model.load_state_dict(state_dict)``.

    Raises
    ------
    CheckpointError
        If the file is missing, truncated, not safetensors, or its metadata is unreadable.

    Examples
    --------
    >>> load_checkpoint("no/such/file.safetensors")
    Traceback (most recent call last):
    ...
    sparsernn.errors.CheckpointError: checkpoint no/such/file.safetensors does not exist
    """
    path = Path(path)
    state, metadata = _read(path)
    return state, _from_json(metadata, _CONFIG_KEY, path) if _CONFIG_KEY in metadata else {}


def load_model(path: str | os.PathLike) -> torch.nn.Module:
    """Rebuild the model saved in ``path`` (a SequenceClassifier or a sparse RNN/LSTM/GRU), masks included.

    Raises
    ------
    CheckpointError
        If the file cannot be read, holds no model description, or its weights do not fit the model.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "lstm.safetensors"
    >>> lstm = SparseLSTM(3, 4, num_layers=2)
    >>> lstm.set_mask("weight_hh_l1", torch.eye(16, 4, dtype=torch.bool))
    >>> _ = save_checkpoint(path, lstm)
    >>> loaded = load_model(path)
    >>> type(loaded).__name__, loaded.density() == lstm.density()
    ('SparseLSTM', True)
    """
    path = Path(path)
    state, metadata = _read(path)
    if _MODEL_KEY not in metadata:
        raise CheckpointError(
            f"checkpoint {path} holds no model description (not written by save_checkpoint)"
        )
    spec = _from_json(metadata, _MODEL_KEY, path)
    builder = MODELS.get(spec.get("class"))
    if builder is None or not isinstance(spec.get("args"), dict):
        raise CheckpointError(f"checkpoint {path} describes an unknown model {spec.get('class')!r}")
    try:
        model = builder(**spec["args"])
        model.load_state_dict(state)
    except (ConfigError, KeyError, TypeError, RuntimeError) as err:
        raise CheckpointError(f"checkpoint {path} does not match its {spec['class']}: {err}") from None
    return model


def load_classifier(path: str | os.PathLike) -> SequenceClassifier:
    """Rebuild the :class:`SequenceClassifier` saved in ``path``, weights and masks included.

    Raises
    ------
    CheckpointError
        If the file cannot be read, was not written for a SequenceClassifier, or does not match it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "clf.safetensors"
    >>> model = SequenceClassifier("gru", 3, 8, input_size=2)
    >>> x = torch.randn(4, 5, 2)
    >>> _ = save_checkpoint(path, model)
    >>> torch.equal(load_classifier(path)(x), model(x))
    True
    """
    model = load_model(path)
    if not isinstance(model, SequenceClassifier):
        raise CheckpointError(f"checkpoint {path} holds a {type(model).__name__}, not a SequenceClassifier")
    return model


def _model_spec(model: torch.nn.Module) -> dict | None:
    if type(model) in (SequenceClassifier, GraphClassifier):
        return {"class": type(model).__name__, "args": model.config}
    if isinstance(model, SparseRNNBase) and type(model).__name__ in MODELS:
        return {"class": type(model).__name__, "args": constructor_args(model)}
    return None


def _to_json(value: object, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{what} must be JSON-serialisable: {err}") from None


def _from_json(metadata: dict[str, str], key: str, path: Path) -> dict:
    try:
        value = json.loads(metadata[key])
    except json.JSONDecodeError as err:
        raise CheckpointError(f"checkpoint {path} has unreadable metadata {key!r}: {err}") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"checkpoint {path} metadata {key!r} is not a JSON object")
    return value


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of ``path``; any unreadable file becomes a CheckpointError naming it."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
            state = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 - not a dict
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path} is not a valid safetensors file: {err}") from None
    return state, metadata
