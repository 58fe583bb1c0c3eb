"""Tables of the expansion-pruning page of the ``controlled_pruning`` report (design section 11).

Criteria are compared at equal density on the paths of one run (same dense base, same seed): test
accuracy at each q as mean ± 95 % Student-t interval over seeds, clipped to [0, 1]; the highest
sparsity whose *validation* accuracy stays within one point of dense (reported with its test
accuracy); paired differences against magnitude, seed by seed, a criterion "beats magnitude" only
where the t-interval of the paired difference excludes zero in its favour. Sparse-from-scratch
trainings (expander and Erdős–Rényi masks) are compared with the magnitude path at the same q.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from sparsernn.prune.stopping import MIN_SEEDS, PathKey, PruningPath
from sparsernn.studies.protocols.controlled_jobs import GLOBAL_ONLY
from sparsernn.studies.tables import seed_stats

WITHIN = 1.0  # points of validation accuracy below dense that still count as "as accurate as dense"
BASE = "magnitude"
GLOBAL_BASE = "magnitude@global"  # the guard's own baseline: magnitude with one global threshold


def accuracy_stats(frame: pd.DataFrame, by: list[str], value: str = "value") -> pd.DataFrame:
    """:func:`~sparsernn.studies.tables.seed_stats` of an accuracy, the 95 % interval clipped to [0, 1].

    Examples
    --------
    >>> frame = pd.DataFrame({"c": ["a"] * 3, "value": [0.99, 1.0, 0.97]})
    >>> row = accuracy_stats(frame, ["c"]).iloc[0]
    >>> round(float(row["mean"]), 3), float(row["ci95_high"]), round(float(row["ci95_low"]), 3)
    (0.987, 1.0, 0.949)
    """
    stats = seed_stats(frame, by, value)
    return stats.assign(
        ci95_low=stats["ci95_low"].clip(0.0, 1.0), ci95_high=stats["ci95_high"].clip(0.0, 1.0)
    )


def long_accuracy(paths: Mapping[str, Mapping[PathKey, PruningPath]]) -> pd.DataFrame:
    """One row per criterion × path × level: ``dataset, cell, seed, criterion, q, val, test``.

    Examples
    --------
    >>> path = PruningPath((1.0, 0.5), (0.9, 0.85), (0.88, 0.8))
    >>> long_accuracy({"random": {PathKey("x", "gru", 0): path}})[["criterion", "q", "test"]].to_dict("records")
    [{'criterion': 'random', 'q': 1.0, 'test': 0.88}, {'criterion': 'random', 'q': 0.5, 'test': 0.8}]
    """
    rows = [
        {**key._asdict(), "criterion": criterion, "q": q, "val": v, "test": t}
        for criterion, mine in paths.items()
        for key, path in mine.items()
        for q, v, t in zip(path.levels, path.val_acc, path.test_acc, strict=True)
    ]
    return pd.DataFrame(rows, columns=["dataset", "cell", "seed", "criterion", "q", "val", "test"])


def accuracy_table(long: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy per dataset × cell × criterion × q: mean, std, n and the clipped 95 % interval."""
    return accuracy_stats(long, ["dataset", "cell", "criterion", "q"], "test")


def within_dense(path: PruningPath, points: float = WITHIN) -> int:
    """Index of the sparsest level whose validation accuracy is within ``points`` of dense.

    The choice reads validation accuracy only; the dense level qualifies at least.

    Examples
    --------
    >>> path = PruningPath((1.0, 0.5, 0.2, 0.1), (0.90, 0.895, 0.85, 0.892), (0.9, 0.7, 0.9, 0.9))
    >>> within_dense(path)
    3
    """
    floor = path.val_acc[0] - points / 100
    return max(i for i, a in enumerate(path.val_acc) if a >= floor - 1e-12)


def within_table(paths: Mapping[str, Mapping[PathKey, PruningPath]]) -> pd.DataFrame:
    """Per path: the highest sparsity within one point of dense (chosen on validation), its test accuracy."""
    rows = []
    for criterion, mine in paths.items():
        for key, path in mine.items():
            i = within_dense(path)
            rows.append(
                {**key._asdict(), "criterion": criterion, "sparsity": 1 - path.levels[i]}
                | {"test": path.test_acc[i], "test_dense": path.test_acc[0]}
            )
    return pd.DataFrame(
        rows, columns=["dataset", "cell", "seed", "criterion", "sparsity", "test", "test_dense"]
    )


