"""Random graphs for graph-structured sparse RNNs: seeded generators (layered expanders included), DAG
layering and a graph's layered :class:`Wiring`, the 23 structure properties of Darji's study,
bipartite helpers and graph files."""

from sparsernn.graphs.bipartite import biadjacency, from_biadjacency
from sparsernn.graphs.dag import (
    as_dag,
    dag_layers,
    layer_biadjacency,
    layer_connections,
    layer_index,
    orient_dag,
)
from sparsernn.graphs.generators import GENERATORS, barabasi_albert, erdos_renyi, generate, watts_strogatz
from sparsernn.graphs.io import as_graph, read_graph, write_graph
from sparsernn.graphs.layering import Wiring, wiring
from sparsernn.graphs.properties import EXTRA_PROPERTY_NAMES, PROPERTY_NAMES, properties, properties_networkx
from sparsernn.graphs.regular import bipartite_expander, layered_expander, random_regular

__all__ = [
    "EXTRA_PROPERTY_NAMES",
    "GENERATORS",
    "PROPERTY_NAMES",
    "Wiring",
    "as_dag",
    "as_graph",
    "barabasi_albert",
    "biadjacency",
    "bipartite_expander",
    "dag_layers",
    "erdos_renyi",
    "from_biadjacency",
    "generate",
    "layer_biadjacency",
    "layer_connections",
    "layer_index",
    "layered_expander",
    "orient_dag",
    "properties",
    "properties_networkx",
    "random_regular",
    "read_graph",
    "watts_strogatz",
    "wiring",
    "write_graph",
]
