"""A graph's layered structure, computed once: node lists per DAG layer and the masks between layers.

:func:`wiring` orients the graph (:func:`~sparsernn.graphs.as_dag`), layers it by longest paths
(:func:`~sparsernn.graphs.dag_layers`, or an explicit layering checked by
:func:`~sparsernn.graphs.dag.check_layering`) and collects the connection masks of every layer pair
joined by edges (:func:`~sparsernn.graphs.layer_connections`). The graph-structured RNNs
(:class:`sparsernn.nn.GraphRNN`) are built from a :class:`Wiring`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from sparsernn.errors import GraphError
from sparsernn.graphs.dag import as_dag, check_layering, connections, dag_layers


@dataclass(frozen=True)
class Wiring:
    """The layered structure of a graph: node lists per layer and the masks between layers.

    ``masks[(s, t)]`` is the bool (|layer t| × |layer s|) mask of the edges from layer s to layer t,
    for every consecutive pair (s, s + 1) and every skip pair (t ≥ s + 2) joined by an edge.

    Examples
    --------
    >>> w = wiring(nx.Graph([(0, 1), (1, 2), (0, 2), (0, 3)]))
    >>> w.layers, w.sizes, w.skips
    (((0,), (1, 3), (2,)), (1, 2, 1), ((0, 2),))
    """

    layers: tuple[tuple[Any, ...], ...]
    masks: dict[tuple[int, int], np.ndarray]

    @property
    def sizes(self) -> tuple[int, ...]:
        """Units per layer."""
        return tuple(len(layer) for layer in self.layers)

    @property
    def skips(self) -> tuple[tuple[int, int], ...]:
        """The skip pairs (s, t), t ≥ s + 2, sorted by target then source (the order they are added)."""
        return tuple(sorted((p for p in self.masks if p[1] - p[0] >= 2), key=lambda p: (p[1], p[0])))


def check_connected(dag: nx.DiGraph) -> None:
    """GraphError unless ``dag`` is weakly connected (the message says how to build it anyway).

    Examples
    --------
    >>> check_connected(nx.DiGraph([(0, 1), (2, 3)]))
    Traceback (most recent call last):
    ...
    sparsernn.errors.GraphError: graph has 2 connected components; a graph-structured RNN needs a connected graph (allow_disconnected=True builds it anyway)
    """
    components = nx.number_weakly_connected_components(dag) if dag.number_of_nodes() else 0
    if components > 1:
        raise GraphError(
            f"graph has {components} connected components; a graph-structured RNN needs a connected "
            "graph (allow_disconnected=True builds it anyway)"
        )


def wiring(
    graph: nx.Graph, *, allow_disconnected: bool = False, layers: Sequence[Sequence] | None = None
) -> Wiring:
    """Layer a graph as the structure study does (see :mod:`sparsernn.nn.graph_rnn`), once.

    ``layers`` gives the layering explicitly, layer by layer with the nodes in unit order; it must be
    the graph's longest-path layering up to the order inside each layer. By default the nodes of
    each layer are sorted by label.

    Raises
    ------
    GraphError
        For an empty or single-node graph, a directed graph with a cycle, (unless
        ``allow_disconnected``) a graph that is not (weakly) connected, or ``layers`` that are not
        the graph's layers (see :func:`sparsernn.graphs.dag.check_layering`).

    Examples
    --------
    >>> wiring(nx.path_graph(3)).sizes
    (1, 1, 1)
    >>> w = wiring(nx.Graph([(0, 2), (0, 1), (1, 2), (2, 3), (1, 4)]), layers=[[0], [1], [4, 2], [3]])
    >>> w.layers, w.masks[(2, 3)].astype(int).tolist()  # columns: nodes 4, 2
    (((0,), (1,), (4, 2), (3,)), [[0, 1]])
    >>> wiring(nx.Graph([(0, 1), (2, 3)]))
    Traceback (most recent call last):
    ...
    sparsernn.errors.GraphError: graph has 2 connected components; a graph-structured RNN needs a connected graph (allow_disconnected=True builds it anyway)
    """
    dag = as_dag(graph)
    n = dag.number_of_nodes()
    if n < 2:
        raise GraphError(f"graph has {n} node(s); a graph-structured RNN needs at least 2 connected nodes")
    if not allow_disconnected:
        check_connected(dag)
    nodes = dag_layers(dag) if layers is None else check_layering(dag, layers)
    if len(nodes) < 2:
        raise GraphError("graph has no edges; a graph-structured RNN needs at least two layers")
    return Wiring(layers=tuple(tuple(layer) for layer in nodes), masks=connections(dag, nodes))
