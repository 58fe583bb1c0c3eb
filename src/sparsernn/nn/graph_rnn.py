"""Graph-structured sparse RNNs: the Sparse-RNN of Darji's structure study, built on the fused modules.

A graph becomes a layered recurrent network (the construction of Darji's structure study):

- Every edge is oriented from the lower to the higher node label (a DiGraph that is acyclic keeps its
  own directions); layer(v) = length of the longest path from a source to v
  (:func:`sparsernn.graphs.dag_layers`). Node lists per layer are :attr:`GraphRNN.layers`: unit j of
  layer t is node ``layers[t][j]``, nodes sorted by label unless an explicit layering (``layers=``,
  the same layers with the nodes in a chosen order) is given. Layers and connection masks are a
  :class:`sparsernn.graphs.Wiring`, computed once per graph by :func:`sparsernn.graphs.wiring`.
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
The number of kept weights is the same. For the one-gate RNN cells both modes coincide. Which
node's wiring a gate row reads depends on the order of the units inside a layer, so rebuilding the
original networks needs their unit order: the order in which the original layering code reached the
nodes, given as ``layers=`` (the thesis' ``thesis_layers``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import networkx as nx
import numpy as np
import torch
from torch import Tensor

from sparsernn.errors import ConfigError, MaskError
from sparsernn.graphs import as_dag
from sparsernn.graphs.layering import Wiring, check_connected, wiring
from sparsernn.nn.base import SparseRNNBase
from sparsernn.nn.cells import cell_kind, make_rnn
from sparsernn.nn.inputs import check_classifier_args, check_input, check_num_classes, checked_lengths

GATE_MASKS = ("blocked", "interleaved")


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


def input_masks(structure: Wiring, cell: str, gate_masks: str = "blocked") -> dict[str, Tensor]:
    """The masks :class:`GraphRNN` puts on its input-to-hidden weights, keyed as in ``GraphRNN.masks``.

    ``recurrent.t.weight_ih_l0`` (t ≥ 1, reading layer t − 1) and ``skips.s_t.weight_ih_l0`` (reading
    layer s): the node mask of the layer pair expanded to gate rows by :func:`gate_mask`. Layer 0's
    input weight is dense and not listed. The constructor takes its masks from here, so this gives a
    network's masks without building (or initialising) its modules.

    Examples
    --------
    >>> masks = input_masks(wiring(nx.Graph([(0, 1), (1, 2), (0, 2)])), "lstm")
    >>> {name: tuple(m.shape) for name, m in masks.items()}
    {'recurrent.1.weight_ih_l0': (4, 1), 'recurrent.2.weight_ih_l0': (4, 1), 'skips.0_2.weight_ih_l0': (4, 1)}
    """
    gates = cell_kind(cell).gate_count
    if gate_masks not in GATE_MASKS:
        raise ConfigError(f"unknown gate_masks {gate_masks!r}; choose from {', '.join(GATE_MASKS)}")
    pairs = [(t - 1, t, f"recurrent.{t}") for t in range(1, len(structure.sizes))]
    pairs += [(s, t, f"skips.{s}_{t}") for s, t in structure.skips]
    return {
        f"{name}.weight_ih_l0": gate_mask(
            torch.from_numpy(np.ascontiguousarray(structure.masks[(s, t)])), gates, gate_masks
        )
        for s, t, name in pairs
    }


def labels_from_json(values: Any, depth: int = 1) -> Any:
    """Node labels as read back from JSON (``depth`` levels of lists above them), tuples restored.

    JSON, as in a checkpoint's config, stores a tuple label such as ``(0, 1)`` as a list; node labels
    are hashable, never lists, so every list in a label's place is turned back into a tuple,
    recursively. Anything that is not a list of labels is returned unchanged, for the checks
    downstream to reject.

    Examples
    --------
    >>> labels_from_json([[0, 1], "a", 2, [[0, 1], "b"]])
    [(0, 1), 'a', 2, ((0, 1), 'b')]
    >>> labels_from_json([[[0, 1], [0, 2]]], depth=2)  # edges, or layers
    [[(0, 1), (0, 2)]]
    """
    if depth == 0:
        return tuple(labels_from_json(v, 0) for v in values) if isinstance(values, list) else values
    if not isinstance(values, (list, tuple)):
        return values
    return [labels_from_json(v, depth - 1) for v in values]


class GraphRNN(torch.nn.Module):
    """A DAG-structured sparse RNN over batch-first sequences; see the module docstring.

    Build it with :meth:`from_graph`. ``forward(x)`` maps ``x`` (B, T, input_size) to the output
    sequence of the last layer ``(B, T, n_last)`` (``n_last`` = units in the last layer).

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
        masks = input_masks(structure, cell, gate_masks)  # checks cell and gate_masks
        self.cell, self.gate_masks, self.structure = cell, gate_masks, structure
        sizes = structure.sizes
        self.input_size = int(input_size)
        self.recurrent = torch.nn.ModuleList()
        for t, size in enumerate(sizes):
            layer = make_rnn(
                cell, self.input_size if t == 0 else sizes[t - 1], size, batch_first=True, bias=bias
            )
            if t > 0:
                layer.set_mask("weight_ih_l0", masks[f"recurrent.{t}.weight_ih_l0"])
            self.recurrent.append(layer)
        self.skips = torch.nn.ModuleDict()
        for s, t in structure.skips:
            layer = make_rnn(cell, sizes[s], sizes[t], batch_first=True, bias=bias)
            layer.set_mask("weight_ih_l0", masks[f"skips.{s}_{t}.weight_ih_l0"])
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
        layers: Sequence[Sequence] | None = None,
    ) -> GraphRNN:
        """Build the network of ``graph`` (``input_size`` defaults to the number of sources).

        ``layers`` is an explicit layering: the node lists of the DAG layers, layer by layer, each in
        unit order (unit j of layer t is node ``layers[t][j]``), e.g. the thesis' ``thesis_layers``.

        Raises
        ------
        GraphError
            If the graph cannot be layered or ``layers`` is not its layering (see :func:`wiring`).

        Examples
        --------
        >>> rnn = GraphRNN.from_graph(nx.path_graph(4), cell="lstm")
        >>> rnn.input_size, [m.hidden_size for m in rnn.recurrent], len(rnn.skips)
        (1, [1, 1, 1, 1], 0)
        >>> GraphRNN.from_graph(nx.star_graph(2), cell="gru", layers=[[0], [2, 1]]).layers
        [[0], [2, 1]]
        """
        structure = wiring(graph, allow_disconnected=allow_disconnected, layers=layers)
        width = structure.sizes[0] if input_size is None else input_size
        return cls(cell, structure, width, gate_masks=gate_masks, bias=bias)

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
        masks = [layer.mask(n) for _, layer in self.sparse_layers() for n in layer.masked_names]
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
        """Output sequence ``(B, T, n_last)`` of the last layer for input ``x`` ``(B, T, input_size)``."""
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
        Node labels: for checkpoints, labels JSON gives back equal (str, int, finite float, bool and
        tuples of them; a list in a label's place is read as a tuple, see :func:`labels_from_json`).
    edges : list of (u, v)
        Directed edges of the DAG (u → v); an undirected graph is oriented first by :meth:`from_graph`.
    num_classes : int
        Number of logits.
    vocab_size, input_size : int, optional
        Exactly one: token vocabulary (adds the embedding) or feature width.
    gate_masks, readout, bias
        As in :class:`GraphRNN`; readout ``"last"`` or ``"last_valid"``.
    layers : list of node lists, optional
        Explicit layering in unit order (see :meth:`GraphRNN.from_graph`); default: sorted labels.

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
        layers: Sequence[Sequence] | None = None,
    ) -> None:
        super().__init__()
        check_classifier_args(input_size, vocab_size, readout)
        check_num_classes(num_classes)
        # Lists (the config must list what was built, even from a generator); tuple labels come back
        # from a checkpoint's JSON as lists: tuples again, so the same graph
        nodes, edges = labels_from_json(list(nodes)), labels_from_json(list(edges), 2)
        layers = None if layers is None else labels_from_json(layers, 2)
        dag = nx.DiGraph()
        dag.add_nodes_from(nodes)
        dag.add_edges_from(tuple(e) for e in edges)
        structure = wiring(dag, allow_disconnected=True, layers=layers)
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
            "layers": None if layers is None else [list(layer) for layer in structure.layers],
        }
        self.embedding = None if vocab_size is None else torch.nn.Embedding(vocab_size, width)
        self.rnn = GraphRNN(cell, structure, width, gate_masks=gate_masks, bias=bias)
        self.head = torch.nn.Linear(structure.sizes[-1], num_classes)

    @classmethod
    def from_graph(
        cls, graph: nx.Graph, cell: str = "gru", num_classes: int = 2, **kwargs: Any
    ) -> GraphClassifier:
        """The classifier over ``graph`` (oriented lower → higher label when undirected).

        ``kwargs`` go to the constructor, ``layers=`` (an explicit layering) included.

        Raises
        ------
        GraphError
            If the graph cannot be layered, is disconnected, or ``layers`` is not its layering.

        Examples
        --------
        >>> model = GraphClassifier.from_graph(nx.path_graph(3), "rnn_relu", input_size=4)
        >>> model.rnn.layers, model(torch.randn(2, 5, 4)).shape
        ([[0], [1], [2]], torch.Size([2, 2]))
        >>> GraphClassifier.from_graph(nx.star_graph(2), input_size=1, layers=[[0], [2, 1]]).rnn.layers
        [[0], [2, 1]]
        """
        dag = as_dag(graph)
        check_connected(dag)  # the constructor layers the graph (once) and checks the rest
        return cls(cell, list(dag.nodes), [list(e) for e in dag.edges], num_classes, **kwargs)

    @property
    def readout(self) -> str:
        """``"last"`` or ``"last_valid"`` (see the class docstring); assigning it updates :attr:`config`."""
        return self._config["readout"]

    @readout.setter
    def readout(self, value: str) -> None:
        check_classifier_args(self._config["input_size"], self._config["vocab_size"], value)
        self._config["readout"] = value

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments, ``readout`` as it is now (JSON-serialisable when the labels are)."""
        return dict(self._config)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Logits (B, C) for tokens ``x`` (B, T) or features (B, T, F); ``lengths`` for ``"last_valid"``."""
        check_input(
            x,
            vocab_size=None if self.embedding is None else self.embedding.num_embeddings,
            input_size=self.rnn.input_size,
        )
        if self.embedding is not None:
            x = self.embedding(x)  # (B, T) -> (B, T, #sources)
        out = self.rnn(x)  # (B, T, H_last)
        if self.readout == "last_valid" and lengths is not None:
            index = (checked_lengths(lengths, out.shape[0], out.shape[1]) - 1).to(out.device)
            last = out[torch.arange(out.shape[0], device=out.device), index]
        else:
            last = out[:, -1]
        return self.head(last)  # (B, H_last) -> (B, C)
