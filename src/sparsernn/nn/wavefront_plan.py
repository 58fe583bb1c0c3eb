"""The layout of many graph-structured RNNs packed into one wavefront computation.

:mod:`sparsernn.nn.wavefront` runs K :class:`~sparsernn.nn.GraphClassifier` models (same cell) as
one recurrence over *waves*: the layer at depth l computes time step τ at wave ``w = l + τ``, so every
layer of every model advances in the same wave, and a batch takes ``T + depth − 1`` sequential waves
instead of ``T × (layers + skip layers)`` steps. This module decides where everything lives.

- **Cells.** Every recurrent layer of a model (one per DAG layer, plus one per skip pair) is a cell
  with a *level* (the depth it is added at: l for layer l, t for a skip s → t) and a *delay* (how many
  waves back its input was produced: 1 for layers, t − s for skips; layer 0 reads the embedding
  with delay 1). Cells are cut into *blocks* of at most ``block`` units; a block reads the input
  columns its rows use plus the cell's whole previous hidden state (fan-in F).
- **Buckets.** Blocks are grouped by fan-in padded to a power of two; within a bucket they are sorted
  by level, so the blocks active at a wave (0 ≤ w − level < T) form one contiguous slice.
- **Rows.** All values of one wave live in the rows of one (rows × batch) slab of a history tensor:
  row 0 is always zero (padding inputs read it), row 1 collects the outputs of padding units, then the
  embedding rows, the node rows (layer outputs with skip outputs added), and the unit rows of every
  bucket (hidden states). An input column of a block is the flat index ``row − delay · rows`` relative
  to the current wave's slab.
- **Packing.** Every weight and bias entry of every model maps to one entry of a packed tensor, so
  packed tensors can be trained with any elementwise optimizer exactly as the K models would be.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np
import torch

from sparsernn.errors import ConfigError
from sparsernn.nn.cells import CellKind, cell_kind
from sparsernn.nn.graph_rnn import GraphClassifier
from sparsernn.nn.mask_ops import BITS

ZERO_ROW, TRASH_ROW, FIRST_ROW = 0, 1, 2
_LADDER = (4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)


@dataclass(frozen=True)
class Bucket:
    """Blocks of one padded fan-in ``width``, sorted by level (arrays indexed by block)."""

    width: int
    levels: list[int]
    models: np.ndarray
    index: torch.Tensor  # (blocks * width,) input rows relative to the current wave's slab
    unit_row: int  # first unit row of the bucket
    node_dst: torch.Tensor  # (blocks * block,) node row fed by each unit (TRASH_ROW for padding)
    level_slices: list[tuple[int, int, int]] = field(default_factory=list)  # (level, lo, hi)

    def active(self, wave: int, steps: int) -> tuple[int, int]:
        """Slice of the blocks computing a time step 0 ≤ wave − level < steps at ``wave``."""
        return bisect.bisect_right(self.levels, wave - steps), bisect.bisect_right(self.levels, wave)


@dataclass(frozen=True)
class Plan:
    """Where every model's cells, rows and parameters live in the packed computation."""

    cell: str
    block: int
    row_blocks: int  # gate blocks of a packed weight: 1 (RNN), 4 (LSTM), 4 (GRU: r, z, n_x, n_h)
    delay: int  # largest delay: the history keeps this many slabs before wave 0
    depth: int  # largest number of layers
    rows: int
    emb_rows: tuple[int, int]  # row range of the packed embedding features
    node_rows: tuple[int, int]
    unit_rows: tuple[int, int]
    depths: list[int]  # layers per model
    emb_models: np.ndarray  # model of every packed embedding column
    readout_rows: np.ndarray  # (models, widest last layer) node rows, ZERO_ROW as padding
    buckets: list[Bucket]
    # (model, parameter name, packed key, flat packed positions, flat parameter positions)
    maps: list[tuple[int, str, str, np.ndarray, np.ndarray]]
    shapes: dict[str, tuple[int, ...]]

    def waves(self, steps: int) -> int:
        """Number of waves of a batch of ``steps`` time steps."""
        return steps + self.depth - 1


@dataclass(frozen=True)
class _Cell:
    model: int
    level: int
    delay: int
    name: str  # qualified module name in the model, e.g. "rnn.skips.0_2"
    module: torch.nn.RNNBase
    source_rows: np.ndarray
    target_rows: np.ndarray


