"""The time-unfolded graph of one recurrent layer over T steps, built explicitly.

Layout: T + 1 slices. Slice t (t < T) holds the inputs x_{t+1} (I nodes) followed by the hidden units
h_t (H nodes); the last slice T holds h_T only. Every edge goes from slice t − 1 to slice t: x_t → h_t
through W_ih and h_{t−1} → h_t through W_hh, so the bipartite graph between two consecutive slices is
exactly the ``step`` view ``[W_ih | W_hh]`` (left = x_t ∪ h_{t−1}, right = h_t), and restricted to the
hidden units it is the ``hh`` view. Gates are merged per unit (the ``union`` view): the unfolded graph
is a graph between units, and a unit depends on another if any gate row connects them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
from torch import nn

from sparsernn.analysis._matrix import edge_matrix
from sparsernn.analysis.views import layer_views
from sparsernn.errors import ConfigError, MaskError


@dataclass(frozen=True)
class UnfoldedGraph:
    """A layered directed graph; ``adjacency[u, v]`` is the weight ``|w|`` of the edge u → v.

    Examples
    --------
    >>> import numpy as np
    >>> g = unfolded_graph(np.ones((2, 1)), np.eye(2), steps=3)
    >>> g.adjacency.shape, g.adjacency.nnz, [len(s) for s in g.slices]
    ((11, 11), 12, [3, 3, 3, 2])
    """

    adjacency: sp.csr_array
    n_inputs: int
    n_hidden: int
    steps: int

    @property
    def slices(self) -> tuple[np.ndarray, ...]:
        """Node indices of the slices 0 .. T."""
        width = self.n_inputs + self.n_hidden
        full = [np.arange(t * width, (t + 1) * width) for t in range(self.steps)]
        return (*full, np.arange(self.steps * width, self.steps * width + self.n_hidden))

    @property
    def labels(self) -> list[tuple[str, int, int]]:
        """Node labels ``(kind, time, unit)`` in index order: ``("x", t + 1, i)``, ``("h", t, j)``."""
        out = []
        for t in range(self.steps):
            out += [("x", t + 1, i) for i in range(self.n_inputs)]
            out += [("h", t, j) for j in range(self.n_hidden)]
        return out + [("h", self.steps, j) for j in range(self.n_hidden)]

    def biadjacency(self, t: int) -> sp.csr_array:
        """The (out × in) matrix of the edges slice t − 1 → slice t: rows h_t, columns [x_t | h_{t−1}].

        Examples
        --------
        >>> import numpy as np
        >>> g = unfolded_graph(np.array([[1.0], [0.0]]), np.array([[0.0, 2.0], [3.0, 0.0]]), steps=2)
        >>> g.biadjacency(2).toarray().tolist()
        [[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]
        """
        if not 1 <= t <= self.steps:
            raise ConfigError(f"slice pair t={t} out of range; expected 1 <= t <= {self.steps}")
        left, right = self.slices[t - 1], self.slices[t][-self.n_hidden :]
        return sp.csr_array(self.adjacency[left][:, right].T)

    def to_networkx(self) -> nx.DiGraph:
        """The graph as a ``networkx.DiGraph`` with nodes labelled ``(kind, time, unit)``.

        Nodes carry ``slice``; edges carry ``weight``.

        Examples
        --------
        >>> import numpy as np
        >>> g = unfolded_graph(np.ones((1, 1)), np.ones((1, 1)), steps=1).to_networkx()
        >>> sorted(g.edges(data="weight"))
        [(('h', 0, 0), ('h', 1, 0), 1.0), (('x', 1, 0), ('h', 1, 0), 1.0)]
        """
        labels = self.labels
        graph = nx.DiGraph()
        for index, nodes in enumerate(self.slices):
            graph.add_nodes_from((labels[i] for i in nodes), slice=index)
        coo = self.adjacency.tocoo()
        graph.add_weighted_edges_from(
            (labels[u], labels[v], float(w)) for u, v, w in zip(coo.row, coo.col, coo.data)
        )
        return graph


def unfolded_graph(ih: Any, hh: Any, steps: int) -> UnfoldedGraph:
    """Unfold a recurrent layer with input weights ``ih`` (H × I) and recurrent weights ``hh`` (H × H).

    Nonzero entries are edges, ``|value|`` their weight (pass masks for the unweighted graph).

    Examples
    --------
    >>> import numpy as np
    >>> g = unfolded_graph(np.ones((3, 2)), np.eye(3), steps=4)
    >>> nx.is_directed_acyclic_graph(g.to_networkx()), len(g.slices)
    (True, 5)
    """
    ih_m, hh_m = edge_matrix(ih, what="ih"), edge_matrix(hh, what="hh")
    hidden, inputs = ih_m.shape
    if hh_m.shape != (hidden, hidden):
        raise MaskError(f"hh must have shape ({hidden}, {hidden}) to match ih {ih_m.shape}; got {hh_m.shape}")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise ConfigError(f"steps must be a positive integer; got {steps!r}")
    step = sp.hstack([ih_m, hh_m]).tocoo()  # (H × (I + H)): rows h_t, columns [x_t | h_{t−1}]
    width = inputs + hidden
    t = np.repeat(np.arange(1, steps + 1), step.nnz)
    src = (t - 1) * width + np.tile(step.col, steps)
    dst = np.where(t < steps, t * width + inputs, steps * width) + np.tile(step.row, steps)
    size = steps * width + hidden
    adjacency = sp.csr_array((np.tile(step.data, steps), (src, dst)), shape=(size, size))
    return UnfoldedGraph(adjacency=adjacency, n_inputs=inputs, n_hidden=hidden, steps=int(steps))


def unfold_layer(
    model: nn.Module,
    steps: int,
    *,
    module: str | None = None,
    layer: int = 0,
    direction: str = "forward",
    weighted: bool = False,
) -> UnfoldedGraph:
    """The unfolded graph of one layer of a recurrent module of ``model`` (gates merged per unit).

    ``module`` is a ``named_modules`` name (default: the first recurrent module found); unweighted
    graphs use the mask, weighted ones ``|W ⊙ M|`` summed over the gates of a unit.

    Examples
    --------
    >>> import torch
    >>> g = unfold_layer(torch.nn.LSTM(3, 4, num_layers=2), steps=5, layer=1)
    >>> g.n_inputs, g.n_hidden, g.adjacency.nnz
    (4, 4, 160)
    """
    views = layer_views(model, view=["ih", "hh"], gates="union")
    wanted = [
        v
        for v in views
        if (module is None or v.module == module) and v.layer == layer and v.direction == direction
    ]
    if module is None and wanted:
        wanted = [v for v in wanted if v.module == wanted[0].module]
    if len(wanted) != 2:
        names = sorted({repr(v.module) for v in views})
        raise ConfigError(
            f"no recurrent layer {layer} ({direction}) in module {module!r}; modules: {', '.join(names)}"
        )
    recurrent = dict(model.named_modules())[wanted[0].module]
    if getattr(recurrent, "proj_size", 0) > 0:  # its hidden units feed back through weight_hr
        where = f"module {wanted[0].module!r}" if wanted[0].module else "the model"
        raise ConfigError(
            f"{where} is an LSTM with proj_size={recurrent.proj_size}; unfolded graphs of projected LSTMs "
            "are not supported"
        )
    ih, hh = (v.weight if weighted else v.mask for v in wanted)
    return unfolded_graph(ih, hh, steps)
