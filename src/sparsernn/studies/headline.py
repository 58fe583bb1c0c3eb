"""Headline tables: the parts of a report that the README's "Results" section shows.

A report marks its headline lines (a sentence, a table against the original study) with two HTML
comments, invisible on the rendered page; :mod:`sparsernn.studies.readme` collects the marked lines
of every published page. A page without marks gets only a link.
"""

from __future__ import annotations

from collections.abc import Sequence

START = "<!-- headline -->"
END = "<!-- /headline -->"


def headline(lines: Sequence[str]) -> list[str]:
    """``lines`` between the headline marks.

    Examples
    --------
    >>> headline(["| a |", "| --- |"])
    ['<!-- headline -->', '| a |', '| --- |', '<!-- /headline -->']
    """
    return [START, *lines, END]


def headlines(text: str) -> list[list[str]]:
    """Every marked block of ``text``, in order (an unclosed block runs to the end).

    Examples
    --------
    >>> headlines("intro\\n<!-- headline -->\\n| a |\\n<!-- /headline -->\\nrest")
    [['| a |']]
    """
    blocks: list[list[str]] = []
    inside = False
    for line in text.splitlines():
        if line.strip() == START:
            blocks.append([])
            inside = True
        elif line.strip() == END:
            inside = False
        elif inside:
            blocks[-1].append(line)
    return blocks
