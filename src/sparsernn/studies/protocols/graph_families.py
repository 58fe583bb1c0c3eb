"""Graph families of the structure study, their seeds, and the features each graph is described by.

Graph ``index`` of family ``family`` in a study with seed ``seed`` is drawn from its own random
stream, ``SeedSequence([seed, crc32(family), index])``: it does not depend on how graphs are grouped
into runs, and the model built on it is initialised from the same stream. The node count is drawn
uniformly from ``[n_min, n_max]``, then the family's construction:

- ``barabasi_albert`` (Darji): m = n // 10, the networkx-2.5 construction (m isolated start nodes).
- ``watts_strogatz`` (Darji): connected WS, k = n // 5, p = 1, at most 10 draws.
- ``erdos_renyi`` (extension): G(n, p) with the WS mean degree, p = (n // 5) / (n − 1); connected.
- ``random_regular`` (extension): d = max(2, n // 5) (+1 when n·d is odd); connected.
- ``layered_expander`` (extension): 3–6 layers of equal width, consecutive layers joined by a random
  (3, 3)-biregular bipartite graph (d = width when narrower), node labels increasing layer by layer,
  so the DAG layering gives back exactly these layers and there are no skip edges.

Features: the 23 properties of :func:`sparsernn.graphs.properties` plus the
spectral expansion (section 4) of the layer-to-layer biadjacencies of consecutive DAG layers
(mean and minimum of Δ_S and Δ_R, the fraction of Ramanujan pairs) and two wiring counts.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping

import networkx as nx
import numpy as np

from sparsernn._registry import lookup, registry
from sparsernn.analysis import expansion
from sparsernn.errors import GraphError
from sparsernn.graphs import (
    barabasi_albert,
    bipartite_expander,
    erdos_renyi,
    properties,
    random_regular,
    watts_strogatz,
)
from sparsernn.nn.graph_rnn import Wiring, wiring

CONNECT_TRIES = 10
SPECTRAL_NAMES: tuple[str, ...] = (
    "delta_s_mean",
    "delta_s_min",
    "delta_r_mean",
    "delta_r_min",
    "ramanujan_fraction",
    "skip_layers",
    "skip_edges",
)


def graph_stream(seed: int, family: str, index: int) -> np.random.SeedSequence:
    """The seed sequence of graph ``index`` of ``family`` (its graph and its model's initialisation).

    Examples
    --------
    >>> graph_stream(0, "watts_strogatz", 3).generate_state(1) == graph_stream(0, "watts_strogatz", 3).generate_state(1)
    array([ True])
    """
    return np.random.SeedSequence([seed, zlib.crc32(family.encode()), index])


def _connected(draw: Callable[[], nx.Graph], what: str) -> nx.Graph:
    for _ in range(CONNECT_TRIES):
        graph = draw()
        if graph.number_of_nodes() > 1 and nx.is_connected(graph):
            return graph
    raise GraphError(f"no connected {what} in {CONNECT_TRIES} draws")


def _barabasi_albert(n: int, rng: np.random.Generator) -> nx.Graph:
    return barabasi_albert(n, max(1, n // 10), seed=rng, variant="nx2.5")


def _watts_strogatz(n: int, rng: np.random.Generator) -> nx.Graph:
    return watts_strogatz(n, n // 5, 1.0, seed=rng, tries=CONNECT_TRIES)


def _erdos_renyi(n: int, rng: np.random.Generator) -> nx.Graph:
    p = (n // 5) / (n - 1)
    return _connected(lambda: erdos_renyi(n, p, seed=rng), f"G({n}, {p:.3g}) graph")


def _random_regular(n: int, rng: np.random.Generator) -> nx.Graph:
    d = max(2, n // 5)
    d += (n * d) % 2
    return _connected(lambda: random_regular(d, n, seed=rng), f"{d}-regular graph on {n} nodes")


def _layered_expander(n: int, rng: np.random.Generator) -> nx.Graph:
    layers = int(rng.integers(3, 7))
    width = max(2, n // layers)
    degree = min(3, width)

    def draw() -> nx.Graph:
        graph = nx.empty_graph(layers * width)
        for t in range(layers - 1):
            pair = bipartite_expander(width, width, degree, seed=rng)
            graph.add_edges_from((t * width + u, (t + 1) * width + v - width) for u, v in pair.edges())
        return graph

    return _connected(draw, f"layered expander ({layers} × {width})")


FAMILIES: Mapping[str, Callable[[int, np.random.Generator], nx.Graph]] = registry(
    {
        "barabasi_albert": _barabasi_albert,
        "watts_strogatz": _watts_strogatz,
        "erdos_renyi": _erdos_renyi,
        "random_regular": _random_regular,
        "layered_expander": _layered_expander,
    }
)
"""Family name → ``(n, rng) -> graph``."""


def make_graph(
    family: str, seed: int, index: int, *, n_min: int = 10, n_max: int = 50
) -> tuple[nx.Graph, int]:
    """Graph ``index`` of ``family`` and the integer seed for its model's initialisation.

    Raises
    ------
    ConfigError
        For an unknown family.
    GraphError
        When the family finds no connected graph in its draws.

    Examples
    --------
    >>> g, init = make_graph("barabasi_albert", 0, 5)
    >>> 10 <= g.number_of_nodes() <= 50, nx.is_connected(g), isinstance(init, int)
    (True, True, True)
    """
    build = lookup(FAMILIES, family, "graph family")
    graph_seed, init_seed = graph_stream(seed, family, index).spawn(2)
    rng = np.random.default_rng(graph_seed)
    n = int(rng.integers(n_min, n_max + 1))
    return build(n, rng), int(init_seed.generate_state(1)[0])


def spectral_features(structure: Wiring) -> dict[str, float]:
    """Expansion of the consecutive-layer biadjacencies of a wiring, aggregated, plus skip counts.

    Examples
    --------
    >>> f = spectral_features(wiring(nx.complete_bipartite_graph(2, 3)))
    >>> f["skip_layers"], f["ramanujan_fraction"]
    (0.0, 1.0)
    """
    pairs = [expansion(structure.masks[(s, s + 1)]) for s in range(len(structure.layers) - 1)]
    delta_s = [e.delta_s for e in pairs]
    delta_r = [e.delta_r for e in pairs if math.isfinite(e.delta_r)]
    skips = structure.skips
    return {
        "delta_s_mean": float(np.mean(delta_s)),
        "delta_s_min": float(np.min(delta_s)),
        "delta_r_mean": float(np.mean(delta_r)) if delta_r else math.nan,
        "delta_r_min": float(np.min(delta_r)) if delta_r else math.nan,
        "ramanujan_fraction": float(np.mean([e.ramanujan for e in pairs])),
        "skip_layers": float(len(skips)),
        "skip_edges": float(sum(int(structure.masks[p].sum()) for p in skips)),
    }


def graph_features(graph: nx.Graph, *, spectral: bool = True) -> dict[str, float]:
    """The 23 properties of ``graph`` and (if ``spectral``) its spectral features.

    Examples
    --------
    >>> f = graph_features(nx.cycle_graph(6))
    >>> len(f), f["nodes"], f["layers"]
    (30, 6.0, 6.0)
    """
    features = properties(graph)
    if spectral:
        features |= spectral_features(wiring(graph))
    return features
