"""Argument and graph checks shared by the graph modules (each raises with a one-line message)."""

from __future__ import annotations

import numbers
from typing import Any

import networkx as nx

from sparsernn.errors import ConfigError, GraphError


def check_int(value: Any, name: str, *, minimum: int = 0) -> int:
    """``value`` as an int ≥ ``minimum`` or ConfigError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def check_probability(value: Any, name: str) -> float:
    """``value`` as a float in [0, 1] or ConfigError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be a probability in [0, 1]; got {value!r}")
    return float(value)


def check_simple(graph: Any) -> None:
    """GraphError unless ``graph`` is a networkx (Di)Graph without parallel edges or self-loops."""
    if not isinstance(graph, nx.Graph):
        raise GraphError(f"expected a networkx graph; got {type(graph).__name__}")
    if graph.is_multigraph():
        raise GraphError("multigraphs are not supported; expected a simple graph")
    loops = nx.number_of_selfloops(graph)
    if loops:
        raise GraphError(f"graph has {loops} self-loop(s); expected a simple graph")


def sorted_nodes(graph: nx.Graph) -> list:
    """The nodes in label order, or GraphError when labels cannot be compared (e.g. ints and strings)."""
    try:
        return sorted(graph.nodes)
    except TypeError:
        raise GraphError("node labels must be mutually comparable to orient edges lower → higher") from None