def _cells(k: int, model: GraphClassifier, emb0: int, node0: int) -> tuple[list[_Cell], list[np.ndarray]]:
    sizes = model.rnn.structure.sizes
    starts = np.concatenate([[0], np.cumsum(sizes)])
    layer_rows = [node0 + np.arange(starts[t], starts[t + 1]) for t in range(len(sizes))]
    emb_rows = emb0 + np.arange(model.rnn.input_size)
    cells = [
        _Cell(k, t, 1, f"rnn.recurrent.{t}", layer, emb_rows if t == 0 else layer_rows[t - 1], layer_rows[t])
        for t, layer in enumerate(model.rnn.recurrent)
    ]
    for s, t in model.rnn.structure.skips:
        module = model.rnn.skips[f"{s}_{t}"]
        cells.append(_Cell(k, t, t - s, f"rnn.skips.{s}_{t}", module, layer_rows[s], layer_rows[t]))
    return cells, layer_rows


def _check(models: list[GraphClassifier]) -> str:
    if not models:
        raise ConfigError("pack at least one model")
    if any(not isinstance(m, GraphClassifier) or m.embedding is None for m in models):
        raise ConfigError("the wavefront path packs GraphClassifier models with token (embedding) inputs")
    cells = {m.rnn.cell for m in models}
    if len(cells) != 1:
        raise ConfigError(f"models packed together need one cell kind, got {', '.join(sorted(cells))}")
    if (
        len({m.embedding.num_embeddings for m in models}) != 1
        or len({m.head.out_features for m in models}) != 1
    ):
        raise ConfigError("models packed together need the same vocabulary and number of classes")
    if any(m.head.bias is None or not m.rnn.recurrent[0].bias for m in models):
        raise ConfigError("the wavefront path needs biases in the recurrent layers and the head")
    _check_shared(models)
    return cells.pop()


def _check_shared(models: list[GraphClassifier]) -> None:
    """What the packed forward takes from one model for all: read-out, dtype, a plain embedding."""
    readouts = {m.readout for m in models}
    if len(readouts) != 1:
        raise ConfigError(f"models packed together need one read-out, got {', '.join(sorted(readouts))}")
    dtypes = {p.dtype for m in models for p in m.parameters()}
    if len(dtypes) != 1 or not dtypes <= BITS.keys():
        names = ", ".join(sorted(str(d).removeprefix("torch.") for d in dtypes))
        raise ConfigError(f"models packed together need one float dtype for all parameters, got {names}")
    for k, m in enumerate(models):
        e = m.embedding
        if e.padding_idx is not None or e.max_norm is not None or e.scale_grad_by_freq or e.sparse:
            raise ConfigError(
                f"model {k}: the wavefront path needs a plain embedding "
                "(no padding_idx, max_norm, scale_grad_by_freq or sparse)"
            )


@dataclass(frozen=True)
class _Block:
    cell: _Cell
    units: np.ndarray  # unit indices of the cell
    x_cols: np.ndarray  # input columns (positions in cell.source_rows) any row uses
    h_cols: np.ndarray  # hidden columns (cell units) any row uses
    rows: list[tuple[str, np.ndarray]]

    @property
    def fan_in(self) -> int:
        return max(len(self.x_cols) + len(self.h_cols), 1)


def _blocks(cell: _Cell, kind: CellKind, block: int) -> list[_Block]:
    module, hidden = cell.module, cell.module.hidden_size
    mask_ih, mask_hh = (module.mask(n).numpy() for n in ("weight_ih_l0", "weight_hh_l0"))
    out = []
    for start in range(0, hidden, block):
        units = np.arange(start, min(start + block, hidden))
        rows = kind.row_blocks(hidden, units)  # gate blocks; GRU's n gate as n_x and n_h
        ih = [r for k, r in rows if k != "hh"]
        hh = [r for k, r in rows if k != "ih"]
        x_cols = np.flatnonzero(mask_ih[np.concatenate(ih)].any(axis=0))
        h_cols = np.flatnonzero(mask_hh[np.concatenate(hh)].any(axis=0))
        out.append(_Block(cell, units, x_cols, h_cols, rows))
    return out


