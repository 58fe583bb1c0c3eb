"""The 23 graph features of Darji's structure study fast (igraph) and reference (networkx).

Definitions, for a graph G given as undirected (then oriented lower → higher label) or as a DAG:

- ``layers``, ``source_nodes``, ``sink_nodes``: number of DAG layers of the longest-path layering
  (:func:`sparsernn.graphs.dag_layers`), size of the first layer (the sources) and of the last one.
- everything else on the undirected graph: ``nodes`` n, ``edges`` m, ``diameter``,
  ``density = m / (n (n − 1))`` (the original code's definition; the standard ``2m / (n (n − 1))`` is
  ``density_standard``, returned with ``extra=True``), ``average_shortest_path_length`` (over ordered
  pairs of distinct nodes), and mean / var / std (sample, ddof = 1) of: eccentricity, degree centrality
  ``deg / (n − 1)``, closeness centrality ``(n − 1) / Σ_v d(u, v)``, node betweenness (normalised by
  the ``(n − 1)(n − 2) / 2`` pairs not containing the node, as networkx), edge betweenness (normalised
  by the ``n (n − 1) / 2`` pairs, as networkx). A variance or std of fewer than two values is NaN.

Distances need a connected graph: empty, single-node and disconnected graphs raise GraphError.
All-pairs distances and betweenness need memory quadratic and time ``O(n·m)`` in the graph size, so
graphs above :data:`MAX_NODES` nodes or :data:`MAX_EDGES` edges are refused (GraphError, at once).
"""

from __future__ import annotations

import math

import igraph as ig
import networkx as nx
import numpy as np

from sparsernn.errors import GraphError
from sparsernn.graphs._checks import check_simple, sorted_nodes
from sparsernn.graphs.dag import dag_layers

PROPERTY_NAMES: tuple[str, ...] = (
    "layers",
    "nodes",
    "edges",
    "source_nodes",
    "sink_nodes",
    "diameter",
    "density",
    "average_shortest_path_length",
    "eccentricity_mean",
    "eccentricity_var",
    "eccentricity_std",
    "degree_mean",
    "degree_var",
    "degree_std",
    "closeness_mean",
    "closeness_var",
    "closeness_std",
    "nodes_betweenness_mean",
    "nodes_betweenness_var",
    "nodes_betweenness_std",
    "edge_betweenness_mean",
    "edge_betweenness_var",
    "edge_betweenness_std",
)
EXTRA_PROPERTY_NAMES: tuple[str, ...] = ("density_standard",)
MAX_NODES = 5_000
"""Largest graph (nodes) :func:`properties` accepts: its n × n distance matrix is ~1 GB in igraph."""
MAX_EDGES = 200_000
"""Most edges :func:`properties` accepts: betweenness takes time ``O(n·m)``."""


def _check_size(graph: nx.Graph) -> None:
    check_simple(graph)
    n, m = graph.number_of_nodes(), graph.number_of_edges()
    if n < 2:
        raise GraphError(f"graph has {n} node(s); graph properties need at least 2")
    if n > MAX_NODES or m > MAX_EDGES:
        raise GraphError(
            f"graph has {n} nodes and {m} edges; graph properties accept at most {MAX_NODES} nodes "
            f"and {MAX_EDGES} edges (all-pairs distances need memory quadratic in the nodes)"
        )


def _stats(prefix: str, values: np.ndarray) -> dict[str, float]:
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    centred = values - mean
    var = float(centred @ centred) / (values.size - 1) if values.size > 1 else math.nan
    return {f"{prefix}_mean": mean, f"{prefix}_var": var, f"{prefix}_std": math.sqrt(var)}


def _assemble(layer_sizes: list[int], n: int, m: int, distances: dict, centralities: dict, extra: bool):
    out = {
        "layers": float(len(layer_sizes)),
        "nodes": float(n),
        "edges": float(m),
        "source_nodes": float(layer_sizes[0]),
        "sink_nodes": float(layer_sizes[-1]),
        "diameter": float(distances["diameter"]),
        "density": m / (n * (n - 1)),
        "average_shortest_path_length": float(distances["average"]),
    }
    for prefix in ("eccentricity", "degree", "closeness", "nodes_betweenness", "edge_betweenness"):
        out |= _stats(prefix, centralities[prefix])
    if extra:
        out["density_standard"] = 2.0 * m / (n * (n - 1))
    return out


def _index_edges(graph: nx.Graph) -> tuple[int, list[list[int]]]:
    """Nodes as 0 .. n − 1 and the DAG edges ``[u, v]`` between them (undirected: oriented by label)."""
    nodes = list(graph.nodes) if graph.is_directed() else sorted_nodes(graph)
    edges = [list(edge) for edge in graph.edges()]
    if nodes != list(range(len(nodes))):  # the generators' labels need no translation
        index = {v: i for i, v in enumerate(nodes)}
        edges = [[index[u], index[v]] for u, v in edges]
    if not graph.is_directed():
        for edge in edges:
            edge.sort()
    return len(nodes), edges


