"""The expansion-pruning page of the ``controlled_pruning`` report (design section 11).

Criteria at equal density, the highest sparsity within one point of dense, paired differences against
magnitude, and the sparse-from-scratch trainings; the tables come from
:mod:`~sparsernn.studies.reports.controlled_expansion`, the figures from
:mod:`~sparsernn.studies.reports.controlled_figures`. :mod:`~sparsernn.studies.reports.controlled`
writes this page next to the Kalra page.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sparsernn._io import write_atomic
from sparsernn.studies.headline import headline
from sparsernn.studies.reports import controlled_expansion as expansion
from sparsernn.studies.reports import controlled_figures as figures
from sparsernn.studies.reports import controlled_noise as noise
from sparsernn.studies.reports.controlled_stopping import interval
from sparsernn.studies.tables import glossary, markdown_table


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


def images(paths: list[Path], text: str) -> list[str]:
    return [f"![{text} {p.stem}]({p.name})" for p in paths] + [""]


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


def seed_signs(paired: pd.DataFrame) -> pd.DataFrame:
    """``paired`` with ``seeds_better`` / ``seeds_worse`` shown as one column ``seeds + / −`` before
    the verdict: on how many seeds the paired difference is above / below 0.

    Examples
    --------
    >>> t = pd.DataFrame({"mean": [1.5], "seeds_better": [4], "seeds_worse": [1], "verdict": ["beats"]})
    >>> seed_signs(t).to_dict("records")
    [{'mean': 1.5, 'seeds + / −': '4 / 1', 'verdict': 'beats'}]
    """
    signs = [f"{b} / {w}" for b, w in zip(paired["seeds_better"], paired["seeds_worse"], strict=True)]
    shown = paired.drop(columns=["seeds_better", "seeds_worse"])
    shown.insert(list(shown.columns).index("verdict"), "seeds + / −", signs)
    return shown


def _diff_rows(diffs: pd.DataFrame) -> pd.DataFrame:
    """Paired differences where the CI excludes zero (either way)."""
    shown = diffs[diffs["verdict"].isin(["beats magnitude", "worse"])].copy()
    shown["q"] = shown["q"].map(lambda q: f"{100 * q:g}%")
    columns = ["dataset", "cell", "criterion", "q", "n", "mean", "ci95_low", "ci95_high"]
    return seed_signs(shown[[*columns, "seeds_better", "seeds_worse", "verdict"]].round(2))


def _verdictcounts_line(diffs: pd.DataFrame) -> pd.DataFrame:
    counts = diffs.groupby(["dataset", "cell", "criterion", "verdict"]).size().unstack(fill_value=0)
    return counts.reset_index()


def expansion_page(
    paths: dict, metrics: pd.DataFrame, out: Path, *, counts: str | None = None, share: str = ""
) -> list[str]:
    """The expansion-pruning page (markdown lines); writes its figures and CSVs into ``out``.

    ``counts`` is the :func:`counts_line` of every recorded path (incomplete ones counted); by
    default that of ``paths``. ``share`` says how much of the study's planned runs the page covers
    (a headline of the page, which is read on its own).
    """
    out.mkdir(parents=True, exist_ok=True)
    long = expansion.long_accuracy(paths)
    table = expansion.accuracy_table(long)
    diffs = expansion.versus_magnitude(long)
    within = expansion.within_table(paths)
    write_atomic(out / "accuracy.csv", compact_csv(table))
    lines = ["# Expansion-preserving pruning and expander wiring (controlled harness)", ""]
    if share:
        lines += [*headline([share]), ""]
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
    lines += images(figures.criteria_accuracy_figures(table, out), "accuracy by criterion,")
    gaps = figures.criteria_gap_frame(paths)
    if not gaps.empty:
        lines += ["## Δ of the weakest weight matrix by criterion", ""]
        lines += images(figures.criteria_gap_figures(gaps, out), "Δ by criterion,")
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
            "Levels where the interval excludes zero (`seeds + / −`: seeds on which the criterion is "
            "above / below magnitude; full table: `versus_magnitude.csv`):",
            "",
            *markdown_table(_diff_rows(diffs)),
            "",
        ]
    lines += _scratch_section(*scratch, noise.scratch_table(noise.noisy_frame(metrics), paths), out)
    return lines + glossary(lines)


def _within_section(within: pd.DataFrame) -> list[str]:
    stats = expansion.accuracy_stats(within, ["dataset", "cell", "criterion"], "sparsity")
    test = expansion.accuracy_stats(within, ["dataset", "cell", "criterion"], "test")
    shown = stats[["dataset", "cell", "criterion", "n"]].assign(
        **{
            "sparsity (%)": [
                interval(100 * m, 100 * lo, 100 * hi, 1)
                for m, lo, hi in stats[["mean", "ci95_low", "ci95_high"]].itertuples(index=False)
            ],
            "test accuracy there": [
                interval(m, lo, hi, 3)
                for m, lo, hi in test[["mean", "ci95_low", "ci95_high"]].itertuples(index=False)
            ],
        }
    )
    lines = [
        "## Highest sparsity within one point of dense (chosen on validation accuracy, test accuracy reported)",
        "",
        *headline(
            [
                "Highest sparsity within one point of dense: the sparsest level whose validation accuracy "
                "is within one point of dense, even if a denser level dipped below (the knee of the Kalra "
                "page is the first such dip instead); mean [95 % t interval] over seeds.",
                "",
                *markdown_table(shown),
            ]
        ),
        "",
    ]
    paired = expansion.within_versus_magnitude(within)
    if not paired.empty:
        lines += [
            "Paired difference in that sparsity against magnitude (points, 95 % t interval; "
            "`seeds + / −`: seeds on which the criterion reaches more / less sparsity):",
            "",
        ]
        lines += [*markdown_table(seed_signs(paired.round(2))), ""]
    return lines


def _scratch_section(stats: pd.DataFrame, diffs: pd.DataFrame, noisy: pd.DataFrame, out: Path) -> list[str]:
    if stats.empty:
        return []
    write_atomic(out / "scratch.csv", compact_csv(stats))
    if not noisy.empty:
        write_atomic(out / "scratch_noisy.csv", compact_csv(noisy))
    lines = [
        "## Sparse from scratch (expander, Erdős–Rényi) against pruned magnitude at equal density",
        "",
        "Training budgets differ: a model born sparse trains the recipe's epochs with its masks fixed "
        "from the start; a pruned model had the dense training plus its fine-tuning at every level on "
        "its way down (the recipe's fine-tuning epochs per level). Test accuracy of the last epoch of each.",
        "",
    ]
    lines += images(figures.scratch_figures(stats, out), "scratch,")
    lines += [
        "Test accuracy, clean and under input noise (`noise N`: σ of the Gaussian noise, or the SNR "
        "in dB for speech; the same noisy test inputs for every model), mean ± half-width of the "
        "95 % t interval over seeds; `magnitude`: the pruned path at the same q. Full tables: "
        "`scratch.csv`, `scratch_noisy.csv`.",
        "",
        *markdown_table(noise.scratch_wide(stats, noisy)),
        "",
    ]
    if not diffs.empty:
        shown = seed_signs(diffs.assign(q=diffs["q"].map(lambda q: f"{100 * q:g}%")).round(2))
        lines += [
            "Paired differences (test accuracy, points; same seed = pair; 95 % t interval; "
            "`seeds + / −`: seeds on which the first is better / worse):",
            "",
        ]
        lines += [*markdown_table(shown), ""]
    return lines