def _bucket_widths(fan_ins: list[int], min_share: float) -> list[int]:
    """Padded width of every block: the next power of two, small buckets merged into wider ones."""
    widths = [next(w for w in _LADDER if w >= f) for f in fan_ins]
    counts = {w: widths.count(w) for w in sorted(set(widths))}
    keep = [w for w in counts if counts[w] >= min_share * len(widths)] or [max(counts)]
    if max(counts) not in keep:
        keep.append(max(counts))
    return [next(k for k in sorted(keep) if k >= w) for w in widths]


def plan(models: list[GraphClassifier], *, block: int = 4, min_share: float = 0.1) -> Plan:
    """Lay out ``models`` (same cell kind, token inputs) for the wavefront computation.

    ``block`` is the number of units per block; buckets holding less than ``min_share`` of the blocks
    are merged into the next wider bucket (fewer, larger operations per wave).

    Examples
    --------
    >>> import networkx as nx
    >>> m = GraphClassifier.from_graph(nx.Graph([(0, 1), (1, 2), (0, 2)]), "gru", vocab_size=128)
    >>> p = plan([m])
    >>> p.depth, p.delay, p.row_blocks, [b.levels for b in p.buckets]
    (3, 2, 4, [[0, 1, 2, 2]])
    """
    kind = cell_kind(_check(models))
    emb_sizes = [m.rnn.input_size for m in models]
    node_sizes = [sum(m.rnn.structure.sizes) for m in models]
    emb0 = FIRST_ROW + np.concatenate([[0], np.cumsum(emb_sizes)])
    node0 = emb0[-1] + np.concatenate([[0], np.cumsum(node_sizes)])
    cells, last_rows = [], []
    for k, model in enumerate(models):
        model_cells, layer_rows = _cells(k, model, int(emb0[k]), int(node0[k]))
        cells += model_cells
        last_rows.append(layer_rows[-1])
    blocks = [b for c in cells for b in _blocks(c, kind, block)]
    widths = _bucket_widths([b.fan_in for b in blocks], min_share)
    groups = {
        w: sorted((b for b, bw in zip(blocks, widths) if bw == w), key=lambda b: b.cell.level)
        for w in sorted(set(widths))
    }
    unit0 = int(node0[-1])
    starts, unit_of = {}, {}
    for w, group in groups.items():
        starts[w] = unit0
        for i, b in enumerate(group):
            for j, u in enumerate(b.units):
                unit_of[(id(b.cell), int(u))] = unit0 + i * block + j
        unit0 += len(group) * block
    rows = unit0
    row_blocks = kind.step_blocks
    maps: list = []
    shapes: dict[str, tuple[int, ...]] = {}
    buckets = []
    for key, (w, group) in enumerate(groups.items()):
        buckets.append(_bucket(group, w, block, rows, starts[w], unit_of))
        shapes |= {
            f"w{key}": (len(group), row_blocks * block, w),
            f"bih{key}": (len(group), row_blocks * block, 1),
        }
        shapes[f"bhh{key}"] = shapes[f"bih{key}"]
        maps += _block_maps(group, key, w, block, row_blocks)
    widest = max(len(r) for r in last_rows)
    readout = np.full((len(models), widest), ZERO_ROW, dtype=np.int64)
    for k, r in enumerate(last_rows):
        readout[k, : len(r)] = r
    maps += _outer_maps(models, emb_sizes, widest, shapes)
    return Plan(
        cell=kind.name,
        block=block,
        row_blocks=row_blocks,
        delay=max(c.delay for c in cells),
        depth=max(len(m.rnn.structure.sizes) for m in models),
        rows=rows,
        emb_rows=(int(emb0[0]), int(emb0[-1])),
        node_rows=(int(node0[0]), int(node0[-1])),
        unit_rows=(int(node0[-1]), rows),
        depths=[len(m.rnn.structure.sizes) for m in models],
        emb_models=np.repeat(np.arange(len(models)), emb_sizes),
        readout_rows=readout,
        buckets=buckets,
        maps=maps,
        shapes=shapes,
    )


