"""Report of the ``controlled_pruning`` protocol: two pages from one study.

The main page (the lines this report returns, part of ``summary.md``) answers the Kalra question:
do the zero crossings of Δ tell when magnitude pruning breaks an RNN, better than a density-only
rule? (:mod:`~sparsernn.studies.reports.controlled_stopping`). The expansion-pruning page
(:data:`SUBPAGE`/``summary.md`` in the report folder, with its own figures) compares the criteria
at equal density and the sparse-from-scratch trainings
(:mod:`~sparsernn.studies.reports.controlled_expansion`); accuracy under input noise, per criterion on
the main page and for the scratch models on the sub-page, comes from
:mod:`~sparsernn.studies.reports.controlled_noise`. :func:`sparsernn.studies.publish.publish`
places the sub-page in a sibling folder of the main one (``docs/results/expansion-pruning``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sparsernn._io import write_atomic
from sparsernn.prune.stopping import MIN_SEEDS
from sparsernn.studies.headline import headline
from sparsernn.studies.reports import controlled_controls as controls
from sparsernn.studies.reports import controlled_figures as figures
from sparsernn.studies.reports import controlled_noise as noise
from sparsernn.studies.reports import controlled_stopping as stopping
from sparsernn.studies.reports.controlled_page import compact_csv, counts_line, expansion_page, images
from sparsernn.studies.reports.controlled_paths import all_paths, with_run_keys
from sparsernn.studies.tables import IN_PLAN, PLANNED_RUNS, markdown_table

SUBPAGE = "expansion-pruning"
N_BOOT = 2000


def _noisy_section(metrics: pd.DataFrame, paths: dict, out: Path) -> list[str]:
    """Test accuracy under input noise, every criterion at every level: one table per dataset × cell."""
    table = noise.criteria_table(noise.on_paths(noise.noisy_frame(metrics), paths))
    if table.empty:
        return []
    write_atomic(out / "noisy_accuracy.csv", compact_csv(table))
    lines = [
        "#### Accuracy under input noise, per criterion",
        "",
        "Test accuracy on the same noisy test inputs at every level of every path (`noise`: σ of the "
        "Gaussian noise, or the SNR in dB for speech); mean ± half-width of the 95 % Student-t "
        "interval over seeds, as the accuracy bands of the figures above (the bootstrap CIs of this "
        "page are those of rule errors). `n`: seeds averaged. Full table: `noisy_accuracy.csv`.",
        "",
    ]
    for (dataset, cell), wide in noise.criteria_wide(table, list(paths)).items():
        lines += [f"{dataset} / {cell}:", "", *markdown_table(wide), ""]
    return lines


def _stopping_section(magnitude: dict, out: Path) -> tuple[list[str], list[str]]:
    """The generated reading with the verdicts at a glance, and the detailed tables per δ."""
    tables = [stopping.verdict_frame(magnitude, d, n_boot=N_BOOT) for d in stopping.DELTAS]
    write_atomic(out / "stopping_rules.csv", compact_csv(pd.concat(tables, ignore_index=True)))
    summary = ["#### Reading (generated from the tables below)", ""]
    for table in tables:
        summary += stopping.verdict_reading(table)
    glance = [
        "#### Verdicts at a glance (first layer to cross; δ = "
        + " / ".join(f"{d}" for d in stopping.DELTAS)
        + " points): does the expansion rule beat the density-only rule? "
        f"(`beats`, `worse`, `=` no difference, `?` no density-only baseline, `n<{MIN_SEEDS}` too few seeds)",
        "",
        *markdown_table(stopping.verdict_overview(tables)),
    ]
    summary += ["", *headline(glance), ""]
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
        f"paths at each pruned level ({', '.join(paths)}), ranked among the criteria of each seed (what "
        "differs between seeds does not count as a ranking); CI from resampling seeds. Per view: the "
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
    lines += images(figures.gap_figures(magnitude, out), "accuracy and Δ,")
    lines += details
    lines += _control_section(paths)
    lines += _spearman_section(paths, out)
    lines += _noisy_section(metrics, paths, out)
    return lines


def share_line(runs: pd.DataFrame) -> str:
    """How many of the runs the study's recipe plans are in the tables ("" when the report was not told,
    :data:`~sparsernn.studies.tables.PLANNED_RUNS`), for the sub-page that is read on its own.

    Only the planned runs count (:data:`~sparsernn.studies.tables.IN_PLAN`): a run of other settings
    that shares the study does not stand in for a missing one.

    Examples
    --------
    >>> share_line(pd.DataFrame({"run": ["a/seed_0", "a/seed_1"], "planned_runs": 45, "in_plan": True}))
    "**2 of the study's 45 planned runs are in these tables: the study is partial.**"
    >>> share_line(pd.DataFrame({"run": ["a/seed_0", "b/seed_7"], "planned_runs": 2, "in_plan": [True, False]}))
    "**1 of the study's 2 planned runs is in these tables: the study is partial.**"
    """
    if PLANNED_RUNS not in runs.columns or runs.empty:
        return ""
    planned_here = runs[runs[IN_PLAN].astype(bool)] if IN_PLAN in runs.columns else runs
    found, planned = planned_here["run"].nunique(), int(runs[PLANNED_RUNS].iloc[0])
    if found >= planned:
        return f"All {planned} planned runs of the study are in these tables."
    verb = "is" if found == 1 else "are"
    return f"**{found} of the study's {planned} planned runs {verb} in these tables: the study is partial.**"


def report(runs: pd.DataFrame, metrics: pd.DataFrame, out: Path) -> list[str]:
    """The Kalra page's lines; the expansion-pruning page is written to ``out/expansion-pruning``."""
    metrics = with_run_keys(metrics, runs)
    recorded, skipped = all_paths(metrics, runs)
    counts = counts_line(recorded, skipped)  # every criterion, even one with no complete path
    paths = {c: p for c, p in recorded.items() if p}
    lines = kalra_section(paths, counts, metrics, out)
    if paths:
        page = expansion_page(paths, metrics, out / SUBPAGE, counts=counts, share=share_line(runs))
        write_atomic(out / SUBPAGE / "summary.md", "\n".join(page).encode())
        lines += [
            f"The criteria compared at equal density and the sparse-from-scratch trainings: [{SUBPAGE} page]({SUBPAGE}/summary.md).",
            "",
        ]
    return lines
