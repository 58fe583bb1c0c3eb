"""Random regular graphs and random biregular bipartite graphs (bipartite expanders).

Both pair "stubs" (one per unit of degree) at random, keep the pairs that make a new simple edge,
and re-pair the rest; when no remaining pair can make a new edge the draw starts over (the
"suitable pairs" idea of Steger and Wormald, also used by networkx). Seeds as in
:mod:`sparsernn.graphs.generators`.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from sparsernn._seed import Seed, numpy_rng
from sparsernn.errors import ConfigError, GraphError
from sparsernn.graphs._checks import check_int


def _pair_stubs(
    left: np.ndarray, right: np.ndarray | None, rng: np.random.Generator
) -> set[tuple[int, int]] | None:
    """Random simple edges pairing the stubs (``right=None``: pair ``left`` among itself).

    Returns None when the remaining stubs can no longer be paired into new simple edges.
    """
    edges: set[tuple[int, int]] = set()
    while left.size:
        if right is None:
            rng.shuffle(left)
            pairs = zip(left[0::2].tolist(), left[1::2].tolist())
        else:
            rng.shuffle(right)
            pairs = zip(left.tolist(), right.tolist())
        rest_left, rest_right = [], []
        for u, v in pairs:
            edge = (min(u, v), max(u, v)) if right is None else (u, v)
            if edge in edges or (right is None and u == v):
                rest_left.append(u)
                rest_right.append(v)
            else:
                edges.add(edge)
        if rest_left and not _can_pair(rest_left, rest_right, edges, right is None):
            return None
        if right is None:
            left = np.array(rest_left + rest_right, dtype=np.int64)
        else:
            left, right = np.array(rest_left, dtype=np.int64), np.array(rest_right, dtype=np.int64)
    return edges


def _can_pair(left: list[int], right: list[int], edges: set, same_side: bool) -> bool:
    """Whether some remaining pair of stubs would make a new simple edge."""
    if same_side:
        nodes = sorted(set(left + right))
        return any((a, b) not in edges for i, a in enumerate(nodes) for b in nodes[i + 1 :])
    return any((a, b) not in edges for a in set(left) for b in set(right))


def random_regular(d: int, n: int, *, seed: Seed = None, tries: int = 100) -> nx.Graph:
    """Random d-regular simple graph on nodes ``range(n)`` (``n · d`` even, ``d < n``).

    References
    ----------
    A. Steger and N. C. Wormald, "Generating random regular graphs quickly",
    Combinatorics, Probability and Computing 8, 1999.

    Examples
    --------
    >>> g = random_regular(3, 10, seed=0)
    >>> sorted({degree for _, degree in g.degree()}), g.number_of_edges()
    ([3], 15)
    """
    d, n, tries = check_int(d, "d"), check_int(n, "n"), check_int(tries, "tries", minimum=1)
    if d >= max(n, 1) or (n * d) % 2:
        raise ConfigError(f"a d-regular graph needs d < n and n·d even; got d={d}, n={n}")
    rng = numpy_rng(seed)
    # Pairing gets stuck when the graph is dense: draw the sparse complement instead.
    dense = 2 * d > n - 1
    stubs = n - 1 - d if dense else d
    for _ in range(tries):
        edges = _pair_stubs(np.repeat(np.arange(n), stubs), None, rng)
        if edges is not None:
            if dense:
                edges = {(u, v) for u in range(n) for v in range(u + 1, n)} - edges
            graph = nx.empty_graph(n)
            graph.add_edges_from(sorted(edges))
            return graph
    raise GraphError(f"no {d}-regular graph on {n} nodes found in {tries} tries")


def bipartite_expander(
    n_left: int, n_right: int, d_left: int, *, seed: Seed = None, tries: int = 100
) -> nx.Graph:
    """Random (d_L, d_R)-biregular bipartite graph: every left node has degree ``d_left``, every right
    node ``d_right = n_left · d_left / n_right``.

    Nodes ``0 .. n_left − 1`` are the left (input) side, ``n_left .. n_left + n_right − 1`` the right
    (output) side, marked by the node attribute ``bipartite`` (0 / 1) as in networkx;
    :func:`sparsernn.graphs.biadjacency` gives the (n_right × n_left) mask. Random biregular graphs
    are near-Ramanujan with high probability (Brito, Dumitriu and Harris, 2022).

    Examples
    --------
    >>> from sparsernn.graphs import biadjacency
    >>> mask = biadjacency(bipartite_expander(8, 4, 3, seed=0)).toarray().astype(int)
    >>> mask.shape, mask.sum(axis=0).tolist(), mask.sum(axis=1).tolist()
    ((4, 8), [3, 3, 3, 3, 3, 3, 3, 3], [6, 6, 6, 6])
    """
    n_left, n_right = check_int(n_left, "n_left", minimum=1), check_int(n_right, "n_right", minimum=1)
    d_left, tries = check_int(d_left, "d_left"), check_int(tries, "tries", minimum=1)
    d_right, remainder = divmod(n_left * d_left, n_right)
    if remainder or d_left > n_right or d_right > n_left:
        raise ConfigError(
            f"no ({d_left}, d_R)-biregular graph on {n_left} + {n_right} nodes: need n_right to divide "
            f"n_left·d_left, d_left <= n_right and d_R <= n_left"
        )
    rng = numpy_rng(seed)
    # Pairing gets stuck when the graph is dense: draw the sparse complement instead.
    dense = 2 * d_left > n_right
    stubs_left, stubs_right = (n_right - d_left, n_left - d_right) if dense else (d_left, d_right)
    for _ in range(tries):
        left = np.repeat(np.arange(n_left), stubs_left)
        edges = _pair_stubs(left, np.repeat(np.arange(n_right), stubs_right), rng)
        if edges is not None:
            if dense:
                edges = {(u, v) for u in range(n_left) for v in range(n_right)} - edges
            graph = nx.Graph(n_left=n_left, n_right=n_right)
            graph.add_nodes_from(range(n_left), bipartite=0)
            graph.add_nodes_from(range(n_left, n_left + n_right), bipartite=1)
            graph.add_edges_from((u, n_left + v) for u, v in sorted(edges))
            return graph
    raise GraphError(
        f"no ({d_left}, {d_right})-biregular graph on {n_left} + {n_right} nodes in {tries} tries"
    )


def layered_expander(
    layers: int, width: int, degree: int = 3, *, seed: Seed = None, tries: int = 10
) -> nx.Graph:
    """Connected layered expander: ``layers`` layers of ``width`` nodes, consecutive layers joined by a
    random (``degree``, ``degree``)-biregular bipartite graph (:func:`bipartite_expander`).

    Node ``t · width + j`` is node j of layer t, so labels increase layer by layer: orienting edges
    from lower to higher label and layering by longest paths (:func:`sparsernn.graphs.dag_layers`)
    gives back exactly these layers, without skip edges. Draws are repeated until the graph is
    connected, at most ``tries`` times.

    Raises
    ------
    ConfigError
        For invalid sizes (``degree <= width`` is needed) or ``tries``.
    GraphError
        If no draw out of ``tries`` is connected.

    Examples
    --------
    >>> from sparsernn.graphs import dag_layers
    >>> g = layered_expander(3, 4, 2, seed=0)
    >>> g.number_of_nodes(), g.number_of_edges(), dag_layers(g)
    (12, 16, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]])
    """
    layers, width = check_int(layers, "layers", minimum=1), check_int(width, "width", minimum=1)
    tries = check_int(tries, "tries", minimum=1)
    rng = numpy_rng(seed)
    for _ in range(tries):
        graph = nx.empty_graph(layers * width)
        for t in range(layers - 1):
            pair = bipartite_expander(width, width, degree, seed=rng)
            graph.add_edges_from((t * width + u, t * width + v) for u, v in pair.edges())
        if graph.number_of_nodes() > 1 and nx.is_connected(graph):
            return graph
    raise GraphError(f"no connected layered expander ({layers} × {width}) in {tries} draws")
