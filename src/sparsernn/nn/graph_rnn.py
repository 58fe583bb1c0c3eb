"""Graph-structured sparse RNNs: the Sparse-RNN of Darji's structure study, built on the fused modules.

A graph becomes a layered recurrent network (DESIGN section 5):

- Every edge is oriented from the lower to the higher node label (a DiGraph that is acyclic keeps its
  own directions); layer(v) = length of the longest path from a source to v
  (:func:`sparsernn.graphs.dag_layers`). Node lists per layer are :attr:`GraphRNN.layers`.
- One recurrent layer per DAG layer, one unit per node. Layer 0 reads the full input (the embedding,
  of width ``#sources`` in the study) through a dense input-to-hidden weight; layer t ≥ 1 reads the
  output sequence of layer t − 1 through a weight masked by the DAG edges between the two layers.
  Hidden-to-hidden weights are dense within a layer.
- Every pair of layers (s, t), t ≥ s + 2, joined by edges that skip layers gets an extra recurrent
  layer ("skip layer") of |layer t| units that reads the output sequence of layer s through a weight
  masked by those edges (its hidden-to-hidden weight is dense, as in the original code). Its output
  sequence is added to the output of layer t, and that sum is what layer t + 1 and the skip layers
  leaving t read. The network's output is the output sequence of the last layer.

Every recurrent layer is a one-layer :class:`~sparsernn.nn.SparseRNN` / ``SparseLSTM`` / ``SparseGRU``
(torch's fused kernel with masks), so ``.masks`` covers every masked weight of every layer, skip
layers included, under qualified names (``recurrent.2.weight_ih_l0``, ``skips.0_2.weight_ih_l0``).

Gate masks. The weights of an LSTM (4 gates) or GRU (3 gates) stack the gates in row blocks:
rows ``g·H .. g·H + H − 1`` belong to gate g. A node mask M (H × I) therefore has to be repeated
per gate block, ``gate_rows[g·H + j] = M[j]`` (``"blocked"``, correct). The original code used
``numpy.repeat(M, gates, axis=0)``, which interleaves the rows instead: ``gate_rows[r] = M[r // G]``
(``"interleaved"``). Then unit j's gate g reads the edges of node ``(g·H + j) // G`` rather than of
node j: node i's edges land in rows ``G·i .. G·i + G − 1``, i.e. in G consecutive units of one
gate (or two adjacent gates), instead of in row i of every gate block. Most gate rows thus carry
another node's wiring (unit 0's first gate and the last unit's last gate always keep their own).
The number of kept weights is the same. For the one-gate RNN cells both modes coincide.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import torch
from torch import Tensor

from sparsernn.errors import ConfigError, GraphError, MaskError
from sparsernn.graphs import as_dag, dag_layers, layer_connections
from sparsernn.nn.base import SparseRNNBase
from sparsernn.nn.cells import GATES, make_rnn
from sparsernn.nn.inputs import check_classifier_args, check_input, checked_lengths

GATE_MASKS = ("blocked", "interleaved")


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


def wiring(graph: nx.Graph, *, allow_disconnected: bool = False) -> Wiring:
    """Layer a graph as the structure study does (see the module docstring).

    Raises
    ------
    GraphError
        For an empty or single-node graph, a directed graph with a cycle, or (unless
        ``allow_disconnected``) a graph that is not (weakly) connected.

    Examples
    --------
    >>> wiring(nx.path_graph(3)).sizes
    (1, 1, 1)
    >>> wiring(nx.Graph([(0, 1), (2, 3)]))
    Traceback (most recent call last):
    ...
    sparsernn.errors.GraphError: graph has 2 connected components; a graph-structured RNN needs a connected graph (allow_disconnected=True builds it anyway)
    """
    dag = as_dag(graph)
    n = dag.number_of_nodes()
    if n < 2:
        raise GraphError(f"graph has {n} node(s); a graph-structured RNN needs at least 2 connected nodes")
    components = nx.number_weakly_connected_components(dag)
    if components > 1 and not allow_disconnected:
        raise GraphError(
            f"graph has {components} connected components; a graph-structured RNN needs a connected "
            "graph (allow_disconnected=True builds it anyway)"
        )
    layers = tuple(tuple(layer) for layer in dag_layers(dag))
    if len(layers) < 2:
        raise GraphError("graph has no edges; a graph-structured RNN needs at least two layers")
    return Wiring(layers=layers, masks=dict(layer_connections(dag)))


def gate_mask(node_mask: Tensor, gates: int, mode: str = "blocked") -> Tensor:
    """Expand a node mask (H × I) to the mask (gates·H × I) of a gate-stacked weight.

    ``"blocked"`` repeats the whole mask once per gate block (unit j keeps its own edges in every
    gate); ``"interleaved"`` repeats every row ``gates`` times in place, the original code's bug.

    Examples
    --------
    >>> m = torch.tensor([[True, False], [False, True]])
    >>> gate_mask(m, 2).int().tolist()
    [[1, 0], [0, 1], [1, 0], [0, 1]]
    >>> gate_mask(m, 2, "interleaved").int().tolist()
    [[1, 0], [1, 0], [0, 1], [0, 1]]
    """
    if mode == "blocked":
        return node_mask.repeat(gates, 1)
    if mode == "interleaved":
        return node_mask.repeat_interleave(gates, dim=0)
    raise ConfigError(f"unknown gate_masks {mode!r}; choose from {', '.join(GATE_MASKS)}")


class GraphRNN(torch.nn.Module):
    """A DAG-structured sparse RNN over batch-first sequences; see the module docstring.

    Build it with :meth:`from_graph`. ``forward(x)`` maps ``x`` (B, T, input_size) to the output
    sequence of the last layer (B, T, |last layer|).

    Parameters
    ----------
    cell : str
        ``"rnn_tanh"``, ``"rnn_relu"``, ``"lstm"`` or ``"gru"``.
    structure : Wiring
        Layers and masks, from :func:`wiring`.
    input_size : int
        Width of the input features read (densely) by layer 0.
    gate_masks : {"blocked", "interleaved"}
        How node masks are expanded to gate rows (see :func:`gate_mask`).
    bias : bool
        Biases in the recurrent layers.

    Examples
    --------
    >>> g = nx.Graph([(0, 1), (1, 2), (0, 2), (0, 3)])
    >>> rnn = GraphRNN.from_graph(g, cell="gru", input_size=5)
    >>> rnn.layers
    [[0], [1, 3], [2]]
    >>> sorted(rnn.masks)[:3]
    ['recurrent.0.weight_hh_l0', 'recurrent.0.weight_ih_l0', 'recurrent.1.weight_hh_l0']
    >>> rnn(torch.randn(2, 7, 5)).shape
    torch.Size([2, 7, 1])
    """

    def __init__(
        self,
        cell: str,
        structure: Wiring,
        input_size: int,
        *,
        gate_masks: str = "blocked",
        bias: bool = True,
    ) -> None:
        super().__init__()
        gates = GATES.get(cell)
        if gates is None:
            make_rnn(cell, 1, 1)  # raises the registry's error listing the cells
        if gate_masks not in GATE_MASKS:
            raise ConfigError(f"unknown gate_masks {gate_masks!r}; choose from {', '.join(GATE_MASKS)}")
        self.cell, self.gate_masks, self.structure = cell, gate_masks, structure
        sizes = structure.sizes
        self.input_size = int(input_size)
        self.recurrent = torch.nn.ModuleList()
        for t, size in enumerate(sizes):
            layer = make_rnn(
                cell, self.input_size if t == 0 else sizes[t - 1], size, batch_first=True, bias=bias
            )
            if t > 0:
                self._mask_input(layer, structure.masks[(t - 1, t)], gates)
            self.recurrent.append(layer)
        self.skips = torch.nn.ModuleDict()
        for s, t in structure.skips:
            layer = make_rnn(cell, sizes[s], sizes[t], batch_first=True, bias=bias)
            self._mask_input(layer, structure.masks[(s, t)], gates)
            self.skips[f"{s}_{t}"] = layer

    @classmethod
    def from_graph(
        cls,
        graph: nx.Graph,
        cell: str = "gru",
        *,
        gate_masks: str = "blocked",
        input_size: int | None = None,
        bias: bool = True,
        allow_disconnected: bool = False,
    ) -> GraphRNN:
        """Build the network of ``graph`` (``input_size`` defaults to the number of sources).

        Raises
        ------
        GraphError
            If the graph cannot be layered (see :func:`wiring`).

        Examples
        --------
        >>> rnn = GraphRNN.from_graph(nx.path_graph(4), cell="lstm")
        >>> rnn.input_size, [m.hidden_size for m in rnn.recurrent], len(rnn.skips)
        (1, [1, 1, 1, 1], 0)
        """
        structure = wiring(graph, allow_disconnected=allow_disconnected)
        width = structure.sizes[0] if input_size is None else input_size
        return cls(cell, structure, width, gate_masks=gate_masks, bias=bias)

    def _mask_input(self, layer: SparseRNNBase, node_mask: np.ndarray, gates: int) -> None:
        mask = gate_mask(torch.from_numpy(np.ascontiguousarray(node_mask)), gates, self.gate_masks)
        layer.set_mask("weight_ih_l0", mask)

    @property
    def layers(self) -> list[list[Any]]:
        """Node lists of the DAG layers (unit j of recurrent layer t is node ``layers[t][j]``)."""
        return [list(layer) for layer in self.structure.layers]

    @property
    def output_size(self) -> int:
        """Units of the last layer (the width of the output)."""
        return self.structure.sizes[-1]

    def sparse_layers(self) -> Iterator[tuple[str, SparseRNNBase]]:
        """``(qualified_name, module)`` of every recurrent layer, skip layers last.

        Examples
        --------
        >>> rnn = GraphRNN.from_graph(nx.Graph([(0, 1), (1, 2), (0, 2)]), cell="rnn_tanh")
        >>> [name for name, _ in rnn.sparse_layers()]
        ['recurrent.0', 'recurrent.1', 'recurrent.2', 'skips.0_2']
        """
        for t, layer in enumerate(self.recurrent):
            yield f"recurrent.{t}", layer
        for key, layer in self.skips.items():
            yield f"skips.{key}", layer

    @property
    def masks(self) -> dict[str, Tensor]:
        """Copies of every mask (True = kept), keyed by qualified parameter name."""
        return {f"{p}.{n}": m for p, layer in self.sparse_layers() for n, m in layer.masks.items()}

    def set_mask(self, name: str, mask: Tensor) -> None:
        """Replace the mask of the weight with qualified ``name`` (e.g. ``"skips.0_2.weight_ih_l0"``).

        Examples
        --------
        >>> rnn = GraphRNN.from_graph(nx.path_graph(3), cell="rnn_tanh")
        >>> rnn.set_mask("recurrent.1.weight_hh_l0", torch.zeros(1, 1, dtype=torch.bool))
        >>> rnn.masks["recurrent.1.weight_hh_l0"].tolist()
        [[False]]
        """
        prefix, _, weight = name.rpartition(".")
        layers = dict(self.sparse_layers())
        if prefix not in layers:
            raise MaskError(f"unknown mask name {name!r}; choose from {', '.join(sorted(self.masks))}")
        layers[prefix].set_mask(weight, mask)

    def density(self) -> float:
        """Fraction of masked-weight entries kept, over all layers.

        Examples
        --------
        >>> round(GraphRNN.from_graph(nx.Graph([(0, 1), (1, 2), (0, 2)]), cell="gru").density(), 3)
        1.0
        """
        masks = [layer._mask(n) for _, layer in self.sparse_layers() for n in layer._masked_names]
        return sum(int(m.sum()) for m in masks) / sum(m.numel() for m in masks)

    def sparsity(self) -> float:
        """Fraction of masked-weight entries pruned: ``1 - density()``.

        Examples
        --------
        >>> rnn = GraphRNN.from_graph(nx.DiGraph([(0, 2), (1, 3), (0, 3)]), cell="rnn_tanh")
        >>> rnn.sparsity()  # layer 1 keeps 3 of its 4 input weights; everything else is dense
        0.0625
        """
        return 1.0 - self.density()

    def forward(self, x: Tensor) -> Tensor:
        """Output sequence (B, T, |last layer|) of the last layer for input ``x`` (B, T, input_size)."""
        skips_into: dict[int, list[int]] = {}
        for s, t in self.structure.skips:
            skips_into.setdefault(t, []).append(s)
        outputs: list[Tensor] = []
        for t, layer in enumerate(self.recurrent):
            out, _ = layer(x if t == 0 else outputs[t - 1])  # (B, T, |layer t|)
            for s in skips_into.get(t, ()):
                out = out + self.skips[f"{s}_{t}"](outputs[s])[0]
            outputs.append(out)
        return outputs[-1]


class GraphClassifier(torch.nn.Module):
    """Embedding → :class:`GraphRNN` → Linear: the classifier of the structure study.

    Token inputs (B, T) go through ``Embedding(vocab_size, #sources)`` (the width layer 0 reads, as in
    the original code); float inputs (B, T, input_size) are read directly. The read-out is the last
    layer's output at the last (padded) time step (``"last"``, as the study did) or at each sequence's
    own last step (``"last_valid"``: the layers are causal in time, so this equals packing).

    Parameters
    ----------
    cell : str
        Recurrent cell kind.
    nodes : list
        Node labels (JSON-serialisable for checkpoints).
    edges : list of (u, v)
        Directed edges of the DAG (u → v); an undirected graph is oriented first by :meth:`from_graph`.
    num_classes : int
        Number of logits.
    vocab_size, input_size : int, optional
        Exactly one: token vocabulary (adds the embedding) or feature width.
    gate_masks, readout, bias
        As in :class:`GraphRNN`; readout ``"last"`` or ``"last_valid"``.

    Examples
    --------
    >>> model = GraphClassifier.from_graph(nx.Graph([(0, 1), (1, 2), (0, 2)]), "lstm", vocab_size=128)
    >>> model(torch.tensor([[66, 84, 69], [66, 69, 0]]), torch.tensor([3, 2])).shape
    torch.Size([2, 2])
    >>> GraphClassifier(**model.config).config == model.config
    True
    """

    def __init__(
        self,
        cell: str,
        nodes: list,
        edges: list,
        num_classes: int = 2,
        *,
        vocab_size: int | None = None,
        input_size: int | None = None,
        gate_masks: str = "blocked",
        readout: str = "last",
        bias: bool = True,
    ) -> None:
        super().__init__()
        check_classifier_args(input_size, vocab_size, readout)
        dag = nx.DiGraph()
        dag.add_nodes_from(nodes)
        dag.add_edges_from(tuple(e) for e in edges)
        structure = wiring(dag, allow_disconnected=True)
        width = structure.sizes[0] if input_size is None else input_size
        self._config = {
            "cell": cell,
            "nodes": list(nodes),
            "edges": [list(e) for e in edges],
            "num_classes": num_classes,
            "vocab_size": vocab_size,
            "input_size": input_size,
            "gate_masks": gate_masks,
            "readout": readout,
            "bias": bias,
        }
        self.readout = readout
        self.embedding = None if vocab_size is None else torch.nn.Embedding(vocab_size, width)
        self.rnn = GraphRNN(cell, structure, width, gate_masks=gate_masks, bias=bias)
        self.head = torch.nn.Linear(structure.sizes[-1], num_classes)

    @classmethod
    def from_graph(
        cls, graph: nx.Graph, cell: str = "gru", num_classes: int = 2, **kwargs: Any
    ) -> GraphClassifier:
        """The classifier over ``graph`` (oriented lower → higher label when undirected).

        Raises
        ------
        GraphError
            If the graph cannot be layered or is disconnected.

        Examples
        --------
        >>> model = GraphClassifier.from_graph(nx.path_graph(3), "rnn_relu", input_size=4)
        >>> model.rnn.layers, model(torch.randn(2, 5, 4)).shape
        ([[0], [1], [2]], torch.Size([2, 2]))
        """
        wiring(graph)  # the checks, with their messages
        dag = as_dag(graph)
        return cls(cell, list(dag.nodes), [list(e) for e in dag.edges], num_classes, **kwargs)

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-serialisable when the node labels are)."""
        return dict(self._config)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Logits (B, C) for tokens ``x`` (B, T) or features (B, T, F); ``lengths`` for ``"last_valid"``."""
        check_input(x, tokens=self.embedding is not None, input_size=self.rnn.input_size)
        if self.embedding is not None:
            x = self.embedding(x)  # (B, T) -> (B, T, #sources)
        out = self.rnn(x)  # (B, T, H_last)
        if self.readout == "last_valid" and lengths is not None:
            index = (checked_lengths(lengths, out.shape[0], out.shape[1]) - 1).to(out.device)
            last = out[torch.arange(out.shape[0], device=out.device), index]
        else:
            last = out[:, -1]
        return self.head(last)  # (B, H_last) -> (B, C)