def _layer_sizes(n: int, edges: list[list[int]], order: list[int]) -> list[int]:
    """Sizes of the longest-path layers, visiting the nodes in a topological ``order``."""
    predecessors: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges:
        predecessors[v].append(u)
    depth = [0] * n
    for v in order:
        if predecessors[v]:
            depth[v] = 1 + max(depth[u] for u in predecessors[v])
    return np.bincount(depth).tolist()


def _node_betweenness(n: int, edges: list[list[int]], edge_betweenness: np.ndarray) -> np.ndarray:
    """Raw node betweenness from raw edge betweenness (undirected, connected): saves a second pass.

    Around a node v, the shortest paths between a pair {s, t} not containing v use two of v's edges
    each time they pass v, and pairs with v as an endpoint use one, in total ``n − 1``; so
    ``Σ_{e ∋ v} EB(e) = 2 · NB(v) + (n − 1)``.
    """
    ends = np.asarray(edges).ravel()
    incident = np.bincount(ends, weights=np.repeat(edge_betweenness, 2), minlength=n)
    return np.maximum((incident - (n - 1)) / 2.0, 0.0)  # no −1e-16 for nodes on no path


def properties(graph: nx.Graph, *, extra: bool = False) -> dict[str, float]:
    """The 23 features of ``graph`` in :data:`PROPERTY_NAMES` order, computed with igraph.

    Parameters
    ----------
    graph : networkx.Graph or networkx.DiGraph
        Undirected (oriented lower → higher label for the layering) or a DAG.
    extra : bool
        Also return ``density_standard`` (after the 23).

    Raises
    ------
    GraphError
        Fewer than 2 nodes, more than :data:`MAX_NODES` nodes or :data:`MAX_EDGES` edges,
        disconnected, self-loops, multigraph, or a directed cycle.

    Examples
    --------
    >>> p = properties(nx.path_graph(4))
    >>> p["layers"], p["diameter"], p["density"], round(p["degree_mean"], 4)
    (4.0, 3.0, 0.25, 0.5)
    >>> list(p) == list(PROPERTY_NAMES)
    True
    """
    _check_size(graph)
    n, edges = _index_edges(graph)
    order: list[int] = list(range(n))  # label order is topological for the lower → higher orientation
    if graph.is_directed():
        dag = ig.Graph(n=n, edges=edges, directed=True)
        if not dag.is_dag():
            raise GraphError("directed graph has a cycle; expected a DAG")
        order = dag.topological_sorting()
    und = ig.Graph(n=n, edges=edges, directed=False)
    if not und.is_connected():
        raise GraphError("graph is disconnected; distance-based properties need a connected graph")
    dist = np.array(und.distances(), dtype=np.float64)
    eccentricity = dist.max(axis=1)
    edge_btw = np.array(und.edge_betweenness(directed=False))
    # networkx's normalisers (undirected): pairs not containing the node, and all pairs.
    node_btw = _node_betweenness(n, edges, edge_btw) / ((n - 1) * (n - 2) / 2) if n > 2 else np.zeros(n)
    centralities = {
        "eccentricity": eccentricity,
        "degree": np.array(und.degree()) / (n - 1),
        "closeness": (n - 1) / dist.sum(axis=1),
        "nodes_betweenness": node_btw,
        "edge_betweenness": edge_btw / (n * (n - 1) / 2),
    }
    distances = {"diameter": eccentricity.max(), "average": dist.sum() / (n * (n - 1))}
    return _assemble(_layer_sizes(n, edges, order), n, len(edges), distances, centralities, extra)


def properties_networkx(graph: nx.Graph, *, extra: bool = False) -> dict[str, float]:
    """The same features as :func:`properties`, computed with plain networkx (the reference).

    Examples
    --------
    >>> p = properties_networkx(nx.path_graph(4))
    >>> round(p["average_shortest_path_length"], 4), p["eccentricity_mean"]
    (1.6667, 2.5)
    """
    _check_size(graph)
    layers = dag_layers(graph)
    und = graph.to_undirected(as_view=True) if graph.is_directed() else graph
    if not nx.is_connected(und):
        raise GraphError("graph is disconnected; distance-based properties need a connected graph")
    n, m = und.number_of_nodes(), und.number_of_edges()
    centralities = {
        "eccentricity": list(nx.eccentricity(und).values()),
        "degree": list(nx.degree_centrality(und).values()),
        "closeness": list(nx.closeness_centrality(und).values()),
        "nodes_betweenness": list(nx.betweenness_centrality(und).values()),
        "edge_betweenness": list(nx.edge_betweenness_centrality(und).values()),
    }
    distances = {"diameter": nx.diameter(und), "average": nx.average_shortest_path_length(und)}
    return _assemble([len(layer) for layer in layers], n, m, distances, centralities, extra)
