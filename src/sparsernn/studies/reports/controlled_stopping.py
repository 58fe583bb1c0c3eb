"""The Kalra section of the ``controlled_pruning`` report: does expansion tell when pruning breaks?

Stopping rules (:mod:`sparsernn.prune.stopping`) are scored on the magnitude paths against the
validation knee; each is compared seed by seed with the density-only rule (a fixed q learned leave
one dataset out), and an expansion rule "beats density-only" only where the bootstrap CI of the
paired difference in absolute error lies below zero. The validation rule is scored against the test
knee (against the validation knee it is right by construction). The random paths are the control.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from sparsernn.prune.stopping import MIN_SEEDS, PathKey, PruningPath, compare, evaluate, summarize

DELTAS = (1, 5)
KALRA_SEEDS = 5  # the seeds a claim of the Kalra study rests on (design section 10)
SYMBOLS = {"delta_s": "Δ_S", "delta_r": "Δ_R", "delta_s_weighted": "weighted Δ_S", "degree": "avg degree < 3"}
LAYERS = {"first": "first layer", "all": "all layers"}
#: The rules over both weight matrices (view "ih+hh" of :func:`~sparsernn.prune.stopping.expansion_flags`).
MATRICES = {"first": "first of W_ih, W_hh", "all": "W_ih and W_hh both"}
BOTH = "ih+hh"
BASELINES = {"density": "density-only (leave one dataset out)", "validation": "validation (vs test knee)"}


def rule_label(rule: str) -> str:
    """A rule's name in words.

    Examples
    --------
    >>> rule_label("delta_s_weighted:hh:first"), rule_label("density"), rule_label("delta_r:ih+hh:all")
    ('weighted Δ_S, first layer', 'density-only (leave one dataset out)', 'Δ_R, W_ih and W_hh both')
    """
    parts = rule.split(":")
    if len(parts) == 3:
        words = MATRICES if parts[1] == BOTH else LAYERS
        return f"{SYMBOLS.get(parts[0], parts[0])}, {words.get(parts[2], parts[2])}"
    return BASELINES.get(rule, rule)


def interval(mean: float, lo: float, hi: float, digits: int = 2) -> str:
    """``"mean [lo, hi]"`` with ``digits`` decimals; ``"-"`` when the mean is not finite, the mean
    alone when the CI is unknown (too few seeds).

    Examples
    --------
    >>> interval(-1.0, -1.5, -0.25), interval(float("nan"), 0.0, 0.0), interval(2.0, float("nan"), float("nan"))
    ('-1.00 [-1.50, -0.25]', '-', '2.00 [no CI]')
    """
    if not np.isfinite(mean):
        return "-"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{mean:.{digits}f} [no CI]"
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def verdict_frame(
    paths: Mapping[PathKey, PruningPath], delta: float, *, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """One row per dataset × cell × rule: errors, accuracy lost, sparsity (means, bootstrap CIs) and the
    paired comparison with the density-only rule (``diff``, ``diff_lo``, ``diff_hi``, ``verdict``, and
    ``seeds_better`` / ``seeds_worse``: on how many seeds the rule's |error| is smaller / larger), and
    ``dense_val_acc``, the dense model's validation accuracy (mean over seeds): a cell that barely
    learns has little accuracy to lose, and its knee says little.

    Expansion and degree rules are scored against the validation knee, the validation rule against
    the test knee. ``view`` is empty for the baselines. ``verdict`` is "beats density-only",
    "worse than density-only", "no difference", "too few seeds" (fewer than
    :data:`~sparsernn.prune.stopping.MIN_SEEDS` paired seeds) or "no density baseline" (a single
    dataset). ``never`` counts the seeds whose rule flags no level, ``no_knee`` those whose
    accuracy never drops by δ (both counted one level past the sparsest).
    """
    val = evaluate(paths, delta)
    test = evaluate(paths, delta, target="test")
    test = test[test["rule"].isin(["validation", "density"])]
    val = val[val["rule"] != "validation"]
    summary = pd.concat(
        [
            summarize(val, n_boot=n_boot, seed=seed),
            summarize(test[test["rule"] == "validation"], n_boot=n_boot, seed=seed),
        ],
        ignore_index=True,
    )
    paired = pd.concat(
        [
            compare(val, n_boot=n_boot, seed=seed),
            compare(test, n_boot=n_boot, seed=seed),
        ],
        ignore_index=True,
    )
    columns = [
        "dataset",
        "cell",
        "rule",
        "diff",
        "diff_lo",
        "diff_hi",
        "verdict",
        "seeds_better",
        "seeds_worse",
    ]
    paired = paired.reindex(columns=columns)
    table = summary.merge(paired, on=["dataset", "cell", "rule"], how="left")
    words = {"beats": "beats density-only", "worse": "worse than density-only"}
    table["verdict"] = (
        table["verdict"].map(lambda v: words.get(v, v) if isinstance(v, str) else v).astype(object)
    )
    table.loc[table["rule"] == "density", "verdict"] = "(baseline)"
    table["verdict"] = table["verdict"].fillna("no density baseline")
    table["view"] = table["rule"].map(lambda r: r.split(":")[1] if r.count(":") == 2 else "")
    dense = pd.DataFrame(
        [{"dataset": k.dataset, "cell": k.cell, "dense_val_acc": p.val_acc[0]} for k, p in paths.items()]
    )
    dense = dense.groupby(["dataset", "cell"], as_index=False)["dense_val_acc"].mean()
    table = table.merge(dense, on=["dataset", "cell"], how="left")
    table.insert(0, "delta", delta)
    return table


def _same_as_first(table: pd.DataFrame) -> pd.Series:
    """Rows of an ``all layers`` rule whose every mean equals its ``first layer`` rule's (one layer)."""
    metrics = ["n", "error_mean", "abs_error_mean", "acc_lost_mean", "sparsity_mean"]
    first = table[table["rule"].str.endswith(":first")].assign(
        rule=lambda t: t["rule"].str.replace(":first", ":all")
    )
    merged = table.merge(
        first[["dataset", "cell", "rule", *metrics]],
        on=["dataset", "cell", "rule"],
        how="left",
        suffixes=("", "_first"),
    )
    same = np.all([np.isclose(merged[m], merged[f"{m}_first"]) for m in metrics], axis=0)
    return pd.Series(same, index=table.index)


def verdict_markdown(table: pd.DataFrame) -> pd.DataFrame:
    """The verdict table as shown: one row per dataset × cell × view × rule, intervals as text.

    An ``all layers`` rule is left out where it equals the ``first layer`` one (one layer per view).
    """
    table = table[~_same_as_first(table)]
    order = {r: i for i, r in enumerate(["density", "validation"])}
    table = table.assign(_base=table["rule"].map(lambda r: order.get(r, -1)))
    rows = table.sort_values(["dataset", "cell", "_base", "view", "rule"]).to_dict("records")
    return pd.DataFrame(
        {
            "dataset": [r["dataset"] for r in rows],
            "cell": [r["cell"] for r in rows],
            "dense val acc": [f"{r['dense_val_acc']:.2f}" for r in rows],
            "view": [r["view"] or "-" for r in rows],
            "rule": [rule_label(r["rule"]) for r in rows],
            "n": [r["n"] for r in rows],
            "never flags": [int(r.get("never", 0)) for r in rows],
            "error (levels)": [_row_interval(r, "error") for r in rows],
            "abs error": [_row_interval(r, "abs_error") for r in rows],
            "vs density-only": [
                interval(r["diff"], r["diff_lo"], r["diff_hi"]) if pd.notna(r["diff"]) else "-" for r in rows
            ],
            "seeds better / worse": [_seed_counts(r) for r in rows],
            "verdict": [r["verdict"] for r in rows],
            "acc lost (points)": [_row_interval(r, "acc_lost", 1) for r in rows],
            "sparsity (%)": [
                interval(100 * r["sparsity_mean"], 100 * r["sparsity_lo"], 100 * r["sparsity_hi"], 0)
                for r in rows
            ],
        }
    )


SHORT = {
    "beats density-only": "beats",
    "worse than density-only": "worse",
    "no difference": "=",
    "no density baseline": "?",
    "too few seeds": f"n<{MIN_SEEDS}",
}


def verdict_overview(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per dataset × cell, one column per Δ and view (first layer to cross): the verdicts of
    the δ's of ``tables`` side by side (``beats`` / ``worse`` / ``=`` no difference).

    Examples
    --------
    >>> t = pd.DataFrame({"dataset": "x", "cell": "gru", "rule": ["delta_s:hh:first"], "verdict": ["beats density-only"]})
    >>> verdict_overview([t.assign(delta=1), t.assign(delta=5, verdict="no difference")]).to_dict("records")
    [{'dataset': 'x', 'cell': 'gru', 'Δ_S hh': 'beats / ='}]
    """
    both = pd.concat(tables, ignore_index=True)
    both = both[both["rule"].map(is_expansion_rule) & both["rule"].str.endswith(":first")]
    both = both.assign(
        column=both["rule"].map(lambda r: f"{SYMBOLS[r.split(':')[0]]} {r.split(':')[1]}"),
        short=both["verdict"].map(lambda v: SHORT.get(v, v)),
    )
    wide = both.groupby(["dataset", "cell", "column"], sort=True)["short"].agg(" / ".join).unstack("column")
    return wide.fillna("-").reset_index().rename_axis(columns=None)


def _seed_counts(row: dict) -> str:
    if pd.isna(row.get("seeds_better")):
        return "-"
    return f"{int(row['seeds_better'])} / {int(row['seeds_worse'])}"


def _row_interval(row: dict, metric: str, digits: int = 2) -> str:
    return interval(row[f"{metric}_mean"], row[f"{metric}_lo"], row[f"{metric}_hi"], digits)


def is_expansion_rule(rule: str) -> bool:
    """True for the Δ rules (not the degree rule, not the baselines)."""
    return rule.count(":") == 2 and not rule.startswith("degree:")


def verdict_reading(table: pd.DataFrame) -> list[str]:
    """Plain-language sentences generated from a :func:`verdict_frame` (one δ).

    ``all layers`` rules that equal their ``first layer`` rule (one layer per view) are not counted twice.
    """
    delta = table["delta"].iloc[0]
    per_view = table[table["rule"].str.count(":") == 2]
    per_view = per_view[~_same_as_first(per_view)]
    expansion = per_view[per_view["rule"].map(is_expansion_rule)]
    if expansion.empty:
        return [f"- δ = {_points(delta)}: no expansion rule was recorded."]
    cells = expansion.groupby(["dataset", "cell", "view"]).ngroups
    winners = expansion[expansion["verdict"] == "beats density-only"]
    losers = expansion[expansion["verdict"] == "worse than density-only"]
    won = winners.groupby(["dataset", "cell", "view"]).ngroups
    lines = [
        f"- δ = {_points(delta)}: in {won} of {cells} dataset × cell × view combinations at least one "
        f"expansion rule beats the density-only rule (paired CI below zero); "
        f"{len(winners)} of {len(expansion)} expansion rules × cells beat it, {len(losers)} are worse "
        "(were no rule better than density-only, about 1 interval in 40 would still lie below zero by "
        "chance)."
    ]
    if table["verdict"].eq("no density baseline").all():
        lines = [
            f"- δ = {_points(delta)}: there is no density-only baseline (it needs at least two datasets)."
        ]
    elif expansion["verdict"].eq("too few seeds").all():
        lines = [
            f"- δ = {_points(delta)}: no verdict: every cell has fewer than {MIN_SEEDS} seeds paired "
            "with the density-only rule (a claim rests on at least that many)."
        ]
    seeds = int(expansion["n"].min())
    if seeds < KALRA_SEEDS:
        lines.append(
            f"  - Some cells rest on {seeds} seed{'s' * (seeds != 1)}; this study's standard is "
            f"{KALRA_SEEDS} (design section 10): read every number here as preliminary."
        )
    lines += _censoring_sentences(table)
    for rule, mine in per_view.groupby(per_view["rule"].map(_without_view), sort=False):
        lines.append(_rule_sentence(rule_label(rule), mine, "dataset × cell × view cells", "paths × views"))
    validation = table[table["rule"] == "validation"]
    if not validation.empty:
        lines.append(
            _rule_sentence(
                "the validation rule (scored against the test knee)",
                validation,
                "dataset × cell cells",
                "paths",
            )
        )
    return lines


def _rule_sentence(name: str, rows: pd.DataFrame, unit: str, counted: str) -> str:
    errors = rows["error_mean"]
    where = (
        f"it flags {_levels(errors.mean())} on average "
        f"(from {errors.min():+.1f} to {errors.max():+.1f} levels across cells)"
    )
    for column, what in (("never", "it never flags"), ("at_dense", "it flags the dense level itself")):
        if column in rows and rows[column].sum() > 0:
            where += f"; {what} on {int(rows[column].sum())} of {int(rows['n'].sum())} {counted}"
    where += "."
    if rows["verdict"].isin(["no density baseline", "too few seeds"]).all():
        return f"  - {name}: {where}"
    beats = int(rows["verdict"].eq("beats density-only").sum())
    worse = int(rows["verdict"].eq("worse than density-only").sum())
    return f"  - {name}: beats density-only in {beats} of {len(rows)} {unit}, worse in {worse}; {where}"


def _censoring_sentences(table: pd.DataFrame) -> list[str]:
    """How many knees are censored (accuracy never drops by δ) and what that does to the errors."""
    if "no_knee" not in table:
        return []
    knees = table[table["rule"].map(is_expansion_rule)].drop_duplicates(["dataset", "cell"])
    censored, total = int(knees["no_knee"].sum()), int(knees["n"].sum())
    if total == 0 or censored == 0:
        return []
    return [
        f"  - On {censored} of {total} paths validation accuracy never drops by δ: their knee counts "
        "one level past the sparsest (the true knee is at least that sparse), as does a rule that "
        "never flags."
    ]


def _without_view(rule: str) -> str:
    """The rule over any single view (``"delta_s::first"``); the rules over both matrices stay apart."""
    measure, view, layers = rule.split(":")
    return rule if view == BOTH else f"{measure}::{layers}"


def _points(delta: float) -> str:
    plural = "" if float(delta) == 1 else "s"
    return f"{float(delta):g} point{plural}"


def _levels(error: float) -> str:
    if not np.isfinite(error):
        return "undefined"
    if abs(error) < 0.5:
        return f"at the knee ({error:+.1f} levels)"
    side = "before" if error < 0 else "after"
    return f"{abs(error):.1f} levels {side} the knee"
