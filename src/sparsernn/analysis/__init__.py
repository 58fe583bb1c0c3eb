"""Layers as graphs: bipartite expansion (spectral gaps, Ramanujan bounds), layer views of models,
the time-unfolded graph, and Cheeger bounds (definitions: :mod:`sparsernn.analysis.spectral`)."""

from sparsernn.analysis._matrix import bipartite_adjacency
from sparsernn.analysis.cheeger import CheegerBounds, cheeger_bounds, conductance, edge_expansion
from sparsernn.analysis.layers import TABLE_COLUMNS, expansion_table, layer_expansions
from sparsernn.analysis.spectral import EXPANSION_FIELDS, Expansion, expansion, is_ramanujan
from sparsernn.analysis.unfold import UnfoldedGraph, unfold_layer, unfolded_graph
from sparsernn.analysis.views import GATE_MODES, VIEWS, LayerView, layer_views, recurrent_modules

__all__ = [
    "EXPANSION_FIELDS",
    "GATE_MODES",
    "TABLE_COLUMNS",
    "VIEWS",
    "CheegerBounds",
    "Expansion",
    "LayerView",
    "UnfoldedGraph",
    "bipartite_adjacency",
    "cheeger_bounds",
    "conductance",
    "edge_expansion",
    "expansion",
    "expansion_table",
    "is_ramanujan",
    "layer_expansions",
    "layer_views",
    "recurrent_modules",
    "unfold_layer",
    "unfolded_graph",
]
