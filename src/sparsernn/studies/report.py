"""``sparsernn report``: figures and ``summary.md`` for every study in a results folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sparsernn._io import write_atomic
from sparsernn.errors import DataError
from sparsernn.plots import plot_training_curves
from sparsernn.results import load, load_metrics
from sparsernn.studies.registry import get_protocol, with_default_params
from sparsernn.studies.tables import markdown_table

OVERVIEW = ["run", "status", "model.cell", "wall_s"]
DEFAULT = "(default)"
SCORES = ["base_accuracy", "dense_accuracy", "test_accuracy", "final_accuracy", "density", "final_density"]


def _with_defaults(column: pd.Series) -> pd.Series:
    """``column`` with each value a config left out (NaN or None) named ``(default)``."""
    return column.astype(object).fillna(DEFAULT)


def _varying(runs: pd.DataFrame) -> list[str]:
    """Config columns whose value differs between runs (what a sweep changed).

    A value a config leaves out (the default) counts as one more value: a sweep over ``[default, other]``
    varies its column although half its runs do not name it. A bare section column (``params`` holding ``{}``
    where a run sets no parameter, next to ``params.family``) is not a value of its own.
    """
    names = list(runs.columns)
    config = [
        c
        for c in names
        if c.split(".")[0] in ("data", "model", "train", "params")
        and not any(o.startswith(f"{c}.") for o in names)
    ]
    return [c for c in config if _with_defaults(runs[c]).map(str).nunique() > 1]


def _overview(runs: pd.DataFrame) -> list[str]:
    varying = _varying(runs)
    columns = [c for c in [*OVERVIEW, *varying, *SCORES] if c in runs.columns and runs[c].notna().any()]
    columns = list(dict.fromkeys(columns))
    shown = runs.sort_values("run")[columns].copy()
    for c in set(varying) & set(columns):
        shown[c] = _with_defaults(shown[c])
    lines = markdown_table(shown)
    failed = runs[runs["status"] == "failed"]
    if not failed.empty:
        lines += [
            "",
            f"Failed runs ({len(failed)}; rerun them with `sparsernn run RECIPE --retry-failed`):",
            "",
        ]
    for row in failed.to_dict("records"):
        reason = str(row.get("reason") or "").strip() or "(no reason recorded)"
        lines.append(f"- failed run {row['run']}: {reason.splitlines()[0]}")
    return lines


def _study_section(study: str, runs: pd.DataFrame, metrics: pd.DataFrame, out: Path) -> list[str]:
    protocol = str(runs["protocol"].iloc[0])
    lines = [f"## Study `{study}` — protocol `{protocol}`, {_counts(runs)}", ""]
    lines += _overview(runs)
    mine = metrics[metrics["run"].isin(runs["run"]) & (metrics["study"] == study)]
    if "epoch" in mine.columns and not mine.empty:
        labels = {r["run"]: f"{r.get('model.cell', '')} {r['run']}" for r in runs.to_dict("records")}
        path = plot_training_curves(mine, labels, out / f"training_{study}.png")
        if path is not None:
            lines += ["", f"![training curves of {study}]({path.name})", ""]
    reporter = get_protocol(protocol).report
    ok = runs[runs["status"] == "ok"]
    if reporter is not None and not ok.empty:
        lines += reporter(ok, mine[mine["run"].isin(ok["run"])], out)
    return lines


def _counts(runs: pd.DataFrame) -> str:
    """``"3 complete runs, 1 failed run"``: failed runs are never counted as complete."""
    failed = int((runs["status"] == "failed").sum())
    complete = len(runs) - failed
    return f"{complete} complete run{'s' * (complete != 1)}, {failed} failed run{'s' * (failed != 1)}"


def write_report(root: str | Path, out: str | Path | None = None, *, study: str | None = None) -> Path:
    """Write figures and ``summary.md`` for the runs under ``root``; return the summary's path.

    Complete runs feed the tables and figures; failed runs are counted apart and listed with their
    reasons. ``study`` restricts the report to one study; ``out`` defaults to ``<root>/report``.
    """
    root = Path(root)
    out = Path(out) if out is not None else root / "report"
    runs = load(root)
    if not runs.empty:
        runs = with_default_params(runs)  # run folders written before config.json held every parameter
    if study is not None and not runs.empty:
        runs = runs[runs["study"] == study]
    if runs.empty:
        raise DataError(f"no finished runs under {root}" + (f" for study {study!r}" if study else ""))
    metrics = load_metrics(root)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# sparsernn report", "", f"Results folder: `{root}`, {_counts(runs)}.", ""]
    for study, group in runs.groupby("study", sort=True):
        lines += _study_section(str(study), group, metrics, out)
        lines.append("")
    path = out / "summary.md"
    write_atomic(path, "\n".join(lines).encode())
    return path