def paired_stats(frame: pd.DataFrame, by: list[str], value: str, *, better: str = "beats") -> pd.DataFrame:
    """Mean paired difference ``value`` per group, its 95 % t-interval and a verdict.

    ``verdict`` is ``better`` when the interval lies above 0, "worse" below, "no difference" when it
    includes 0 and "too few seeds" with fewer than :data:`~sparsernn.prune.stopping.MIN_SEEDS` pairs
    (a zero-width interval from two identical differences is no evidence). ``seeds_better`` and
    ``seeds_worse`` count the pairs whose difference is above and below 0: what a verdict rests on
    (a t interval over five seeds can exclude zero with one seed the other way, or fail to with all
    five on one side).

    Examples
    --------
    >>> t = pd.DataFrame({"g": ["a"] * 3 + ["b"] * 3 + ["c"] * 2, "d": [1.0, 1.2, 0.9, 0.5, -0.4, 0.1, 2, 2]})
    >>> paired_stats(t, ["g"], "d")[["verdict", "seeds_better", "seeds_worse"]].values.tolist()
    [['beats', 3, 0], ['no difference', 2, 1], ['too few seeds', 2, 0]]
    """
    stats = seed_stats(frame, by, value)
    verdict = np.where(
        stats["ci95_low"] > 0, better, np.where(stats["ci95_high"] < 0, "worse", "no difference")
    )
    signs = frame.assign(seeds_better=frame[value] > 0, seeds_worse=frame[value] < 0)
    counts = signs.groupby(by, sort=True, dropna=False)[["seeds_better", "seeds_worse"]].sum().astype(int)
    stats = stats.merge(counts.reset_index(), on=by, how="left")
    return stats.assign(verdict=np.where(stats["n"] < MIN_SEEDS, "too few seeds", verdict))


