"""Publish a study's report into the repository: ``summary.md``, small PNG figures, a compact CSV of runs.

``sparsernn report RESULTS --study S --publish docs/results/S`` writes the report, then
:func:`publish` copies it into the folder: ``summary.md``, every PNG figure (downscaled when larger
than :data:`MAX_FIGURE_BYTES`) and ``runs.csv`` (one row per run: status, the config values and the
summary scalars, floats rounded to 4 significant digits; no weights, no paths). The folder is
built beside the old one and swapped in, so a reader sees the old publication or the new one, never
a mix. A publication that would bring the publications beside it (the sub-folders of its parent,
e.g. ``docs/results``, that hold a ``summary.md``) above :data:`MAX_PUBLISHED_BYTES` is refused
before anything changes, and so is a destination that exists but is not an earlier publication (a
folder with sub-folders or with other files than ``*.md``, ``*.png``, ``*.csv``: the results folder,
``docs/results`` itself, a source tree) or that is the results folder or lies inside it.

A report may write *sub-pages*: folders of the report holding their own ``summary.md`` (with
their figures), e.g. the ``controlled_pruning`` report's ``expansion-pruning/``. Each is published
as a sibling of the main folder (``docs/results/expansion-pruning``) with the same ``runs.csv``, and
the main page's links to it are rewritten to point there. CSV tables a report writes next to a page
(``*.csv``) are published with it.
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
#: What a publication holds; a folder with anything else (or with sub-folders) is not one.
PUBLISHED_SUFFIXES = (".md", ".png", ".csv")
SIGNIFICANT = 4


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def published_bytes(root: Path, skip: Path | None = None) -> int:
    """Bytes of the publications under ``root``: its sub-folders holding a ``summary.md`` (``skip`` left out).

    Anything else beside them (``/tmp``'s other files, say) is not a publication and does not count.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()); (root / "a").mkdir(); (root / "junk").mkdir()
    >>> _ = (root / "a" / "summary.md").write_text("# a"); _ = (root / "junk" / "x").write_text("12345")
    >>> published_bytes(root), published_bytes(root, skip=root / "a")
    (3, 0)
    """
    if not root.is_dir():
        return 0
    pages = [p for p in root.iterdir() if p.is_dir() and (p / "summary.md").is_file() and p != skip]
    return sum(_folder_bytes(p) for p in pages)


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


def check_destination(dest: Path, results: Path | None = None) -> None:
    """Raise DataError unless ``dest`` may be (re)placed by a publication: absent, or an earlier one
    (no sub-folders, only ``*.md``/``*.png``/``*.csv`` files), and neither the working folder nor, when
    given, the ``results`` folder or a folder inside it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()); (root / "src").mkdir(); _ = (root / "src" / "a.py").write_text("")
    >>> check_destination(root / "new")
    >>> check_destination(root / "src")
    Traceback (most recent call last):
    sparsernn.errors.DataError: cannot publish to .../src: it holds a.py, which is no part of a publication (only *.md, *.png and *.csv files); expected a new folder or an earlier publication
    """
    resolved = dest.resolve()
    if resolved == Path.cwd().resolve() or resolved in Path.cwd().resolve().parents:
        raise DataError(
            f"cannot publish to {dest}: it is the working folder or holds it; expected a sub-folder"
        )
    if results is not None and (resolved == results.resolve() or results.resolve() in resolved.parents):
        raise DataError(
            f"cannot publish to {dest}: it is the results folder {results} or lies inside it; expected a folder elsewhere"
        )
    if not dest.exists():
        return
    if not dest.is_dir():
        raise DataError(f"cannot publish to {dest}: it is a file; expected a folder")
    foreign = next(
        (p for p in sorted(dest.iterdir()) if p.is_dir() or p.suffix not in PUBLISHED_SUFFIXES), None
    )
    if foreign is not None:
        what = f"the folder {foreign.name}" if foreign.is_dir() else foreign.name
        raise DataError(
            f"cannot publish to {dest}: it holds {what}, which is no part of a publication (only *.md, *.png "
            "and *.csv files); expected a new folder or an earlier publication"
        )


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
        When ``report`` holds no ``summary.md``, a destination is not a publication
        (:func:`check_destination`), or the publication root would exceed 5 MB.

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
    pages = _pages(report, dest, compact_runs(runs))
    for folder in pages:
        check_destination(folder)
    root = dest.parent
    replaced = sum(published_bytes(root) - published_bytes(root, skip=folder) for folder in pages)
    new = sum(len(b) for files in pages.values() for b in files.values())
    total = published_bytes(root) - replaced + new
    if total > MAX_PUBLISHED_BYTES:
        raise DataError(
            f"publication refused: {root} would hold {total / 1e6:.1f} MB; expected at most "
            f"{MAX_PUBLISHED_BYTES / 1e6:g} MB"
        )
    root.mkdir(parents=True, exist_ok=True)
    for folder, files in pages.items():
        _place(files, folder)
    return dest


def sub_pages(report: Path) -> list[Path]:
    """The folders of ``report`` holding a ``summary.md`` of their own (sub-pages), sorted."""
    return sorted(p for p in report.iterdir() if p.is_dir() and (p / "summary.md").is_file())


def _page_files(folder: Path, runs_csv: bytes) -> dict[str, bytes]:
    """A page's files: its summary, the runs' CSV, the CSV tables it wrote, its (small) figures."""
    files = {"summary.md": (folder / "summary.md").read_bytes(), "runs.csv": runs_csv}
    files |= {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv")) if p.name != "runs.csv"}
    return files | {p.name: small_png(p) for p in sorted(folder.glob("*.png"))}


def _pages(report: Path, dest: Path, runs_csv: bytes) -> dict[Path, dict[str, bytes]]:
    """Published folder → its files: the main page at ``dest``, each sub-page beside it.

    Links of the main page to a sub-page (``](name/...``) are rewritten to its place (``](../name/...``).
    """
    pages = {dest: _page_files(report, runs_csv)}
    for sub in sub_pages(report):
        if sub.name == dest.name:
            raise DataError(
                f"cannot publish to {dest}: the report's sub-page {sub.name!r} goes to a sibling folder "
                "of that name; expected another destination"
            )
        pages[dest.parent / sub.name] = _page_files(sub, runs_csv)
        main = pages[dest]["summary.md"]
        pages[dest]["summary.md"] = main.replace(f"]({sub.name}/".encode(), f"](../{sub.name}/".encode())
    return pages


def _place(files: dict[str, bytes], dest: Path) -> None:
    """Write ``files`` into a folder staged beside ``dest`` and swap it in."""
    staged = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.new."))
    try:
        staged.chmod(0o755)  # a normal folder once in place (mkdtemp makes it private)
        for name, data in files.items():
            (staged / name).write_bytes(data)
        _swap(staged, dest)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def without_folder(text: str, results: str | Path) -> str:
    """``text`` with the results folder's path (machine-specific) shortened to its name.

    Examples
    --------
    >>> without_folder("Results folder: `/home/me/runs`, 3 runs", "/home/me/runs")
    'Results folder: `runs`, 3 runs'
    """
    folder = str(results)
    return text.replace(f"`{folder}`", f"`{Path(folder).name or folder}`")


def publish_report(results: str | Path, dest: str | Path, *, study: str | None = None) -> Path:
    """Write the report of ``results`` (one ``study`` or all) in a fresh folder and :func:`publish` it."""
    check_destination(Path(dest), Path(results))  # before the report is computed
    with tempfile.TemporaryDirectory(prefix="sparsernn-report-") as tmp:
        summary = write_report(results, Path(tmp), study=study)
        summary.write_text(without_folder(summary.read_text(), Path(results)))
        runs = load(results)
        if study is not None:
            runs = runs[runs["study"] == study]
        return publish(summary.parent, runs, dest)
