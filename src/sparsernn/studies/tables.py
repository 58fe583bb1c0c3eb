"""Markdown tables for reports (no extra dependency)."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
from scipy import stats


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(frame: pd.DataFrame) -> list[str]:
    """``frame`` as GitHub-flavoured markdown lines.

    Examples
    --------
    >>> markdown_table(pd.DataFrame({"a": [1], "b": [0.5]}))
    ['| a | b |', '| --- | --- |', '| 1 | 0.5 |']
    """
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return [header, rule, *body]


DEFAULT = "(default)"
CONFIG_SECTIONS = ("data", "model", "train", "params")
STATS = ["mean", "std", "n", "ci95_low", "ci95_high"]


def seed_stats(frame: pd.DataFrame, by: list[str], value: str = "value") -> pd.DataFrame:
    """Mean, sample std (ddof 1), count ``n`` and 95 % confidence interval of ``value`` per group.

    The interval is Student's t: mean ± t(0.975, n − 1) · std / √n, exact for normal data and the usual
    choice for the handful of seeds a study runs (a bootstrap needs many more). With ``n = 1`` the std
    and the interval are NaN. Every report aggregates seeds with this one helper.

    Examples
    --------
    >>> runs = pd.DataFrame({"cell": ["gru", "gru", "lstm"], "acc": [0.8, 0.9, 0.7]})
    >>> seed_stats(runs, ["cell"], "acc").round(3).to_dict("records")[0]
    {'cell': 'gru', 'mean': 0.85, 'std': 0.071, 'n': 2, 'ci95_low': 0.215, 'ci95_high': 1.485}
    """
    grouped = frame.groupby(by, sort=True, dropna=False)[value]
    table = grouped.agg(mean="mean", std="std", n="count").reset_index()
    table["n"] = table["n"].astype(int)
    half = stats.t.ppf(0.975, (table["n"] - 1).clip(lower=1)) * table["std"] / np.sqrt(table["n"])
    half = half.where(table["n"] > 1)
    return table.assign(ci95_low=table["mean"] - half, ci95_high=table["mean"] + half)


def with_defaults(column: pd.Series) -> pd.Series:
    """``column`` with each value a config left out (NaN or None) named ``(default)``."""
    return column.astype(object).where(column.notna(), DEFAULT)


#: A column ``sparsernn report`` adds to the runs a protocol's report gets, when the study is a built-in
#: recipe: how many runs that recipe plans (so a report can say how much of the study its tables cover).
PLANNED_RUNS = "planned_runs"
#: Added with it: whether the run is one of those planned runs (runs of other settings may share the study).
IN_PLAN = "in_plan"


def varying_columns(runs: pd.DataFrame) -> list[str]:
    """Config columns whose value differs between runs (what a sweep changed; the seed is not config).

    A value a config leaves out (the default) counts as one more value: a sweep over ``[default, other]``
    varies its column although half its runs do not name it. A bare section column (``params`` holding ``{}``
    where a run sets no parameter, next to ``params.family``) is not a value of its own.

    Examples
    --------
    >>> varying_columns(pd.DataFrame({"model.cell": ["gru", "lstm"], "train.lr": [0.1, 0.1], "seed": [0, 1]}))
    ['model.cell']
    """
    names = list(runs.columns)
    config = [
        c
        for c in names
        if c.split(".")[0] in CONFIG_SECTIONS and not any(o.startswith(f"{c}.") for o in names)
    ]
    return [c for c in config if with_defaults(runs[c]).map(str).nunique() > 1]


MAX_SLUG = 80  # ASCII characters of a label in a file name (file systems allow 255 bytes per name)


def slug(text: str) -> str:
    """A file-name-safe version of ``text`` (a label); a long one is cut and ends in a hash of the whole
    text, so that different labels keep different names.

    Examples
    --------
    >>> slug("fashion mnist/rows")
    'fashion_mnist_rows'
    >>> long = "sparsities=" + ", ".join(["0.0125"] * 80)
    >>> len(slug(long)), slug(long) != slug(long + "5")
    (80, True)
    """
    safe = re.sub(r"[^\w.=-]+", "_", text, flags=re.ASCII)  # one byte per character
    if len(safe) <= MAX_SLUG:
        return safe
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{safe[: MAX_SLUG - 11]}-{digest}"


def sweep_labels(runs: pd.DataFrame) -> dict[str, str]:
    """Run id → a label naming the run's swept values, e.g. ``"cell=lstm, hidden_size=64"``.

    Seeds of one config share a label (the seed is not part of it), so seeds can be aggregated under
    it; a run hash never appears. A column is named by its last dotted part unless two swept columns
    share it. When nothing is swept, the label is the cell (``"cell=gru"``) or ``"all runs"``.

    Examples
    --------
    >>> runs = pd.DataFrame({"run": ["a/seed_0", "b/seed_0"], "model.cell": ["gru", "lstm"], "seed": [0, 0]})
    >>> sweep_labels(runs)
    {'a/seed_0': 'cell=gru', 'b/seed_0': 'cell=lstm'}
    """
    columns = varying_columns(runs) or [c for c in ("model.cell",) if c in runs.columns]
    if not columns:
        return dict.fromkeys(runs["run"], "all runs")
    last = [c.split(".")[-1] for c in columns]
    names = [s if last.count(s) == 1 else c for c, s in zip(columns, last)]
    shown = pd.DataFrame({n: with_defaults(runs[c]).map(_cell) for n, c in zip(names, columns)})
    text = shown.apply(lambda row: ", ".join(f"{n}={v}" for n, v in row.items()), axis=1)
    return dict(zip(runs["run"], text))


GLOSSARY = {
    "Δ_S": "spectral gap 2·√(μ0 − 1) − μ̂ of a layer's bipartite graph (μ0, μ̂: largest and second "
    "singular values of its mask, or of |W ⊙ M| when weighted); the layer is Ramanujan when Δ_S ≥ 0",
    "Δ_R": "irregular-bipartite Ramanujan gap √(d_L − 1) + √(d_R − 1) − μ̂ (d_L, d_R: average degrees of "
    "the input and output nodes)",
    "λ_w": "weighted spectral gap μ0(|W ⊙ M|) − μ̂(|W ⊙ M|)",
    "delta_s_mean": "graph feature: mean Δ_S over the network's layers (delta_s_min: the smallest; "
    "delta_r_mean, delta_r_min: the same for Δ_R)",
    "ramanujan_fraction": "graph feature: fraction of the network's layers with Δ ≥ 0",
    "q": "remaining-edge fraction (density) of the pruned weights, 100 % = dense",
    "p": "sparsity: the percentage of the selected weights pruned",
    "n": "number of runs (seeds of one config) or trained models a row aggregates",
    "mean": "mean over the n aggregated runs or models",
    "std": "sample standard deviation over them (ddof 1; empty when n = 1)",
    "ci95_low": "lower end of the 95 % Student-t confidence interval of the mean: mean − t(0.975, n − 1)·std/√n",
    "ci95_high": "upper end of that interval; figures shade it around the mean line",
    "r": "Pearson correlation of a feature with accuracy (p: its two-sided p-value)",
    "R²": "coefficient of determination of predicted accuracies on held-out rows",
    "wall_s": "wall-clock seconds a run took; with resumed_s, its earlier attempts included (a run stored "
    "before sparsernn recorded resumed_s counts its last attempt only)",
    "resumed_s": "seconds the earlier, killed attempts of a resumed run spent up to their last kept piece",
    "code_fingerprint": "hash of the code that computed a run (package sources, Python, torch, NumPy versions)",
    "density": "fraction of the prunable weights kept",
    "final_density": "density after the last pruning level",
    "dense_accuracy": "test accuracy of the dense model before pruning",
    "base_accuracy": "test accuracy of the trained base model every pruning level starts from",
    "test_accuracy": "test accuracy after training",
    "final_accuracy": "test accuracy after the last pruning level and its fine-tuning",
    "(default)": "the config leaves this field at its default value",
}
"""Symbol → definition; :func:`glossary` lists those a report shows."""


def glossary(lines: list[str]) -> list[str]:
    """A ``### Glossary`` section defining each :data:`GLOSSARY` symbol that occurs in ``lines``.

    Examples
    --------
    >>> glossary(["| cell | mean | n |"])[2:4]
    ['- `n`: number of runs (seeds of one config) or trained models a row aggregates', '- `mean`: mean over the n aggregated runs or models']
    """
    text = "\n".join(lines)
    shown = [s for s in GLOSSARY if re.search(rf"(?<![\w.]){re.escape(s)}(?![\w])", text)]
    if not shown:
        return []
    return ["### Glossary", "", *(f"- `{s}`: {GLOSSARY[s]}" for s in shown), ""]
