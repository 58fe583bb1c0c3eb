"""Reading and writing graphs: networkx objects, edge lists, GraphML, with clear errors on bad files.

Edge-list files hold one edge per line, ``u v`` or ``u v weight``, separated by whitespace; ``#``
starts a comment; a line with a single label is a node without edges (so isolated nodes survive a
round trip). Labels that read as integers become ints, others stay strings.
"""

from __future__ import annotations

import math
import numbers
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx

from sparsernn._registry import lookup
from sparsernn.errors import DataError, GraphError

_FORMATS = {".edgelist": "edgelist", ".edges": "edgelist", ".txt": "edgelist", ".graphml": "graphml"}


def _format_of(path: Path) -> str:
    return lookup(_FORMATS, path.suffix.lower(), "graph file suffix")


def _plain_int(label: str) -> bool:
    """Whether ``label`` is an int written plainly (``"7"``, ``"-2"``; not ``"01"`` or ``"+1"``)."""
    try:
        return str(int(label)) == label
    except ValueError:
        return False


def _int_labels(graph: nx.Graph) -> nx.Graph:
    """``graph`` with int nodes when every label is an int written plainly (one-to-one: distinct labels
    stay distinct nodes), else as read: all strings."""
    if all(_plain_int(v) for v in graph):
        return nx.relabel_nodes(graph, int)
    return graph


def _text(path: Path) -> str:
    """The file as UTF-8 text, or DataError naming the line of the first byte that is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x}); expected a UTF-8 edge list"
        ) from None


def _parse_edgelist(path: Path, graph: nx.Graph) -> None:
    for number, raw in enumerate(_text(path).splitlines(), start=1):
        tokens = raw.split("#", 1)[0].split()
        if not tokens:
            continue
        if len(tokens) > 3:
            raise DataError(f"{path}:{number}: expected 'u v' or 'u v weight'; got {len(tokens)} fields")
        if len(tokens) == 1:
            graph.add_node(tokens[0])
            continue
        u, v = tokens[0], tokens[1]
        if len(tokens) == 2:
            graph.add_edge(u, v)
            continue
        try:
            weight = float(tokens[2])
        except ValueError:
            raise DataError(f"{path}:{number}: weight {tokens[2]!r} is not a number") from None
        if not math.isfinite(weight):
            raise DataError(f"{path}:{number}: weight {tokens[2]!r} is not a finite number")
        graph.add_edge(u, v, weight=weight)


def _read_graphml(path: Path, directed: bool) -> nx.Graph:
    try:
        graph = nx.read_graphml(path)
    except (ElementTree.ParseError, nx.NetworkXError, KeyError, ValueError) as err:
        raise DataError(f"{path}: not a valid GraphML file ({err})") from None
    if graph.is_multigraph():
        raise DataError(f"{path}: holds a multigraph; expected a simple graph")
    graph = _int_labels(graph)
    return graph.to_directed() if directed and not graph.is_directed() else graph


def read_graph(path: str | Path, *, directed: bool = False) -> nx.Graph:
    """Read a graph from an edge list (``.edgelist``, ``.edges``, ``.txt``) or GraphML (``.graphml``).

    GraphML keeps its own directedness (``directed=True`` turns an undirected one into a DiGraph);
    edge lists give a ``Graph`` or, with ``directed=True``, a ``DiGraph``. Nodes are ints when every
    label is an int written plainly, else strings (so ``01`` and ``1`` stay two nodes).

    Raises
    ------
    DataError
        Missing file, malformed line (with its number), text that is not UTF-8, a weight that is not
        a finite number, or invalid GraphML.
    ConfigError
        Unknown file suffix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "g.edgelist"
    >>> _ = path.write_text("0 1\\n1 2 0.5\\n7\\n")
    >>> g = read_graph(path)
    >>> sorted(g.nodes), g[1][2]["weight"]
    ([0, 1, 2, 7], 0.5)
    """
    path = Path(path)
    kind = _format_of(path)
    if not path.is_file():
        raise DataError(f"graph file {path} does not exist")
    if kind == "graphml":
        return _read_graphml(path, directed)
    graph = nx.DiGraph() if directed else nx.Graph()
    _parse_edgelist(path, graph)
    return _int_labels(graph)


def write_graph(graph: nx.Graph, path: str | Path) -> Path:
    """Write ``graph`` as an edge list or GraphML, chosen by the suffix of ``path``; return the path.

    Edge lists store the ``weight`` attribute only and lose directedness (read back with
    ``directed=True``); GraphML keeps node and edge attributes of simple types.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = write_graph(nx.path_graph(3), pathlib.Path(tempfile.mkdtemp()) / "g.graphml")
    >>> sorted(read_graph(path).edges())
    [(0, 1), (1, 2)]
    """
    path = Path(path)
    if _format_of(path) == "graphml":
        nx.write_graphml(graph, path)
        return path
    lines = [str(v) for v in graph.nodes if graph.degree(v) == 0]
    for u, v, weight in graph.edges(data="weight"):
        lines.append(f"{u} {v}" if weight is None else f"{u} {v} {float(weight)!r}")
    for label in graph.nodes:
        if len(str(label).split()) != 1 or "#" in str(label):
            raise GraphError(f"node label {label!r} cannot be written to an edge list (whitespace or '#')")
    path.write_text("\n".join(lines) + "\n")
    return path


def as_graph(obj: Any, *, directed: bool = False) -> nx.Graph:
    """A networkx graph from a networkx graph (returned as is), a file path, or an iterable of edges.

    Examples
    --------
    >>> sorted(as_graph([(0, 1), (1, 2)]).edges())
    [(0, 1), (1, 2)]
    """
    if isinstance(obj, nx.Graph):
        return obj
    if isinstance(obj, str | Path):
        return read_graph(obj, directed=directed)
    if isinstance(obj, Iterable):
        graph = nx.DiGraph() if directed else nx.Graph()
        for edge in obj:
            if not isinstance(edge, tuple | list) or len(edge) not in (2, 3):
                raise GraphError(f"edge {edge!r} is not a pair (u, v) or a triple (u, v, weight)")
            if len(edge) == 3 and not isinstance(edge[2], numbers.Real):
                raise GraphError(f"edge {edge!r} has a non-numeric weight")
            graph.add_edge(edge[0], edge[1], **({"weight": float(edge[2])} if len(edge) == 3 else {}))
        return graph
    raise GraphError(
        f"cannot make a graph from {type(obj).__name__}; expected a networkx graph, path or edges"
    )