def _against_bases(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Rows ``keys + criterion + diff`` (criterion − its baseline, points): every criterion against
    magnitude, and the criteria that split one global budget (the guard) also against
    ``magnitude@global`` when it was run, labelled ``"<criterion> vs magnitude@global"``."""
    pairs = [(c, BASE, c) for c in frame["criterion"].unique() if c != BASE]
    if GLOBAL_BASE in set(frame["criterion"]):
        pairs += [
            (c, GLOBAL_BASE, f"{c} vs {GLOBAL_BASE}")
            for c in sorted(GLOBAL_ONLY)
            if c in set(frame["criterion"])
        ]
    parts = []
    for criterion, base, label in pairs:
        ours = frame[frame["criterion"] == criterion][[*keys, value]]
        theirs = frame[frame["criterion"] == base][[*keys, value]].rename(columns={value: "base"})
        both = ours.merge(theirs, on=keys)
        parts.append(both.assign(criterion=label, diff=100 * (both[value] - both["base"])))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def versus_magnitude(long: pd.DataFrame, value: str = "test") -> pd.DataFrame:
    """Paired differences (criterion − magnitude, points of ``value`` accuracy) per dataset × cell × q
    (the guard also against ``magnitude@global``: :func:`_against_bases`)."""
    others = _against_bases(long, ["dataset", "cell", "seed", "q"], value)
    if others.empty:
        return pd.DataFrame()
    others = others[others["q"] < 1.0]  # the dense level is shared by every path
    return paired_stats(others, ["dataset", "cell", "criterion", "q"], "diff", better="beats magnitude")


def within_versus_magnitude(within: pd.DataFrame) -> pd.DataFrame:
    """Paired differences of the sparsity reached within one point (criterion − magnitude, points)."""
    others = _against_bases(within, ["dataset", "cell", "seed"], "sparsity")
    if others.empty:
        return pd.DataFrame()
    return paired_stats(others, ["dataset", "cell", "criterion"], "diff", better="beats magnitude")


def scratch_frame(metrics: pd.DataFrame) -> pd.DataFrame:
    """Final test accuracy of the from-scratch trainings: ``dataset, cell, seed, criterion, q, test``.

    ``criterion`` is ``"scratch:<init>"``; ``metrics`` must hold the run key columns
    (:func:`sparsernn.studies.reports.controlled_paths.with_run_keys`).
    """
    columns = ["dataset", "cell", "seed", "criterion", "q", "test"]
    if "init" not in metrics.columns:
        return pd.DataFrame(columns=columns)
    rows = metrics[(metrics["phase"] == "scratch") & (metrics["name"] == "test_accuracy")]
    return pd.DataFrame(
        {
            "dataset": rows["data.name"].astype(str),
            "cell": rows["model.cell"].astype(str),
            "seed": rows["seed"].astype(int),
            "criterion": "scratch:" + rows["init"].astype(str),
            "q": rows["level"].astype(float),
            "test": rows["value"].astype(float),
        },
        columns=columns,
    )


def scratch_comparison(scratch: pd.DataFrame, long: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accuracy of each scratch init and of the magnitude path at the scratch densities, and the paired
    differences: expander − Erdős–Rényi, and each scratch init − pruned magnitude (points)."""
    if scratch.empty:
        return pd.DataFrame(), pd.DataFrame()
    pruned = long[(long["criterion"] == BASE) & long["q"].isin(scratch["q"].unique())]
    both = pd.concat([scratch, pruned[scratch.columns]], ignore_index=True)
    stats = accuracy_stats(both, ["dataset", "cell", "q", "criterion"], "test")
    wide = both.pivot_table(index=["dataset", "cell", "q", "seed"], columns="criterion", values="test")
    pairs = []
    for a, b in (
        ("scratch:expander", "scratch:erdos_renyi"),
        ("scratch:expander", BASE),
        ("scratch:erdos_renyi", BASE),
    ):
        if a in wide and b in wide:
            diff = (100 * (wide[a] - wide[b])).dropna().rename("diff").reset_index()
            pairs.append(
                diff.assign(comparison=f"{a.removeprefix('scratch:')} − {b.removeprefix('scratch:')}")
            )
    if not pairs:
        return stats, pd.DataFrame()
    diffs = paired_stats(
        pd.concat(pairs, ignore_index=True),
        ["dataset", "cell", "q", "comparison"],
        "diff",
        better="first better",
    )
    return stats, diffs


def expansion_reading(diffs: pd.DataFrame, within: pd.DataFrame) -> list[str]:
    """Plain-language sentences generated from the paired differences against magnitude."""
    if diffs.empty:
        return ["- Only magnitude pruning was recorded: nothing to compare against it."]
    lines = [
        f"- {len(diffs)} paired intervals against magnitude (criterion × dataset × cell × q): were no "
        "criterion different from magnitude, about 1 in 40 would still lie above zero by chance."
    ]
    for criterion, mine in diffs.groupby("criterion", sort=True):
        beats, worse = mine[mine["verdict"] == "beats magnitude"], mine[mine["verdict"] == "worse"]
        where = ", ".join(
            f"{d}/{c} q={100 * q:g}%" for d, c, q in beats[["dataset", "cell", "q"]].itertuples(index=False)
        )
        lines.append(
            f"- {criterion}: beats magnitude at {len(beats)} of {len(mine)} dataset × cell × q points"
            f"{' (' + where + ')' if where else ''}, worse at {len(worse)}{_too_few(mine['verdict'])}"
            ", no difference elsewhere."
        )
    for criterion, mine in within.groupby("criterion", sort=True):
        lines.append(
            f"- {criterion}: the sparsest level within one point of dense (validation) reaches "
            f"{100 * mine['sparsity'].mean():.1f} % sparsity on average over {len(mine)} paths."
        )
    return lines


def scratch_reading(diffs: pd.DataFrame) -> list[str]:
    """One sentence per comparison of :func:`scratch_comparison` (paired by seed, 95 % t intervals).

    Examples
    --------
    >>> d = pd.DataFrame({"comparison": "expander − erdos_renyi", "verdict": ["first better", "no difference"]})
    >>> scratch_reading(d)
    ['- From scratch, expander − erdos_renyi: the first is better at 1 of 2 dataset × cell × q points, worse at 0, no difference elsewhere.']
    """
    if diffs.empty:
        return []
    lines = []
    for comparison, mine in diffs.groupby("comparison", sort=True):
        better, worse = mine["verdict"].eq("first better").sum(), mine["verdict"].eq("worse").sum()
        lines.append(
            f"- From scratch, {comparison}: the first is better at {better} of {len(mine)} dataset × "
            f"cell × q points, worse at {worse}{_too_few(mine['verdict'])}, no difference elsewhere."
        )
    return lines


def _too_few(verdicts: pd.Series) -> str:
    """The reading's clause for the points without a verdict (fewer than MIN_SEEDS seeds); empty if none."""
    few = int(verdicts.eq("too few seeds").sum())
    return f", too few seeds (< {MIN_SEEDS}) for a verdict at {few}" if few else ""
