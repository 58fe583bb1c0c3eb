"""The protocol registry: what a run of each kind does, which parameters it takes, how it is reported.

A protocol is a pure description: a pydantic model for its ``params`` section, a ``run`` function
``run(config, params, recorder) -> summary`` executed in a worker, and an optional ``report``
function that turns loaded results into figures and markdown. New studies add an entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from sparsernn._registry import lookup, registry
from sparsernn.errors import ConfigError
from sparsernn.studies.config import RunConfig, Section, describe_validation_error


@dataclass(frozen=True)
class Protocol:
    """One kind of run: its parameter model, its run function and its reporter."""

    name: str
    params: type[Section]
    run: Callable[..., dict[str, Any]]
    report: Callable[..., list[str]] | None = None


def _protocols() -> Mapping[str, Protocol]:
    # Imported here so that the protocol modules may import this one for their types.
    from sparsernn.studies import darji_pruning, iterative, structure, train_protocol

    return registry(
        {
            "train": train_protocol.PROTOCOL,
            "darji_pruning": darji_pruning.PROTOCOL,
            "iterative_pruning": iterative.PROTOCOL,
            "darji_structure": structure.PROTOCOL,
        }
    )


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name`` (``ConfigError`` listing the valid names otherwise)."""
    return lookup(_protocols(), name, "protocol")


def protocol_names() -> list[str]:
    """Names of all registered protocols."""
    return sorted(_protocols())


def parse_params(config: RunConfig, *, source: str = "config") -> Section:
    """Validate ``config.params`` with the model of ``config.protocol``."""
    protocol = get_protocol(config.protocol)
    try:
        return protocol.params.model_validate(config.params)
    except ValidationError as error:
        message = describe_validation_error(error, source)
        raise ConfigError(message.replace(f"{source}: ", f"{source}: params.", 1)) from None


def normalize_params(config: RunConfig, *, source: str = "config") -> RunConfig:
    """Return ``config`` with ``params`` validated and reduced to their non-default values.

    Spelling out a default parameter therefore never changes a run's identity.
    """
    params = parse_params(config, source=source)
    reduced = params.model_dump(mode="json", exclude_defaults=True)
    return config.model_copy(update={"params": reduced})
