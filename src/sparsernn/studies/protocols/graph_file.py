"""A given list of graphs for the structure study: a JSON-lines file, plain or gzipped.

One JSON object per line (the format of the thesis' ``structure_graphs.jsonl.gz``):

- ``nodes`` (list of integer or string labels) and ``edges`` (list of ``[u, v]`` pairs): the
  undirected graph, required;
- ``layers`` (or the thesis' ``thesis_layers``): an explicit DAG layering, node lists layer by layer
  in unit order (see :meth:`sparsernn.nn.GraphRNN.from_graph`), optional;
- ``id``, ``family``, ``cell``, ``index``: optional labels; a run trains the lines whose ``family``
  and ``cell`` (where given) equal its own, in file order;
- ``thesis_result``: optional reference result of the same graph, whose ``test_acc`` and
  ``test_loss`` a report puts next to ours.

Every line is checked when a recipe is loaded (:func:`read_graph_file`): errors name the file and
the line. Files are never unpickled.
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from sparsernn.errors import DataError, GraphError
from sparsernn.graphs import wiring

MAX_GRAPH_FILE_BYTES = 200_000_000  # decompressed


@dataclass(frozen=True)
class GraphRecord:
    """One line of a graph file: the graph, its optional layering, labels and reference result."""

    line: int
    nodes: tuple
    edges: tuple
    layers: tuple | None = None
    id: str | None = None
    family: str | None = None
    cell: str | None = None
    index: int | None = None
    reference_accuracy: float | None = None
    reference_loss: float | None = None

    def graph(self) -> nx.Graph:
        """The undirected graph, nodes and edges in file order.

        Examples
        --------
        >>> GraphRecord(1, (0, 1, 2), ((0, 1), (1, 2))).graph().number_of_edges()
        2
        """
        graph = nx.Graph()
        graph.add_nodes_from(self.nodes)
        graph.add_edges_from(self.edges)
        return graph


def _label(value: Any, what: str) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise GraphError(f"{what} {value!r} is not a node label; expected an integer or a string")
    return value


def _record(obj: Any, line: int) -> GraphRecord:
    if not isinstance(obj, dict) or "nodes" not in obj or "edges" not in obj:
        raise GraphError("expected a JSON object with 'nodes' and 'edges'")
    nodes = tuple(_label(n, "node") for n in obj["nodes"])
    if len(set(nodes)) != len(nodes):
        raise GraphError("a node is listed twice in 'nodes'")
    known = set(nodes)
    edges = []
    for edge in obj["edges"]:
        if not isinstance(edge, list) or len(edge) != 2 or not set(edge) <= known or edge[0] == edge[1]:
            raise GraphError(f"edge {edge!r} is not a pair of two different nodes of 'nodes'")
        edges.append(tuple(edge))
    raw = obj.get("layers", obj.get("thesis_layers"))
    layers = None if raw is None else tuple(tuple(layer) for layer in raw)
    result = obj.get("thesis_result") or {}
    record = GraphRecord(
        line=line,
        nodes=nodes,
        edges=tuple(edges),
        layers=layers,
        id=None if obj.get("id") is None else str(obj["id"]),
        family=obj.get("family"),
        cell=obj.get("cell"),
        index=obj.get("index"),
        reference_accuracy=None if result.get("test_acc") is None else float(result["test_acc"]),
        reference_loss=None if result.get("test_loss") is None else float(result["test_loss"]),
    )
    wiring(record.graph(), layers=layers)  # layerable, connected, and the layering is the graph's
    return record


def _text(path: Path) -> str:
    if not path.is_file():
        raise DataError(f"graph file {path} does not exist; expected a JSON-lines file (.jsonl or .jsonl.gz)")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read(MAX_GRAPH_FILE_BYTES + 1)
        if len(data) > MAX_GRAPH_FILE_BYTES:
            raise DataError(f"graph file {path} is larger than {MAX_GRAPH_FILE_BYTES} bytes")
        return data.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise DataError(f"graph file {path} cannot be read ({type(error).__name__})") from None


@functools.lru_cache(maxsize=8)
def _read(path: Path, _mtime: int, _size: int) -> tuple[GraphRecord, ...]:
    records = []
    for number, text in enumerate(_text(path).splitlines(), start=1):
        if not text.strip():
            continue
        try:
            records.append(_record(json.loads(text), number))
        except json.JSONDecodeError:
            raise DataError(f"graph file {path} line {number}: not valid JSON") from None
        except (GraphError, TypeError) as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise DataError(f"graph file {path} line {number}: {message}") from None
    if not records:
        raise DataError(f"graph file {path} holds no graphs; expected one JSON object per line")
    return tuple(records)


def read_graph_file(path: str | Path) -> tuple[GraphRecord, ...]:
    """Every graph of a JSON-lines graph file, checked (cached while the file is unchanged).

    Raises
    ------
    DataError
        Naming the file (and the line) when it is missing, unreadable or holds an invalid graph.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "g.jsonl"
    >>> _ = path.write_text('{"nodes": [0, 1, 2], "edges": [[0, 1], [1, 2]], "family": "path"}\\n')
    >>> [(r.line, r.family, len(r.edges)) for r in read_graph_file(path)]
    [(1, 'path', 2)]
    """
    path = Path(path).resolve()
    stat = path.stat() if path.is_file() else None
    return _read(path, stat.st_mtime_ns if stat else 0, stat.st_size if stat else -1)


def select(records: Sequence[GraphRecord], *, family: str, cell: str | None = None) -> list[GraphRecord]:
    """The records of ``family`` (and ``cell``) in file order; a record without the label matches.

    Examples
    --------
    >>> rs = [GraphRecord(1, (0, 1), ((0, 1),), family="a", cell="gru"), GraphRecord(2, (0, 1), ((0, 1),))]
    >>> [r.line for r in select(rs, family="a", cell="lstm")]
    [2]
    """
    return [
        r
        for r in records
        if (r.family is None or r.family == family) and (cell is None or r.cell is None or r.cell == cell)
    ]


def check_selection(records: Sequence[GraphRecord], family: str, first: int, count: int) -> None:
    """Raise ``DataError`` unless every cell's selection of ``family`` holds graphs ``first .. first + count − 1``.

    Examples
    --------
    >>> rs = [GraphRecord(1, (0, 1), ((0, 1),), family="a")]
    >>> check_selection(rs, "a", 0, 2)
    Traceback (most recent call last):
    ...
    sparsernn.errors.DataError: the graph file holds 1 graphs of family 'a' (cell any); graphs 0 .. 1 asked
    """
    cells = sorted({r.cell for r in records if r.cell is not None}) or [None]
    for cell in cells:
        mine = select(records, family=family, cell=cell)
        if len(mine) < first + count:
            raise DataError(
                f"the graph file holds {len(mine)} graphs of family {family!r} (cell {cell or 'any'}); "
                f"graphs {first} .. {first + count - 1} asked"
            )


def file_graphs(path: str | Path, family: str, cell: str, index: int) -> GraphRecord:
    """Graph ``index`` (counted from 0, in file order) of ``family`` for ``cell`` in the graph file ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "g.jsonl"
    >>> _ = path.write_text('{"nodes": [0, 1], "edges": [[0, 1]]}\\n{"nodes": [0, 1, 2], "edges": [[0, 1], [0, 2]]}\\n')
    >>> file_graphs(path, "any", "gru", 1).line
    2
    """
    mine = select(read_graph_file(path), family=family, cell=cell)
    if index >= len(mine):
        raise DataError(f"graph file {path} holds {len(mine)} graphs of family {family!r} for cell {cell}")
    return mine[index]
