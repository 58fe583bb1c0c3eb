"""Stopping rules, evaluated over many recorded paths: errors, bootstrap CIs, paired verdicts, ranks.

:func:`evaluate` scores every rule of :mod:`sparsernn.prune.stopping_rules` on every path (one per
dataset × cell × seed) against the knee: signed and absolute error in levels, the test accuracy
lost (percentage points) and the sparsity reached at the level kept. The density-only rule of a path
learns its fixed q* from the knees of the *other* datasets' paths of the same cell (leave one
dataset out), so it never sees the dataset it predicts. :func:`summarize` gives means with
percentile-bootstrap 95 % CIs over seeds; :func:`compare` pairs each rule with the density-only
rule seed by seed and says "beats" only when the CI of the difference in absolute error lies
below zero. :func:`criteria_spearman` asks, at equal density, whether Δ ranks the criteria's
accuracies (Spearman ρ with a CI from resampling seeds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from sparsernn.errors import ConfigError
from sparsernn.prune.stopping_rules import PruningPath, density_flag, kept_level, knee, rule_flags

DENSITY = "density"
METRICS = ("error", "abs_error", "acc_lost", "sparsity")
#: The fewest seeds (paired by seed) a verdict or a CI of ρ rests on (design section 10: a claim
#: rests on >= 3 seeds); with fewer, the verdict is "too few seeds" and the CI of ρ is undefined.
MIN_SEEDS = 3


class PathKey(NamedTuple):
    """Which path: the dataset, the cell and the seed of its run."""

    dataset: str
    cell: str
    seed: int


def _density_training(paths: Mapping[PathKey, PruningPath], key: PathKey) -> list[PruningPath]:
    others = [k for k in paths if k.dataset != key.dataset]
    same_cell = [k for k in others if k.cell == key.cell]
    return [paths[k] for k in sorted(same_cell or others)]


def _row(key: PathKey, rule: str, flag: int, target: int, path: PruningPath) -> dict:
    kept = kept_level(flag)
    return {
        **key._asdict(),
        "rule": rule,
        "flag": flag,
        "knee": target,
        "error": flag - target,
        "abs_error": abs(flag - target),
        "never": flag >= len(path),  # the rule flags no level: counted one past the sparsest
        "at_dense": flag == 0,  # flags the dense level itself (e.g. Δ < 0 before any pruning)
        "no_knee": target >= len(path),  # accuracy never drops by delta: the knee is censored
        "acc_lost": 100 * (path.test_acc[0] - path.test_acc[kept]),
        "sparsity": 1 - path.levels[kept],
    }


def evaluate(paths: Mapping[PathKey, PruningPath], delta: float, *, target: str = "val") -> pd.DataFrame:
    """One row per path and rule: flag, knee, error (flag − knee), |error|, accuracy lost, sparsity.

    A rule that flags no level, and a knee that is never reached, count as one level past the
    sparsest (``len(path)``); ``never`` and ``no_knee`` mark those rows, so a report can say how
    many errors are censored; ``at_dense`` marks a rule that flags the dense level itself. ``target`` chooses the knee the rules are scored against: on validation accuracy (the
    decision data, default) or on test accuracy (then the validation rule is a fair baseline).
    ``acc_lost`` is in percentage points of test accuracy; ``sparsity`` is ``1 - q`` of the level
    kept (the one before the flag). A path's ``"density"`` row learns q* from the paths of the other
    datasets with the same cell (any cell when there is none); with a single dataset there is none.

    Examples
    --------
    >>> a = PruningPath((1.0, 0.5, 0.2, 0.1), (0.9, 0.9, 0.5, 0.5), (0.9, 0.9, 0.6, 0.5))
    >>> b = PruningPath((1.0, 0.5, 0.2, 0.1), (0.9, 0.5, 0.5, 0.5), (0.9, 0.5, 0.5, 0.5))
    >>> table = evaluate({PathKey("x", "lstm", 0): a, PathKey("y", "lstm", 0): b}, 5)
    >>> table[["dataset", "rule", "flag", "knee", "error"]].to_string(index=False)
    'dataset       rule  flag  knee  error\\n      x validation     2     2      0\\n      x    density     1     2     -1\\n      y validation     1     1      0\\n      y    density     2     1      1'
    """
    if not paths:
        raise ConfigError("no pruning paths to evaluate; expected at least one")
    rows = []
    for key in sorted(paths):
        path = paths[key]
        goal = knee(path, delta, on=target)
        flags = rule_flags(path, delta)
        training = _density_training(paths, key)
        if training:
            flags[DENSITY] = density_flag(path, training, delta)
        rows += [_row(key, rule, flag, goal, path) for rule, flag in flags.items()]
    return pd.DataFrame(rows)


def bootstrap_mean(
    values: Sequence[float], *, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean of ``values`` and its percentile-bootstrap CI (``level``), resampling with ``seed``.

    Examples
    --------
    >>> mean, lo, hi = bootstrap_mean([1.0, 2.0, 3.0, 4.0], seed=0)
    >>> mean, lo <= mean <= hi, 1.0 <= lo and hi <= 4.0
    (2.5, True, True)
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ConfigError("cannot bootstrap the mean of no values; expected at least one")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(x.mean()), float(lo), float(hi)


def summarize(table: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per dataset × cell × rule: the number of seeds and, per metric, the mean with its 95 % CI.

    ``never``, ``no_knee`` and ``at_dense`` (when ``table`` has them) count the seeds whose rule
    flags no level, whose accuracy never drops by δ, and whose rule flags the dense level. With fewer than :data:`MIN_SEEDS` seeds the CI is NaN.

    Examples
    --------
    >>> t = pd.DataFrame({"dataset": "x", "cell": "gru", "rule": "r", "seed": [0, 1, 2],
    ...                   "error": [1, 3, 2], "abs_error": [1, 3, 2], "acc_lost": [0.5, 1.5, 1.0],
    ...                   "sparsity": [0.8, 0.9, 0.85]})
    >>> row = summarize(t).iloc[0]
    >>> int(row["n"]), float(row["error_mean"]), round(float(row["sparsity_mean"]), 2)
    (3, 2.0, 0.85)
    >>> bool(row["error_lo"] <= 2.0 <= row["error_hi"]), bool(np.isnan(summarize(t.head(2)).iloc[0]["error_lo"]))
    (True, True)
    """
    rows = []
    for (dataset, cell, rule), group in table.groupby(["dataset", "cell", "rule"], sort=True):
        row = {"dataset": dataset, "cell": cell, "rule": rule, "n": len(group)}
        row |= {c: int(group[c].sum()) for c in ("never", "no_knee", "at_dense") if c in group}
        for metric in METRICS:
            mean, lo, hi = bootstrap_mean(group[metric].to_numpy(), n_boot=n_boot, seed=seed)
            if len(group) < MIN_SEEDS:  # resampling one or two seeds gives their range, not a CI
                lo = hi = math.nan
            row |= {f"{metric}_mean": mean, f"{metric}_lo": lo, f"{metric}_hi": hi}
        rows.append(row)
    return pd.DataFrame(rows)


