"""How much of a structure study is in: trained graphs per cell and family against its graph file.

A study that trains a graph file (``params.graphs``) can be reported while it is still running. The
report then says how many of the file's graphs are trained, per cell and family, and marks the
(cell, family) pairs with no model yet as "not yet", so a partial store reads as partial.
"""

from __future__ import annotations

import pandas as pd

from sparsernn.errors import SparsernnError
from sparsernn.studies.protocols.graph_file import read_graph_file
from sparsernn.studies.protocols.structure import StructureParams
from sparsernn.studies.tables import markdown_table

NOT_YET = "not yet"


def expected_graphs(runs: pd.DataFrame) -> pd.DataFrame | None:
    """``cell, family, expected``: the graphs the study's graph file holds for each cell and family.

    A file line without a ``cell`` (or ``family``) label counts for every cell (family) of the runs.
    When the runs choose their graphs by ``params.first`` and ``params.count``, the study covers only
    the file's graphs up to the last one any of its runs trains (the seed study trains graphs 0-24
    of each pair, not the whole file). None when the runs train no graph file, several, or one that
    cannot be read here.
    """
    paths = runs["params.graphs"].dropna().unique() if "params.graphs" in runs else []
    if len(paths) != 1:
        return None
    try:
        records = read_graph_file(str(paths[0]))
    except (SparsernnError, OSError):
        return None
    cells = sorted({r.cell for r in records if r.cell} or set(runs.get("model.cell", pd.Series()).dropna()))
    families = sorted({r.family for r in records if r.family} or set(runs["params.family"].dropna()))
    limit = _declared_limit(runs)
    rows = [
        {"cell": cell, "family": family}
        | {
            "expected": min(
                limit, sum((r.cell in (None, cell)) and (r.family in (None, family)) for r in records)
            )
        }
        for cell in cells
        for family in families
    ]
    return pd.DataFrame(rows)


def _declared_limit(runs: pd.DataFrame) -> float:
    """One past the last graph index any run trains (``first + count``); inf when runs train all graphs."""
    if "params.first" not in runs:
        return float("inf")
    fields = StructureParams.model_fields
    count = runs["params.count"] if "params.count" in runs else pd.Series(float("nan"), index=runs.index)
    ends = runs["params.first"].fillna(fields["first"].default) + count.fillna(fields["count"].default)
    return float(ends.max())


def coverage_table(table: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """Per cell and family: graphs trained (one model per graph), the file's count, and ``not yet``.

    Examples
    --------
    >>> table = pd.DataFrame({"cell": ["gru"] * 3, "family": "ba", "graph": [0, 1, 1]})
    >>> expected = pd.DataFrame({"cell": ["gru", "lstm"], "family": "ba", "expected": 100})
    >>> coverage_table(table, expected).to_dict("records")
    [{'cell': 'gru', 'family': 'ba', 'trained': 2, 'of': 100, 'status': 'partial'}, {'cell': 'lstm', 'family': 'ba', 'trained': 0, 'of': 100, 'status': 'not yet'}]
    """
    trained = table.groupby(["cell", "family"])["graph"].nunique().rename("trained").reset_index()
    out = expected.merge(trained, on=["cell", "family"], how="outer")
    out["trained"] = out["trained"].fillna(0).astype(int)
    out["of"] = out["expected"].fillna(out["trained"]).astype(int)
    out["status"] = [
        NOT_YET if t == 0 else "complete" if t >= e else "partial" for t, e in zip(out["trained"], out["of"])
    ]
    return out[["cell", "family", "trained", "of", "status"]].sort_values(
        ["cell", "family"], ignore_index=True
    )


def missing_pairs(coverage: pd.DataFrame | None) -> list[tuple[str, str]]:
    """The (cell, family) pairs with no trained model yet."""
    if coverage is None:
        return []
    rows = coverage[coverage["status"] == NOT_YET]
    return list(zip(rows["cell"], rows["family"]))


def coverage_section(table: pd.DataFrame, runs: pd.DataFrame) -> tuple[list[str], pd.DataFrame | None]:
    """A sentence (and, while the study is partial, the per cell × family table) and the coverage."""
    expected = expected_graphs(runs)
    graphs = len(table[["cell", "family", "graph"]].drop_duplicates())
    if expected is None:
        return [f"{graphs} graphs trained.", ""], None
    coverage = coverage_table(table, expected)
    total = int(coverage["of"].sum())
    if graphs >= total:
        return [f"All {total} graphs of the study's graph file are in.", ""], coverage
    lines = [
        f"**{graphs} of the {total} graphs of the study's graph file are in** "
        f"({len(missing_pairs(coverage))} of {len(coverage)} cell × family pairs not yet started); "
        "every table below covers only the graphs trained so far.",
        "",
        *markdown_table(coverage),
        "",
    ]
    return lines, coverage
