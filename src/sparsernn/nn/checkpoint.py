"""Checkpoints as safetensors files: the state_dict (weights and masks) plus JSON metadata, never pickle.

The metadata of a checkpoint holds ``sparsernn.format`` (this layout's version), ``sparsernn.config``
(the caller's config as JSON), ``sparsernn.class`` (the saved model's class, ``module.QualName``),
``sparsernn.sha256`` (per tensor, the SHA-256 of its dtype, shape and bytes, see
:func:`sparsernn.nn._integrity.tensor_digest`) and, for a :class:`SequenceClassifier`, a :class:`GraphClassifier` or a bare
sparse recurrent module, ``sparsernn.model``: ``{"class": ..., "args": {...constructor arguments...}}``,
from which :func:`load_model` rebuilds the model.

Loading verifies the checksums (files written before they existed load without the check) and, before
building a described model, that the stored tensors have exactly the names and shapes that model
declares: the model is first built on PyTorch's ``meta`` device (shapes without memory), so a small
file cannot make the loader allocate a large model. The loaded tensors are copies, never views of
the file, so rewriting the file later cannot change them. The rebuilt model takes them as they are
(``load_state_dict(..., assign=True)``): every tensor keeps the dtype it was saved in, so a bf16,
fp16 or float64 model, or one of mixed dtypes, comes back as it was and computes the same outputs.
:func:`load_recurrent` reads the recurrent weights of any checkpoint, a user's own model included
(see :mod:`sparsernn.nn.from_state`).

The description is taken from the module as it is when saved (a classifier's ``readout`` changed
after construction included). A :class:`GraphClassifier` whose node labels JSON would not give back
equal (a NaN, a frozenset, ...) is refused at save time; tuple labels, stored by JSON as lists, are
turned back into tuples on loading.
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
from sparsernn.errors import CheckpointError, ConfigError, SparsernnError
from sparsernn.nn._integrity import check_shapes, one_line, tensor_digest, verify_digests
from sparsernn.nn.base import SparseRNNBase, constructor_args
from sparsernn.nn.classifier import SequenceClassifier
from sparsernn.nn.from_state import recurrent_from_state
from sparsernn.nn.graph_rnn import GraphClassifier, labels_from_json
from sparsernn.nn.recurrent import SparseGRU, SparseLSTM, SparseRNN

FORMAT = "1"
_FORMAT_KEY = "sparsernn.format"
_CONFIG_KEY = "sparsernn.config"
_MODEL_KEY = "sparsernn.model"
_CLASS_KEY = "sparsernn.class"
_SHA256_KEY = "sparsernn.sha256"
# What a constructor may raise on arguments read from a file (torch's own checks raise ValueError,
# a wrong type TypeError, a bad graph GraphError, ...): all mean "this description is unusable".
_BUILD_ERRORS = (
    SparsernnError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    RuntimeError,
    OverflowError,
    RecursionError,
    AssertionError,
)

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
    CheckpointError
        If ``model`` is a GraphClassifier with a node label that JSON would not give back equal.

    Examples
    --------
    >>> data = checkpoint_bytes(SparseGRU(3, 4), {"seed": 0})
    >>> int.from_bytes(data[:8], "little") < len(data)  # safetensors: header length, header, data
    True
    """
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    metadata = {
        _FORMAT_KEY: FORMAT,
        _CONFIG_KEY: _to_json(config or {}, "config"),
        _CLASS_KEY: f"{type(model).__module__}.{type(model).__qualname__}",
        _SHA256_KEY: json.dumps({k: tensor_digest(v) for k, v in tensors.items()}, sort_keys=True),
    }
    spec = _model_spec(model)
    if spec is not None:
        metadata[_MODEL_KEY] = _to_json(spec, "model arguments")
    return save_tensors(tensors, metadata=metadata)


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, config: dict | None = None) -> Path:
    """Write ``model.state_dict()`` and ``config`` to the safetensors file ``path``, atomically.

    The file is written next to ``path`` under a temporary name and renamed into place, so ``path``
    is either the old file or the complete new one, never a partial one.

    Raises
    ------
    ConfigError
        If ``config`` is not JSON-serialisable.
    CheckpointError
        If ``model`` is a GraphClassifier with a node label that JSON would not give back equal.

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
        If the file is missing, truncated, not safetensors, its metadata is unreadable, or a tensor
        does not match its stored checksum.

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
    """Rebuild the model saved in ``path`` (a SequenceClassifier, a GraphClassifier or a sparse
    RNN/LSTM/GRU), masks included, every tensor in the dtype it was saved in.

    The stored tensors are checked against the shapes the described model declares before the model
    is built. A checkpoint of any other model (a user's own module) holds no description:
    load its state with :func:`load_checkpoint` into that model, or read its recurrent layers with
    :func:`load_recurrent`.

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
    return _rebuild(path, state, metadata)


def load_recurrent(path: str | os.PathLike, *, cell: str | None = None) -> tuple[torch.nn.Module, list[str]]:
    """The recurrent layers of any checkpoint, for analysis: ``(model, notes)``.

    A checkpoint with a model description is rebuilt as by :func:`load_model` (``notes`` is empty).
    Any other checkpoint holding recurrent weights (``weight_ih_l0``, ``weight_hh_l0``, ... under any
    prefix, with ``<name>_mask`` masks if present) gives plain ``torch.nn`` RNN/LSTM/GRU modules,
    their kind inferred from the weight shapes or given by ``cell``; masks are folded into their
    weights (pruned entries exactly 0, as the source computed) and kept as ``<name>_mask`` buffers;
    ``notes`` says what was inferred and assumed (see
    :func:`sparsernn.nn.from_state.recurrent_from_state`).

    Raises
    ------
    CheckpointError
        If the file cannot be read, or holds neither a usable model description nor recurrent weights.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from safetensors.torch import save_file
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "gru.safetensors"
    >>> save_file(torch.nn.GRU(3, 5).state_dict(), str(path))
    >>> model, notes = load_recurrent(path)
    >>> type(model).__name__, notes[0]
    ('GRU', '(root): gru (W_hh has 3 gate blocks of 5 rows), 1 layer, input 3, hidden 5, no masks')
    """
    path = Path(path)
    state, metadata = _read(path)
    if _MODEL_KEY in metadata:
        return _rebuild(path, state, metadata), []
    try:
        return recurrent_from_state(state, cell=cell)
    except SparsernnError as err:
        raise CheckpointError(f"checkpoint {path} (no model description): {err}") from None


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
    if type(model) is GraphClassifier:
        _check_labels(model)
    if type(model) in (SequenceClassifier, GraphClassifier):
        return {"class": type(model).__name__, "args": model.config}
    if isinstance(model, SparseRNNBase) and type(model).__name__ in MODELS:
        return {"class": type(model).__name__, "args": constructor_args(model)}
    return None


def _check_labels(model: GraphClassifier) -> None:
    """CheckpointError naming the first node label that the JSON config would not give back equal."""
    for label in (v for layer in model.rnn.layers for v in layer):
        try:
            back = labels_from_json(json.loads(json.dumps(label)), depth=0)
        except (TypeError, ValueError, RecursionError):
            back = None  # no node is None
        if back != label:  # NaN (never equal to itself) included
            shown = " ".join(repr(label)[:100].split())
            raise CheckpointError(
                f"node label {shown} of the GraphClassifier cannot be stored in a checkpoint (JSON would "
                "not give it back equal); relabel the graph with str, int, finite float or tuple labels"
            )


def _reason_without_model(metadata: dict[str, str]) -> str:
    """Why a checkpoint has no model description, as precisely as its metadata allows."""
    saved = " ".join(metadata.get(_CLASS_KEY, "").split())[:200]  # one line, whatever the file says
    if saved:
        return (
            f"it holds a {saved}, which load_model cannot rebuild (it rebuilds "
            f"{', '.join(MODELS)}); load its state with load_checkpoint into your own model"
        )
    return (
        "it holds no model description (written by another program or an older save_checkpoint); "
        "load its state with load_checkpoint into your own model"
    )


def _rebuild(path: Path, state: dict[str, torch.Tensor], metadata: dict[str, str]) -> torch.nn.Module:
    if _MODEL_KEY not in metadata:
        raise CheckpointError(f"checkpoint {path}: {_reason_without_model(metadata)}")
    spec = _from_json(metadata, _MODEL_KEY, path)
    name, args = spec.get("class"), spec.get("args")
    if not isinstance(name, str) or name not in MODELS or not isinstance(args, dict):
        raise CheckpointError(f"checkpoint {path} describes an unknown model {str(name)[:100]!r}")
    layers = args.get("num_layers", 1)
    if isinstance(layers, int) and layers > len(state):  # each layer stores tensors: no need to build
        raise CheckpointError(
            f"checkpoint {path} declares num_layers={layers} but holds only {len(state)} tensors"
        )
    try:
        with torch.device("meta"):  # shapes without memory: check the file before allocating
            expected = {k: tuple(v.shape) for k, v in MODELS[name](**args).state_dict().items()}
    except _BUILD_ERRORS as err:
        raise CheckpointError(f"checkpoint {path} has invalid {name} arguments: {one_line(err)}") from None
    check_shapes(path, name, state, expected)
    try:
        model = MODELS[name](**args)
        # assign=True: every tensor keeps its stored dtype (a bf16 or float64 model comes back as
        # such, mixed dtypes included); the tensors are _read's copies, not views of the file
        model.load_state_dict(state, assign=True)
    except _BUILD_ERRORS as err:
        raise CheckpointError(f"checkpoint {path} does not match its {name}: {one_line(err)}") from None
    return model


def _to_json(value: object, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError, RecursionError) as err:
        raise ConfigError(f"{what} must be JSON-serialisable: {one_line(err)}") from None


def _from_json(metadata: dict[str, str], key: str, path: Path) -> dict:
    try:
        value = json.loads(metadata[key])
    except (json.JSONDecodeError, RecursionError) as err:
        raise CheckpointError(f"checkpoint {path} has unreadable metadata {key!r}: {one_line(err)}") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"checkpoint {path} metadata {key!r} is not a JSON object")
    return value


def _verify(path: Path, state: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Compare every tensor with its stored checksum (files without checksums are not checked)."""
    if _SHA256_KEY in metadata:
        verify_digests(path, state, _from_json(metadata, _SHA256_KEY, path))


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of ``path``; any unreadable file becomes a CheckpointError naming it."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
            mapped = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 - not a dict
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as err:
        raise CheckpointError(f"checkpoint {path} is not a valid safetensors file: {one_line(err)}") from None
    _verify(path, mapped, metadata)  # the bytes as stored: a copy would make a corrupt bool byte 0/1
    # Copies: safetensors maps the file, and a mapped tensor changes, or crashes the process
    # (SIGBUS), when the file is rewritten in place after loading.
    return {key: tensor.clone() for key, tensor in mapped.items()}, metadata