def _split_rule(rule: str) -> dict[str, str]:
    parts = rule.split(":")
    return dict(zip(("measure", "view", "layers"), parts, strict=False)) if len(parts) == 3 else {}


def compare(
    table: pd.DataFrame, *, baseline: str = DENSITY, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Paired comparison of every rule with ``baseline`` per dataset × cell, seed by seed.

    ``diff`` = mean over seeds of |error| (rule) − |error| (baseline), with a paired bootstrap 95 %
    CI; ``verdict`` is "beats" when the CI lies below 0, "worse" when above, else "no difference";
    with fewer than :data:`MIN_SEEDS` pairs it is "too few seeds" (no claim rests on one or two).
    ``seeds_better`` and ``seeds_worse`` count the seeds on which the rule's |error| is smaller and
    larger than the baseline's: with five seeds a percentile bootstrap is narrow (errors are whole
    levels, so five equal differences give a zero-width CI), and these counts show what a verdict
    rests on.

    Examples
    --------
    >>> t = pd.DataFrame({"dataset": "x", "cell": "gru", "seed": [0, 1, 2] * 2,
    ...                   "rule": ["delta_s:hh:first"] * 3 + ["density"] * 3, "abs_error": [0, 0, 0, 2, 3, 2]})
    >>> compare(t)[["rule", "view", "diff", "verdict"]].to_string(index=False)
    '            rule view      diff verdict\\ndelta_s:hh:first   hh -2.333333   beats'
    >>> compare(t)[["seeds_better", "seeds_worse"]].to_dict("records")
    [{'seeds_better': 3, 'seeds_worse': 0}]
    """
    rows = []
    for (dataset, cell), group in table.groupby(["dataset", "cell"], sort=True):
        errors = group.pivot_table(index="seed", columns="rule", values="abs_error", aggfunc="first")
        if baseline not in errors:
            continue
        for rule in sorted(errors.columns.drop(baseline)):
            pairs = errors[[rule, baseline]].dropna()
            if pairs.empty:
                continue
            differences = (pairs[rule] - pairs[baseline]).to_numpy()
            diff, lo, hi = bootstrap_mean(differences, n_boot=n_boot, seed=seed)
            counts = {
                "seeds_better": int((differences < 0).sum()),
                "seeds_worse": int((differences > 0).sum()),
            }
            verdict = "beats" if hi < 0 else "worse" if lo > 0 else "no difference"
            if len(pairs) < MIN_SEEDS:
                verdict, lo, hi = "too few seeds", math.nan, math.nan
            rows.append(
                {"dataset": dataset, "cell": cell, "rule": rule, **_split_rule(rule), "n": len(pairs)}
                | {"diff": diff, "diff_lo": lo, "diff_hi": hi, "verdict": verdict, **counts}
            )
    return pd.DataFrame(rows)


def _rho(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman ρ of each row pair of ``x`` and ``y`` (n, m): Pearson of the ranks; NaN if undefined."""
    rx = rankdata(x, axis=-1) - (x.shape[-1] + 1) / 2
    ry = rankdata(y, axis=-1) - (y.shape[-1] + 1) / 2
    norm = np.sqrt((rx * rx).sum(axis=-1) * (ry * ry).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx * ry).sum(axis=-1) / norm
    return np.where((norm > 0) & (x.shape[-1] >= 3), rho, np.nan)


