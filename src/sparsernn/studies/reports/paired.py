"""Our structure-study accuracies next to a reference's for the same graphs (the Darji thesis' own).

Runs that train a graph file with reference results (``phase="reference"`` metrics, see
:mod:`sparsernn.studies.protocols.graph_file`) pair each of our models with the reference's. Per
cell and family: mean, median and share at chance (accuracy < 0.55) of both, and the Pearson and
Spearman correlation between the two accuracies across graphs; per cell the regression R² of both
accuracies on the same graph features under the original and the sound protocol
(:mod:`sparsernn.studies.reports.regression`), and the R² the thesis published.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import stats

from sparsernn.studies.headline import headline
from sparsernn.studies.reports.regression import original_protocol, sound_protocol
from sparsernn.studies.reports.seeds import CHANCE
from sparsernn.studies.tables import markdown_table

#: R² the thesis published for its structure study (original protocol: min-max scaling on all rows, one
#: 90/10 split, random_state 7), per (cell, regressor), rounded to 3 digits. Source: the public repository
#: harshildarji/thesis, Implementations/experiments/results/structure/training/r_squared.csv (commit
#: 4a6896667f3f78153bfb0ab161f29053126ee4ff); the thesis' text rounds GRU/random forest to 0.88.
THESIS_R2: Mapping[tuple[str, str], float] = MappingProxyType(
    {
        ("rnn_tanh", "bayesian_ridge"): 0.479,
        ("rnn_tanh", "random_forest"): 0.432,
        ("rnn_tanh", "adaboost"): 0.357,
    }
    | {
        ("rnn_relu", "bayesian_ridge"): 0.361,
        ("rnn_relu", "random_forest"): 0.615,
        ("rnn_relu", "adaboost"): 0.535,
    }
    | {("gru", "bayesian_ridge"): 0.672, ("gru", "random_forest"): 0.876, ("gru", "adaboost"): 0.783}
    | {("lstm", "bayesian_ridge"): 0.372, ("lstm", "random_forest"): 0.579, ("lstm", "adaboost"): 0.595}
)
NOT_YET = "not yet"
MIN_PAIRS = 3
MIN_R2_ROWS = 20  # fewer paired models per cell: no regression


def reference_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """``run, graph, reference_accuracy`` from the ``phase="reference"`` metrics (empty if none).

    Examples
    --------
    >>> m = pd.DataFrame({"run": ["r"], "graph": [0], "phase": ["reference"], "name": ["accuracy"], "value": [0.9]})
    >>> reference_table(m).to_dict("records")
    [{'run': 'r', 'graph': 0, 'reference_accuracy': 0.9}]
    """
    if metrics.empty or "phase" not in metrics.columns:
        return pd.DataFrame(columns=["run", "graph", "reference_accuracy"])
    rows = metrics[(metrics["phase"] == "reference") & (metrics["name"] == "accuracy")]
    out = rows[["run", "graph", "value"]].rename(columns={"value": "reference_accuracy"})
    return out.drop_duplicates(["run", "graph"]).reset_index(drop=True)


def _summary(ours: pd.Series, theirs: pd.Series) -> dict[str, float]:
    both = len(ours) >= MIN_PAIRS and ours.nunique() > 1 and theirs.nunique() > 1
    return {
        "graphs": len(ours),
        "mean ours": ours.mean(),
        "mean thesis": theirs.mean(),
        "median ours": ours.median(),
        "median thesis": theirs.median(),
        "at chance ours": (ours < CHANCE).mean(),
        "at chance thesis": (theirs < CHANCE).mean(),
        "pearson": stats.pearsonr(ours, theirs)[0] if both else float("nan"),
        "spearman": stats.spearmanr(ours, theirs)[0] if both else float("nan"),
    }


def paired_summary(table: pd.DataFrame, missing: list[tuple[str, str]] = ()) -> pd.DataFrame:
    """Per cell and family (and ``all``): both accuracies' mean, median, share at chance, correlations.

    ``table`` has ``cell, family, accuracy, reference_accuracy``, one row per graph; each (cell,
    family) of ``missing`` gets a row that says "not yet".

    Examples
    --------
    >>> t = pd.DataFrame({"cell": ["gru"] * 4, "family": ["ba"] * 4,
    ...                   "accuracy": [0.5, 0.6, 0.9, 1.0], "reference_accuracy": [0.5, 0.7, 0.8, 1.0]})
    >>> row = paired_summary(t).iloc[0]
    >>> row["family"], round(float(row["pearson"]), 2), float(row["spearman"]), float(row["at chance ours"])
    ('ba', 0.94, 1.0, 0.25)
    """
    rows = []
    for cell, mine in table.groupby("cell", sort=True):
        groups = [(f, g) for f, g in mine.groupby("family", sort=True)]
        if len(groups) > 1:
            groups.append(("all", mine))
        for family, group in groups:
            row = _summary(group["accuracy"], group["reference_accuracy"])
            rows.append({"cell": cell, "family": family} | row)
    columns = list(rows[0]) if rows else ["cell", "family", "graphs"]
    rows += [{"cell": c, "family": f, "graphs": 0} | dict.fromkeys(columns[3:], NOT_YET) for c, f in missing]
    out = pd.DataFrame(rows, columns=columns)
    order = {"all": "~"}  # "all" after the families of its cell
    return out.sort_values(
        ["cell", "family"], key=lambda c: c.map(lambda v: order.get(v, v)), ignore_index=True
    )


LEARNED = "sound, both learned"  # the sound protocol on the graphs where neither network stayed at chance


def paired_r2(table: pd.DataFrame, features: list[str], min_rows: int = 20) -> pd.DataFrame:
    """Per cell, regressor and protocol: the R² of our accuracy and of the thesis' on ``features``.

    Protocols: ``original`` and ``sound`` on every paired graph, and :data:`LEARNED`, the sound
    protocol on the graphs where both networks learned (accuracy ≥ ``CHANCE``): a few training
    failures that no graph feature predicts can dominate the variance of a narrow distribution.
    """
    rows = []
    for cell, mine in table.groupby("cell", sort=True):
        if len(mine) < min_rows:
            continue
        learned = mine[(mine["accuracy"] >= CHANCE) & (mine["reference_accuracy"] >= CHANCE)]
        fits: dict[str, dict] = {"ours": {}, "thesis": {}}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter of BayesianRidge
            for who, column in (("ours", "accuracy"), ("thesis", "reference_accuracy")):
                x, y = mine[features].to_numpy(), mine[column].to_numpy()
                fits[who] |= {"original": original_protocol(x, y), "sound": sound_protocol(x, y)}
                if len(learned) >= min_rows and len(learned) < len(mine):
                    fits[who][LEARNED] = sound_protocol(
                        learned[features].to_numpy(), learned[column].to_numpy()
                    )
        for protocol in fits["ours"]:
            for name, fit in fits["ours"][protocol].items():
                published = THESIS_R2.get((cell, name)) if protocol == "original" else None
                rows.append(
                    {"cell": cell, "protocol": protocol, "regressor": name}
                    | {"R² ours": fit.r2, "R² thesis data": fits["thesis"][protocol][name].r2}
                    | {"R² thesis published": "-" if published is None else published}
                )
    return pd.DataFrame(rows)


def paired_section(
    table: pd.DataFrame, features: list[str], missing: list[tuple[str, str]] = (), *, lead: bool = True
) -> list[str]:
    """Markdown of the paired comparison (``table`` joined with :func:`reference_table`).

    ``missing``: (cell, family) pairs not trained yet, shown as "not yet"; ``lead``: the paired table
    is one of the page's headlines (a seed study leads with its seed noise instead).
    """
    if "reference_accuracy" not in table:
        return []
    table = table.dropna(subset=["reference_accuracy"])
    if table.empty:
        return []
    summary = markdown_table(_rounded(paired_summary(table, missing)))
    lines = [
        "### Our accuracy next to the thesis' for the same graph",
        "",
        f"{len(table)} models paired with the thesis' result of the same graph (final-epoch test accuracy, "
        f"the thesis' split). `at chance`: share of networks below {CHANCE}; `pearson`, `spearman`: "
        "correlation of the two accuracies across graphs.",
        "",
        *(headline(summary) if lead else summary),
        "",
    ]
    r2 = paired_r2(table, features, MIN_R2_ROWS)
    later = sorted(({c for c, _ in missing} | set(table["cell"])) - set(r2.get("cell", [])))
    lines += [
        "### Regression R² on the 23 properties: our accuracies, the thesis' (same protocols), as the thesis published",
        "",
        f"`{LEARNED}`: the sound protocol on the graphs where neither network stayed at chance (both ≥ "
        f"{CHANCE}); shown where some did. A few training failures that no graph property predicts can "
        "dominate the variance of a narrow distribution.",
        "",
        *([*markdown_table(_rounded(r2)), ""] if not r2.empty else []),
        *([f"Not yet (fewer than {MIN_R2_ROWS} paired models): {', '.join(later)}."] if later else []),
        "",
    ]
    return lines


def _rounded(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """``frame`` with every float rounded to ``digits`` decimals, also in columns mixing text ("not yet").

    Examples
    --------
    >>> _rounded(pd.DataFrame({"a": [0.09744, "not yet"], "b": [1, 2]})).to_dict("list")
    {'a': [0.097, 'not yet'], 'b': [1, 2]}
    """
    return frame.apply(lambda column: column.map(lambda v: round(v, digits) if isinstance(v, float) else v))


def seed_zero(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the lowest seed of each (cell, family, graph): one model per graph, as the thesis had.

    Examples
    --------
    >>> t = pd.DataFrame({"cell": "gru", "family": "ba", "graph": [0, 0, 1], "seed": [1, 0, 2]})
    >>> seed_zero(t)["seed"].tolist()
    [0, 2]
    """
    if "seed" not in table.columns:
        return table
    first = table.groupby(["cell", "family", "graph"])["seed"].transform("min")
    return table[table["seed"] == first]


def r2_ceiling_note(icc: float, r2: float = 0.88) -> str:
    """One sentence: does ``r2`` lie under the ceiling ``icc``?

    Examples
    --------
    >>> r2_ceiling_note(0.6)
    'R² 0.88 lies above the ceiling 0.60: not reachable for a single run'
    """
    if not np.isfinite(icc):
        return "no ceiling (no seed-to-seed variation)"
    if r2 <= icc:
        return f"R² {r2:.2f} lies under the ceiling {icc:.2f}"
    return f"R² {r2:.2f} lies above the ceiling {icc:.2f}: not reachable for a single run"
