"""The documentation site: `make docs` builds it warning-free (every reference resolved), and a
reference to a name that does not exist fails the build."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# The public API of DESIGN section 2: each name has its own page with its own anchor.
PUBLIC = [
    "sparsernn.nn.SparseRNN",
    "sparsernn.nn.SparseLSTM",
    "sparsernn.nn.SparseGRU",
    "sparsernn.nn.GraphRNN",
    "sparsernn.nn.to_torch",
    "sparsernn.prune.magnitude",
    "sparsernn.prune.apply",
    "sparsernn.analysis.expansion",
    "sparsernn.analysis.layer_expansions",
    "sparsernn.graphs.properties",
    "sparsernn.graphs.watts_strogatz",
    "sparsernn.graphs.barabasi_albert",
    "sparsernn.graphs.erdos_renyi",
    "sparsernn.graphs.random_regular",
    "sparsernn.graphs.bipartite_expander",
    "sparsernn.data.reber.generate",
    "sparsernn.data.reber.is_valid",
    "sparsernn.data.reber.embedded",
    "sparsernn.data.reber.darji_strings",
    "sparsernn.data.sequential_mnist",
    "sparsernn.data.mnist1d",
    "sparsernn.data.cifar10",
    "sparsernn.data.speech_commands",
    "sparsernn.studies.run",
    "sparsernn.results.load",
    "sparsernn.results.load_metrics",
    "sparsernn.results.load_masks",
]
GUIDE = {
    "guide/installation.html": "download.pytorch.org/whl/cpu",
    "guide/quickstart.html": "sparsernn.prune.magnitude",
    "guide/own-training-loop.html": "sparsernn.nn.sparsify",
    "guide/expansion.html": "Ramanujan",
    "guide/graph-rnns.html": "sparsernn.nn.GraphRNN.from_graph",
    "guide/studies.html": "summary.json",
    "cluster.html": "Running a study on a Ray cluster",
    "streaming.html": "StreamingRNN",
    "architecture.html": "run_hash",
    "results/README.html": "docs/results/",
}


def sphinx(source: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``make docs``: HTML, warnings are errors (all reported), configuration from docs/."""
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "-c", str(DOCS)]
    return subprocess.run([*command, *extra, str(source), str(out)], capture_output=True, text=True, cwd=ROOT)


def test_unknown_reference_fails_the_build_and_known_ones_resolve(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "index.rst").write_text(
        "Site\n====\n\n"
        ".. autofunction:: sparsernn.prune.magnitude\n\n"
        # Where the function is defined: resolves to its public page.
        "Defined in :func:`sparsernn.prune.criteria.magnitude`.\n\n"
        # An internal helper that exists: shown without a link, not an error.
        "Helper :func:`sparsernn._seed.numpy_rng`.\n\n"
        # Renamed or never existed: must fail.
        "Gone :func:`sparsernn.prune.magnitude_v0`.\n"
    )
    result = sphinx(source, tmp_path / "html")
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert result.returncode != 0
    assert len(warnings) == 1, result.stderr
    assert "sparsernn.prune.magnitude_v0" in warnings[0]
    page = (tmp_path / "html" / "index.html").read_text()
    assert 'href="#sparsernn.prune.magnitude"' in page


@pytest.mark.slow
def test_site_builds_warning_free_with_every_public_name(tmp_path: Path) -> None:
    out = tmp_path / "html"
    result = sphinx(DOCS, out)
    assert result.returncode == 0, result.stderr[-5000:]
    for name in PUBLIC:
        page = out / "api" / "generated" / f"{name}.html"
        assert page.is_file(), name
        assert f'id="{name}"' in page.read_text(), name
    # Class pages document the class's own methods and properties.
    lstm = (out / "api" / "generated" / "sparsernn.nn.SparseLSTM.html").read_text()
    for member in ("set_mask", "density", "sparsity"):
        assert re.search(rf'id="sparsernn\.nn\.SparseLSTM\.{member}"', lstm), member
    for page, text in GUIDE.items():
        assert text in (out / page).read_text(), page
    index = (out / "index.html").read_text()
    assert "api/index.html" in index and "guide/installation.html" in index


def test_bars_in_docstrings_read_as_written_outside_literals() -> None:
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        from public_names import _escape_docstring_bars
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    lines = [
        "Output (B, T, |last layer|) for ``|w|`` and :math:`|x|`; |W ⊙ M| too.",
        ">>> abs(-1) if |y| else 0",
        "|z|",
        "",
        "Example::",
        "",
        "    |kept|",
        "after |x|",
    ]
    _escape_docstring_bars(None, "function", "f", None, None, lines)
    assert lines == [
        r"Output (B, T, \|last layer\|) for ``|w|`` and :math:`|x|`; \|W ⊙ M\| too.",
        ">>> abs(-1) if |y| else 0",
        "|z|",
        "",
        "Example::",
        "",
        "    |kept|",
        r"after \|x\|",
    ]