def _resampled(members: list[np.ndarray], draws: np.ndarray) -> list[np.ndarray]:
    """Point indices of each bootstrap replicate (one row per replicate when groups are equal)."""
    if len({m.size for m in members}) == 1:
        return list(np.stack(members)[draws].reshape(len(draws), -1)[None])
    return [np.concatenate([members[g] for g in row]) for row in draws]


def _within_ranks(values: np.ndarray, members: list[np.ndarray]) -> np.ndarray:
    """Ranks of ``values`` within each group of ``members``, centred on the group's mean rank."""
    ranks = np.zeros(len(values))
    for member in members:
        ranks[member] = rankdata(values[member]) - (member.size + 1) / 2
    return ranks


def _centred_pearson(rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """Pearson correlation of already centred ranks, per row; NaN where a side is constant."""
    norm = np.sqrt((rx * rx).sum(axis=-1) * (ry * ry).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (rx * ry).sum(axis=-1) / norm, np.nan)


def spearman_ci(
    x: Sequence[float],
    y: Sequence[float],
    *,
    groups: Sequence[object] | None = None,
    within: bool = False,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """Spearman ρ of ``x`` and ``y`` and a bootstrap CI resampling whole ``groups`` (e.g. seeds).

    NaN in ``x`` counts as −inf (an undefined gap: no expansion). Without ``groups`` every point
    is its own group. ``within``: rank ``x`` and ``y`` within each group (stratified ρ: the
    correlation of the within-group ranks, centred per group), so that differences between groups
    (e.g. seeds that drew different data) do not count as agreement; with two points per group it
    says how often the larger ``x`` goes with the larger ``y``. Replicates with a constant side are
    dropped; ρ is NaN when undefined, and the CI is NaN with fewer than :data:`MIN_SEEDS` groups
    (resampling one or two seeds proves nothing).

    Examples
    --------
    >>> rho, lo, hi = spearman_ci([1, 2, 3, 4, 5, 6], [1, 3, 2, 4, 6, 5], seed=0)
    >>> round(rho, 3), lo <= rho <= hi
    (0.886, True)
    >>> x, y, seeds = [1, 2, 11, 12, 21, 22], [8, 9, 4, 5, 0, 1], [0, 0, 1, 1, 2, 2]
    >>> round(spearman_ci(x, y, groups=seeds)[0], 3), spearman_ci(x, y, groups=seeds, within=True)[0]
    (-0.829, 1.0)
    """
    xs = np.nan_to_num(np.asarray(x, dtype=float), nan=-np.inf)
    ys = np.asarray(y, dtype=float)
    labels = np.arange(len(xs)) if groups is None else np.asarray(groups)
    names = np.unique(labels)
    members = [np.flatnonzero(labels == g) for g in names]
    if within:
        rx, ry = _within_ranks(xs, members), _within_ranks(ys, members)
        rho = float(_centred_pearson(rx, ry)) if len(xs) >= 3 else math.nan
    else:
        rho = float(_rho(xs, ys))
    if len(names) < MIN_SEEDS:
        return rho, math.nan, math.nan
    draws = np.random.default_rng(seed).integers(0, len(names), size=(n_boot, len(names)))
    replicates = _resampled(members, draws)
    if within:
        rhos = np.concatenate([np.atleast_1d(_centred_pearson(rx[i], ry[i])) for i in replicates])
    else:
        rhos = np.concatenate([np.atleast_1d(_rho(xs[i], ys[i])) for i in replicates])
    rhos = rhos[~np.isnan(rhos)]
    if rhos.size == 0:
        return rho, math.nan, math.nan
    alpha = (1 - level) / 2
    lo, hi = np.quantile(rhos, [alpha, 1 - alpha])
    return rho, float(lo), float(hi)


def _view_value(path: PruningPath, view: str, measure: str, i: int) -> float:
    values = [m[measure][i] for (_, v), m in path.traces.items() if v == view and measure in m]
    if not values:
        raise ConfigError(f"no layer of view {view!r} records {measure!r}; expected one at least")
    return min(-math.inf if math.isnan(v) else v for v in values)  # the weakest layer of the view


def criteria_spearman(
    paths: Mapping[tuple[str, int], PruningPath],
    *,
    view: str,
    measure: str = "delta_s",
    on: str = "test",
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """At each pruned level (equal density across criteria): Spearman ρ of Δ and accuracy.

    ``paths`` maps ``(criterion, seed)`` to the paths of one dataset × cell, all on the same
    levels. Δ of a view is that of its weakest layer (the minimum); accuracy is ``on`` "test" or
    "val". ρ is stratified by seed (``spearman_ci(..., within=True)``): Δ and accuracy are ranked
    among the criteria of each seed, so that what differs between seeds (their data, their base
    model) does not pass for a ranking of the criteria. The CI resamples seeds (each seed's
    criteria together).

    Examples
    --------
    >>> def path(gap, acc):
    ...     return PruningPath((1.0, 0.5), (0.9, acc), (0.9, acc), {("l0", "hh"): {"delta_s": (2.0, gap)}})
    >>> paths = {(c, s): path(g + s / 10, a) for s in range(3)
    ...          for c, g, a in (("magnitude", 1.0, 0.8), ("random", -0.5, 0.6), ("floor", 0.5, 0.7))}
    >>> criteria_spearman(paths, view="hh")[["q", "rho", "n"]].round(2).to_string(index=False)
    '  q  rho  n\\n0.5  1.0  9'
    """
    keys = sorted(paths)
    levels = {paths[k].levels for k in keys}
    if len(levels) != 1:
        raise ConfigError("paths compared across criteria must share their levels; got different ones")
    rows = []
    for i, q in enumerate(next(iter(levels))[1:], start=1):
        x = [_view_value(paths[k], view, measure, i) for k in keys]
        y = [(paths[k].test_acc if on == "test" else paths[k].val_acc)[i] for k in keys]
        rho, lo, hi = spearman_ci(x, y, groups=[s for _, s in keys], within=True, n_boot=n_boot, seed=seed)
        rows.append({"q": q, "rho": rho, "rho_lo": lo, "rho_hi": hi, "n": len(keys)})
    return pd.DataFrame(rows)
