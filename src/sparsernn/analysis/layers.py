"""Expansion of every recurrent layer of a model as one tidy table, and that table as text or JSON."""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Sequence

import numpy as np
import pandas as pd
from torch import nn

from sparsernn.analysis.spectral import EXPANSION_FIELDS, expansion
from sparsernn.analysis.views import layer_views
from sparsernn.errors import ConfigError

KEY_COLUMNS: tuple[str, ...] = ("module", "layer", "direction", "view", "gate", "density")
TABLE_COLUMNS: tuple[str, ...] = (
    "module",
    "layer",
    "view",
    "gate",
    "density",
    "d_left",
    "d_right",
    "mu0",
    "mu_hat",
    "delta_s",
    "delta_r",
    "gap_weighted",
    "ramanujan",
)
_TEXT_COLUMNS = frozenset({"module", "direction", "view", "gate"})
_HEADERS = {"mu0": "μ0", "mu_hat": "μ̂", "delta_s": "Δ_S", "delta_r": "Δ_R", "gap_weighted": "λ_w"}


def layer_expansions(
    model: nn.Module,
    *,
    view: str | Sequence[str] = "ih",
    gates: str | Sequence[str] = "stack",
    weighted: bool = False,
) -> pd.DataFrame:
    """Expansion of every recurrent layer of ``model``: one row per layer × direction × view × gate.

    Parameters
    ----------
    model : torch.nn.Module
        Any module containing ``torch.nn.RNN/LSTM/GRU`` modules or cells (found with
        ``named_modules``), the library's Sparse modules included. See
        :mod:`sparsernn.analysis.views` for how masks are read and how views and gates are built.
    view : {"ih", "hh", "step"} or a list of them
    gates : {"stack", "union", "per_gate"} or a list of them
    weighted : bool
        Analyse ``|W ⊙ M|`` instead of the 0/1 mask (see :func:`~sparsernn.analysis.expansion`).

    Returns
    -------
    pandas.DataFrame
        Columns ``module, layer, direction, view, gate, density`` followed by the
        :class:`~sparsernn.analysis.Expansion` fields. ``direction`` is ``"forward"`` or
        ``"reverse"`` (bidirectional modules); ``module`` is the ``named_modules`` name (``""`` for
        the model itself).

    Examples
    --------
    >>> import torch
    >>> table = layer_expansions(torch.nn.GRU(4, 6, num_layers=2), view=["ih", "hh"], gates="union")
    >>> table[["layer", "view", "gate", "d_left", "d_right"]].values.tolist()
    [[0, 'ih', 'union', 6.0, 4.0], [0, 'hh', 'union', 6.0, 6.0], [1, 'ih', 'union', 6.0, 6.0], [1, 'hh', 'union', 6.0, 6.0]]
    """
    rows = []
    for item in layer_views(model, view=view, gates=gates):
        figures = expansion(item.weight, mask=item.mask, weighted=weighted)
        keys = (item.module, item.layer, item.direction, item.view, item.gate, item.density)
        rows.append(dict(zip(KEY_COLUMNS, keys)) | figures.to_dict())
    return pd.DataFrame(rows, columns=[*KEY_COLUMNS, *EXPANSION_FIELDS])


def expansion_table(table: pd.DataFrame, *, fmt: str = "text", digits: int = 3) -> str:
    """Render a :func:`layer_expansions` table as a readable text table or as JSON.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`layer_expansions`.
    fmt : {"text", "json"}
        ``"text"``: aligned columns (``TABLE_COLUMNS``, plus ``direction`` when a bidirectional
        layer is present), numbers rounded to ``digits``, undefined values as ``-``, Ramanujan as
        yes/no. ``"json"``: a list of row objects with every column; NaN and ±inf become ``null``.

    Examples
    --------
    >>> import torch
    >>> rnn = torch.nn.RNN(2, 3)
    >>> with torch.no_grad():
    ...     _ = rnn.weight_ih_l0.copy_(torch.tensor([[1.0, 0.0], [0.5, -2.0], [0.0, 0.0]]))
    >>> print(expansion_table(layer_expansions(rnn)))
    module   layer  view  gate   density  d_left  d_right     μ0      μ̂    Δ_S    Δ_R    λ_w  ramanujan
    (model)      0  ih    stack    0.500   1.500    1.500  1.618  0.618  0.954  0.796  1.118        yes
    >>> row = json.loads(expansion_table(layer_expansions(rnn), fmt="json"))[0]
    >>> row["n_edges"], row["ramanujan"]
    (3, True)
    """
    if fmt == "json":
        return json.dumps([_json_row(row) for row in table.to_dict(orient="records")], indent=2)
    if fmt != "text":
        raise ConfigError(f"unknown table format {fmt!r}; choose from json, text")
    columns = list(TABLE_COLUMNS)
    if "direction" in table and (table["direction"] != "forward").any():
        columns.insert(2, "direction")
    cells = [[_cell(row[c], digits) for c in columns] for row in table.to_dict(orient="records")]
    headers = [_HEADERS.get(c, c) for c in columns]
    widths = [max(_width(h), *(_width(r[i]) for r in cells)) for i, h in enumerate(headers)]
    left = [c in _TEXT_COLUMNS for c in columns]  # text flush left, numbers flush right
    lines = [_line(headers, widths, left)] + [_line(r, widths, left) for r in cells]
    return "\n".join(lines)


def _width(text: str) -> int:
    """Printed width: combining marks (the hat of μ̂) take no column."""
    return sum(not unicodedata.combining(char) for char in text)


def _line(values: list[str], widths: list[int], left: list[bool]) -> str:
    padded = []
    for value, width, flush_left in zip(values, widths, left):
        pad = " " * (width - _width(value))
        padded.append(value + pad if flush_left else pad + value)
    return "  ".join(padded).rstrip()


def _cell(value: object, digits: int) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.{digits}f}"
    if value == "":
        return "(model)"
    return str(value)


def _json_row(row: dict) -> dict:
    clean = {}
    for key, value in row.items():
        if hasattr(value, "item"):  # NumPy scalars from pandas
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        clean[key] = value
    return clean
