"""DAG orientation, longest-path layering, and the layer-to-layer connection matrices.

Darji's structure study turns an undirected graph into a layered network: every edge is oriented from
the lower to the higher node label, layer(v) = length of the longest path from a source to v, and a
recurrent layer is built per DAG layer. Edges then run between consecutive layers (s → s + 1) or skip
layers (s → t, t ≥ s + 2). Longest-path layering guarantees that every node of layer t ≥ 1 has a
predecessor in layer t − 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np

from sparsernn.errors import GraphError
from sparsernn.graphs._checks import check_simple, sorted_nodes


def orient_dag(graph: nx.Graph) -> nx.DiGraph:
    """Orient every edge of an undirected graph from the lower to the higher node label.

    Node and edge attributes are kept. The result is acyclic (label order is a topological order).

    Examples
    --------
    >>> sorted(orient_dag(nx.path_graph([2, 0, 1])).edges())
    [(0, 1), (0, 2)]
    """
    check_simple(graph)
    if graph.is_directed():
        raise GraphError("orient_dag expects an undirected graph; a DiGraph already has directions")
    dag = nx.DiGraph()
    dag.add_nodes_from(graph.nodes(data=True))
    order = {v: i for i, v in enumerate(sorted_nodes(graph))}
    dag.add_edges_from((u, v, d) if order[u] < order[v] else (v, u, d) for u, v, d in graph.edges(data=True))
    return dag


def as_dag(graph: nx.Graph) -> nx.DiGraph:
    """``graph`` itself if it is a DAG, its lower → higher orientation if undirected, else GraphError.

    Examples
    --------
    >>> sorted(as_dag(nx.Graph([(1, 0)])).edges()), sorted(as_dag(nx.DiGraph([(1, 0)])).edges())
    ([(0, 1)], [(1, 0)])
    """
    check_simple(graph)
    if not graph.is_directed():
        return orient_dag(graph)
    if not nx.is_directed_acyclic_graph(graph):
        raise GraphError("directed graph has a cycle; expected a DAG")
    return graph


def dag_layers(graph: nx.Graph) -> list[list]:
    """Longest-path layering: ``layers[t]`` = nodes whose longest path from a source has t edges.

    Undirected graphs are oriented with :func:`orient_dag` first; a DiGraph must be acyclic. Nodes in
    a layer are sorted by label when labels are comparable.

    Raises
    ------
    GraphError
        For an empty graph, a directed cycle, self-loops or multigraphs.

    Examples
    --------
    >>> dag_layers(nx.Graph([(0, 1), (1, 2), (0, 2), (0, 3)]))
    [[0], [1, 3], [2]]
    """
    dag = as_dag(graph)
    if dag.number_of_nodes() == 0:
        raise GraphError("graph has no nodes; expected at least one")
    depth: dict = {}
    for v in nx.topological_sort(dag):
        depth[v] = max((depth[u] + 1 for u in dag.predecessors(v)), default=0)
    layers: list[list] = [[] for _ in range(max(depth.values()) + 1)]
    for v, t in depth.items():
        layers[t].append(v)
    try:
        return [sorted(layer) for layer in layers]
    except TypeError:
        return layers


def layer_index(layers: list[list]) -> dict:
    """Map every node to its layer number.

    Examples
    --------
    >>> layer_index([["a"], ["b", "c"]])
    {'a': 0, 'b': 1, 'c': 1}
    """
    return {v: t for t, layer in enumerate(layers) for v in layer}


def layer_biadjacency(dag: nx.DiGraph, layers: list[list], source: int, target: int) -> np.ndarray:
    """Boolean ``(len(layers[target]), len(layers[source]))`` matrix: entry [j, i] iff the edge
    ``layers[source][i] → layers[target][j]`` exists (the mask of the connection source → target).

    Examples
    --------
    >>> dag = orient_dag(nx.Graph([(0, 1), (1, 2), (0, 2), (0, 3)]))
    >>> layer_biadjacency(dag, dag_layers(dag), 0, 1).astype(int).tolist()
    [[1], [1]]
    """
    position = {v: i for i, v in enumerate(layers[source])}
    out = np.zeros((len(layers[target]), len(layers[source])), dtype=bool)
    for j, v in enumerate(layers[target]):
        for u in dag.predecessors(v):
            if u in position:
                out[j, position[u]] = True
    return out


def check_layering(graph: nx.Graph, layers: Sequence[Sequence]) -> list[list]:
    """An explicit layering of ``graph``, checked: its longest-path layers, nodes in a chosen order.

    ``layers[t]`` lists the nodes of DAG layer t (see :func:`dag_layers`) in the order wanted for the
    units of layer t; only the order within a layer is free.

    Raises
    ------
    GraphError
        When ``layers`` is not a list of node lists, or is not a partition of the nodes into their
        longest-path layers: a node unknown to the graph, listed twice, missing, or in another layer.

    Examples
    --------
    >>> g = nx.Graph([(0, 1), (1, 2), (0, 2), (0, 3)])
    >>> check_layering(g, [[0], [3, 1], [2]])
    [[0], [3, 1], [2]]
    >>> check_layering(g, [[0], [3], [1, 2]])
    Traceback (most recent call last):
    ...
    sparsernn.errors.GraphError: node 1 is in layers[2], but its longest path from a source puts it in layer 1
    """
    expected = layer_index(dag_layers(graph))
    where: dict = {}
    for t, layer in enumerate(_node_lists(layers)):
        for v in layer:
            try:
                known = v in expected
            except TypeError:  # unhashable
                raise GraphError(f"layers[{t}] holds {v!r}, which is not a node label") from None
            if not known:
                raise GraphError(f"layers[{t}] holds node {v!r}, which is not in the graph")
            if v in where:
                raise GraphError(f"node {v!r} is listed twice in layers (layers[{where[v]}] and layers[{t}])")
            if expected[v] != t:
                raise GraphError(
                    f"node {v!r} is in layers[{t}], but its longest path from a source puts it in layer {expected[v]}"
                )
            where[v] = t
    missing = [v for v in expected if v not in where]
    if missing:
        shown = ", ".join(repr(v) for v in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise GraphError(f"layers miss {len(missing)} node(s) of the graph: {shown}")
    depth = max(expected.values()) + 1
    if len(layers) != depth:
        raise GraphError(f"layers has {len(layers)} layers; the graph's DAG has {depth}")
    return [list(layer) for layer in layers]


def _node_lists(layers: object) -> list[Sequence]:
    """``layers`` as a list of node sequences, or GraphError (a string is not a node list)."""
    if isinstance(layers, str | bytes) or not isinstance(layers, Sequence):
        raise GraphError(f"layers must be a list of node lists, layer by layer; got {type(layers).__name__}")
    for t, layer in enumerate(layers):
        if isinstance(layer, str | bytes) or not isinstance(layer, Sequence):
            raise GraphError(f"layers[{t}] must be a list of nodes; got {type(layer).__name__}")
    return list(layers)


def layer_connections(
    graph: nx.Graph, layers: Sequence[Sequence] | None = None
) -> dict[tuple[int, int], np.ndarray]:
    """Every layer pair ``(s, t)`` joined by edges, with its :func:`layer_biadjacency` mask.

    Consecutive pairs ``(s, s + 1)`` are always present (each node of layer s + 1 has a predecessor in
    layer s); skip pairs ``(s, t)``, ``t ≥ s + 2``, only when some edge skips from s to t. Rows and
    columns follow :func:`dag_layers`, or ``layers`` when given (checked by :func:`check_layering`).

    Examples
    --------
    >>> sorted(layer_connections(nx.Graph([(0, 1), (1, 2), (0, 2), (0, 3)])))
    [(0, 1), (0, 2), (1, 2)]
    >>> layer_connections(nx.Graph([(0, 1), (0, 2)]), [[0], [2, 1]])[(0, 1)].shape
    (2, 1)
    """
    dag = as_dag(graph)
    return connections(dag, dag_layers(dag) if layers is None else check_layering(dag, layers))


def connections(dag: nx.DiGraph, layers: list[list]) -> dict[tuple[int, int], np.ndarray]:
    """:func:`layer_connections` of a DAG and its layering, taken as they are (no check, no layering).

    Examples
    --------
    >>> dag = orient_dag(nx.Graph([(0, 1), (0, 2)]))
    >>> sorted(connections(dag, dag_layers(dag)))
    [(0, 1)]
    """
    index = layer_index(layers)
    pairs = {(s, s + 1) for s in range(len(layers) - 1)}
    pairs |= {(index[u], index[v]) for u, v in dag.edges()}
    return {(s, t): layer_biadjacency(dag, layers, s, t) for s, t in sorted(pairs)}
