"""Report of the ``controlled_pruning`` protocol: two pages from one study.

The main page (the lines this report returns, part of ``summary.md``) answers the Kalra question:
do the zero crossings of Δ tell when magnitude pruning breaks an RNN, better than a density-only
rule? (:mod:`~sparsernn.studies.reports.controlled_stopping`). The expansion-pruning page
(:data:`SUBPAGE`/``summary.md`` in the report folder, with its own figures) compares the criteria
at equal density and the sparse-from-scratch trainings
(:mod:`~sparsernn.studies.reports.controlled_expansion`). :func:`sparsernn.studies.publish.publish`
places that page in a sibling folder of the main one (``docs/results/expansion-pruning``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sparsernn._io import write_atomic
from sparsernn.prune.stopping import MIN_SEEDS
from sparsernn.studies.reports import controlled_controls as controls
from sparsernn.studies.reports import controlled_expansion as expansion
from sparsernn.studies.reports import controlled_figures as figures
from sparsernn.studies.reports import controlled_stopping as stopping
from sparsernn.studies.reports.controlled_paths import all_paths, with_run_keys
from sparsernn.studies.tables import glossary, markdown_table

SUBPAGE = "expansion-pruning"
N_BOOT = 2000


def compact_csv(frame: pd.DataFrame) -> bytes:
    """``frame`` as CSV with floats rounded to 4 significant digits.

    Examples
    --------
    >>> print(compact_csv(pd.DataFrame({"a": [1 / 3], "b": ["x"]})).decode().strip())
    a,b
    0.3333,x
    """
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            frame[column] = frame[column].map(lambda v: float(f"{v:.4g}") if pd.notna(v) else v)
    return frame.to_csv(index=False).encode()


def _images(paths: list[Path], text: str) -> list[str]:
    return [f"![{text} {p.stem}]({p.name})" for p in paths] + [""]


def _noisy_section(metrics: pd.DataFrame) -> list[str]:
    """Mean test accuracy under input noise by q (magnitude paths, mean over seeds)."""
    if "noise" not in metrics.columns:
        return []
    rows = metrics[
        (metrics["phase"] == "noisy") & (metrics["name"] == "accuracy") & (metrics["path"] == "magnitude")
    ]
    if rows.empty:
        return []
    rows = rows.assign(value=rows["value"].astype(float), dataset=rows["data.name"], cell=rows["model.cell"])
    pivot = rows.pivot_table(
        index=["dataset", "cell", "noise"], columns="level", values="value", aggfunc="mean"
    )
    pivot = pivot[sorted(pivot.columns, reverse=True)]
    pivot.columns = [f"q={100 * q:g}%" for q in pivot.columns]
    title = "#### Accuracy under input noise (magnitude paths, mean over seeds; rows: noise level)"
    return [title, "", *markdown_table(pivot.reset_index().round(3)), ""]


def _stopping_section(magnitude: dict, out: Path) -> tuple[list[str], list[str]]:
    """The generated reading with the verdicts at a glance, and the detailed tables per δ."""
    tables = [stopping.verdict_frame(magnitude, d, n_boot=N_BOOT) for d in stopping.DELTAS]
    write_atomic(out / "stopping_rules.csv", compact_csv(pd.concat(tables, ignore_index=True)))
    summary = ["#### Reading (generated from the tables below)", ""]
    for table in tables:
        summary += stopping.verdict_reading(table)
    summary += [
        "",
        "#### Verdicts at a glance (first layer to cross; δ = "
        + " / ".join(f"{d}" for d in stopping.DELTAS)
        + " points): does the expansion rule beat the density-only rule? "
        f"(`beats`, `worse`, `=` no difference, `?` no density-only baseline, `n<{MIN_SEEDS}` too few seeds)",
        "",
        *markdown_table(stopping.verdict_overview(tables)),
        "",
    ]
    details = []
    for delta, table in zip(stopping.DELTAS, tables, strict=True):
        details += [
            f"#### Stopping rules against the validation knee, δ = {delta} point{'s' * (delta != 1)}",
            "",
            "Error = flagged level − knee level (negative: the rule stops before the knee); mean over "
            "seeds [bootstrap 95 % CI]. `vs density-only`: paired mean of |error| − |error of the "
            "density-only rule|; the rule beats density-only only where this CI lies below 0, with at "
            f"least {MIN_SEEDS} seeds. A rule that never flags (`never flags`: how many seeds), and a "
            "knee never reached, count as one level past the sparsest. The validation rule is scored "
            "against the test knee. `all layers` rows are shown where they differ from `first layer` "
            "ones. Full table: `stopping_rules.csv`.",
            "",
            *markdown_table(stopping.verdict_markdown(table)),
            "",
        ]
    return summary, details


def _control_section(paths: dict) -> list[str]:
    if "random" not in paths:
        return []
    control = controls.control_frame(paths["magnitude"], paths["random"], n_boot=N_BOOT)
    if control.empty:
        return []
    return [
        "#### Control: magnitude against random pruning at the same per-layer density",
        "",
        "Validation knees (median q over seeds) and the levels by which magnitude keeps its accuracy "
        "longer than random (paired by seed, bootstrap 95 % CI).",
        "",
        *markdown_table(control),
        "",
    ]


def _spearman_section(paths: dict, out: Path) -> list[str]:
    table = controls.spearman_frame(paths, n_boot=N_BOOT)
    lines = ["#### Do Δ values rank the criteria at equal density?", ""]
    lines += controls.spearman_reading(table)
    if table.empty:
        return [*lines, ""]
    write_atomic(out / "criteria_spearman.csv", compact_csv(table))
    return [
        *lines,
        "",
        "Spearman ρ between a view's Δ (its weakest layer) and test accuracy across the criteria's "
        f"paths at each pruned level ({', '.join(paths)}); CI from resampling seeds. Per view: the "
        "mean ρ over the pruned levels, then how many levels have a CI above 0 (+) and below 0 (−). "
        "Full table: `criteria_spearman.csv`.",
        "",
        *markdown_table(controls.spearman_wide(table)),
        "",
    ]


def kalra_section(paths: dict, counts: str, metrics: pd.DataFrame, out: Path) -> list[str]:
    """The main page: figures, verdict tables, the random control, ranks across criteria, noise.

    ``counts`` is the :func:`counts_line` of every recorded path, complete or not.
    """
    magnitude = paths.get("magnitude", {})
    lines = ["### Kalra, controlled: does expansion tell when pruning breaks an RNN?", ""]
    lines += [counts, ""]
    if not magnitude:
        return [*lines, "No complete magnitude path yet: nothing to evaluate.", ""]
    summary, details = _stopping_section(magnitude, out)
    lines += summary
    lines += [
        "#### Test accuracy and Δ against the remaining weights (magnitude pruning)",
        "",
        "Mean over seeds with 95 % bands; Δ of a view is that of its weakest layer. Vertical lines: "
        "the first zero crossing of each view's Δ (median over seeds, drawn when at least half of "
        f"them cross) and the validation knee (δ = {figures.KNEE_DELTA} point, median over seeds).",
        "",
    ]
    lines += _images(figures.gap_figures(magnitude, out), "accuracy and Δ,")
    lines += details
    lines += _control_section(paths)
    lines += _spearman_section(paths, out)
    lines += _noisy_section(metrics)
    return lines


def counts_line(paths: dict, skipped: dict) -> str:
    """How many complete paths each criterion has, and how many were left out as incomplete."""
    parts = [
        f"{c}: {len(p)} complete paths" + (f" ({skipped[c]} incomplete, left out)" if skipped.get(c) else "")
        for c, p in paths.items()
    ]
    return "Paths per criterion — " + "; ".join(parts) + "."


def _accuracy_wide(table: pd.DataFrame) -> pd.DataFrame:
    """Rows dataset × cell × criterion, columns q: ``mean ± half-width`` of the 95 % interval; ``n``:
    the seeds averaged (a range where some level has fewer, e.g. a failed run).

    Examples
    --------
    >>> t = pd.DataFrame({"dataset": "x", "cell": "gru", "criterion": "magnitude", "q": [1.0, 0.5],
    ...                   "mean": [0.9, 0.8], "n": [5, 4], "ci95_low": [0.88, 0.7], "ci95_high": [0.92, 0.9]})
    >>> _accuracy_wide(t).to_dict("records")
    [{'dataset': 'x', 'cell': 'gru', 'criterion': 'magnitude', 'n': '4–5', '100%': '0.900 ± 0.020', '50%': '0.800 ± 0.100'}]
    """
    half = (table["ci95_high"] - table["ci95_low"]) / 2
    text = [
        f"{m:.3f}" + (f" ± {h:.3f}" if np.isfinite(h) else "")
        for m, h in zip(table["mean"], half, strict=True)
    ]
    wide = table.assign(text=text).pivot(index=["dataset", "cell", "criterion"], columns="q", values="text")
    wide = wide[sorted(wide.columns, reverse=True)]
    wide.columns = [f"{100 * q:g}%" for q in wide.columns]
    seeds = table.groupby(["dataset", "cell", "criterion"])["n"].agg(["min", "max"])
    wide.insert(0, "n", [f"{lo}" if lo == hi else f"{lo}–{hi}" for lo, hi in seeds.to_numpy()])
    return wide.reset_index()


def _diff_rows(diffs: pd.DataFrame) -> pd.DataFrame:
    """Paired differences where the CI excludes zero (either way)."""
    shown = diffs[diffs["verdict"].isin(["beats magnitude", "worse"])].copy()
    shown["q"] = shown["q"].map(lambda q: f"{100 * q:g}%")
    return shown[
        ["dataset", "cell", "criterion", "q", "n", "mean", "ci95_low", "ci95_high", "verdict"]
    ].round(2)


def _verdictcounts_line(diffs: pd.DataFrame) -> pd.DataFrame:
    counts = diffs.groupby(["dataset", "cell", "criterion", "verdict"]).size().unstack(fill_value=0)
    return counts.reset_index()


def expansion_page(paths: dict, metrics: pd.DataFrame, out: Path, *, counts: str | None = None) -> list[str]:
    """The expansion-pruning page (markdown lines); writes its figures and CSVs into ``out``.

    ``counts`` is the :func:`counts_line` of every recorded path (incomplete ones counted); by
    default that of ``paths``.
    """
    out.mkdir(parents=True, exist_ok=True)
    long = expansion.long_accuracy(paths)
    table = expansion.accuracy_table(long)
    diffs = expansion.versus_magnitude(long)
    within = expansion.within_table(paths)
    write_atomic(out / "accuracy.csv", compact_csv(table))
    lines = ["# Expansion-preserving pruning and expander wiring (controlled harness)", ""]
    counts = counts if counts is not None else counts_line(paths, {})
    failed = (
        "Failed runs are in no table here: the Kalra page lists them with their reasons, and "
        "`runs.csv` gives every run's `status`."
    )
    lines += [f"{counts} {failed}", "", "## Reading (generated from the tables below)", ""]
    scratch = expansion.scratch_comparison(expansion.scratch_frame(metrics), long)
    lines += [*expansion.expansion_reading(diffs, within), *expansion.scratch_reading(scratch[1]), ""]
    lines += ["## Test accuracy at each q (mean ± half-width of the 95 % t interval over seeds)", ""]
    lines += [*markdown_table(_accuracy_wide(table)), ""]
    lines += _images(figures.criteria_accuracy_figures(table, out), "accuracy by criterion,")
    gaps = figures.criteria_gap_frame(paths)
    if not gaps.empty:
        lines += ["## Δ of the weakest weight matrix by criterion", ""]
        lines += _images(figures.criteria_gap_figures(gaps, out), "Δ by criterion,")
    lines += _within_section(within)
    if not diffs.empty:
        write_atomic(out / "versus_magnitude.csv", compact_csv(diffs))
        lines += [
            "## Paired differences against magnitude (test accuracy, points; same seed = pair)",
            "",
            "Verdicts per dataset × cell × criterion (number of pruned levels; a criterion beats "
            "magnitude only where the 95 % t interval of the paired difference lies above 0):",
            "",
            *markdown_table(_verdictcounts_line(diffs)),
            "",
            "Levels where the interval excludes zero (full table: `versus_magnitude.csv`):",
            "",
            *markdown_table(_diff_rows(diffs)),
            "",
        ]
    lines += _scratch_section(*scratch, out)
    return lines + glossary(lines)


def _within_section(within: pd.DataFrame) -> list[str]:
    stats = expansion.accuracy_stats(within, ["dataset", "cell", "criterion"], "sparsity")
    test = expansion.accuracy_stats(within, ["dataset", "cell", "criterion"], "test")
    shown = stats[["dataset", "cell", "criterion", "n"]].assign(
        **{
            "sparsity (%)": [
                f"{100 * m:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
                for m, lo, hi in stats[["mean", "ci95_low", "ci95_high"]].itertuples(index=False)
            ],
            "test accuracy there": [
                f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
                for m, lo, hi in test[["mean", "ci95_low", "ci95_high"]].itertuples(index=False)
            ],
        }
    )
    lines = [
        "## Highest sparsity within one point of dense (chosen on validation accuracy, test accuracy reported)",
        "",
        *markdown_table(shown),
        "",
    ]
    paired = expansion.within_versus_magnitude(within)
    if not paired.empty:
        lines += ["Paired difference in that sparsity against magnitude (points, 95 % t interval):", ""]
        lines += [*markdown_table(paired.round(2)), ""]
    return lines


def _scratch_section(stats: pd.DataFrame, diffs: pd.DataFrame, out: Path) -> list[str]:
    if stats.empty:
        return []
    write_atomic(out / "scratch.csv", compact_csv(stats))
    lines = ["## Sparse from scratch (expander, Erdős–Rényi) against pruned magnitude at equal density", ""]
    lines += _images(figures.scratch_figures(stats, out), "scratch,")
    if not diffs.empty:
        shown = diffs.assign(q=diffs["q"].map(lambda q: f"{100 * q:g}%")).round(2)
        lines += ["Paired differences (test accuracy, points; same seed = pair; 95 % t interval):", ""]
        lines += [*markdown_table(shown), ""]
    return lines


def report(runs: pd.DataFrame, metrics: pd.DataFrame, out: Path) -> list[str]:
    """The Kalra page's lines; the expansion-pruning page is written to ``out/expansion-pruning``."""
    metrics = with_run_keys(metrics, runs)
    recorded, skipped = all_paths(metrics, runs)
    counts = counts_line(recorded, skipped)  # every criterion, even one with no complete path
    paths = {c: p for c, p in recorded.items() if p}
    lines = kalra_section(paths, counts, metrics, out)
    if paths:
        page = expansion_page(paths, metrics, out / SUBPAGE, counts=counts)
        write_atomic(out / SUBPAGE / "summary.md", "\n".join(page).encode())
        lines += [
            f"The criteria compared at equal density and the sparse-from-scratch trainings: [{SUBPAGE} page]({SUBPAGE}/summary.md).",
            "",
        ]
    return lines
