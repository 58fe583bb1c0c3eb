"""Publish a study's report into the repository: ``summary.md``, small PNG figures, a compact CSV of runs.

``sparsernn report RESULTS --study S --publish docs/results/S`` writes the report, then
:func:`publish` copies it into the folder: ``summary.md``, every PNG figure (downscaled when larger
than :data:`MAX_FIGURE_BYTES`) and ``runs.csv`` (one row per run: status, the config values and the
summary scalars, floats rounded to 4 significant digits; no weights, no paths). The folder is
built beside the old one and swapped in, so a reader sees the old publication or the new one, never
a mix. A publication that would bring the publication root (the folder's parent, e.g.
``docs/results``) above :data:`MAX_PUBLISHED_BYTES` is refused before anything changes.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from PIL import Image

from sparsernn.errors import DataError
from sparsernn.results import load
from sparsernn.studies.report import write_report

MAX_PUBLISHED_BYTES = 5_000_000
MAX_FIGURE_BYTES = 300_000
DROPPED = ("path",)  # machine-specific
SIGNIFICANT = 4


def _folder_bytes(folder: Path, skip: Path | None = None) -> int:
    if not folder.is_dir():
        return 0
    files = (p for p in folder.rglob("*") if p.is_file())
    return sum(p.stat().st_size for p in files if skip is None or skip not in p.parents)


def compact_runs(runs: pd.DataFrame) -> bytes:
    """The CSV of ``runs``: scalars only, floats rounded to 4 significant digits, sorted by run.

    Examples
    --------
    >>> runs = pd.DataFrame({"run": ["b", "a"], "path": ["/x", "/y"], "acc": [0.123456, 1 / 3]})
    >>> print(compact_runs(runs).decode().strip())
    run,acc
    a,0.3333
    b,0.1235
    """
    frame = runs.drop(columns=[c for c in DROPPED if c in runs]).sort_values("run")
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_float_dtype(values):
            frame[column] = values.map(lambda v: float(f"{v:.{SIGNIFICANT}g}") if pd.notna(v) else v)
        elif values.map(lambda v: isinstance(v, dict | list)).any():
            frame[column] = values.map(str)
    return frame.to_csv(index=False).encode()


def small_png(path: Path, limit: int = MAX_FIGURE_BYTES) -> bytes:
    """The PNG at ``path``, halved in size until it is at most ``limit`` bytes (or 200 px wide)."""
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        while len(data) > limit and image.width > 200:
            image = image.resize((image.width // 2, image.height // 2), Image.LANCZOS)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
            data = buffer.getvalue()
    return data


def _swap(staged: Path, dest: Path) -> None:
    """Replace ``dest`` by ``staged`` with two renames (the old folder removed after)."""
    old = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.old."))
        dest.rename(old / dest.name)
    staged.rename(dest)
    if old is not None:
        shutil.rmtree(old)


def publish(report: str | Path, runs: pd.DataFrame, dest: str | Path) -> Path:
    """Copy the report in folder ``report`` and the CSV of ``runs`` into ``dest`` (see module docstring).

    Raises
    ------
    DataError
        When ``report`` holds no ``summary.md``, or the publication root would exceed 5 MB.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp()); _ = (tmp / "summary.md").write_text("# hi")
    >>> out = publish(tmp, pd.DataFrame({"run": ["a"]}), tmp / "results" / "s")
    >>> sorted(p.name for p in out.iterdir())
    ['runs.csv', 'summary.md']
    """
    report, dest = Path(report), Path(dest)
    if not (report / "summary.md").is_file():
        raise DataError(f"no summary.md in {report}; expected a written report")
    files = {"summary.md": (report / "summary.md").read_bytes(), "runs.csv": compact_runs(runs)}
    files |= {p.name: small_png(p) for p in sorted(report.glob("*.png"))}
    root = dest.parent
    total = _folder_bytes(root, skip=dest) + sum(len(b) for b in files.values())
    if total > MAX_PUBLISHED_BYTES:
        raise DataError(
            f"publication refused: {root} would hold {total / 1e6:.1f} MB; expected at most "
            f"{MAX_PUBLISHED_BYTES / 1e6:g} MB"
        )
    root.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(dir=root, prefix=f".{dest.name}.new."))
    try:
        staged.chmod(0o755)  # a normal folder once in place (mkdtemp makes it private)
        for name, data in files.items():
            (staged / name).write_bytes(data)
        _swap(staged, dest)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return dest


def publish_report(results: str | Path, dest: str | Path, *, study: str | None = None) -> Path:
    """Write the report of ``results`` (one ``study`` or all) in a fresh folder and :func:`publish` it."""
    with tempfile.TemporaryDirectory(prefix="sparsernn-report-") as tmp:
        summary = write_report(results, Path(tmp), study=study)
        runs = load(results)
        if study is not None:
            runs = runs[runs["study"] == study]
        return publish(summary.parent, runs, dest)
