"""DAG orientation, longest-path layering, and the layer-to-layer connection matrices.

Darji's structure study turns an undirected graph into a layered network: every edge is oriented from
the lower to the higher node label, layer(v) = length of the longest path from a source to v, and a
recurrent layer is built per DAG layer. Edges then run between consecutive layers (s → s + 1) or skip
layers (s → t, t ≥ s + 2). Longest-path layering guarantees that every node of layer t ≥ 1 has a
predecessor in layer t − 1.
"""

from __future__ import annotations

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
    """Boolean (|layers[target]| × |layers[source]|) matrix: entry [j, i] iff the edge
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


def layer_connections(graph: nx.Graph) -> dict[tuple[int, int], np.ndarray]:
    """Every layer pair ``(s, t)`` joined by edges, with its :func:`layer_biadjacency` mask.

    Consecutive pairs ``(s, s + 1)`` are always present (each node of layer s + 1 has a predecessor in
    layer s); skip pairs ``(s, t)``, ``t ≥ s + 2``, only when some edge skips from s to t.

    Examples
    --------
    >>> sorted(layer_connections(nx.Graph([(0, 1), (1, 2), (0, 2), (0, 3)])))
    [(0, 1), (0, 2), (1, 2)]
    """
    dag = as_dag(graph)
    layers = dag_layers(dag)
    index = layer_index(layers)
    pairs = {(s, s + 1) for s in range(len(layers) - 1)}
    pairs |= {(index[u], index[v]) for u, v in dag.edges()}
    return {(s, t): layer_biadjacency(dag, layers, s, t) for s, t in sorted(pairs)}
