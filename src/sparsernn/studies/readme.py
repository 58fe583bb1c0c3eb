"""The README's "Results" section, generated from the published pages under ``docs/results/``.

Each study's page (``docs/results/<study>/summary.md``, written by ``sparsernn report RESULTS
--study S --publish docs/results/S``) marks its headline lines (:mod:`sparsernn.studies.headline`):
the tables against the original studies. This module puts them, with a link to each page and its
``runs.csv``, under a "## Results" heading between two marker comments of the README, so the
section is regenerated, never edited by hand::

    python -m sparsernn.studies.readme                 # rewrite README.md from docs/results/
    python -m sparsernn.studies.readme --check         # exit 1 when README.md is out of date

Everything outside the markers is left as it is; a README without them is an error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sparsernn._io import write_atomic
from sparsernn.errors import DataError
from sparsernn.studies.headline import headlines

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"
INTRO = (
    "Generated from the published pages under `{pages}/` by `python -m sparsernn.studies.readme`; "
    "each page is written by `sparsernn report RESULTS --study STUDY --publish {pages}/STUDY`."
)


def _studies(text: str) -> list[str]:
    """The ``## Study ...`` titles of a report (name, protocol, run counts)."""
    return [
        line.removeprefix("## Study ").strip() for line in text.splitlines() if line.startswith("## Study ")
    ]


def _page(folder: Path, link: str) -> list[str]:
    text = (folder / "summary.md").read_text(encoding="utf-8")
    lines = [f"### {folder.name}", ""]
    titles = [f"Study {title}." for title in _studies(text)]
    lines += [*titles, ""] if titles else []  # a sub-page has no study title of its own
    for block in headlines(text):
        lines += [*block, ""]
    files = f"[full page]({link}/summary.md)"
    if (folder / "runs.csv").is_file():
        files += f" · [runs.csv]({link}/runs.csv)"
    return [*lines, files, ""]


def results_section(pages: str | Path, links: str = "docs/results") -> list[str]:
    """The section's lines: per published page (a sub-folder of ``pages`` with a ``summary.md``), its
    headline blocks and links (``links``: the path from the README to ``pages``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> pages = pathlib.Path(tempfile.mkdtemp()); (pages / "s").mkdir()
    >>> _ = (pages / "s" / "summary.md").write_text("<!-- headline -->\\n| a |\\n<!-- /headline -->\\n")
    >>> results_section(pages)[4:]
    ['### s', '', '| a |', '', '[full page](docs/results/s/summary.md)', '']
    """
    pages = Path(pages)
    folders = sorted(p for p in pages.iterdir() if (p / "summary.md").is_file()) if pages.is_dir() else []
    lines = ["## Results", "", INTRO.format(pages=links), ""]
    if not folders:
        return [*lines, "No study is published yet.", ""]
    for folder in folders:
        lines += _page(folder, f"{links}/{folder.name}")
    return lines


def with_results(readme: str, section: Sequence[str]) -> str:
    """``readme`` with the lines between :data:`BEGIN` and :data:`END` replaced by ``section``.

    Examples
    --------
    >>> with_results("# x\\n<!-- results:begin -->\\nold\\n<!-- results:end -->\\nend\\n", ["new"])
    '# x\\n<!-- results:begin -->\\nnew\\n<!-- results:end -->\\nend\\n'
    """
    start, stop = readme.find(BEGIN), readme.find(END)
    if start < 0 or stop < 0 or stop < start or readme.count(BEGIN) != 1 or readme.count(END) != 1:
        raise DataError(
            f"the README needs one {BEGIN} line followed by one {END} line around its Results section"
        )
    head, tail = readme[: start + len(BEGIN)], readme[stop:]
    return head + "\n" + "\n".join(section).rstrip("\n") + "\n" + tail


def regenerated(readme: str | Path = "README.md", pages: str | Path = "docs/results") -> tuple[str, str]:
    """The text of ``readme`` and the text it gets with its Results section built from ``pages``."""
    readme, pages = Path(readme), Path(pages)
    old = readme.read_text(encoding="utf-8")
    links = Path(os.path.relpath(pages.resolve(), readme.resolve().parent)).as_posix()
    return old, with_results(old, results_section(pages, links))


def update_readme(readme: str | Path = "README.md", pages: str | Path = "docs/results") -> bool:
    """Rewrite the Results section of ``readme`` from ``pages``; return whether the file changed."""
    old, new = regenerated(readme, pages)
    if new != old:
        write_atomic(Path(readme), new.encode("utf-8"))
    return new != old


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sparsernn.studies.readme [--readme README.md] [--pages docs/results] [--check]``."""
    parser = argparse.ArgumentParser(
        prog="python -m sparsernn.studies.readme", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--readme", default="README.md")
    parser.add_argument("--pages", default="docs/results")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when out of date")
    args = parser.parse_args(argv)
    try:
        if args.check:
            old, new = regenerated(args.readme, args.pages)
            print(f"{args.readme}: Results section {'up to date' if old == new else 'out of date'}")
            return 0 if old == new else 1
        changed = update_readme(args.readme, args.pages)
    except (DataError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.readme}: Results section {'rewritten' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
