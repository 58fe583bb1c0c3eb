"""``sparsernn report``: figures and ``summary.md`` for every study in a results folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sparsernn._io import write_atomic
from sparsernn.errors import DataError
from sparsernn.plots import plot_training_curves
from sparsernn.results import load, load_metrics
from sparsernn.studies.recipe_coverage import coverage_lines, plan_of
from sparsernn.studies.registry import get_protocol, with_default_params
from sparsernn.studies.tables import (
    IN_PLAN,
    PLANNED_RUNS,
    STATS,
    glossary,
    markdown_table,
    seed_stats,
    sweep_labels,
    varying_columns,
    with_defaults,
)

OVERVIEW = ["seed", "status", "model.cell", "wall_s", "resumed_s"]  # resumed_s: only where a run resumed
SCORES = ["base_accuracy", "dense_accuracy", "test_accuracy", "final_accuracy", "density", "final_density"]
TRAINING_PHASES = ("dense", "base", "finetune")  # one model trained through consecutive epochs
_with_defaults = with_defaults  # the names the tests of this module know
_varying = varying_columns


def _overview(runs: pd.DataFrame) -> list[str]:
    """One row per run, named by its swept values and seed (never by its hash); failed runs listed."""
    varying = _varying(runs)
    columns = [c for c in [*OVERVIEW, *varying, *SCORES] if c in runs.columns and runs[c].notna().any()]
    columns = list(dict.fromkeys(columns))
    shown = runs.sort_values([c for c in [*varying, "seed"] if c in runs.columns] or "run", key=_sortable)
    shown = shown[columns].copy()
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
    labels = sweep_labels(runs)
    for row in failed.to_dict("records"):
        reason = str(row.get("reason") or "").strip() or "(no reason recorded)"
        lines.append(f"- failed run {labels[row['run']]}, seed {row.get('seed')}: {reason.splitlines()[0]}")
    return lines


def _sortable(column: pd.Series) -> pd.Series:
    """Numbers in numeric order (a default first), anything else as text."""
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().sum() == column.notna().sum():
        return numbers.fillna(-float("inf"))
    return _with_defaults(column).map(str)


def _seed_section(runs: pd.DataFrame) -> list[str]:
    """Scores aggregated over the seeds of each config (mean, std, n, 95 % CI), when a config has several."""
    if "hash" not in runs or runs.groupby("hash")["run"].count().max() < 2:
        return []
    labelled = runs.assign(config=runs["run"].map(sweep_labels(runs)))
    scores = [
        c for c in SCORES if c in runs and pd.api.types.is_numeric_dtype(runs[c]) and runs[c].notna().any()
    ]
    if not scores:
        return []
    tables = [seed_stats(labelled, ["config"], score).assign(score=score) for score in scores]
    table = pd.concat(tables, ignore_index=True)[["config", "score", *STATS]]
    return ["", "### Scores over seeds (mean, std, n, 95 % t interval)", "", *markdown_table(table), ""]


def _training_figure(runs: pd.DataFrame, metrics: pd.DataFrame, path: Path) -> Path | None:
    """Test accuracy per epoch, mean ± 95 % band over the seeds of each config, lines named by swept values."""
    phase = metrics.get("phase", pd.Series("dense", index=metrics.index))
    acc = metrics[(metrics["name"] == "accuracy") & metrics["epoch"].notna() & phase.isin(TRAINING_PHASES)]
    if acc.empty:
        return None  # nothing trained epoch by epoch (e.g. a protocol with its own figures)
    acc = acc.assign(
        label=acc["run"].map(sweep_labels(runs)),
        step=acc.groupby("run").cumcount() + 1,  # the phases one after the other
        value=acc["value"].astype(float),
    )
    return plot_training_curves(seed_stats(acc, ["label", "step"]), path)


def _study_section(study: str, runs: pd.DataFrame, metrics: pd.DataFrame, out: Path) -> list[str]:
    protocols = sorted(runs["protocol"].astype(str).unique())
    if len(protocols) > 1:  # a study name used again: no protocol's report can read the other's runs
        shown = ", ".join(f"`{p}`" for p in protocols)
        lines = [f"## Study `{study}` — protocols {shown}, {_counts(runs)}", ""]
        lines += [
            f"**This study holds runs of {len(protocols)} protocols ({shown})**: its tables and figures are "
            "left out. Move one protocol's runs to a study of their own (rerun its recipe with another "
            "`study` name) to report them.",
            "",
        ]
        return lines + _overview(runs)
    protocol = protocols[0]
    lines = [f"## Study `{study}` — protocol `{protocol}`, {_counts(runs)}", ""]
    planned = plan_of(study)
    lines += coverage_lines(study, runs, planned)
    lines += _overview(runs)
    ok = runs[runs["status"] == "ok"]
    lines += _seed_section(ok)
    if planned is not None:  # a protocol's report may say how much of the study its tables cover
        ok = ok.assign(**{PLANNED_RUNS: len(planned), IN_PLAN: ok["run"].isin(planned["run"])})
    mine = metrics[metrics["run"].isin(runs["run"]) & (metrics["study"] == study)]
    if "epoch" in mine.columns and not mine.empty and not ok.empty:
        path = _training_figure(ok, mine[mine["run"].isin(ok["run"])], out / f"training_{study}.png")
        if path is not None:
            lines += ["", f"![training curves of {study}]({path.name})", ""]
    reporter = get_protocol(protocol).report
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
    if runs.empty:
        raise DataError(f"no finished runs under {root}")
    if study is not None:
        studies = sorted(runs["study"].unique())
        if study not in studies:
            raise DataError(f"no study {study!r} in {root}; studies: {', '.join(studies)}")
        runs = runs[runs["study"] == study]
    metrics = load_metrics(root)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# sparsernn report", "", f"Results folder: `{root}`, {_counts(runs)}.", ""]
    for study, group in runs.groupby("study", sort=True):
        lines += _study_section(str(study), group, metrics, out)
        lines.append("")
    lines += glossary(lines)
    path = out / "summary.md"
    write_atomic(path, "\n".join(lines).encode())
    return path
