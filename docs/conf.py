"""Sphinx configuration of the sparsernn documentation (``make docs``; CI builds it with ``-W``).

Sphinx with numpydoc, not MkDocs: the docstrings are numpydoc, and numpydoc is the reference parser
of that format (the one NumPy, SciPy, networkx and scikit-learn build with); autosummary gives every
public name its own page from the packages' ``__all__``; ``nitpicky`` makes every cross-reference
that does not resolve an error. The build is offline: no intersphinx inventories are fetched, so
references into other projects (torch, NumPy, pandas, ...) are accepted by name (``nitpick_ignore_regex``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "_ext"))  # public_names: this site's small Sphinx extension
sys.path.insert(0, str(ROOT.parent / "src"))

from public_names import api_context  # noqa: E402

import sparsernn  # noqa: E402

project = "sparsernn"
author = "the sparsernn authors"
copyright = "the sparsernn authors"
release = version = sparsernn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "public_names",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_templates"]
templates_path = ["_templates"]
html_theme = "alabaster"
html_title = f"sparsernn {release}"
html_static_path: list[str] = []

# Every reference must resolve; what cannot resolve offline is another project's name.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|numpy|pandas|networkx|scipy|matplotlib|igraph)\..*"),
    (r"py:.*", r"(collections\.abc|typing|pathlib)\..*"),
]

# The API pages: generated from the packages' ``__all__`` (see public_packages below).
autosummary_generate = True
autosummary_ignore_module_all = False
autosummary_imported_members = False
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
python_use_unqualified_type_names = True

numpydoc_show_class_members = False  # autosummary lists the members; numpydoc would list them twice
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

# The public packages; api/index.rst lists the same.
public_packages = [
    "sparsernn.nn",
    "sparsernn.prune",
    "sparsernn.analysis",
    "sparsernn.graphs",
    "sparsernn.data",
    "sparsernn.data.reber",
    "sparsernn.studies",
    "sparsernn.results",
    "sparsernn.plots",
    "sparsernn.train",
    "sparsernn.errors",
]

# What each package page lists (classes, functions, submodules, constants with their ``#:`` text).
autosummary_context = {"api": api_context(public_packages)}


def _list_published_results(app, docname: str, source: list[str]) -> None:
    """Append a table of contents of the study reports published under docs/results/ to its index."""
    if docname != "results/README":
        return
    pages = sorted(
        path.relative_to(ROOT / "results").with_suffix("").as_posix()
        for path in (ROOT / "results").glob("*/**/*.md")
    )
    if pages:
        source[0] += (
            "\n```{toctree}\n:maxdepth: 1\n:caption: Published studies\n\n" + "\n".join(pages) + "\n```\n"
        )


def _remove_stale_api_pages(app) -> None:
    """autosummary rewrites the API pages on every build but never deletes one: start afresh, so that a
    name taken out of an ``__all__`` leaves no orphan page behind."""
    if Path(app.srcdir).resolve() == ROOT:
        shutil.rmtree(ROOT / "api" / "generated", ignore_errors=True)


def setup(app) -> None:
    app.connect("builder-inited", _remove_stale_api_pages, priority=100)  # before autosummary (500)
    app.connect("source-read", _list_published_results)
