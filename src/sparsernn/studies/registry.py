"""The protocol registry: what a run of each kind does, which parameters it takes, how it is reported.

A protocol is a pure description: a pydantic model for its ``params`` section, a ``run`` function
``run(config, params, recorder) -> summary`` executed in a worker (a module of
:mod:`sparsernn.studies.protocols`), and an optional ``report`` function that turns loaded results
into figures and markdown (a module of :mod:`sparsernn.studies.reports`). New studies add an entry
to :data:`PROTOCOLS`; nothing below this module imports it, so the package has no import cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import ValidationError

from sparsernn._registry import lookup, registry
from sparsernn.errors import ConfigError
from sparsernn.results import flatten
from sparsernn.studies.config import RunConfig, Section, describe_validation_error
from sparsernn.studies.protocols import controlled, darji_pruning, iterative, structure, train
from sparsernn.studies.reports import controlled as controlled_report
from sparsernn.studies.reports import darji_pruning as darji_pruning_report
from sparsernn.studies.reports import iterative as iterative_report
from sparsernn.studies.reports import structure as structure_report


@dataclass(frozen=True)
class Protocol:
    """One kind of run: its parameter model, its run function and its reporter.

    ``check(config, params)``, if given, raises a :class:`ConfigError` for what only the whole run
    config can tell (e.g. data without the validation split the protocol needs); recipes call it
    before the first run starts.
    """

    name: str
    params: type[Section]
    run: Callable[..., dict[str, Any]]
    report: Callable[..., list[str]] | None = None
    check: Callable[[RunConfig, Section], None] | None = None


PROTOCOLS: Mapping[str, Protocol] = registry(
    {
        "train": Protocol("train", train.TrainParams, train.run),
        "darji_pruning": Protocol(
            "darji_pruning", darji_pruning.DarjiPruningParams, darji_pruning.run, darji_pruning_report.report
        ),
        "iterative_pruning": Protocol(
            "iterative_pruning", iterative.IterativeParams, iterative.run, iterative_report.report
        ),
        "darji_structure": Protocol(
            "darji_structure", structure.StructureParams, structure.run, structure_report.report
        ),
        "controlled_pruning": Protocol(
            "controlled_pruning",
            controlled.ControlledParams,
            controlled.run,
            controlled_report.report,
            check=controlled.check_config,
        ),
    }
)
"""Protocol name → :class:`Protocol`."""


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name`` (``ConfigError`` listing the valid names otherwise)."""
    return lookup(PROTOCOLS, name, "protocol")


def protocol_names() -> list[str]:
    """Names of all registered protocols."""
    return sorted(PROTOCOLS)


def parse_params(config: RunConfig, *, source: str = "config") -> Section:
    """Validate ``config.params`` with the model of ``config.protocol``."""
    try:
        protocol = get_protocol(config.protocol)
    except ConfigError as error:
        raise ConfigError(f"{source}: protocol: {error}") from None
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


def default_params(name: str) -> dict[str, Any]:
    """Every parameter of protocol ``name`` at its default, as JSON data (as ``config.json`` stores it).

    Examples
    --------
    >>> default_params("train")["criterion"], default_params("train")["sparsity"]
    ('magnitude', 0.0)
    """
    return get_protocol(name).params().model_dump(mode="json")


def with_default_params(runs: pd.DataFrame) -> pd.DataFrame:
    """Loaded runs (:func:`sparsernn.results.load`) with every parameter their config left out filled in.

    Run folders written before ``config.json`` recorded the full parameters hold only the non-default
    ones; this fills in the defaults of each run's protocol, so reports read every parameter from the
    runs. Runs that record their full parameters are returned unchanged.
    """
    runs = runs.copy()
    for name in runs["protocol"].dropna().unique() if "protocol" in runs else []:
        mine = runs["protocol"] == name
        for column, value in flatten({"params": default_params(str(name))}).items():
            if value is None:
                continue  # a parameter off by default: nothing to fill in
            if column not in runs:
                runs[column] = pd.Series(None, index=runs.index, dtype=object)
            runs[column] = runs[column].where(~(mine & runs[column].isna()), value)
    return runs
