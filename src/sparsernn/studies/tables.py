"""Markdown tables for reports (no extra dependency)."""

from __future__ import annotations

import pandas as pd


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(frame: pd.DataFrame) -> list[str]:
    """``frame`` as GitHub-flavoured markdown lines.

    Examples
    --------
    >>> markdown_table(pd.DataFrame({"a": [1], "b": [0.5]}))
    ['| a | b |', '| --- | --- |', '| 1 | 0.5 |']
    """
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return [header, rule, *body]