def _bucket(group: list[_Block], width: int, block: int, rows: int, start: int, unit_of: dict) -> Bucket:
    index = np.full((len(group), width), ZERO_ROW, dtype=np.int64)
    node_dst = np.full((len(group), block), TRASH_ROW, dtype=np.int64)
    for i, b in enumerate(group):
        c = b.cell
        x = c.source_rows[b.x_cols] - c.delay * rows
        h = np.array([unit_of[(id(c), int(u))] for u in b.h_cols], dtype=np.int64) - rows
        index[i, : len(x) + len(h)] = np.concatenate([x, h])
        node_dst[i, : len(b.units)] = c.target_rows[b.units]
    levels = [b.cell.level for b in group]
    slices = [
        (lv, bisect.bisect_left(levels, lv), bisect.bisect_right(levels, lv)) for lv in sorted(set(levels))
    ]
    return Bucket(
        width=width,
        levels=levels,
        models=np.array([b.cell.model for b in group], dtype=np.int64),
        index=torch.from_numpy(index.reshape(-1)),
        unit_row=start,
        node_dst=torch.from_numpy(node_dst.reshape(-1)),
        level_slices=slices,
    )


def _block_maps(group: list[_Block], key: int, width: int, block: int, row_blocks: int) -> list:
    """Flat positions of every recurrent weight and bias entry in the bucket's packed tensors."""
    out = []
    rows_per_block = row_blocks * block
    for i, b in enumerate(group):
        name, n_x, n_in = b.cell.name, len(b.x_cols), b.cell.module.input_size
        hidden = b.cell.module.hidden_size
        for rb, (part, mrows) in enumerate(b.rows):
            packed_rows = i * rows_per_block + rb * block + np.arange(len(b.units))
            if part != "hh":
                dst = (packed_rows[:, None] * width + np.arange(n_x)[None, :]).ravel()
                src = (mrows[:, None] * n_in + b.x_cols[None, :]).ravel()
                out.append((b.cell.model, f"{name}.weight_ih_l0", f"w{key}", dst, src))
                out.append((b.cell.model, f"{name}.bias_ih_l0", f"bih{key}", packed_rows, mrows))
            if part != "ih":
                cols = n_x + np.arange(len(b.h_cols))
                dst = (packed_rows[:, None] * width + cols[None, :]).ravel()
                src = (mrows[:, None] * hidden + b.h_cols[None, :]).ravel()
                out.append((b.cell.model, f"{name}.weight_hh_l0", f"w{key}", dst, src))
                out.append((b.cell.model, f"{name}.bias_hh_l0", f"bhh{key}", packed_rows, mrows))
    return out


def _outer_maps(models: list[GraphClassifier], emb_sizes: list[int], widest: int, shapes: dict) -> list:
    """Maps of the embeddings (one packed table, columns side by side) and the read-out heads."""
    vocab, classes, total = models[0].embedding.num_embeddings, models[0].head.out_features, sum(emb_sizes)
    shapes |= {
        "emb": (vocab, total),
        "head_w": (len(models), classes, widest),
        "head_b": (len(models), classes),
    }
    out, col = [], 0
    for k, (m, e) in enumerate(zip(models, emb_sizes)):
        v, c = np.meshgrid(np.arange(vocab), np.arange(e), indexing="ij")
        out.append((k, "embedding.weight", "emb", (v * total + col + c).ravel(), (v * e + c).ravel()))
        col += e
        last = m.head.in_features
        c, j = np.meshgrid(np.arange(classes), np.arange(last), indexing="ij")
        out.append(
            (k, "head.weight", "head_w", ((k * classes + c) * widest + j).ravel(), (c * last + j).ravel())
        )
        out.append((k, "head.bias", "head_b", k * classes + np.arange(classes), np.arange(classes)))
    return out


def grouped_maps(maps: list) -> list[tuple[int, str, str, torch.Tensor, torch.Tensor]]:
    """``Plan.maps`` merged to one entry per (model, parameter, packed tensor): fewer, larger copies.

    Every parameter entry is packed at most once, so the merged copies move the same values.

    Examples
    --------
    >>> maps = [(0, "w", "w0", np.array([0]), np.array([3])), (0, "w", "w0", np.array([1]), np.array([4]))]
    >>> [(k, name, key, dst.tolist(), src.tolist()) for k, name, key, dst, src in grouped_maps(maps)]
    [(0, 'w', 'w0', [0, 1], [3, 4])]
    """
    groups: dict[tuple[int, str, str], tuple[list, list]] = {}
    for k, name, key, dst, src in maps:
        dsts, srcs = groups.setdefault((k, name, key), ([], []))
        dsts.append(dst)
        srcs.append(src)
    return [
        (k, name, key, torch.from_numpy(np.concatenate(d)), torch.from_numpy(np.concatenate(s)))
        for (k, name, key), (d, s) in groups.items()
    ]
