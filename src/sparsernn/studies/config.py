"""Typed, frozen run configurations and their identity hash.

A run is fully described by a :class:`RunConfig`: which protocol to run, on which data, with which
model, trained how, plus the protocol's own parameters. Its identity (:func:`run_hash`) is the hash of
the canonical JSON of the config *with default values left out* (as in open_lth), so adding a field
with a default never renames existing runs. ``study`` and ``seed`` are not part of the hash: they
are folder levels of the store (``<root>/<study>/<hash>/seed_<k>/``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sparsernn.errors import ConfigError

Cell = Literal["rnn_tanh", "rnn_relu", "lstm", "gru"]


class Section(BaseModel):
    """Base of every config section: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(Section):
    """Which dataset (a name of ``sparsernn.data.DATASETS``), its builder options, the batch size."""

    name: str = "mnist1d"
    options: dict[str, Any] = Field(default_factory=dict)
    batch_size: int = Field(default=32, gt=0)
    eval_batch_size: int = Field(default=256, gt=0)


class ModelConfig(Section):
    """A sequence classifier: embedding (token data) → sparse recurrent layers → linear readout."""

    cell: Cell = "lstm"
    hidden_size: int = Field(default=64, gt=0)
    num_layers: int = Field(default=1, gt=0)
    embedding_dim: int = Field(default=50, gt=0)
    readout: Literal["last", "last_valid"] = "last"
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)


class TrainConfig(Section):
    """Optimisation: optimizer, learning rate, epochs, gradient-norm clipping (None = off)."""

    epochs: int = Field(default=10, ge=0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(default=1e-3, gt=0.0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    momentum: float = Field(default=0.0, ge=0.0, lt=1.0)
    clip: float | None = Field(default=5.0, gt=0.0)


class RunConfig(Section):
    """Everything that defines one run. ``params`` are checked by the protocol's own model."""

    study: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    protocol: str = "train"
    seed: int = Field(default=0, ge=0)
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    params: dict[str, Any] = Field(default_factory=dict)


def canonical(config: RunConfig) -> dict[str, Any]:
    """The part of ``config`` that identifies a run: non-default values, without study and seed."""
    dumped = config.model_dump(mode="json", exclude_defaults=True, exclude={"study", "seed"})
    dumped["protocol"] = config.protocol  # always named, even when it is the default
    return dumped


def run_hash(config: RunConfig) -> str:
    """Twelve hex digits of the SHA-256 of the canonical config (sorted keys, no whitespace).

    Examples
    --------
    >>> a = RunConfig(study="s", seed=0)
    >>> b = RunConfig(study="other", seed=3, train=TrainConfig(epochs=10))  # default value spelled out
    >>> run_hash(a) == run_hash(b)
    True
    """
    text = json.dumps(canonical(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _printable(name: object) -> str:
    """``name`` as text on one line: quoted and escaped when it holds a newline or another control character."""
    text = str(name)
    return text if text.isprintable() else repr(text)


def describe_validation_error(error: ValidationError, source: str) -> str:
    """One line naming each offending field, e.g. ``recipe x.yaml: model.cell: Input should be ...``."""
    parts = []
    for item in error.errors():
        field = ".".join(_printable(p) for p in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        got = item.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        parts.append(f"{field}: {message}{shown}")
    return f"{source}: " + "; ".join(parts)


def make_config(data: dict[str, Any], *, source: str = "config") -> RunConfig:
    """Validate a plain mapping into a :class:`RunConfig`, raising a one-line :class:`ConfigError`."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, source)) from None
