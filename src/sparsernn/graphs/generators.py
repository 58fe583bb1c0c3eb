"""Seeded random graph generators: Watts–Strogatz, Barabási–Albert, Erdős–Rényi, and the registry.

Every generator takes ``seed=`` (an int, a ``numpy.random.Generator`` or None), normalised by
:func:`sparsernn._seed.numpy_rng`; the global random state is never used. The constructions are
those of networkx (the random streams are not: same seed, different graphs than networkx).
Nodes are the integers ``0 .. n − 1``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import networkx as nx
import numpy as np

from sparsernn._registry import lookup, registry
from sparsernn._seed import Seed, numpy_rng
from sparsernn.errors import ConfigError, GraphError
from sparsernn.graphs._checks import check_int, check_probability
from sparsernn.graphs.regular import bipartite_expander, random_regular


def watts_strogatz(n: int, k: int, p: float, *, seed: Seed = None, tries: int = 10) -> nx.Graph:
    """Connected Watts–Strogatz small-world graph: a ring lattice with rewired edges.

    Each node starts joined to its ``k // 2`` nearest neighbours on either side; then, for
    ``j = 1 .. k // 2`` and every node u, the edge (u, u + j) is replaced with probability ``p`` by
    (u, w), w uniform among the nodes that are neither u nor already adjacent to u. The graph has
    ``n · (k // 2)`` edges. Draws are repeated until the graph is connected, at most ``tries`` times.
    An odd ``k`` therefore acts as ``k − 1``, as in networkx's ``watts_strogatz_graph``; Darji's
    structure study relies on this (``k = n // 5``, odd for many ``n``), so it is kept, not refused.

    Raises
    ------
    ConfigError
        For invalid ``n``, ``k`` (needs ``k < n``), ``p`` or ``tries``.
    GraphError
        If no draw out of ``tries`` is connected.

    References
    ----------
    D. J. Watts and S. H. Strogatz, "Collective dynamics of 'small-world' networks", Nature 393, 1998.

    Examples
    --------
    >>> g = watts_strogatz(20, 4, 0.5, seed=1)
    >>> g.number_of_nodes(), g.number_of_edges(), nx.is_connected(g)
    (20, 40, True)
    """
    n, k = check_int(n, "n", minimum=1), check_int(k, "k")
    p, tries = check_probability(p, "p"), check_int(tries, "tries", minimum=1)
    if k >= n:
        raise ConfigError(f"k must be smaller than n; got k={k}, n={n}")
    rng = numpy_rng(seed)
    for _ in range(tries):
        graph = _ring_rewired(n, k // 2, p, rng)
        if nx.is_connected(graph):
            return graph
    raise GraphError(f"no connected Watts–Strogatz graph (n={n}, k={k}, p={p}) in {tries} tries")


def _ring_rewired(n: int, half: int, p: float, rng: np.random.Generator) -> nx.Graph:
    neighbours = [set() for _ in range(n)]
    for j in range(1, half + 1):
        for u in range(n):
            neighbours[u].add((u + j) % n)
            neighbours[(u + j) % n].add(u)
    for j in range(1, half + 1):
        for u in range(n):
            if rng.random() >= p or len(neighbours[u]) >= n - 1:
                continue  # kept, or u is already joined to every other node
            w = int(rng.integers(n))
            while w == u or w in neighbours[u]:
                w = int(rng.integers(n))
            v = (u + j) % n
            neighbours[u].discard(v)
            neighbours[v].discard(u)
            neighbours[u].add(w)
            neighbours[w].add(u)
    graph = nx.empty_graph(n)
    graph.add_edges_from((u, v) for u in range(n) for v in neighbours[u] if u < v)
    return graph


def _random_subset(pool: list[int], m: int, rng: np.random.Generator) -> list[int]:
    """m distinct items drawn from ``pool`` with probability proportional to their multiplicity."""
    chosen: dict[int, None] = {}  # insertion-ordered set: results do not depend on hashing
    while len(chosen) < m:
        for index in rng.integers(len(pool), size=m - len(chosen)):
            chosen.setdefault(pool[index])
    return list(chosen)[:m]


def _isolated_start(m: int) -> tuple[nx.Graph, list[int] | None]:
    return nx.empty_graph(m), list(range(m))  # networkx ≤ 2.5: node m links to 0 .. m − 1


def _star_start(m: int) -> tuple[nx.Graph, list[int] | None]:
    return nx.star_graph(m), None  # networkx ≥ 2.6: star on m + 1 nodes, then preferential


_BA_STARTS: Mapping[str, Callable[[int], tuple[nx.Graph, list[int] | None]]] = registry(
    {"nx2.5": _isolated_start, "modern": _star_start}
)


def barabasi_albert(n: int, m: int, *, seed: Seed = None, variant: str = "nx2.5") -> nx.Graph:
    """Barabási–Albert preferential-attachment graph with ``(n − m) · m`` edges.

    Each new node links to m distinct earlier nodes chosen with probability proportional to degree.

    Parameters
    ----------
    n, m : int
        Nodes and edges per new node, ``1 <= m < n``.
    variant : {"nx2.5", "modern"}
        ``"nx2.5"``: the networkx ≤ 2.5 construction (used by the Darji study): start from m isolated
        nodes; node m links to all of ``0 .. m − 1``. ``"modern"``: networkx ≥ 2.6: start from a star
        on ``m + 1`` nodes (centre 0); node ``m + 1`` is the first preferential one.

    References
    ----------
    A.-L. Barabási and R. Albert, "Emergence of scaling in random networks", Science 286, 1999.

    Examples
    --------
    >>> g = barabasi_albert(10, 3, seed=0)
    >>> g.number_of_edges(), sorted(g[3])[:3]
    (21, [0, 1, 2])
    """
    n, m = check_int(n, "n", minimum=2), check_int(m, "m", minimum=1)
    if m >= n:
        raise ConfigError(f"m must be smaller than n; got m={m}, n={n}")
    graph, targets = lookup(_BA_STARTS, variant, "Barabási–Albert variant")(m)
    rng = numpy_rng(seed)
    pool = [node for node, degree in graph.degree() for _ in range(degree)]
    for source in range(graph.number_of_nodes(), n):
        if targets is None:
            targets = _random_subset(pool, m, rng)
        graph.add_edges_from((source, t) for t in targets)
        pool += targets + [source] * m
        targets = None
    return graph


def erdos_renyi(n: int, p: float, *, seed: Seed = None) -> nx.Graph:
    """Erdős–Rényi G(n, p): each of the ``n (n − 1) / 2`` node pairs is an edge with probability p.

    Memory grows as n²; meant for the few thousand nodes of a layer graph.

    Examples
    --------
    >>> erdos_renyi(6, 1.0, seed=0).number_of_edges(), erdos_renyi(6, 0.0, seed=0).number_of_edges()
    (15, 0)
    """
    n, p = check_int(n, "n"), check_probability(p, "p")
    rows, cols = np.triu_indices(n, k=1)
    keep = numpy_rng(seed).random(rows.size) < p
    graph = nx.empty_graph(n)
    graph.add_edges_from(zip(rows[keep].tolist(), cols[keep].tolist()))
    return graph


GENERATORS: Mapping[str, Callable[..., nx.Graph]] = registry(
    {
        "barabasi_albert": barabasi_albert,
        "bipartite_expander": bipartite_expander,
        "erdos_renyi": erdos_renyi,
        "random_regular": random_regular,
        "watts_strogatz": watts_strogatz,
    }
)


def generate(name: str, *, seed: Seed = None, **params: Any) -> nx.Graph:
    """Call the generator registered under ``name`` with ``params`` and ``seed``.

    Examples
    --------
    >>> generate("random_regular", d=3, n=8, seed=0).number_of_edges()
    12
    """
    return lookup(GENERATORS, name, "graph generator")(**params, seed=seed)
