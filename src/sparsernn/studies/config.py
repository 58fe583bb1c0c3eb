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
import re
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from sparsernn._registry import lookup
from sparsernn.errors import ConfigError
from sparsernn.results.records import RunKey
from sparsernn.studies.loggers import LOGGERS

Cell = Literal["rnn_tanh", "rnn_relu", "lstm", "gru"]

#: A study name: a plain folder name of letters, digits, ``_``, ``-`` and ``.``, starting with a letter
#: or digit (so never ``.`` or ``..``, never a path), at most 100 characters.
STUDY_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
#: Documented maxima of a run's sizes: far above any study, low enough that a typo fails at once.
MAX_SEED = 2**32 - 1  # NumPy and MNIST-1D seeds are 32-bit
MAX_HIDDEN = 16_384
MAX_LAYERS = 64
MAX_BATCH = 1_000_000
MAX_EPOCHS = 100_000


def _plain(annotation: Any) -> Any:
    """``annotation`` without ``Annotated[...]`` constraints."""
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _number_only(annotation: Any) -> bool:
    """Whether a field of this type holds a number (``int``, ``float``, perhaps ``None``) and nothing else.

    Examples
    --------
    >>> _number_only(float | None), _number_only(bool), _number_only(Literal["a"])
    (True, False, False)
    """
    annotation = _plain(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return bool(options) and all(_number_only(a) for a in options)
    return annotation in (int, float)


class Section(BaseModel):
    """Base of every config section: immutable, unknown fields rejected, floats finite (no NaN, no inf),
    and no ``true``/``false`` where a number (or a list of numbers) belongs: pydantic would read it as
    1 or 0 (``sparsity=true``: prune everything)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        annotation = _plain(cls.model_fields[info.field_name].annotation)
        values = [value]
        if get_origin(annotation) in (list, tuple) and isinstance(value, list | tuple):
            annotation, values = get_args(annotation)[0], list(value)
        if _number_only(annotation) and any(isinstance(v, bool) for v in values):
            raise ValueError("expected a number, not true or false")
        return value


class DataConfig(Section):
    """Which dataset (a name of ``sparsernn.data.DATASETS``), its builder options, the batch size."""

    name: str = "mnist1d"
    options: dict[str, Any] = Field(default_factory=dict)
    batch_size: int = Field(default=32, gt=0, le=MAX_BATCH)
    eval_batch_size: int = Field(default=256, gt=0, le=MAX_BATCH)


class ModelConfig(Section):
    """A sequence classifier: embedding (token data) → sparse recurrent layers → linear readout."""

    cell: Cell = "lstm"
    hidden_size: int = Field(default=64, gt=0, le=MAX_HIDDEN)
    num_layers: int = Field(default=1, gt=0, le=MAX_LAYERS)
    embedding_dim: int = Field(default=50, gt=0, le=MAX_HIDDEN)
    readout: Literal["last", "last_valid"] = "last"
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)


class TrainConfig(Section):
    """Optimisation: optimizer, learning rate, epochs, gradient-norm clipping (None = off)."""

    epochs: int = Field(default=10, ge=0, le=MAX_EPOCHS)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(default=1e-3, gt=0.0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    momentum: float = Field(default=0.0, ge=0.0, lt=1.0)
    clip: float | None = Field(default=5.0, gt=0.0)


class RunConfig(Section):
    """Everything that defines one run. ``params`` are checked by the protocol's own model.

    ``study`` is a plain name (:data:`STUDY_NAME`): it names a folder of the store, so it can never be
    a path (``..``, ``a/b``) or a name that loading would not see (``.``).
    """

    study: str
    protocol: str = "train"
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    params: dict[str, Any] = Field(default_factory=dict)
    #: Trackers the run's metrics also go to (``sparsernn.studies.loggers``); how a run is watched is
    #: not part of its identity: left out of the hash and of ``config.json``.
    log: tuple[str, ...] = ()

    @field_validator("log")
    @classmethod
    def _known_loggers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            lookup(LOGGERS, name, "logger")  # ConfigError is a ValueError: reported with the field
        return tuple(dict.fromkeys(value))

    @field_validator("study")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not re.fullmatch(STUDY_NAME, value):
            raise ValueError(
                "a study is a plain name: 1 to 100 letters, digits, '_', '-' or '.', "
                "starting with a letter or digit (no '/', not '.' or '..')"
            )
        return value

    @property
    def key(self) -> RunKey:
        """The run's key in the store: ``(study, run_hash(self), seed)``."""
        return RunKey(self.study, run_hash(self), self.seed)


def canonical(config: RunConfig) -> dict[str, Any]:
    """The part of ``config`` that identifies a run: non-default values, without study, seed and log."""
    dumped = config.model_dump(mode="json", exclude_defaults=True, exclude={"study", "seed", "log"})
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
        elif item["type"] == "value_error":
            message = message.removeprefix("Value error, ")  # our own validators' messages read alone
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


def unique_runs(configs: Sequence[RunConfig]) -> list[RunConfig]:
    """Drop configs that describe the same run (same study, hash and seed), keeping the first."""
    seen: dict[RunKey, RunConfig] = {}
    for config in configs:
        seen.setdefault(config.key, config)
    return list(seen.values())
